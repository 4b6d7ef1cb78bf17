"""The shared core of every front-end: a run's configuration -> dataset, preprocessing, model,
trainer, and the runs themselves. The ``swiftnn`` commands (:mod:`swiftnn.cli`), the search
(:mod:`swiftnn.search`) and the sanity checks (:mod:`swiftnn.check`) are thin layers over it;
it imports none of them.

A configuration is a dict with the ``swiftnn train`` settings (the dests of its flags,
:data:`TRAIN_KEYS`): ``dataset, data (folder or None), preprocess ('none'|'mean'|'standardize'),
num_train, num_val, hidden, normalization ('none'|'batchnorm'|'layernorm'), dropout (keep
probability), activation, init ('he'|'xavier'|'scale'), weight_scale, update_rule, lr, lr_decay,
schedule ('step'|'cosine'), warmup, reg, batch_size, epochs, patience, seed``.

- :func:`validate` refuses settings that cannot train, :class:`UsageError` naming the flag;
- :func:`load_dataset` / :func:`load_raw_dataset` read a dataset by name (UsageError with the
  hint of where to put it when it is missing); :func:`preprocess` applies a run's statistics;
- :func:`build_model` and :func:`build_trainer` make the network and the native Trainer;
- :func:`fit` is the one training loop of ``swiftnn train`` (checkpointable, resumable);
  :func:`short_train` the quiet short runs of the search's trials and the checks;
- :func:`predict_proba` and :func:`accuracy` score in batches.
"""
import math
import time

import numpy as np

from .data import DATASETS, apply_preprocessing, get_data, load_raw
from .models import FullyConnectedNet
from .solver import DivergenceError

__all__ = ["TRAIN_KEYS", "FIXED_ON_RESUME", "UPDATE_RULES", "UsageError", "Diverged", "validate", "flag_text",
           "load_dataset", "load_raw_dataset", "preprocess", "build_model", "solver_options", "build_trainer", "fit",
           "short_train", "predict_proba", "accuracy"]

# The settings of a training run: the dests of `swiftnn train`'s flags that a --config file
# may set and that a checkpoint records.
TRAIN_KEYS = ("dataset", "data", "preprocess", "num_train", "num_val", "hidden", "normalization", "dropout",
              "activation", "init", "weight_scale", "update_rule", "lr", "lr_decay", "schedule", "warmup",
              "reg", "batch_size", "epochs", "patience", "seed")
# What a resumed run cannot change: the network, the data it was trained on, the update rule (its
# state) and the batch size (an epoch is n_train // batch_size steps of the trainer's count).
FIXED_ON_RESUME = ("dataset", "preprocess", "num_train", "num_val", "hidden", "normalization", "activation",
                   "update_rule", "batch_size")
UPDATE_RULES = ("sgd", "sgd_momentum", "rmsprop", "adam", "adagrad")


class UsageError(Exception):
    """A setting or input file that cannot be used, named by its flag (``--lr 0: ...``). The
    command line prints it as `swiftnn <command>: error: ...` and exits with status 2."""


def flag_text(value):
    """A setting's value as it is written on the command line (lists space-separated)."""
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def validate(cfg):
    """UsageError for settings that cannot train (the flags' types are already checked)."""
    def bad(flag, value, why):
        raise UsageError("--%s %s: %s" % (flag, flag_text(value), why))

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


# ------------------------------------------------------------------------------------------
# data

def _data_not_found(e):
    # data.py's message is written for its Python API (root=); here the folder is a flag.
    return UsageError(str(e).replace("pass root=", "pass --data DIR"))


def load_dataset(cfg, num_test=None):
    """(data, stats) for cfg's dataset, data folder, split sizes and preprocessing: data as
    :func:`swiftnn.data.get_data` returns it, stats the preprocessing statistics a checkpoint
    keeps. num_test None: every test row. UsageError when the files are missing (saying where
    to put them), unreadable, or leave no validation rows."""
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


def load_raw_dataset(dataset, root=None):
    """X_train, y_train, X_test, y_test of a dataset by name, unpreprocessed (as
    :func:`swiftnn.data.load_raw`); UsageError when missing (saying where to put it) or unreadable."""
    try:
        return load_raw(dataset, root)
    except FileNotFoundError as e:
        raise _data_not_found(e) from None
    except ValueError as e:
        raise UsageError("cannot read the %s data: %s" % (dataset, e)) from None


def preprocess(X, stats, dataset):
    """Raw rows X of dataset preprocessed with a run's statistics (a checkpoint's ``preprocess``;
    None: pixels scaled only), as the run saw its rows."""
    return apply_preprocessing(X, stats or {"method": "none"}, DATASETS[dataset]["pixel_scale"])


# ------------------------------------------------------------------------------------------
# model and trainer

def build_model(cfg, input_dim, num_classes, dtype=np.float32, reg=None, dropout=None):
    """A FullyConnectedNet for cfg. reg and dropout override the configuration's values."""
    norm = cfg.get("normalization", "none")
    return FullyConnectedNet(list(cfg["hidden"]), input_dim=input_dim, num_classes=num_classes,
                             dropout_keep_ratio=cfg.get("dropout", 1.0) if dropout is None else dropout,
                             normalization=None if norm in (None, "none") else norm,
                             reg=cfg.get("reg", 0.0) if reg is None else reg,
                             weight_scale=cfg.get("weight_scale", 1e-2), dtype=dtype, seed=None,
                             init=None if cfg.get("init", "scale") == "scale" else cfg["init"],
                             activation=cfg.get("activation", "relu"))


class Diverged(RuntimeError):
    """A short run stopped because its loss became NaN/Inf or rose above a multiple of its start."""

    def __init__(self, reason, iteration, loss):
        super().__init__(reason)
        self.reason, self.iteration, self.loss = reason, iteration, loss


def solver_options(cfg):
    """The Trainer (and Solver) keyword arguments for cfg's optimization settings."""
    schedule = cfg.get("schedule", "step")
    return {"update_rule": cfg.get("update_rule", "adam"), "optim_config": {"learning_rate": cfg["lr"]},
            "lr_decay": 1.0 if schedule == "cosine" else cfg.get("lr_decay", 1.0),
            "lr_schedule": schedule, "batch_size": cfg.get("batch_size", 100)}


def build_trainer(model, data, cfg, **options):
    """A native :class:`swiftnn.Trainer` of model on data with cfg's optimization settings
    (:func:`solver_options`); options are further Trainer keywords and override those."""
    from .trainer import Trainer

    kwargs = solver_options(cfg)
    kwargs.update(options)
    return Trainer(model, data, **kwargs)


def fit(model, data, cfg, state=None, on_epoch=None, quiet=False):
    """Train model on data with the settings cfg: the training loop of `swiftnn train`, in the
    native :class:`swiftnn.Trainer` (every setting of `swiftnn train` is one it runs:
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

    trainer = build_trainer(model, data, cfg, num_epochs=cfg["epochs"], num_train_samples=5000, seed=cfg["seed"],
                            warmup_iters=cfg.get("warmup", 0) or 0, early_stopping_patience=cfg.get("patience"),
                            progress=not quiet, verbose=False, on_epoch=epoch_done)
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


def short_train(cfg, data, epochs, seed=0, explode_factor=3.0, on_loss=None, num_train_samples=1000,
                dtype=np.float32, **overrides):
    """Train a network for cfg on data for a few epochs in the native Trainer, quietly.

    Stops early, raising :class:`Diverged`, when the loss becomes NaN/Inf or rises above
    explode_factor times the first iteration's loss (None: never). on_loss(iteration, loss), when
    given, sees every training loss (after each chunk of up to 25 steps) and may raise to stop
    the run (the search reports losses to its pruner there). overrides replace Trainer options
    (e.g. batch_size, lr_decay) or, for 'reg' and 'dropout', the model's. num_train_samples None:
    the training accuracy on every training row. seed: the initial weights' and the trainer's
    (minibatches, dropout). Ctrl-C raises KeyboardInterrupt, as a Python loop would.

    Returns a dict: model (with the best parameters), solver (the Trainer: loss_history,
    train_acc_history, val_acc_history, best_val_acc), best_val_acc, train_acc (last check),
    loss_history, val_acc_history, seconds.
    """
    np.random.seed(seed)
    X = data["X_train"]
    model = build_model(cfg, int(np.prod(X.shape[1:])), int(max(data["y_train"].max(), data["y_val"].max())) + 1,
                        dtype=dtype, reg=overrides.pop("reg", None), dropout=overrides.pop("dropout", None))
    start_loss = []

    def watch(trainer, first, losses):
        for iteration, loss in enumerate(losses, first):
            if on_loss is not None:
                on_loss(iteration, loss)
            if not math.isfinite(loss):
                raise Diverged("loss became %r at iteration %d" % (loss, iteration), iteration, loss)
            if not start_loss:
                start_loss.append(loss)
            elif explode_factor is not None and loss > explode_factor * start_loss[0]:
                raise Diverged("loss %.3g rose above %g x its start %.3g at iteration %d"
                               % (loss, explode_factor, start_loss[0], iteration), iteration, loss)

    if num_train_samples is None:
        num_train_samples = len(X)
    trainer = build_trainer(model, data, cfg, num_epochs=epochs, verbose=False, progress=False, seed=seed,
                            num_train_samples=num_train_samples, on_chunk=watch, **overrides)
    started = time.perf_counter()
    try:
        trainer.train()
    except DivergenceError as e:
        raise Diverged(str(e), e.iteration, e.loss) from e
    if trainer.interrupted:
        raise KeyboardInterrupt
    return {"model": model, "solver": trainer, "best_val_acc": float(trainer.best_val_acc),
            "train_acc": float(trainer.train_acc_history[-1]), "loss_history": trainer.loss_history,
            "val_acc_history": trainer.val_acc_history, "seconds": time.perf_counter() - started}


def predict_proba(model, X, batch_size=2000):
    """Softmax probabilities (N, C) of model on X, computed in batches (test mode)."""
    out = []
    for start in range(0, len(X), batch_size):
        scores = np.asarray(model.loss(X[start:start + batch_size]), dtype=np.float64)
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        out.append(p / p.sum(axis=1, keepdims=True))
    return np.concatenate(out) if out else np.zeros((0, 0))


def accuracy(model, X, y, batch_size=2000):
    """Fraction of rows of X whose highest score is the label."""
    correct = 0
    for start in range(0, len(X), batch_size):
        scores = model.loss(X[start:start + batch_size])
        correct += int(np.sum(np.argmax(scores, axis=1) == y[start:start + batch_size]))
    return correct / max(len(X), 1)
