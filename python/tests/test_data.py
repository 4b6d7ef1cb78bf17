"""Fashion-MNIST's idx reader on files written here in the real format, and a model trained by
the Solver on the real dataset (installed by `make test` from Debian's dataset-fashion-mnist)."""
import gzip
import pickle
import struct

import numpy as np
import pytest

from swiftnn.data import (apply_preprocessing, find_cifar10, get_cifar10_data, get_data, get_fashion_mnist_data,
                          load_cifar10, load_fashion_mnist, read_cifar10_batch, read_idx)
from swiftnn.models import FullyConnectedNet
from swiftnn.solver import Solver


def write_idx(path, array, compress=True):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    data = header + array.tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


def write_fashion_mnist(folder, n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    parts = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, a in parts.items():
        write_idx(folder / (name + ".gz"), a)
    return parts


def test_read_idx_round_trips_gzip_and_plain_files(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", a)
    write_idx(tmp_path / "a", a, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), a)
    b = np.array([1, -2, 70000], dtype=">i4")
    write_idx(tmp_path / "b.gz", b)
    np.testing.assert_array_equal(read_idx(tmp_path / "b.gz"), [1, -2, 70000])


def test_load_fashion_mnist_reads_a_folder_in_the_real_layout(tmp_path):
    parts = write_fashion_mnist(tmp_path)
    X_train, y_train, X_test, y_test = load_fashion_mnist(tmp_path)
    np.testing.assert_array_equal(X_train, parts["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, parts["t10k-labels-idx1-ubyte"])
    assert y_train.dtype == np.int64


def test_get_fashion_mnist_data_splits_scales_and_centres(tmp_path):
    parts = write_fashion_mnist(tmp_path)
    data = get_fashion_mnist_data(num_training=20, num_validation=10, num_test=10, root=tmp_path)
    assert data["X_train"].shape == (20, 784) and data["X_val"].shape == (10, 784)
    raw = parts["train-images-idx3-ubyte"].reshape(30, -1).astype(np.float32) / 255
    mean = raw[:20].mean(axis=0)
    np.testing.assert_allclose(data["X_val"], raw[20:] - mean, atol=1e-6)
    np.testing.assert_array_equal(data["y_val"], parts["train-labels-idx1-ubyte"][20:])
    with pytest.raises(ValueError, match="training"):
        get_fashion_mnist_data(num_training=25, num_validation=10, root=tmp_path)


def test_missing_dataset_says_where_it_looked_and_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_fashion_mnist(tmp_path / "nowhere")
    assert "nowhere" in str(e.value) and "dataset-fashion-mnist" in str(e.value)


@pytest.mark.parametrize("damage", ["truncated", "bad_magic", "not_gzip"])
def test_corrupt_idx_files_are_rejected_with_the_path(tmp_path, damage):
    write_fashion_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.open(path).read()
    if damage == "truncated":
        gzip.open(path, "wb").write(raw[:-100])
    elif damage == "bad_magic":
        gzip.open(path, "wb").write(b"\x01\x02" + raw[2:])
    else:
        path.write_bytes(b"this is not gzip data")
    with pytest.raises(ValueError, match="train-images"):
        load_fashion_mnist(tmp_path)


def test_solver_trains_a_network_well_above_chance_on_real_fashion_mnist():
    np.random.seed(0)
    data = get_fashion_mnist_data(num_training=5000, num_validation=1000, num_test=1000)
    model = FullyConnectedNet([100], input_dim=784, num_classes=10, init="he", dtype=np.float32)
    solver = Solver(model, {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val")},
                    update_rule="adam", optim_config={"learning_rate": 1e-3}, batch_size=100,
                    num_epochs=3, verbose=False)
    solver.train()
    assert solver.best_val_acc > 0.75, solver.val_acc_history
    assert solver.check_accuracy(data["X_test"], data["y_test"]) > 0.75


# ---------------------------------------------------------------------------------------
# Small datasets in the real formats, with images a network can learn (class templates plus
# noise); the CLI, search and check tests use them too.

def learnable_images(n, shape, seed, noise=60):
    rng = np.random.default_rng(seed)
    templates = np.random.default_rng(1234).integers(0, 256, (10,) + shape)
    y = rng.integers(0, 10, n)
    X = np.clip(templates[y] + rng.normal(0, noise, (n,) + shape), 0, 255).astype(np.uint8)
    return X, y.astype(np.uint8)


def write_learnable_fashion_mnist(folder, n_train=600, n_test=200):
    """Fashion-MNIST's four idx.gz files, as Debian's package has them, with learnable images."""
    folder.mkdir(parents=True, exist_ok=True)
    X, y = learnable_images(n_train, (28, 28), seed=1)
    Xt, yt = learnable_images(n_test, (28, 28), seed=2)
    for name, a in (("train-images-idx3-ubyte", X), ("train-labels-idx1-ubyte", y),
                    ("t10k-images-idx3-ubyte", Xt), ("t10k-labels-idx1-ubyte", yt)):
        write_idx(folder / (name + ".gz"), a)
    return X, y, Xt, yt


# CIFAR-10's batches were pickled by Python 2's cPickle (protocol 2) from NumPy 1.x arrays:
# str keys, the pixels as one py2 str. This writes that byte stream opcode by opcode.

def _p2_str(s):
    b = s.encode("latin1") if isinstance(s, str) else s
    return (b"U" + bytes([len(b)]) + b) if len(b) < 256 else (b"T" + struct.pack("<i", len(b)) + b)


def _p2_int(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    return b"J" + struct.pack("<i", v)


def _p2_array(a):
    a = np.ascontiguousarray(a, dtype=np.uint8)
    shape = b"(" + b"".join(_p2_int(s) for s in a.shape) + b"t"
    dtype = (b"cnumpy\ndtype\n" + _p2_str("u1") + _p2_int(0) + _p2_int(1) + b"\x87R("
             + _p2_int(3) + _p2_str("|") + b"NNN" + b"J\xff\xff\xff\xff" * 2 + _p2_int(0) + b"tb")
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _p2_int(0) + b"\x85" + _p2_str("b")
            + b"\x87R(" + _p2_int(1) + shape + dtype + b"\x89" + _p2_str(a.tobytes()) + b"tb")


def py2_cifar_batch(data, labels, label="training batch 1 of 5"):
    out = b"\x80\x02}(" + _p2_str("data") + _p2_array(data)
    out += _p2_str("labels") + b"](" + b"".join(_p2_int(int(v)) for v in labels) + b"e"
    out += _p2_str("batch_label") + _p2_str(label)
    out += _p2_str("filenames") + b"](" + b"".join(_p2_str("img_%d.png" % i) for i in range(len(labels))) + b"e"
    return out + b"u."


def write_cifar10(folder, rows=40, test_rows=30, learnable=True, python2=True):
    """cifar-10-batches-py with data_batch_1..5 and test_batch; returns {name: (X rows, labels)}."""
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for i, name in enumerate(["data_batch_%d" % b for b in range(1, 6)] + ["test_batch"]):
        n = test_rows if name == "test_batch" else rows
        if learnable:
            X, y = learnable_images(n, (3072,), seed=10 + i)
        else:
            rng = np.random.default_rng(i)
            X, y = rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n)
        if python2:
            (folder / name).write_bytes(py2_cifar_batch(X, y, name))
        else:
            with open(folder / name, "wb") as f:
                pickle.dump({b"data": X, b"labels": [int(v) for v in y], b"batch_label": name.encode()}, f, protocol=2)
        batches[name] = (X, np.asarray(y, dtype=np.int64))
    return batches


@pytest.mark.parametrize("python2", [True, False])
def test_read_cifar10_batch_reads_python2_and_python3_pickles(tmp_path, python2):
    batches = write_cifar10(tmp_path / "cifar-10-batches-py", rows=7, test_rows=5, python2=python2)
    X, y = read_cifar10_batch(tmp_path / "cifar-10-batches-py" / "data_batch_3")
    np.testing.assert_array_equal(X, batches["data_batch_3"][0])
    np.testing.assert_array_equal(y, batches["data_batch_3"][1])
    assert X.dtype == np.uint8 and X.shape == (7, 3072) and y.dtype == np.int64


def test_the_course_loader_reads_python2_pickles_too(tmp_path):
    from cs231n.data_utils import load_CIFAR10
    batches = write_cifar10(tmp_path / "c", rows=6, test_rows=4)
    Xtr, Ytr, Xte, Yte = load_CIFAR10(str(tmp_path / "c"))
    assert Xtr.shape == (30, 32, 32, 3) and Xtr.dtype == np.float64
    np.testing.assert_array_equal(Xte[2], batches["test_batch"][0][2].reshape(3, 32, 32).transpose(1, 2, 0))


def test_load_cifar10_and_get_cifar10_data_follow_the_course(tmp_path):
    batches = write_cifar10(tmp_path / "cifar-10-batches-py", rows=20, test_rows=15)
    X_train, y_train, X_test, y_test = load_cifar10(tmp_path / "cifar-10-batches-py")
    assert X_train.shape == (100, 3072) and X_test.shape == (15, 3072)
    data = get_cifar10_data(num_training=70, num_validation=20, num_test=10, root=tmp_path / "cifar-10-batches-py",
                            dtype=np.float64)
    raw = X_train.astype(np.float64)
    mean = raw[:70].mean(axis=0)
    assert data["X_train"].shape == (70, 3, 32, 32) and data["X_test"].shape == (10, 3, 32, 32)
    np.testing.assert_allclose(data["X_val"].reshape(20, -1), raw[70:90] - mean, atol=1e-9)
    np.testing.assert_allclose(data["X_test"].reshape(10, -1), X_test[:10] - mean, atol=1e-9)
    np.testing.assert_array_equal(data["y_val"], y_train[70:90])


def test_cifar10_is_found_through_swiftnn_data(tmp_path, monkeypatch):
    write_cifar10(tmp_path / "cifar-10-batches-py", rows=4, test_rows=4)
    monkeypatch.setenv("SWIFTNN_DATA", str(tmp_path))
    assert find_cifar10() == tmp_path / "cifar-10-batches-py"
    assert get_data("cifar10", 15, 5, 4)["X_train"].shape == (15, 3072)


def test_missing_cifar10_says_where_it_looked_and_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SWIFTNN_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as e:
        get_data("cifar10")
    message = str(e.value)
    assert str(tmp_path / "data" / "cifar-10-batches-py") in message
    assert "cifar-10-python.tar.gz" in message and "SWIFTNN_DATA" in message


@pytest.mark.parametrize("damage", ["truncated", "not_a_pickle", "wrong_keys", "bad_shape", "bad_labels", "code"])
def test_corrupt_cifar10_batches_are_rejected_with_the_path(tmp_path, damage):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder, rows=5, test_rows=5)
    path = folder / "data_batch_2"
    good = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "not_a_pickle":
        path.write_bytes(b"<html>404 Not Found</html>")
    elif damage == "wrong_keys":
        path.write_bytes(pickle.dumps({"pixels": [1, 2, 3]}, protocol=2))
    elif damage == "bad_shape":
        path.write_bytes(py2_cifar_batch(np.zeros((5, 1000), np.uint8), [0] * 5))
    elif damage == "bad_labels":
        path.write_bytes(py2_cifar_batch(np.zeros((5, 3072), np.uint8), [0, 1, 2, 3, 12]))
    else:  # a pickle that would run code when loaded with pickle.load
        path.write_bytes(b"\x80\x02cos\nsystem\nU\x04trueq\x00\x85R.")
    with pytest.raises(ValueError, match="data_batch_2"):
        load_cifar10(folder)


def test_preprocessing_options_are_fitted_on_the_training_rows_only(tmp_path):
    write_learnable_fashion_mnist(tmp_path, n_train=300, n_test=50)
    raw_train, _, raw_test, _ = load_fashion_mnist(tmp_path)
    pixels = raw_train.reshape(300, -1).astype(np.float64) / 255
    test = raw_test.reshape(50, -1).astype(np.float64) / 255
    none = get_data("fashion-mnist", 200, 100, 50, preprocess="none", root=tmp_path, dtype=np.float64)
    np.testing.assert_allclose(none["X_test"], test, atol=1e-12)
    data, stats = get_data("fashion-mnist", 200, 100, 50, preprocess="standardize", root=tmp_path,
                           dtype=np.float64, return_stats=True)
    mean, std = pixels[:200].mean(axis=0), pixels[:200].std(axis=0)
    np.testing.assert_allclose(stats["mean"], mean)
    np.testing.assert_allclose(data["X_val"], (pixels[200:] - mean) / (std + 0.01 * std.mean() + 1e-12), atol=1e-9)
    np.testing.assert_allclose(data["X_train"].std(axis=0)[std > 0.05], 1.0, atol=0.05)
    # the same statistics turn raw rows into the same inputs (what checkpoints rely on)
    np.testing.assert_allclose(apply_preprocessing(raw_test.reshape(50, -1), stats, 1 / 255, np.float64),
                               data["X_test"], atol=1e-9)
    with pytest.raises(ValueError, match="preprocessing"):
        get_data("fashion-mnist", 200, 100, 50, preprocess="whiten", root=tmp_path)
    with pytest.raises(ValueError, match="dataset"):
        get_data("mnist", root=tmp_path)


def test_missing_fashion_mnist_file_is_named(tmp_path):
    write_learnable_fashion_mnist(tmp_path, n_train=20, n_test=10)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_fashion_mnist(tmp_path)
