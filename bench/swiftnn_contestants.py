"""The three ways to train with swiftnn, each one step at a time.

- ``layers``: the course API — the network written with ``swiftnn.layers`` calls (one native
  call per layer and direction) and ``swiftnn.optim.sgd/adam`` per parameter, as a course
  notebook would write it.
- ``loss``: ``FullyConnectedNet.loss`` (the whole network in one native call) and
  ``swiftnn.optim.Optimizer`` (every parameter in one native call).
- ``native``: ``swiftnn.Trainer`` — sampling, step and update all in the library; see
  ``native_trainer``.
"""
import ctypes
import time

import numpy as np

import swiftnn
from swiftnn import layers as L
from swiftnn import optim
from swiftnn.models import FullyConnectedNet


def _model(workload, params):
    model = FullyConnectedNet(list(workload.hidden), input_dim=workload.dims[0], num_classes=workload.dims[-1],
                              normalization=workload.normalization, dropout_keep_ratio=workload.keep,
                              dtype=np.float32)
    for k in model.params:
        model.params[k] = np.ascontiguousarray(params[k], dtype=np.float32)
    for p in model.bn_params:
        p["eps"] = workload.eps
    return model


def make_layers_step(workload, X, y, params, seed=0):
    """The network in per-layer course calls."""
    np.random.seed(seed)  # dropout seeds come from NumPy's global generator, as in the course
    p = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in params.items()}
    nl = len(workload.dims) - 1
    norm, keep = workload.normalization, workload.keep
    bn_params = [{"mode": "train", "eps": workload.eps} for _ in range(nl - 1)]
    dropout_param = {"mode": "train", "p": keep}
    rule = optim.sgd if workload.rule == "sgd" else optim.adam
    configs = {k: {"learning_rate": workload.learning_rate} for k in p}
    rng = np.random.default_rng(seed + 1)
    n, b = X.shape[0], workload.batch

    def loss_and_grads(Xb, yb):
        caches, h = [], Xb
        for l in range(1, nl):
            W, bias = p["W%d" % l], p["b%d" % l]
            if norm is None:
                h, c_ar = L.affine_relu_forward(h, W, bias)
                c_aff = c_norm = c_relu = None
            else:
                c_ar = None
                h, c_aff = L.affine_forward(h, W, bias)
                if norm == "batchnorm":
                    h, c_norm = L.batchnorm_forward(h, p["gamma%d" % l], p["beta%d" % l], bn_params[l - 1])
                else:
                    h, c_norm = L.layernorm_forward(h, p["gamma%d" % l], p["beta%d" % l], bn_params[l - 1])
                h, c_relu = L.relu_forward(h)
            c_drop = None
            if keep < 1:
                h, c_drop = L.dropout_forward(h, dropout_param)
            caches.append((c_ar, c_aff, c_norm, c_relu, c_drop))
        scores, c_last = L.affine_forward(h, p["W%d" % nl], p["b%d" % nl])
        loss, dscores = L.softmax_loss(scores, yb)
        grads = {}
        dh, grads["W%d" % nl], grads["b%d" % nl] = L.affine_backward(dscores, c_last)
        for l in range(nl - 1, 0, -1):
            c_ar, c_aff, c_norm, c_relu, c_drop = caches[l - 1]
            if c_drop is not None:
                dh = L.dropout_backward(dh, c_drop)
            if c_ar is not None:
                dh, grads["W%d" % l], grads["b%d" % l] = L.affine_relu_backward(dh, c_ar)
                continue
            dh = L.relu_backward(dh, c_relu)
            if norm == "batchnorm":
                dh, grads["gamma%d" % l], grads["beta%d" % l] = L.batchnorm_backward(dh, c_norm)
            else:
                dh, grads["gamma%d" % l], grads["beta%d" % l] = L.layernorm_backward(dh, c_norm)
            dh, grads["W%d" % l], grads["b%d" % l] = L.affine_backward(dh, c_aff)
        return loss, grads

    def step():
        idx = rng.integers(0, n, size=b)
        loss, grads = loss_and_grads(X[idx], y[idx])
        for k in p:
            p[k], configs[k] = rule(p[k], grads[k], configs[k])
        return loss

    return step


def make_loss_step(workload, X, y, params, seed=0):
    """FullyConnectedNet.loss plus one Optimizer.step over every parameter."""
    np.random.seed(seed)
    model = _model(workload, params)
    opt = optim.Optimizer(model.params, workload.rule, learning_rate=workload.learning_rate)
    rng = np.random.default_rng(seed + 1)
    n, b = X.shape[0], workload.batch

    phases = []  # (sampling, FullyConnectedNet.loss, Optimizer.step) seconds of every step

    def step():
        t0 = time.perf_counter()
        idx = rng.integers(0, n, size=b)
        Xb, yb = X[idx], y[idx]
        t1 = time.perf_counter()
        loss, grads = model.loss(Xb, yb)
        t2 = time.perf_counter()
        opt.step(grads)
        phases.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
        return loss

    step.phases = phases
    return step


def native_trainer(workload, X, y, params, seed=0, epochs=3, min_iters=200, min_seconds=2.0, warmup=20):
    """Measures swiftnn.Trainer.

    Epochs: ``Trainer.train()`` with num_epochs=1, run ``epochs`` times, each a real epoch of
    49,000 / batch steps through the public API (its two accuracy checks use 10 training and 10
    validation rows, microseconds). Per-iteration times: after that, single steps of the same
    trainer through ``snn_trainer_run(handle, 1, ...)``, each timed alone (one ctypes call,
    ~1-3 µs, included). Returns (step_seconds, epoch_seconds, losses).
    """
    model = _model(workload, params)
    data = {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}
    trainer = swiftnn.Trainer(model, data, update_rule=workload.rule,
                              optim_config={"learning_rate": workload.learning_rate},
                              batch_size=workload.batch, num_epochs=1, num_train_samples=10,
                              num_val_samples=10, progress=False, verbose=False,
                              steps_per_call=workload.steps_per_epoch, seed=seed)
    epoch_seconds, losses = [], []
    for _ in range(max(1, epochs)):
        trainer.train()
        epoch_seconds.append(trainer.train_seconds)
        losses.append(trainer.loss_history[-1])

    handle = getattr(trainer, "_handle", None)
    lib = swiftnn._native.lib
    steps = []
    if handle is None or not hasattr(lib, "snn_trainer_run"):
        # Fallback: per-step time of each epoch (train_seconds / steps).
        steps = [t / workload.steps_per_epoch for t in epoch_seconds]
        return steps, epoch_seconds, losses, "epoch averages (handle unavailable)"
    buf = np.empty(1)
    done, ended = ctypes.c_int64(), ctypes.c_int32()
    run = lib.snn_trainer_run
    ptr = buf.ctypes.data
    bd, be = ctypes.byref(done), ctypes.byref(ended)
    for _ in range(warmup):
        run(handle, 1, ptr, bd, be)
    start = time.perf_counter()
    while len(steps) < min_iters or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        status = run(handle, 1, ptr, bd, be)
        steps.append(time.perf_counter() - t)
        if status:
            raise RuntimeError("snn_trainer_run failed: %s" % lib.snn_last_error().decode())
    losses.append(float(buf[0]))
    return steps, epoch_seconds, losses, "single steps via snn_trainer_run"
