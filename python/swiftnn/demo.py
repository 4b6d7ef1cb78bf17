"""A first run: train a two-layer network on CS231n's spiral data through the layer API.

    python -m swiftnn.demo [--out DIR] [--epochs N]

Prints progress, the final training accuracy, and writes loss and decision-boundary plots.
"""
import argparse
import time
from pathlib import Path

import numpy as np

from . import layers


def spiral(points_per_class=300, classes=3, seed=0):
    """The spiral data of the CS231n "Neural Networks Case Study" notes: (N, 2) points, labels."""
    rng = np.random.default_rng(seed)
    n = points_per_class * classes
    x = np.zeros((n, 2))
    y = np.zeros(n, dtype=np.int64)
    for k in range(classes):
        rows = slice(points_per_class * k, points_per_class * (k + 1))
        r = np.linspace(0.0, 1, points_per_class)
        t = np.linspace(k * 4, (k + 1) * 4, points_per_class) + rng.standard_normal(points_per_class) * 0.2
        x[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = k
    return x, y


def scores(params, x):
    hidden, _ = layers.affine_relu_forward(x, params["W1"], params["b1"])
    out, _ = layers.affine_forward(hidden, params["W2"], params["b2"])
    return out


def train(x, y, hidden=100, epochs=2000, lr=0.5, reg=1e-3, seed=0, progress=None):
    rng = np.random.default_rng(seed)
    params = {
        "W1": 0.01 * rng.standard_normal((x.shape[1], hidden)), "b1": np.zeros(hidden),
        "W2": 0.01 * rng.standard_normal((hidden, y.max() + 1)), "b2": np.zeros(y.max() + 1),
    }
    history = []
    for epoch in range(epochs):
        hidden_out, cache1 = layers.affine_relu_forward(x, params["W1"], params["b1"])
        out, cache2 = layers.affine_forward(hidden_out, params["W2"], params["b2"])
        loss, dout = layers.softmax_loss(out, y)
        loss += 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
        dhidden, dW2, db2 = layers.affine_backward(dout, cache2)
        _, dW1, db1 = layers.affine_relu_backward(dhidden, cache1)
        grads = {"W1": dW1 + reg * params["W1"], "b1": db1, "W2": dW2 + reg * params["W2"], "b2": db2}
        for name in params:
            params[name] -= lr * grads[name]
        history.append(loss)
        if progress is not None:
            progress(epoch, loss)
    return params, history


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m swiftnn.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo", help="folder for the plots (default: out/demo)")
    parser.add_argument("--epochs", type=int, default=2000, help="full-batch steps (default: 2000)")
    args = parser.parse_args(argv)

    x, y = spiral()
    print("swiftnn demo: two-layer net (2 -> 100 -> 3) on %d spiral points, full-batch SGD" % len(x))
    try:
        from tqdm import tqdm
        bar = tqdm(total=args.epochs, unit="step", ncols=80)
        def progress(epoch, loss):
            bar.update(1)
            if epoch % 50 == 0:
                bar.set_postfix(loss="%.4f" % loss)
    except ImportError:
        bar = None
        def progress(epoch, loss):
            if epoch % 200 == 0:
                print("  step %5d  loss %.4f" % (epoch, loss))
    start = time.perf_counter()
    params, history = train(x, y, epochs=args.epochs, progress=progress)
    elapsed = time.perf_counter() - start
    if bar is not None:
        bar.close()
    accuracy = np.mean(np.argmax(scores(params, x), axis=1) == y)
    print("final loss %.4f, training accuracy %.1f%%, %.2f s (%.0f µs per step)"
          % (history[-1], 100 * accuracy, elapsed, 1e6 * elapsed / args.epochs))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots written")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    ax1.plot(history, color="tab:blue")
    ax1.set(xlabel="step", ylabel="loss", title="Training loss", yscale="log")
    ax1.grid(alpha=0.3)
    grid = np.linspace(-1.2, 1.2, 300)
    gx, gy = np.meshgrid(grid, grid)
    predicted = np.argmax(scores(params, np.c_[gx.ravel(), gy.ravel()]), axis=1).reshape(gx.shape)
    ax2.contourf(gx, gy, predicted, levels=[-0.5, 0.5, 1.5, 2.5], cmap="Pastel1", alpha=0.9)
    ax2.scatter(x[:, 0], x[:, 1], c=y, s=8, cmap="Set1", edgecolors="none")
    ax2.set(title="Decision regions (train acc %.1f%%)" % (100 * accuracy), xticks=[], yticks=[])
    ax2.set_aspect("equal")
    fig.tight_layout()
    path = out / "spiral.png"
    fig.savefig(path, dpi=110)
    print("wrote %s" % path)


if __name__ == "__main__":
    main()
