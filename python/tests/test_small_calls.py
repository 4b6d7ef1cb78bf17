"""The small-call fast paths stay correct (their speed is bench/overhead.py's business):

- addresses read from the array header are the arrays' own, for every kind of array;
- a model's cached pointer table follows its params: values changed in place (a gradient
  check), arrays replaced (the Solver), the dict replaced (load), and an array whose shape,
  dtype or address changed in place — each call computes what a fresh model with those
  params computes;
- the fast path and the converting path of the layers agree, and the rules never write into
  an array NumPy marks read-only.
"""
import sys

import numpy as np
import pytest

import reference as ref
from swiftnn import _native, layers
from swiftnn.models import FullyConnectedNet, TwoLayerNet
from swiftnn.optim import adam, rmsprop, sgd, sgd_momentum


def test_header_addresses_are_the_arrays_own():
    if sys.implementation.name == "cpython" and sys.maxsize > 2**32:
        assert _native.address is _native._address_by_header
    base = np.arange(60, dtype=np.float64)
    arrays = [base, base[7:], base.reshape(6, 10)[2:], base.reshape(6, 10)[:, 3:], np.empty(0),
              np.zeros((3, 4), np.float32), np.frombuffer(bytearray(32), np.float64), base.reshape(6, 10).T,
              np.asfortranarray(np.ones((3, 3))), np.float64(2.0) * np.ones(1)]
    for a in arrays:
        assert _native.address(a) == a.ctypes.data


def fresh_loss(model, X, y):
    """What a new model of the same configuration computes with model's current params."""
    params = {k: np.array(v, dtype=np.float64) for k, v in model.params.items()}
    return ref.fc_net(params, X, y, num_layers=len(model._dims) - 1, reg=model.reg)[:2]


def net(dtype=np.float64):
    np.random.seed(1)
    return FullyConnectedNet([7, 6], input_dim=5, num_classes=4, dtype=dtype, weight_scale=0.3, reg=0.2)


def data():
    rng = np.random.default_rng(2)
    return rng.standard_normal((3, 5)), rng.integers(0, 4, 3)


def check(model, X, y, tol=1e-12):
    loss, grads = model.loss(X, y)
    expected_loss, expected_grads = fresh_loss(model, X, y)
    assert loss == pytest.approx(expected_loss, rel=tol)
    for k in grads:
        np.testing.assert_allclose(grads[k], expected_grads[k], rtol=tol * 100, atol=tol)


def test_values_changed_in_place_are_seen_as_in_a_gradient_check():
    model, (X, y) = net(), data()
    check(model, X, y)
    W = model.params["W2"]
    h = 1e-5
    before = model.loss(X, y)[0]
    W[1, 2] += h
    plus = model.loss(X, y)[0]
    W[1, 2] -= 2 * h
    minus = model.loss(X, y)[0]
    W[1, 2] += h
    assert model.params["W2"] is W
    _, grads = model.loss(X, y)
    assert (plus - minus) / (2 * h) == pytest.approx(grads["W2"][1, 2], rel=1e-6)
    assert model.loss(X, y)[0] == before
    model.params["b3"][:] = 0.5
    check(model, X, y)


def test_replaced_arrays_and_a_replaced_dict_are_used():
    model, (X, y) = net(), data()
    check(model, X, y)
    model.params["W1"] = model.params["W1"] * 2              # what the Solver does after an update
    check(model, X, y)
    model.params = {k: v + 0.1 for k, v in model.params.items()}   # what load does
    check(model, X, y)


def test_an_in_place_shape_change_is_refused_by_name():
    model, (X, y) = net(), data()
    model.loss(X, y)
    model.params["W2"].shape = (6, 7)                        # same array, same address, new shape
    with pytest.raises(ValueError, match=r"params\['W2'\] has shape \(6, 7\), expected \(7, 6\)"):
        model.loss(X, y)


def test_an_in_place_dtype_change_is_computed_as_the_new_values():
    model, (X, y) = net(), data()
    model.loss(X, y)
    b = model.params["b1"]
    b.dtype = np.int64                                       # the same bytes, read as integers
    assert model.params["b1"] is b and b.dtype == np.int64
    check(model, X, y)


def test_an_address_change_in_place_is_followed():
    model, (X, y) = net(), data()
    model.loss(X, y)
    W = model.params["W1"]
    values = W.copy()
    old = W.ctypes.data
    W.resize((200, 60), refcheck=False)                      # the buffer moves (usually) ...
    W.resize((5, 7), refcheck=False)                         # ... and comes back to the shape
    W[...] = values + 1.0
    assert model.params["W1"] is W
    check(model, X, y)
    del old


def test_params_converted_to_the_model_dtype_are_reconverted_every_call():
    model, (X, y) = net(np.float32), data()
    model.params["W1"] = model.params["W1"].astype(np.float64)   # the model computes in float32
    first = model.loss(X, y)[0]
    model.params["W1"] *= 3                                  # in place, in the float64 array
    second = model.loss(X, y)[0]
    assert second != first
    assert second == pytest.approx(fresh_loss(model, X, y)[0], rel=1e-4)


def test_two_layer_net_follows_a_dtype_change_of_its_params():
    np.random.seed(3)
    model = TwoLayerNet(input_dim=5, hidden_dim=6, num_classes=3, weight_scale=0.3)
    X, y = data()[0], np.array([0, 2, 1])
    loss64 = model.loss(X, y)[0]
    model.params = {k: v.astype(np.float32) for k, v in model.params.items()}
    loss32, grads = model.loss(X, y)
    assert grads["W1"].dtype == np.float32 and loss32 == pytest.approx(loss64, rel=1e-5)


@pytest.mark.parametrize("x", [
    np.arange(-6, 6, dtype=np.float64).reshape(3, 4)[:, ::2],     # not contiguous
    np.arange(-6, 6, dtype=np.float32).reshape(3, 4),
    np.arange(-6, 6).reshape(3, 4),                             # integers: float64
    [[-1.0, 2.0], [3.0, -4.0]],                                 # a list
])
def test_the_fast_and_the_converting_paths_agree(x):
    a = np.asarray(x)
    fast = np.ascontiguousarray(a, dtype=np.float32 if a.dtype == np.float32 else np.float64)
    out, cache = layers.relu_forward(x)
    np.testing.assert_array_equal(out, layers.relu_forward(fast)[0])
    assert cache is x
    w = np.linspace(-1, 1, a.shape[1] * 3).reshape(a.shape[1], 3)
    b = np.array([0.5, -0.5, 0.0])
    out, _ = layers.affine_forward(x, w, b)
    np.testing.assert_allclose(out, fast.astype(np.float64) @ w + b, rtol=1e-6)


def test_update_rules_never_write_into_read_only_arrays():
    w = np.ones(4)
    w.flags.writeable = False
    dw = np.full(4, 0.5)
    next_w, _ = sgd(w, dw, {"learning_rate": 0.1})
    np.testing.assert_array_equal(w, 1.0)
    np.testing.assert_allclose(next_w, 0.95)
    for rule, state in ((adam, "m"), (rmsprop, "cache"), (sgd_momentum, "velocity")):
        frozen = np.zeros(4)
        frozen.flags.writeable = False
        config = {state: frozen}
        rule(np.ones(4), dw, config)
        np.testing.assert_array_equal(frozen, 0.0)
        assert config[state] is not frozen and np.any(config[state] != 0)


def test_adam_keeps_updating_its_own_state_arrays():
    config = {}
    w, dw = np.ones(5, np.float32), np.full(5, 0.1, np.float32)
    w, config = adam(w, dw, config)
    m = config["m"]
    w, config = adam(w, dw, config)
    assert config["m"] is m and config["t"] == 2
    m_expected = 0.1 * 0.1 + 0.9 * (0.1 * 0.1)
    np.testing.assert_allclose(config["m"], m_expected, rtol=1e-6)
