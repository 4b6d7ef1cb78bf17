"""Datasets in their real formats, and the preprocessing that turns them into a Solver data dict.

- Fashion-MNIST: LeCun's idx files (optionally gzip-compressed), as Debian's
  ``dataset-fashion-mnist`` package installs them in ``/usr/share/datasets/fashion-mnist``.
  Pixels are scaled to [0, 1].
- CIFAR-10: the python-pickle batches of ``cifar-10-python.tar.gz`` (the folder
  ``cifar-10-batches-py`` with ``data_batch_1`` ... ``data_batch_5`` and ``test_batch``).
  Pixels stay in 0..255, as in the course. The pickles are read with an unpickler that only
  rebuilds NumPy arrays, lists, dicts, strings and numbers, so a damaged or hostile file
  cannot run code.

``get_data(dataset, ...)`` returns ``{'X_train', 'y_train', 'X_val', 'y_val', 'X_test',
'y_test'}`` with images flattened to rows; validation rows are the training rows right after
the kept training rows (as the course does). Preprocessing, fitted on the kept training rows
only: ``'mean'`` subtracts the mean image (the course's), ``'standardize'`` also divides each
feature by its standard deviation (plus 1% of the average one, see :func:`fit_preprocessing`),
``'none'`` leaves the pixels as they are. With
``return_stats=True`` the fitted ``{'mean', 'scale'}`` come back too, so that a checkpoint can
preprocess new images the same way (:func:`apply_preprocessing`).

Where the files are looked for: the ``root`` argument; else ``$SWIFTNN_DATA/fashion-mnist``
or ``$SWIFTNN_DATA/cifar-10-batches-py``; else Debian's folder (Fashion-MNIST) or the course's
``cs231n/datasets/cifar-10-batches-py`` under the current directory and inside the
``cs231n`` package (CIFAR-10). A missing dataset raises ``FileNotFoundError`` naming every
place looked in and how to get the files.
"""
import gzip
import os
import pickle
from pathlib import Path

import numpy as np

__all__ = ["DATASETS", "PREPROCESSING", "FASHION_MNIST_CLASSES", "CIFAR10_CLASSES", "read_idx",
           "load_fashion_mnist", "get_fashion_mnist_data", "read_cifar10_batch", "find_cifar10",
           "load_cifar10", "get_cifar10_data", "load_raw", "get_data", "fit_preprocessing",
           "apply_preprocessing", "dataset_info"]

FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PREPROCESSING = ("mean", "standardize", "none")

# What the command line and checkpoints need to know about each dataset: image layout of a row
# ('hwc' for Fashion-MNIST's 28x28x1, 'chw' for CIFAR-10's 3x32x32 pickle rows), the factor from
# stored uint8 pixels to the values the network sees, the split sizes and the default split.
DATASETS = {
    "fashion-mnist": {"shape": (28, 28, 1), "layout": "hwc", "pixel_scale": 1.0 / 255.0,
                      "classes": FASHION_MNIST_CLASSES, "train_rows": 60000, "test_rows": 10000,
                      "num_training": 55000, "num_validation": 5000},
    "cifar10": {"shape": (32, 32, 3), "layout": "chw", "pixel_scale": 1.0,
                "classes": CIFAR10_CLASSES, "train_rows": 50000, "test_rows": 10000,
                "num_training": 49000, "num_validation": 1000},
}

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def dataset_info(name):
    """The DATASETS entry for name; ValueError naming the known datasets otherwise."""
    if name not in DATASETS:
        raise ValueError("unknown dataset %r; expected one of: %s" % (name, ", ".join(DATASETS)))
    return DATASETS[name]


# ------------------------------------------------------------------------------------------
# Fashion-MNIST (idx files)

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
        p = p if p.exists() else d / name
        if not p.exists():
            raise FileNotFoundError("%s: Fashion-MNIST's %s(.gz) is missing; the folder needs train-images-idx3-ubyte, "
                                    "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
                                    "(`apt-get install dataset-fashion-mnist`)" % (d, name))
        return read_idx(p)

    X_train, y_train = part("train-images-idx3-ubyte"), part("train-labels-idx1-ubyte")
    X_test, y_test = part("t10k-images-idx3-ubyte"), part("t10k-labels-idx1-ubyte")
    for X, y, which in ((X_train, y_train, "train"), (X_test, y_test, "t10k")):
        if X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
            raise ValueError("%s: %s images %s and labels %s do not match" % (d, which, X.shape, y.shape))
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise ValueError("%s: %s labels must be 0..9, found %d..%d" % (d, which, y.min(), y.max()))
    return X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)


def get_fashion_mnist_data(num_training=55000, num_validation=5000, num_test=10000, root=None,
                           dtype=np.float32, standardize=False):
    """Fashion-MNIST as a Solver data dict: images flattened to 784 features, scaled to [0, 1],
    the training mean image subtracted (and each feature divided by its training standard
    deviation when standardize=True). Validation rows come after the training rows."""
    return get_data("fashion-mnist", num_training, num_validation, num_test, root=root, dtype=dtype,
                    preprocess="standardize" if standardize else "mean")


# ------------------------------------------------------------------------------------------
# CIFAR-10 (python pickles)

class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds what CIFAR-10's batches hold (dicts, lists, bytes/str, ints, NumPy arrays) and
    refuses every other global, so that unpickling cannot call arbitrary code."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError("refusing to load %s.%s (a CIFAR-10 batch holds only arrays, "
                                         "lists and numbers)" % (module, name))
        return super().find_class(module, name)


def _cifar10_missing(places):
    return ("CIFAR-10 not found; looked in: %s. Download CIFAR-10's python version "
            "(cifar-10-python.tar.gz, %s) and extract it there, e.g. "
            "`tar -xzf cifar-10-python.tar.gz` in the parent folder, which creates %s/ with "
            "data_batch_1 ... data_batch_5 and test_batch; or set SWIFTNN_DATA to the folder "
            "that contains %s/." % (", ".join(map(str, places)), CIFAR10_URL, CIFAR10_FOLDER, CIFAR10_FOLDER))


def _entry(datadict, name, path):
    # Pickles written by Python 2 (the real files) load with str keys under latin1;
    # pickles written by Python 3 from bytes keys keep them as bytes.
    if name in datadict:
        return datadict[name]
    key = name.encode("ascii")
    if key in datadict:
        return datadict[key]
    raise ValueError("%s: not a CIFAR-10 batch: it has no %r entry (keys: %s)"
                     % (path, name, ", ".join(sorted(map(str, datadict)))))


def read_cifar10_batch(path):
    """One CIFAR-10 batch file: (X (N, 3072) uint8 rows in the file's CHW order, y (N,) int64).

    FileNotFoundError when the file is missing; ValueError naming the file when it is not a
    CIFAR-10 batch (not a pickle, truncated, wrong keys, wrong shapes, labels outside 0..9)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(_cifar10_missing([path]))
    try:
        with open(path, "rb") as f:
            datadict = _ArrayUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, OverflowError) as e:
        raise ValueError("%s: not a readable CIFAR-10 batch (%s: %s)" % (path, type(e).__name__, e)) from None
    if not isinstance(datadict, dict):
        raise ValueError("%s: not a CIFAR-10 batch: the pickle holds a %s, not a dict"
                         % (path, type(datadict).__name__))
    X = np.asarray(_entry(datadict, "data", path))
    try:
        y = np.asarray(_entry(datadict, "labels", path), dtype=np.int64)
    except (TypeError, ValueError):
        raise ValueError("%s: CIFAR-10 'labels' must be a list of integers" % path) from None
    if X.ndim != 2 or X.shape[1] != 3 * 32 * 32:
        raise ValueError("%s: 'data' has shape %s, expected (N, 3072) rows of CIFAR-10 pixels" % (path, X.shape))
    if y.shape != (X.shape[0],):
        raise ValueError("%s: %d image rows but %s labels" % (path, X.shape[0], y.shape))
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise ValueError("%s: labels must be 0..9, found %d..%d" % (path, y.min(), y.max()))
    if X.dtype != np.uint8:
        if X.dtype.kind not in "iuf" or (X.size and (X.min() < 0 or X.max() > 255)):
            raise ValueError("%s: 'data' must hold pixel values 0..255, got dtype %s" % (path, X.dtype))
        X = X.astype(np.uint8)
    return np.ascontiguousarray(X), y


def cifar10_candidates(root=None):
    """The folders find_cifar10 looks in, in order."""
    if root is not None:
        return [Path(root)]
    places = []
    if os.environ.get("SWIFTNN_DATA"):
        places.append(Path(os.environ["SWIFTNN_DATA"]) / CIFAR10_FOLDER)
    places.append(Path.cwd() / "cs231n" / "datasets" / CIFAR10_FOLDER)
    places.append(Path(__file__).resolve().parent.parent / "cs231n" / "datasets" / CIFAR10_FOLDER)
    return places


def find_cifar10(root=None):
    """The first candidate folder that holds data_batch_1, else FileNotFoundError naming them all."""
    places = cifar10_candidates(root)
    for place in places:
        if (place / "data_batch_1").is_file():
            return place
    raise FileNotFoundError(_cifar10_missing(places))


def load_cifar10(root=None):
    """(X_train (50000, 3072) uint8, y_train (50000,) int64, X_test (10000, 3072), y_test):
    rows in the files' CHW order (reshape to (N, 3, 32, 32))."""
    folder = find_cifar10(root)
    parts = [read_cifar10_batch(folder / ("data_batch_%d" % b)) for b in range(1, 6)]
    X_test, y_test = read_cifar10_batch(folder / "test_batch")
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), X_test, y_test)


def get_cifar10_data(num_training=49000, num_validation=1000, num_test=1000, root=None, dtype=np.float32,
                     preprocess="mean", channels_first=True):
    """CIFAR-10 as a Solver data dict, with the course's preprocessing by default: validation rows
    are training rows [num_training, num_training + num_validation), the training mean image is
    subtracted (pixels stay on the 0..255 scale), images come out as (N, 3, 32, 32)
    (channels_first=False: flat rows of 3072 in the same CHW order)."""
    data = get_data("cifar10", num_training, num_validation, num_test, root=root, dtype=dtype,
                    preprocess=preprocess)
    if channels_first:
        for k in ("X_train", "X_val", "X_test"):
            data[k] = data[k].reshape(-1, 3, 32, 32)
    return data


# ------------------------------------------------------------------------------------------
# any dataset

def load_raw(dataset, root=None):
    """(X_train, y_train, X_test, y_test) with X as (N, D) uint8 rows and y int64."""
    dataset_info(dataset)
    if dataset == "fashion-mnist":
        X_train, y_train, X_test, y_test = load_fashion_mnist(root)
        return X_train.reshape(len(X_train), -1), y_train, X_test.reshape(len(X_test), -1), y_test
    return load_cifar10(root)


def fit_preprocessing(X_train, method="mean"):
    """{'method', 'mean', 'scale'} fitted on X_train (N, D) floats. 'standardize' divides by each
    feature's standard deviation plus 1% of the average one (near-constant border pixels are not
    blown up); 'none' is mean 0, scale 1."""
    if method not in PREPROCESSING:
        raise ValueError("unknown preprocessing %r; expected one of: %s" % (method, ", ".join(PREPROCESSING)))
    X_train = np.asarray(X_train)
    dt = X_train.dtype if X_train.dtype.kind == "f" else np.dtype(np.float64)
    D = X_train.shape[1]
    mean = np.zeros(D, dt) if method == "none" else X_train.mean(axis=0, dtype=np.float64).astype(dt)
    scale = np.ones(D, dt)
    if method == "standardize":
        std = X_train.std(axis=0, dtype=np.float64)
        scale = (std + 0.01 * std.mean() + 1e-12).astype(dt)
    return {"method": method, "mean": mean, "scale": scale}


def apply_preprocessing(X, stats, pixel_scale=1.0, dtype=np.float32):
    """(X * pixel_scale - mean) / scale as dtype, for X (N, D) raw pixels."""
    X = np.asarray(X, dtype=dtype)
    if pixel_scale != 1.0:
        X = X * dtype(pixel_scale)
    if stats["method"] != "none":
        X = X - np.asarray(stats["mean"], dtype)
    if stats["method"] == "standardize":
        X = X / np.asarray(stats["scale"], dtype)
    return np.ascontiguousarray(X)


def _split_sizes(dataset, num_training, num_validation, num_test, train_rows, test_rows):
    info = dataset_info(dataset)
    if num_training is None:
        num_training = info["num_training"]
    for name, v in (("num_training", num_training), ("num_validation", num_validation), ("num_test", num_test)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0):
            raise ValueError("%s must be an integer >= 0, got %r" % (name, v))
    if num_training < 1:
        raise ValueError("num_training must be at least 1, got %d" % num_training)
    if num_validation is None:
        num_validation = max(train_rows - num_training, 0)
    if num_test is None:
        num_test = test_rows
    return int(num_training), int(num_validation), int(num_test)


def get_data(dataset="fashion-mnist", num_training=None, num_validation=None, num_test=None,
             preprocess="mean", root=None, dtype=np.float32, return_stats=False):
    """A Solver data dict (X_* as (N, D) rows of dtype) for 'fashion-mnist' or 'cifar10'.

    Defaults: 55000 training rows of Fashion-MNIST, 49000 of CIFAR-10; validation: the
    training rows after those; test: all test rows. With return_stats=True returns (data, stats) where stats are the
    fitted preprocessing (see fit_preprocessing)."""
    info = dataset_info(dataset)
    if preprocess not in PREPROCESSING:
        raise ValueError("unknown preprocessing %r; expected one of: %s" % (preprocess, ", ".join(PREPROCESSING)))
    X_train, y_train, X_test, y_test = load_raw(dataset, root)
    num_training, num_validation, num_test = _split_sizes(dataset, num_training, num_validation, num_test,
                                                          len(X_train), len(X_test))
    if num_training + num_validation > len(X_train) or num_test > len(X_test):
        raise ValueError("asked for %d training + %d validation and %d test rows; %s has %d training and %d test rows"
                         % (num_training, num_validation, num_test, dataset, len(X_train), len(X_test)))
    dtype = np.dtype(dtype).type
    X_val = X_train[num_training:num_training + num_validation]
    y_val = y_train[num_training:num_training + num_validation]
    X_train, y_train = X_train[:num_training], y_train[:num_training]
    X_test, y_test = X_test[:num_test], y_test[:num_test]
    pixels = apply_preprocessing(X_train, {"method": "none"}, info["pixel_scale"], dtype)
    stats = fit_preprocessing(pixels, preprocess)
    data = {"X_train": apply_preprocessing(pixels, stats, 1.0, dtype), "y_train": y_train,
            "X_val": apply_preprocessing(X_val, stats, info["pixel_scale"], dtype), "y_val": y_val,
            "X_test": apply_preprocessing(X_test, stats, info["pixel_scale"], dtype), "y_test": y_test}
    return (data, stats) if return_stats else data
