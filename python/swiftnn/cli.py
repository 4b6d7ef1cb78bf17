"""The command line: ``python -m swiftnn train`` (also the ``swiftnn`` console script).

    python -m swiftnn train [--hidden 512 256] [--normalization batchnorm] [--epochs 10] ...

Trains a FullyConnectedNet on Fashion-MNIST with the Solver, shows a progress bar, prints
per-epoch accuracy and the final test accuracy, and writes to the output folder: the
checkpoint (model.npz: params, config and histories), curves.png (loss, train/val accuracy)
and weights.png (the first layer's weights as 28x28 images).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _parser():
    parser = argparse.ArgumentParser(prog="swiftnn", description="Fully connected networks on a Swift engine.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a network on Fashion-MNIST",
                       description="Train a FullyConnectedNet on Fashion-MNIST and write checkpoint and plots.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    arch = t.add_argument_group("network")
    arch.add_argument("--hidden", type=int, nargs="+", default=[512, 256], metavar="H", help="hidden layer sizes")
    arch.add_argument("--normalization", choices=["none", "batchnorm", "layernorm"], default="batchnorm")
    arch.add_argument("--dropout", type=float, default=0.8, metavar="P", help="keep probability (1 = no dropout)")
    arch.add_argument("--activation", choices=["relu", "leaky_relu"], default="relu")
    arch.add_argument("--init", choices=["he", "xavier", "scale"], default="he",
                      help="weight init ('scale' uses --weight-scale)")
    arch.add_argument("--weight-scale", type=float, default=1e-2)
    opt = t.add_argument_group("optimization")
    opt.add_argument("--update-rule", choices=["sgd", "sgd_momentum", "rmsprop", "adam", "adagrad"], default="adam")
    opt.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    opt.add_argument("--lr-decay", type=float, default=0.85, help="learning-rate factor per epoch")
    opt.add_argument("--schedule", choices=["step", "cosine"], default="step")
    opt.add_argument("--reg", type=float, default=1e-4, help="L2 strength (0.5 * reg * sum W^2)")
    opt.add_argument("--batch-size", type=int, default=128)
    opt.add_argument("--epochs", type=int, default=12)
    opt.add_argument("--patience", type=int, default=None, help="early stopping: epochs without val improvement")
    data = t.add_argument_group("data and output")
    data.add_argument("--data", default=None, help="folder with Fashion-MNIST's idx files (default: Debian's)")
    data.add_argument("--num-train", type=int, default=55000, help="training rows (the rest up to 60000 validate)")
    data.add_argument("--seed", type=int, default=0)
    data.add_argument("--out", default="out/train", help="output folder")
    data.add_argument("--no-plots", action="store_true", help="skip writing PNG plots")
    return parser


def _fail(message):
    print("swiftnn: error: %s" % message, file=sys.stderr)
    return 2


def train(args):
    from .data import FASHION_MNIST_CLASSES, get_fashion_mnist_data
    from .models import FullyConnectedNet
    from .solver import Solver

    if not 0 < args.dropout <= 1:
        return _fail("--dropout %g: the keep probability must be in (0, 1]" % args.dropout)
    if args.num_train < 1 or args.num_train >= 60000:
        return _fail("--num-train %d: must be between 1 and 59999" % args.num_train)
    if args.epochs < 1 or args.batch_size < 1:
        return _fail("--epochs and --batch-size must be positive")
    np.random.seed(args.seed)
    try:
        data = get_fashion_mnist_data(num_training=args.num_train, num_validation=60000 - args.num_train,
                                      root=args.data)
    except (FileNotFoundError, ValueError) as e:
        return _fail(str(e))
    X_test, y_test = data.pop("X_test"), data.pop("y_test")
    model = FullyConnectedNet(args.hidden, input_dim=784, num_classes=10, dropout_keep_ratio=args.dropout,
                              normalization=None if args.normalization == "none" else args.normalization,
                              reg=args.reg, weight_scale=args.weight_scale, dtype=np.float32, seed=None,
                              init=None if args.init == "scale" else args.init, activation=args.activation)
    print(model)
    print("data: %d train, %d validation, %d test images; %s, lr %g, batch %d, %d epochs"
          % (len(data["X_train"]), len(data["X_val"]), len(X_test), args.update_rule, args.lr,
             args.batch_size, args.epochs))
    solver = Solver(model, data, update_rule=args.update_rule, optim_config={"learning_rate": args.lr},
                    lr_decay=args.lr_decay, batch_size=args.batch_size, num_epochs=args.epochs,
                    num_train_samples=5000, progress="tqdm", print_every=10**9,
                    lr_schedule=args.schedule, early_stopping_patience=args.patience)
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    test_acc = solver.check_accuracy(X_test, y_test)
    print("best validation accuracy %.4f; test accuracy %.4f; %.1f s training" % (solver.best_val_acc, test_acc, seconds))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in vars(args).items() if k != "command"}
    np.savez(out / "model.npz", **{"param_" + k: v for k, v in model.params.items()},
             config=json.dumps(config), loss_history=np.array(solver.loss_history),
             train_acc_history=np.array(solver.train_acc_history),
             val_acc_history=np.array(solver.val_acc_history), test_acc=test_acc)
    print("wrote %s" % (out / "model.npz"))
    if not args.no_plots:
        _plots(out, solver, model, test_acc, FASHION_MNIST_CLASSES)
    return 0


def _plots(out, solver, model, test_acc, classes):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots written")
        return
    from cs231n.vis_utils import visualize_grid

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    loss = np.array(solver.loss_history)
    ax1.plot(loss, color="tab:blue", alpha=0.25, lw=0.8, label="per iteration")
    window = max(1, len(loss) // 100)
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    ax1.plot(np.arange(window - 1, len(loss)), smooth, color="tab:blue", lw=2, label="moving average")
    ax1.set(xlabel="iteration", ylabel="training loss", title="Loss")
    ax1.legend()
    ax1.grid(alpha=0.3)
    epochs = np.arange(len(solver.train_acc_history))
    ax2.plot(epochs, solver.train_acc_history, "o-", label="train")
    ax2.plot(epochs, solver.val_acc_history, "o-", label="validation")
    ax2.axhline(test_acc, color="gray", ls="--", label="test %.2f%%" % (100 * test_acc))
    ax2.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(max(0.0, min(solver.val_acc_history) - 0.05), 1.0))
    ax2.legend()
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    plt.close(fig)

    W1 = np.asarray(model.params["W1"])[:, :64].T.reshape(-1, 28, 28, 1)
    grid = visualize_grid(W1, padding=2)[:, :, 0]
    fig = plt.figure(figsize=(6, 6))
    plt.imshow(grid, cmap="gray")
    plt.axis("off")
    plt.title("First-layer weights (64 of %d units)" % model.params["W1"].shape[1])
    fig.savefig(out / "weights.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    print("wrote %s and %s" % (out / "curves.png", out / "weights.png"))


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "train":
        try:
            return train(args)
        except KeyboardInterrupt:
            print("\ninterrupted")
            return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
