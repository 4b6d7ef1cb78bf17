"""Measures one contestant on one workload in this process and prints one JSON line.

    python bench/contestant.py CONTESTANT WORKLOAD [--min-iters N] [--min-seconds S] [--warmup N]

run.py starts one process per measurement so that each contestant's peak RSS is its own and
only its own thread pools exist. Contestants: numpy, layers, loss, native, jax, torch, sklearn
(epochs only: scikit-learn's MLPClassifier has no single-step call).
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import threads  # noqa: E402
import workloads  # noqa: E402

CONTESTANTS = ("numpy", "layers", "loss", "native", "jax", "torch", "sklearn")


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed_steps(step, steps_per_epoch, warmup, min_iters, min_seconds):
    """Warm-up, then single steps each timed alone. The first steps_per_epoch timed steps
    are also timed together as the epoch (sampling + steps, no accuracy check)."""
    losses = [step() for _ in range(warmup)]
    samples = []
    start = time.perf_counter()
    epoch = None
    while len(samples) < max(min_iters, steps_per_epoch) or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        losses.append(step())
        samples.append(time.perf_counter() - t)
        if len(samples) == steps_per_epoch:
            epoch = time.perf_counter() - start
    return samples, epoch, losses


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("contestant", choices=CONTESTANTS)
    ap.add_argument("workload", choices=sorted(workloads.WORKLOADS))
    ap.add_argument("--min-iters", type=int, default=200)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=3, help="native trainer: epochs timed through Trainer.train()")
    ap.add_argument("--full-epoch", action="store_true",
                    help="time at least one epoch's worth of steps for every contestant")
    args = ap.parse_args()
    w = workloads.WORKLOADS[args.workload]

    X, y = workloads.make_data(w)
    params = workloads.initial_params(w)
    rss_data = peak_rss_mib()
    result = {"contestant": args.contestant, "workload": w.key, "pid": os.getpid()}

    t0 = time.perf_counter()
    if args.contestant == "native":
        import swiftnn_contestants as sc
        result["version"] = sc.swiftnn.__version__
        result["threads_framework"] = {"swiftnn threads": sc.swiftnn.thread_count()}
        steps, epochs, losses, how = sc.native_trainer(w, X, y, params, epochs=args.epochs, min_iters=args.min_iters,
                                                       min_seconds=args.min_seconds, warmup=args.warmup)
        result["epoch_seconds"] = epochs
        result["epoch_kind"] = "measured: Trainer.train(), one epoch of %d steps" % w.steps_per_epoch
        result["step_kind"] = how
    elif args.contestant == "sklearn":
        import peer_sklearn as mod
        result["version"] = mod.VERSION
        result["threads_framework"] = mod.threads()
        epochs, losses, dtype = mod.epochs(w, X, y, params, max(1, args.epochs))
        result["epoch_seconds"] = epochs
        result["epoch_kind"] = "measured: MLPClassifier.fit, one epoch of %d shuffled minibatches (%s weights)" % (
            -(-w.n_train // w.batch), dtype)
        result["step_kind"] = "epoch / minibatches (no single-step call)"
        steps = [e / w.steps_per_epoch for e in epochs]
    else:
        if args.contestant == "numpy":
            import numpy_net as mod
            make = mod.make_step
            result["version"] = np.__version__
        elif args.contestant in ("layers", "loss"):
            import swiftnn_contestants as mod
            make = mod.make_layers_step if args.contestant == "layers" else mod.make_loss_step
            result["version"] = mod.swiftnn.__version__
            result["threads_framework"] = {"swiftnn threads": mod.swiftnn.thread_count()}
        elif args.contestant == "jax":
            import peer_jax as mod
            make = mod.make_step
            result["version"] = mod.VERSION
            result["threads_framework"] = mod.threads()
        else:
            import peer_torch as mod
            make = mod.make_step
            result["version"] = mod.VERSION
            result["threads_framework"] = mod.threads()
        step = make(w, X, y, params)
        per_epoch = w.steps_per_epoch if args.full_epoch else 0
        steps, epoch, losses = timed_steps(step, per_epoch, args.warmup, args.min_iters, args.min_seconds)
        if epoch is not None:
            result["epoch_seconds"] = [epoch]
            result["epoch_kind"] = "measured: %d sampled steps in a loop, no accuracy check" % w.steps_per_epoch
        result["step_kind"] = "single steps (sampling + forward + backward + update)"
        phases = getattr(step, "phases", None)
        if phases:
            timed = np.array(phases[-len(steps):]) * 1e3
            result["phases_ms"] = {name: float(np.median(timed[:, i]))
                                   for i, name in enumerate(("sample", "loss", "update"))}
    result["wall_seconds"] = time.perf_counter() - t0
    result["steps_ms"] = [s * 1e3 for s in steps]
    result["loss_first"] = float(losses[0])
    result["loss_last"] = float(losses[-1])
    result["finite"] = bool(np.all(np.isfinite(losses)))
    result["rss_data_mib"] = rss_data
    result["rss_peak_mib"] = peak_rss_mib()
    result["blas"] = threads.blas_pools()
    result["process_threads"] = threads.process_threads()
    result["env"] = threads.env()
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
