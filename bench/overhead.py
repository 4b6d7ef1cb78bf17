"""Per-call cost of small and GEMM-sized calls, swiftnn against NumPy doing the same.

    python bench/overhead.py [--rounds 41] [--only NAME]

The student's loop is thousands of tiny calls (gradient checks call ``loss`` twice per
element), so the Python around each native call matters as much as the call. Each row times
swiftnn and NumPy interleaved in this one process: every round runs a block of swiftnn calls
and a block of NumPy calls (alternating which goes first), and the row reports the medians
over the rounds of the per-call times and of their ratio. On a busy machine the ratio of a
round is steadier than either time alone.

"ratio" is swiftnn's time / NumPy's time: below 1 swiftnn is faster.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy_net  # noqa: E402  the benchmark's own plain-NumPy network (bench/numpy_net.py)
import workloads  # noqa: E402  the benchmark's workloads (bench/workloads.py)
from swiftnn import layers  # noqa: E402
from swiftnn.models import FullyConnectedNet  # noqa: E402
from swiftnn.optim import adam  # noqa: E402


def block_time(fn, calls):
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls


# NumPy's OpenBLAS threads spin for 2^28 cycles (~0.1 s here) after each threaded matmul before
# they sleep, holding the second core the engine's helper needs: a swiftnn block timed right
# after a NumPy block of GEMM-sized steps ran 1.6-1.8x slower than one timed alone. A student's
# Solver loop calls no NumPy matmul between steps, so blocks of such rows start after a pause
# that lets those threads park (`settle`).
BLAS_SETTLE_SECONDS = 0.25


def compare(ours, theirs, rounds, target_seconds=0.004, settle=0.0):
    """(our µs, NumPy µs, ratio, ratio's IQR) as medians over interleaved rounds; `settle`
    seconds of sleep before each block."""
    ours(), theirs()
    probe = min(block_time(ours, 3), block_time(theirs, 3))
    calls = max(1, int(target_seconds / max(probe, 1e-7)))
    a, b = np.empty(rounds), np.empty(rounds)

    def timed(fn):
        time.sleep(settle)
        return block_time(fn, calls)
    for r in range(rounds):
        if r % 2:
            b[r] = timed(theirs)
            a[r] = timed(ours)
        else:
            a[r] = timed(ours)
            b[r] = timed(theirs)
    ratio = a / b
    q1, q3 = np.percentile(ratio, [25, 75])
    return np.median(a) * 1e6, np.median(b) * 1e6, np.median(ratio), q3 - q1


def tiny_rows():
    rng = np.random.default_rng(0)
    x10 = rng.standard_normal((10, 10))
    dout10 = rng.standard_normal((10, 10))
    # the shapes of the course's affine check: x (2, 4, 5, 6), w (120, 3), float64
    xa = rng.standard_normal((2, 4, 5, 6))
    wa = rng.standard_normal((120, 3))
    ba = rng.standard_normal(3)
    douta = rng.standard_normal((2, 3))
    # the course's loss check: x (50, 10), y (50,)
    xs = 0.001 * rng.standard_normal((50, 10))
    ys = rng.integers(0, 10, 50)
    w100 = rng.standard_normal(100).astype(np.float32)
    dw100 = rng.standard_normal(100).astype(np.float32)
    ours_cfg, np_cfg = {"learning_rate": 1e-3}, {"learning_rate": 1e-3}

    def np_affine_backward():
        dx = (douta @ wa.T).reshape(xa.shape)
        return dx, xa.reshape(2, -1).T @ douta, douta.sum(axis=0)

    def ours_adam():
        adam(w100, dw100, ours_cfg)

    def np_adam():
        numpy_net.adam(w100, dw100, np_cfg)

    return [
        ("relu_forward 10x10 f64", lambda: layers.relu_forward(x10), lambda: (np.maximum(0, x10), x10)),
        ("relu_backward 10x10 f64", lambda: layers.relu_backward(dout10, x10), lambda: dout10 * (x10 > 0)),
        ("affine_forward (2,4,5,6)x(120,3) f64", lambda: layers.affine_forward(xa, wa, ba),
         lambda: (xa.reshape(2, -1) @ wa + ba, (xa, wa, ba))),
        ("affine_backward (2,4,5,6)x(120,3) f64", lambda: layers.affine_backward(douta, (xa, wa, ba)),
         np_affine_backward),
        ("softmax_loss (50,10) f64", lambda: layers.softmax_loss(xs, ys), lambda: numpy_net.softmax_loss(xs, ys)),
        ("adam (100,) f32", ours_adam, np_adam),
    ]


def gradient_check_row():
    """The notebooks' gradient-check network: FullyConnectedNet([20, 30], input_dim=15,
    num_classes=10), N = 2, float64; eval_numerical_gradient calls loss twice per element."""
    np.random.seed(231)
    X = np.random.randn(2, 15)
    y = np.random.randint(10, size=(2,))
    model = FullyConnectedNet([20, 30], input_dim=15, num_classes=10, weight_scale=5e-2, dtype=np.float64)
    net = numpy_net.FullyConnectedNet({k: v.copy() for k, v in model.params.items()})
    return ("gradient-check net loss [20,30] N=2 f64", lambda: model.loss(X, y), lambda: net.loss(X, y))


def gemm_rows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 100)).astype(np.float32)
    X = rng.standard_normal((200, 3072)).astype(np.float32)
    W = (rng.standard_normal((3072, 100)) * 1e-3).astype(np.float32)
    b = np.zeros(100, np.float32)
    return [
        ("relu_forward 100x100 f32", lambda: layers.relu_forward(x), lambda: (np.maximum(0, x), x)),
        ("affine_forward (200,3072)x(3072,100) f32", lambda: layers.affine_forward(X, W, b),
         lambda: (X.reshape(200, -1) @ W + b, (X, W, b))),
    ]


def w2_rows():
    """W2: FullyConnectedNet([100]*4), batchnorm, dropout 0.78, batch 100, float32, through the
    Solver's path: model.loss, then optim.adam once per parameter; then the same NumPy step
    against model.loss alone and against the step's matrix products alone (the floor)."""
    rng = np.random.default_rng(1)
    np.random.seed(0)
    model = FullyConnectedNet([100] * 4, normalization="batchnorm", dropout_keep_ratio=0.78)
    Xb = rng.standard_normal((100, 3072)).astype(np.float32)
    yb = rng.integers(0, 10, 100)
    configs = {k: {"learning_rate": 1e-3} for k in model.params}

    def ours_step():
        _, grads = model.loss(Xb, yb)
        for k in model.params:
            model.params[k], configs[k] = adam(model.params[k], grads[k], configs[k])

    net = numpy_net.FullyConnectedNet({k: v.copy() for k, v in model.params.items()}, "batchnorm", 0.78)
    np_configs = {k: {"learning_rate": 1e-3} for k in net.params}

    def numpy_step():
        _, grads = net.loss(Xb, yb)
        for k in net.params:
            net.params[k], np_configs[k] = numpy_net.adam(net.params[k], grads[k], np_configs[k])

    return [("W2 step: model.loss + adam per param", ours_step, numpy_step),
            ("W2 model.loss alone vs NumPy's step", lambda: model.loss(Xb, yb), numpy_step),
            ("W2 step's GEMMs alone vs NumPy's step", w2_gemms(), numpy_step)]


def w2_gemms():
    """Every matrix product of one W2 step (workloads.W2.gemms(): forward, dW, and dX but for
    the first layer's), float32, through NumPy's BLAS (within 3% of the engine's at these shapes,
    bench/blas_candidates.py). No implementation that runs these products can go below this
    row's ratio: it is the floor of the W2 rows."""
    rng = np.random.default_rng(2)
    operands = []
    for m, n, k, ta, tb in workloads.WORKLOADS["W2"].gemms():
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        operands.append((a.T if ta else a, b.T if tb else b, np.empty((m, n), np.float32)))

    def run():
        for a, b, c in operands:
            np.matmul(a, b, out=c)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41, help="interleaved rounds per row")
    parser.add_argument("--only", help="run only the rows whose name contains this")
    args = parser.parse_args()
    # (rows, whether they run threaded GEMMs: those settle between blocks, see compare)
    groups = [(tiny_rows() + [gradient_check_row()], False), (gemm_rows(), True), (w2_rows(), True)]
    rows = [(name, ours, theirs, threaded) for group, threaded in groups for name, ours, theirs in group]
    print("%-42s %11s %11s %8s %8s" % ("call", "swiftnn µs", "NumPy µs", "ratio", "IQR"))
    for name, ours, theirs, threaded in rows:
        if args.only and args.only not in name:
            continue
        step = name.startswith("W2")
        rounds = max(9, args.rounds // 3) if step else args.rounds
        a, b, ratio, iqr = compare(ours, theirs, rounds, 0.03 if step else 0.004,
                                   settle=BLAS_SETTLE_SECONDS if threaded else 0.0)
        print("%-42s %11.2f %11.2f %7.2fx %8.2f" % (name, a, b, ratio, iqr), flush=True)


if __name__ == "__main__":
    main()
