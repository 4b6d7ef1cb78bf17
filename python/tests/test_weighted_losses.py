"""The engine's per-row weights and squared-error loss, through FullyConnectedNet.loss and the
C ABI: centered-difference gradient checks in float64, a NumPy reference for the loss values,
both precisions, bad input."""
import ctypes

import numpy as np
import pytest

from swiftnn import _native
from swiftnn._native import SwiftNNError
from swiftnn.models import FullyConnectedNet


def _numeric_gradient(f, p, h=1e-6):
    grad = np.zeros_like(p)
    it = np.nditer(p, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = p[i]
        p[i] = old + h
        plus = f()
        p[i] = old - h
        minus = f()
        p[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def _net(loss_function, normalization=None, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    net = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, normalization=normalization, reg=0.1,
                            dtype=dtype, loss_function=loss_function, activation="leaky_relu", leak=0.1)
    for k in net.params:
        net.params[k] = (rng.randn(*net.params[k].shape) * 0.5 + (1.0 if k.startswith("gamma") else 0.0)).astype(dtype)
    return net, rng


def _reference_loss(net, X, y, w):
    """The weighted mean loss + 0.5 * reg * sum(W^2) computed in NumPy from the net's scores."""
    scores = net.loss(X).astype(np.float64)
    if net._output_loss() == "softmax":
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        per_row = -log_p[np.arange(len(y)), y]
    else:
        per_row = 0.5 * ((scores - y) ** 2).sum(axis=1)
    weights = np.ones(len(X)) if w is None else w
    l2 = sum((net.params["W%d" % l].astype(np.float64) ** 2).sum() for l in range(1, net.num_layers + 1))
    return (weights * per_row).sum() / weights.sum() + 0.5 * net.reg * l2


@pytest.mark.parametrize("loss_function", ["softmax", "squared"])
@pytest.mark.parametrize("normalization", [None, "layernorm"])
def test_weighted_loss_gradients_match_centered_differences(loss_function, normalization):
    net, rng = _net(loss_function, normalization)
    X = rng.randn(7, 4)
    y = rng.randint(0, 3, 7) if loss_function == "softmax" else rng.randn(7, 3)
    w = rng.uniform(0, 2, 7)
    loss, grads = net.loss(X, y, sample_weight=w)
    assert loss == pytest.approx(_reference_loss(net, X, y, w), rel=1e-12)
    for name, p in net.params.items():
        numeric = _numeric_gradient(lambda: net.loss(X, y, sample_weight=w)[0], p)
        # atol: h = 1e-6 leaves ~1e-10 of rounding in each numeric element
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("loss_function", ["softmax", "squared"])
def test_float32_weighted_loss_matches_float64(loss_function):
    net64, rng = _net(loss_function, dtype=np.float64)
    net32, _ = _net(loss_function, dtype=np.float32)
    X = rng.randn(9, 4)
    y = rng.randint(0, 3, 9) if loss_function == "softmax" else rng.randn(9, 3)
    w = rng.randint(0, 4, 9).astype(float)
    l64, g64 = net64.loss(X, y, sample_weight=w)
    l32, g32 = net32.loss(X, y, sample_weight=w)
    assert l32 == pytest.approx(l64, rel=1e-5)
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-5)


def test_integer_weights_equal_repeated_rows_and_unit_weights_the_plain_mean():
    net, rng = _net("softmax")
    X = rng.randn(6, 4)
    y = rng.randint(0, 3, 6)
    counts = np.array([2, 0, 1, 3, 1, 2])
    weighted, gw = net.loss(X, y, sample_weight=counts)
    repeated, gr = net.loss(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    assert weighted == pytest.approx(repeated, rel=1e-13)
    for k in gw:
        np.testing.assert_allclose(gw[k], gr[k], rtol=1e-11, atol=1e-14)
    plain, _ = net.loss(X, y)
    assert net.loss(X, y, sample_weight=np.ones(6))[0] == pytest.approx(plain, rel=1e-14)


def test_bad_weights_and_targets_are_refused_by_name():
    net, rng = _net("softmax")
    X = rng.randn(3, 4)
    with pytest.raises(SwiftNNError, match=r"weights\[1\] = -1"):
        net.loss(X, [0, 1, 2], sample_weight=[1.0, -1.0, 1.0])
    with pytest.raises(SwiftNNError, match="sum to 0"):
        net.loss(X, [0, 1, 2], sample_weight=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="sample_weight has shape"):
        net.loss(X, [0, 1, 2], sample_weight=[1.0, 1.0])
    reg, _ = _net("squared")
    with pytest.raises(ValueError, match="targets"):
        reg.loss(X, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="loss_function"):
        FullyConnectedNet([4], input_dim=4, num_classes=3, loss_function="hinge")


def test_c_abi_refuses_labels_and_targets_together_and_an_unknown_loss():
    net, rng = _net("squared")
    net.loss(rng.randn(2, 4))  # builds the plan
    plan = net._plan
    assert _native.lib.snn_net_set_loss(plan, 7) == -4
    assert b"SNN_LOSS_SQUARED" in _native.lib.snn_last_error()
    X = np.ascontiguousarray(rng.randn(2, 4))
    y = np.array([0, 1], np.int64)
    t = np.zeros((2, 3))
    params = (ctypes.c_void_p * len(net._names))(*[net.params[k].ctypes.data for k in net._names])
    grads_arrays = [np.empty(s) for s in net._shapes]
    grads = (ctypes.c_void_p * len(net._names))(*[g.ctypes.data for g in grads_arrays])
    status = _native.f64.net_loss_weighted(plan, None, None, grads, None, params, X.ctypes.data, y.ctypes.data,
                                           t.ctypes.data, None, 2, 4, 0.0, None, None, 0)
    assert status == -4 and b"both y and targets" in _native.lib.snn_last_error()
    assert _native.lib.snn_trainer_set_sampling(None, 1, 0) == -7
