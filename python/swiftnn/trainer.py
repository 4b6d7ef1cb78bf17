"""The native training loop behind a Solver-like interface.

``Trainer(model, data, **kwargs)`` takes the course Solver's keyword arguments and trains a
``FullyConnectedNet`` or ``TwoLayerNet`` with sampling, forward/backward, the update, the
schedule, accuracy checks, best-parameter snapshot and early stopping all in the Swift
library. Python crosses into the library once per chunk of steps (for the progress bar) and
once per epoch. Parameters, gradients and optimizer state live in one flat buffer each;
``model.params`` are views into the parameter buffer, so they are always current.

Same seed, same machine and thread count: bit-identical histories.
"""
import ctypes
import signal
import threading
import time

import numpy as np

from . import _native
from ._arrays import call, integer, labels
from ._native import SwiftNNError
from .models import _ACTIVATIONS, _NORMS, NeuralNetTwoLayerNet, _PlannedNet, _real_rows
from .optim import DEFAULT_LR, RULES, _native_config, rule_code
from .solver import DivergenceError

__all__ = ["Trainer"]

# optim_config keys: the hyperparameters the engine's rules read, and the state a course
# Solver's config carries (the Trainer keeps its own state and ignores those).
_HYPERPARAMETERS = ("learning_rate", "momentum", "nesterov", "decay_rate", "beta1", "beta2", "epsilon")
_COURSE_STATE = ("velocity", "cache", "m", "v", "t")

class _DeferredInterrupt:
    """Within it (in the main thread, with Python's default SIGINT handler), a first Ctrl-C only
    sets ``requested``; the loop stops at its next chunk boundary, so the histories, the epoch
    counter and an on_epoch callback (a checkpoint being written) are never cut in the middle.
    A second Ctrl-C raises KeyboardInterrupt at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False


class Trainer:
    """Trains a model in the native loop; a drop-in for the Solver's common use.

    Keyword arguments (course Solver's): update_rule ('sgd', 'sgd_momentum', 'nesterov',
    'rmsprop', 'adam', 'adagrad'), optim_config, lr_decay, batch_size, num_epochs,
    num_train_samples, num_val_samples, print_every (accepted, nothing is printed per iteration),
    verbose (epoch lines); optim_config nesterov=True with 'sgd_momentum' is 'nesterov'. Ours: seed (0), lr_schedule
    (None/'step' or 'cosine'), warmup_iters (0), early_stopping_patience (None),
    progress (True: a tqdm bar, notebook-aware), steps_per_call (progress granularity),
    on_epoch (called as on_epoch(trainer) after every epoch's accuracy check, with
    model.params holding that epoch's parameters), on_chunk (called as
    on_chunk(trainer, first_iteration, losses) after every chunk of steps with their losses,
    iterations counted from 1; it may raise to stop training, and the exception propagates;
    on_epoch returning True stops training as early stopping does).
    Beyond the Solver, for front-ends such as swiftnn.sklearn: sampling ('replacement': each
    step draws batch_size rows, the course's; 'shuffled' or 'ordered': each epoch visits every
    row once, in a new random order or in order, the last minibatch shorter), reg_per_weight
    (False; True divides reg by each minibatch's weight sum, scikit-learn's alpha convention),
    checks ('course': accuracy checks after the first step and every epoch; 'epoch': every epoch
    only; None: none — no validation data needed, and the final parameters are kept),
    lr_schedule 'invscaling' (epoch e's rate = learning_rate / (rows seen + 1) ** power_t, as
    scikit-learn's SGD), power_t (0.5). data may carry w_train and w_val (per-row weights:
    the loss becomes their weighted mean and the checks weighted); a model with
    loss_function='squared' takes real targets y_train (N, C) and its checks report R².
    ``set_learning_rate(lr)`` (from on_epoch) sets the base rate of the epochs that follow;
    ``train(continue_from=state)`` trains on the bound data with the optimizer state (and
    Adam's step count) of an earlier ``state()``, possibly of other data (partial fits).

    ``state()`` returns everything needed to continue later (optimizer state, iteration,
    epoch, histories); ``train(resume=state)`` continues exactly as an uninterrupted run
    would, given the same data and seed. After ``train()`` it is the state at the end of
    training (the last step's parameters, not the restored best ones).

    After ``train()``: loss_history, train_acc_history, val_acc_history, best_val_acc,
    best_params (copies), and model.params holding the best parameters (as the Solver does).
    Ctrl-C stops after the current chunk of steps and keeps the best parameters so far; so
    does any exception raised during training (a DivergenceError, an on_chunk or on_epoch
    callback's), which then propagates.

    ``model.params`` are the trainer's own buffers while it exists; a parameter rebound since
    (``model.params["W1"] = ...``, or another Trainer made on the same model) is copied in when
    ``train()`` starts. The data attributes (X_train, y_train, X_val, y_val) are checked again
    when ``train()`` starts if they were reassigned. One Trainer trains in one thread at a time.
    """

    def __init__(self, model, data, **kwargs):
        if not isinstance(model, _PlannedNet) or isinstance(model, NeuralNetTwoLayerNet):
            raise TypeError("Trainer: model must be a swiftnn FullyConnectedNet or TwoLayerNet, got %s"
                            % type(model).__name__)
        self.model = model
        w = "Trainer"
        self.update_rule = kwargs.pop("update_rule", "sgd")
        config = kwargs.pop("optim_config", {})
        if not isinstance(config, dict):
            raise TypeError("Trainer: optim_config must be a dict, got %r" % (config,))
        self.optim_config = dict(config)
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = integer(w, "batch_size", kwargs.pop("batch_size", 100), 1)
        self.num_epochs = integer(w, "num_epochs", kwargs.pop("num_epochs", 10), 1)
        self.num_train_samples = integer(w, "num_train_samples", kwargs.pop("num_train_samples", 1000), 1)
        val = kwargs.pop("num_val_samples", None)
        self.num_val_samples = None if val is None else integer(w, "num_val_samples", val, 1)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)
        self.seed = integer(w, "seed", kwargs.pop("seed", 0), -2**63, 2**64 - 1)
        self.lr_schedule = kwargs.pop("lr_schedule", None)
        self.warmup_iters = integer(w, "warmup_iters", kwargs.pop("warmup_iters", 0), 0)
        patience = kwargs.pop("early_stopping_patience", None)
        self.early_stopping_patience = None if patience is None else integer(w, "early_stopping_patience", patience, 1)
        self.progress = kwargs.pop("progress", True)
        chunk = kwargs.pop("steps_per_call", None)
        self.steps_per_call = None if chunk is None else integer(w, "steps_per_call", chunk, 1)
        self.on_epoch = kwargs.pop("on_epoch", None)
        self.on_chunk = kwargs.pop("on_chunk", None)
        self.sampling = kwargs.pop("sampling", "replacement")
        if self.sampling not in _native.SAMPLING:
            raise ValueError("Trainer: sampling = %r; expected one of %s" % (self.sampling, ", ".join(_native.SAMPLING)))
        self.reg_per_weight = bool(kwargs.pop("reg_per_weight", False))
        self.checks = kwargs.pop("checks", "course")
        if self.checks not in ("course", "epoch", None):
            raise ValueError("Trainer: checks = %r; expected 'course', 'epoch' or None" % (self.checks,))
        self.power_t = kwargs.pop("power_t", 0.5)
        if isinstance(self.power_t, (bool, np.bool_)) or not isinstance(self.power_t, (int, float, np.number)) \
                or not np.isfinite(self.power_t) or self.power_t < 0:
            raise ValueError("Trainer: power_t must be a finite number >= 0, got %r" % (self.power_t,))
        if "checkpoint_name" in kwargs:
            raise ValueError("Trainer: checkpoint_name is not supported; save from on_epoch (swiftnn.checkpoint, "
                             "as `python -m swiftnn train --out` does), or use swiftnn.solver.Solver, which writes "
                             "the course's checkpoint files")
        if kwargs:
            raise ValueError("Unrecognized arguments %s" % ", ".join('"%s"' % k for k in kwargs))
        if not isinstance(self.update_rule, str) or self.update_rule not in RULES:
            hint = ("; the native Trainer runs the built-in rules only (a custom rule runs in "
                    "swiftnn.solver.Solver)" if callable(self.update_rule) else "")
            raise ValueError('Invalid update_rule "%s"; expected one of %s%s'
                             % (self.update_rule, ", ".join(RULES), hint))
        unknown = [k for k in self.optim_config if k not in _HYPERPARAMETERS + _COURSE_STATE]
        if unknown:
            raise ValueError("Trainer: optim_config has unknown key(s) %s; the hyperparameters are %s"
                             % (", ".join(map(repr, unknown)), ", ".join(_HYPERPARAMETERS)))
        for k in _HYPERPARAMETERS[:1] + _HYPERPARAMETERS[3:]:
            value = self.optim_config.get(k, 0.0)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError("Trainer: optim_config[%r] must be a number, got %r" % (k, value))
        if self.lr_schedule not in (None, "step", "cosine", "invscaling"):
            raise ValueError('Invalid lr_schedule "%s"; expected None, "step", "cosine" or "invscaling"'
                             % (self.lr_schedule,))
        if isinstance(self.lr_decay, (bool, np.bool_)) or not isinstance(self.lr_decay, (int, float, np.number)) \
                or not np.isfinite(self.lr_decay) or self.lr_decay <= 0:
            raise ValueError("Trainer: lr_decay must be a finite number > 0, got %r" % (self.lr_decay,))
        self.lr_decay = float(self.lr_decay)
        if self.lr_schedule in ("cosine", "invscaling") and self.lr_decay != 1.0:
            raise ValueError("lr_schedule=%r sets the learning rate itself; lr_decay must be 1.0 with it (got %r)"
                             % (self.lr_schedule, self.lr_decay))
        self._busy = threading.Lock()
        self._final_state = None

        self.dtype = model._compute_dtype()
        self._kernels = _native.KERNELS[self.dtype]
        self._bind_data(data)
        self._bind_model()
        self._reset()

    # ------------------------------------------------------------------------------------
    _DATA = ("X_train", "y_train", "X_val", "y_val")

    def _bind_data(self, data):
        if not hasattr(data, "keys"):
            raise TypeError("Trainer: data must be a dict with X_train, y_train, X_val, y_val; got %s"
                            % type(data).__name__)
        missing = [k for k in self._DATA if k not in data]
        if missing:
            raise ValueError("Trainer: data has no %s; expected a dict with X_train, y_train, X_val, y_val"
                             % ", ".join(missing))
        self.X_train, self.y_train, self.X_val, self.y_val = (data[k] for k in self._DATA)
        self.w_train, self.w_val = data.get("w_train"), data.get("w_val")
        self._check_data()
        if self.num_val_samples is not None and self.num_val_samples < len(self.X_val):
            keep = np.random.RandomState(self.seed & 0xFFFFFFFF).choice(len(self.X_val), self.num_val_samples,
                                                                          replace=False)
            self.X_val, self.y_val = self.X_val[keep], self.y_val[keep]
        self._checked = tuple(getattr(self, k) for k in self._DATA)

    def _check_data(self):
        """Checks and converts the data attributes in place: the library reads them through raw
        pointers, so a reassigned one must again be C-contiguous, of the model's dtype and of
        matching length, with finite features."""
        d, c = self.model._dims[0], self.model._dims[-1]

        def rows(name, X):
            X = np.asarray(X)
            if X.dtype.kind not in "biuf":
                raise TypeError("Trainer: %s has dtype %s; expected real numbers" % (name, X.dtype))
            if name == "X_val" and self.checks is None and X.size == 0:
                return np.zeros((0, d), self.dtype)
            if X.ndim < 1 or X.shape[0] == 0:
                raise ValueError("Trainer: %s is empty" % name)
            X = np.ascontiguousarray(X, dtype=self.dtype).reshape(X.shape[0], -1)
            if X.shape[1] != d:
                raise ValueError("Trainer: %s has %d features per example but the model takes input_dim = %d"
                                 % (name, X.shape[1], d))
            # In blocks of rows, so that the check needs no copy of a large data set.
            block = max(1, (1 << 22) // d)
            for start in range(0, len(X), block):
                finite = np.isfinite(X[start:start + block]).all(axis=1)
                if not finite.all():
                    row = start + int(np.argmin(finite))
                    raise ValueError("Trainer: %s row %d holds NaN or Inf; every feature must be finite"
                                     % (name, row))
            return X

        self.X_train = rows("X_train", self.X_train)
        self.X_val = rows("X_val", self.X_val)
        if self.model._output_loss() == "softmax":
            self.y_train = labels("Trainer (y_train)", self.y_train, len(self.X_train), c)
            self.y_val = labels("Trainer (y_val)", self.y_val, len(self.X_val), c)
        else:
            self.y_train = _real_rows("Trainer", "y_train (targets)", self.y_train, len(self.X_train), c, self.dtype)
            self.y_val = _real_rows("Trainer", "y_val (targets)", self.y_val, len(self.X_val), c, self.dtype)
        # Weights: finite and >= 0 with a positive sum, which the engine checks at set_data.
        if self.w_train is not None:
            self.w_train = _real_rows("Trainer", "w_train", self.w_train, len(self.X_train), None, self.dtype)
        if self.w_val is not None:
            self.w_val = _real_rows("Trainer", "w_val", self.w_val, len(self.X_val), None, self.dtype)

    def _bind_model(self):
        model, dt = self.model, self.dtype
        names, shapes = model._names, model._shapes
        sizes = [int(np.prod(s)) for s in shapes]
        self._flat = np.empty(sum(sizes), dt)
        self._views, at = {}, 0
        for name, shape, size in zip(names, shapes, sizes):
            self._views[name] = self._flat[at:at + size].reshape(shape)
            at += size
        self._running = None
        self._running_views = {}
        if model._norm == "batchnorm":
            hidden = model._dims[1:-1]
            self._running = np.zeros(2 * sum(hidden), dt)
            at = 0
            for l, h in enumerate(hidden):
                for key in ("running_mean", "running_var"):
                    self._running_views[(l, key)] = self._running[at:at + h]
                    at += h
        self._sync_model()
        # The update rule's two state buffers (e.g. Adam's m, v), ours so they can be saved.
        self._state = np.zeros(2 * self._flat.size, dt)
        handle = ctypes.c_void_p()
        dims = (ctypes.c_int64 * len(model._dims))(*model._dims)
        call(self._kernels.trainer_create(ctypes.byref(handle), dims, len(model._dims), _NORMS[model._norm],
                                          float(model._keep), _ACTIVATIONS[model._activation], float(model._leak),
                                          self._flat.ctypes.data,
                                          None if self._running is None else self._running.ctypes.data,
                                          self._state.ctypes.data),
             "Trainer")
        self._handle = handle
        call(_native.lib.snn_trainer_set_loss(handle, _native.LOSSES[model._output_loss()]), "Trainer")
        call(_native.lib.snn_trainer_set_sampling(handle, _native.SAMPLING[self.sampling], int(self.reg_per_weight)),
             "Trainer")

    def _sync_model(self):
        """Points model.params (and batchnorm's running statistics) at this trainer's buffers,
        first copying in any value that is not already a view of them."""
        model = self.model
        for name, view in self._views.items():
            value = model.params.get(name)
            if value is view:
                continue
            if value is None:
                raise KeyError("Trainer: model.params has no %r" % name)
            value = np.asarray(value)
            if value.shape != view.shape:
                raise ValueError("Trainer: params[%r] has shape %s, expected %s" % (name, value.shape, view.shape))
            if value.dtype.kind not in "biuf":
                raise TypeError("Trainer: params[%r] has dtype %s; expected real numbers" % (name, value.dtype))
            view[...] = value
            model.params[name] = view
        for (l, key), view in self._running_views.items():
            p = model.bn_params[l]
            value = p.get(key)
            if value is view:
                continue
            if value is not None:
                value = np.asarray(value)
                if value.size != view.size:
                    raise ValueError("Trainer: bn_params[%d][%r] has shape %s, expected (%d,)"
                                     % (l, key, value.shape, view.size))
                view[...] = value.ravel()
            p[key] = view

    def __copy__(self):
        raise TypeError("a Trainer owns a native trainer and cannot be copied or pickled; save trainer.state() "
                        "and continue with Trainer(...).train(resume=state)")

    __deepcopy__ = __reduce_ex__ = lambda self, *_: self.__copy__()

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and _native.lib is not None:
            _native.lib.snn_trainer_destroy(handle)
            self._handle = None

    def _reset(self):
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.stopped_early = False
        self.interrupted = False
        self._updates_before = 0
        self._rows_before = 0
        self._best = (self._flat.copy(), None if self._running is None else self._running.copy())

    # ------------------------------------------------------------------------------------
    def _configure(self, total):
        lib = _native.lib
        config = dict(self.optim_config)
        config.setdefault("learning_rate", DEFAULT_LR[self.update_rule])
        self._base_lr = float(config["learning_rate"])
        self._native_optim = config
        native = _native_config("Trainer", config, 1)
        call(lib.snn_trainer_set_optimizer(self._handle, rule_code(self.update_rule, self.optim_config),
                                           ctypes.byref(native),
                                           float(self.model.reg)), "Trainer")
        # The step decay and the patience count are kept here, not in the library: its
        # set_progress restarts the count of checks without improvement at 0, so a resumed run
        # would stop later than the whole one. Here both follow from the epoch and the
        # validation history, the same for a whole and a resumed run.
        kind = 1 if self.lr_schedule == "cosine" else 0
        call(lib.snn_trainer_set_schedule(self._handle, kind, 1.0, self.warmup_iters, total, 0), "Trainer")
        softmax = self.model._output_loss() == "softmax"

        def address(a):
            return None if a is None or a.size == 0 else a.ctypes.data

        y_train, y_val = (address(self.y_train), address(self.y_val))
        call(self._kernels.trainer_set_data_weighted(
            self._handle, self.X_train.ctypes.data, y_train if softmax else None, None if softmax else y_train,
            address(self.w_train), len(self.X_train), address(self.X_val), y_val if softmax else None,
            None if softmax else y_val, address(self.w_val), len(self.X_val), self.X_train.shape[1],
            self.batch_size, self.num_train_samples, self.seed & 0xFFFFFFFFFFFFFFFF), "Trainer")
        call(lib.snn_trainer_set_updates_before(self._handle, self._updates_before), "Trainer")

    def _steps_per_epoch(self):
        n, batch = len(self.X_train), self.batch_size
        return max(n // batch, 1) if self.sampling == "replacement" else -(-n // batch)

    def _rows_seen(self):
        """Training rows the steps so far took, earlier data (continue_from) included."""
        per_epoch = self._steps_per_epoch()
        rows = self.epoch * (len(self.X_train) if self.sampling != "replacement" else per_epoch * self.batch_size)
        return self._rows_before + rows

    def set_learning_rate(self, learning_rate):
        """Sets the base learning rate of the steps that follow (an on_epoch callback's
        adaptive schedule), keeping the optimizer state."""
        if isinstance(learning_rate, (bool, np.bool_)) or not isinstance(learning_rate, (int, float, np.number)) \
                or not np.isfinite(learning_rate) or learning_rate < 0:
            raise ValueError("Trainer.set_learning_rate: expected a finite rate >= 0, got %r" % (learning_rate,))
        self._base_lr = float(learning_rate)
        self._set_rate(self._base_lr)

    def _set_rate(self, rate):
        config = dict(self._native_optim, learning_rate=rate)
        native = _native_config("Trainer", config, 1)
        saved = self._state.copy()  # set_optimizer zeroes the optimizer state
        call(_native.lib.snn_trainer_set_optimizer(self._handle, rule_code(self.update_rule, self.optim_config),
                                                   ctypes.byref(native),
                                                   float(self.model.reg)), "Trainer")
        self._state[...] = saved

    def _apply_decay(self):
        """Sets the base rate of epoch self.epoch: lr * lr_decay ** epoch, multiplied up one
        epoch at a time as the library does (step schedule), or lr / (rows seen + 1) ** power_t
        (invscaling; the first epoch of a fresh run at lr itself, as scikit-learn's SGD)."""
        if self.lr_schedule == "invscaling":
            if self._rows_seen():
                self._set_rate(self._base_lr / (self._rows_seen() + 1) ** self.power_t)
            return
        if self.lr_schedule == "cosine" or self.lr_decay == 1.0 or self.epoch == 0:
            return
        factor = 1.0
        for _ in range(self.epoch):
            factor *= self.lr_decay
        self._set_rate(self._base_lr * factor)

    def _checks_without_improvement(self):
        best, since = -1.0, 0
        for value in self.val_acc_history:
            if value > best:
                best, since = value, 0
            else:
                since += 1
        return since

    def _check(self):
        train_acc, val_acc = ctypes.c_double(), ctypes.c_double()
        stop, improved = ctypes.c_int32(), ctypes.c_int32()
        call(_native.lib.snn_trainer_evaluate(self._handle, ctypes.byref(train_acc), ctypes.byref(val_acc),
                                              ctypes.byref(improved), ctypes.byref(stop)), "Trainer")
        if improved.value:  # mirrors the library's snapshot, so that state() can carry it
            self._best = (self._flat.copy(), None if self._running is None else self._running.copy())
        self.train_acc_history.append(train_acc.value)
        self.val_acc_history.append(val_acc.value)
        self.best_val_acc = max(self.best_val_acc, val_acc.value)
        patience = self.early_stopping_patience
        return bool(patience) and self._checks_without_improvement() >= patience

    def _open_bar(self, total):
        if not self.progress:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        return tqdm(total=total, unit="step", desc="train", dynamic_ncols=True, leave=True)

    def state(self):
        """A dict of plain values and arrays from which ``train(resume=...)`` continues: update_rule,
        iteration (the next step), epoch (epochs done), learning_rate (of the next step), params
        and running (the current flat parameter and running-statistics buffers), optim_state,
        best_val_acc, best_flat and best_running (the best snapshot), and the histories.
        After train(): the state at its end, before the best parameters were restored."""
        if self._final_state is not None:
            return {k: v.copy() if isinstance(v, (np.ndarray, list)) else v for k, v in self._final_state.items()}
        it, ep, lr = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_double()
        call(_native.lib.snn_trainer_state(self._handle, ctypes.byref(it), ctypes.byref(ep), ctypes.byref(lr)),
             "Trainer.state")
        return {"update_rule": self.update_rule, "iteration": it.value, "epoch": ep.value,
                "learning_rate": lr.value, "params": self._flat.copy(),
                "running": None if self._running is None else self._running.copy(),
                "optim_state": self._state.copy(), "best_val_acc": self.best_val_acc,
                "best_flat": self._best[0].copy(),
                "best_running": None if self._best[1] is None else self._best[1].copy(),
                "loss_history": list(self.loss_history), "train_acc_history": list(self.train_acc_history),
                "val_acc_history": list(self.val_acc_history),
                "updates": self._updates_before + it.value, "rows_seen": self._rows_seen()}

    def train(self, resume=None, continue_from=None):
        """Runs num_epochs epochs in all (or until early stopping or Ctrl-C); returns self.

        resume: a ``state()`` from an earlier run of this model and data to continue from.
        continue_from: a ``state()`` of an earlier run, possibly on other data: this run starts
        at epoch 0 of the bound data with that run's optimizer state, Adam's step count and rows
        seen (invscaling) carried on, as scikit-learn's partial_fit and warm starts continue.
        """
        if resume is not None and continue_from is not None:
            raise ValueError("Trainer.train: give resume or continue_from, not both")
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("Trainer.train: this trainer is already training in another thread; "
                               "make one Trainer per thread")
        try:
            if continue_from is not None:
                missing = [k for k in ("optim_state", "updates", "rows_seen") if k not in continue_from]
                if missing:
                    raise ValueError("Trainer.train: continue_from has no %s; pass a trainer.state()"
                                     % ", ".join(missing))
                self._updates_before = integer("Trainer.train", "continue_from['updates']",
                                               continue_from["updates"], 0)
                self._rows_before = integer("Trainer.train", "continue_from['rows_seen']",
                                            continue_from["rows_seen"], 0)
            return self._train(resume, continue_from)
        finally:
            self._busy.release()

    def _train(self, resume, continue_from=None):
        if any(getattr(self, k) is not v for k, v in zip(self._DATA, self._checked)):
            self._check_data()
            self._checked = tuple(getattr(self, k) for k in self._DATA)
        self._sync_model()
        self._final_state = None
        per_epoch = self._steps_per_epoch()
        total = integer("Trainer", "num_epochs x steps per epoch", self.num_epochs * per_epoch, 1, 2**62)
        self._configure(total)
        iteration = 0
        if continue_from is not None:
            state = np.asarray(continue_from["optim_state"])
            if state.shape != self._state.shape:
                raise ValueError("Trainer.train: continue_from's optimizer state has shape %s, expected %s"
                                 % (state.shape, self._state.shape))
            self._state[...] = state
            self._apply_decay()
        if resume is not None:
            iteration = self._resume(resume)
        else:
            # The best snapshot starts as the parameters this run starts from (after an earlier
            # train(), the best of that run, with its accuracy), so that a run that fails before
            # its first check, or never beats that accuracy, ends with them.
            call(_native.lib.snn_trainer_set_progress(self._handle, 0, 0, float(self.best_val_acc)),
                 "Trainer.train")
        # A call never crosses an epoch's end, so a longer chunk would only waste memory.
        chunk = min(self.steps_per_call or 25, per_epoch)
        losses = np.empty(chunk)
        done, ended = ctypes.c_int64(), ctypes.c_int32()
        bar = self._open_bar(total)
        if bar is not None and iteration:
            bar.update(iteration)
        say = (bar.write if bar is not None else print) if self.verbose else (lambda *_: None)
        def show(refresh):
            bar.set_postfix(epoch="%d/%d" % (self.epoch, self.num_epochs), loss="%.4f" % self.loss_history[-1],
                            val_acc="%.3f" % self.val_acc_history[-1] if self.val_acc_history else "-",
                            refresh=refresh)

        start = time.perf_counter()
        ctrl_c = _DeferredInterrupt()
        try:
            with ctrl_c:
                while iteration < total:
                    # As the course Solver: the first check comes after the first step.
                    steps = 1 if iteration == 0 else min(chunk, total - iteration)
                    status = _native.lib.snn_trainer_run(self._handle, steps, losses.ctypes.data,
                                                         ctypes.byref(done), ctypes.byref(ended))
                    chunk_losses = losses[:done.value].tolist()
                    self.loss_history.extend(chunk_losses)
                    iteration += done.value
                    if self.on_chunk is not None and chunk_losses:
                        self.on_chunk(self, iteration - len(chunk_losses) + 1, chunk_losses)
                    if status:
                        if status == -5:
                            message = _native.lib.snn_last_error().decode(errors="replace")
                            raise DivergenceError(iteration + 1, cause=message)
                        _native.raise_status(status, "Trainer.train")
                    if bar is not None:
                        bar.update(done.value)
                        show(refresh=False)
                    first = iteration == 1 and self.checks == "course"
                    if ended.value or first:
                        self.epoch += ended.value
                        if ended.value:
                            self._apply_decay()
                        stop = False
                        if self.checks is not None:
                            stop = self._check()
                            if bar is not None:
                                show(refresh=True)   # the epoch and accuracy just checked
                            say("(Epoch %d / %d) train acc: %f; val_acc: %f"
                                % (self.epoch, self.num_epochs, self.train_acc_history[-1],
                                   self.val_acc_history[-1]))
                        if self.on_epoch is not None and ended.value and self.on_epoch(self) is True:
                            self.stopped_early = True
                            break
                        if stop:
                            self.stopped_early = True
                            say("Stopping early: validation accuracy has not improved for %d epochs"
                                % self.early_stopping_patience)
                            break
                    if ctrl_c.requested:
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            self.interrupted = True
            say("Interrupted at iteration %d: keeping the best parameters so far" % iteration)
        except BaseException:
            # Whatever stopped the run, the best parameters so far are kept, as after Ctrl-C.
            self._finish(start)
            raise
        finally:
            if bar is not None:
                bar.close()
        self._finish(start)
        return self

    def _finish(self, start):
        """Keeps the final state (for state()), restores the best parameters into model.params
        and copies them to best_params."""
        self.train_seconds = time.perf_counter() - start
        try:
            self._final_state = self.state()
        except MemoryError:
            # The copies did not fit: the best parameters matter more than a resumable state.
            self._final_state = None
        if self.checks is not None:
            call(_native.lib.snn_trainer_restore_best(self._handle), "Trainer")
        self.best_params = {k: v.copy() for k, v in self._views.items()}

    def _resume(self, resume):
        """Loads a state() into the buffers and the library; returns the next iteration."""
        if not hasattr(resume, "get"):
            raise TypeError("Trainer.train: resume must be a dict from trainer.state(), got %s" % type(resume).__name__)
        missing = [k for k in ("update_rule", "iteration", "epoch", "optim_state", "best_val_acc", "best_flat",
                               "loss_history", "train_acc_history", "val_acc_history") if k not in resume]
        if missing:
            raise ValueError("Trainer.train: the state to resume from has no %s; pass a trainer.state()"
                             % ", ".join(missing))
        if resume.get("update_rule") != self.update_rule:
            raise ValueError("Trainer.train: the state is from update rule %r, this trainer uses %r"
                             % (resume.get("update_rule"), self.update_rule))

        def fit(name, value, into):
            value = np.asarray(value)
            if value.shape != into.shape:
                raise ValueError("Trainer.train: the state's %s has shape %s, expected %s"
                                 % (name, value.shape, into.shape))
            into[...] = value

        fit("optimizer state", resume["optim_state"], self._state)
        # The current parameters: from the state when it carries them (else the model's own).
        if resume.get("params") is not None:
            fit("params", resume["params"], self._flat)
        if self._running is not None and resume.get("running") is not None:
            fit("running statistics", resume["running"], self._running)
        iteration, self.epoch = int(resume["iteration"]), int(resume["epoch"])
        self.best_val_acc = float(resume["best_val_acc"])
        self.loss_history = list(resume["loss_history"])
        self.train_acc_history = list(resume["train_acc_history"])
        self.val_acc_history = list(resume["val_acc_history"])
        # set_progress snapshots the current parameters as the best: show it the saved best.
        current = (self._flat.copy(), None if self._running is None else self._running.copy())
        fit("best parameters", resume["best_flat"], self._flat)
        if self._running is not None:
            fit("best running statistics", resume["best_running"], self._running)
        call(_native.lib.snn_trainer_set_progress(self._handle, iteration, self.epoch, self.best_val_acc),
             "Trainer.train")
        self._best = (self._flat.copy(), None if self._running is None else self._running.copy())
        self._flat[...] = current[0]
        if self._running is not None:
            self._running[...] = current[1]
        self._apply_decay()
        return iteration

    @property
    def params(self):
        return self.model.params

    def __repr__(self):
        """The model's layer table, update rule, batches, data and progress so far."""
        from ._summary import training_text
        return training_text(self, "native")

    def _repr_html_(self):
        from ._summary import training_html
        return training_html(self, "native")

    def check_accuracy(self, X, y, num_samples=None, batch_size=1000):
        """Accuracy of the model on (X, y), computed in test mode."""
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            mask = np.random.choice(n, num_samples)
            X, y = X[mask], y[mask]
            n = num_samples
        preds = [np.argmax(self.model.loss(X[i:i + batch_size]), axis=1) for i in range(0, n, batch_size)]
        return float(np.mean(np.hstack(preds) == y))
