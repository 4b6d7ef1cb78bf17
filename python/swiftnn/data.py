"""Datasets in their real formats: Fashion-MNIST's idx files (Debian's
``dataset-fashion-mnist`` package) and CIFAR-10's python pickles (see cs231n.data_utils).
"""
import gzip
import os
from pathlib import Path

import numpy as np

FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """An array from an idx file (optionally gzip-compressed), as in LeCun's MNIST format:
    two zero bytes, a type code, the number of dimensions, big-endian uint32 sizes, data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise ValueError("%s: not a readable idx file (%s)" % (path, e)) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError("%s: not an idx file (bad magic number %s)" % (path, raw[:4].hex()))
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError("%s: truncated idx header" % path)
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError("%s: idx header promises shape %s (%d bytes of data) but the file has %d"
                         % (path, shape, expected, len(raw) - header))
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _fashion_mnist_dir(root):
    candidates = [Path(root)] if root else []
    if not root and os.environ.get("SWIFTNN_DATA"):
        candidates.append(Path(os.environ["SWIFTNN_DATA"]) / "fashion-mnist")
    if not root:
        candidates += [Path(d) for d in FASHION_MNIST_DIRS]
    for c in candidates:
        if (c / "train-images-idx3-ubyte.gz").exists() or (c / "train-images-idx3-ubyte").exists():
            return c
    raise FileNotFoundError(
        "Fashion-MNIST not found (looked in: %s). Install it with `apt-get install dataset-fashion-mnist` "
        "(files go to /usr/share/datasets/fashion-mnist), or put train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in "
        "$SWIFTNN_DATA/fashion-mnist or pass root=." % ", ".join(str(c) for c in candidates))


def load_fashion_mnist(root=None):
    """(X_train (60000, 28, 28) uint8, y_train (60000,) int64, X_test (10000, 28, 28), y_test)."""
    d = _fashion_mnist_dir(root)

    def part(name):
        p = d / (name + ".gz")
        return read_idx(p if p.exists() else d / name)

    X_train, y_train = part("train-images-idx3-ubyte"), part("train-labels-idx1-ubyte")
    X_test, y_test = part("t10k-images-idx3-ubyte"), part("t10k-labels-idx1-ubyte")
    for X, y, which in ((X_train, y_train, "train"), (X_test, y_test, "t10k")):
        if X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
            raise ValueError("%s: %s images %s and labels %s do not match" % (d, which, X.shape, y.shape))
    return X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)


def get_fashion_mnist_data(num_training=55000, num_validation=5000, num_test=10000, root=None,
                           dtype=np.float32, standardize=False):
    """Fashion-MNIST as a Solver data dict: images flattened to 784 features, scaled to [0, 1],
    the training mean image subtracted (and each feature divided by its training standard
    deviation when standardize=True). Validation rows come after the training rows."""
    X_train, y_train, X_test, y_test = load_fashion_mnist(root)
    if num_training + num_validation > len(X_train) or num_test > len(X_test):
        raise ValueError("asked for %d training + %d validation and %d test rows; Fashion-MNIST has %d and %d"
                         % (num_training, num_validation, num_test, len(X_train), len(X_test)))
    X_val = X_train[num_training:num_training + num_validation]
    y_val = y_train[num_training:num_training + num_validation]
    X_train, y_train = X_train[:num_training], y_train[:num_training]
    X_test, y_test = X_test[:num_test], y_test[:num_test]
    X_train, X_val, X_test = (a.reshape(len(a), -1).astype(dtype) / dtype(255) for a in (X_train, X_val, X_test))
    mean = X_train.mean(axis=0)
    scale = X_train.std(axis=0) + dtype(1e-3) if standardize else dtype(1)
    return {"X_train": (X_train - mean) / scale, "y_train": y_train, "X_val": (X_val - mean) / scale,
            "y_val": y_val, "X_test": (X_test - mean) / scale, "y_test": y_test}
