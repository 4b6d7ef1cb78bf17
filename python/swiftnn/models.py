"""Whole-network models with the CS231n interfaces. ``loss`` runs the entire network —
forward, softmax loss, backward and L2 regularization — in one native call through a
network plan that owns its workspace.

- ``FullyConnectedNet``: assignment 2's ``classifiers.fc_net.FullyConnectedNet``.
- ``TwoLayerNet``: modular assignment 1's ``classifiers.fc_net.TwoLayerNet``.
- ``NeuralNetTwoLayerNet``: 2020 assignment 1's ``classifiers.neural_net.TwoLayerNet``.
"""
import ctypes
import os

import numpy as np

from . import _native
from ._arrays import call, labels
from ._native import address

__all__ = ["FullyConnectedNet", "TwoLayerNet", "NeuralNetTwoLayerNet"]

_F32 = np.dtype(np.float32)
# the one dtype object of each precision (an unpickled dtype is an equal but distinct object)
_CANONICAL = {_F32: _F32, np.dtype(np.float64): np.dtype(np.float64)}
_NORMS = {None: 0, "batchnorm": 1, "layernorm": 2}
_ACTIVATIONS = {"relu": 0, "leaky_relu": 1}


def _positive_dims(where, name, values):
    try:
        dims = [int(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError("%s: %s must be a list of positive integers, got %r" % (where, name, values)) from None
    if any(v < 1 or v != float(w) for v, w in zip(dims, values)):
        raise ValueError("%s: %s must hold positive integers, got %r" % (where, name, list(values)))
    return dims


def initial_weight(d_in, d_out, weight_scale, init):
    """A weight matrix drawn from NumPy's global generator, as the course does.

    init None: weight_scale * randn; 'xavier': randn / sqrt(d_in) (Glorot for ReLU-free
    nets, as in the lecture notes); 'he': randn * sqrt(2 / d_in) (Kaiming, for ReLU).
    """
    if init is None:
        scale = weight_scale
    elif init == "xavier":
        scale = np.sqrt(1.0 / d_in)
    elif init == "he":
        scale = np.sqrt(2.0 / d_in)
    else:
        raise ValueError("unknown init %r; expected None, 'xavier' or 'he'" % (init,))
    return scale * np.random.randn(d_in, d_out)


class _PlannedNet:
    """What the three models share: parameter bookkeeping and the native plan call.

    Subclasses set ``self.params`` and call ``_setup(dims, normalization, keep, activation,
    leak)``.
    """

    _table = None   # the params' pointer table (_param_table); None until the first loss

    def _setup(self, dims, normalization=None, keep=1.0, activation="relu", leak=0.01):
        self._dims = list(dims)
        self._norm = normalization
        self._keep = keep
        self._activation = activation
        self._leak = leak
        self._plan = None
        self._plan_dtype = None
        hidden = len(dims) - 2
        names = []
        for l in range(1, len(dims)):
            names += ["W%d" % l, "b%d" % l]
        if normalization is not None:
            for l in range(1, hidden + 1):
                names += ["gamma%d" % l, "beta%d" % l]
        self._names = names
        shapes = []
        for l in range(1, len(dims)):
            shapes += [(dims[l - 1], dims[l]), (dims[l],)]
        if normalization is not None:
            for l in range(1, hidden + 1):
                shapes += [(dims[l],), (dims[l],)]
        self._shapes = shapes

    # A plan holds native memory: it is rebuilt after unpickling (checkpoints pickle models).
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_plan"] = None
        state["_plan_dtype"] = None
        state["_table"] = None
        return state

    def __del__(self):
        plan = getattr(self, "_plan", None)
        if plan is not None and _native is not None and getattr(_native, "lib", None) is not None:
            _native.lib.snn_net_destroy(plan)

    def _get_plan(self, dt):
        if self._plan is not None and self._plan_dtype == dt:
            return self._plan
        if self._plan is not None:
            _native.lib.snn_net_destroy(self._plan)
            self._plan = None
        handle = ctypes.c_void_p()
        dims = (ctypes.c_int64 * len(self._dims))(*self._dims)
        k = _native.KERNELS[dt]
        call(k.net_create(ctypes.byref(handle), dims, len(self._dims), _NORMS[self._norm], float(self._keep),
                          _ACTIVATIONS[self._activation], float(self._leak)), type(self).__name__)
        self._plan, self._plan_dtype = handle, dt
        return handle

    def _compute_dtype(self):
        return np.dtype(np.float64)

    def save(self, fname):
        """Writes ``params`` to ``cs231n/saved/<fname>`` under the working directory (the
        assignment folder, which the course's ``collect_submission`` packs), as the 2025
        course does: ``np.save`` of the params dict (NumPy adds ``.npy`` when fname lacks it).
        The folder is created when missing. Prints ``"<fname> saved."``."""
        path = saved_path(fname)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, self.params)
        print(fname, "saved.")

    def load(self, fname):
        """Reads ``params`` saved by ``save`` (or by the course's own code) from
        ``cs231n/saved/<fname>``. A missing file prints ``"<fname> not available."`` and
        returns False; otherwise prints ``"<fname> loaded."`` and returns True. A file that is
        not a params dict, or whose names or shapes do not fit this model, raises ValueError
        and leaves the model as it was."""
        path = saved_path(fname)
        if not os.path.exists(path):
            print(fname, "not available.")
            return False
        self.params = _checked_params(path, self._names, self._shapes)
        print(fname, "loaded.")
        return True

    def summary(self):
        """A table of the layers: output shape, parameters and their count, the total."""
        return summary(self)

    def __repr__(self):
        return summary(self)

    def _repr_html_(self):
        from ._summary import model_html
        return model_html(self)

    def _param_table(self, where):
        """(dtype, table of the params' addresses, the arrays it points into).

        The table is kept while every entry of ``self.params`` is the very array it was built
        from, at the same address, with the same shape and dtype — a gradient check changes
        those arrays' values in place, which the table sees, and the Solver replaces them with
        new arrays, which rebuilds it. A param that has to be converted to the compute dtype is
        converted on every call and the table is not kept."""
        cached = self._table
        params = self.params
        if cached is not None and cached[0] is self.__dict__.get("dtype"):
            _, dt, arrays, dtypes, addresses, table = cached
            for name, shape, a, a_dtype, at in zip(self._names, self._shapes, arrays, dtypes, addresses):
                b = params.get(name)
                if b is not a or b.dtype is not a_dtype or b.shape != shape or address(b) != at:
                    break
            else:
                return dt, table, arrays
        dt = _CANONICAL[self._compute_dtype()]
        arrays = []
        for name, shape in zip(self._names, self._shapes):
            if name not in params:
                raise ValueError("%s: params has no %r" % (where, name))
            a = np.ascontiguousarray(params[name], dtype=dt)
            if a.shape != shape:
                raise ValueError("%s: params[%r] has shape %s, expected %s" % (where, name, a.shape, shape))
            arrays.append(a)
        addresses = [address(a) for a in arrays]
        table = (ctypes.c_void_p * len(arrays))(*addresses)
        direct = all(a is params[name] for name, a in zip(self._names, arrays))
        self._table = (self.__dict__.get("dtype"), dt, arrays, [a.dtype for a in arrays], addresses, table) \
            if direct else None
        return dt, table, arrays

    def _run(self, X, y, reg, bn_params=(), seed=None):
        """Scores (N, C) when y is None, else (loss, grads)."""
        where = "%s.loss" % type(self).__name__
        dt, params, _keep = self._param_table(where)
        if not (type(X) is np.ndarray and X.dtype is dt and X.flags.c_contiguous and X.ndim >= 1 and X.shape[0]):
            X = np.asarray(X)
            if X.dtype.kind not in "biuf":
                raise TypeError("%s: X has dtype %s; expected real numbers" % (where, X.dtype))
            if X.ndim < 1 or X.shape[0] == 0:
                raise ValueError("%s: X must have shape (N, d_1, ..., d_k) with N >= 1, got %s"
                                 % (where, X.shape))
            X = np.ascontiguousarray(X, dtype=dt)
        n = X.shape[0]
        d = X.size // n
        if d != self._dims[0]:
            raise ValueError("%s: X has %d features per example (shape %s) but the model takes input_dim = %d"
                             % (where, d, X.shape, self._dims[0]))
        running = eps = momentum = None
        if self._norm is not None:
            running, eps, momentum = self._norm_tables(where, bn_params, dt)
        k = _native.f32 if dt is _F32 else _native.f64
        plan = self._plan if self._plan_dtype is dt else self._get_plan(dt)
        if seed is None:
            seed = int(np.random.randint(0, 2**63 - 1, dtype=np.int64)) if (y is not None and self._keep < 1) else 0
        seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        if y is None:
            scores = np.empty((n, self._dims[-1]), dt)
            status = k.net_loss(plan, None, address(scores), None, running, params, address(X), None, n, d,
                                float(reg), eps, momentum, seed)
            if status:
                _native.raise_status(status, where)
            return scores
        y = labels(where, y, n, self._dims[-1])
        grads = [np.empty(shape, dt) for shape in self._shapes]
        gptrs = (ctypes.c_void_p * len(grads))(*[address(g) for g in grads])
        loss = ctypes.c_double()
        status = k.net_loss(plan, ctypes.byref(loss), None, gptrs, running, params, address(X), address(y), n, d,
                            float(reg), eps, momentum, seed)
        if status:
            _native.raise_status(status, where)
        return loss.value, dict(zip(self._names, grads))

    def _norm_tables(self, where, bn_params, dt):
        """The running statistics' table (batchnorm) and the per-layer eps and momentum."""
        hidden = len(self._dims) - 2
        eps = (ctypes.c_double * hidden)(*[float(p.get("eps", 1e-5)) for p in bn_params])
        momentum = (ctypes.c_double * hidden)(*[float(p.get("momentum", 0.9)) for p in bn_params])
        if self._norm != "batchnorm":
            return None, eps, momentum
        running = (ctypes.c_void_p * (2 * hidden))()
        for l, p in enumerate(bn_params):
            h = self._dims[l + 1]
            for j, key in enumerate(("running_mean", "running_var")):
                stat = p.get(key)
                if stat is None or not (isinstance(stat, np.ndarray) and stat.dtype == dt
                                        and stat.flags.c_contiguous and stat.flags.writeable):
                    stat = np.zeros(h, dt) if stat is None else np.array(stat, dtype=dt, order="C")
                    p[key] = stat
                if stat.shape != (h,):
                    raise ValueError("%s: bn_params[%d]['%s'] has shape %s, expected (%d,)"
                                     % (where, l, key, stat.shape, h))
                running[2 * l + j] = address(stat)
        return running, eps, momentum


class FullyConnectedNet(_PlannedNet):
    """{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax.

    Course signature and attributes (normalization, use_dropout, reg, num_layers, dtype,
    params, dropout_param, bn_params). Beyond the course: ``init`` ('xavier' or 'he' instead
    of weight_scale), ``activation`` ('relu' or 'leaky_relu') and ``leak`` (0.01).
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None,
                 init=None, activation="relu", leak=0.01):
        where = "FullyConnectedNet"
        if normalization not in _NORMS:
            raise ValueError("%s: unknown normalization %r; expected None, 'batchnorm' or 'layernorm'"
                             % (where, normalization))
        if activation not in _ACTIVATIONS:
            raise ValueError("%s: unknown activation %r; expected 'relu' or 'leaky_relu'" % (where, activation))
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError("%s: dropout_keep_ratio = %r; expected a keep probability in (0, 1]"
                             % (where, dropout_keep_ratio))
        if init not in (None, "xavier", "he"):
            raise ValueError("%s: unknown init %r; expected None, 'xavier' or 'he'" % (where, init))
        hidden_dims = _positive_dims(where, "hidden_dims", hidden_dims)
        if not hidden_dims:
            raise ValueError("%s: hidden_dims is empty; give at least one hidden layer size" % where)
        input_dim = _positive_dims(where, "input_dim", [input_dim])[0]
        num_classes = _positive_dims(where, "num_classes", [num_classes])[0]
        if np.dtype(dtype) not in _native.KERNELS:
            raise TypeError("%s: dtype must be float32 or float64, got %s" % (where, np.dtype(dtype)))

        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        dims = [input_dim] + hidden_dims + [num_classes]
        for l in range(1, self.num_layers + 1):
            self.params["W%d" % l] = initial_weight(dims[l - 1], dims[l], weight_scale, init)
            self.params["b%d" % l] = np.zeros(dims[l])
            if normalization is not None and l < self.num_layers:
                self.params["gamma%d" % l] = np.ones(dims[l])
                self.params["beta%d" % l] = np.zeros(dims[l])

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

        self.bn_params = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        if normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)
        self._setup(dims, normalization, dropout_keep_ratio, activation, leak)

    def _compute_dtype(self):
        return np.dtype(self.dtype)

    def loss(self, X, y=None):
        """Scores (N, C) for X (N, d_1, ..., d_k) when y is None (test mode), else
        (loss, grads) with grads keyed like params (train mode). L2 is 0.5 * reg * sum(W**2)."""
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        seed = self.dropout_param.get("seed") if self.use_dropout else None
        return self._run(X, y, self.reg, self.bn_params, seed)


class TwoLayerNet(_PlannedNet):
    """affine - relu - affine - softmax, modular assignment 1's ``fc_net.TwoLayerNet``."""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        dims = _positive_dims("TwoLayerNet", "sizes", [input_dim, hidden_dim, num_classes])
        self.params = {}
        self.reg = reg
        self.params["W1"] = weight_scale * np.random.randn(dims[0], dims[1])
        self.params["b1"] = np.zeros(dims[1])
        self.params["W2"] = weight_scale * np.random.randn(dims[1], dims[2])
        self.params["b2"] = np.zeros(dims[2])
        self._setup(dims)

    def _compute_dtype(self):
        return _params_dtype(self.params)

    def loss(self, X, y=None):
        """Scores (N, C) when y is None, else (loss, grads); L2 is 0.5 * reg * sum(W**2)."""
        return self._run(X, y, self.reg)


class NeuralNetTwoLayerNet(_PlannedNet):
    """2020 assignment 1's ``classifiers.neural_net.TwoLayerNet``: affine - relu - affine -
    softmax with ``train`` (minibatch SGD with learning-rate decay) and ``predict``.
    Regularization here is reg * sum(W**2), without the 0.5 factor, as in that assignment."""

    _summary_name = "TwoLayerNet (neural_net)"

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        dims = _positive_dims("TwoLayerNet", "sizes", [input_size, hidden_size, output_size])
        self.params = {}
        self.params["W1"] = std * np.random.randn(dims[0], dims[1])
        self.params["b1"] = np.zeros(dims[1])
        self.params["W2"] = std * np.random.randn(dims[1], dims[2])
        self.params["b2"] = np.zeros(dims[2])
        self._setup(dims)

    def _compute_dtype(self):
        return _params_dtype(self.params)

    def loss(self, X, y=None, reg=0.0):
        """Scores (N, C) when y is None, else (loss, grads) with loss including reg * sum(W**2)."""
        # The plan adds 0.5 * r * sum(W**2); r = 2 * reg gives this assignment's convention.
        return self._run(X, y, 2.0 * float(reg))

    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95, reg=5e-6,
              num_iters=100, batch_size=200, verbose=False):
        """Minibatch SGD (batches sampled with replacement), as the 2020 assignment does.
        Returns {'loss_history', 'train_acc_history', 'val_acc_history'}."""
        from .optim import sgd
        num_train = X.shape[0]
        iterations_per_epoch = max(num_train / batch_size, 1)
        loss_history, train_acc_history, val_acc_history = [], [], []
        for it in range(num_iters):
            idx = np.random.choice(num_train, batch_size)
            X_batch, y_batch = X[idx], y[idx]
            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(loss)
            for name in self.params:
                self.params[name], _ = sgd(self.params[name], grads[name], {"learning_rate": learning_rate})
            if verbose and it % 100 == 0:
                print("iteration %d / %d: loss %f" % (it, num_iters, loss))
            if it % iterations_per_epoch == 0:
                train_acc_history.append((self.predict(X_batch) == y_batch).mean())
                val_acc_history.append((self.predict(X_val) == y_val).mean())
                learning_rate *= learning_rate_decay
        return {"loss_history": loss_history, "train_acc_history": train_acc_history,
                "val_acc_history": val_acc_history}

    def predict(self, X):
        """Predicted labels (N,) for X (N, D)."""
        return np.argmax(self.loss(X), axis=1)


def saved_path(fname):
    """Where ``save``/``load`` keep ``fname``: ``cs231n/saved/`` of the working directory."""
    return os.path.join(os.getcwd(), "cs231n", "saved", os.fspath(fname))


def _checked_params(path, names, shapes):
    """The params dict stored at path, checked against a model's names and shapes."""
    where = "load(%r)" % path
    try:
        stored = np.load(path, allow_pickle=True)
        params = stored.item() if isinstance(stored, np.ndarray) and stored.dtype == object \
            and stored.shape == () else stored
    except Exception as e:   # a truncated file, a foreign pickle, not an .npy at all
        raise ValueError("%s: not a saved params file (%s: %s)" % (where, type(e).__name__, e)) from None
    if not isinstance(params, dict):
        raise ValueError("%s: holds a %s, not a params dict (np.save(path, model.params) writes one)"
                         % (where, type(params).__name__ if not isinstance(params, np.ndarray)
                            else "%s array of shape %s" % (params.dtype, params.shape)))
    missing = [n for n in names if n not in params]
    extra = [n for n in params if n not in names]
    if missing or extra:
        raise ValueError("%s: its names do not fit this model: %s%s%s" % (
            where, "missing %s" % ", ".join(missing) if missing else "",
            "; " if missing and extra else "", "unexpected %s" % ", ".join(map(str, extra)) if extra else ""))
    for name, shape in zip(names, shapes):
        value = params[name]
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            raise ValueError("%s: params[%r] is %s, expected an array of real numbers"
                             % (where, name, type(value).__name__ if not isinstance(value, np.ndarray)
                                else "a %s array" % value.dtype))
        if value.shape != shape:
            raise ValueError("%s: params[%r] has shape %s, this model's has %s"
                             % (where, name, value.shape, shape))
    return params


def _params_dtype(params):
    dt = np.result_type(*[np.asarray(v).dtype for v in params.values()])
    return np.dtype(np.float32) if dt == np.float32 else np.dtype(np.float64)


def summary(model):
    """A readable table of a model's layers, output shapes, parameters and counts (text).

    Jupyter shows the same table as HTML (the models' ``_repr_html_``)."""
    from ._summary import model_text
    return model_text(model)
