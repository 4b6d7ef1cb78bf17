"""model.predict_proba: the network and the softmax in one native call (snn_net_predict), equal to
the softmax of loss(X); the parameter table kept between calls follows the model's arrays."""
import copy
import ctypes
import pickle

import numpy as np
import pytest

from swiftnn import _native
from swiftnn.models import FullyConnectedNet, NeuralNetTwoLayerNet, TwoLayerNet

TOL = {np.float32: 1e-6, np.float64: 1e-12}


def softmax(scores):
    s = np.asarray(scores, np.float64)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def trained(norm, dtype, activation="relu", seed=0):
    rng = np.random.default_rng(seed)
    np.random.seed(seed)
    model = FullyConnectedNet([20, 15], input_dim=12, num_classes=6, normalization=norm, dtype=dtype,
                              activation=activation, init="he")
    X = rng.standard_normal((50, 12)).astype(dtype)
    y = rng.integers(0, 6, 50)
    for _ in range(3):  # train mode: the running statistics move
        _, grads = model.loss(X, y)
        for k in model.params:
            model.params[k] -= 0.1 * grads[k]
    return model, rng.standard_normal((30, 12)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_probabilities_are_the_softmax_of_the_test_mode_scores(norm, dtype, activation):
    model, X = trained(norm, dtype, activation)
    probs = model.predict_proba(X)
    assert probs.dtype == dtype and probs.shape == (30, 6)
    np.testing.assert_allclose(probs, softmax(model.loss(X)), rtol=0, atol=TOL[dtype])
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=0, atol=10 * TOL[dtype])
    for i in (0, 7, 29):  # one row at a time (the engine's one-row forward) gives the same
        np.testing.assert_allclose(model.predict_proba(X[i:i + 1])[0], probs[i], rtol=0, atol=TOL[dtype])


def test_the_other_models_and_input_shapes():
    np.random.seed(1)
    X = np.random.randn(8, 3, 2, 2)
    for model in (TwoLayerNet(input_dim=12, hidden_dim=7, num_classes=4, weight_scale=0.5),
                  NeuralNetTwoLayerNet(12, 7, 4, std=0.5)):
        np.testing.assert_allclose(model.predict_proba(X), softmax(model.loss(X)), rtol=0, atol=1e-12)
    model, Xf = trained("batchnorm", np.float32)
    np.testing.assert_allclose(model.predict_proba(Xf.astype(np.float64)[:, ::1]), model.predict_proba(Xf),
                               rtol=0, atol=1e-7)
    np.testing.assert_allclose(model.predict_proba(np.asfortranarray(Xf)), model.predict_proba(Xf), rtol=0, atol=0)
    np.testing.assert_allclose(model.predict_proba(Xf.tolist()), model.predict_proba(Xf), rtol=0, atol=0)


def test_changes_to_the_parameters_are_seen_between_calls():
    model, X = trained("batchnorm", np.float32)
    model.predict_proba(X)

    def check():
        np.testing.assert_allclose(model.predict_proba(X), softmax(model.loss(X)), rtol=0, atol=1e-6)

    model.params["W1"] *= 1.5  # in place
    check()
    model.params["W2"] = model.params["W2"] + 0.1  # a new array
    check()
    model.bn_params[0]["running_mean"] += 0.3  # statistics in place
    check()
    model.bn_params[1]["running_var"] = model.bn_params[1]["running_var"] * 2  # a new array
    check()
    model.bn_params[0]["eps"] = 0.5
    check()
    model.params["b3"] = model.params["b3"].astype(np.float64)  # converted on every call
    check()
    model.params["b3"] += 1.0
    check()
    model.params["W1"].shape = (12 * 20,)  # same object, reshaped in place: refused by name
    with pytest.raises(ValueError, match=r"'W1'\] has shape \(240,\), expected \(12, 20\)"):
        model.predict_proba(X)
    model.params["W1"].shape = (12, 20)
    check()
    model.params = {k: v * 0.9 for k, v in model.params.items()}  # the whole dict rebound
    check()
    model.params.update(W2=model.params["W2"][::-1].copy())  # rebound in the new dict
    check()
    model.params["W2"][...] = np.ascontiguousarray(model.params["W2"][:, ::-1])  # overwritten in place
    check()


def test_copies_and_pickles_predict_as_the_original():
    model, X = trained("layernorm", np.float64)
    expected = model.predict_proba(X)
    for other in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        np.testing.assert_array_equal(other.predict_proba(X), expected)


def test_a_model_without_running_statistics_runs_on_zeros_as_loss_does():
    np.random.seed(0)
    model = FullyConnectedNet([9], input_dim=5, num_classes=3, normalization="batchnorm", dtype=np.float64)
    model.bn_params[0]["running_var"] = np.ones(9)
    X = np.random.randn(4, 5)
    np.testing.assert_allclose(model.predict_proba(X), softmax(model.loss(X)), rtol=0, atol=1e-12)


def test_bad_input_is_refused_by_name():
    model, X = trained(None, np.float32)
    with pytest.raises(ValueError, match="FullyConnectedNet.predict_proba: X has 11 features"):
        model.predict_proba(X[:, :11])
    with pytest.raises(ValueError, match="with N >= 1"):
        model.predict_proba(X[:0])
    with pytest.raises(TypeError, match="expected real numbers"):
        model.predict_proba(np.array([["a"] * 12]))
    del model.params["b2"]
    with pytest.raises(ValueError, match="params has no 'b2'"):
        model.predict_proba(X)


def test_the_c_entry_point_gives_labels_and_refuses_two_null_outputs():
    model, X = trained("layernorm", np.float64)
    probs = model.predict_proba(X)
    k = _native.f64
    dt, params, _keep = model._param_table("test")
    running, eps, _ = model._norm_tables("test", model.bn_params, dt)
    labels = np.full(30, -1, np.int64)
    status = k.net_predict(model._get_plan(np.dtype(np.float64)), None, labels.ctypes.data, running, params,
                           X.ctypes.data, 30, 12, eps)
    assert status == 0
    np.testing.assert_array_equal(labels, np.argmax(model.loss(X), axis=1))
    assert np.array_equal(labels, np.argmax(probs, axis=1))
    status = k.net_predict(model._get_plan(np.dtype(np.float64)), None, None, running, params, X.ctypes.data, 30,
                           12, eps)
    assert status != 0 and b"both NULL" in _native.lib.snn_last_error()
    bad_eps = (ctypes.c_double * 2)(1e-5, -1.0)
    status = k.net_predict(model._get_plan(np.dtype(np.float64)), probs.ctypes.data, None, running, params,
                           X.ctypes.data, 30, 12, bad_eps)
    assert status != 0 and b"eps[1]" in _native.lib.snn_last_error()
