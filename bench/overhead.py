"""Per-call cost of small and GEMM-sized layer calls, swiftnn against NumPy doing the same.

    python bench/overhead.py [--repeats 2000]

Prints the median and interquartile range of many timed calls for each case.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy_net  # noqa: E402  the benchmark's own plain-NumPy network (bench/numpy_net.py)
from swiftnn import layers
from swiftnn.models import FullyConnectedNet
from swiftnn.optim import adam


def timed(fn, repeats):
    fn()
    samples = np.empty(repeats)
    for i in range(repeats):
        t = time.perf_counter()
        fn()
        samples[i] = time.perf_counter() - t
    q1, med, q3 = np.percentile(samples, [25, 50, 75]) * 1e6
    return med, q3 - q1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 100)).astype(np.float32)
    X = rng.standard_normal((200, 3072)).astype(np.float32)
    W = (rng.standard_normal((3072, 100)) * 1e-3).astype(np.float32)
    b = np.zeros(100, np.float32)
    rows = [
        ("relu_forward 100x100 f32", lambda: layers.relu_forward(x), lambda: (np.maximum(x, 0), x)),
        ("affine_forward (200,3072)x(3072,100) f32", lambda: layers.affine_forward(X, W, b),
         lambda: (X.reshape(200, -1) @ W + b, (X, W, b))),
    ]
    print("%-44s %14s %14s %8s" % ("call", "swiftnn µs", "NumPy µs", "ratio"))
    for name, ours, theirs in rows:
        (m1, s1), (m2, s2) = timed(ours, args.repeats), timed(theirs, args.repeats)
        print("%-44s %7.1f ±%5.1f %7.1f ±%5.1f %7.2fx" % (name, m1, s1 / 2, m2, s2 / 2, m2 / m1))

    # W2: FullyConnectedNet([100]*4), batchnorm, dropout 0.78, Adam, batch 100, through the Solver's path.
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

    reps = max(50, args.repeats // 10)
    (m1, s1), (m2, s2) = timed(ours_step, reps), timed(numpy_step, reps)
    print("%-44s %7.1f ±%5.1f %7.1f ±%5.1f %7.2fx" % ("W2 step: FullyConnectedNet.loss + adam", m1, s1 / 2, m2, s2 / 2,
                                                      m2 / m1))


if __name__ == "__main__":
    main()
