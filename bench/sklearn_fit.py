"""swiftnn.sklearn.MLPClassifier against scikit-learn's MLPClassifier on real Fashion-MNIST.

The same estimator settings for both: hidden_layer_sizes=(512, 256), Adam (lr 1e-3, alpha 1e-4),
batch_size=128, max_iter epochs (10) with shuffling, the same float32 input (pixels / 255, 60,000
training and 10,000 test images). Fits alternate (swiftnn, scikit-learn, swiftnn, ...) in one
process, so that both see the same machine load; each library uses its default threads (both
use every core), or, with --threads N, both run under threadpoolctl.threadpool_limits(N) (which
limits scikit-learn's OpenBLAS and, through swiftnn's registered controller, swiftnn's engine). Reports fit seconds and test accuracy per round and the ratio of fit times,
and writes them into their own section of bench/RESULTS.md (--no-write to only print).

    PYTHONPATH=python python bench/sklearn_fit.py [--rounds 2] [--epochs 10] [--threads N] [--by-epoch]

--by-epoch alternates single epochs instead of whole fits: each library trains by partial_fit
(one epoch each call: the same shuffled pass, the optimizer state carried on), the two
libraries' epochs interleaved, so that a machine whose load swings over minutes slows both
alike. The fit time is then the sum of a library's epochs.
"""
import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

import sklearn  # noqa: E402
import threadpoolctl  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLP  # noqa: E402

import swiftnn  # noqa: E402
from swiftnn.data import load_fashion_mnist  # noqa: E402
from swiftnn.sklearn import MLPClassifier as SwiftMLP  # noqa: E402

BY_EPOCH = False   # --by-epoch
THREADS = None   # --threads: a threadpool_limits for both libraries (None: their defaults)


SECTION = "scikit-learn estimators (bench/sklearn_fit.py)"   # bench/run.py keeps sections so named


def heading():
    """The section's heading: one section per thread setting and mode."""
    return "%s: %s%s" % (SECTION, "default threads" if THREADS is None else "threadpool_limits(%d)" % THREADS,
                         ", epochs interleaved" if BY_EPOCH else "")


def load():
    X_train, y_train, X_test, y_test = load_fashion_mnist()
    scale = np.float32(1 / 255)
    return (X_train.reshape(len(X_train), -1).astype(np.float32) * scale, y_train,
            X_test.reshape(len(X_test), -1).astype(np.float32) * scale, y_test)


def fit_once(cls, settings, data):
    X_train, y_train, X_test, y_test = data
    model = cls(**settings)
    start = time.perf_counter()
    with warnings.catch_warnings(), threadpoolctl.threadpool_limits(THREADS):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return seconds, float(model.score(X_test, y_test)), model.n_iter_


def fit_by_epochs(settings, data, epochs):
    """Both libraries, epoch by epoch, alternating which goes first: {name: (seconds, acc, epochs)}."""
    X_train, y_train, X_test, y_test = data
    classes = np.unique(y_train)
    models = {"swiftnn": SwiftMLP(**settings), "sklearn": SklearnMLP(**settings)}
    seconds = dict.fromkeys(models, 0.0)
    for epoch in range(epochs):
        names = list(models) if epoch % 2 == 0 else list(models)[::-1]
        for name in names:
            start = time.perf_counter()
            with warnings.catch_warnings(), threadpoolctl.threadpool_limits(THREADS):
                warnings.simplefilter("ignore", ConvergenceWarning)
                models[name].partial_fit(X_train, y_train, classes=classes)
            seconds[name] += time.perf_counter() - start
        print("epoch %d: swiftnn %.1f s, scikit-learn %.1f s so far" % (epoch + 1, seconds["swiftnn"],
                                                                       seconds["sklearn"]), flush=True)
    return {name: (seconds[name], float(m.score(X_test, y_test)), epochs) for name, m in models.items()}


def machine():
    load_avg = os.getloadavg()
    return ("%s, %d CPUs, load average %.1f / %.1f / %.1f at the start; Python %s, scikit-learn %s, NumPy %s, "
            "swiftnn %s (%d engine threads)" % (platform.processor() or platform.machine(), os.cpu_count(),
                                                *load_avg, platform.python_version(), sklearn.__version__,
                                                np.__version__, swiftnn.__version__, swiftnn.thread_count()))


def render(rows, settings, where, epochs):
    threads = ("each library on its default threads (both use every core)" if THREADS is None else
               "both under threadpoolctl.threadpool_limits(%d) (scikit-learn's OpenBLAS and swiftnn's engine)"
               % THREADS)
    ratios = [r["sklearn"][0] / r["swiftnn"][0] for r in rows]
    lines = ["## " + heading(), "", "swiftnn.sklearn.MLPClassifier against scikit-learn's MLPClassifier. "
             "Written by `bench/sklearn_fit.py` (bench/run.py keeps this section; rerun sklearn_fit.py to update it). "
             "Real Fashion-MNIST (60,000 training / 10,000 test images, pixels / 255, float32), "
             "hidden_layer_sizes=(512, 256), solver='adam', learning_rate_init=%g, alpha=%g, batch_size=%d, "
             "%d epochs (max_iter), shuffle=True, random_state=0; %s. Fits alternate in one process, so "
             "each pair saw the same machine load.%s"
             % (settings["learning_rate_init"], settings["alpha"], settings["batch_size"], epochs, threads,
                " Epochs interleaved (--by-epoch): each library trains by partial_fit, one epoch a call, the "
                "two libraries' epochs alternating; fit time = the sum of its epochs." if BY_EPOCH else ""), "",
             "Machine: %s; load average %.1f at the end. A load average above the 2 cores means other "
             "processes shared them: the ratio, measured side by side, is what to compare, not the seconds."
             % (where, os.getloadavg()[0]), "",
             "| round | swiftnn fit (s) | swiftnn test acc | scikit-learn fit (s) | scikit-learn test acc | "
             "fit-time ratio |", "|---:|---:|---:|---:|---:|---:|"]
    for i, (r, ratio) in enumerate(zip(rows, ratios), 1):
        lines.append("| %d | %.1f | %.4f | %.1f | %.4f | %.2fx |" % (i, r["swiftnn"][0], r["swiftnn"][1],
                                                                   r["sklearn"][0], r["sklearn"][1], ratio))
    lines += ["", "Median fit-time ratio: **%.2fx** (target >= 3x); test accuracy %.4f (swiftnn) vs %.4f "
              "(scikit-learn), medians." % (statistics.median(ratios),
                                             statistics.median(r["swiftnn"][1] for r in rows),
                                             statistics.median(r["sklearn"][1] for r in rows))]
    return "\n".join(lines) + "\n"


def write(section, path):
    text = path.read_text() if path.exists() else ""
    parts = ("\n" + text).split("\n## ")
    head, sections = parts[0].strip("\n"), parts[1:]
    mine = section.strip("\n")[3:]
    replaced = [mine if part.splitlines()[0].strip() == heading() else part for part in sections]
    if mine not in replaced:
        replaced.append(mine)
    path.write_text(head + "\n\n" + "\n\n".join("## " + part.strip("\n") for part in replaced) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None, help="threadpool_limits for both (default: none)")
    ap.add_argument("--by-epoch", action="store_true", help="alternate single epochs (partial_fit), not fits")
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md as it is")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    global THREADS, BY_EPOCH
    THREADS, BY_EPOCH = args.threads, args.by_epoch
    settings = dict(hidden_layer_sizes=(512, 256), solver="adam", learning_rate_init=1e-3, alpha=1e-4,
                    batch_size=128, max_iter=args.epochs, shuffle=True, random_state=0)
    data = load()
    where = machine() + ("" if THREADS is None else "; threadpool_limits(%d)" % THREADS)
    print(where, flush=True)
    rows = []
    for i in range(args.rounds):
        if BY_EPOCH:
            rows.append(fit_by_epochs(settings, data, args.epochs))
            print("round %d: %s" % (i + 1, rows[-1]), flush=True)
            continue
        row = {}
        # The first library alternates between rounds.
        order = [("swiftnn", SwiftMLP), ("sklearn", SklearnMLP)]
        for name, cls in (order if i % 2 == 0 else order[::-1]):
            row[name] = fit_once(cls, settings, data)
            print("round %d %-8s fit %.1f s, test accuracy %.4f, %d epochs" % (i + 1, name, *row[name]), flush=True)
        rows.append(row)
    section = render(rows, settings, where, args.epochs)
    print(section)
    if not args.no_write:
        write(section, Path(args.out))


if __name__ == "__main__":
    main()
