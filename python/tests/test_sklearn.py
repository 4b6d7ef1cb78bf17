"""swiftnn.sklearn against scikit-learn itself: its estimator checks, its MLP, its tools."""
import os
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


# ---- beyond the checks ---------------------------------------------------------------------
from sklearn.datasets import load_digits, make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import compute_sample_weight  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def test_pipeline_cross_val_score_on_digits_reaches_sklearns_mlp(digits):
    X, y = digits
    settings = dict(hidden_layer_sizes=(64,), max_iter=30, batch_size=64, random_state=0)
    ours = cross_val_score(make_pipeline(StandardScaler(), MLPClassifier(**settings)), X, y, cv=3)
    with threadpoolctl.threadpool_limits(1):   # scikit-learn's MLP on one BLAS thread: the machine is shared
        theirs = cross_val_score(make_pipeline(StandardScaler(), SklearnMLPClassifier(**settings)), X, y, cv=3)
    assert ours.mean() >= theirs.mean() - 0.01, (ours, theirs)
    assert ours.mean() > 0.9


class _RecordingMLP(MLPClassifier):
    """Records the engine's thread count while fitting (in whichever process fits it)."""

    def fit(self, X, y, sample_weight=None):
        self.engine_threads_ = swiftnn.thread_count()
        return super().fit(X, y, sample_weight)


def test_threadpoolctl_controls_the_engine_threads():
    info = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "swiftnn"]
    assert len(info) == 1 and info[0]["num_threads"] == swiftnn.thread_count()
    before = swiftnn.thread_count()
    with threadpoolctl.threadpool_limits(1):
        assert swiftnn.thread_count() == 1
    with threadpoolctl.threadpool_limits(limits=1, user_api="swiftnn"):
        assert swiftnn.thread_count() == 1
    assert swiftnn.thread_count() == before
    with pytest.raises(ValueError, match="set_thread_count"):
        swiftnn.set_thread_count(0)


def test_grid_search_with_two_jobs_runs_one_engine_thread_per_worker(digits):
    X, y = digits
    X = X[:600] / 16.0
    y = y[:600]
    grid = GridSearchCV(MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, learning_rate_init=0.01,
                                      random_state=0), {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2)
    grid.fit(X, y)
    assert grid.best_score_ > 0.65   # scikit-learn's MLP with these settings: 0.74
    # Each of 2 workers on 2 cores gets cpu_count // n_jobs threads, not the engine's default.
    result = cross_validate(_RecordingMLP(hidden_layer_sizes=(16,), max_iter=5, random_state=0), X, y, cv=2,
                            n_jobs=2, return_estimator=True)
    assert all(e.engine_threads_ == max(1, os.cpu_count() // 2) for e in result["estimator"])


def test_partial_fit_over_chunks_learns(digits):
    X, y = digits
    X = X / 16.0
    model = MLPClassifier(hidden_layer_sizes=(32,), random_state=0, learning_rate_init=0.01)
    classes = np.unique(y)
    for epoch in range(10):
        for start in range(0, 1500, 250):
            model.partial_fit(X[start:start + 250], y[start:start + 250], classes=classes)
    assert model.score(X[1500:], y[1500:]) > 0.85
    assert model.t_ == 10 * 1500 and len(model.loss_curve_) == 60
    assert model.loss_curve_[-1] < model.loss_curve_[0] / 3


def test_integer_sample_weights_on_full_batch_equal_repeated_rows():
    X, y = make_classification(n_samples=40, n_features=6, n_classes=3, n_informative=4, n_redundant=0,
                               random_state=1)
    w = np.random.RandomState(0).randint(0, 4, size=40)
    settings = dict(hidden_layer_sizes=(8,), max_iter=30, batch_size=500, dtype="float64", random_state=0,
                    alpha=0.01)
    weighted = MLPClassifier(**settings).fit(X, y, sample_weight=w)
    repeated = MLPClassifier(**settings).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    for a, b in zip(weighted.coefs_ + weighted.intercepts_, repeated.coefs_ + repeated.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_[:len(weighted.loss_curve_)], rtol=1e-9)


def test_class_weight_balanced_equals_its_sample_weights_and_a_dict_shifts_predictions():
    X, y = make_classification(n_samples=300, n_features=6, weights=[0.85, 0.15], random_state=2)
    settings = dict(hidden_layer_sizes=(8,), max_iter=40, random_state=0)
    balanced = MLPClassifier(class_weight="balanced", **settings).fit(X, y)
    by_hand = MLPClassifier(**settings).fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    np.testing.assert_array_equal(balanced.coefs_[0], by_hand.coefs_[0])
    plain = MLPClassifier(**settings).fit(X, y)
    minority = MLPClassifier(class_weight={0: 1.0, 1: 20.0}, **settings).fit(X, y)
    assert (minority.predict(X) == 1).sum() > (plain.predict(X) == 1).sum()
    with pytest.raises(ValueError, match="class_weight"):
        MLPClassifier(class_weight={5: 1.0}, **settings).fit(X, y)


def test_regressor_r2_on_make_regression_one_and_several_outputs():
    for targets in (1, 3):
        X, y = make_regression(n_samples=600, n_features=10, n_targets=targets, noise=1.0, random_state=0)
        X_test, y_test = X[500:], y[500:]
        model = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=0)
        model.fit(X[:500], y[:500])
        assert model.score(X_test, y_test) > 0.95
        assert model.predict(X_test).shape == y_test.shape
        assert model.n_outputs_ == targets and model.out_activation_ == "identity"


def test_early_stopping_keeps_the_best_validation_weights(digits):
    X, y = digits
    model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=200, early_stopping=True, n_iter_no_change=3,
                          learning_rate_init=0.05, random_state=0).fit(X / 16.0, y)
    assert model.n_iter_ < 200
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.validation_scores_[-1] <= model.best_validation_score_


def test_sgd_schedules_follow_sklearns_loss_curves():
    # Three classes: both use a softmax output of the same shape, and the same Glorot draws from
    # the same random_state, so the curves differ only by the minibatch order.
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=3)
    for schedule in ("constant", "adaptive", "invscaling"):
        settings = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate=schedule, learning_rate_init=0.1,
                        max_iter=60, random_state=0, n_iter_no_change=2, tol=1e-3)
        model = MLPClassifier(**settings).fit(X, y)
        theirs = SklearnMLPClassifier(**settings).fit(X, y)
        assert model.score(X, y) >= theirs.score(X, y) - 0.05, schedule
        np.testing.assert_allclose(model.loss_curve_[:5], theirs.loss_curve_[:5], rtol=0.05)



def test_pickled_estimator_has_no_native_handle_and_predicts_identically(digits):
    X, y = digits
    model = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, y)
    model.predict(X)   # builds the native plan
    blob = pickle.dumps(model)
    restored = pickle.loads(blob)
    assert restored._model._plan is None
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert b"c_void_p" not in blob


def test_same_random_state_gives_identical_estimators_and_clone_is_unfitted(digits):
    X, y = digits
    a = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=7).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=7).fit(X, y)
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(u, v)
    assert a.loss_curve_ == b.loss_curve_
    c = clone(a)
    assert c.get_params() == a.get_params()
    with pytest.raises(NotFittedError):
        c.predict(X)
    c.set_params(alpha=0.5, hidden_layer_sizes=(4, 4))
    assert c.fit(X, y).coefs_[1].shape == (4, 4)


def test_bad_input_gives_sklearns_errors(digits):
    from scipy import sparse
    X, y = digits
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2)
    bad = X.astype(float)
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad, y)
    with pytest.raises(TypeError, match="[Ss]parse"):
        model.fit(sparse.csr_matrix(X), y)
    with pytest.raises(ValueError, match="2D array"):
        model.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="[Cc]omplex"):
        model.fit(X + 1j, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        model.fit(X, y + 0.5)
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(activation="tanh").fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        MLPClassifier(solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=np.unique(y))
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
        model.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        model.fit(X, y, sample_weight=-np.ones(len(y)))
    fitted = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :10])


def test_fortran_order_and_read_only_memmaps_are_accepted(digits, tmp_path):
    X, y = digits
    X = np.asfortranarray(X / 16.0)
    path = tmp_path / "x.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    a = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(mapped, y)
    np.testing.assert_array_equal(a.predict_proba(mapped), b.predict_proba(X))


def test_batchnorm_layernorm_dropout_and_leaky_relu_fit(digits):
    X, y = digits
    X = X / 16.0
    for extra in (dict(normalization="batchnorm"), dict(normalization="layernorm"), dict(dropout=0.8),
                  dict(activation="leaky_relu", init="he"), dict(solver="rmsprop"), dict(solver="adagrad", learning_rate_init=0.05)):
        model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=15, random_state=0, **extra).fit(X[:1400], y[:1400])
        assert model.score(X[1400:], y[1400:]) > 0.7, extra


def test_warm_start_continues_from_the_fitted_weights(digits):
    X, y = digits
    X = X / 16.0
    settings = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    model = MLPClassifier(warm_start=True, **settings).fit(X, y)
    first = [c.copy() for c in model.coefs_]
    curve = list(model.loss_curve_)
    model.fit(X, y)
    assert len(model.loss_curve_) == 10 and model.loss_curve_[:5] == curve
    assert model.loss_curve_[5] < curve[0]   # it went on from the fitted weights, not a new draw
    assert not np.array_equal(first[0], model.coefs_[0])
    cold = MLPClassifier(**settings).fit(X, y)
    cold.fit(X, y)
    assert len(cold.loss_curve_) == 5


def test_verbose_prints_sklearns_lines(digits, capsys):
    X, y = digits
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, verbose=True, early_stopping=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Validation score: " in out
