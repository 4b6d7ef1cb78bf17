"""The command line: ``swiftnn`` (console script) or ``python -m swiftnn``.

    swiftnn train      train a fully connected network, write checkpoint and plots
    swiftnn evaluate   score a checkpoint, or an ensemble of checkpoints
    swiftnn search     random hyperparameter search (coarse, then fine) on Optuna studies
    swiftnn check      the lectures' sanity checks before a long training run

``swiftnn train`` trains a FullyConnectedNet on Fashion-MNIST (or CIFAR-10) with a progress bar
and one summary line per epoch, prints the test accuracy and the time, and writes to its
output folder: ``model.npz`` (best parameters, batchnorm statistics, configuration, histories,
the native trainer's full state, preprocessing, a checksum; rewritten atomically after every
epoch, so Ctrl-C or a crash keeps the last completed epoch, and --resume continues exactly),
``curves.png`` (loss, train/validation accuracy) and ``weights.png`` (first-layer weights as
images). The training loop itself is called in one place, :func:`_fit`.
"""
import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError
from .data import DATASETS, PREPROCESSING

# The settings of a training run: the dests of `swiftnn train`'s flags that a --config file
# may set and that a checkpoint records.
TRAIN_KEYS = ("dataset", "data", "preprocess", "num_train", "num_val", "hidden", "normalization", "dropout",
              "activation", "init", "weight_scale", "update_rule", "lr", "lr_decay", "schedule", "warmup",
              "reg", "batch_size", "epochs", "patience", "seed")
# What a resumed run cannot change: the network, the data it was trained on, the update rule (its
# state) and the batch size (an epoch is n_train // batch_size steps of the trainer's count).
_FIXED_ON_RESUME = ("dataset", "preprocess", "num_train", "num_val", "hidden", "normalization", "activation",
                    "update_rule", "batch_size")
UPDATE_RULES = ("sgd", "sgd_momentum", "rmsprop", "adam", "adagrad")


class UsageError(Exception):
    """A bad flag value or input file: printed as `swiftnn <command>: error: ...`, exit status 2."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks and shows defaults that say something."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or action.default is None or action.default is False or action.default == argparse.SUPPRESS or not action.option_strings:
            return text
        default = action.default
        if isinstance(default, (list, tuple)):
            default = " ".join(map(str, default))
        return "%s (default: %s)" % (text, default) if text else "default: %s" % default


# ------------------------------------------------------------------------------------------
# parsers

def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an integer" % text) from None
    if value < 1:
        raise argparse.ArgumentTypeError("%d: must be at least 1" % value)
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an integer" % text) from None
    if not 0 <= value < 2**32:  # numpy's (and the trainer's) seed range
        raise argparse.ArgumentTypeError("%d: must be between 0 and 2**32 - 1 = %d" % (value, 2**32 - 1))
    return value


def _add_data_args(p):
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=list(DATASETS), default="fashion-mnist", help="which dataset")
    g.add_argument("--data", metavar="DIR", default=None,
                   help="folder with the dataset's files (default: $SWIFTNN_DATA/fashion-mnist or "
                        "/usr/share/datasets/fashion-mnist; $SWIFTNN_DATA/cifar-10-batches-py or "
                        "cs231n/datasets/cifar-10-batches-py)")
    g.add_argument("--preprocess", choices=PREPROCESSING, default="mean",
                   help="'mean' subtracts the training mean image (the course's); 'standardize' also "
                        "divides each pixel by its standard deviation")
    g.add_argument("--num-train", type=_positive_int, metavar="N", default=None,
                   help="training rows (default: 55000 of Fashion-MNIST's 60000, 49000 of CIFAR-10's 50000)")
    g.add_argument("--num-val", type=_positive_int, metavar="N", default=None,
                   help="validation rows, the training rows right after those (default: the rest)")
    return g


def _add_network_args(p, search=False):
    g = p.add_argument_group("network")
    if not search:
        g.add_argument("--hidden", type=_positive_int, nargs="+", default=[512, 256], metavar="H",
                       help="hidden layer sizes")
    g.add_argument("--normalization", choices=["none", "batchnorm", "layernorm"], default="batchnorm",
                   help="normalization after each hidden affine layer")
    if not search:
        g.add_argument("--dropout", type=float, default=0.6, metavar="P",
                       help="dropout keep probability, in (0, 1]; 1 = no dropout")
    g.add_argument("--activation", choices=["relu", "leaky_relu"], default="relu", help="hidden activation")
    g.add_argument("--init", choices=["he", "xavier", "scale"], default="scale" if search else "he",
                   help="weight initialization: he = randn*sqrt(2/fan_in), xavier = randn/sqrt(fan_in), "
                        "scale = randn*WEIGHT_SCALE")
    if not search:
        g.add_argument("--weight-scale", type=float, default=1e-2, metavar="S",
                       help="standard deviation of the initial weights with --init scale")
    return g


def _add_optim_args(p, search=False):
    g = p.add_argument_group("optimization")
    g.add_argument("--update-rule", choices=UPDATE_RULES, default="adam", help="update rule")
    if not search:
        g.add_argument("--lr", type=float, default=1e-3, metavar="LR", help="learning rate")
    g.add_argument("--lr-decay", type=float, default=0.85, metavar="F",
                   help="learning-rate factor after each epoch (step schedule)")
    g.add_argument("--schedule", choices=["step", "cosine"], default="step",
                   help="step: multiply by --lr-decay every epoch; cosine: anneal to 0 over the run")
    g.add_argument("--warmup", type=int, default=0, metavar="ITERS",
                   help="linear learning-rate warm-up over this many iterations")
    if not search:
        g.add_argument("--reg", type=float, default=1e-4, metavar="R", help="L2 strength (loss += 0.5*R*sum W^2)")
    g.add_argument("--batch-size", type=_positive_int, default=128, metavar="N", help="minibatch size")
    return g


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

EVALUATE_EPILOG = """\
examples:
  swiftnn evaluate out/train/model.npz
  swiftnn evaluate run1/model.npz run2/model.npz run3/model.npz   (an ensemble)

Each checkpoint preprocesses the images with the statistics it was trained with; an ensemble
averages the models' softmax probabilities.
"""

SEARCH_EPILOG = """\
examples:
  swiftnn search                                 coarse then fine search, 2 worker processes
  swiftnn search --coarse-trials 60 --fine-trials 16 --fine-epochs 6
  swiftnn search --lr 1e-4 1e-2 --reg 1e-5 1e-1 --hidden 256 512 1024-512
  swiftnn search --storage postgresql://user@host/db --study fmnist --workers 2
                                                 run this on every machine that shares the search

A search lives in its storage (default: an SQLite file in the output folder): run the same
command again to resume it, or on other machines (with a PostgreSQL URL) to add workers.
The settings of a study are stored with it; a later run with other flags keeps the stored ones.
"""

CHECK_EPILOG = """\
The checks (CS231n lecture 7, "babysitting the learning process"):
  1. with reg = 0 the initial loss is close to ln(number of classes)
  2. turning regularization on raises the loss (by 0.5 * reg * sum W^2)
  3. the network overfits 20 training images to 100% training accuracy
  4. after a few steps the update/weight ratio ||dW|| / ||W|| of each layer is near 1e-3
Exit status 0 when every check passes, 1 otherwise.
"""


def _parser():
    parser = argparse.ArgumentParser(
        prog="swiftnn", formatter_class=_Formatter,
        description="Fully connected neural networks on a Swift engine (CS231n's networks and training practice).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    t = sub.add_parser("train", help="train a network; write checkpoint and plots", formatter_class=_Formatter,
                       description="Train a fully connected network in the native training loop: a progress bar with\n"
                                   "live loss and accuracy, one summary line per epoch, the test accuracy and time.\n"
                                   "Writes model.npz (checkpoint), curves.png and weights.png to --out.",
                       epilog=TRAIN_EPILOG)
    _add_data_args(t)
    _add_network_args(t)
    _add_optim_args(t)
    g = t.add_argument_group("run")
    g.add_argument("--epochs", type=_positive_int, default=20, metavar="N", help="epochs to train (in all, with --resume)")
    g.add_argument("--patience", type=_positive_int, default=None, metavar="N",
                   help="early stopping: stop after N epochs without a better validation accuracy")
    g.add_argument("--seed", type=_seed, default=0, help="seed of weights, minibatches and dropout")
    g.add_argument("--config", metavar="FILE", default=None,
                   help="JSON settings to start from (e.g. the best.json of swiftnn search)")
    g.add_argument("--resume", metavar="CKPT", default=None,
                   help="continue training a checkpoint (model.npz) up to --epochs epochs in all")
    g.add_argument("--out", default="out/train", metavar="DIR", help="output folder")
    g.add_argument("--no-plots", action="store_true", help="do not write the PNG plots")

    e = sub.add_parser("evaluate", help="score a checkpoint or an ensemble of checkpoints", formatter_class=_Formatter,
                       description="Accuracy of one or more checkpoints written by swiftnn train; with several,\n"
                                   "also of their ensemble (averaged class probabilities).",
                       epilog=EVALUATE_EPILOG)
    e.add_argument("checkpoints", nargs="+", metavar="CKPT", help="model.npz files")
    e.add_argument("--split", choices=["test", "val"], default="test", help="which rows to score")
    e.add_argument("--data", metavar="DIR", default=None, help="dataset folder (default: where the run found it)")

    s = sub.add_parser("search", help="random hyperparameter search on an Optuna study", formatter_class=_Formatter,
                       description="Random search as the lectures teach it: learning rate, regularization and weight\n"
                                   "scale log-uniform, dropout uniform, architecture from choices. A coarse stage of\n"
                                   "many short trials, then a fine stage of longer trials in ranges narrowed around\n"
                                   "the best. Trials whose loss diverges are pruned early.",
                       epilog=SEARCH_EPILOG)
    from .search import add_search_arguments
    _add_data_args(s)
    _add_network_args(s, search=True)
    _add_optim_args(s, search=True)
    add_search_arguments(s)

    c = sub.add_parser("check", help="sanity checks before a long run (lecture 7)", formatter_class=_Formatter,
                       description="Babysitting the learning process: four quick checks of a network configuration,\n"
                                   "each printed with PASS or FAIL and what to change when it fails.",
                       epilog=CHECK_EPILOG)
    _add_data_args(c)
    _add_network_args(c)
    _add_optim_args(c)
    g = c.add_argument_group("run")
    g.add_argument("--seed", type=_seed, default=0, help="seed of weights and minibatches")
    g.add_argument("--config", metavar="FILE", default=None, help="JSON settings to start from")
    return parser, {"train": t, "evaluate": e, "search": s, "check": c}


# ------------------------------------------------------------------------------------------
# settings: --config files, checkpoints, validation

def _coerce(parser, key, value, source):
    """value (from JSON) converted and checked as parser's flag for key would be."""
    action = next((a for a in parser._actions if a.dest == key), None)
    flag = "--" + key.replace("_", "-")
    if action is None:
        raise UsageError("%s: unknown setting %r" % (source, key))
    if value is None:
        return None

    def convert(v):
        # As the flag's text, so that a file accepts what the command line accepts: 2.5 is no
        # batch size, 1e400 (inf) no epoch count, and every range check applies.
        if isinstance(v, (list, dict, bool)) or (action.type is None and not isinstance(v, str)):
            raise TypeError("expected a single %s" % ("value" if action.type else "string"))
        return action.type(str(v)) if action.type else v

    try:
        if action.nargs in ("+", "*"):
            if not isinstance(value, list) or (action.nargs == "+" and not value):
                raise UsageError("%s: %r must be a non-empty list (like %s)" % (source, key, flag))
            values = [convert(v) for v in value]
        else:
            values = [convert(value)]
    except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
        raise UsageError("%s: %r = %r is not valid for %s (%s)" % (source, key, value, flag, e)) from None
    if action.choices is not None:
        for v in values:
            if v not in action.choices:
                raise UsageError("%s: %r = %r; expected one of: %s" % (source, key, v, ", ".join(map(str, action.choices))))
    return values if action.nargs in ("+", "*") else values[0]


def _read_config(path, parser):
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise UsageError("--config %s: cannot read it (%s)" % (path, e.strerror or e)) from None
    try:
        cfg = json.loads(text)
    except ValueError as e:
        raise UsageError("--config %s: not valid JSON (%s)" % (path, e)) from None
    if not isinstance(cfg, dict):
        raise UsageError("--config %s: expected a JSON object of settings, got %s" % (path, type(cfg).__name__))
    allowed = {a.dest for a in parser._actions} & set(TRAIN_KEYS)
    unknown = sorted(set(cfg) - allowed)
    if unknown:
        raise UsageError("--config %s: unknown setting%s %s; known settings: %s"
                         % (path, "s" if len(unknown) > 1 else "", ", ".join(map(repr, unknown)), ", ".join(sorted(allowed))))
    return {k: _coerce(parser, k, v, "--config %s" % path) for k, v in cfg.items()}


def _parse(argv):
    parser, subs = _parser()
    args = parser.parse_args(argv)
    sub = subs[args.command]
    args.checkpoint = None
    try:
        defaults = {}
        if getattr(args, "resume", None):
            from .checkpoint import load_checkpoint
            try:
                args.checkpoint = load_checkpoint(args.resume)
            except (FileNotFoundError, ValueError) as e:
                raise UsageError("--resume: %s" % e) from None
            defaults.update({k: v for k, v in args.checkpoint.config.items() if k in TRAIN_KEYS})
            defaults.setdefault("out", str(Path(args.resume).parent))
        if getattr(args, "config", None):
            defaults.update(_read_config(args.config, sub))
        if defaults:
            sub.set_defaults(**defaults)
            checkpoint = args.checkpoint
            args = parser.parse_args(argv)
            args.checkpoint = checkpoint
        if args.checkpoint is not None:
            saved = args.checkpoint.config
            for key in _FIXED_ON_RESUME:
                if key in saved and getattr(args, key) != saved[key]:
                    raise UsageError("--%s %s: the checkpoint was trained with %s; a resumed run keeps the network, "
                                     "the data, the update rule and the batch size (start a new run instead)"
                                     % (key.replace("_", "-"), _show(getattr(args, key)), _show(saved[key])))
    except UsageError as e:
        sub.exit(2, "%s: error: %s\n" % (sub.prog, e))
    return args, sub


def _show(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def settings(args):
    """The TRAIN_KEYS settings of parsed arguments, as a dict."""
    return {k: getattr(args, k) for k in TRAIN_KEYS if hasattr(args, k)}


def validate(cfg):
    """UsageError for settings that cannot train (the flags' types are already checked)."""
    def bad(flag, value, why):
        raise UsageError("--%s %s: %s" % (flag, _show(value), why))

    if "dropout" in cfg and not 0 < cfg["dropout"] <= 1:
        bad("dropout", cfg["dropout"], "the keep probability must be in (0, 1] (1 = no dropout)")
    if "lr" in cfg and not (math.isfinite(cfg["lr"]) and cfg["lr"] > 0):
        bad("lr", cfg["lr"], "the learning rate must be a positive number")
    if "reg" in cfg and not (math.isfinite(cfg["reg"]) and cfg["reg"] >= 0):
        bad("reg", cfg["reg"], "the regularization strength must be >= 0")
    if "lr_decay" in cfg and not (0 < cfg["lr_decay"] <= 1):
        bad("lr-decay", cfg["lr_decay"], "the per-epoch factor must be in (0, 1]")
    if "weight_scale" in cfg and not (math.isfinite(cfg["weight_scale"]) and cfg["weight_scale"] > 0):
        bad("weight-scale", cfg["weight_scale"], "must be a positive number")
    if cfg.get("warmup", 0) < 0:
        bad("warmup", cfg["warmup"], "must be >= 0 iterations")
    info = DATASETS[cfg.get("dataset", "fashion-mnist")]
    num_train = cfg.get("num_train") or info["num_training"]
    num_val = cfg.get("num_val")
    if num_train >= info["train_rows"] and num_val is None:
        bad("num-train", num_train, "%s has %d training rows and some must be left for validation"
            % (cfg.get("dataset"), info["train_rows"]))
    if num_val is not None and num_train + num_val > info["train_rows"]:
        raise UsageError("--num-train %d + --num-val %d: %s has only %d training rows"
                         % (num_train, num_val, cfg.get("dataset"), info["train_rows"]))


def _data_not_found(e):
    # data.py's message is written for its Python API (root=); here the folder is a flag.
    return UsageError(str(e).replace("pass root=", "pass --data DIR"))


def _load_data(cfg, num_test=None):
    from .data import get_data
    try:
        data, stats = get_data(cfg["dataset"], cfg["num_train"], cfg["num_val"], num_test,
                               preprocess=cfg["preprocess"], root=cfg["data"], return_stats=True)
    except FileNotFoundError as e:
        raise _data_not_found(e) from None
    except ValueError as e:
        raise UsageError("cannot use the %s data: %s" % (cfg["dataset"], e)) from None
    if len(data["X_val"]) == 0:
        raise UsageError("no validation rows: lower --num-train or set --num-val")
    if len(data["X_train"]) < cfg.get("batch_size", 1):
        print("note: --batch-size %d is larger than the %d training rows (minibatches are sampled with replacement)"
              % (cfg["batch_size"], len(data["X_train"])))
    return data, stats


# ------------------------------------------------------------------------------------------
# train

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


def _fit(model, data, cfg, state=None, on_epoch=None, quiet=False):
    """Train model on data with the settings cfg. The one place `swiftnn train` runs its training
    loop: the native :class:`swiftnn.Trainer` (every setting of `swiftnn train` is one it runs:
    the update rules, step/cosine schedules, warm-up, patience; leaky ReLU, layernorm and the
    initializations are the model's).

    cfg['epochs'] counts all epochs, including the state['epoch'] already done when continuing
    from a checkpoint. state: None, or a Trainer.state() (as a checkpoint's trainer_state holds
    it) plus 'best_epoch'; the run then continues exactly as the uninterrupted one would.
    on_epoch(result) is called after every epoch with a dict like the one returned, model
    holding that epoch's parameters. Ctrl-C stops training at the next chunk of steps, keeps
    the best parameters so far and returns with 'interrupted' set. Raises
    swiftnn.solver.DivergenceError when the loss becomes NaN/Inf.

    Returns a dict: loss_history, train_acc_history, val_acc_history, best_val_acc, best_epoch,
    epoch (epochs done in all), trainer_state (Trainer.state() at the last completed epoch, or
    at the end; what a checkpoint stores to be resumed), stopped_early, interrupted, seconds,
    iterations_per_epoch. model.params hold the best parameters.
    """
    from .experiment import solver_options
    from .trainer import Trainer

    ipe = max(len(data["X_train"]) // cfg["batch_size"], 1)
    track = {"best_val_acc": float(state["best_val_acc"]) if state else 0.0,
             "best_epoch": int(state.get("best_epoch", state["epoch"])) if state else 0,
             "last_loss_index": len(state["loss_history"]) if state else 0, "state": state}
    started = time.perf_counter()

    def write(line):
        if quiet:
            return
        try:
            from tqdm.auto import tqdm
            tqdm.write(line)
        except ImportError:
            print(line, flush=True)

    def result(trainer, trainer_state, **extra):
        out = {"loss_history": list(trainer.loss_history), "train_acc_history": list(trainer.train_acc_history),
               "val_acc_history": list(trainer.val_acc_history), "best_val_acc": track["best_val_acc"],
               "best_epoch": track["best_epoch"], "epoch": trainer.epoch, "trainer_state": trainer_state,
               "stopped_early": False, "interrupted": False, "seconds": time.perf_counter() - started,
               "iterations_per_epoch": ipe}
        out.update(extra)
        return out

    def epoch_done(trainer):
        current = trainer.state()
        track["state"] = current
        epoch, val = trainer.epoch, trainer.val_acc_history[-1]
        improved = val > track["best_val_acc"]
        if improved:
            track["best_val_acc"], track["best_epoch"] = float(val), epoch
        current["best_epoch"] = track["best_epoch"]
        losses = trainer.loss_history[track["last_loss_index"]:]
        track["last_loss_index"] = len(trainer.loss_history)
        write("epoch %*d/%d  loss %.4f  train %5.2f%%  val %5.2f%%%s  next lr %.2e  %6.1f s"
              % (len(str(cfg["epochs"])), epoch, cfg["epochs"], float(np.mean(losses)) if losses else float("nan"),
                 100 * trainer.train_acc_history[-1], 100 * val, " *" if improved else "  ", current["learning_rate"],
                 time.perf_counter() - started))
        if on_epoch is not None:
            on_epoch(result(trainer, current))

    trainer = Trainer(model, data, num_epochs=cfg["epochs"], num_train_samples=5000, seed=cfg["seed"],
                      warmup_iters=cfg.get("warmup", 0) or 0, early_stopping_patience=cfg.get("patience"),
                      progress=not quiet, verbose=False, on_epoch=epoch_done, **solver_options(cfg))
    if state is None:
        track["state"] = dict(trainer.state(), best_epoch=0)  # interrupted before an epoch: start over
    try:
        trainer.train(resume=state)
    except ValueError as e:
        if state is not None and "Trainer.train: the state" in str(e):
            raise UsageError("the checkpoint's trainer state does not fit this network: %s" % e) from None
        raise
    if trainer.interrupted:
        # Resume from the last completed epoch: the steps after it are redone, exactly.
        return result(trainer, track["state"], interrupted=True)
    final = dict(trainer._final_state, best_epoch=track["best_epoch"])
    return result(trainer, final, stopped_early=trainer.stopped_early)


def train(args):
    from .checkpoint import save_checkpoint
    from .experiment import accuracy, build_model

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
    data, stats = _load_data(cfg)
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
            model = build_model(cfg, input_dim, num_classes)
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

    from .solver import DivergenceError
    try:
        res = _fit(model, data, cfg, state, on_epoch=write)
        started = time.perf_counter()
        test_acc = accuracy(model, X_test, y_test)
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
    from . import plots

    info = DATASETS[cfg["dataset"]]
    curves = plots.training_curves(out / "curves.png", res["loss_history"], res["train_acc_history"],
                                   res["val_acc_history"], test_acc, iterations_per_epoch=res["iterations_per_epoch"],
                                   title="%s, %s, %d epochs" % (cfg["dataset"], "-".join(map(str, model._dims)), res["epoch"]))
    if curves is None:
        print("matplotlib is not installed: no plots written (pip install matplotlib)")
        return
    plots.first_layer_grid(out / "weights.png", model.params["W1"], info["shape"], info["layout"])
    print("wrote %s and %s" % (out / "curves.png", out / "weights.png"))


# ------------------------------------------------------------------------------------------
# evaluate

def evaluate(args):
    from .checkpoint import load_checkpoint
    from .data import apply_preprocessing, load_raw
    from .experiment import predict_proba

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
    try:
        X_train, y_train, X_test, y_test = load_raw(dataset, root)
    except FileNotFoundError as e:
        raise _data_not_found(e) from None
    except ValueError as e:
        raise UsageError("cannot read the %s data: %s" % (dataset, e)) from None
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
        stats = c.preprocess or {"method": "none"}
        probs = predict_proba(model, apply_preprocessing(X, stats, info["pixel_scale"]))
        rows = probs if rows is None else rows
        total = probs if total is None else total + probs
        acc = float(np.mean(np.argmax(probs, axis=1) == y))
        print("  %-*s  %6.2f%%   %s, %d epochs" % (width, c.path, 100 * acc, "-".join(map(str, c.dims)), c.epoch))
    if len(ckpts) > 1:
        acc = float(np.mean(np.argmax(total / len(ckpts), axis=1) == y))
        print("  %-*s  %6.2f%%   (averaged probabilities of %d models)" % (width, "ensemble", 100 * acc, len(ckpts)))
    return 0


# ------------------------------------------------------------------------------------------

def main(argv=None):
    args, sub = _parse(argv)
    try:
        if args.command == "train":
            return train(args)
        if args.command == "evaluate":
            return evaluate(args)
        if args.command == "search":
            from .search import run_search
            return run_search(args)
        if args.command == "check":
            from .check import run_checks
            cfg = settings(args)
            validate(cfg)
            return run_checks(cfg)
    except UsageError as e:
        print("%s: error: %s" % (sub.prog, e), file=sys.stderr)
        return 2
    except CheckpointError as e:
        print("%s: error: %s" % (sub.prog, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
