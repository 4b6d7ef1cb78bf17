"""``swiftnn evaluate``: the accuracy of checkpoints written by ``swiftnn train`` on the test (or
validation) rows, each preprocessed with the statistics its run was trained with; with several
checkpoints, also of their ensemble (averaged softmax probabilities)."""
import numpy as np

from ..checkpoint import load_checkpoint
from ..data import DATASETS
from ..experiment import UsageError, load_raw_dataset, predict_proba, preprocess
from ._args import Formatter

NAME = "evaluate"

EVALUATE_EPILOG = """\
examples:
  swiftnn evaluate out/train/model.npz
  swiftnn evaluate run1/model.npz run2/model.npz run3/model.npz   (an ensemble)

Each checkpoint preprocesses the images with the statistics it was trained with; an ensemble
averages the models' softmax probabilities.
"""


def add_parser(subparsers):
    p = subparsers.add_parser("evaluate", help="score a checkpoint or an ensemble of checkpoints", formatter_class=Formatter,
                              description="Accuracy of one or more checkpoints written by swiftnn train; with several,\n"
                                          "also of their ensemble (averaged class probabilities).",
                              epilog=EVALUATE_EPILOG)
    p.add_argument("checkpoints", nargs="+", metavar="CKPT", help="model.npz files")
    p.add_argument("--split", choices=["test", "val"], default="test", help="which rows to score")
    p.add_argument("--data", metavar="DIR", default=None, help="dataset folder (default: where the run found it)")
    return p


def run(args):
    ckpts = []
    for p in args.checkpoints:
        try:
            ckpts.append(load_checkpoint(p))
        except (FileNotFoundError, ValueError) as e:
            raise UsageError(str(e)) from None
    datasets = {c.config.get("dataset", "fashion-mnist") for c in ckpts}
    if len(datasets) > 1:
        raise UsageError("the checkpoints were trained on different datasets (%s); an ensemble needs one"
                         % ", ".join(sorted(datasets)))
    dataset = datasets.pop()
    info = DATASETS[dataset]
    root = args.data or ckpts[0].config.get("data")
    X_train, y_train, X_test, y_test = load_raw_dataset(dataset, root)
    rows = None
    if args.split == "val":
        splits = set()
        for c in ckpts:
            n_train = c.config.get("num_train") or info["num_training"]
            n_val = c.config.get("num_val") or info["train_rows"] - n_train
            splits.add((n_train, n_val))
        if len(splits) > 1:
            raise UsageError("the checkpoints used different validation rows (%s); use --split test"
                             % ", ".join("%d-%d" % (a, a + b) for a, b in sorted(splits)))
        n_train, n_val = splits.pop()
        X, y = X_train[n_train:n_train + n_val], y_train[n_train:n_train + n_val]
    else:
        X, y = X_test, y_test
    print("%s %s split: %d rows" % (dataset, args.split, len(X)))
    total = None
    width = max(len(str(c.path)) for c in ckpts)
    for c in ckpts:
        if c.dims[0] != X.shape[1]:
            raise UsageError("%s takes %d inputs but %s rows have %d" % (c.path, c.dims[0], dataset, X.shape[1]))
        model = c.build_model()
        probs = predict_proba(model, preprocess(X, c.preprocess, dataset))
        rows = probs if rows is None else rows
        total = probs if total is None else total + probs
        acc = float(np.mean(np.argmax(probs, axis=1) == y))
        print("  %-*s  %6.2f%%   %s, %d epochs" % (width, c.path, 100 * acc, "-".join(map(str, c.dims)), c.epoch))
    if len(ckpts) > 1:
        acc = float(np.mean(np.argmax(total / len(ckpts), axis=1) == y))
        print("  %-*s  %6.2f%%   (averaged probabilities of %d models)" % (width, "ensemble", 100 * acc, len(ckpts)))
    return 0
