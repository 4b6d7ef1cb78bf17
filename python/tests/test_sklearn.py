"""swiftnn.sklearn against scikit-learn itself: its estimator checks, its MLP, its tools."""
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
threadpoolctl = pytest.importorskip("threadpoolctl")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import swiftnn  # noqa: E402
from swiftnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Small networks and few epochs keep the ~60 checks per estimator within seconds. Both
# precisions run the whole suite: float32 (the default, the fast path) and float64.
def _checked(dtype):
    return [MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, learning_rate_init=0.01, dtype=dtype,
                          random_state=0),
            MLPRegressor(hidden_layer_sizes=(16,), max_iter=200, learning_rate_init=0.01, dtype=dtype,
                         random_state=0)]


def _expected_failures(estimator):
    """Only float32's sample-weight equivalence: the check compares a fit with integer weights to
    one on repeated rows at rtol 1e-7, and in float32 the weighted and the repeated sums of the
    same rows differ in the last bits (2e-7 absolute in the probabilities after 100 epochs).
    float64 passes it (the same estimator, the same check, below), so the engine's weighted
    mean is the repeated rows' mean; float32 merely rounds it differently."""
    if estimator.dtype == "float32":
        return {"check_sample_weight_equivalence_on_dense_data":
                "float32 rounding: weighted and repeated-row sums differ in the last bits; "
                "float64 passes this check"}
    return {}


@parametrize_with_checks(_checked("float32") + _checked("float64"), expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
