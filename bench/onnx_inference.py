"""Inference speed: swiftnn's predict_proba against onnxruntime (CPU provider) running the same
network exported by swiftnn.onnx, side by side in one process.

    python bench/onnx_inference.py [--seconds 2] [--rounds 7] [--no-write]

The network is the main job's (`swiftnn train` defaults): 784-512-256-10, batchnorm, ReLU,
trained briefly on Fashion-MNIST (one epoch over 10,000 rows, Adam). Both run on the same
preprocessed test rows (the exported model without preprocessing); a second table times the
whole path from raw pixels (swiftnn: apply_preprocessing + predict_proba; onnxruntime: the
checkpoint's export, preprocessing inside the graph). For each batch size (1, 64, 10,000 rows)
the contestants alternate in rounds (which goes first alternates too); each round times single
calls for about --seconds / --rounds. Latency is the median call; throughput is rows per second
at that median; the ratio is onnxruntime's median over swiftnn's (> 1: swiftnn faster), the
median of the per-round ratios. Writes its section of bench/RESULTS.md.
"""
import argparse
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

import swiftnn
from swiftnn import Trainer
from swiftnn import onnx as snn_onnx
from swiftnn.checkpoint import save_checkpoint
from swiftnn.data import DATASETS, apply_preprocessing, get_data, load_raw
from swiftnn.experiment import build_model, solver_options

HERE = Path(__file__).resolve().parent
SECTION = "## ONNX export: inference against onnxruntime"
CONFIG = {"dataset": "fashion-mnist", "preprocess": "mean", "hidden": [512, 256], "normalization": "batchnorm",
          "activation": "relu", "init": "he", "update_rule": "adam", "lr": 1e-3, "batch_size": 128}
BATCHES = (1, 64, 10000)


def trained_network(num_train=10000):
    data, stats = get_data("fashion-mnist", num_train, 1000, 10000, preprocess="mean", return_stats=True)
    np.random.seed(0)
    model = build_model(CONFIG, 784, 10)
    options = solver_options(CONFIG)
    Trainer(model, data, num_epochs=1, verbose=False, progress=False, **options).train()
    return model, data, stats


def timed_calls(fn, seconds):
    """Per-call seconds of fn, called repeatedly for about `seconds` (at least 3 calls)."""
    times = []
    end = time.perf_counter() + seconds
    while len(times) < 3 or time.perf_counter() < end:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return np.array(times)


def race(contestants, seconds, rounds):
    """Median seconds per call of each contestant, and of each the median over rounds of its
    median over the first contestant's (timed in the same round; the order rotates by round)."""
    for fn in contestants:
        fn()  # warm-up: plans, workspaces, ORT's first run
    times = [[] for _ in contestants]
    ratios = [[] for _ in contestants]
    for r in range(rounds):
        medians = {}
        for i in [(j + r) % len(contestants) for j in range(len(contestants))]:
            t = timed_calls(contestants[i], seconds / rounds / len(contestants))
            times[i].append(t)
            medians[i] = np.median(t)
        for i in range(len(contestants)):
            ratios[i].append(medians[i] / medians[0])
    return [(float(np.median(np.concatenate(t))), float(np.median(q))) for t, q in zip(times, ratios)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="timing seconds per batch size and table")
    ap.add_argument("--rounds", type=int, default=8, help="alternating rounds per batch size")
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = ap.parse_args()

    started = time.time()
    model, data, stats = trained_network()
    X_test = data["X_test"]
    raw = load_raw("fashion-mnist")[2].reshape(10000, -1)
    pixel_scale = DATASETS["fashion-mnist"]["pixel_scale"]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = save_checkpoint(Path(tmp) / "model.npz", model, CONFIG, preprocess=stats,
                               meta={"dataset": "fashion-mnist"})
        net_onnx = snn_onnx.export(model, Path(tmp) / "net.onnx")
        full_onnx = snn_onnx.export(ckpt, Path(tmp) / "full.onnx")
        net = ort.InferenceSession(str(net_onnx), providers=["CPUExecutionProvider"])
        full = ort.InferenceSession(str(full_onnx), providers=["CPUExecutionProvider"])
        # the same, without packing the weights for its GEMM kernel once at session creation
        options = ort.SessionOptions()
        options.add_session_config_entry("session.disable_prepacking", "1")
        unpacked = ort.InferenceSession(str(net_onnx), options, providers=["CPUExecutionProvider"])

    # the same answers first
    ours = model.predict_proba(X_test)
    (theirs,) = net.run(["probabilities"], {"input": X_test})
    (theirs_raw,) = full.run(["probabilities"], {"input": raw.astype(np.float32)})
    diff = max(float(np.abs(ours - theirs).max()), float(np.abs(ours - theirs_raw).max()))
    acc = float(np.mean(np.argmax(ours, axis=1) == data["y_test"]))

    tables = {}
    for name, contestants in (
            ("network (preprocessed rows)",
             [lambda X, R: model.predict_proba(X), lambda X, R: net.run(["probabilities"], {"input": X}),
              lambda X, R: unpacked.run(["probabilities"], {"input": X})]),
            ("from raw pixels (preprocessing included)",
             [lambda X, R: model.predict_proba(apply_preprocessing(R, stats, pixel_scale)),
              lambda X, R: full.run(["probabilities"], {"input": R.astype(np.float32)})])):
        rows = []
        for n in BATCHES:
            X, R = np.ascontiguousarray(X_test[:n]), np.ascontiguousarray(raw[:n])
            got = race([lambda f=f: f(X, R) for f in contestants], args.seconds, args.rounds)
            rows.append((n, got))
            print("%-42s batch %5d: %s" % (name, n, "  ".join("%10.1f µs (x%.2f)" % (a * 1e6, q) for a, q in got)),
                  flush=True)
        tables[name] = rows

    text = render(tables, diff, acc, time.time() - started, args)
    print(text)
    if not args.no_write:
        write_section(HERE / "RESULTS.md", text)


def render(tables, diff, acc, seconds, args):
    lines = [SECTION, "",
             "Generated by `python bench/onnx_inference.py` on %s (%.0f s; %.1f s of timing per batch size, %d "
             "alternating rounds). Rerun it to refresh this section." % (time.strftime("%Y-%m-%d %H:%M"), seconds,
                                                                     args.seconds, args.rounds),
             "",
             "- Network: 784-512-256-10, batchnorm, ReLU (`swiftnn train`'s defaults), one epoch of Adam on 10,000 "
             "Fashion-MNIST rows (test accuracy %.1f%%), float32." % (100 * acc),
             "- swiftnn %s: `model.predict_proba(X)` (`snn_net_predict`: the test-mode forward and the softmax "
             "in one native call); %d engine threads." % (swiftnn.__version__, swiftnn.thread_count()),
             "- onnxruntime %s, CPUExecutionProvider, default session options, on the model `swiftnn.onnx.export` "
             "wrote (opset 17): `session.run(['probabilities'], ...)`." % ort.__version__,
             "- Same answers: largest probability difference on the 10,000 test rows %.2g." % diff,
             "- Ratios: onnxruntime's time per call over swiftnn's, the median over rounds of the two timed in "
             "the same round (> 1: swiftnn is faster). 'Prepacking off': onnxruntime with "
             "`session.disable_prepacking`, which packs the weights for its GEMM kernel on every call, as "
             "OpenBLAS does, instead of once at session creation.",
             "- Machine: %s, %d CPUs, Python %s; shared with other jobs while measured, so absolute times are "
             "noisy: compare the ratios (measured alternating in one process)."
             % (platform.processor() or platform.machine(), os.cpu_count(), platform.python_version()), ""]
    for name, rows in tables.items():
        unpacked = len(rows[0][1]) > 2
        lines += ["### %s" % name, "",
                  "| batch | swiftnn µs/call | swiftnn rows/s | onnxruntime µs/call | onnxruntime rows/s | "
                  "onnxruntime / swiftnn |" + (" onnxruntime, prepacking off: µs/call, / swiftnn |" if unpacked else ""),
                  "|---:|---:|---:|---:|---:|---:|" + ("---:|" if unpacked else "")]
        for n, got in rows:
            (a, _), (b, ratio) = got[:2]
            line = "| %s | %.1f | %s | %.1f | %s | %.2fx |" % (
                "{:,}".format(n), a * 1e6, "{:,.0f}".format(n / a), b * 1e6, "{:,.0f}".format(n / b), ratio)
            if unpacked:
                line += " %.1f, %.2fx |" % (got[2][0] * 1e6, got[2][1])
            lines.append(line)
        lines.append("")
    return "\n".join(lines)


def write_section(path, text):
    """Replaces this benchmark's section of RESULTS.md (or appends it), leaving the others alone."""
    old = path.read_text() if path.exists() else ""
    pattern = re.compile(r"^%s\n.*?(?=^## (?!#)|\Z)" % re.escape(SECTION), re.S | re.M)
    body = text.rstrip("\n") + "\n"
    if pattern.search(old):
        new = pattern.sub(lambda m: body + ("\n" if m.end() < len(old) else ""), old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + body
    path.write_text(new)


if __name__ == "__main__":
    sys.exit(main())
