"""The course's ``cs231n/data_utils.py`` for CIFAR-10 (NumPy only).

CIFAR-10 is read in its real python-pickle format: the folder ``cifar-10-batches-py`` that
``cifar-10-python.tar.gz`` (https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz)
unpacks to, with ``data_batch_1`` ... ``data_batch_5`` and ``test_batch``; each a pickled
dict whose ``data`` is uint8 (N, 3072) rows (1024 red, 1024 green, 1024 blue values, each
channel row-major 32x32) and ``labels`` a list of N ints in 0..9.

``get_CIFAR10_data`` looks for that folder at, in order: its ``cifar10_dir`` argument;
``$SWIFTNN_DATA/cifar-10-batches-py``; the course layout ``cs231n/datasets/cifar-10-batches-py``
relative to the current directory; and ``datasets/cifar-10-batches-py`` inside this
package (where the course's ``get_datasets.sh`` puts it).
"""
import os
import pickle
import platform

import numpy as np

from swiftnn.data import read_cifar10_batch

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def load_pickle(f):
    version = platform.python_version_tuple()
    if version[0] == "2":
        return pickle.load(f)
    elif version[0] == "3":
        return pickle.load(f, encoding="latin1")
    raise ValueError("invalid python version: {}".format(version))


def _missing_message(places):
    return ("CIFAR-10 not found; looked in: %s. Download CIFAR-10's python version "
            "(cifar-10-python.tar.gz, %s) and extract it there, e.g. "
            "`tar -xzf cifar-10-python.tar.gz` in the parent folder, which creates %s/ with "
            "data_batch_1 ... data_batch_5 and test_batch; or set SWIFTNN_DATA to the folder "
            "that contains %s/." % (", ".join(places), CIFAR10_URL, CIFAR10_FOLDER,
                                    CIFAR10_FOLDER))


def load_CIFAR_batch(filename):
    """ load single batch of cifar: X (N, 32, 32, 3) float64 images, Y (N,) labels """
    # swiftnn.data reads the pickle (arrays only: a damaged or hostile file cannot run code)
    # and checks keys, shapes and labels; this keeps the course's return values.
    X, Y = read_cifar10_batch(filename)
    X = X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype("float")
    return X, Y


def load_CIFAR10(ROOT):
    """ load all of cifar: Xtr (50000, 32, 32, 3), Ytr, Xte (10000, 32, 32, 3), Yte """
    if not os.path.isdir(ROOT):
        raise FileNotFoundError(_missing_message([str(ROOT)]))
    xs = []
    ys = []
    for b in range(1, 6):
        f = os.path.join(ROOT, "data_batch_%d" % (b,))
        X, Y = load_CIFAR_batch(f)
        xs.append(X)
        ys.append(Y)
    Xtr = np.concatenate(xs)
    Ytr = np.concatenate(ys)
    del X, Y
    Xte, Yte = load_CIFAR_batch(os.path.join(ROOT, "test_batch"))
    return Xtr, Ytr, Xte, Yte


def cifar10_candidates(cifar10_dir=None):
    """The folders get_CIFAR10_data looks in, in order."""
    if cifar10_dir is not None:
        return [os.fspath(cifar10_dir)]
    places = []
    data = os.environ.get("SWIFTNN_DATA")
    if data:
        places.append(os.path.join(data, CIFAR10_FOLDER))
    places.append(os.path.join(os.getcwd(), "cs231n", "datasets", CIFAR10_FOLDER))
    places.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "datasets",
                               CIFAR10_FOLDER))
    return places


def find_CIFAR10(cifar10_dir=None):
    """The first folder of cifar10_candidates that holds data_batch_1; FileNotFoundError
    (naming every place looked in and where to get the data) when there is none."""
    places = cifar10_candidates(cifar10_dir)
    for place in places:
        if os.path.isfile(os.path.join(place, "data_batch_1")):
            return place
    raise FileNotFoundError(_missing_message(places))


def get_CIFAR10_data(
    num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True,
    cifar10_dir=None,
):
    """
    Load the CIFAR-10 dataset from disk and perform preprocessing to prepare
    it for classifiers. These are the same steps as we used for the SVM, but
    condensed to a single function.

    Validation rows are training rows [num_training, num_training + num_validation); the
    mean image of the kept training rows is subtracted from every split; images come out
    as (N, 3, 32, 32). ``cifar10_dir`` (ours) names the dataset folder; without it the
    places in the module documentation are searched.
    """
    # Load the raw CIFAR-10 data
    cifar10_dir = find_CIFAR10(cifar10_dir)
    X_train, y_train, X_test, y_test = load_CIFAR10(cifar10_dir)

    # Subsample the data
    mask = list(range(num_training, num_training + num_validation))
    X_val = X_train[mask]
    y_val = y_train[mask]
    mask = list(range(num_training))
    X_train = X_train[mask]
    y_train = y_train[mask]
    mask = list(range(num_test))
    X_test = X_test[mask]
    y_test = y_test[mask]

    # Normalize the data: subtract the mean image
    if subtract_mean:
        mean_image = np.mean(X_train, axis=0)
        X_train -= mean_image
        X_val -= mean_image
        X_test -= mean_image

    # Transpose so that channels come first
    X_train = X_train.transpose(0, 3, 1, 2).copy()
    X_val = X_val.transpose(0, 3, 1, 2).copy()
    X_test = X_test.transpose(0, 3, 1, 2).copy()

    # Package data into a dictionary
    return {
        "X_train": X_train,
        "y_train": y_train,
        "X_val": X_val,
        "y_val": y_val,
        "X_test": X_test,
        "y_test": y_test,
    }
