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


# ---------------------------------------------------------------------------------------
# update rules (the course's formulas); each returns (next_w, new_state) without modifying
# its arguments, all in float64

def sgd_step(w, dw, lr):
    return _f64(w) - lr * _f64(dw), {}


def momentum_step(w, dw, lr, mu, v):
    v = mu * _f64(v) - lr * _f64(dw)
    return _f64(w) + v, {"velocity": v}


def nesterov_step(w, dw, lr, mu, v):
    v_prev = _f64(v)
    v = mu * v_prev - lr * _f64(dw)
    return _f64(w) - mu * v_prev + (1.0 + mu) * v, {"velocity": v}


def rmsprop_step(w, dw, lr, decay_rate, eps, cache):
    dw = _f64(dw)
    cache = decay_rate * _f64(cache) + (1.0 - decay_rate) * dw * dw
    return _f64(w) - lr * dw / (np.sqrt(cache) + eps), {"cache": cache}


def adam_step(w, dw, lr, beta1, beta2, eps, m, v, t):
    """t is the step count BEFORE this step; it is incremented before use, as the course does."""
    dw = _f64(dw)
    t = t + 1
    m = beta1 * _f64(m) + (1.0 - beta1) * dw
    v = beta2 * _f64(v) + (1.0 - beta2) * dw * dw
    mt = m / (1.0 - beta1 ** t)
    vt = v / (1.0 - beta2 ** t)
    return _f64(w) - lr * mt / (np.sqrt(vt) + eps), {"m": m, "v": v, "t": t}


def adagrad_step(w, dw, lr, eps, cache):
    dw = _f64(dw)
    cache = _f64(cache) + dw * dw
    return _f64(w) - lr * dw / (np.sqrt(cache) + eps), {"cache": cache}


# ---------------------------------------------------------------------------------------
# a whole fully connected network:
# {affine - [batchnorm|layernorm] - relu|leaky relu - [dropout]} x (L-1) - affine - softmax

def _activation(a, activation, leak):
    if activation == "relu":
        return np.where(a > 0, a, 0.0)
    return np.where(a > 0, a, leak * a)


def _activation_backward(dout, a, activation, leak):
    if activation == "relu":
        return np.where(a > 0, dout, 0.0)
    return np.where(a > 0, dout, leak * dout)


def fc_net(params, X, y=None, num_layers=2, normalization=None, keep=1.0, seed=0, reg=0.0,
           bn_params=None, activation="relu", leak=0.01, mask_dtype=np.float64):
    """The network from the formulas, in float64.

    params: W1, b1, ..., WL, bL (+ gamma_l, beta_l for l < L when normalized).
    bn_params: one dict per hidden layer with optional eps (1e-5), momentum (0.9) and, for
    batchnorm, running_mean / running_var (zeros when absent). Nothing passed in is modified.
    Dropout (train mode, keep < 1): hidden layer l (0-based) uses
    dropout_mask((N, H), keep, splitmix64(seed, L - 1)[l], mask_dtype).

    y None: test mode, returns scores (N, C). Otherwise train mode, returns
    (loss, grads, running) where running is a list of (running_mean, running_var) per hidden
    layer (batchnorm; None entries otherwise) and loss includes 0.5 * reg * sum(W**2).
    """
    L = num_layers
    P = {k: _f64(v) for k, v in params.items()}
    X = _f64(X)
    n = X.shape[0]
    h = X.reshape(n, -1)
    train = y is not None
    if not bn_params:
        bn_params = [{} for _ in range(L - 1)]
    layer_seeds = splitmix64(seed, L - 1) if (train and keep < 1) else None
    caches = []
    running = []
    for l in range(1, L):
        W, b = P["W%d" % l], P["b%d" % l]
        bp = bn_params[l - 1]
        eps = float(bp.get("eps", 1e-5))
        mom = float(bp.get("momentum", 0.9))
        a = h @ W + b
        z = a
        stats = None
        if normalization == "batchnorm":
            gamma, beta = P["gamma%d" % l], P["beta%d" % l]
            rm = bp.get("running_mean")
            rv = bp.get("running_var")
            rm = np.zeros(a.shape[1]) if rm is None else _f64(rm)
            rv = np.zeros(a.shape[1]) if rv is None else _f64(rv)
            if train:
                z, _, _, new_m, new_v = batchnorm_forward_train(a, gamma, beta, eps, mom, rm, rv)
                stats = (new_m, new_v)
            else:
                z = batchnorm_forward_test(a, gamma, beta, eps, rm, rv)
        elif normalization == "layernorm":
            z = layernorm_forward(a, P["gamma%d" % l], P["beta%d" % l], eps)
        running.append(stats)
        r = _activation(z, activation, leak)
        mask = None
        if layer_seeds is not None:
            mask = dropout_mask(r.shape, keep, int(layer_seeds[l - 1]), mask_dtype)
            r = r * _f64(mask)
        caches.append((h, a, z, mask, eps))
        h = r
    scores = h @ P["W%d" % L] + P["b%d" % L]
    if not train:
        return scores
    loss, dscores = softmax_loss(scores, y)
    loss += 0.5 * reg * sum(float(np.sum(P["W%d" % l] ** 2)) for l in range(1, L + 1))
    grads = {}
    dh, grads["W%d" % L], grads["b%d" % L] = affine_backward(dscores, h, P["W%d" % L])
    for l in range(L - 1, 0, -1):
        h_in, a, z, mask, eps = caches[l - 1]
        if mask is not None:
            dh = dh * _f64(mask)
        dz = _activation_backward(dh, z, activation, leak)
        da = dz
        if normalization == "batchnorm":
            da, grads["gamma%d" % l], grads["beta%d" % l] = batchnorm_backward(dz, a, P["gamma%d" % l], eps)
        elif normalization == "layernorm":
            da, grads["gamma%d" % l], grads["beta%d" % l] = layernorm_backward(dz, a, P["gamma%d" % l], eps)
        dh, grads["W%d" % l], grads["b%d" % l] = affine_backward(da, h_in, P["W%d" % l])
    for l in range(1, L + 1):
        grads["W%d" % l] = grads["W%d" % l] + reg * P["W%d" % l]
    return loss, grads, running
