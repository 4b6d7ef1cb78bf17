"""What the command-line tools share: a network from a configuration, short native-Trainer runs
(the trials of ``swiftnn search`` and the overfitting test of ``swiftnn check``), and batched
prediction.

A configuration is a dict with the ``swiftnn train`` settings (the dests of its flags):
``hidden, normalization ('none'|'batchnorm'|'layernorm'), dropout (keep probability),
activation, init ('he'|'xavier'|'scale'), weight_scale, reg, update_rule, lr, lr_decay,
schedule ('step'|'cosine'), batch_size``.
"""
import math
import time

import numpy as np

from .models import FullyConnectedNet
from .solver import DivergenceError

__all__ = ["build_model", "short_train", "predict_proba", "accuracy", "Diverged"]


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
    from .trainer import Trainer

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

    options = solver_options(cfg)
    options.update(overrides)
    if num_train_samples is None:
        num_train_samples = len(X)
    trainer = Trainer(model, data, num_epochs=epochs, verbose=False, progress=False, seed=seed,
                      num_train_samples=num_train_samples, on_chunk=watch, **options)
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
    """Softmax probabilities (N, C) of model on X in the model's dtype, computed in batches
    (test mode; ``model.predict_proba``: network and softmax in one native call per batch)."""
    if len(X) <= batch_size:
        return model.predict_proba(X) if len(X) else np.zeros((0, 0))
    return np.concatenate([model.predict_proba(X[start:start + batch_size])
                           for start in range(0, len(X), batch_size)])


def accuracy(model, X, y, batch_size=2000):
    """Fraction of rows of X whose highest score is the label."""
    correct = 0
    for start in range(0, len(X), batch_size):
        scores = model.loss(X[start:start + batch_size])
        correct += int(np.sum(np.argmax(scores, axis=1) == y[start:start + batch_size]))
    return correct / max(len(X), 1)
