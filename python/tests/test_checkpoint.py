"""Checkpoints that never lose work: the round trip, every kind of damaged or foreign file
refused with a clear CheckpointError (in Python and through the CLI), atomic writes that leave
the previous checkpoint intact when the write fails or the process dies, and a `swiftnn train`
killed with SIGKILL in the middle of an epoch that, resumed, ends exactly as an uninterrupted
run."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import swiftnn.checkpoint as checkpoint_module
from swiftnn import Trainer
from swiftnn.checkpoint import VERSION, CheckpointError, checksum, load_checkpoint, save_checkpoint
from swiftnn.models import FullyConnectedNet
from test_data import write_learnable_fashion_mnist

CONFIG = {"hidden": [16, 12], "normalization": "batchnorm", "dropout": 0.8, "activation": "relu", "init": "he",
          "update_rule": "adam", "lr": 1e-2, "reg": 1e-3, "seed": 3}


def blobs(n=300, d=20, c=5, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((c, d)) * 2
    y = rng.integers(0, c, n)
    X = (centers[y] + rng.standard_normal((n, d))).astype(np.float32)
    return {"X_train": X[: n - 60], "y_train": y[: n - 60], "X_val": X[n - 60:], "y_val": y[n - 60:]}


def make_model():
    np.random.seed(3)
    return FullyConnectedNet([16, 12], input_dim=20, num_classes=5, normalization="batchnorm",
                             dropout_keep_ratio=0.8, reg=1e-3, dtype=np.float32, init="he")


PREPROCESS = {"method": "standardize", "mean": np.linspace(0, 1, 20, dtype=np.float32),
              "scale": np.full(20, 2.0, np.float32)}


@pytest.fixture(scope="module")
def trained():
    """A model trained for 3 epochs and its Trainer.state() after each epoch."""
    states = []
    model = make_model()
    Trainer(model, blobs(), update_rule="adam", optim_config={"learning_rate": 1e-2}, lr_decay=0.9,
            batch_size=24, num_epochs=3, seed=3, progress=False, verbose=False,
            on_epoch=lambda t: states.append(t.state())).train()
    return model, states


@pytest.fixture
def saved(trained, tmp_path):
    model, states = trained
    path = tmp_path / "model.npz"
    save_checkpoint(path, model, CONFIG, trainer_state=states[-1], preprocess=PREPROCESS,
                    meta={"dataset": "blobs", "epoch": 3, "test_acc": 0.5})
    return path


def _same_checkpoint(a, b):
    assert a.config == b.config and a.meta == b.meta
    assert a.loss_history == b.loss_history and a.val_acc_history == b.val_acc_history
    assert a.train_acc_history == b.train_acc_history
    assert a.params.keys() == b.params.keys()
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name]) and a.params[name].dtype == b.params[name].dtype
    for x, y in zip(a.bn_stats, b.bn_stats):
        for key in x:
            assert np.array_equal(x[key], y[key])
    for key, value in a.trainer_state.items():
        other = b.trainer_state[key]
        assert (np.array_equal(value, other) if isinstance(value, np.ndarray) else value == other), key


# ------------------------------------------------------------------------------------------
# the round trip

def test_round_trip_keeps_parameters_statistics_trainer_state_histories_and_settings(trained, saved):
    model, states = trained
    state = states[-1]
    ckpt = load_checkpoint(saved)
    assert ckpt.version == VERSION and ckpt.epoch == 3 and ckpt.dims == [20, 16, 12, 5]
    assert ckpt.config == CONFIG and ckpt.meta["test_acc"] == 0.5 and ckpt.meta["dataset"] == "blobs"
    # The stored parameters are the best snapshot, split by the model's layout.
    at = 0
    for name, shape in zip(model._names, model._shapes):
        size = int(np.prod(shape))
        np.testing.assert_array_equal(ckpt.params[name], state["best_flat"][at:at + size].reshape(shape))
        assert ckpt.params[name].dtype == np.float32
        at += size
    np.testing.assert_array_equal(ckpt.bn_stats[0]["running_mean"], state["best_running"][:16])
    np.testing.assert_array_equal(ckpt.bn_stats[1]["running_var"], state["best_running"][32 + 12:])
    for key in ("params", "running", "optim_state", "best_flat", "best_running"):
        assert ckpt.trainer_state[key].dtype == np.float32
        np.testing.assert_array_equal(ckpt.trainer_state[key], state[key], err_msg=key)
    for key in ("update_rule", "iteration", "epoch", "best_val_acc", "loss_history", "train_acc_history",
                "val_acc_history"):
        assert ckpt.trainer_state[key] == state[key], key
    assert ckpt.loss_history == state["loss_history"] and len(ckpt.loss_history) == 30
    assert ckpt.preprocess["method"] == "standardize"
    np.testing.assert_array_equal(ckpt.preprocess["mean"], PREPROCESS["mean"])
    # build_model gives the best parameters and statistics; the model scores like the snapshot did.
    rebuilt = ckpt.build_model()
    for name in rebuilt.params:
        np.testing.assert_array_equal(rebuilt.params[name], ckpt.params[name])
    np.testing.assert_array_equal(rebuilt.bn_params[1]["running_var"], ckpt.bn_stats[1]["running_var"])


def test_resuming_a_loaded_checkpoint_continues_exactly_as_the_uninterrupted_run(trained, tmp_path):
    _, states = trained
    kwargs = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, lr_decay=0.9, batch_size=24,
                  num_epochs=5, seed=3, progress=False, verbose=False)
    whole_model = make_model()
    whole = Trainer(whole_model, blobs(), **kwargs).train()
    path = save_checkpoint(tmp_path / "m.npz", make_model(), CONFIG, trainer_state=states[1], meta={"epoch": 2})
    ckpt = load_checkpoint(path)
    model = ckpt.build_model()
    resumed = Trainer(model, blobs(), **kwargs).train(resume=ckpt.trainer_state)
    assert resumed.loss_history == whole.loss_history and resumed.val_acc_history == whole.val_acc_history
    for name in model.params:
        np.testing.assert_array_equal(model.params[name], whole_model.params[name], err_msg=name)


def test_the_checksum_covers_names_dtypes_shapes_and_bytes():
    a = {"x": np.arange(6, dtype=np.float32), "meta": np.array("{}")}
    base = checksum(a)
    assert base.startswith("sha256:") and len(base) == 7 + 64
    assert checksum(dict(a)) == base
    assert checksum({"y": a["x"], "meta": a["meta"]}) != base
    assert checksum({"x": a["x"].astype(np.float64), "meta": a["meta"]}) != base
    assert checksum({"x": a["x"].reshape(2, 3), "meta": a["meta"]}) != base
    flipped = a["x"].copy()
    flipped.view(np.uint8)[5] ^= 1
    assert checksum({"x": flipped, "meta": a["meta"]}) != base


# ------------------------------------------------------------------------------------------
# damaged and foreign files

@pytest.mark.parametrize("keep", [0, 3, 100, "half", "minus22", "minus1"])
def test_a_truncated_checkpoint_is_refused_naming_the_file(saved, keep):
    data = saved.read_bytes()
    n = {"half": len(data) // 2, "minus22": len(data) - 22, "minus1": len(data) - 1}.get(keep, keep)
    saved.write_bytes(data[:n])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(saved)
    message = str(e.value)
    assert str(saved) in message
    assert any(w in message for w in ("truncated", "damaged", "empty", "not an .npz")), message


def _data_ranges(path):
    """(start, end) of every zip entry's stored bytes (the .npy header and array data)."""
    ranges = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            with open(path, "rb") as f:
                f.seek(info.header_offset + 26)
                name_len, extra_len = np.frombuffer(f.read(4), "<u2")
            start = info.header_offset + 30 + int(name_len) + int(extra_len)
            ranges.append((start, start + info.compress_size))
    return ranges


def test_flipped_bytes_are_refused_or_change_nothing(saved):
    """A flipped byte in any entry's stored bytes makes load_checkpoint raise CheckpointError;
    anywhere else (zip headers) it is refused too, or changes nothing that is returned (zip
    timestamps, attribute fields)."""
    original = load_checkpoint(saved)
    data = bytearray(saved.read_bytes())
    ranges = _data_ranges(saved)
    rng = np.random.default_rng(0)
    positions = set(rng.choice(len(data), 300, replace=False).tolist())
    positions |= {start for start, _ in ranges} | {end - 1 for _, end in ranges}
    positions |= set(range(0, 64)) | set(range(len(data) - 200, len(data)))  # headers and central directory
    in_data = refused = 0
    for pos in sorted(positions):
        damaged = bytearray(data)
        damaged[pos] ^= 0x5A
        saved.write_bytes(bytes(damaged))
        inside = any(start <= pos < end for start, end in ranges)
        in_data += inside
        try:
            ckpt = load_checkpoint(saved)
        except CheckpointError as e:
            assert str(saved) in str(e)
            refused += 1
            continue
        assert not inside, "a flipped byte at %d inside an entry was not noticed" % pos
        _same_checkpoint(ckpt, original)
    assert in_data > 250 and refused >= in_data


def _rewrite(path, change):
    """Rewrite the .npz at path with change(arrays) applied, as a valid zip (so only the
    checkpoint's own checks can notice)."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_a_changed_array_with_the_old_checksum_is_refused(saved):
    def change(arrays):
        w = arrays["param/W1"].copy()
        w[0, 0] += 1e-3
        arrays["param/W1"] = w
    _rewrite(saved, change)
    with pytest.raises(CheckpointError, match="checksum mismatch") as e:
        load_checkpoint(saved)
    assert str(saved) in str(e.value)


def test_a_missing_checksum_is_refused(saved):
    _rewrite(saved, lambda arrays: arrays.pop("checksum"))
    with pytest.raises(CheckpointError, match="checksum entry is missing"):
        load_checkpoint(saved)


@pytest.mark.parametrize("version, message", [(VERSION + 1, "is newer than this swiftnn reads"),
                                              (0, "unknown checkpoint format version 0"),
                                              ("2", "unknown checkpoint format version '2'")])
def test_a_newer_or_unknown_format_version_is_refused(saved, version, message):
    def change(arrays):
        meta = json.loads(str(arrays["meta"]))
        meta["version"] = version
        arrays["meta"] = np.array(json.dumps(meta))
        del arrays["checksum"]
        arrays["checksum"] = np.array(checksum(arrays))
    _rewrite(saved, change)
    with pytest.raises(CheckpointError, match=message) as e:
        load_checkpoint(saved)
    assert str(saved) in str(e.value)


def _foreign_files(folder):
    files = {}
    np.savez(folder / "weights.npz", W=np.zeros(3))
    files["weights.npz"] = "not a swiftnn checkpoint"
    np.save(folder / "array.npy", np.zeros(3))
    files["array.npy"] = "not an .npz archive (a .npy array)"
    (folder / "notes.txt").write_text("hello\n")
    files["notes.txt"] = "not an .npz archive"
    (folder / "empty.npz").write_bytes(b"")
    files["empty.npz"] = "it is empty"
    with zipfile.ZipFile(folder / "other.zip", "w") as z:
        z.writestr("readme.txt", "a zip of something else")
    files["other.zip"] = "not a swiftnn checkpoint"
    np.savez(folder / "other-format.npz", meta=np.array(json.dumps({"format": "keras", "version": 1})))
    files["other-format.npz"] = "not a swiftnn checkpoint (format 'keras')"
    return files


def test_files_that_are_not_swiftnn_checkpoints_are_refused(tmp_path):
    for name, message in _foreign_files(tmp_path).items():
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(tmp_path / name)
        assert str(tmp_path / name) in str(e.value) and message in str(e.value), (name, str(e.value))


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = np.empty(1, dtype=object)
    payload[0] = Evil()
    np.savez(tmp_path / "evil.npz", meta=np.array(json.dumps({"format": "swiftnn-checkpoint", "version": 2})),
             payload=payload)
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tmp_path / "evil.npz")
    assert not marker.exists()


def test_version_1_checkpoints_still_load_for_evaluation(tmp_path):
    model = make_model()
    arrays = {"param/" + k: np.asarray(v) for k, v in model.params.items()}
    for l, h in enumerate([16, 12]):
        arrays["bn/%d/running_mean" % l] = np.zeros(h, np.float32)
        arrays["bn/%d/running_var" % l] = np.ones(h, np.float32)
    arrays["meta"] = np.array(json.dumps({"format": "swiftnn-checkpoint", "version": 1, "dims": [20, 16, 12, 5],
                                          "epoch": 2}))
    arrays["config"] = np.array(json.dumps(CONFIG))
    arrays["optim_scalars"] = np.array("{}")
    np.savez(tmp_path / "v1.npz", **arrays)
    ckpt = load_checkpoint(tmp_path / "v1.npz")
    assert ckpt.version == 1 and ckpt.trainer_state is None and ckpt.epoch == 2
    np.testing.assert_array_equal(ckpt.build_model().params["W2"], model.params["W2"])


# ------------------------------------------------------------------------------------------
# atomic writes

def test_a_failed_rename_leaves_the_previous_checkpoint_intact(trained, saved, monkeypatch):
    model, states = trained
    before = saved.read_bytes()

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_module.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(saved, model, CONFIG, trainer_state=states[0], meta={"epoch": 1})
    assert saved.read_bytes() == before
    assert load_checkpoint(saved).epoch == 3
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model.npz"]  # no temporary file left


def test_an_interrupted_write_leaves_the_previous_checkpoint_intact(trained, saved, monkeypatch):
    model, states = trained
    before = saved.read_bytes()
    real_savez = np.savez

    def savez_then_ctrl_c(f, **arrays):
        real_savez(f, **arrays)
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module.np, "savez", savez_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(saved, model, CONFIG, trainer_state=states[0], meta={"epoch": 1})
    assert saved.read_bytes() == before and load_checkpoint(saved).epoch == 3
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model.npz"]


def test_sigkill_between_write_and_rename_leaves_the_previous_checkpoint_loadable(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys
        import numpy as np
        sys.path.insert(0, %r)
        import swiftnn.checkpoint as c
        from test_checkpoint import make_model, CONFIG
        path = sys.argv[1]
        model = make_model()
        c.save_checkpoint(path, model, CONFIG, meta={"epoch": 1})
        model.params["W1"][...] = 7.0
        def die(src, dst):  # the new file is complete and fsynced, the rename has not happened
            os.kill(os.getpid(), signal.SIGKILL)
        c.os.replace = die
        c.save_checkpoint(path, model, CONFIG, meta={"epoch": 2})
        print("not reached")
    """ % os.path.dirname(__file__)))
    path = tmp_path / "out" / "model.npz"
    p = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert "not reached" not in p.stdout
    ckpt = load_checkpoint(path)
    assert ckpt.epoch == 1 and not np.any(ckpt.params["W1"] == 7.0)
    leftovers = [q.name for q in path.parent.iterdir() if q.name != "model.npz"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".model.npz.") and leftovers[0].endswith(".tmp")

    # The next save removes what the killed writer left, but never a running writer's file.
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = path.parent / (".model.npz.%d.0123456789ab.tmp" % running.pid)
        live.write_bytes(b"in progress")
        save_checkpoint(path, make_model(), CONFIG, meta={"epoch": 3})
        assert sorted(q.name for q in path.parent.iterdir()) == sorted(["model.npz", live.name])
        assert load_checkpoint(path).epoch == 3
    finally:
        running.kill()
        running.wait()


def test_the_file_is_fsynced_before_the_rename_and_the_folder_after(trained, tmp_path, monkeypatch):
    model, states = trained
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        import stat
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint_module.os, "fsync", fsync)
    monkeypatch.setattr(checkpoint_module.os, "replace", replace)
    save_checkpoint(tmp_path / "model.npz", model, CONFIG, trainer_state=states[0])
    assert events == ["fsync file", "replace", "fsync folder"]


# ------------------------------------------------------------------------------------------
# through the command line

def swiftnn(*args, timeout=120):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("SWIFTNN_DATA", None)
    return subprocess.run([sys.executable, "-m", "swiftnn"] + [str(a) for a in args], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashion-mnist")
    write_learnable_fashion_mnist(folder, n_train=3000, n_test=200)
    return folder


def _damage(kind, good, folder):
    path = folder / ("%s.npz" % kind)
    data = good.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif kind == "flipped":
        # a byte in the middle of the first layer's weights: the zip's CRC notices
        with zipfile.ZipFile(good) as z:
            info = z.getinfo("param/W1.npy")
        at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
        damaged = bytearray(data)
        damaged[at] ^= 0xFF
        path.write_bytes(bytes(damaged))
    elif kind == "newer":
        path.write_bytes(data)

        def change(arrays):
            meta = json.loads(str(arrays["meta"]))
            meta["version"] = VERSION + 1
            arrays["meta"] = np.array(json.dumps(meta))
        _rewrite(path, change)
    elif kind == "foreign":
        np.savez(path, weights=np.zeros(3))
    elif kind == "version1":  # written by the Solver-based swiftnn train: no checksum, no trainer state
        path.write_bytes(data)

        def change(arrays):
            meta = json.loads(str(arrays["meta"]))
            meta["version"] = 1
            arrays["meta"] = np.array(json.dumps(meta))
            for key in [k for k in arrays if k.startswith("trainer") or k == "checksum"]:
                del arrays[key]
        _rewrite(path, change)
    return path


CLI_MESSAGES = {"truncated": "truncated or damaged", "flipped": "damaged checkpoint",
                "newer": "is newer than this swiftnn reads", "foreign": "not a swiftnn checkpoint"}


def test_the_cli_refuses_damaged_checkpoints_with_one_line_and_exit_status_2(fmnist, tmp_path):
    out = tmp_path / "good"
    p = swiftnn("train", "--data", fmnist, "--num-train", "500", "--num-val", "100", "--hidden", "64",
                "--batch-size", "50", "--epochs", "1", "--no-plots", "--out", out)
    assert p.returncode == 0, p.stderr
    old = _damage("version1", out / "model.npz", tmp_path)
    ev = swiftnn("evaluate", old)
    assert ev.returncode == 0 and "test split" in ev.stdout, ev.stderr
    p = swiftnn("train", "--resume", old, "--epochs", "3")
    assert p.returncode == 2 and "holds no trainer state to continue from" in p.stderr, p.stderr
    for kind, message in CLI_MESSAGES.items():
        bad = _damage(kind, out / "model.npz", tmp_path)
        for args in (["evaluate", bad], ["train", "--resume", bad, "--epochs", "3"]):
            p = swiftnn(*args)
            assert p.returncode == 2, (kind, args, p.stdout, p.stderr)
            lines = p.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
            assert lines[0].startswith("swiftnn %s: error: " % args[0]), lines[0]
            assert str(bad) in lines[0] and message in lines[0], (kind, lines[0])


def _wait_for_epoch(path, epoch, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists():
            try:
                if load_checkpoint(path).epoch >= epoch:
                    return
            except (CheckpointError, FileNotFoundError):
                pass  # replaced while read: never a half-written file, but a stale handle
        time.sleep(0.02)
    raise AssertionError("no checkpoint of epoch %d (process exit %r)" % (epoch, proc.poll()))


@pytest.mark.parametrize("extra, how", [([], signal.SIGKILL),
                                        (["--schedule", "cosine", "--warmup", "150", "--patience", "20"], signal.SIGKILL),
                                        ([], signal.SIGINT)],
                         ids=["sigkill-step-decay", "sigkill-cosine-warmup-patience", "ctrl-c-step-decay"])
def test_killed_mid_epoch_then_resumed_ends_exactly_as_an_uninterrupted_run(fmnist, tmp_path, extra, how):
    # 2500 rows in batches of 10: 250 steps (~0.1-0.3 s) per epoch; batchnorm and dropout on;
    # with 0.85 per epoch, killing after epoch 5 exercises a late step-decay rate.
    settings = ["--data", fmnist, "--num-train", "2500", "--num-val", "200", "--hidden", "128", "64",
                "--batch-size", "10", "--epochs", "8", "--seed", "5", "--no-plots"] + extra
    whole = tmp_path / "whole"
    p = swiftnn("train", *settings, "--out", whole)
    assert p.returncode == 0, p.stderr

    killed = tmp_path / "killed"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("SWIFTNN_DATA", None)
    proc = subprocess.Popen([sys.executable, "-m", "swiftnn", "train"] + [str(a) for a in settings]
                            + ["--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait_for_epoch(killed / "model.npz", 5, proc)
        time.sleep(0.05)  # into the next epoch
        proc.send_signal(how)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Ctrl-C: the run stops at the next chunk, tests the best parameters and writes the checkpoint
    # of the last completed epoch (exit 130); SIGKILL leaves the one written after that epoch.
    assert proc.returncode == (-signal.SIGKILL if how == signal.SIGKILL else 130)
    at_kill = load_checkpoint(killed / "model.npz")
    assert 5 <= at_kill.epoch < 8, at_kill.epoch

    p = swiftnn("train", "--resume", killed / "model.npz", "--epochs", "8", "--no-plots")
    assert p.returncode == 0, p.stderr
    assert "continuing" in p.stdout and "epoch 8/8" in p.stdout and "epoch %d/8" % at_kill.epoch not in p.stdout

    a, b = load_checkpoint(whole / "model.npz"), load_checkpoint(killed / "model.npz")
    assert b.epoch == a.epoch == 8
    assert b.loss_history == a.loss_history and len(a.loss_history) == 8 * 250
    assert b.train_acc_history == a.train_acc_history and b.val_acc_history == a.val_acc_history
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name]), name
    for key in ("params", "running", "optim_state", "best_flat", "best_running"):
        assert np.array_equal(a.trainer_state[key], b.trainer_state[key]), key
    for key in ("best_val_acc", "best_epoch", "test_acc"):
        assert a.meta[key] == b.meta[key], key
