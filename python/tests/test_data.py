"""Fashion-MNIST's idx reader on files written here in the real format, and a model trained by
the Solver on the real dataset (installed by `make test` from Debian's dataset-fashion-mnist)."""
import gzip
import struct

import numpy as np
import pytest

from swiftnn.data import get_fashion_mnist_data, load_fashion_mnist, read_idx
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
