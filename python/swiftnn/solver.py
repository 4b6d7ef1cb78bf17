"""The CS231n ``Solver``: minibatch training of a model with an update rule from ``optim``.

With its default keyword arguments this class behaves like the course's
``cs231n/solver.py`` (assignment 2, 2023/2024): same keyword arguments and defaults, same
random draws (``np.random.choice`` for minibatches and for the accuracy subsamples), same
printed lines, same checkpoints. One default differs: a NaN or infinite loss raises
:class:`DivergenceError` (``stop_on_divergence=True``), where the course's Solver records the
NaN and trains on. All numerics happen in the model's ``loss`` and in the update rule; this
module is bookkeeping.

Example, as in the course::

    data = {'X_train': ..., 'y_train': ..., 'X_val': ..., 'y_val': ...}
    model = FullyConnectedNet([100], reg=1e-3)
    solver = Solver(model, data, update_rule='sgd',
                    optim_config={'learning_rate': 1e-3},
                    lr_decay=0.95, num_epochs=10, batch_size=100, print_every=100)
    solver.train()

A model must have ``model.params`` (a dict from parameter name to array) and
``model.loss(X, y=None)`` returning scores of shape (N, C) when ``y`` is None and
``(loss, grads)`` otherwise, ``grads`` keyed like ``params``.

Options beyond the course (all defaults but ``stop_on_divergence``'s keep the course's
behaviour):

- ``progress='print'`` or ``'tqdm'``: ``'tqdm'`` shows a progress bar with the live loss
  instead of the ``(Iteration ...)`` lines (epoch lines, when ``verbose``, are written
  above the bar). The bar comes from ``tqdm.auto``: a widget bar in Jupyter (with ipywidgets
  installed), a text bar elsewhere. Falls back to ``'print'`` with a warning when tqdm is
  not installed.
- ``stop_on_divergence=True`` (the default): a NaN or infinite loss (or the engine refusing
  NaN/Inf scores or a non-finite loss, ``SNN_E_NONFINITE``) raises :class:`DivergenceError`
  naming the iteration, before any parameter is updated with that step's gradients.
  ``False`` is the course's behaviour for a model whose ``loss`` returns NaN/Inf: the value
  is recorded and training goes on. swiftnn's own models never return one (their engine
  refuses it), so with them and ``False`` training stops with that
  :class:`~swiftnn.SwiftNNError` instead.
- ``early_stopping_patience=None``: an integer stops training after that many epochs in
  a row without a new best validation accuracy; the best parameters are kept as usual.
- ``lr_schedule=None`` | ``'step'`` | ``'cosine'`` and ``warmup_iters=0``. ``None`` and
  ``'step'`` are the course's decay (``learning_rate *= lr_decay`` at each epoch end);
  ``'cosine'`` anneals each parameter's base learning rate to 0 over the run (set
  ``lr_decay`` to 1 with it). ``warmup_iters=W`` scales the rate linearly by
  ``(t + 1) / W`` during the first W iterations (t counted from 0 in each ``train()``).
  With a schedule or a warm-up, the rate the update rule sees is set before each call and
  the config's nominal ``learning_rate`` is put back after it.
- ``record_update_ratios=False``: when True, ``self.update_ratio_history[p]`` gets
  ``||next_w - w|| / ||w||`` for every parameter at every step (the lectures' rule of
  thumb: around 1e-3). A parameter of norm 0 records ``inf`` (or 0.0 if it did not move).

Checkpoints are written atomically: to a temporary file in the same folder, flushed and
fsynced, then renamed over ``"%s_epoch_%d.pkl" % (checkpoint_name, epoch)``.
"""
import math
import os
import pickle
import uuid
import warnings

import numpy as np

from ._native import SwiftNNError

__all__ = ["Solver", "DivergenceError"]

_SNN_E_NONFINITE = -5
_PROGRESS_MODES = ("print", "tqdm")
_LR_SCHEDULES = (None, "step", "cosine")


class DivergenceError(RuntimeError):
    """Training diverged: the loss became NaN or infinite.

    Attributes: ``iteration`` (1-based, as in the ``(Iteration %d / %d)`` lines) and
    ``loss`` (the offending value, or None when the engine refused to compute it).
    """

    def __init__(self, iteration, loss=None, cause=None):
        message = "loss diverged at iteration %d — lower the learning rate" % iteration
        if loss is not None:
            message += " (loss = %r)" % (loss,)
        if cause is not None:
            message += " (%s)" % (cause,)
        super().__init__(message)
        self.iteration = iteration
        self.loss = loss


class Solver(object):
    """Trains a classification model with minibatch gradient descent (course semantics).

    Required arguments:
    - model: an object with ``params`` and ``loss(X, y=None)`` as described above.
    - data: a dict with ``X_train`` (N_train, ...), ``y_train`` (N_train,),
      ``X_val`` (N_val, ...), ``y_val`` (N_val,).

    Optional keyword arguments (course):
    - update_rule: name of an update rule in ``swiftnn.optim`` (default 'sgd'), or a
      callable ``rule(w, dw, config) -> (next_w, config)``.
    - optim_config: hyperparameters for the update rule, copied per parameter (default {}).
    - lr_decay: learning rate multiplier applied at the end of every epoch (default 1.0).
    - batch_size: minibatch size (default 100).
    - num_epochs: number of epochs to train (default 10).
    - num_train_samples: training rows sampled to check training accuracy (default 1000).
    - num_val_samples: validation rows sampled to check validation accuracy; None for all.
    - checkpoint_name: if not None, save a checkpoint at every accuracy check.
    - print_every: print the training loss every this many iterations (default 10).
    - verbose: if False, print nothing during training (default True).

    Optional keyword arguments (swiftnn): progress, stop_on_divergence (default True: a
    NaN/Inf loss raises DivergenceError, unlike the course), early_stopping_patience,
    lr_schedule, warmup_iters, record_update_ratios; see the module documentation. Any other
    keyword raises ValueError.

    ``repr(solver)`` (and Jupyter's display) summarizes the model, update rule, schedule,
    batches, data sizes and progress so far.
    """

    def __init__(self, model, data, **kwargs):
        self.model = model
        self.X_train = data["X_train"]
        self.y_train = data["y_train"]
        self.X_val = data["X_val"]
        self.y_val = data["y_val"]

        # Unpack keyword arguments (course)
        self.update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)

        self.checkpoint_name = kwargs.pop("checkpoint_name", None)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)

        # swiftnn options
        self.progress = kwargs.pop("progress", "print")
        self.stop_on_divergence = kwargs.pop("stop_on_divergence", True)
        self.early_stopping_patience = kwargs.pop("early_stopping_patience", None)
        self.lr_schedule = kwargs.pop("lr_schedule", None)
        self.warmup_iters = kwargs.pop("warmup_iters", 0)
        self.record_update_ratios = kwargs.pop("record_update_ratios", False)

        # Throw an error if there are extra keyword arguments
        if len(kwargs) > 0:
            extra = ", ".join('"%s"' % k for k in list(kwargs.keys()))
            raise ValueError("Unrecognized arguments %s" % extra)

        if self.progress not in _PROGRESS_MODES:
            raise ValueError('Invalid progress "%s"; expected "print" or "tqdm"' % (self.progress,))
        if self.lr_schedule not in _LR_SCHEDULES:
            raise ValueError('Invalid lr_schedule "%s"; expected None, "step" or "cosine"'
                             % (self.lr_schedule,))
        if self.lr_schedule == "cosine" and self.lr_decay != 1.0:
            raise ValueError("lr_schedule='cosine' sets the learning rate of every iteration; "
                             "lr_decay must be 1.0 with it (got %r)" % (self.lr_decay,))
        if isinstance(self.warmup_iters, bool) or not isinstance(self.warmup_iters, (int, np.integer)) \
                or self.warmup_iters < 0:
            raise ValueError("warmup_iters must be an integer >= 0, got %r" % (self.warmup_iters,))
        patience = self.early_stopping_patience
        if patience is not None and (isinstance(patience, bool)
                                     or not isinstance(patience, (int, np.integer)) or patience < 1):
            raise ValueError("early_stopping_patience must be None or an integer >= 1, got %r"
                             % (patience,))

        # Make sure the update rule exists, then replace the string name with the function
        if isinstance(self.update_rule, str):
            from . import optim

            name = self.update_rule
            rule = getattr(optim, name, None) if not name.startswith("_") else None
            if rule is None or not callable(rule):
                raise ValueError('Invalid update_rule "%s"' % name)
            self.update_rule = rule
        elif not callable(self.update_rule):
            raise ValueError("Invalid update_rule %r: expected the name of a rule in "
                             "swiftnn.optim or a callable" % (self.update_rule,))

        self._reset()

    def _reset(self):
        """Set up some book-keeping variables. Don't call this manually."""
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.stopped_early = False
        self.update_ratio_history = (
            {p: [] for p in self.model.params} if self.record_update_ratios else {})

        # Make a deep copy of the optim_config for each parameter
        self.optim_configs = {}
        for p in self.model.params:
            d = {k: v for k, v in self.optim_config.items()}
            self.optim_configs[p] = d

        self._iteration = 0        # index of the next step within the current train()
        self._num_iterations = None
        self._base_lrs = {}        # cosine: each parameter's base learning rate
        self._write = print

    # ------------------------------------------------------------------------------
    # learning-rate schedule (inactive by default)

    def _scheduled(self):
        return self.lr_schedule == "cosine" or self.warmup_iters > 0

    def _total_iterations(self):
        if self._num_iterations is not None:
            return self._num_iterations
        num_train = self.X_train.shape[0]
        return self.num_epochs * max(num_train // self.batch_size, 1)

    def _lr_factor(self, t):
        w = self.warmup_iters
        if t < w:
            return (t + 1) / w
        if self.lr_schedule == "cosine":
            span = self._total_iterations() - w
            if span <= 0:
                return 1.0
            progress = min(max((t - w) / span, 0.0), 1.0)
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    def _nominal_lr(self, p, w, config):
        """The learning rate the schedule scales for parameter p (None: rule has none)."""
        if "learning_rate" not in config:
            # The rule sets its default on first use; ask it for that default once, on a
            # throwaway one-element problem, so that the very first step is scheduled too.
            probe = np.zeros(1, dtype=getattr(w, "dtype", np.float64))
            try:
                _, probed = self.update_rule(probe.copy(), probe.copy(), {})
            except Exception:
                probed = None
            if not isinstance(probed, dict) or "learning_rate" not in probed:
                raise ValueError("lr_schedule/warmup_iters need a learning rate: put "
                                 "'learning_rate' in optim_config")
            config["learning_rate"] = probed["learning_rate"]
        if self.lr_schedule == "cosine":
            return self._base_lrs.setdefault(p, config["learning_rate"])
        return config["learning_rate"]

    # ------------------------------------------------------------------------------
    # training

    def _step(self):
        """Make a single gradient update. This is called by train() and should not be
        called manually."""
        t = self._iteration
        # Make a minibatch of training data
        num_train = self.X_train.shape[0]
        batch_mask = np.random.choice(num_train, self.batch_size)
        X_batch = self.X_train[batch_mask]
        y_batch = self.y_train[batch_mask]

        # Compute loss and gradient
        try:
            loss, grads = self.model.loss(X_batch, y_batch)
        except SwiftNNError as err:
            if self.stop_on_divergence and getattr(err, "status", None) == _SNN_E_NONFINITE:
                raise DivergenceError(t + 1, cause=err) from err
            raise
        self.loss_history.append(loss)
        if self.stop_on_divergence and not _finite(loss):
            raise DivergenceError(t + 1, loss=loss)

        scheduled = self._scheduled()
        factor = self._lr_factor(t) if scheduled else None

        # Perform a parameter update
        for p, w in self.model.params.items():
            dw = grads[p]
            config = self.optim_configs[p]
            nominal = None
            if scheduled:
                nominal = self._nominal_lr(p, w, config)
                config["learning_rate"] = nominal * factor
            if self.record_update_ratios:
                w_before = np.array(w, copy=True)
            try:
                next_w, next_config = self.update_rule(w, dw, config)
            except SwiftNNError as err:
                if self.stop_on_divergence and getattr(err, "status", None) == _SNN_E_NONFINITE:
                    raise DivergenceError(t + 1, cause=err) from err
                raise
            if scheduled:
                next_config["learning_rate"] = nominal
            if self.record_update_ratios:
                self.update_ratio_history.setdefault(p, []).append(
                    _update_ratio(w_before, next_w))
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config
        self._iteration = t + 1

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        filename = "%s_epoch_%d.pkl" % (self.checkpoint_name, self.epoch)
        if self.verbose:
            self._write('Saving checkpoint to "%s"' % filename)
        _atomic_pickle(checkpoint, filename)

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Check accuracy of the model on the provided data.

        Inputs:
        - X: Array of data, of shape (N, d_1, ..., d_k)
        - y: Array of labels, of shape (N,)
        - num_samples: If not None, subsample the data and only test the model
          on num_samples datapoints.
        - batch_size: Split X and y into batches of this size to avoid using
          too much memory.

        Returns:
        - acc: Scalar giving the fraction of instances that were correctly
          classified by the model.
        """
        # Maybe subsample the data
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = np.random.choice(N, num_samples)
            N = num_samples
            X = X[mask]
            y = y[mask]

        # Compute predictions in batches
        num_batches = N // batch_size
        if N % batch_size != 0:
            num_batches += 1
        y_pred = []
        for i in range(num_batches):
            start = i * batch_size
            end = (i + 1) * batch_size
            scores = self.model.loss(X[start:end])
            y_pred.append(np.argmax(scores, axis=1))
        y_pred = np.hstack(y_pred)
        acc = np.mean(y_pred == y)

        return acc

    def train(self):
        """Run optimization to train the model."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        self._num_iterations = num_iterations

        bar = self._open_bar(num_iterations)
        self._write = bar.write if bar is not None else print
        epochs_without_improvement = 0
        try:
            for t in range(num_iterations):
                self._iteration = t
                self._step()

                # Maybe print training loss
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(self._postfix(), refresh=False)
                elif self.verbose and t % self.print_every == 0:
                    print(
                        "(Iteration %d / %d) loss: %f"
                        % (t + 1, num_iterations, self.loss_history[-1])
                    )

                # At the end of every epoch, increment the epoch counter and decay
                # the learning rate.
                epoch_end = (t + 1) % iterations_per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    for k in self.optim_configs:
                        if "learning_rate" in self.optim_configs[k]:
                            self.optim_configs[k]["learning_rate"] *= self.lr_decay

                # Check train and val accuracy on the first iteration, the last
                # iteration, and at the end of each epoch.
                first_it = t == 0
                last_it = t == num_iterations - 1
                if first_it or last_it or epoch_end:
                    train_acc = self.check_accuracy(
                        self.X_train, self.y_train, num_samples=self.num_train_samples
                    )
                    val_acc = self.check_accuracy(
                        self.X_val, self.y_val, num_samples=self.num_val_samples
                    )
                    self.train_acc_history.append(train_acc)
                    self.val_acc_history.append(val_acc)
                    self._save_checkpoint()

                    if self.verbose:
                        self._write(
                            "(Epoch %d / %d) train acc: %f; val_acc: %f"
                            % (self.epoch, self.num_epochs, train_acc, val_acc)
                        )
                    if bar is not None:
                        bar.set_postfix(self._postfix(), refresh=False)

                    # Keep track of the best model
                    improved = val_acc > self.best_val_acc
                    if improved:
                        self.best_val_acc = val_acc
                        self.best_params = {}
                        for k, v in self.model.params.items():
                            self.best_params[k] = v.copy()

                    if self.early_stopping_patience is not None and epoch_end:
                        epochs_without_improvement = 0 if improved else epochs_without_improvement + 1
                        if epochs_without_improvement >= self.early_stopping_patience and not last_it:
                            self.stopped_early = True
                            if self.verbose:
                                self._write(
                                    "Early stopping at epoch %d / %d: val_acc has not improved "
                                    "for %d epochs (best val_acc: %f)"
                                    % (self.epoch, self.num_epochs, epochs_without_improvement,
                                       self.best_val_acc)
                                )
                            break
        finally:
            if bar is not None:
                bar.close()
            self._write = print

        # At the end of training swap the best params into the model
        self.model.params = self.best_params

    # ------------------------------------------------------------------------------
    # summary: the model's table, update rule, batches, data and progress so far

    def __repr__(self):
        from ._summary import training_text
        return training_text(self, "python")

    def _repr_html_(self):
        from ._summary import training_html
        return training_html(self, "python")

    # ------------------------------------------------------------------------------
    # progress bar

    def _open_bar(self, total):
        if self.progress != "tqdm":
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            warnings.warn("progress='tqdm' but tqdm is not installed; printing progress lines "
                          "instead (pip install tqdm)", RuntimeWarning, stacklevel=3)
            return None
        return tqdm(total=total, desc="train", unit="it", dynamic_ncols=True)

    def _postfix(self):
        post = {"epoch": "%d/%d" % (self.epoch, self.num_epochs)}
        if self.loss_history:
            post["loss"] = "%.4f" % self.loss_history[-1]
        if self.train_acc_history:
            post["train_acc"] = "%.3f" % self.train_acc_history[-1]
            post["val_acc"] = "%.3f" % self.val_acc_history[-1]
        return post


def _finite(loss):
    try:
        return bool(np.all(np.isfinite(loss)))
    except TypeError:
        return True


def _update_ratio(w, next_w):
    update = float(np.linalg.norm(np.asarray(next_w, dtype=np.float64) - w))
    scale = float(np.linalg.norm(np.asarray(w, dtype=np.float64)))
    if scale > 0.0:
        return update / scale
    return 0.0 if update == 0.0 else math.inf


def _atomic_pickle(obj, filename):
    """pickle.dump obj to filename so that a crash leaves either the old file or the new one:
    write a temporary file in the same folder, flush and fsync it, then os.replace it."""
    folder = os.path.dirname(os.path.abspath(filename))
    tmp = os.path.join(folder, ".%s.%s.tmp" % (os.path.basename(filename), uuid.uuid4().hex[:12]))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filename)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX; not possible on every platform)
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
