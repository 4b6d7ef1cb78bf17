"""`swiftnn search` on a tiny budget: the narrowing and edge rules, the divergence pruner, two
worker processes on one SQLite study, resuming an interrupted search, rerunning the best
configuration, and bad ranges. Small learnable Fashion-MNIST files written in the real format."""
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

optuna = pytest.importorskip("optuna")

from swiftnn.search import DivergencePruner, edge_warnings, narrow_space, parse_hidden
from test_cli import run
from test_data import write_learnable_fashion_mnist

TINY = ["--num-train", "500", "--coarse-train", "200", "--batch-size", "50", "--hidden", "32", "64-32"]


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashion-mnist")
    write_learnable_fashion_mnist(folder, n_train=600, n_test=100)
    return folder


def _trials(db, stage, name="swiftnn-search"):
    study = optuna.load_study(study_name="%s:%s" % (name, stage), storage="sqlite:///%s" % db)
    return study, study.get_trials(deepcopy=False)


# ---------------------------------------------------------------------------------------
# rules

SPACE = {"lr": [1e-4, 1e-2], "reg": [1e-6, 1e-2], "dropout": [0.5, 1.0], "hidden": ["256", "512", "512-256"]}


def _p(lr, reg, dropout, hidden="512"):
    return {"lr": lr, "reg": reg, "dropout": dropout, "hidden": hidden}


def test_narrow_space_centres_on_the_best_and_halves_at_most():
    results = [(0.90, _p(1e-3, 1e-4, 0.8, "512")), (0.89, _p(2e-3, 3e-4, 0.7, "512-256")),
               (0.88, _p(8e-4, 1e-4, 0.9, "512")), (0.50, _p(1e-2, 1e-2, 0.5, "256")), (0.3, _p(1e-4, 1e-6, 0.5, "256"))]
    fine = narrow_space(SPACE, results)
    lo, hi = (math.log10(v) for v in fine["lr"])
    assert lo <= -3 <= hi and 0.5 - 1e-9 <= hi - lo <= 1.0 + 1e-9  # a quarter to a half of 2 decades
    assert fine["reg"][0] < 1e-4 < fine["reg"][1]
    assert 0.5 <= fine["dropout"][0] < 0.8 < fine["dropout"][1] <= 1.0
    assert fine["hidden"] == ["512", "512-256"]  # the top three trials' architectures


def test_narrow_space_reaches_past_the_coarse_range_when_the_best_is_at_its_edge():
    results = [(0.9, _p(1.05e-4, 1e-4, 0.8)), (0.5, _p(1e-3, 1e-4, 0.8)), (0.4, _p(5e-3, 1e-4, 0.8))]
    fine = narrow_space(SPACE, results)
    assert fine["lr"][0] < 1e-4


def test_edge_warnings_name_the_value_the_range_and_the_flag():
    warnings = edge_warnings(SPACE, _p(9.5e-3, 1e-4, 0.75), "coarse")
    assert len(warnings) == 1
    assert "learning rate 0.0095" in warnings[0] and "upper edge" in warnings[0] and "--lr" in warnings[0]
    assert "lower edge" in edge_warnings(SPACE, _p(1e-3, 1.2e-6, 0.75), "coarse")[0]
    assert edge_warnings(SPACE, _p(1e-3, 1e-4, 1.0), "coarse") == []  # keep = 1 is no dropout, not an edge
    assert "outside" in edge_warnings(SPACE, _p(1e-3, 1e-4, 0.51), "fine")[0]


def test_parse_hidden():
    assert parse_hidden("512-256") == [512, 256] and parse_hidden("64") == [64]
    for bad in ("", "512-", "a-b", "0", "-5"):
        with pytest.raises(ValueError):
            parse_hidden(bad)


def test_divergence_pruner_stops_nan_and_losses_above_three_times_the_start():
    pruner = DivergencePruner(3.0)

    def frozen(values):
        return optuna.trial.create_trial(value=None, state=optuna.trial.TrialState.RUNNING,
                                         intermediate_values=values)

    assert not pruner.prune(None, frozen({}))
    assert not pruner.prune(None, frozen({1: 2.3, 10: 6.8}))
    assert pruner.prune(None, frozen({1: 2.3, 10: 7.0}))
    assert pruner.prune(None, frozen({1: 2.3, 10: float("nan")}))
    assert pruner.prune(None, frozen({1: 2.3, 10: float("inf")}))


# ---------------------------------------------------------------------------------------
# the command

def test_two_worker_processes_share_one_sqlite_study(fmnist, tmp_path):
    out = tmp_path / "search"
    # trials long enough (4 epochs of 8 steps) that the second process starts before the first is done
    p = run("search", "--data", fmnist, *TINY, "--coarse-trials", "12", "--coarse-epochs", "4", "--fine-trials", "4",
            "--fine-epochs", "2", "--workers", "2", "--seed", "0", "--out", out)
    coarse, coarse_trials = _trials(out / "study.db", "coarse")
    fine, fine_trials = _trials(out / "study.db", "fine")
    done = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED
    # each worker checks the budget before a trial; two may both start the last one
    assert 12 <= sum(t.state in done for t in coarse_trials) <= 13
    assert 4 <= sum(t.state in done for t in fine_trials) <= 5
    workers = {t.user_attrs["worker"] for t in coarse_trials + fine_trials}
    assert len(workers) == 2, workers
    assert (out / "worker-0.log").exists() and (out / "worker-1.log").exists()
    # the fine stage sampled inside the narrowed ranges stored with its study
    space = fine.user_attrs["space"]
    for t in fine_trials:
        assert space["lr"][0] <= t.params["lr"] <= space["lr"][1]
        assert t.params["hidden"] in space["hidden"]
    # the report: sorted table, scatter plot, best configuration
    assert "best first:" in p.stdout and "fine-stage ranges:" in p.stdout
    table = (out / "results.txt").read_text().splitlines()
    vals = [float(l.split()[3].rstrip("%")) for l in table[2:] if l.split()[3] != "-"]
    assert vals == sorted(vals, reverse=True) and len(table) >= 18
    assert (out / "scatter.png").read_bytes()[:4] == b"\x89PNG"
    best = json.loads((out / "best.json").read_text())
    assert best["epochs"] == 2 and best["num_train"] == 500 and best["data"] == str(fmnist)
    assert best["hidden"] in ([32], [64, 32]) and best["init"] == "scale"
    top = max((t for t in fine_trials if t.state == optuna.trial.TrialState.COMPLETE), key=lambda t: t.value)
    assert best["lr"] == top.params["lr"]

    # the best configuration reruns with swiftnn train --config
    rerun = run("train", "--config", out / "best.json", "--no-plots", "--out", tmp_path / "rerun")
    assert "epoch 2/2" in rerun.stdout and "test accuracy" in rerun.stdout

    # running the same command again resumes the finished study: nothing left to do
    again = run("search", "--data", fmnist, *TINY, "--coarse-trials", "12", "--coarse-epochs", "4", "--fine-trials", "4",
                "--fine-epochs", "2", "--workers", "1", "--out", out)
    assert "exists: resuming it" in again.stdout
    assert len(_trials(out / "study.db", "coarse")[1]) == len(coarse_trials)


def test_an_interrupted_search_resumes_where_it_stopped(fmnist, tmp_path):
    out = tmp_path / "search"
    args = ["search", "--data", str(fmnist), *TINY, "--coarse-trials", "30", "--coarse-epochs", "3",
            "--fine-trials", "0", "--workers", "1", "--seed", "3", "--out", str(out), "--no-plots"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "swiftnn"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        finished = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "study.db").exists():
                try:
                    finished = sum(t.state == optuna.trial.TrialState.COMPLETE
                                   for t in _trials(out / "study.db", "coarse")[1])
                except Exception:  # the study is being created
                    finished = 0
                if finished >= 3:
                    break
            time.sleep(0.2)
        assert proc.poll() is None, "the search finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "run the same command to resume" in stdout, (stdout, stderr)
    states = [t.state for t in _trials(out / "study.db", "coarse")[1]]
    done_before = sum(s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for s in states)
    assert 3 <= done_before < 30

    p = run(*args)
    assert "resuming" in p.stdout and "(%d coarse trials done)" % done_before in p.stdout
    states = [t.state for t in _trials(out / "study.db", "coarse")[1]]
    assert sum(s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for s in states) == 30


def test_diverging_trials_are_pruned_with_the_reason(fmnist, tmp_path):
    out = tmp_path / "search"
    p = run("search", "--data", fmnist, "--num-train", "500", "--coarse-train", "300", "--batch-size", "50",
            "--hidden", "64", "--normalization", "none", "--activation", "leaky_relu",  # no dead units
            "--update-rule", "sgd_momentum", "--lr", "50", "500", "--seed", "0",
            "--coarse-trials", "3", "--fine-trials", "0", "--workers", "1", "--out", out, check=False)
    assert p.returncode == 1 and "no trial finished" in p.stdout
    _, trials = _trials(out / "study.db", "coarse")
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in trials) and len(trials) == 3
    for t in trials:
        assert "rose above 3 x its start" in t.user_attrs["stopped"] or "became" in t.user_attrs["stopped"]
        assert max(t.intermediate_values) < 300  # stopped within the first epoch (6 iterations)
    assert "stopped:" in p.stdout


@pytest.mark.parametrize("args, message", [
    (["--lr", "1e-2", "1e-4"], "LOW is above HIGH"),
    (["--reg", "0", "1e-2"], "a log-uniform range must be above 0"),
    (["--weight-scale", "-1", "1"], "a log-uniform range must be above 0"),
    (["--dropout", "0.5", "1.5"], "keep probabilities must lie in (0, 1]"),
    (["--lr", "1e-3"], "expected 2 arguments"),
    (["--hidden", "512-abc"], "is not a list of hidden sizes"),
    (["--coarse-trials", "0"], "--coarse-trials 0: must be at least 1"),
    (["--coarse-train", "100000"], "only 55000 training rows"),
    (["--explode", "0.5"], "the factor must be above 1"),
    (["--storage", "postgresql://nobody@127.0.0.1:9/none"], "cannot open the study storage"),
    (["--storage", "nosuchdb://x"], "cannot open the study storage"),
])
def test_impossible_ranges_and_bad_storage_fail_clearly(tmp_path, args, message):
    p = run("search", "--out", tmp_path, *args, check=False)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert message in p.stderr and "Traceback" not in p.stderr
