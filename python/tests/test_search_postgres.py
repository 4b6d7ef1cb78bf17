"""`swiftnn search` against a real PostgreSQL server, as several machines share one search.

The fixture starts a throwaway server on 127.0.0.1 (initdb in a temporary folder, trust
authentication, a free port), as the `postgres` user when the tests run as root, and stops it
afterwards; every wait is bounded. When no PostgreSQL server is installed and the tests run as
root, it installs Debian's `postgresql` package first (`make test` installs it up front through
scripts/install-deps.sh).
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("psycopg", reason="psycopg[binary] is in requirements-dev.txt")

from test_data import write_learnable_fashion_mnist


def _pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


def _install_postgresql():
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, timeout=600, check=False, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], env=env, timeout=900, check=False,
                   capture_output=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    bindir = _pg_bin()
    if bindir is None:
        _install_postgresql()
        bindir = _pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server (apt-get install postgresql, or run `make test` as root)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = tempfile.mkdtemp(prefix="swiftnn-pg-")
    data, log = os.path.join(base, "data"), os.path.join(base, "server.log")
    if as_root:
        shutil.chown(base, "postgres", "postgres")
    port = _free_port()
    ctl = prefix + [os.path.join(bindir, "pg_ctl"), "-D", data]
    try:
        subprocess.run(prefix + [os.path.join(bindir, "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
                                 "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120)
        subprocess.run(ctl + ["-l", log, "-w", "-t", "60", "-o",
                              "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off" % (port, base), "start"],
                       check=True, capture_output=True, timeout=90)
        subprocess.run(prefix + [os.path.join(bindir, "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                                 "postgres", "swiftnn"], check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        server_log = open(log).read() if os.path.exists(log) else ""
        subprocess.run(ctl + ["-m", "immediate", "-w", "-t", "30", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail("could not start PostgreSQL: %s\n%s\n%s" % (e, getattr(e, "stderr", b"") or b"", server_log))
    try:
        yield "postgresql://postgres@127.0.0.1:%d/swiftnn" % port
    finally:
        subprocess.run(ctl + ["-m", "fast", "-w", "-t", "60", "stop"], capture_output=True, timeout=90)
        shutil.rmtree(base, ignore_errors=True)


def test_two_machines_share_one_search_on_postgresql(postgres_url, tmp_path):
    folder = tmp_path / "fashion-mnist"
    write_learnable_fashion_mnist(folder, n_train=600, n_test=100)
    common = ["search", "--storage", postgres_url, "--study", "shared", "--data", str(folder), "--num-train", "500",
              "--coarse-train", "500", "--batch-size", "25", "--hidden", "32", "64-32", "--coarse-trials", "30",
              "--coarse-epochs", "16", "--fine-trials", "3", "--fine-epochs", "2", "--no-plots"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("SWIFTNN_DATA", None)
    # "machine A" runs two worker processes, "machine B" one; both join the same study (30 trials
    # of 320 steps: several seconds of work, so that every worker has started, ~2 s for Python,
    # NumPy and Optuna, before the coarse stage is done even with the native trainer's speed)
    procs = [subprocess.Popen([sys.executable, "-m", "swiftnn"] + common + ["--workers", str(w), "--out",
                                                                          str(tmp_path / name)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
             for name, w in (("a", 2), ("b", 1))]
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=240)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out
        assert "postgresql://postgres@127.0.0.1" in out and "best:" in out
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    coarse = optuna.load_study(study_name="shared:coarse", storage=postgres_url).get_trials()
    fine = optuna.load_study(study_name="shared:fine", storage=postgres_url).get_trials()
    assert 30 <= sum(t.state in done for t in coarse) <= 32
    assert 3 <= sum(t.state in done for t in fine) <= 5
    workers = [t.user_attrs["worker"] for t in coarse + fine]
    print("trials per worker:", {w: workers.count(w) for w in set(workers)})
    assert len(set(workers)) >= 2, workers
    assert (tmp_path / "a" / "best.json").exists() and (tmp_path / "b" / "best.json").exists()
