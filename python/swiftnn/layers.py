"""The layers of CS231n's ``layers.py`` and ``layer_utils.py``, computed by libswiftnn.

Every function has the course's signature and returns the course's outputs; inputs may
be any real dtype and any memory layout (float32 and float64 C-contiguous arrays pass
without a copy). The arrays of a call are promoted together with NumPy's ``result_type``:
float32 computes in float32 and float64 (or float32 mixed with float64) in float64;
integers and booleans compute in float64 and float16 in float32. Outputs have the computing
dtype, except ``dropout_forward``'s ``out``, which has x's dtype as in the course.
"""
import ctypes

import numpy as np

from . import _native
from ._arrays import call, floats, kernels_of, labels, require_ndim, require_nonempty, require_shape, same_floats
from ._native import address

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "affine_relu_forward", "affine_relu_backward", "softmax_loss", "svm_loss",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "layernorm_forward", "layernorm_backward", "dropout_forward", "dropout_backward",
]

# The course's loop is thousands of calls on arrays of a few dozen numbers (gradient checks),
# where the Python around a call costs more than the call: the functions below take each
# array's fast path (kernels_of) first, pass plain integer addresses, and keep every check.
_empty = np.empty
_ND = np.ndarray


def _affine_operands(where, x, w, b, *more, names=("x", "w", "b")):
    """x, w, b (and further arrays, such as dout, named after names[3:]) in one dtype,
    checked. Returns (kernels, x, w, b, n, d, m, more): x as given (contiguous, so its
    address is that of its (N, D) reshape)."""
    k, (x, w, b, *more) = same_floats(where, names, (x, w, b) + more)
    xs = x.shape
    if len(xs) < 2:
        raise ValueError("%s: x must have shape (N, d_1, ..., d_k), got %s" % (where, xs))
    n = xs[0]
    size = x.size
    if not size:
        require_nonempty(where, "x", x)
    d = size // n
    ws = w.shape
    if len(ws) != 2:
        require_ndim(where, "w", w, 2, "weights (D, M)")
    if ws[0] != d:
        raise ValueError("%s: w has shape %s but x has %d features per example (x.shape = %s); "
                         "expected w of shape (%d, M)" % (where, ws, d, xs, d))
    m = ws[1]
    if not m:
        require_nonempty(where, "w", w)
    if b.shape != (m,):
        require_shape(where, "b", b, (m,), "one bias per column of w")
    for name, a in zip(names[3:], more):
        if a.shape != (n, m):
            require_shape(where, name, a, (n, m), "the shape of the forward output")
    return k, x, w, b, n, d, m, more


def affine_forward(x, w, b):
    """out = x.reshape(N, D) @ w + b.

    Inputs: x (N, d_1, ..., d_k), w (D, M) with D = d_1 * ... * d_k, b (M,).
    Returns (out (N, M), cache = (x, w, b)).
    """
    k, x2, w2, b2, n, d, m, _ = _affine_operands("affine_forward", x, w, b)
    out = _empty((n, m), w2.dtype)
    status = k.affine_forward(address(out), address(x2), address(w2), address(b2), n, d, m)
    if status:
        _native.raise_status(status, "affine_forward")
    return out, (x, w, b)


def affine_backward(dout, cache):
    """Gradients of affine_forward.

    Inputs: dout (N, M), cache = (x, w, b) from affine_forward.
    Returns dx (shape of x), dw (D, M), db (M,).
    """
    x, w, b = cache
    k, x2, w2, _, n, d, m, (dout,) = _affine_operands("affine_backward", x, w, b, dout,
                                                      names=("x", "w", "b", "dout"))
    dt = w2.dtype
    dx = _empty(x2.shape, dt)
    dw = _empty((d, m), dt)
    db = _empty(m, dt)
    status = k.affine_backward(address(dx), address(dw), address(db), address(dout), address(x2), address(w2),
                               n, d, m)
    if status:
        _native.raise_status(status, "affine_backward")
    return dx, dw, db


def relu_forward(x):
    """out = max(x, 0) for x of any shape. Returns (out, cache = x)."""
    k = kernels_of(x)
    xc = x
    if k is None:
        k, _, xc = floats("relu_forward", x=x)
    size = xc.size
    if not size:
        require_nonempty("relu_forward", "x", xc)
    out = _empty(xc.shape, xc.dtype)
    status = k.relu_forward(address(out), address(xc), size)
    if status:
        _native.raise_status(status, "relu_forward")
    return out, x


def relu_backward(dout, cache):
    """dx = dout where x > 0, else 0. Inputs: dout and cache = x, of one shape."""
    k, (dout, x) = same_floats("relu_backward", ("dout", "x"), (dout, cache))
    size = x.size
    if not size:
        require_nonempty("relu_backward", "dout", dout)
    if dout.shape != x.shape:
        require_shape("relu_backward", "dout", dout, x.shape, "the shape of the forward input")
    dx = _empty(x.shape, x.dtype)
    status = k.relu_backward(address(dx), address(dout), address(x), size)
    if status:
        _native.raise_status(status, "relu_backward")
    return dx


def affine_relu_forward(x, w, b):
    """An affine layer followed by a ReLU, in one call.

    Returns (out (N, M), cache = ((x, w, b), a)) where a is the affine output.
    """
    k, x2, w2, b2, n, d, m, _ = _affine_operands("affine_relu_forward", x, w, b)
    dt = w2.dtype
    out = _empty((n, m), dt)
    pre = _empty((n, m), dt)
    status = k.affine_relu_forward(address(out), address(pre), address(x2), address(w2), address(b2), n, d, m)
    if status:
        _native.raise_status(status, "affine_relu_forward")
    return out, ((x, w, b), pre)


def affine_relu_backward(dout, cache):
    """Gradients of affine_relu_forward: dx (shape of x), dw (D, M), db (M,)."""
    (x, w, b), pre = cache
    k, x2, w2, _, n, d, m, (dout, pre) = _affine_operands("affine_relu_backward", x, w, b, dout, pre,
                                                          names=("x", "w", "b", "dout", "pre"))
    dt = w2.dtype
    dx = _empty(x2.shape, dt)
    dw = _empty((d, m), dt)
    db = _empty(m, dt)
    status = k.affine_relu_backward(address(dx), address(dw), address(db), address(dout), address(x2),
                                    address(w2), address(pre), n, d, m)
    if status:
        _native.raise_status(status, "affine_relu_backward")
    return dx, dw, db


def _loss(where, x, y):
    k = kernels_of(x)
    if k is None:
        k, _, x = floats(where, x=x)
    if x.ndim != 2:
        require_ndim(where, "x", x, 2, "scores (N, C)")
    n, c = x.shape
    if not n or not c:
        require_nonempty(where, "x", x)
    y = labels(where, y, n, c)
    dx = _empty((n, c), x.dtype)
    loss = ctypes.c_double()
    return k, loss, dx, (ctypes.addressof(loss), address(dx), address(x), address(y), n, c)


def softmax_loss(x, y):
    """Softmax (cross-entropy) loss, averaged over the N examples.

    Inputs: x (N, C) scores, y (N,) integer labels in [0, C).
    Returns (loss, dx (N, C)).
    """
    k, loss, dx, args = _loss("softmax_loss", x, y)
    status = k.softmax_loss(*args)
    if status:
        _native.raise_status(status, "softmax_loss")
    return loss.value, dx


def svm_loss(x, y):
    """Multiclass SVM (hinge, margin 1) loss, averaged over the N examples.

    Inputs: x (N, C) scores, y (N,) integer labels in [0, C).
    Returns (loss, dx (N, C)).
    """
    k, loss, dx, args = _loss("svm_loss", x, y)
    status = k.svm_loss(*args)
    if status:
        _native.raise_status(status, "svm_loss")
    return loss.value, dx


def _norm_operands(where, x, gamma, beta):
    k, (x, gamma, beta) = same_floats(where, ("x", "gamma", "beta"), (x, gamma, beta))
    dt = x.dtype
    require_ndim(where, "x", x, 2, "data (N, D)")
    require_nonempty(where, "x", x)
    n, d = x.shape
    require_shape(where, "gamma", gamma, (d,), "one scale per feature of x")
    require_shape(where, "beta", beta, (d,), "one shift per feature of x")
    return k, dt, x, gamma, beta, n, d


def _running(where, name, param, d, dt):
    value = param.get(name)
    if value is None:
        return np.zeros(d, dt)
    value = np.array(value, dtype=dt, copy=True, order="C")
    require_shape(where, "bn_param['%s']" % name, value, (d,), "one statistic per feature of x")
    return value


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization.

    Inputs: x (N, D), gamma (D,), beta (D,), bn_param with 'mode' ('train' or 'test',
    required), optional 'eps' (1e-5), 'momentum' (0.9), 'running_mean' and 'running_var'
    (D,) (zeros when absent). Train mode normalizes with the batch statistics and updates
    the running ones as momentum * running + (1 - momentum) * batch (biased variance); test
    mode uses the running ones. The running statistics are written back into bn_param.
    Returns (out (N, D), cache) where cache = (x, gamma, beta, mean, var, inv_std, eps) holds
    the batch mean, variance and 1/sqrt(var + eps) in train mode (None in test mode).
    """
    where = "batchnorm_forward"
    mode = bn_param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError("%s: bn_param['mode'] is %r; expected 'train' or 'test'" % (where, mode))
    k, dt, x, gamma, beta, n, d = _norm_operands(where, x, gamma, beta)
    eps = float(bn_param.get("eps", 1e-5))
    momentum = float(bn_param.get("momentum", 0.9))
    running_mean = _running(where, "running_mean", bn_param, d, dt)
    running_var = _running(where, "running_var", bn_param, d, dt)
    out = np.empty((n, d), dt)
    if mode == "train":
        mean, var, inv_std = np.empty(d, dt), np.empty(d, dt), np.empty(d, dt)
        call(k.batchnorm_forward(address(out), address(mean), address(var), address(inv_std), address(running_mean),
                                 address(running_var), address(x), address(gamma), address(beta), n, d, eps, momentum,
                                 _native.MODE_TRAIN), where)
        cache = (x, gamma, beta, mean, var, inv_std, eps)
    else:
        call(k.batchnorm_forward(address(out), None, None, None, address(running_mean), address(running_var),
                                 address(x), address(gamma), address(beta), n, d, eps, momentum,
                                 _native.MODE_TEST), where)
        cache = (x, gamma, beta, None, None, None, eps)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def _norm_backward(where, kernel_name, per_row, dout, cache):
    """dx, dgamma, dbeta through a normalization, from a cache made by its forward pass.
    per_row: the statistics are one per row of x (layernorm), else one per feature."""
    try:
        x, gamma, _, mean, _, inv_std, _ = cache
    except (TypeError, ValueError):
        raise ValueError("%s: cache is not a cache from the matching forward pass" % where) from None
    if mean is None:
        raise ValueError("%s: the cache comes from a test-mode forward pass; backward needs a "
                         "train-mode cache" % where)
    k, (dout, x, gamma, mean, inv_std) = same_floats(where, ("dout", "x", "gamma", "mean", "inv_std"),
                                                     (dout, x, gamma, mean, inv_std))
    dt = x.dtype
    require_ndim(where, "x", x, 2, "data (N, D) in the cache")
    n, d = x.shape
    require_shape(where, "dout", dout, x.shape, "the shape of the forward output")
    require_shape(where, "gamma", gamma, (d,), "one scale per feature")
    stats = (n,) if per_row else (d,)
    why = "one statistic per %s; is the cache from the matching forward pass?" % ("row" if per_row else "feature")
    require_shape(where, "cache mean", mean, stats, why)
    require_shape(where, "cache inv_std", inv_std, stats, why)
    dx, dgamma, dbeta = np.empty((n, d), dt), np.empty(d, dt), np.empty(d, dt)
    call(getattr(k, kernel_name)(address(dx), address(dgamma), address(dbeta), address(dout), address(x), address(gamma), address(mean),
                                 address(inv_std), n, d), where)
    return dx, dgamma, dbeta


def batchnorm_backward(dout, cache):
    """Gradients of train-mode batchnorm_forward, through the staged computational graph.

    Inputs: dout (N, D), cache from batchnorm_forward. Returns dx (N, D), dgamma (D,), dbeta (D,).
    """
    return _norm_backward("batchnorm_backward", "batchnorm_backward", False, dout, cache)


def batchnorm_backward_alt(dout, cache):
    """batchnorm_backward in the simplified closed form (one pass over dout); same results."""
    return _norm_backward("batchnorm_backward_alt", "batchnorm_backward_alt", False, dout, cache)


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalization: each row of x normalized with its own mean and variance.

    Inputs: x (N, D), gamma (D,), beta (D,), ln_param with optional 'eps' (1e-5); any other
    key (such as 'mode') is ignored. Returns (out (N, D), cache) where
    cache = (x, gamma, beta, mean (N,), None, inv_std (N,), eps).
    """
    where = "layernorm_forward"
    k, dt, x, gamma, beta, n, d = _norm_operands(where, x, gamma, beta)
    eps = float(ln_param.get("eps", 1e-5))
    out, mean, inv_std = np.empty((n, d), dt), np.empty(n, dt), np.empty(n, dt)
    call(k.layernorm_forward(address(out), address(mean), address(inv_std), address(x), address(gamma), address(beta),
                             n, d, eps), where)
    return out, (x, gamma, beta, mean, None, inv_std, eps)


def layernorm_backward(dout, cache):
    """Gradients of layernorm_forward: dx (N, D), dgamma (D,), dbeta (D,)."""
    return _norm_backward("layernorm_backward", "layernorm_backward", True, dout, cache)


def _dropout_seed(dropout_param):
    seed = dropout_param.get("seed")
    if seed is None:
        # Drawn from NumPy's global generator, so np.random.seed makes masks reproducible.
        return int(np.random.randint(0, 2**63 - 1, dtype=np.int64))
    return int(seed) & 0xFFFFFFFFFFFFFFFF


def dropout_forward(x, dropout_param):
    """Inverted dropout.

    Inputs: x of any shape; dropout_param with 'p' (probability of KEEPING a unit, in (0, 1]),
    'mode' ('train' or 'test') and optional 'seed'. With a seed the mask is the same on every
    call; without one it is drawn from a seed taken from NumPy's global generator. Train
    mode keeps each unit with probability p and scales it by 1/p; test mode returns x.
    Returns (out with x's shape and dtype, cache = (dropout_param, mask or None)).
    """
    where = "dropout_forward"
    mode = dropout_param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError("%s: dropout_param['mode'] is %r; expected 'train' or 'test'" % (where, mode))
    if "p" not in dropout_param:
        raise ValueError("%s: dropout_param has no 'p' (the probability of keeping a unit)" % where)
    p = float(dropout_param["p"])
    if not 0.0 < p <= 1.0:
        raise ValueError("%s: dropout_param['p'] = %r; expected a keep probability in (0, 1]"
                         % (where, dropout_param["p"]))
    if mode == "test":
        return x, (dropout_param, None)
    k, (xc,) = same_floats(where, ("x",), (x,))
    require_nonempty(where, "x", xc)
    out, mask = np.empty(xc.shape, xc.dtype), np.empty(xc.shape, xc.dtype)
    call(k.dropout_forward(address(out), address(mask), address(xc), xc.size, p, _dropout_seed(dropout_param)),
         where)
    return out.astype(np.asarray(x).dtype, copy=False), (dropout_param, mask)


def dropout_backward(dout, cache):
    """Gradient of dropout_forward: dout * mask in train mode, dout in test mode."""
    dropout_param, mask = cache
    if dropout_param.get("mode") != "train" or mask is None:
        return dout
    k, (dout, mask) = same_floats("dropout_backward", ("dout", "mask"), (dout, mask))
    require_nonempty("dropout_backward", "dout", dout)
    require_shape("dropout_backward", "dout", dout, mask.shape, "the shape of the forward input")
    dx = np.empty(mask.shape, mask.dtype)
    call(k.dropout_backward(address(dx), address(dout), address(mask), mask.size), "dropout_backward")
    return dx
