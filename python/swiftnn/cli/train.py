"""``swiftnn train``: train a FullyConnectedNet on Fashion-MNIST (or CIFAR-10) with a progress bar
and one summary line per epoch, print the test accuracy and the time, and write to the output
folder: ``model.npz`` (best parameters, batchnorm statistics, configuration, histories, the
native trainer's full state, preprocessing, a checksum; rewritten atomically after every epoch,
so Ctrl-C or a crash keeps the last completed epoch, and --resume continues exactly),
``curves.png`` (loss, train/validation accuracy) and ``weights.png`` (first-layer weights as
images). Before loading any data it checks the settings, the output folder and the memory the
network needs. The training loop is :func:`swiftnn.experiment.fit`.
"""
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# experiment's functions are looked up when called, so that a test can replace one (running out of
# memory is simulated that way).
from .. import experiment, plots
from ..checkpoint import save_checkpoint
from ..data import DATASETS
from ..experiment import UsageError, validate
from ..solver import DivergenceError
from ._args import Formatter, add_settings_args, positive_int, seed_int, settings

NAME = "train"

TRAIN_EPILOG = """\
examples:
  swiftnn train                                  the default network on Fashion-MNIST (~1 minute)
  swiftnn train --hidden 1024 512 --dropout 0.6 --epochs 20
  swiftnn train --dataset cifar10 --data ~/cifar-10-batches-py --preprocess standardize
  swiftnn train --config out/search/best.json    rerun the best configuration of a search
  swiftnn train --resume out/train/model.npz --epochs 20
                                                 continue a run up to 20 epochs in all

A --config file is a JSON object whose keys are the long flags above with '_' for '-'
(e.g. {"hidden": [512, 256], "lr": 0.001}); flags given on the command line override it.
"""


def add_parser(subparsers):
    p = subparsers.add_parser("train", help="train a network; write checkpoint and plots", formatter_class=Formatter,
                              description="Train a fully connected network in the native training loop: a progress bar with\n"
                                          "live loss and accuracy, one summary line per epoch, the test accuracy and time.\n"
                                          "Writes model.npz (checkpoint), curves.png and weights.png to --out.",
                              epilog=TRAIN_EPILOG)
    add_settings_args(p)
    g = p.add_argument_group("run")
    g.add_argument("--epochs", type=positive_int, default=20, metavar="N", help="epochs to train (in all, with --resume)")
    g.add_argument("--patience", type=positive_int, default=None, metavar="N",
                   help="early stopping: stop after N epochs without a better validation accuracy")
    g.add_argument("--seed", type=seed_int, default=0, help="seed of weights, minibatches and dropout")
    g.add_argument("--config", metavar="FILE", default=None,
                   help="JSON settings to start from (e.g. the best.json of swiftnn search)")
    g.add_argument("--resume", metavar="CKPT", default=None,
                   help="continue training a checkpoint (model.npz) up to --epochs epochs in all")
    g.add_argument("--out", default="out/train", metavar="DIR", help="output folder")
    g.add_argument("--no-plots", action="store_true", help="do not write the PNG plots")
    return p


def run(args):
    cfg = settings(args)
    validate(cfg)
    ckpt = args.checkpoint
    if ckpt is not None and cfg["epochs"] <= ckpt.epoch:
        raise UsageError("--epochs %d: the checkpoint has already trained %d epochs; pass a larger --epochs "
                         "(the total) to continue" % (cfg["epochs"], ckpt.epoch))
    if ckpt is not None and ckpt.trainer_state is None:
        raise UsageError("--resume %s: the checkpoint (format version %d) holds no trainer state to continue from; "
                         "it can be evaluated, or start a new run" % (args.resume, ckpt.version))
    info = DATASETS[cfg["dataset"]]
    num_classes = len(info["classes"])
    _check_memory(ckpt.dims if ckpt else [int(np.prod(info["shape"]))] + list(cfg["hidden"]) + [num_classes], cfg)
    out = Path(args.out)
    _check_out(out, ["model.npz"] + ([] if args.no_plots else ["curves.png", "weights.png"]))
    path = out / "model.npz"
    data, stats = experiment.load_dataset(cfg)
    X_test, y_test = data.pop("X_test"), data.pop("y_test")
    input_dim = data["X_train"].shape[1]
    np.random.seed(cfg["seed"])  # the initial weights; minibatches and dropout come from the trainer's seed
    try:
        if ckpt is not None:
            if ckpt.dims[0] != input_dim:
                raise UsageError("the checkpoint takes %d inputs but the %s rows have %d" % (ckpt.dims[0], cfg["dataset"], input_dim))
            try:
                model = ckpt.build_model()
            except ValueError as e:
                raise UsageError(str(e)) from None
            state = dict(ckpt.trainer_state, best_epoch=ckpt.meta.get("best_epoch", ckpt.epoch))
            stats = ckpt.preprocess or stats
        else:
            model = experiment.build_model(cfg, input_dim, num_classes)
            state = None
    except MemoryError:
        raise UsageError("out of memory creating the %s network; use smaller --hidden layers"
                         % "-".join(map(str, [input_dim] + list(cfg["hidden"]) + [num_classes]))) from None

    print(model)
    print("%s: %d train, %d validation, %d test rows (%s preprocessing); %s, lr %g, batch %d, %s"
          % (cfg["dataset"], len(data["X_train"]), len(data["X_val"]), len(X_test), cfg["preprocess"],
             cfg["update_rule"], cfg["lr"], cfg["batch_size"],
             ("epochs %d-%d" % (ckpt.epoch + 1, cfg["epochs"])) if ckpt else "%d epochs" % cfg["epochs"]))
    if ckpt:
        print("continuing %s from epoch %d (best validation accuracy so far %.2f%%)"
              % (args.resume, ckpt.epoch, 100 * state["best_val_acc"]))

    saved = []  # epochs written to path by this run

    def write(res, test_acc=None):
        st = res["trainer_state"]
        meta = {"dataset": cfg["dataset"], "epoch": int(st["epoch"]), "best_val_acc": float(st["best_val_acc"]),
                "best_epoch": st.get("best_epoch", res["best_epoch"]), "test_acc": test_acc, "seconds": res["seconds"],
                "iterations_per_epoch": res["iterations_per_epoch"], "num_classes": num_classes}
        # After training (test_acc set) the model holds the best parameters, the ones tested.
        save_checkpoint(path, model, cfg, trainer_state=st, preprocess=stats, meta=meta,
                        model_params=test_acc is not None)
        saved.append(meta["epoch"])

    try:
        res = experiment.fit(model, data, cfg, state, on_epoch=write)
        started = time.perf_counter()
        test_acc = experiment.accuracy(model, X_test, y_test)
    except DivergenceError as e:
        print("swiftnn train: training diverged: %s (try a smaller --lr)" % e, file=sys.stderr)
        return 1
    except MemoryError:
        kept = ("; %s keeps epoch %d (continue with --resume %s)" % (path, saved[-1], path)) if saved else ""
        raise UsageError("out of memory while training or testing; use smaller --hidden layers or --batch-size%s" % kept) from None
    if res["interrupted"]:
        print("\ninterrupted after %d completed epochs; keeping the best parameters so far" % res["epoch"])
    if res["stopped_early"]:
        print("early stopping: no better validation accuracy for %d epochs" % cfg["patience"])
    write(res, test_acc)
    print("test accuracy %.2f%%  (best validation %.2f%% at epoch %d; %d epochs, %.1f s training, %.1f s testing)"
          % (100 * test_acc, 100 * res["best_val_acc"], res["best_epoch"], res["epoch"], res["seconds"],
             time.perf_counter() - started))
    print("wrote %s" % path)
    if not args.no_plots:
        _plots(out, res, model, test_acc, cfg)
    return 130 if res["interrupted"] else 0


def _plots(out, res, model, test_acc, cfg):

    info = DATASETS[cfg["dataset"]]
    curves = plots.training_curves(out / "curves.png", res["loss_history"], res["train_acc_history"],
                                   res["val_acc_history"], test_acc, iterations_per_epoch=res["iterations_per_epoch"],
                                   title="%s, %s, %d epochs" % (cfg["dataset"], "-".join(map(str, model._dims)), res["epoch"]))
    if curves is None:
        print("matplotlib is not installed: no plots written (pip install matplotlib)")
        return
    plots.first_layer_grid(out / "weights.png", model.params["W1"], info["shape"], info["layout"])
    print("wrote %s and %s" % (out / "curves.png", out / "weights.png"))


def _available_memory():
    """Bytes the system can give without swapping (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _training_bytes(dims, cfg, itemsize=4):
    """About the memory `swiftnn train` needs for a network of layer sizes dims (float32)."""
    hidden = dims[1:-1]
    params = sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))
    if cfg.get("normalization", "none") != "none":
        params += 2 * sum(hidden)
    # The trainer keeps 6 copies of the parameters (weights, gradients, two optimizer buffers,
    # the best snapshot in Python and in the library), and each epoch's checkpoint takes a
    # state() copy of 4 more (a run must not be killed at the end of its first epoch); one
    # more for the checkpoint writer and the interpreter (measured: 5.6 GB peak for
    # 784-100000-10, 5.5 GB estimated with 10).
    copies = 11
    # Per row of activations (affine outputs, activations, dropout masks, gradients): the
    # trainer's workspace holds a minibatch or a 1000-row evaluation chunk, plus two minibatches
    # of inputs. The test accuracy comes after the trainer is gone, in 2000-row chunks.
    per_row = 3 * sum(hidden) + 2 * max(dims[1:]) + dims[-1]
    training = copies * params + max(cfg["batch_size"], 1000) * per_row + 2 * cfg["batch_size"] * dims[0]
    testing = params + 2000 * per_row
    info = DATASETS[cfg["dataset"]]
    data = (info["train_rows"] + info["test_rows"]) * dims[0] * (itemsize + 1)
    return params, itemsize * max(training, testing) + data


def _check_memory(dims, cfg):
    available = _available_memory()
    if available is None:
        return
    params, need = _training_bytes(dims, cfg)
    if need > available:
        raise UsageError("training the %s network (%s parameters) with --batch-size %d needs about %.1f GB of "
                         "memory (weights, gradients, optimizer state, best snapshot, checkpoint copies, "
                         "activations) but only %.1f GB is available; use smaller --hidden layers or --batch-size"
                         % ("-".join(map(str, dims)), format(params, ","), cfg["batch_size"], need / 1e9,
                            available / 1e9))


def _check_out(out, files):
    """UsageError unless the folder out can be created and written and none of files (the
    paths the run writes in it) is a folder: found now, not after loading data and training."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError("--out %s: exists and is not a folder" % out) from None
    except OSError as e:
        raise UsageError("--out %s: cannot create the output folder (%s)" % (out, e.strerror or e)) from None
    try:
        # The checkpoint is written as a temporary file in out, then renamed.
        with tempfile.NamedTemporaryFile(dir=out, prefix=".swiftnn-write-test-"):
            pass
    except OSError as e:
        raise UsageError("--out %s: cannot write in the output folder (%s)" % (out, e.strerror or e)) from None
    for name in files:
        if (out / name).is_dir():
            raise UsageError("--out %s: %s is a folder, so the run could not write its %s there; "
                             "move it away or choose another --out" % (out, out / name, name))
