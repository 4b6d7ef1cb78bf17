"""Update rules with CS231n's interface, computed by libswiftnn.

Each rule is ``update(w, dw, config=None) -> (next_w, config)``: defaults are filled in with
``config.setdefault`` and the rule's state (velocity, cache, m, v, t) lives in ``config``,
exactly as in the course's ``optim.py``. ``sgd`` updates ``w`` in place, as the course's does.

``Optimizer`` updates every parameter of a model in one native call.
"""
import ctypes

import numpy as np

from . import _native
from ._arrays import _real_dtype, call, floats, kernels_of, require_shape
from ._native import address

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "adagrad", "Optimizer"]

RULES = {"sgd": 0, "sgd_momentum": 1, "nesterov": 2, "rmsprop": 3, "adam": 4, "adagrad": 5}
# Learning rates used when a config gives none (the course's, and 1e-2 for ours).
DEFAULT_LR = {"sgd": 1e-2, "sgd_momentum": 1e-2, "nesterov": 1e-2, "rmsprop": 1e-2, "adam": 1e-3, "adagrad": 1e-2}


def rule_code(rule, config):
    """The engine's number for rule (a name of RULES); sgd_momentum with config nesterov=True is
    Nesterov's momentum."""
    if rule == "sgd_momentum" and config.get("nesterov"):
        return RULES["nesterov"]
    return RULES[rule]
# The state arrays each rule keeps in its config, by the course's names.
_STATE = {0: (), 1: ("velocity",), 2: ("velocity",), 3: ("cache",), 4: ("m", "v"), 5: ("cache",)}


class UpdateConfig(ctypes.Structure):
    """snn_update_config of include/swiftnn.h."""
    _fields_ = [("learning_rate", ctypes.c_double), ("momentum", ctypes.c_double),
                ("decay_rate", ctypes.c_double), ("beta1", ctypes.c_double),
                ("beta2", ctypes.c_double), ("epsilon", ctypes.c_double), ("t", ctypes.c_int64)]


def _native_config(where, config, t=1):
    get = config.get
    try:
        return UpdateConfig(get("learning_rate", 0.0), get("momentum", 0.9), get("decay_rate", 0.99),
                            get("beta1", 0.9), get("beta2", 0.999), get("epsilon", 1e-8), int(t))
    except (TypeError, ValueError) as e:
        raise TypeError("%s: config holds a hyperparameter that is not a number (%s)" % (where, e)) from None


def _state(where, config, name, shape, dt):
    value = config.get(name)
    if type(value) is np.ndarray and value.dtype is dt and value.shape == shape and value.flags.c_contiguous \
            and value.flags.writeable:
        return value   # the rule's own array from the previous step: updated in place
    if value is None:
        value = np.zeros(shape, dt)
    else:
        value = np.asarray(value)
        _real_dtype(where, "config['%s']" % name, value)   # complex would lose its imaginary part
        if value.flags.writeable and value.flags.c_contiguous:
            value = np.asarray(value, dtype=dt)   # the caller's array itself when its dtype fits
        else:
            value = np.array(value, dtype=dt, order="C")
        require_shape(where, "config['%s']" % name, value, shape, "the shape of w")
    config[name] = value
    return value


def _update(where, rule, w, dw, config, in_place=False):
    """One native step of `rule`. Returns (next_w, config); with in_place (the course's sgd)
    the result is also written into w itself when w is a writeable float array, in w's dtype."""
    k = kernels_of(w)
    if k is not None and kernels_of(dw) is k:
        w_c, dw_c = w, dw
    elif in_place and isinstance(w, np.ndarray) and w.dtype in _native.KERNELS and w.flags.writeable:
        k, _, w_c, dw_c = floats(where, w=w, dw=np.asarray(dw, dtype=w.dtype) if np.asarray(dw).dtype.kind in "biuf" else dw)
    else:
        k, _, w_c, dw_c = floats(where, w=w, dw=dw)
    shape = w_c.shape
    if dw_c.shape != shape:
        require_shape(where, "dw", dw_c, shape, "the shape of w")
    in_place = in_place and w_c.flags.writeable
    next_w = w_c if w_c is not w or in_place else w_c.copy()
    dt = w_c.dtype
    names = _STATE[rule]
    s1 = address(_state(where, config, names[0], shape, dt)) if names else None
    s2 = address(_state(where, config, names[1], shape, dt)) if len(names) > 1 else None
    size = w_c.size
    if not size:
        return w if in_place else next_w, config
    native = _native_config(where, config, config.get("t", 1))
    status = k.update(rule, address(next_w), s1, s2, address(dw_c), size, ctypes.byref(native))
    if status:
        _native.raise_status(status, where)
    if in_place and next_w is not w and isinstance(w, np.ndarray) and w.flags.writeable \
            and w.dtype in _native.KERNELS:
        w[...] = next_w
        return w, config
    return next_w, config


def sgd(w, dw, config=None):
    """Vanilla SGD: w -= learning_rate * dw (in place). config: learning_rate (1e-2)."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    return _update("sgd", 0, w, dw, config, in_place=True)


def sgd_momentum(w, dw, config=None):
    """SGD with momentum: v = momentum * v - learning_rate * dw; next_w = w + v.

    config: learning_rate (1e-2), momentum (0.9), velocity (zeros); nesterov=True (ours)
    takes the Nesterov step w += -momentum * v_prev + (1 + momentum) * v instead.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    return _update("sgd_momentum", rule_code("sgd_momentum", config), w, dw, config)


def rmsprop(w, dw, config=None):
    """RMSProp: cache = decay_rate * cache + (1 - decay_rate) * dw**2;
    next_w = w - learning_rate * dw / (sqrt(cache) + epsilon).

    config: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8), cache (zeros).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", None)
    return _update("rmsprop", 3, w, dw, config)


def adam(w, dw, config=None):
    """Adam with bias correction; t is incremented before use.

    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8), m, v (zeros), t (0).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", None)
    config.setdefault("v", None)
    config.setdefault("t", 0)
    config["t"] += 1
    return _update("adam", 4, w, dw, config)


def adagrad(w, dw, config=None):
    """AdaGrad: cache += dw**2; next_w = w - learning_rate * dw / (sqrt(cache) + epsilon).

    config: learning_rate (1e-2), epsilon (1e-8), cache (zeros).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", None)
    return _update("adagrad", 5, w, dw, config)


class Optimizer:
    """Updates every array of ``params`` in place with one native call per step.

    ``Optimizer(params, rule='adam', learning_rate=1e-3, **hyperparameters)``; rule is one of
    sgd, sgd_momentum (nesterov=True: Nesterov's), nesterov, rmsprop, adam, adagrad. ``step(grads)`` takes a dict with
    the keys of ``params``. State arrays live in ``self.state[name]``; ``self.t`` counts steps.
    All params must be C-contiguous arrays of one float dtype (float32 or float64).
    """

    def __init__(self, params, rule="adam", **config):
        if rule not in RULES:
            raise ValueError("Optimizer: unknown rule %r; expected one of %s" % (rule, ", ".join(RULES)))
        self.params = params
        self.rule = rule
        self.config = dict(config)
        self.config.setdefault("learning_rate", DEFAULT_LR[rule])
        self.t = 0
        self.state = {}
        dtypes = {np.asarray(p).dtype for p in params.values()}
        if len(dtypes) != 1 or next(iter(dtypes)) not in _native.KERNELS:
            raise TypeError("Optimizer: params must all be float32 or all float64, got %s" % sorted(map(str, dtypes)))
        self.dtype = next(iter(dtypes))
        self._kernels = _native.KERNELS[self.dtype]

    def step(self, grads):
        names = list(self.params)
        code = rule_code(self.rule, self.config)
        count = len(names)
        ptrs = {key: (ctypes.c_void_p * count)() for key in ("w", "dw", "s1", "s2")}
        sizes = (ctypes.c_int64 * count)()
        keep = []
        for i, name in enumerate(names):
            w = self.params[name]
            if not (isinstance(w, np.ndarray) and w.dtype == self.dtype and w.flags.c_contiguous
                    and w.flags.writeable):
                raise ValueError("Optimizer.step: params[%r] must be a writeable C-contiguous %s array"
                                 % (name, self.dtype))
            if name not in grads:
                raise ValueError("Optimizer.step: grads has no entry for %r" % name)
            g = np.asarray(grads[name])
            _real_dtype("Optimizer.step", "grads[%r]" % name, g)
            g = np.ascontiguousarray(g, dtype=self.dtype)
            require_shape("Optimizer.step", "grads[%r]" % name, g, w.shape, "the shape of the parameter")
            keep.append(g)
            states = self.state.setdefault(name, [np.zeros_like(w) for _ in _STATE[code]])
            ptrs["w"][i], ptrs["dw"][i], sizes[i] = w.ctypes.data, g.ctypes.data, w.size
            if states:
                ptrs["s1"][i] = states[0].ctypes.data
            if len(states) > 1:
                ptrs["s2"][i] = states[1].ctypes.data
        self.t += 1
        native = _native_config("Optimizer.step", self.config, self.t)
        s1 = ptrs["s1"] if _STATE[code] else None
        s2 = ptrs["s2"] if len(_STATE[code]) > 1 else None
        call(self._kernels.update_many(code, count, ptrs["w"], s1, s2, ptrs["dw"], sizes, ctypes.byref(native)),
             "Optimizer.step")
