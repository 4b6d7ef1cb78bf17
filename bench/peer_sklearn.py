"""scikit-learn peer: MLPClassifier (adam, ReLU, L2 alpha = 0) on a plain network (no batchnorm,
no dropout: it has neither), one epoch per fit() call (max_iter=1, warm_start). scikit-learn's
epoch shuffles the rows and walks them in minibatches (no replacement), so only epochs compare;
a "step" here is an epoch's time divided by its minibatches.

Importable only when scikit-learn is installed (requirements-dev.txt).
"""
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

VERSION = sklearn.__version__


def epochs(workload, X, y, params, count, seed=0):
    """Times `count` epochs after one untimed one; returns (epoch seconds, losses, dtype of the
    fitted weights)."""
    if not workload.sklearn_can_train:
        raise ValueError("scikit-learn's MLPClassifier has no batchnorm or dropout, and this bench runs it "
                         "with adam only: workload %s is not one it can train" % workload.key)
    clf = MLPClassifier(hidden_layer_sizes=workload.hidden, activation="relu", solver="adam", alpha=0.0,
                        batch_size=workload.batch, learning_rate_init=workload.learning_rate, max_iter=1,
                        shuffle=True, random_state=seed, tol=0.0, n_iter_no_change=10 ** 9, warm_start=True)
    times, losses = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)  # untimed: allocates, and sets the same initial weights as everyone else
        nl = len(workload.dims) - 1
        for l in range(nl):
            clf.coefs_[l][...] = params["W%d" % (l + 1)]
            clf.intercepts_[l][...] = params["b%d" % (l + 1)]
        for _ in range(count):
            t = time.perf_counter()
            clf.fit(X, y)
            times.append(time.perf_counter() - t)
            losses.append(clf.loss_)
    return times, losses, str(clf.coefs_[0].dtype)


def threads():
    from threadpoolctl import threadpool_info
    return {"threadpoolctl": ", ".join("%s %s: %d" % (i["internal_api"], i.get("version"), i["num_threads"])
                                       for i in threadpool_info())}
