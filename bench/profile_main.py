"""The main job's step, phase by phase: `swiftnn train`'s default network (784-512-256-10,
batchnorm, dropout keep 0.6, ReLU, He init, Adam lr 1e-3, L2 1e-4, lr decay 0.85, batch 128)
on Fashion-MNIST (55,000 training rows; random data of its shape with --random), trained
through swiftnn.Trainer with SWIFTNN_PROFILE=1 so that the engine times each phase of its
steps (see Sources/SwiftNNEngine/Profile.swift). Prints the epoch times, the engine's phase line and
the GEMM bound: the step's GEMMs at the 2048^3 rate and at their own shapes through the engine's
own split: the profile's GEMM phases (the dW phase includes the wait for the helper's share of a
fused update); and the bound at the 2048^3 SGEMM rate measured after each epoch in the same process.

    python bench/profile_main.py [--epochs 3] [--random] [--update-rule adam]
    python bench/profile_main.py --ab OLD.so NEW.so --rounds 5   # A/B: processes alternate
    python bench/profile_main.py --ab OLD.so NEW.so --together   # A/B: each round's pair at once

With --ab, each round runs one process per library (through SWIFTNN_LIB), in alternating order,
and the ratios NEW/OLD of each round's median epoch are summarized: on a shared machine only such
side-by-side ratios mean anything.
"""
import argparse
import dataclasses
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import workloads  # noqa: E402


def child(args):
    import swiftnn
    from swiftnn.experiment import build_model, solver_options
    if args.random:
        w = workloads.WORKLOADS["W4"]
        X, y = workloads.make_data(dataclasses.replace(w, n_train=args.rows or w.n_train))
        data = {"X_train": X, "y_train": y, "X_val": X[:1000], "y_val": y[:1000]}
    else:
        from swiftnn.data import get_fashion_mnist_data
        data = get_fashion_mnist_data()
        if args.rows:
            data["X_train"], data["y_train"] = data["X_train"][:args.rows], data["y_train"][:args.rows]
    cfg = {"hidden": [512, 256], "normalization": "batchnorm", "dropout": 0.6, "activation": "relu",
           "init": "he", "reg": 1e-4, "update_rule": args.update_rule, "lr": 1e-3, "lr_decay": 0.85,
           "batch_size": 128}
    model = build_model(cfg, 784, 10)
    trainer = swiftnn.Trainer(model, data, num_epochs=1, num_train_samples=1000, progress=False, verbose=False,
                              steps_per_call=data["X_train"].shape[0] // 128, seed=0, **solver_options(cfg))
    # The GEMM bound, in this process between the epochs: the step's GEMM FLOPs at the 2048^3
    # SGEMM rate (NumPy's OpenBLAS, its default threads) measured right after each epoch.
    flops = dataclasses.replace(workloads.WORKLOADS["W4"], n_train=data["X_train"].shape[0]).flops
    steps = data["X_train"].shape[0] // 128
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    c = np.empty_like(a)
    times, bounds = [], []
    for _ in range(args.epochs):
        trainer.train()
        times.append(trainer.train_seconds)
        np.matmul(a, a, out=c)
        rate = []
        for _ in range(5):
            t = time.perf_counter()
            np.matmul(a, a, out=c)
            rate.append(2 * 2048 ** 3 / (time.perf_counter() - t))
        bounds.append(flops * steps / float(np.median(rate)))
    print("epochs s: %s" % " ".join("%.3f" % t for t in times), flush=True)
    print("GEMM bound s (at the 2048^3 rate after each epoch): %s; epoch / bound: %s" % (
        " ".join("%.3f" % b for b in bounds), " ".join("%.2f" % (t / b) for t, b in zip(times, bounds))), flush=True)
    del trainer  # the engine prints its phase line as the trainer is freed


def start_child(args, lib=None):
    env = dict(os.environ, SWIFTNN_PROFILE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(os.path.dirname(HERE), "python"),
                                                      env.get("PYTHONPATH")]))
    if lib:
        env["SWIFTNN_LIB"] = lib
    cmd = [sys.executable, __file__, "--child", "--epochs", str(args.epochs), "--update-rule", args.update_rule]
    if args.random:
        cmd.append("--random")
    if args.rows:
        cmd += ["--rows", str(args.rows)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_child(proc):
    out, err = proc.communicate()
    epochs = [float(v) for line in out.splitlines() if line.startswith("epochs s:")
              for v in line.split(":", 1)[1].split()]
    profile = [line for line in err.splitlines() if "swiftnn profile" in line]
    if not epochs:
        sys.exit("child failed:\n" + err[-3000:])
    return epochs, profile[-1] if profile else ""


def run_child(args, lib=None):
    return finish_child(start_child(args, lib))


def phases(line):
    """{phase: ms per step} from the engine's profile line."""
    return {k: float(v) for k, v in re.findall(r"; ([a-zA-Z dWX]+?) ([0-9.]+) ms", line)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--random", action="store_true", help="random data of Fashion-MNIST's shape")
    ap.add_argument("--update-rule", default="adam")
    ap.add_argument("--rows", type=int, default=0, help="train on the first ROWS rows only (for callgrind)")
    ap.add_argument("--ab", nargs=2, metavar=("OLD_LIB", "NEW_LIB"), help="compare two libswiftnn.so builds")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--together", action="store_true",
                    help="with --ab, run each round's two processes at the same time (on a machine whose load "
                         "changes by the minute, both then see the same load)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if not args.ab:
        proc = start_child(args)
        out, err = proc.communicate()
        sys.stdout.write(out)
        sys.stdout.write("".join(line + "\n" for line in err.splitlines() if "swiftnn profile" in line))
        return proc.returncode
    ratios, seen = [], {0: [], 1: []}
    for r in range(args.rounds):
        order = (0, 1) if r % 2 == 0 else (1, 0)
        got = {}
        if args.together:
            procs = {i: start_child(args, args.ab[i]) for i in order}
            got = {i: finish_child(procs[i]) for i in order}
        else:
            for i in order:
                got[i] = run_child(args, args.ab[i])
        for i in order:
            seen[i].append(got[i])
        a, b = (float(np.median(got[i][0])) for i in (0, 1))
        ratios.append(b / a)
        print("round %d: old %.3f s, new %.3f s per epoch: new/old %.3f" % (r + 1, a, b, b / a), flush=True)
    print("new/old epoch ratio: median %.3f [%s]" % (np.median(ratios), " ".join("%.3f" % x for x in ratios)))
    for i, name in ((0, "old"), (1, "new")):
        ph = [phases(p) for _, p in seen[i]]
        keys = ph[0].keys() if ph else []
        print("%s phases, ms/step (median of rounds): %s" % (
            name, ", ".join("%s %.3f" % (k, np.median([p[k] for p in ph])) for k in keys)))
        print("  last: " + seen[i][-1][1])


if __name__ == "__main__":
    main()
