"""The benchmark's own plain-NumPy network, written the way the CS231n assignments write it
(layer functions with caches, a fully connected net, the course's update rules), in float32.
It does not import swiftnn: it is the reference every other contestant is compared with.

Two choices keep it a fair baseline rather than a strawman: the first layer's input gradient
is not computed (nobody needs it; the other contestants skip it too), and the dropout mask is
drawn and kept in float32 (the course's `(np.random.rand(*x.shape) < p) / p` is float64 and
would silently turn the rest of the network into float64).
"""
import numpy as np


def affine_forward(x, w, b):
    out = x @ w + b
    return out, (x, w)


def affine_backward(dout, cache, need_dx=True):
    x, w = cache
    dx = dout @ w.T if need_dx else None
    dw = x.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    return dout * (cache > 0)


def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    out = gamma * xhat + beta
    bn_param["running_mean"] = momentum * bn_param.get("running_mean", np.zeros_like(mu)) + (1 - momentum) * mu
    bn_param["running_var"] = momentum * bn_param.get("running_var", np.zeros_like(var)) + (1 - momentum) * var
    return out, (xhat, gamma, inv_std)


def batchnorm_backward_alt(dout, cache):
    xhat, gamma, inv_std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = (inv_std / n) * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    out = gamma * xhat + beta
    return out, (xhat, gamma, inv_std)


def layernorm_backward(dout, cache):
    xhat, gamma, inv_std = cache
    d = dout.shape[1]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = (inv_std / d) * (d * dxhat - dxhat.sum(axis=1, keepdims=True)
                          - xhat * (dxhat * xhat).sum(axis=1, keepdims=True))
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param, rng):
    p = dropout_param["p"]
    mask = (rng.random(x.shape, dtype=np.float32) < p) / np.float32(p)
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout * mask


def softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    z = np.exp(shifted).sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(z)
    probs = np.exp(log_probs)
    n = x.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dx = probs
    dx[np.arange(n), y] -= 1
    dx /= n
    return float(loss), dx


class FullyConnectedNet:
    """{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax, as the
    course's fc_net.FullyConnectedNet (reg = 0)."""

    def __init__(self, params, normalization=None, keep=1.0, seed=0):
        self.params = params
        self.normalization = normalization
        self.keep = keep
        self.num_layers = sum(1 for k in params if k.startswith("W"))
        self.bn_params = [{} for _ in range(self.num_layers - 1)]
        self.dropout_param = {"p": keep}
        self.rng = np.random.default_rng(seed)

    def loss(self, X, y):
        p, caches, h = self.params, [], X
        for l in range(1, self.num_layers):
            h, c_aff = affine_forward(h, p["W%d" % l], p["b%d" % l])
            c_norm = None
            if self.normalization == "batchnorm":
                h, c_norm = batchnorm_forward(h, p["gamma%d" % l], p["beta%d" % l], self.bn_params[l - 1])
            elif self.normalization == "layernorm":
                h, c_norm = layernorm_forward(h, p["gamma%d" % l], p["beta%d" % l], self.bn_params[l - 1])
            h, c_relu = relu_forward(h)
            c_drop = None
            if self.keep < 1:
                h, c_drop = dropout_forward(h, self.dropout_param, self.rng)
            caches.append((c_aff, c_norm, c_relu, c_drop))
        L = self.num_layers
        scores, c_last = affine_forward(h, p["W%d" % L], p["b%d" % L])
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads["W%d" % L], grads["b%d" % L] = affine_backward(dscores, c_last)
        for l in range(L - 1, 0, -1):
            c_aff, c_norm, c_relu, c_drop = caches[l - 1]
            if c_drop is not None:
                dh = dropout_backward(dh, c_drop)
            dh = relu_backward(dh, c_relu)
            if self.normalization == "batchnorm":
                dh, grads["gamma%d" % l], grads["beta%d" % l] = batchnorm_backward_alt(dh, c_norm)
            elif self.normalization == "layernorm":
                dh, grads["gamma%d" % l], grads["beta%d" % l] = layernorm_backward(dh, c_norm)
            dh, grads["W%d" % l], grads["b%d" % l] = affine_backward(dh, c_aff, need_dx=l > 1)
        return loss, grads


def sgd(w, dw, config):
    w -= config["learning_rate"] * dw
    return w, config


def adam(w, dw, config):
    lr, beta1, beta2, eps = config["learning_rate"], 0.9, 0.999, 1e-8
    m = config.get("m")
    v = config.get("v")
    if m is None:
        m, v = np.zeros_like(w), np.zeros_like(w)
    t = config.get("t", 0) + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * (dw * dw)
    mt = m / (1 - beta1 ** t)
    vt = v / (1 - beta2 ** t)
    next_w = w - lr * mt / (np.sqrt(vt) + eps)
    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config


def make_step(workload, X, y, params, seed=0):
    """One training step of `workload`: sample a minibatch, loss and gradients, update."""
    model = FullyConnectedNet(params, workload.normalization, workload.keep, seed=seed)
    rule = sgd if workload.rule == "sgd" else adam
    configs = {k: {"learning_rate": workload.learning_rate} for k in params}
    rng = np.random.default_rng(seed + 1)
    n, b = X.shape[0], workload.batch

    def step():
        idx = rng.integers(0, n, size=b)
        loss, grads = model.loss(X[idx], y[idx])
        for k in model.params:
            model.params[k], configs[k] = rule(model.params[k], grads[k], configs[k])
        return loss

    return step
