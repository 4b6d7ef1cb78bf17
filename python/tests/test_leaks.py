"""Leaks: resident memory (VmRSS of /proc/self/status) stays flat over very many small layer
calls (accepted and refused), and over thousands of create/destroy cycles of network plans
(FullyConnectedNet.loss, snn_net_create/snn_net_destroy through ctypes) and trainers
(swiftnn.Trainer, snn_trainer_create/destroy), and of threads whose thread-local error message
must be freed when they end.

Each scenario runs in a fresh child interpreter: it warms up (so that allocator pools,
OpenBLAS buffers and NumPy caches reach their steady size), reads VmRSS, repeats the work,
collects garbage and reads VmRSS again. The bound: growth after warm-up < 4 MiB. A leak of
even 8 bytes per layer call would exceed it at the call counts used here; a leaked workspace
of the plans used here (>= 2.5 KiB) would exceed it within the first 2000 cycles.

Layer calls: 1,000,000 unless the time budget (SWIFTNN_LEAK_SECONDS, default 20 s per
scenario) runs out first; the count reached is printed and must be at least 100,000.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BOUND_MIB = 4.0
BUDGET = float(os.environ.get("SWIFTNN_LEAK_SECONDS", "20"))


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


# ---- the child's scenarios ------------------------------------------------------------------

def _layer_calls():
    """Small calls of every kind, about 1 in 8 of them refused (an error message each)."""
    import numpy as np
    from swiftnn import layers, optim
    rng = np.random.default_rng(0)
    calls = []
    for dt in (np.float32, np.float64):
        x = rng.standard_normal((4, 5)).astype(dt)
        w = rng.standard_normal((5, 3)).astype(dt)
        b = np.zeros(3, dt)
        g, be = np.ones(5, dt), np.zeros(5, dt)
        y = np.array([0, 1, 2, 0])
        bad_y = np.array([0, 1, 9, 0])
        dout = rng.standard_normal((4, 3)).astype(dt)
        _, acache = layers.affine_forward(x, w, b)
        _, bcache = layers.batchnorm_forward(x, g, be, {"mode": "train"})
        _, lcache = layers.layernorm_forward(x, g, be, {})
        _, dcache = layers.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 3})
        adam = {"learning_rate": 1e-3}
        calls += [
            lambda: layers.affine_forward(x, w, b),
            lambda: layers.affine_backward(dout, acache),
            lambda: layers.relu_forward(x),
            lambda: layers.softmax_loss(dout, y),
            lambda: layers.svm_loss(dout, y),
            lambda: layers.batchnorm_forward(x, g, be, {"mode": "train"}),
            lambda: layers.batchnorm_backward_alt(x, bcache),
            lambda: layers.layernorm_backward(x, lcache),
            lambda: layers.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 3}),
            lambda: layers.dropout_backward(x, dcache),
            lambda: optim.adam(w, dout[:1].repeat(5, 0)[:, :3], adam),
            lambda: optim.sgd(w, np.zeros_like(w), {"learning_rate": 0.0}),
            lambda: layers.softmax_loss(dout, bad_y),                      # refused: label
            lambda: layers.batchnorm_forward(x, g, be, {"mode": "train", "eps": -1.0}),   # refused: eps
        ]
    return calls


def scenario_layers(budget):
    calls = _layer_calls()
    target = 1_000_000

    def run(count):
        done = 0
        while done < count:
            for fn in calls:
                try:
                    fn()
                except ValueError:
                    pass
            done += len(calls)
        return done

    import time
    run(20_000)
    before = rss_kib()
    start = time.perf_counter()
    done = 0
    while done < target and time.perf_counter() - start < budget:
        done += run(14_000)
    return before, done, time.perf_counter() - start


def scenario_raw_refusals(budget):
    """Refused raw calls only: each sets this thread's error message (freed on replacement)."""
    import ctypes
    import time
    from swiftnn import _native as nat
    f = nat.f32
    handle = ctypes.c_void_p(12345)
    work = [lambda: f.relu_forward(None, None, -1), lambda: f.affine_forward(None, None, None, None, 1, 2**62, 8),
            lambda: nat.lib.snn_net_destroy(handle), lambda: f.softmax_loss(None, None, None, None, 0, 3)]

    def run(count):
        for _ in range(count // len(work)):
            for fn in work:
                assert fn() < 0
        return count

    run(50_000)
    before = rss_kib()
    start = time.perf_counter()
    done = 0
    while done < 1_000_000 and time.perf_counter() - start < budget:
        done += run(20_000)
    return before, done, time.perf_counter() - start


def scenario_models(budget):
    """FullyConnectedNet create - loss (a plan and its workspace) - drop, in both precisions."""
    import gc
    import time
    import numpy as np
    from swiftnn.models import FullyConnectedNet
    X = np.random.default_rng(1).standard_normal((16, 20))
    y = np.arange(16) % 4

    def cycle(i):
        m = FullyConnectedNet([32, 16], input_dim=20, num_classes=4, dtype=(np.float32, np.float64)[i % 2],
                              normalization=(None, "batchnorm", "layernorm")[i % 3], dropout_keep_ratio=0.9, seed=i)
        m.loss(X, y)
        m.loss(X)

    for i in range(200):
        cycle(i)
    gc.collect()
    before = rss_kib()
    start = time.perf_counter()
    for i in range(2000):
        cycle(i)
    gc.collect()
    return before, 2000, time.perf_counter() - start


def scenario_raw_plans(budget):
    """snn_net_create_f32 / snn_net_loss_f32 / snn_net_destroy through ctypes, 2000 times."""
    import ctypes
    import time
    import numpy as np
    from swiftnn import _native as nat
    dims = [20, 32, 4]
    cdims = (ctypes.c_int64 * 3)(*dims)
    shapes = [(20, 32), (32,), (32, 4), (4,)]
    params = [np.full(s, 0.01, np.float32) for s in shapes]
    grads = [np.empty(s, np.float32) for s in shapes]
    ptab = (ctypes.c_void_p * 4)(*[p.ctypes.data for p in params])
    gtab = (ctypes.c_void_p * 4)(*[g.ctypes.data for g in grads])
    x = np.ones((64, 20), np.float32)
    y = np.zeros(64, np.int64)
    loss = ctypes.c_double()

    def cycle():
        h = ctypes.c_void_p()
        assert nat.f32.net_create(ctypes.byref(h), cdims, 3, 0, 0.5, 0, 0.0) == 0
        assert nat.f32.net_loss(h, ctypes.byref(loss), None, gtab, None, ptab, x.ctypes.data, y.ctypes.data,
                                64, 20, 0.1, None, None, 7) == 0
        assert nat.lib.snn_net_destroy(h) == 0
        assert nat.lib.snn_net_destroy(h) == -7

    for _ in range(200):
        cycle()
    before = rss_kib()
    start = time.perf_counter()
    for _ in range(2000):
        cycle()
    return before, 2000, time.perf_counter() - start


def scenario_trainers(budget):
    """swiftnn.Trainer create - train (tiny) - drop 2000 times, and snn_trainer_create/destroy."""
    import ctypes
    import gc
    import time
    import numpy as np
    import swiftnn
    from swiftnn import _native as nat
    from swiftnn.models import FullyConnectedNet
    rng = np.random.default_rng(2)
    data = {"X_train": rng.standard_normal((40, 10)), "y_train": rng.integers(0, 3, 40),
            "X_val": rng.standard_normal((10, 10)), "y_val": rng.integers(0, 3, 10)}
    dims = (ctypes.c_int64 * 3)(10, 16, 3)
    flat = np.zeros(10 * 16 + 16 + 16 * 3 + 3, np.float64)
    extra = [None] * (len(nat._SIGNATURES["trainer_create"]) - 9)

    def cycle(i):
        model = FullyConnectedNet([16], input_dim=10, num_classes=3, dtype=(np.float32, np.float64)[i % 2],
                                  normalization=(None, "batchnorm")[i % 2])
        swiftnn.Trainer(model, data, update_rule="adam", num_epochs=1, batch_size=20, progress=False,
                        verbose=False, seed=i).train()
        h = ctypes.c_void_p()
        assert nat.f64.trainer_create(ctypes.byref(h), dims, 3, 0, 1.0, 0, 0.0, flat.ctypes.data, None, *extra) == 0
        assert nat.lib.snn_trainer_destroy(h) == 0

    for i in range(200):
        cycle(i)
    gc.collect()
    before = rss_kib()
    start = time.perf_counter()
    for i in range(2000):
        cycle(i)
    gc.collect()
    return before, 2000, time.perf_counter() - start


def scenario_threads(budget):
    """2000 short-lived threads, each leaving an error message in its thread-local slot."""
    import threading
    import time
    from swiftnn import _native as nat

    def work():
        assert nat.f64.relu_forward(None, None, 0) < 0
        assert nat.lib.snn_last_error()

    def run(count):
        for _ in range(count // 8):
            threads = [threading.Thread(target=work) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    run(400)
    before = rss_kib()
    start = time.perf_counter()
    run(2000)
    return before, 2000, time.perf_counter() - start


SCENARIOS = {"layers": scenario_layers, "raw_refusals": scenario_raw_refusals, "models": scenario_models,
             "raw_plans": scenario_raw_plans, "trainers": scenario_trainers, "threads": scenario_threads}


def child(name, budget):
    before, count, seconds = SCENARIOS[name](budget)
    after = rss_kib()
    print("RESULT " + json.dumps({"before_kib": before, "after_kib": after, "count": count, "seconds": seconds}))


# ---- the tests ------------------------------------------------------------------------------

def _run(name):
    script = "import sys\nsys.path[:0] = [%r, %r]\nimport test_leaks as t\nt.child(%r, %r)\n" % (
        str(HERE), str(HERE.parent), name, BUDGET)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, "child exited %d\n%s" % (proc.returncode, proc.stderr[-3000:])
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
    r = json.loads(line[len("RESULT "):])
    growth = (r["after_kib"] - r["before_kib"]) / 1024
    print("%s: %d cycles/calls in %.1f s, VmRSS %.1f -> %.1f MiB (growth %+.2f MiB, bound %.0f MiB)"
          % (name, r["count"], r["seconds"], r["before_kib"] / 1024, r["after_kib"] / 1024, growth, BOUND_MIB))
    return r, growth


@pytest.mark.parametrize("name", ["layers", "raw_refusals"])
def test_many_layer_calls_keep_rss_flat(name):
    r, growth = _run(name)
    assert r["count"] >= 100_000, "only %d calls within the time budget" % r["count"]
    assert growth < BOUND_MIB, "VmRSS grew by %.2f MiB over %d calls" % (growth, r["count"])


@pytest.mark.parametrize("name", ["models", "raw_plans", "trainers", "threads"])
def test_create_destroy_cycles_keep_rss_flat(name):
    r, growth = _run(name)
    assert growth < BOUND_MIB, "VmRSS grew by %.2f MiB over %d cycles" % (growth, r["count"])
