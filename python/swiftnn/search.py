"""``swiftnn search``: random hyperparameter search as CS231n's lectures teach it, on Optuna.

- Random sampling (Optuna's RandomSampler): learning rate, regularization strength and weight
  scale log-uniform, dropout keep probability uniform, the architecture from a list of choices.
- A coarse stage (many short trials on part of the training rows), then a fine stage (fewer,
  longer trials on all of them) in ranges narrowed around the best coarse trials.
- Trials whose loss becomes NaN/Inf or rises above 3x its start are stopped early: the training
  loss is reported to the trial, and :class:`DivergencePruner` prunes it.
- After each stage: a warning when the best value sits at the edge of its range (the optimum may
  lie outside it).

A search is two Optuna studies, ``NAME:coarse`` and ``NAME:fine``, in one storage: an SQLite file
by default, or a PostgreSQL URL shared by several machines. The search's settings are stored
with the coarse study (user attribute ``spec``) and the fine stage's ranges with the fine study
(``space``), so any number of worker processes, on any machine, can join the same search and an
interrupted search resumes where it stopped: every worker runs trials until its stage has its
budget, waits for the coarse stage to finish before the fine stage, and then computes the same
narrowed ranges. Workers send heartbeats; a trial of a worker that died is marked failed after
a grace period and run again.

Output (``--out``): ``results.txt`` and ``results.csv`` (all trials, best first), ``scatter.png``
(learning rate vs regularization coloured by validation accuracy), ``best.json`` (the best
trial's settings: ``swiftnn train --config best.json`` reruns it) and ``worker-K.log``.

The trials are :func:`swiftnn.experiment.short_train` runs; the command's flags are in
:mod:`swiftnn.cli.search`, and :func:`run_search` takes its parsed arguments.
"""
import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

from .experiment import Diverged, UsageError, load_dataset, short_train, validate

__all__ = ["run_search", "DivergencePruner", "narrow_space", "edge_warnings",
           "trial_config", "parse_hidden"]

DEFAULT_HIDDEN = ["256", "512", "512-256", "1024-512"]
LOG_PARAMS = ("lr", "reg", "weight_scale")
_LABELS = {"lr": "learning rate", "reg": "regularization", "weight_scale": "weight scale", "dropout": "dropout keep"}
_FLAGS = {"lr": "--lr", "reg": "--reg", "weight_scale": "--weight-scale", "dropout": "--dropout"}


def _optuna():
    try:
        import optuna
    except ImportError:
        raise UsageError("swiftnn search needs Optuna: pip install optuna (or the package's search extra, "
                         "pip install 'swiftnn[search]'; and 'psycopg[binary]' for PostgreSQL)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


# ------------------------------------------------------------------------------------------
# the search's settings

def parse_hidden(text):
    """'512-256' -> [512, 256]; ValueError for anything but positive integers joined by '-'."""
    try:
        sizes = [int(p) for p in str(text).split("-")]
    except ValueError:
        sizes = []
    if not sizes or any(s < 1 for s in sizes):
        raise ValueError("%r is not a list of hidden sizes like 512-256" % (text,))
    return sizes


def _spec(args):

    def check_range(key, positive_log):
        lo, hi = getattr(args, key)
        flag = _FLAGS[key]
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise UsageError("%s %g %g: the range must be finite" % (flag, lo, hi))
        if lo > hi:
            raise UsageError("%s %g %g: LOW is above HIGH, so the range is empty" % (flag, lo, hi))
        if positive_log and lo <= 0:
            raise UsageError("%s %g %g: a log-uniform range must be above 0" % (flag, lo, hi))
        if key == "dropout" and not (0 < lo and hi <= 1):
            raise UsageError("%s %g %g: keep probabilities must lie in (0, 1]" % (flag, lo, hi))
        return [float(lo), float(hi)]

    space = {"lr": check_range("lr", True), "reg": check_range("reg", True), "dropout": check_range("dropout", False)}
    if args.init == "scale":
        space["weight_scale"] = check_range("weight_scale", True)
    hidden = []
    for h in args.hidden:
        try:
            hidden.append("-".join(map(str, parse_hidden(h))))
        except ValueError as e:
            raise UsageError("--hidden: %s" % e) from None
    space["hidden"] = sorted(set(hidden), key=hidden.index)
    for name in ("coarse_trials", "coarse_epochs", "coarse_train", "fine_epochs", "workers"):
        if getattr(args, name) < 1:
            raise UsageError("--%s %d: must be at least 1" % (name.replace("_", "-"), getattr(args, name)))
    if args.fine_trials < 0:
        raise UsageError("--fine-trials %d: must be 0 or more" % args.fine_trials)
    if not (args.explode > 1):
        raise UsageError("--explode %g: the factor must be above 1" % args.explode)
    base = {k: getattr(args, k) for k in ("dataset", "data", "preprocess", "num_train", "num_val", "normalization",
                                          "activation", "init", "update_rule", "lr_decay", "schedule", "warmup",
                                          "batch_size")}
    validate(dict(base, lr=space["lr"][0], reg=space["reg"][0], dropout=space["dropout"][1]))
    from .data import DATASETS
    num_train = args.num_train or DATASETS[args.dataset]["num_training"]
    if args.coarse_train > num_train:
        raise UsageError("--coarse-train %d: only %d training rows (--num-train)" % (args.coarse_train, num_train))
    return {"base": base, "space": space, "explode": float(args.explode),
            "coarse": {"trials": args.coarse_trials, "epochs": args.coarse_epochs, "train_rows": args.coarse_train},
            "fine": {"trials": args.fine_trials, "epochs": args.fine_epochs, "train_rows": num_train}}


def trial_config(spec, params, epochs, num_train):
    """The `swiftnn train` settings of a trial: the search's fixed settings plus its sampled values."""
    base = spec["base"]
    cfg = {k: base[k] for k in ("dataset", "data", "preprocess", "normalization", "activation", "init",
                                "update_rule", "lr_decay", "schedule", "warmup", "batch_size")}
    cfg.update({"num_train": num_train, "num_val": base["num_val"], "hidden": parse_hidden(params["hidden"]),
                "lr": params["lr"], "reg": params["reg"], "dropout": params["dropout"],
                "weight_scale": params.get("weight_scale", 1e-2), "epochs": epochs})
    if cfg["data"] is None:
        del cfg["data"]
    if cfg["num_val"] is None:
        del cfg["num_val"]
    return cfg


# ------------------------------------------------------------------------------------------
# pruning, narrowing, edges

def _pruner_class():
    optuna = _optuna()

    class DivergencePruner(optuna.pruners.BasePruner):
        """Prunes a trial whose reported training loss is NaN/Inf or above factor times the first
        loss it reported (the steps are iterations)."""

        def __init__(self, factor=3.0):
            self.factor = float(factor)

        def prune(self, study, trial):
            values = trial.intermediate_values
            if not values:
                return False
            steps = sorted(values)
            first, last = values[steps[0]], values[steps[-1]]
            return not math.isfinite(last) or (math.isfinite(first) and last > self.factor * first)

    return DivergencePruner


def DivergencePruner(factor=3.0):
    """An Optuna pruner (see _pruner_class) that stops diverging trials."""
    return _pruner_class()(factor)


def narrow_space(space, results):
    """The fine stage's ranges: around the best completed trials of the coarse stage.

    results: (value, params) of completed trials. For each log-uniform range, the span (in log
    space) of the top max(3, 20%) trials, widened to at least a quarter of the coarse span and
    cut to at most half of it, centred on the best trial, which may reach past the coarse range
    when the best sits at its edge. Dropout likewise in linear space, kept in (0, 1]. The
    architectures: those of the top trials."""
    done = sorted(results, key=lambda r: -r[0])
    if not done:
        return dict(space)
    k = min(len(done), max(3, int(math.ceil(0.2 * len(done)))))
    top = [p for _, p in done[:k]]
    best = done[0][1]
    fine = {}
    for key in LOG_PARAMS + ("dropout",):
        if key not in space:
            continue
        lo, hi = space[key]
        log = key in LOG_PARAMS
        f = math.log10 if log else float
        inv = (lambda v: 10.0 ** v) if log else float
        width = f(hi) - f(lo)
        if width <= 0:
            fine[key] = [lo, hi]
            continue
        c = f(best[key])
        vals = [f(p[key]) for p in top]
        a, b = min(min(vals), c - width / 8), max(max(vals), c + width / 8)
        a, b = max(a, c - width / 4), min(b, c + width / 4)
        a, b = inv(a), inv(b)
        if key == "dropout":
            a, b = max(a, 0.05), min(b, 1.0)
        fine[key] = [float("%.4g" % a), float("%.4g" % b)]
    fine["hidden"] = [h for h in space["hidden"] if h in {p["hidden"] for p in top}]
    return fine


def edge_warnings(space, best_params, stage, margin=0.1):
    """Warnings for sampled values of the best trial within margin (a fraction of the range, in log
    space for log-uniform ranges) of an edge of their range."""
    out = []
    for key in LOG_PARAMS + ("dropout",):
        if key not in space or key not in best_params:
            continue
        lo, hi = space[key]
        log = key in LOG_PARAMS
        f = math.log10 if log else float
        width = f(hi) - f(lo)
        if width <= 0:
            continue
        v = f(best_params[key])
        where = None
        if v - f(lo) < margin * width:
            where = "lower"
        elif f(hi) - v < margin * width and not (key == "dropout" and hi >= 1.0):
            where = "upper"
        if where:
            hint = ("widen %s" % _FLAGS[key]) if stage == "coarse" else "the optimum may lie outside it"
            out.append("the best %s %.3g (%s stage) sits at the %s edge of its range [%.3g, %.3g]: %s"
                       % (_LABELS[key], best_params[key], stage, where, lo, hi, hint))
    return out


# ------------------------------------------------------------------------------------------
# storage and studies

def _redact(url):
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        if ":" in cred:
            cred = cred.split(":", 1)[0] + ":***"
        return "%s://%s@%s" % (scheme, cred, host)
    return url


def _with_driver(url):
    """postgresql:// URLs with a PostgreSQL driver that is installed: psycopg (3), SQLAlchemy's
    default, else psycopg2."""
    import importlib.util
    scheme, sep, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres") or not sep:
        return url
    if importlib.util.find_spec("psycopg") is not None:
        return "postgresql+psycopg://" + rest
    if importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + rest
    raise UsageError("--storage %s: no PostgreSQL driver is installed: pip install 'psycopg[binary]' "
                     "(or psycopg2-binary)" % _redact(url))


def open_storage(url):
    """An Optuna RDBStorage with heartbeats (a trial of a worker that died is failed after a minute
    and run again). Processes that create the tables of a new database at the same moment may
    collide; the loser retries, and finds the tables made."""
    import random
    optuna = _optuna()
    shown = _redact(url)
    driver_url = _with_driver(url)
    kwargs = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 120}}
    for attempt in range(6):
        try:
            return optuna.storages.RDBStorage(driver_url, engine_kwargs=kwargs, heartbeat_interval=10, grace_period=60)
        except ImportError as e:
            raise UsageError("--storage %s: the database driver is missing (%s); for PostgreSQL: pip install "
                             "'psycopg[binary]'" % (shown, e)) from None
        except Exception as e:  # sqlalchemy errors: bad URL, server down, authentication, a race
            name = type(e).__name__
            if name in ("IntegrityError", "ProgrammingError") and attempt < 5:
                time.sleep(0.5 + random.random())
                continue
            first = str(e).strip().splitlines()[0] if str(e).strip() else name
            raise UsageError("--storage %s: cannot open the study storage (%s: %s)" % (shown, name, first)) from None


def _study(storage, name, seed, explode, create=False):
    optuna = _optuna()
    sampler = optuna.samplers.RandomSampler(seed=seed)
    pruner = DivergencePruner(explode)
    if create:
        return optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                   direction="maximize", load_if_exists=True)
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)


def _counts(study):
    from optuna.trial import TrialState
    counts = {s: 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        counts[t.state] += 1
    return counts


def _worker_seed(seed, worker_index, stage_index, existing):
    if seed is None:
        return None
    return (seed * 1_000_003 + worker_index * 7919 + stage_index * 104_729 + existing * 31) % (2**32)


# ------------------------------------------------------------------------------------------
# Ctrl-C. A KeyboardInterrupt that lands while Optuna writes a trial's result to the storage can
# leave the trial in a broken state (and Optuna fails on it), so SIGINT only interrupts the
# training inside an objective; anywhere else it is noted and acted on at the next safe point.

class _StopRequest:
    def __init__(self):
        self.requested = False
        self.inside = False

    def __call__(self, signum, frame):
        self.requested = True
        if self.inside:
            raise KeyboardInterrupt

    def check(self):
        if self.requested:
            raise KeyboardInterrupt


_STOP = _StopRequest()


class _Deferred:
    """Within: SIGINT waits (storage writes); on leaving, a pending stop is raised."""

    def __enter__(self):
        self.was = _STOP.inside
        _STOP.inside = False

    def __exit__(self, *exc):
        _STOP.inside = self.was
        if exc[0] is None and self.was:
            _STOP.check()
        return False


class _Interruptible:
    """Within: SIGINT raises KeyboardInterrupt at once (training)."""

    def __enter__(self):
        _STOP.check()
        _STOP.inside = True

    def __exit__(self, *exc):
        _STOP.inside = False
        return False


# ------------------------------------------------------------------------------------------
# a worker

def _objective(spec, stage, space, data, report_every, trial_seed_base):
    optuna = _optuna()

    epochs = spec[stage]["epochs"]
    explode = spec["explode"]

    def objective(trial):
        params = {"lr": trial.suggest_float("lr", *space["lr"], log=True),
                  "reg": trial.suggest_float("reg", *space["reg"], log=True)}
        if "weight_scale" in space:
            params["weight_scale"] = trial.suggest_float("weight_scale", *space["weight_scale"], log=True)
        params["dropout"] = trial.suggest_float("dropout", *space["dropout"])
        params["hidden"] = trial.suggest_categorical("hidden", space["hidden"])
        cfg = trial_config(spec, params, epochs, len(data["X_train"]))
        trial.set_user_attr("stage", stage)
        trial.set_user_attr("worker", "%s:%d" % (socket.gethostname(), os.getpid()))
        first = []

        def on_loss(iteration, loss):
            finite = math.isfinite(loss)
            if first == [] and finite:
                first.append(loss)
            exploding = not finite or loss > explode * first[0]
            if iteration == 1 or iteration % report_every == 0 or exploding:
                with _Deferred():
                    trial.report(float(loss), iteration)
                    prune = exploding and trial.should_prune()
                if prune:
                    why = ("loss became %r at iteration %d" % (loss, iteration) if not finite else
                           "loss %.3g rose above %g x its start %.3g at iteration %d"
                           % (loss, explode, first[0], iteration))
                    with _Deferred():
                        trial.set_user_attr("stopped", why)
                        trial.set_user_attr("seconds", time.perf_counter() - started)
                    raise optuna.TrialPruned(why)

        started = time.perf_counter()
        try:
            with _Interruptible():
                r = short_train(cfg, data, epochs, seed=trial_seed_base + trial.number, explode_factor=None,
                                on_loss=on_loss)
        except Diverged as e:
            trial.report(float("inf"), max(e.iteration, 1))
            trial.set_user_attr("stopped", e.reason)
            trial.set_user_attr("seconds", time.perf_counter() - started)
            raise optuna.TrialPruned(e.reason) from None
        trial.set_user_attr("train_acc", r["train_acc"])
        trial.set_user_attr("seconds", r["seconds"])
        trial.set_user_attr("epochs", epochs)
        return r["best_val_acc"]

    return objective


def _run_stage(study, budget, objective, on_trial=None):
    """Run trials until the study has `budget` trials that are complete, pruned or running."""
    optuna = _optuna()
    from optuna.trial import TrialState
    while True:
        _STOP.check()
        optuna.storages.fail_stale_trials(study)
        c = _counts(study)
        if c[TrialState.COMPLETE] + c[TrialState.PRUNED] + c[TrialState.RUNNING] >= budget:
            return
        callbacks = [lambda _study, trial: on_trial(trial)] if on_trial is not None else None
        study.optimize(objective, n_trials=1, callbacks=callbacks)


def _wait_stage(study, budget, timeout):
    """Wait (at most timeout seconds) until no trial of study runs; True when it has its budget."""
    optuna = _optuna()
    from optuna.trial import TrialState
    deadline = time.monotonic() + timeout
    while True:
        _STOP.check()
        optuna.storages.fail_stale_trials(study)
        c = _counts(study)
        if c[TrialState.RUNNING] == 0:
            return c[TrialState.COMPLETE] + c[TrialState.PRUNED] >= budget
        if time.monotonic() > deadline:
            print("warning: %d trial(s) of %s still running after %.0f s; going on without them"
                  % (c[TrialState.RUNNING], study.study_name, timeout), flush=True)
            return True
        time.sleep(0.5)


def _stage_data(spec):
    base = spec["base"]
    cfg = dict(base)
    data, _ = load_dataset(cfg, num_test=0)
    coarse = dict(data)
    n = spec["coarse"]["train_rows"]
    coarse["X_train"], coarse["y_train"] = data["X_train"][:n], data["y_train"][:n]
    for d in (data, coarse):
        d.pop("X_test", None), d.pop("y_test", None)
    return coarse, data


def work(storage, name, worker_index=0, seed=None, on_trial=None):
    """One worker: trials of the coarse stage until it has its budget, then (after the coarse
    stage has finished everywhere) trials of the fine stage. storage: a URL or an open storage."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        return _work(storage, name, worker_index, seed, on_trial)
    _STOP.requested = False
    previous = signal.signal(signal.SIGINT, _STOP)
    try:
        return _work(storage, name, worker_index, seed, on_trial)
    finally:
        signal.signal(signal.SIGINT, previous)


def _work(storage, name, worker_index, seed, on_trial):
    from optuna.trial import TrialState
    if isinstance(storage, str):
        storage = open_storage(storage)
    coarse = _study(storage, name + ":coarse", None, 3.0)
    spec = coarse.user_attrs["spec"]
    coarse_data, full_data = _stage_data(spec)
    existing = len(coarse.get_trials(deepcopy=False))
    coarse = _study(storage, name + ":coarse", _worker_seed(seed, worker_index, 0, existing), spec["explode"])
    ipe = max(len(coarse_data["X_train"]) // spec["base"]["batch_size"], 1)
    objective = _objective(spec, "coarse", spec["space"], coarse_data, max(ipe // 4, 1), 0)
    budget = spec["coarse"]["trials"]
    while True:
        _run_stage(coarse, budget, objective, on_trial)
        if spec["fine"]["trials"] == 0 or _wait_stage(coarse, budget, timeout=_stage_timeout(coarse)):
            break
    if spec["fine"]["trials"] == 0:
        return
    existing = len(coarse.get_trials(deepcopy=False))
    fine = _study(storage, name + ":fine", _worker_seed(seed, worker_index, 1, existing), spec["explode"], create=True)
    space = fine.user_attrs.get("space")
    if space is None:
        results = [(t.value, t.params) for t in coarse.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
        space = narrow_space(spec["space"], results)
        fine.set_user_attr("space", space)
        space = fine.user_attrs.get("space", space)
    ipe = max(len(full_data["X_train"]) // spec["base"]["batch_size"], 1)
    objective = _objective(spec, "fine", space, full_data, max(ipe // 4, 1), 1_000_000)
    _run_stage(fine, spec["fine"]["trials"], objective, on_trial)


def _stage_timeout(study):
    times = [t.user_attrs.get("seconds", 0.0) for t in study.get_trials(deepcopy=False)]
    return max(300.0, 10.0 * max(times or [0.0]))


# ------------------------------------------------------------------------------------------
# reporting

def _rows(studies):
    from optuna.trial import TrialState
    rows = []
    for stage, study in studies:
        if study is None:
            continue
        for t in study.get_trials(deepcopy=False):
            if t.state not in (TrialState.COMPLETE, TrialState.PRUNED) or not t.params:
                continue
            rows.append({"stage": stage, "trial": t.number, "val_acc": t.value if t.state == TrialState.COMPLETE else None,
                         "train_acc": t.user_attrs.get("train_acc"), "lr": t.params.get("lr"),
                         "reg": t.params.get("reg"), "weight_scale": t.params.get("weight_scale"),
                         "dropout": t.params.get("dropout"), "hidden": t.params.get("hidden"),
                         "epochs": t.user_attrs.get("epochs"), "seconds": t.user_attrs.get("seconds"),
                         "note": t.user_attrs.get("stopped", ""), "params": t.params})
    rows.sort(key=lambda r: (r["val_acc"] is None, -(r["val_acc"] or 0), r["stage"] != "fine"))
    return rows


def _fmt(v, spec="%.2e"):
    return "-" if v is None else spec % v


def trial_line(stage, t):
    """One printed line for a finished trial."""
    p = t.params
    values = "lr %s  reg %s  %skeep %.2f  %-9s" % (_fmt(p.get("lr")), _fmt(p.get("reg")),
                                                   ("ws %s  " % _fmt(p["weight_scale"])) if "weight_scale" in p else "",
                                                   p.get("dropout", float("nan")), p.get("hidden", "?"))
    from optuna.trial import TrialState
    if t.state == TrialState.COMPLETE:
        result = "val %6.2f%%  train %6.2f%%" % (100 * t.value, 100 * (t.user_attrs.get("train_acc") or 0))
    else:
        result = "stopped: %s" % t.user_attrs.get("stopped", t.state.name.lower())
    return "%-6s #%-3d %s  %s  %5.1f s" % (stage, t.number, values, result, t.user_attrs.get("seconds", 0.0))


def _table(rows, limit=None):
    head = "%4s  %-6s %5s  %7s  %7s  %9s  %9s  %9s  %5s  %-9s  %6s  %s" % (
        "rank", "stage", "trial", "val", "train", "lr", "reg", "w.scale", "keep", "hidden", "sec", "note")
    lines = [head, "-" * len(head)]
    for i, r in enumerate(rows[:limit] if limit else rows, 1):
        lines.append("%4d  %-6s %5d  %7s  %7s  %9s  %9s  %9s  %5.2f  %-9s  %6.1f  %s" % (
            i, r["stage"], r["trial"], _fmt(r["val_acc"] and 100 * r["val_acc"], "%6.2f%%"),
            _fmt(r["train_acc"] and 100 * r["train_acc"], "%6.2f%%"), _fmt(r["lr"]), _fmt(r["reg"]),
            _fmt(r["weight_scale"]), r["dropout"], r["hidden"], r["seconds"] or 0.0, r["note"]))
    return "\n".join(lines)


def _report(spec, studies, out, plots=True):
    rows = _rows(studies)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        keys = ["stage", "trial", "val_acc", "train_acc", "lr", "reg", "weight_scale", "dropout", "hidden", "epochs",
                "seconds", "note"]
        w.writerow(keys)
        for r in rows:
            w.writerow(["" if r[k] is None else r[k] for k in keys])
    (out / "results.txt").write_text(_table(rows) + "\n")
    done = [r for r in rows if r["val_acc"] is not None]
    print()
    print("%d trials (%d stopped early), best first:" % (len(rows), len(rows) - len(done)))
    print(_table(rows, limit=15))
    if len(rows) > 15:
        print("  ... %d more in %s" % (len(rows) - 15, out / "results.txt"))
    for stage, study in studies:
        if study is None:
            continue
        stage_done = [r for r in done if r["stage"] == stage]
        space = spec["space"] if stage == "coarse" else study.user_attrs.get("space", spec["space"])
        if stage == "fine":
            print("fine-stage ranges: " + ", ".join(
                "%s [%.3g, %.3g]" % (k, *space[k]) for k in LOG_PARAMS + ("dropout",) if k in space)
                + ", hidden " + " ".join(space["hidden"]))
        if stage_done:
            for w in edge_warnings(space, stage_done[0]["params"], stage):
                print("warning: " + w)
    if plots:
        from . import plots as plotting
        fine = dict(studies).get("fine")
        box = fine.user_attrs.get("space") if fine is not None else None
        if plotting.search_scatter(out / "scatter.png", rows, box=box, title="Random search: %d trials (%s)"
                                   % (len(rows), spec["base"]["dataset"])):
            print("wrote %s" % (out / "scatter.png"))
    if not done:
        print("no trial finished: no best configuration (every trial diverged? lower --lr)")
        return None
    best = next((r for r in done if r["stage"] == "fine"), done[0])
    epochs = spec[best["stage"]]["epochs"]
    cfg = trial_config(spec, best["params"], epochs, spec[best["stage"]]["train_rows"])
    (out / "best.json").write_text(json.dumps(cfg, indent=2) + "\n")
    print("best: %.2f%% validation accuracy (%s trial #%d): lr %.3g, reg %.3g, %skeep %.2f, hidden %s"
          % (100 * best["val_acc"], best["stage"], best["trial"], best["lr"], best["reg"],
             ("weight scale %.3g, " % best["weight_scale"]) if best["weight_scale"] else "", best["dropout"], best["hidden"]))
    print("wrote %s, %s and %s; rerun the best with: swiftnn train --config %s"
          % (out / "results.txt", out / "results.csv", out / "best.json", out / "best.json"))
    return best


# ------------------------------------------------------------------------------------------
# the command

def run_search(args):
    optuna = _optuna()
    out = Path(args.out)
    if args.storage is None:
        out.mkdir(parents=True, exist_ok=True)
        args.storage = "sqlite:///%s" % (out / "study.db").resolve()
    if args.worker:
        work(args.storage, args.study, args.worker_index, args.seed,
             on_trial=lambda t: print(trial_line(t.user_attrs.get("stage", "?"), t), flush=True))
        return 0

    spec = _spec(args)
    storage = open_storage(args.storage)
    coarse = _study(storage, args.study + ":coarse", None, spec["explode"], create=True)
    stored = coarse.user_attrs.get("spec")
    if stored is None:
        coarse.set_user_attr("spec", spec)
    elif json.dumps(stored, sort_keys=True) != json.dumps(spec, sort_keys=True):
        changed = sorted(k for k in set(stored) | set(spec) if stored.get(k) != spec.get(k))
        print("study %r exists with other settings (%s): keeping the stored ones" % (args.study, ", ".join(changed)))
        spec = stored
    else:
        print("study %r exists: resuming it" % args.study)
    from optuna.trial import TrialState
    c = _counts(coarse)
    print("search %r in %s: coarse %d trials x %d epoch(s) on %d rows, fine %d trials x %d epoch(s) on %d rows; %d worker(s)%s"
          % (args.study, _redact(args.storage), spec["coarse"]["trials"], spec["coarse"]["epochs"],
             spec["coarse"]["train_rows"], spec["fine"]["trials"], spec["fine"]["epochs"], spec["fine"]["train_rows"],
             args.workers, (" (%d coarse trials done)" % (c[TrialState.COMPLETE] + c[TrialState.PRUNED])) if sum(c.values()) else ""))
    started = time.perf_counter()
    try:
        if args.workers == 1:
            work(storage, args.study, 0, args.seed,
                 on_trial=lambda t: print(trial_line(t.user_attrs.get("stage", "?"), t), flush=True))
        else:
            _run_workers(args, storage, spec)
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials are kept in %s; run the same command to resume" % _redact(args.storage))
        return 130
    print("search took %.1f s" % (time.perf_counter() - started))
    fine = None
    if spec["fine"]["trials"]:
        try:
            fine = _study(storage, args.study + ":fine", None, spec["explode"])
        except KeyError:
            fine = None
    best = _report(spec, [("coarse", coarse), ("fine", fine)], out, plots=not args.no_plots)
    return 0 if best is not None else 1


def _run_workers(args, storage, spec):
    """Start args.workers worker processes, print each finished trial, wait for all of them."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core per worker
    procs, logs = [], []
    for k in range(args.workers):
        cmd = [sys.executable, "-m", "swiftnn", "search", "--worker", "--storage", args.storage, "--study", args.study,
               "--worker-index", str(k), "--out", str(out)]
        if args.seed is not None:
            cmd += ["--seed", str(args.seed)]
        log = open(out / ("worker-%d.log" % k), "w")
        logs.append(log)
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env))
    seen = set()
    try:
        while True:
            alive = [p for p in procs if p.poll() is None]
            _print_new(storage, args.study, seen)
            if not alive:
                break
            time.sleep(1.0)
        _print_new(storage, args.study, seen)
    except KeyboardInterrupt:
        # each worker stops its trial (marked failed, run again on resume) and exits
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        raise
    finally:
        for log in logs:
            log.close()
    failed = [(k, p.returncode) for k, p in enumerate(procs) if p.returncode != 0]
    for k, code in failed:
        tail = (out / ("worker-%d.log" % k)).read_text().strip().splitlines()[-15:]
        print("worker %d exited with status %d; the end of %s:\n    %s"
              % (k, code, out / ("worker-%d.log" % k), "\n    ".join(tail)))
    if failed:
        raise UsageError("%d of %d workers failed" % (len(failed), len(procs)))


def _print_new(storage, name, seen):
    optuna = _optuna()
    from optuna.trial import TrialState
    for stage in ("coarse", "fine"):
        try:
            study = optuna.load_study(study_name="%s:%s" % (name, stage), storage=storage)
        except KeyError:
            continue
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
            if (stage, t.number) not in seen:
                seen.add((stage, t.number))
                print(trial_line(stage, t), flush=True)
