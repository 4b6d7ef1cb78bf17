"""JAX peer: the network as a function, jax.grad, and the whole step (minibatch sampling,
forward, backward, update, running statistics) in one jax.jit-compiled function with the
parameters and optimizer state donated. Each step blocks until its result is ready.

Importable only when jax is installed (``make bench-peers``).
"""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

VERSION = jax.__version__


def make_step(workload, X, y, params, seed=0):
    dims = workload.dims
    nl = len(dims) - 1
    norm, keep, eps, b = workload.normalization, workload.keep, workload.eps, workload.batch
    n = X.shape[0]
    lr = workload.learning_rate
    beta1, beta2, adam_eps = 0.9, 0.999, 1e-8

    def net_loss(p, stats, xb, yb, key):
        h, new_stats = xb, []
        for l in range(1, nl):
            h = h @ p["W%d" % l] + p["b%d" % l]
            if norm == "batchnorm":
                mu, var = h.mean(0), h.var(0)
                h = (h - mu) * jax.lax.rsqrt(var + eps) * p["gamma%d" % l] + p["beta%d" % l]
                rm, rv = stats[l - 1]
                new_stats.append((0.9 * rm + 0.1 * mu, 0.9 * rv + 0.1 * var))
            elif norm == "layernorm":
                mu, var = h.mean(1, keepdims=True), h.var(1, keepdims=True)
                h = (h - mu) * jax.lax.rsqrt(var + eps) * p["gamma%d" % l] + p["beta%d" % l]
            h = jax.nn.relu(h)
            if keep < 1:
                key, sub = jax.random.split(key)
                h = jnp.where(jax.random.bernoulli(sub, keep, h.shape), h / keep, 0.0)
        scores = h @ p["W%d" % nl] + p["b%d" % nl]
        logp = jax.nn.log_softmax(scores)
        loss = -jnp.take_along_axis(logp, yb[:, None], axis=1).mean()
        return loss, [jax.lax.stop_gradient(s) for s in new_stats]

    grad_fn = jax.value_and_grad(net_loss, has_aux=True)

    @partial(jax.jit, donate_argnums=(0, 1, 2))
    def train_step(p, opt, stats, key, t, Xd, yd):
        key, k_idx, k_drop = jax.random.split(key, 3)
        idx = jax.random.randint(k_idx, (b,), 0, n)
        (loss, new_stats), grads = grad_fn(p, stats, Xd[idx], yd[idx], k_drop)
        if workload.rule == "sgd":
            p = jax.tree_util.tree_map(lambda w, g: w - lr * g, p, grads)
        else:
            m, v = opt
            m = jax.tree_util.tree_map(lambda m, g: beta1 * m + (1 - beta1) * g, m, grads)
            v = jax.tree_util.tree_map(lambda v, g: beta2 * v + (1 - beta2) * g * g, v, grads)
            c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t
            p = jax.tree_util.tree_map(lambda w, m, v: w - lr * (m / c1) / (jnp.sqrt(v / c2) + adam_eps), p, m, v)
            opt = (m, v)
        return p, opt, new_stats, key, loss

    state = {
        "p": {k: jnp.asarray(v) for k, v in params.items()},
        "key": jax.random.PRNGKey(seed),
        "t": 0,
    }
    zeros = lambda: {k: jnp.zeros_like(v) for k, v in state["p"].items()}
    state["opt"] = (zeros(), zeros()) if workload.rule == "adam" else ()
    state["stats"] = ([(jnp.zeros(h, jnp.float32), jnp.zeros(h, jnp.float32)) for h in workload.hidden]
                      if norm == "batchnorm" else [])
    Xd, yd = jax.device_put(X), jax.device_put(y.astype(np.int32))

    def step():
        state["t"] += 1
        t = jnp.float32(state["t"])
        state["p"], state["opt"], state["stats"], state["key"], loss = train_step(
            state["p"], state["opt"], state["stats"], state["key"], t, Xd, yd)
        return float(loss)  # blocks until the step is done

    return step


def threads():
    return {"jax.devices": str(jax.devices()), "XLA_FLAGS": __import__("os").environ.get("XLA_FLAGS", "")}
