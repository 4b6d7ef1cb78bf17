"""PNG figures of the command-line tools (matplotlib, Agg backend): training curves, the
first-layer weights as an image grid, and the search's learning-rate/regularization scatter.
Every function returns the path written, or None when matplotlib is not installed."""
import math
from pathlib import Path

import numpy as np

__all__ = ["training_curves", "first_layer_grid", "weight_images", "search_scatter", "image_grid"]


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def image_grid(images, padding=1):
    """images (N, H, W, C) -> one (rows*H, cols*W, C) image of a square grid, each tile min-max
    scaled to [0, 1] on its own, padding filled with 1 (white)."""
    n, h, w, c = images.shape
    side = int(math.ceil(math.sqrt(n)))
    grid = np.ones((side * h + (side - 1) * padding, side * w + (side - 1) * padding, c))
    for i in range(n):
        r, col = divmod(i, side)
        img = images[i].astype(np.float64)
        low, high = img.min(), img.max()
        tile = (img - low) / (high - low) if high > low else np.zeros_like(img)
        y, x = r * (h + padding), col * (w + padding)
        grid[y:y + h, x:x + w] = tile
    return grid


def training_curves(path, loss_history, train_acc_history, val_acc_history, test_acc=None,
                    iterations_per_epoch=None, title=None):
    """Loss per iteration with its moving average (left), train/validation accuracy per
    epoch with the test accuracy as a dashed line (right)."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    loss = np.asarray(loss_history, dtype=np.float64)
    x = np.arange(1, len(loss) + 1)
    if iterations_per_epoch:
        x = x / iterations_per_epoch
    ax1.plot(x, loss, color="tab:blue", alpha=0.25, lw=0.8, label="per iteration")
    if len(loss):
        window = max(1, len(loss) // 50)
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax1.plot(x[window - 1:], smooth, color="tab:blue", lw=2, label="moving average (%d)" % window)
        top = np.percentile(loss, 99.5)
        ax1.set_ylim(max(0.0, loss.min() - 0.05 * (top - loss.min())), top * 1.05 if top > 0 else None)
    ax1.set(xlabel="epoch" if iterations_per_epoch else "iteration", ylabel="training loss", title="Loss")
    ax1.legend()
    ax1.grid(alpha=0.3)
    epochs = np.arange(len(train_acc_history))
    ax2.plot(epochs, 100 * np.asarray(train_acc_history), "o-", label="train (sampled)")
    ax2.plot(epochs, 100 * np.asarray(val_acc_history), "o-", label="validation")
    if test_acc is not None:
        ax2.axhline(100 * test_acc, color="gray", ls="--", label="test %.2f%%" % (100 * test_acc))
    # the check after the first iteration (epoch 0) is near chance: keep it from squashing the scale
    later = list(val_acc_history[1:]) + list(train_acc_history[1:])
    low = min(later or list(val_acc_history) + list(train_acc_history) or [0.0])
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy", ylim=(max(0.0, 100 * low - 3), 100.5))
    if later and len(val_acc_history) and val_acc_history[0] < low:
        ax2.annotate("epoch 0: val %.1f%% (below the axis)" % (100 * val_acc_history[0]), xy=(0.02, 0.02),
                     xycoords="axes fraction", fontsize=8, color="0.4")
    ax2.legend(loc="lower right")
    ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def weight_images(W1, shape, layout="hwc", count=64):
    """The first count columns of W1 (D, H1) as (count, H, W, C) images; layout 'chw' means a data
    row holds channel planes one after the other (CIFAR-10's pickle rows)."""
    h, w, c = shape
    k = min(count, W1.shape[1])
    cols = np.asarray(W1)[:, :k].T
    return cols.reshape(k, c, h, w).transpose(0, 2, 3, 1) if layout == "chw" else cols.reshape(k, h, w, c)


def first_layer_grid(path, W1, shape, layout="hwc", count=64, title=None):
    """The first count columns of W1 (D, H1) as images of shape (H, W, C) in a grid. layout
    'chw' means a row of the data holds channel planes one after the other (CIFAR-10)."""
    plt = _pyplot()
    if plt is None:
        return None
    W1 = np.asarray(W1, dtype=np.float64)
    k = min(count, W1.shape[1])
    c = shape[2]
    grid = image_grid(weight_images(W1, shape, layout, count), padding=2)
    fig = plt.figure(figsize=(6.5, 6.5))
    if c == 1:
        plt.imshow(grid[:, :, 0], cmap="gray", interpolation="nearest")
    else:
        plt.imshow(grid, interpolation="nearest")
    plt.axis("off")
    plt.title(title or "First-layer weights (%d of %d units)" % (k, W1.shape[1]))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def search_scatter(path, rows, title=None, box=None):
    """Learning rate (x, log) against regularization (y, log), one point per trial coloured by
    validation accuracy; circles for the coarse stage, squares for the fine stage, grey crosses
    for trials stopped for diverging. rows: dicts with lr, reg, val_acc (None when stopped),
    stage."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 6))
    done = [r for r in rows if r.get("val_acc") is not None]
    stopped = [r for r in rows if r.get("val_acc") is None]
    if stopped:
        ax.scatter([r["lr"] for r in stopped], [r["reg"] for r in stopped], marker="x", c="0.6",
                   label="stopped (diverged)")
    vals = [r["val_acc"] for r in done]
    vmin, vmax = (min(vals), max(vals)) if vals else (0, 1)
    sc = None
    for stage, marker, size in (("coarse", "o", 40), ("fine", "s", 55)):
        pts = [r for r in done if r.get("stage") == stage]
        if pts:
            sc = ax.scatter([r["lr"] for r in pts], [r["reg"] for r in pts], c=[100 * r["val_acc"] for r in pts],
                            cmap="viridis", vmin=100 * vmin, vmax=100 * vmax, marker=marker, s=size,
                            edgecolors="k", linewidths=0.4, label="%s stage" % stage)
    if done:
        best = max(done, key=lambda r: r["val_acc"])
        ax.scatter([best["lr"]], [best["reg"]], marker="*", s=320, facecolors="none", edgecolors="red",
                   linewidths=1.5, label="best %.2f%%" % (100 * best["val_acc"]))
    if box is not None and "lr" in box and "reg" in box:
        from matplotlib.patches import Rectangle
        (x0, x1), (y0, y1) = box["lr"], box["reg"]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ls="--", lw=1.2, ec="tab:red",
                               label="fine-stage ranges"))
    if sc is not None:
        fig.colorbar(sc, ax=ax, label="validation accuracy (%)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="learning rate", ylabel="regularization strength", title=title or "Random search")
    ax.grid(alpha=0.3, which="both")
    if rows:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
