"""An independent NumPy reference for the per-layer API, written from the formulas.

Nothing here imports swiftnn. Every function computes in float64 (inputs are converted
with ``np.asarray(..., dtype=np.float64)``), so that float32 results of the engine can be
compared against the float64 result on the same float32-rounded inputs.
"""
import numpy as np


def _f64(a):
    return np.asarray(a, dtype=np.float64)


# ---------------------------------------------------------------------------------------
# affine and ReLU

def affine_forward(x, w, b):
    x, w, b = _f64(x), _f64(w), _f64(b)
    return x.reshape(x.shape[0], -1) @ w + b


def affine_backward(dout, x, w):
    """dx (x's shape), dw, db of out = x.reshape(N, D) @ w + b."""
    dout, x, w = _f64(dout), _f64(x), _f64(w)
    x2 = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    x = _f64(x)
    return np.where(x > 0, x, 0.0)


def relu_backward(dout, x):
    return np.where(_f64(x) > 0, _f64(dout), 0.0)


# ---------------------------------------------------------------------------------------
# losses

def softmax_loss(x, y):
    """Mean cross-entropy of softmax(x) against labels y, and its gradient; max-shifted."""
    x = _f64(x)
    y = np.asarray(y, dtype=np.int64)
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_z
    loss = -log_probs[np.arange(n), y].sum() / n
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1.0
    return loss, dx / n


def svm_loss(x, y):
    """Mean multiclass hinge loss sum_{j != y} max(0, x_j - x_y + 1), and its gradient."""
    x = _f64(x)
    y = np.asarray(y, dtype=np.int64)
    n = x.shape[0]
    correct = x[np.arange(n), y][:, None]
    margins = np.maximum(0.0, x - correct + 1.0)
    margins[np.arange(n), y] = 0.0
    loss = margins.sum() / n
    active = (margins > 0).astype(np.float64)
    dx = active.copy()
    dx[np.arange(n), y] = -active.sum(axis=1)
    return loss, dx / n


# ---------------------------------------------------------------------------------------
# normalization

def batchnorm_forward_train(x, gamma, beta, eps, momentum, running_mean, running_var):
    """Returns out, batch mean, biased batch var, new running mean, new running var."""
    x, gamma, beta = _f64(x), _f64(gamma), _f64(beta)
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    out = gamma * xhat + beta
    new_mean = momentum * _f64(running_mean) + (1.0 - momentum) * mu
    new_var = momentum * _f64(running_var) + (1.0 - momentum) * var
    return out, mu, var, new_mean, new_var


def batchnorm_forward_test(x, gamma, beta, eps, running_mean, running_var):
    x, gamma, beta = _f64(x), _f64(gamma), _f64(beta)
    return gamma * (x - _f64(running_mean)) / np.sqrt(_f64(running_var) + eps) + beta


def batchnorm_backward(dout, x, gamma, eps):
    """dx, dgamma, dbeta of train-mode batchnorm, through the staged graph."""
    dout, x, gamma = _f64(dout), _f64(x), _f64(gamma)
    n = x.shape[0]
    mu = x.mean(axis=0)
    xc = x - mu
    var = (xc ** 2).mean(axis=0)
    std = np.sqrt(var + eps)
    xhat = xc / std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dvar = (dxhat * xc).sum(axis=0) * -0.5 * std ** -3
    dmu = (-dxhat / std).sum(axis=0) + dvar * (-2.0 * xc).sum(axis=0) / n
    dx = dxhat / std + dvar * 2.0 * xc / n + dmu / n
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, eps):
    x, gamma, beta = _f64(x), _f64(gamma), _f64(beta)
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def layernorm_backward(dout, x, gamma, eps):
    """dx, dgamma, dbeta of layernorm: batchnorm's closed form applied to the rows."""
    dout, x, gamma = _f64(dout), _f64(x), _f64(gamma)
    d = x.shape[1]
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = inv_std / d * (d * dxhat - dxhat.sum(axis=1, keepdims=True)
                        - xhat * (dxhat * xhat).sum(axis=1, keepdims=True))
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------------------------
# dropout

def dropout_forward(x, mask):
    return _f64(x) * _f64(mask)


def dropout_backward(dout, mask):
    return _f64(dout) * _f64(mask)


_MASK64 = (1 << 64) - 1


def splitmix64(seed, count):
    """The outputs 0..count-1 of SplitMix64 started at ``seed``, as uint64 (all mod 2**64):
    z = seed + (i+1)*0x9E3779B97F4A7C15; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB; z ^= z >> 31."""
    i = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(int(seed) & _MASK64) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def splitmix64_scalar(seed, index):
    """One output with Python integers, to cross-check the vectorized version."""
    z = (seed + (index + 1) * 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def dropout_mask(shape, p, seed, dtype):
    """The documented mask: 1/p where u_i < p, else 0, with u_i the top 24 (float32) or
    53 (float64) bits of the i-th SplitMix64 output scaled into [0, 1)."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    z = splitmix64(seed, count)
    if dtype == np.float32:
        u = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
        keep_p = np.float32(p)
    else:
        u = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
        keep_p = np.float64(p)
    scale = dtype.type(1) / dtype.type(keep_p)
    return np.where(u < keep_p, scale, dtype.type(0)).astype(dtype).reshape(shape)


# ---------------------------------------------------------------------------------------
# gradient checking

def eval_numerical_gradient(f, x, h=1e-5):
    """Centered-difference gradient of a scalar function f at x (float64, modified in place
    and restored)."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Centered-difference gradient of sum(f(x) * df) with respect to x (float64)."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old - h
        neg = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def rel_error(a, b):
    a, b = _f64(a), _f64(b)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
