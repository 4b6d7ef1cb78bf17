"""Threads: many Python threads calling layers, separate models, one shared model and separate
native trainers at once get exactly the results of serial calls; error messages stay with
the thread whose call failed; and the GIL is released during native work (the speed-up of
two threads on GEMM-heavy calls is printed, measured in a child with OPENBLAS_NUM_THREADS=1
so that OpenBLAS's own threads do not blur it; only correctness is asserted)."""
import json
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import swiftnn
from swiftnn import layers, optim
from swiftnn.models import FullyConnectedNet

HERE = Path(__file__).resolve().parent
THREADS = 8


def _tasks():
    """(name, thunk) pairs over inputs of several sizes and both precisions."""
    rng = np.random.default_rng(0)
    tasks = []
    for i, (n, d, m) in enumerate([(3, 4, 5), (64, 100, 10), (200, 300, 50), (1, 7, 1), (33, 65, 17)]):
        for dt in (np.float32, np.float64):
            x = rng.standard_normal((n, d)).astype(dt)
            w = rng.standard_normal((d, m)).astype(dt)
            b = rng.standard_normal(m).astype(dt)
            y = rng.integers(0, m, n)
            g, be = rng.standard_normal(d).astype(dt), rng.standard_normal(d).astype(dt)
            dout = rng.standard_normal((n, m)).astype(dt)
            tag = "%s-%d" % (np.dtype(dt).name, i)

            def affine(x=x, w=w, b=b, dout=dout):
                out, cache = layers.affine_forward(x, w, b)
                return (out,) + layers.affine_backward(dout, cache)

            def net(x=x, w=w, b=b, y=y):
                out, cache = layers.affine_relu_forward(x, w, b)
                loss, dscores = layers.softmax_loss(out, y)
                return (np.array(loss), dscores) + layers.affine_relu_backward(dscores, cache)

            def norm(x=x, g=g, be=be):
                out, cache = layers.batchnorm_forward(x, g, be, {"mode": "train"})
                lo, lcache = layers.layernorm_forward(x, g, be, {})
                return (out,) + layers.batchnorm_backward(out, cache) + (lo,) + layers.layernorm_backward(lo, lcache)

            def drop(x=x, i=i):
                out, cache = layers.dropout_forward(x, {"mode": "train", "p": 0.7, "seed": i})
                return out, layers.dropout_backward(out, cache)

            def update(w=w, dout=dout):
                config = {"learning_rate": 1e-2}
                out = []
                for _ in range(3):
                    nw, config = optim.adam(w, w * 0.5, config)
                    out.append(nw)
                return tuple(out)

            tasks += [("affine " + tag, affine), ("net " + tag, net), ("norm " + tag, norm),
                      ("dropout " + tag, drop), ("adam " + tag, update)]
    return tasks


def _equal(a, b):
    return len(a) == len(b) and all(np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True) for x, y in zip(a, b))


def test_layer_calls_from_many_threads_equal_serial_calls():
    tasks = _tasks()
    serial = {name: fn() for name, fn in tasks}
    work = tasks * 6
    random.Random(1).shuffle(work)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda t: (t[0], t[1]()), work))
    assert len(results) == len(work)
    different = [name for name, got in results if not _equal(got, serial[name])]
    assert not different, "results differ from serial calls: %s" % sorted(set(different))


def test_error_messages_stay_with_their_thread():
    """snn_last_error() is per thread: concurrent failing calls each report their own argument."""
    x = np.ones((4, 3))
    cases = [
        (lambda: layers.softmax_loss(x, np.array([0, 1, 7, 0])), "y[2] = 7"),
        (lambda: layers.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train", "eps": -2.0}), "eps = -2"),
        (lambda: layers.dropout_forward(x, {"mode": "train", "p": 1e-320, "seed": 1}), "p = "),
        (lambda: layers.svm_loss(np.full((2, 2), np.nan), np.array([0, 1])), "SVM loss"),
        (lambda: optim.adam(np.ones(3), np.ones(3), {"epsilon": 0.0}), "epsilon"),
    ]

    def run(i):
        fn, expected = cases[i % len(cases)]
        try:
            fn()
        except ValueError as e:
            return expected in str(e), str(e)
        return False, "no error"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(run, range(400)))
    wrong = [msg for ok, msg in outcomes if not ok]
    assert not wrong, wrong[:5]


def _model(i, dt):
    np.random.seed(100 + i)
    norm = (None, "batchnorm", "layernorm")[i % 3]
    return FullyConnectedNet([48, 24], input_dim=30, num_classes=7, normalization=norm, dropout_keep_ratio=0.8,
                             dtype=dt, seed=i, reg=0.01)


def _model_work(model, i):
    rng = np.random.default_rng(i)
    out = []
    for step in range(4):
        n = int(rng.integers(1, 80))
        X = rng.standard_normal((n, 30))
        y = rng.integers(0, 7, n)
        loss, grads = model.loss(X, y)
        out.append(np.array(loss))
        out += [grads[k] for k in sorted(grads)]
        out.append(model.loss(X))
    return tuple(out)


def test_separate_models_in_threads_equal_serial():
    dts = [np.float32, np.float64]
    serial = [_model_work(_model(i, dts[i % 2]), i) for i in range(16)]
    models = [_model(i, dts[i % 2]) for i in range(16)]
    with ThreadPoolExecutor(THREADS) as pool:
        parallel = list(pool.map(lambda i: _model_work(models[i], i), range(16)))
    for i, (a, b) in enumerate(zip(serial, parallel)):
        assert _equal(a, b), "model %d differs from its serial run" % i


def test_one_model_shared_by_threads_equals_serial():
    """Calls on one model (one native plan, one workspace) from several threads at once, with
    different batch sizes: they are serialized inside the plan, so each equals its serial call
    (without that, one call's workspace is reallocated under another)."""
    for dt in (np.float32, np.float64):
        model = FullyConnectedNet([40, 20], input_dim=12, num_classes=5, normalization="layernorm",
                                  dtype=dt, reg=0.1)
        rng = np.random.default_rng(5)
        batches = [(rng.standard_normal((int(rng.integers(1, 300)), 12)), rng.integers(0, 5, 300)) for _ in range(48)]
        batches = [(X, y[: len(X)]) for X, y in batches]

        def work(b):
            loss, grads = model.loss(*b)
            return (np.array(loss),) + tuple(grads[k] for k in sorted(grads)) + (model.loss(b[0]),)

        serial = [work(b) for b in batches]
        with ThreadPoolExecutor(THREADS) as pool:
            parallel = list(pool.map(work, batches))
        assert all(_equal(a, b) for a, b in zip(serial, parallel))


def _train(i):
    model = FullyConnectedNet([32], input_dim=16, num_classes=4, dtype=(np.float32, np.float64)[i % 2],
                              normalization=(None, "batchnorm")[i % 2], dropout_keep_ratio=0.9)
    rng = np.random.default_rng(i)
    # NumPy's global generator (the course's initialization) is shared by the threads: draw
    # the weights from a generator of this call's own.
    for k in model.params:
        if k.startswith("W"):
            model.params[k] = (0.1 * rng.standard_normal(model.params[k].shape)).astype(model.params[k].dtype)
    data = {"X_train": rng.standard_normal((200, 16)), "y_train": rng.integers(0, 4, 200),
            "X_val": rng.standard_normal((50, 16)), "y_val": rng.integers(0, 4, 50)}
    trainer = swiftnn.Trainer(model, data, update_rule="adam", num_epochs=3, batch_size=25, seed=i,
                              progress=False, verbose=False).train()
    return (np.array(trainer.loss_history), np.array(trainer.val_acc_history)) + \
        tuple(model.params[k] for k in sorted(model.params))


def test_separate_native_trainers_in_threads_equal_serial():
    serial = [_train(i) for i in range(8)]
    with ThreadPoolExecutor(THREADS) as pool:
        parallel = list(pool.map(_train, range(8)))
    for i, (a, b) in enumerate(zip(serial, parallel)):
        assert _equal(a, b), "trainer %d differs from its serial run" % i


# ---- the engine's thread count ------------------------------------------------------------------

@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_the_engine_computes_on_the_threads_openblas_num_threads_asks_for(threads):
    script = ("import numpy as np, swiftnn\nfrom swiftnn import layers\n"
              "x = np.ones((256, 512), np.float32); w = np.full((512, 256), 0.5, np.float32)\n"
              "out = layers.affine_forward(x, w, np.zeros(256, np.float32))[0]\n"
              "assert np.all(out == 256.0), out\n"
              "print(swiftnn.thread_count())\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS=threads)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # OpenBLAS (and so the engine) never takes more threads than there are CPUs.
    assert int(proc.stdout.split()[-1]) == min(int(threads), os.cpu_count())


# ---- fork ---------------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_computes_without_the_parents_helper_threads():
    """The engine's helper threads do not survive fork (multiprocessing's default on Linux): a
    child of a process that has used them must still finish its work, with the same numbers."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 700)).astype(np.float32)
    w = rng.standard_normal((700, 500)).astype(np.float32)
    b = np.zeros(500, np.float32)
    dw = rng.standard_normal(w.shape).astype(np.float32)
    expected_out = layers.affine_forward(x, w, b)[0]
    expected_w = optim.adam(w.copy(), dw, {"learning_rate": 1e-3})[0]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        code = 1
        try:
            import signal
            signal.alarm(120)
            out = layers.affine_forward(x, w, b)[0]
            new_w = optim.adam(w.copy(), dw, {"learning_rate": 1e-3})[0]
            code = 0 if np.allclose(out, expected_out, rtol=1e-5, atol=1e-4) and np.array_equal(new_w, expected_w) else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    reported = os.read(read, 1)
    os.close(read)
    assert reported == bytes([0]) and os.waitstatus_to_exitcode(status) == 0, \
        "the forked child failed (report %r, status %r)" % (reported, status)


# ---- the GIL is released: two threads on two cores -------------------------------------------

def _speedup_child():
    """In a child with OPENBLAS_NUM_THREADS=1: wall time of GEMM-heavy affine calls run
    serially and split over two threads."""
    import threading
    import time
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 1024)).astype(np.float32)
    w = rng.standard_normal((1024, 1024)).astype(np.float32)
    b = np.zeros(1024, np.float32)
    calls = 24
    reference = layers.affine_forward(x, w, b)[0]

    def work(k, out):
        for _ in range(k):
            out.append(layers.affine_forward(x, w, b)[0])

    work(2, [])
    best = {"serial": 1e9, "threads": 1e9}
    results = []
    for _ in range(3):
        t0 = time.perf_counter()
        work(calls, results)
        best["serial"] = min(best["serial"], time.perf_counter() - t0)
        threads = [threading.Thread(target=work, args=(calls // 2, results)) for _ in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        best["threads"] = min(best["threads"], time.perf_counter() - t0)
    best["equal"] = all(np.array_equal(r, reference) for r in results)
    best["count"] = len(results)
    best["cpus"] = len(os.sched_getaffinity(0))
    print("RESULT " + json.dumps(best))


def test_gil_is_released_during_native_work():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    script = "import sys\nsys.path[:0] = [%r, %r]\nimport test_threads as t\nt._speedup_child()\n" % (
        str(HERE), str(HERE.parent))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads([l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1][len("RESULT "):])
    flops = 24 * 2 * 256 * 1024 * 1024
    print("GIL release: 24 affine_forward calls (256x1024 @ 1024x1024 float32, OPENBLAS_NUM_THREADS=1, %d CPUs): "
          "serial %.3f s (%.1f GFLOP/s), 2 threads %.3f s -> speed-up %.2fx"
          % (r["cpus"], r["serial"], flops / r["serial"] / 1e9, r["threads"], r["serial"] / r["threads"]))
    assert r["equal"] and r["count"] == 3 * 48
