"""`swiftnn train` and `swiftnn evaluate`, run as subprocesses (as a user runs them) on small
Fashion-MNIST and CIFAR-10 files written here in the real formats: the files they write, the
checkpoint round trip, resuming, --config files, ensembles, Ctrl-C, and bad input."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from swiftnn.checkpoint import load_checkpoint
from swiftnn.data import apply_preprocessing, load_raw
from swiftnn.experiment import accuracy, predict_proba
from test_data import write_cifar10, write_learnable_fashion_mnist

TINY = ["--num-train", "500", "--hidden", "64", "--batch-size", "50"]


def run(*args, check=True, timeout=240):
    env = dict(os.environ)
    env.pop("SWIFTNN_DATA", None)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    p = subprocess.run([sys.executable, "-m", "swiftnn"] + [str(a) for a in args], capture_output=True, text=True,
                       env=env, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("swiftnn %s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(map(str, args)), p.returncode, p.stdout, p.stderr))
    return p


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashion-mnist")
    write_learnable_fashion_mnist(folder, n_train=600, n_test=200)
    return folder


@pytest.fixture(scope="module")
def trained(fmnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("run1")
    p = run("train", "--data", fmnist, *TINY, "--epochs", "3", "--out", out, "--seed", "0")
    return out, p


def _is_png(path, min_bytes=5000):
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > min_bytes


def test_help_reads_well():
    top = run("--help").stdout
    for command in ("train", "evaluate", "search", "check"):
        assert command in top
    text = run("train", "--help").stdout
    for flag in ("--dataset", "--hidden", "--activation", "--normalization", "--dropout", "--init", "--reg",
                 "--update-rule", "--lr", "--schedule", "--batch-size", "--epochs", "--patience", "--seed",
                 "--out", "--config", "--resume", "examples:"):
        assert flag in text
    assert "(default: 512 256)" in text and "(default: 0)" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    if shutil.which("swiftnn"):
        console = subprocess.run(["swiftnn", "evaluate", "--help"], capture_output=True, text=True, timeout=60)
        assert console.returncode == 0 and "ensemble" in console.stdout


def test_train_shows_epochs_and_test_accuracy_and_writes_its_files(trained):
    out, p = trained
    for epoch in (1, 2, 3):
        assert "epoch %d/3" % epoch in p.stdout
    assert "test accuracy" in p.stdout and " s training" in p.stdout
    assert "FullyConnectedNet: 784 -> 64 -> 10" in p.stdout
    assert _is_png(out / "curves.png") and _is_png(out / "weights.png")
    ckpt = load_checkpoint(out / "model.npz")
    assert ckpt.epoch == 3 and ckpt.config["hidden"] == [64] and ckpt.config["lr"] == 1e-3
    assert set(ckpt.params) == {"W1", "b1", "W2", "b2", "gamma1", "beta1"}
    ipe = 500 // 50
    assert len(ckpt.loss_history) == 3 * ipe
    assert len(ckpt.val_acc_history) == len(ckpt.train_acc_history) == 4  # first iteration + 3 epochs
    state = ckpt.trainer_state
    assert state["iteration"] == 3 * ipe and state["epoch"] == 3 and state["update_rule"] == "adam"
    n = sum(int(np.prod(v.shape)) for v in ckpt.params.values())
    assert state["params"].shape == (n,) and state["optim_state"].shape == (2 * n,)  # Adam's m and v
    assert ckpt.bn_stats[0]["running_var"].shape == (64,)
    assert ckpt.meta["test_acc"] > 0.6, p.stdout  # learnable images: far above chance (10%)


def test_checkpoint_round_trip_gives_the_same_predictions(trained, fmnist):
    out, _ = trained
    ckpt = load_checkpoint(out / "model.npz")
    model = ckpt.build_model()
    _, _, X_test, y_test = load_raw("fashion-mnist", fmnist)
    X = apply_preprocessing(X_test, ckpt.preprocess, 1 / 255)
    assert accuracy(model, X, y_test) == pytest.approx(ckpt.meta["test_acc"], abs=1e-9)
    for l, p in enumerate(model.bn_params):
        np.testing.assert_array_equal(p["running_mean"], ckpt.bn_stats[l]["running_mean"])


def test_resume_continues_training_from_the_checkpoint(trained, tmp_path):
    out, _ = trained
    copy = tmp_path / "resumed"
    shutil.copytree(out, copy)
    p = run("train", "--resume", copy / "model.npz", "--epochs", "5")
    assert "continuing" in p.stdout and "epoch 4/5" in p.stdout and "epoch 5/5" in p.stdout
    assert "epoch 1/5" not in p.stdout
    before, after = load_checkpoint(out / "model.npz"), load_checkpoint(copy / "model.npz")
    assert after.epoch == 5 and after.config["hidden"] == [64]
    assert len(after.loss_history) == 5 * 10 and after.loss_history[:30] == before.loss_history
    assert len(after.val_acc_history) == 6 and after.val_acc_history[:4] == before.val_acc_history
    assert after.trainer_state["iteration"] == 50  # the step count went on from 30
    assert after.meta["best_val_acc"] >= before.meta["best_val_acc"]

    done = run("train", "--resume", copy / "model.npz", "--epochs", "5", check=False)
    assert done.returncode == 2 and "already trained 5 epochs" in done.stderr
    other = run("train", "--resume", copy / "model.npz", "--epochs", "6", "--hidden", "32", check=False)
    assert other.returncode == 2 and "--hidden 32" in other.stderr and "keeps the network" in other.stderr


def test_evaluate_scores_a_checkpoint_and_an_ensemble(trained, fmnist, tmp_path):
    out, _ = trained
    run("train", "--data", fmnist, *TINY, "--epochs", "2", "--seed", "7", "--no-plots", "--out", tmp_path / "run2")
    assert not (tmp_path / "run2" / "curves.png").exists()
    single = run("evaluate", out / "model.npz")
    ckpt = load_checkpoint(out / "model.npz")
    assert "%6.2f%%" % (100 * ckpt.meta["test_acc"]) in single.stdout
    both = run("evaluate", out / "model.npz", tmp_path / "run2" / "model.npz")
    assert "ensemble" in both.stdout
    # the ensemble's number is the accuracy of the averaged probabilities
    _, _, X_test, y_test = load_raw("fashion-mnist", fmnist)
    probs = [predict_proba(c.build_model(), apply_preprocessing(X_test, c.preprocess, 1 / 255))
             for c in (ckpt, load_checkpoint(tmp_path / "run2" / "model.npz"))]
    expected = np.mean(np.argmax((probs[0] + probs[1]) / 2, axis=1) == y_test)
    line = next(l for l in both.stdout.splitlines() if "ensemble" in l)
    assert "%6.2f%%" % (100 * expected) in line
    val = run("evaluate", "--split", "val", out / "model.npz")
    assert "val split: 100 rows" in val.stdout


def test_config_file_sets_the_run_and_flags_override_it(fmnist, tmp_path):
    config = tmp_path / "best.json"
    config.write_text(json.dumps({"data": str(fmnist), "num_train": 400, "hidden": [32, 16], "lr": 0.002,
                                  "dropout": 1.0, "epochs": 3, "init": "scale", "weight_scale": 0.05}))
    run("train", "--config", config, "--epochs", "1", "--no-plots", "--out", tmp_path / "out")
    ckpt = load_checkpoint(tmp_path / "out" / "model.npz")
    assert ckpt.config["hidden"] == [32, 16] and ckpt.config["lr"] == 0.002 and ckpt.config["num_train"] == 400
    assert ckpt.config["epochs"] == 1 and ckpt.epoch == 1


def test_cifar10_trains_end_to_end_with_colour_weight_images(tmp_path):
    write_cifar10(tmp_path / "cifar-10-batches-py", rows=40, test_rows=30)
    p = run("train", "--dataset", "cifar10", "--data", tmp_path / "cifar-10-batches-py", "--num-train", "160",
            "--hidden", "32", "--batch-size", "40", "--epochs", "2", "--preprocess", "standardize",
            "--out", tmp_path / "out")
    assert "cifar10: 160 train, 40 validation, 30 test rows (standardize preprocessing)" in p.stdout
    assert _is_png(tmp_path / "out" / "weights.png", 2000)
    assert load_checkpoint(tmp_path / "out" / "model.npz").dims == [3072, 32, 10]
    ev = run("evaluate", tmp_path / "out" / "model.npz")
    assert "cifar10 test split: 30 rows" in ev.stdout


def test_weight_images_put_cifar_channel_planes_in_colour_and_fashion_pixels_in_rows():
    from swiftnn.plots import image_grid, weight_images
    W1 = np.zeros((3072, 2))
    W1[:1024, 0] = 1.0          # unit 0 looks at the red plane only
    W1[2048 + 5 * 32 + 7, 1] = 1.0  # unit 1 at the blue value of pixel (row 5, column 7)
    images = weight_images(W1, (32, 32, 3), "chw")
    assert images.shape == (2, 32, 32, 3)
    assert np.all(images[0, :, :, 0] == 1) and not images[0, :, :, 1:].any()
    assert images[1, 5, 7, 2] == 1 and images[1].sum() == 1
    F = np.zeros((784, 1))
    F[3 * 28 + 20, 0] = 2.0
    assert weight_images(F, (28, 28, 1), "hwc")[0, 3, 20, 0] == 2.0
    grid = image_grid(images, padding=1)
    assert grid.shape == (32 * 2 + 1, 32 * 2 + 1, 3) and grid[0, 0, 0] == 1.0


def test_ctrl_c_keeps_the_last_completed_epoch(fmnist, tmp_path):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "swiftnn", "train", "--data", str(fmnist), "--num-train", "500",
                             "--hidden", "256", "--batch-size", "10", "--epochs", "500", "--no-plots", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (out / "model.npz").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert (out / "model.npz").exists(), "no checkpoint after an epoch"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stdout and "test accuracy" in stdout
    ckpt = load_checkpoint(out / "model.npz")
    assert 1 <= ckpt.epoch < 500 and ckpt.meta["test_acc"] is not None


def _write_bad_files(tmp_path):
    (tmp_path / "broken.json").write_text("{\"lr\": 0.01,")
    (tmp_path / "unknown.json").write_text(json.dumps({"lr": 0.01, "learning_rate": 0.1}))
    (tmp_path / "badtype.json").write_text(json.dumps({"lr": "fast"}))
    (tmp_path / "list.json").write_text(json.dumps([1, 2]))
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip file")
    np.savez(tmp_path / "foreign.npz", weights=np.zeros(3))
    write_learnable_fashion_mnist(tmp_path / "small-fmnist", n_train=20, n_test=10)
    bad_idx = tmp_path / "bad-fmnist"
    write_learnable_fashion_mnist(bad_idx, n_train=20, n_test=10)
    (bad_idx / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")


@pytest.mark.parametrize("args, message", [
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--dropout", "1.5"], "keep probability must be in (0, 1]"),
    (["train", "--lr", "-0.1"], "learning rate must be a positive number"),
    (["train", "--hidden", "512", "zero"], "'zero' is not an integer"),
    (["train", "--epochs", "0"], "must be at least 1"),
    (["train", "--data", "{tmp}/nowhere"], "Fashion-MNIST not found"),
    (["train", "--data", "{tmp}/nowhere"], "apt-get install dataset-fashion-mnist"),
    (["train", "--dataset", "cifar10", "--data", "{tmp}/nowhere"], "cifar-10-python.tar.gz"),
    (["train", "--data", "{tmp}/bad-fmnist"], "train-images-idx3-ubyte.gz: not a readable idx file"),
    (["train", "--data", "{tmp}/small-fmnist", "--num-train", "100", "--num-val", "10"], "100 training + 10 validation"),
    (["train", "--num-train", "60000"], "some must be left for validation"),
    (["train", "--config", "{tmp}/missing.json"], "cannot read it"),
    (["train", "--config", "{tmp}/broken.json"], "not valid JSON"),
    (["train", "--config", "{tmp}/unknown.json"], "unknown setting 'learning_rate'"),
    (["train", "--config", "{tmp}/badtype.json"], "'lr' = 'fast' is not valid for --lr"),
    (["train", "--config", "{tmp}/list.json"], "expected a JSON object"),
    (["train", "--resume", "{tmp}/missing.npz"], "no such checkpoint"),
    (["evaluate", "{tmp}/corrupt.npz"], "not a readable swiftnn checkpoint"),
    (["evaluate", "{tmp}/foreign.npz"], "not a swiftnn checkpoint"),
    (["evaluate"], "the following arguments are required: CKPT"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_fails_with_a_clear_message(tmp_path, args, message):
    _write_bad_files(tmp_path)
    p = run(*[a.replace("{tmp}", str(tmp_path)) for a in args], check=False)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert message in p.stderr, p.stderr
    assert "Traceback" not in p.stderr


def _refused(p, message):
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert message in p.stderr, p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("seed, config", [("-1", None), ("99999999999", None), (None, {"seed": -5})])
def test_seed_outside_numpys_range_is_refused_from_flag_and_config(tmp_path, seed, config):
    args = ["train", "--data", tmp_path / "nowhere", "--no-plots", "--out", tmp_path / "out"]
    if seed is not None:
        args += ["--seed", seed]
    else:
        (tmp_path / "seed.json").write_text(json.dumps(config))
        args += ["--config", tmp_path / "seed.json"]
    _refused(run(*args, check=False), "must be between 0 and 2**32 - 1")


@pytest.mark.parametrize("text, message", [
    ('{"epochs": 1e400}', "'epochs' = inf is not valid for --epochs ('inf' is not an integer)"),
    ('{"batch_size": 2.5}', "'batch_size' = 2.5 is not valid for --batch-size ('2.5' is not an integer)"),
    ('{"hidden": [64, 2.5]}', "'hidden' = [64, 2.5] is not valid for --hidden"),
    ('{"warmup": 2.5}', "'warmup' = 2.5 is not valid for --warmup"),
    ('{"data": 5}', "'data' = 5 is not valid for --data"),
])
def test_config_values_are_checked_as_the_flags_are(tmp_path, text, message):
    (tmp_path / "c.json").write_text(text)
    p = run("train", "--config", tmp_path / "c.json", "--data", tmp_path / "nowhere", "--out", tmp_path / "out",
            check=False)
    _refused(p, message)


@pytest.mark.parametrize("where, message", [
    ("file", "exists and is not a folder"),
    ("file/sub", "cannot create the output folder"),
    ("/proc/forbidden", "cannot create the output folder"),
])
def test_output_folder_that_cannot_be_made_is_refused_before_loading_data(tmp_path, where, message):
    if where.startswith("/proc") and not os.path.isdir("/proc/self"):
        pytest.skip("no /proc")
    (tmp_path / "file").write_text("not a folder")
    out = where if where.startswith("/") else tmp_path / where
    # --data points nowhere: the output folder's error must come first, before any data is read.
    _refused(run("train", "--data", tmp_path / "nowhere", "--out", out, check=False), message)


@pytest.mark.parametrize("name, extra", [("model.npz", ["--no-plots"]), ("curves.png", []), ("weights.png", [])])
def test_output_file_that_is_a_folder_is_refused_before_training(fmnist, tmp_path, name, extra):
    (tmp_path / "out" / name).mkdir(parents=True)
    p = run("train", "--data", fmnist, *TINY, "--epochs", "1", "--out", tmp_path / "out", *extra, check=False)
    _refused(p, "%s is a folder" % (tmp_path / "out" / name))
    assert "epoch 1/1" not in p.stdout


def test_network_too_large_for_memory_is_refused_up_front(tmp_path):
    if not os.path.exists("/proc/meminfo"):
        pytest.skip("no /proc/meminfo: the check is skipped")
    started = time.monotonic()
    p = run("train", "--hidden", "100000000", "--data", tmp_path / "nowhere", "--out", tmp_path / "out", check=False)
    _refused(p, "training the 784-100000000-10 network (79,700,000,010 parameters)")
    assert "GB is available" in p.stderr and "use smaller --hidden" in p.stderr
    assert time.monotonic() - started < 30
    huge_batch = run("train", "--batch-size", "1000000000", "--data", tmp_path / "nowhere", "--out", tmp_path / "out",
                     check=False)
    _refused(huge_batch, "with --batch-size 1000000000 needs about")


@pytest.mark.parametrize("where", ["build_model", "accuracy"])
def test_out_of_memory_is_a_one_line_error(fmnist, tmp_path, where):
    # Simulated: a real MemoryError would need gigabytes. Raised in model creation, or after
    # training, when the last epoch's checkpoint is on disk.
    code = ("import sys, swiftnn.experiment as e\n"
            "def oom(*a, **k):\n    raise MemoryError()\n"
            "e.%s = oom\n"
            "from swiftnn.cli import main\nsys.exit(main(sys.argv[1:]))\n" % where)
    p = subprocess.run([sys.executable, "-c", code, "train", "--data", str(fmnist), *TINY, "--epochs", "1",
                        "--no-plots", "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=240)
    _refused(p, "swiftnn train: error: out of memory")
    assert len(p.stderr.strip().splitlines()[-1]) > 0 and p.stderr.count("error:") == 1
    if where == "accuracy":
        assert "model.npz keeps epoch 1 (continue with --resume" in p.stderr


def test_missing_data_names_the_data_flag(tmp_path):
    p = run("train", "--data", tmp_path / "nowhere", "--out", tmp_path / "out", check=False)
    _refused(p, "or pass --data DIR.")
    assert "root=" not in p.stderr
