"""Per-call cost of small and GEMM-sized layer calls, swiftnn against NumPy doing the same.

    python bench/overhead.py [--repeats 2000]

Prints the median and interquartile range of many timed calls for each case.
"""
import argparse
import time

import numpy as np

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


def numpy_w2_step(params, configs, X, y, keep=0.78, eps=1e-5):
    """The W2 network in plain NumPy, CS231n style: affine-bn-relu-dropout x4, affine, softmax, Adam."""
    caches, h = [], X
    for l in range(1, 5):
        z = h @ params["W%d" % l] + params["b%d" % l]
        mu, var = z.mean(0), z.var(0)
        xhat = (z - mu) / np.sqrt(var + eps)
        a = np.maximum(params["gamma%d" % l] * xhat + params["beta%d" % l], 0)
        mask = (np.random.rand(*a.shape) < keep) / keep
        caches.append((h, xhat, var, a, mask))
        h = a * mask
    s = h @ params["W5"] + params["b5"]
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    ds = p
    ds[np.arange(len(y)), y] -= 1
    ds /= len(y)
    grads = {"W5": h.T @ ds, "b5": ds.sum(0)}
    dh = ds @ params["W5"].T
    for l in range(4, 0, -1):
        hin, xhat, var, a, mask = caches[l - 1]
        dy = dh * mask * (a > 0)
        grads["gamma%d" % l] = (dy * xhat).sum(0)
        grads["beta%d" % l] = dy.sum(0)
        dxhat = dy * params["gamma%d" % l]
        dz = (len(y) * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) / (len(y) * np.sqrt(var + eps))
        grads["W%d" % l] = hin.T @ dz
        grads["b%d" % l] = dz.sum(0)
        dh = dz @ params["W%d" % l].T
    for k in params:
        c = configs[k]
        c["t"] += 1
        c["m"] = 0.9 * c["m"] + 0.1 * grads[k]
        c["v"] = 0.999 * c["v"] + 0.001 * grads[k] ** 2
        params[k] -= 1e-3 * (c["m"] / (1 - 0.9 ** c["t"])) / (np.sqrt(c["v"] / (1 - 0.999 ** c["t"])) + 1e-8)


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

    params = {k: v.copy() for k, v in model.params.items()}
    np_configs = {k: {"t": 0, "m": np.zeros_like(v), "v": np.zeros_like(v)} for k, v in params.items()}
    reps = max(50, args.repeats // 10)
    (m1, s1), (m2, s2) = timed(ours_step, reps), timed(lambda: numpy_w2_step(params, np_configs, Xb, yb), reps)
    print("%-44s %7.1f ±%5.1f %7.1f ±%5.1f %7.2fx" % ("W2 step: FullyConnectedNet.loss + adam", m1, s1 / 2, m2, s2 / 2,
                                                      m2 / m1))


if __name__ == "__main__":
    main()
