"""swiftnn.models against the NumPy reference network in reference.py (reference.fc_net),
against numeric gradients, and against the course's own check values.

Tolerances: the engine's loss, scores and gradients must match the float64 reference to
1e-10 (float64) or 1e-4 (float32; the reference runs in float64 on the same float32-rounded
inputs), relative to the largest reference value of each array. Numeric gradient checks run
in float64 with centered differences (h = 1e-5); the error is measured against the largest
gradient entry, max|num - analytic| / max|analytic| (the course's element-wise rel_error is
dominated by tiny entries, where the difference quotient's round-off of ~1e-11 is all there is):
< 1e-6 for W, < 1e-8 for b, gamma and beta. The b of a layer followed by batchnorm has a
true gradient of 0 and is checked with an absolute tolerance.
"""
import math
import pickle
import re

import numpy as np
import pytest

import reference as ref
from swiftnn.models import FullyConnectedNet, NeuralNetTwoLayerNet, TwoLayerNet
from swiftnn.solver import Solver

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]
TOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
NORMS = [None, "batchnorm", "layernorm"]
NORM_IDS = ["plain", "bn", "ln"]
W_GRAD_TOL = 1e-6
B_GRAD_TOL = 1e-8


@pytest.fixture(params=DTYPES, ids=DTYPE_IDS)
def dtype(request):
    return np.dtype(request.param)


def check(actual, expected, dtype, what="", atol_scale=None):
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.dtype == np.dtype(dtype), "%s: dtype %s, expected %s" % (what, actual.dtype, dtype)
    assert actual.shape == expected.shape, "%s: shape %s, expected %s" % (what, actual.shape, expected.shape)
    rtol = TOL[np.dtype(dtype)]
    scale = float(np.max(np.abs(expected))) if atol_scale is None else atol_scale
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def check_loss(actual, expected, dtype, what="loss"):
    assert isinstance(actual, float), "%s: %r is not a Python float" % (what, type(actual))
    rtol = TOL[np.dtype(dtype)]
    assert abs(actual - expected) <= rtol * abs(expected), "%s: %r, expected %r" % (what, actual, expected)


def biased_before_norm(name, normalization, num_layers):
    """b_l of a hidden layer followed by batchnorm: its true gradient is 0."""
    return normalization == "batchnorm" and re.fullmatch(r"b\d+", name) is not None and int(name[1:]) < num_layers


def check_grads(grads, expected, dtype, normalization, num_layers, what=""):
    assert set(grads) == set(expected), "%s: grads keys %s, expected %s" % (what, sorted(grads), sorted(expected))
    for name in expected:
        if biased_before_norm(name, normalization, num_layers):
            # exactly zero in exact arithmetic: compare on the scale of that layer's dW
            l = int(name[1:])
            check(grads[name], expected[name], dtype, "%s grads[%r]" % (what, name),
                  atol_scale=float(np.max(np.abs(expected["W%d" % l]))))
        else:
            check(grads[name], expected[name], dtype, "%s grads[%r]" % (what, name))


def randomize(model, r, scale=0.3):
    """Non-trivial b, gamma, beta (the course initializes them to 0 / 1 / 0)."""
    for name, p in model.params.items():
        if re.fullmatch(r"b\d+", name) or name.startswith("beta"):
            model.params[name] = (scale * r.standard_normal(p.shape)).astype(p.dtype)
        elif name.startswith("gamma"):
            model.params[name] = (1 + scale * r.standard_normal(p.shape)).astype(p.dtype)


def make(hidden, D, C, dtype, init_seed=0, **kwargs):
    """A FullyConnectedNet with weight_scale 0.3 (unless given) and random b, gamma, beta;
    keyword arguments go to the constructor (``seed`` is the dropout seed)."""
    np.random.seed(init_seed)
    kwargs.setdefault("weight_scale", 0.3)
    model = FullyConnectedNet(hidden, input_dim=D, num_classes=C, dtype=dtype, **kwargs)
    randomize(model, np.random.default_rng(init_seed + 1))
    return model


def batch(N, D, C, seed=0, shape=None):
    r = np.random.default_rng(seed + 100)
    X = r.standard_normal((N, D) if shape is None else shape)
    y = r.integers(0, C, size=N)
    return X, y


def ref_bn_params(model):
    return [dict(p) for p in model.bn_params]


# ---------------------------------------------------------------------------------------
# the whole network against the reference

ARCHS = [
    ([9], {}),
    ([9, 8], {}),
    ([9, 8, 7], {"reg": 0.37}),
    ([9, 8], {"dropout_keep_ratio": 0.6, "seed": 123}),
    ([9, 8, 7], {"dropout_keep_ratio": 0.75, "seed": 2**63 + 12345, "reg": 0.1}),
    ([9, 8], {"activation": "leaky_relu", "leak": 0.1, "reg": 0.2}),
    ([9, 8], {"activation": "leaky_relu", "dropout_keep_ratio": 0.5, "seed": 7}),
]
ARCH_IDS = ["L2", "L3", "L4-reg", "L3-dropout", "L4-dropout-reg-bigseed", "L3-leaky", "L3-leaky-dropout"]


@pytest.mark.parametrize("normalization", NORMS, ids=NORM_IDS)
@pytest.mark.parametrize("arch", ARCHS, ids=ARCH_IDS)
def test_loss_and_every_gradient_match_the_reference(arch, normalization, dtype):
    hidden, kwargs = arch
    N, D, C = 7, 6, 5
    model = make(hidden, D, C, dtype, normalization=normalization, **kwargs)
    X, y = batch(N, D, C)
    L = len(hidden) + 1
    params = {k: v.copy() for k, v in model.params.items()}
    bn_before = ref_bn_params(model)
    loss, grads = model.loss(X, y)
    exp_loss, exp_grads, running = ref.fc_net(
        params, X.astype(dtype), y, L, normalization, kwargs.get("dropout_keep_ratio", 1.0),
        kwargs.get("seed", 0), kwargs.get("reg", 0.0), bn_before, kwargs.get("activation", "relu"),
        kwargs.get("leak", 0.01), mask_dtype=dtype)
    check_loss(loss, exp_loss, dtype)
    check_grads(grads, exp_grads, dtype, normalization, L)
    for name in grads:
        assert grads[name].shape == model.params[name].shape
    if normalization == "batchnorm":
        for l, (mean, var) in enumerate(running):
            check(model.bn_params[l]["running_mean"], mean, dtype, "running_mean %d" % l)
            check(model.bn_params[l]["running_var"], var, dtype, "running_var %d" % l)
    # test mode: scores, from the running statistics, without dropout
    scores = model.loss(X)
    exp_scores = ref.fc_net(params, X.astype(dtype), None, L, normalization, bn_params=ref_bn_params(model),
                            activation=kwargs.get("activation", "relu"), leak=kwargs.get("leak", 0.01))
    check(scores, exp_scores, dtype, "test-mode scores")


def test_dropout_masks_come_from_the_per_layer_seeds(dtype):
    """Layer l's mask from SplitMix64 started at the l-th output of SplitMix64(seed); a wrong
    layer seed (e.g. the model seed itself for every layer) gives a different loss."""
    hidden, D, C = [40, 30], 6, 5
    model = make(hidden, D, C, dtype, dropout_keep_ratio=0.5, seed=99)
    X, y = batch(16, D, C)
    params = {k: v.copy() for k, v in model.params.items()}
    loss, _ = model.loss(X, y)
    exp, _, _ = ref.fc_net(params, X.astype(dtype), y, 3, keep=0.5, seed=99, mask_dtype=dtype)
    check_loss(loss, exp, dtype)
    # a different seed changes the masks; the same seed repeats them
    assert model.loss(X, y)[0] == loss
    model.dropout_param["seed"] = 100
    assert model.loss(X, y)[0] != loss


def test_dropout_masks_use_the_documented_bits(dtype):
    """u = (z >> 11) * 2**-53 for float64 and (z >> 40) * 2**-24 for float32. The keep
    probability is chosen so that one unit of the first hidden layer is kept with one choice
    of bits and dropped with the other (leaky ReLU, so that no unit is exactly 0)."""
    N, D, H, C, seed = 6, 5, 8, 4, 99
    layer_seed = int(ref.splitmix64(seed, 2)[0])
    z = ref.splitmix64(layer_seed, N * H)
    u53 = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    u24 = (z >> np.uint64(40)).astype(np.float64) * 2.0 ** -24
    if dtype == np.float64:
        i = int(np.flatnonzero((u53 > 0.3) & (u53 < 0.9) & (u24 < u53))[0])
        keep = float(u53[i])                 # 53 bits: u < keep is False; 24 bits: True
    else:
        low = u53 - u24
        i = int(np.flatnonzero((u24 >= 0.25) & (u24 < 0.5) & (low >= 2.0 ** -25))[0])
        keep = float(u24[i] + 2.0 ** -25)    # exact in float32; 24 bits: kept; 53 bits: dropped
        assert float(np.float32(keep)) == keep
    right = ref.dropout_mask((N, H), keep, layer_seed, dtype)
    other = ref.dropout_mask((N, H), keep, layer_seed, np.float32 if dtype == np.float64 else np.float64)
    assert (right.ravel()[i] == 0) != (other.ravel()[i] == 0)
    model = make([H, 7], D, C, dtype, dropout_keep_ratio=keep, seed=seed, activation="leaky_relu", leak=0.1)
    X, y = batch(N, D, C)
    params = {k: v.copy() for k, v in model.params.items()}
    loss, grads = model.loss(X, y)
    exp_loss, exp_grads, _ = ref.fc_net(params, X.astype(dtype), y, 3, keep=keep, seed=seed,
                                        activation="leaky_relu", leak=0.1, mask_dtype=dtype)
    check_loss(loss, exp_loss, dtype)
    check_grads(grads, exp_grads, dtype, None, 3)
    wrong_loss, _, _ = ref.fc_net(params, X.astype(dtype), y, 3, keep=keep, seed=seed, activation="leaky_relu",
                                  leak=0.1, mask_dtype=np.float32 if dtype == np.float64 else np.float64)
    assert abs(wrong_loss - exp_loss) > 100 * TOL[dtype] * exp_loss, "the test does not tell the bits apart"


def test_dropout_without_a_seed_draws_new_masks():
    model = make([50, 50], 6, 5, np.float64, dropout_keep_ratio=0.5)
    assert "seed" not in model.dropout_param
    X, y = batch(16, 6, 5)
    losses = {model.loss(X, y)[0] for _ in range(4)}
    assert len(losses) > 1


def test_inputs_of_any_shape_are_flattened(dtype):
    model = make([9, 8], 2 * 3 * 2, 5, dtype, normalization="layernorm")
    X, y = batch(4, 12, 5, shape=(4, 2, 3, 2))
    loss, grads = model.loss(X, y)
    loss2, grads2 = model.loss(X.reshape(4, 12), y)
    assert loss == loss2
    for k in grads:
        np.testing.assert_array_equal(grads[k], grads2[k])


def test_scores_and_grads_have_the_model_dtype_whatever_x():
    for dt in DTYPES:
        model = make([9], 6, 5, dt)
        X, y = batch(4, 6, 5)
        for x in (X, X.astype(np.float32), (10 * X).astype(np.int32)):
            assert model.loss(x).dtype == np.dtype(dt)
            loss, grads = model.loss(x, y)
            assert isinstance(loss, float)
            assert all(g.dtype == np.dtype(dt) for g in grads.values())


# ---------------------------------------------------------------------------------------
# numeric gradient checks (float64)

GRAD_CASES = [
    ("plain", dict()),
    ("plain-reg", dict(reg=3.14)),
    ("dropout-reg", dict(dropout_keep_ratio=0.75, seed=123, reg=0.7)),
    ("leaky", dict(activation="leaky_relu", leak=0.1)),
    ("leaky-default-leak", dict(activation="leaky_relu", reg=0.5)),
    ("he", dict(init="he", reg=0.1)),
    ("xavier", dict(init="xavier")),
    ("bn", dict(normalization="batchnorm")),
    ("bn-dropout-reg", dict(normalization="batchnorm", dropout_keep_ratio=0.75, seed=5, reg=3.14)),
    ("bn-leaky", dict(normalization="batchnorm", activation="leaky_relu", leak=0.2)),
    ("ln", dict(normalization="layernorm")),
    ("ln-dropout-reg", dict(normalization="layernorm", dropout_keep_ratio=0.75, seed=5, reg=3.14)),
]


def grad_error(num, ana):
    return float(np.max(np.abs(num - ana)) / max(float(np.max(np.abs(ana))), 1e-300))


@pytest.mark.parametrize("case", [c for _, c in GRAD_CASES], ids=[n for n, _ in GRAD_CASES])
def test_numeric_gradient_check(case):
    """The course's check: N, D, H1, H2, C = 2, 15, 20, 30, 10 (N = 5 here, so that
    batchnorm's statistics are not degenerate), weight_scale 5e-2, float64."""
    np.random.seed(231)
    N, D, H1, H2, C = 5, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=N)
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=5e-2, dtype=np.float64, **case)
    randomize(model, np.random.default_rng(0), scale=0.1)
    loss, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    norm = case.get("normalization")
    for name in sorted(grads):
        num = ref.eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name])
        if biased_before_norm(name, norm, 3):
            assert np.max(np.abs(grads[name])) < 1e-12, "%s: gradient should be 0" % name
            assert np.max(np.abs(num)) < 1e-8, "%s: numeric gradient %g" % (name, np.max(np.abs(num)))
            continue
        err = grad_error(num, grads[name])
        tol = W_GRAD_TOL if name.startswith("W") else B_GRAD_TOL
        assert err < tol, "%s: relative error %.3e >= %g" % (name, err, tol)


@pytest.mark.parametrize("init", ["he", "xavier"])
def test_init_options_match_the_reference(init):
    model = make([9, 8], 6, 5, np.float64, init=init, activation="leaky_relu", leak=0.05)
    X, y = batch(7, 6, 5)
    loss, grads = model.loss(X, y)
    exp_loss, exp_grads, _ = ref.fc_net(model.params, X, y, 3, activation="leaky_relu", leak=0.05)
    check_loss(loss, exp_loss, np.float64)
    check_grads(grads, exp_grads, np.float64, None, 3)


# ---------------------------------------------------------------------------------------
# the course's sanity checks

@pytest.mark.parametrize("normalization", NORMS, ids=NORM_IDS)
def test_initial_loss_is_about_log_num_classes(normalization, dtype):
    np.random.seed(0)
    N, D, C = 50, 100, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=N)
    model = FullyConnectedNet([50, 40], input_dim=D, num_classes=C, weight_scale=1e-4, dtype=dtype,
                              normalization=normalization)
    loss, _ = model.loss(X, y)
    assert abs(loss - math.log(C)) < 1e-3, "initial loss %r, expected about ln(10) = %r" % (loss, math.log(C))
    # regularization adds 0.5 * reg * sum(W^2)
    model.reg = 1e3
    loss_reg, _ = model.loss(X, y)
    penalty = 0.5 * 1e3 * sum(float(np.sum(model.params["W%d" % l].astype(np.float64) ** 2)) for l in (1, 2, 3))
    assert abs((loss_reg - loss) - penalty) <= 1e-4 * penalty + 1e-6


@pytest.mark.parametrize("momentum, eps", [(None, None), (0.8, 1e-3)], ids=["defaults", "custom"])
def test_running_statistics_after_50_train_steps(dtype, momentum, eps):
    hidden, D, C, L = [12, 10], 8, 6, 3
    model = make(hidden, D, C, dtype, normalization="batchnorm", reg=0.01)
    if momentum is not None:
        for p in model.bn_params:
            p["momentum"], p["eps"] = momentum, eps
    running = [{k: v for k, v in p.items() if k in ("momentum", "eps")} for p in model.bn_params]
    r = np.random.default_rng(11)
    for step in range(50):
        X = (2 * r.standard_normal((16, D)) + 1).astype(dtype)
        y = r.integers(0, C, size=16)
        params = {k: v.copy() for k, v in model.params.items()}
        _, exp_grads, stats = ref.fc_net(params, X, y, L, "batchnorm", reg=0.01, bn_params=running)
        for l, (mean, var) in enumerate(stats):
            running[l]["running_mean"], running[l]["running_var"] = mean, var
        _, grads = model.loss(X, y)
        for p in model.bn_params:
            assert p["mode"] == "train"
        # a plain SGD step with the engine's gradients, seen by both sides
        for k in model.params:
            model.params[k] = (model.params[k] - 0.05 * grads[k]).astype(dtype)
    for l in range(L - 1):
        for key in ("running_mean", "running_var"):
            stat = model.bn_params[l][key]
            assert isinstance(stat, np.ndarray) and stat.dtype == dtype and stat.shape == (hidden[l],)
            check(stat, running[l][key], dtype, "bn_params[%d][%r]" % (l, key))
    # test mode uses them, leaves them alone, and returns scores
    Xt = r.standard_normal((9, D)).astype(dtype)
    before = [(p["running_mean"].copy(), p["running_var"].copy()) for p in model.bn_params]
    scores = model.loss(Xt)
    assert scores.shape == (9, C) and scores.dtype == dtype
    for p in model.bn_params:
        assert p["mode"] == "test"
    for p, (m, v) in zip(model.bn_params, before):
        np.testing.assert_array_equal(p["running_mean"], m)
        np.testing.assert_array_equal(p["running_var"], v)
    exp_scores = ref.fc_net(model.params, Xt, None, L, "batchnorm", bn_params=running)
    check(scores, exp_scores, dtype, "test-mode scores")
    # and they are not the batch statistics of Xt (momentum 0 makes the running ones the batch's)
    no_memory = [{"momentum": 0.0, "eps": p.get("eps", 1e-5)} for p in running]
    _, _, batch_stats = ref.fc_net(model.params, Xt, np.zeros(9, np.int64), L, "batchnorm", bn_params=no_memory)
    for p, (m, v) in zip(no_memory, batch_stats):
        p["running_mean"], p["running_var"] = m, v
    batch_scores = ref.fc_net(model.params, Xt, None, L, "batchnorm", bn_params=no_memory)
    assert not np.allclose(scores, batch_scores, rtol=1e-2, atol=1e-2)


def test_loss_reads_params_on_every_call(dtype):
    model = make([9, 8], 6, 5, dtype, normalization="batchnorm")
    X, y = batch(7, 6, 5)
    loss0, _ = model.loss(X, y)
    scores0 = model.loss(X)
    # replaced by a new array (what the Solver does)
    new_W2 = (model.params["W2"] * 1.5).astype(dtype)
    model.params["W2"] = new_W2
    loss1, _ = model.loss(X, y)
    assert loss1 != loss0
    exp, _, _ = ref.fc_net(model.params, X.astype(dtype), y, 3, "batchnorm")
    check_loss(loss1, exp, dtype)
    # modified in place (what a gradient check does)
    model.params["W1"][0, 0] += 1.0
    model.params["b3"][1] -= 0.5
    loss2, _ = model.loss(X, y)
    assert loss2 != loss1
    exp, _, _ = ref.fc_net(model.params, X.astype(dtype), y, 3, "batchnorm")
    check_loss(loss2, exp, dtype)
    assert not np.array_equal(model.loss(X), scores0)


@pytest.mark.parametrize("normalization", NORMS, ids=NORM_IDS)
def test_seeded_init_follows_the_course_draw_order(normalization, dtype):
    D, H1, H2, C, ws = 11, 7, 6, 4, 3e-2
    np.random.seed(0)
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=ws, dtype=dtype,
                              normalization=normalization, dropout_keep_ratio=0.5, seed=17, reg=0.25)
    after_model = np.random.randn()
    np.random.seed(0)
    W1 = ws * np.random.randn(D, H1)
    W2 = ws * np.random.randn(H1, H2)
    W3 = ws * np.random.randn(H2, C)
    after_ref = np.random.randn()
    assert after_model == after_ref, "the constructor drew more or fewer numbers than W1, W2, W3"
    expected = {"W1": W1, "b1": np.zeros(H1), "W2": W2, "b2": np.zeros(H2), "W3": W3, "b3": np.zeros(C)}
    if normalization is not None:
        expected.update(gamma1=np.ones(H1), beta1=np.zeros(H1), gamma2=np.ones(H2), beta2=np.zeros(H2))
    assert set(model.params) == set(expected)
    for k, v in expected.items():
        assert model.params[k].dtype == dtype, "%s has dtype %s" % (k, model.params[k].dtype)
        np.testing.assert_array_equal(model.params[k], v.astype(dtype), err_msg=k)
    # the course's attributes
    assert model.normalization == normalization
    assert model.use_dropout is True
    assert model.reg == 0.25
    assert model.num_layers == 3
    assert np.dtype(model.dtype) == dtype
    assert model.dropout_param == {"mode": "train", "p": 0.5, "seed": 17}
    if normalization == "batchnorm":
        assert model.bn_params == [{"mode": "train"}, {"mode": "train"}]
    elif normalization == "layernorm":
        assert model.bn_params == [{}, {}]
    else:
        assert model.bn_params == []


def test_loss_sets_the_mode_of_batchnorm_params_only():
    """The course's loss sets bn_param['mode'] only `if self.normalization == "batchnorm"`:
    a layernorm model's bn_params stay [{}, ...]."""
    X, y = batch(4, 6, 5)
    model = make([9, 8], 6, 5, np.float64, normalization="layernorm")
    model.loss(X, y)
    model.loss(X)
    assert model.bn_params == [{}, {}], "layernorm bn_params became %r" % (model.bn_params,)
    model = make([9, 8], 6, 5, np.float64, dropout_keep_ratio=0.5, seed=1)
    model.loss(X, y)
    assert model.dropout_param["mode"] == "train" and model.bn_params == []
    model.loss(X)
    assert model.dropout_param["mode"] == "test"


def test_course_attributes_without_dropout():
    model = FullyConnectedNet([5], input_dim=4, num_classes=3)
    assert model.use_dropout is False
    assert model.dropout_param == {}
    assert model.dtype == np.float32
    assert all(v.dtype == np.float32 for v in model.params.values())
    model = FullyConnectedNet([5], input_dim=4, num_classes=3, dropout_keep_ratio=0.9)
    assert model.dropout_param == {"mode": "train", "p": 0.9}


@pytest.mark.parametrize("init, gain", [("he", 2.0), ("xavier", 1.0)])
def test_init_std_is_sqrt_gain_over_fan_in(init, gain):
    np.random.seed(3)
    model = FullyConnectedNet([400, 300], input_dim=500, num_classes=10, init=init, weight_scale=123.0,
                              dtype=np.float64)
    for l, fan_in in ((1, 500), (2, 400), (3, 300)):
        W = model.params["W%d" % l]
        expected = math.sqrt(gain / fan_in)
        # the sample std of n normal draws has a relative standard error of 1/sqrt(2n)
        allowed = 6 / math.sqrt(2 * W.size)
        assert abs(W.std() / expected - 1) < allowed, "W%d std %g, expected %g" % (l, W.std(), expected)
        assert abs(W.mean()) < 6 * expected / math.sqrt(W.size)


# ---------------------------------------------------------------------------------------
# TwoLayerNet (modular assignment 1) and the 2020 neural_net.TwoLayerNet

def test_two_layer_net_course_check_values():
    """The course's TwoLayerNet check (fc_net.TwoLayerNet, reg 0 and 1.0)."""
    N, D, H, C = 3, 5, 50, 7
    np.random.seed(0)
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3)
    W1_std = abs(model.params["W1"].std() - 1e-3)
    assert W1_std < 1e-3 / 2 and np.all(model.params["b1"] == 0)
    assert abs(model.params["W2"].std() - 1e-3) < 1e-3 / 2 and np.all(model.params["b2"] == 0)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    scores = model.loss(X)
    correct_scores = np.asarray(
        [[11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
         [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
         [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])
    assert np.abs(scores - correct_scores).sum() < 1e-6
    y = np.asarray([0, 5, 1])
    loss, _ = model.loss(X, y)
    assert abs(loss - 3.4702243556) < 1e-10
    model.reg = 1.0
    loss, _ = model.loss(X, y)
    assert abs(loss - 26.5948426952) < 1e-10


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_two_layer_net_matches_the_reference_with_the_half_reg_convention(reg, dtype):
    np.random.seed(1)
    D, H, C = 6, 9, 4
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=0.3, reg=reg)
    r = np.random.default_rng(2)
    model.params = {k: v.astype(dtype) for k, v in model.params.items()}
    model.params["b1"] = (0.2 * r.standard_normal(H)).astype(dtype)
    X, y = batch(8, D, C)
    loss, grads = model.loss(X, y)
    exp_loss, exp_grads, _ = ref.fc_net(model.params, X.astype(dtype), y, 2, reg=reg)
    check_loss(loss, exp_loss, dtype)
    check_grads(grads, exp_grads, dtype, None, 2)
    check(model.loss(X), ref.fc_net(model.params, X.astype(dtype), None, 2), dtype, "scores")
    f = lambda _: model.loss(X, y)[0]
    if dtype == np.float64:
        for name in grads:
            err = grad_error(ref.eval_numerical_gradient(f, model.params[name]), grads[name])
            assert err < (W_GRAD_TOL if name[0] == "W" else B_GRAD_TOL), "%s: %.3e" % (name, err)


def test_neural_net_two_layer_net_course_check_values():
    """The 2020 assignment 1 toy model: seed 0, std 1e-1; toy data seed 1; reg 0.05."""
    np.random.seed(0)
    net = NeuralNetTwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    scores = net.loss(X)
    correct_scores = np.asarray([
        [-0.81233741, -1.27654624, -0.70335995],
        [-0.17129677, -1.18803311, -0.47310444],
        [-0.51590475, -1.01354314, -0.8504215],
        [-0.15419291, -0.48629638, -0.52901952],
        [-0.00618733, -0.12435261, -0.15226949]])
    assert np.sum(np.abs(scores - correct_scores)) < 1e-7
    loss, _ = net.loss(X, y, reg=0.05)
    assert abs(loss - 1.30378789133) < 1e-12


@pytest.mark.parametrize("reg", [0.0, 0.05, 1.3])
def test_neural_net_two_layer_net_reg_without_the_half(reg):
    np.random.seed(0)
    net = NeuralNetTwoLayerNet(4, 10, 3, std=1e-1)
    X, y = batch(5, 4, 3)
    loss, grads = net.loss(X, y, reg=reg)
    base_loss, base_grads, _ = ref.fc_net(net.params, X, y, 2)
    W1, W2 = net.params["W1"], net.params["W2"]
    check_loss(loss, base_loss + reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2)), np.float64)
    exp = dict(base_grads)
    exp["W1"] = exp["W1"] + 2 * reg * W1
    exp["W2"] = exp["W2"] + 2 * reg * W2
    check_grads(grads, exp, np.float64, None, 2)
    for name in grads:
        err = grad_error(ref.eval_numerical_gradient(lambda _: net.loss(X, y, reg=reg)[0], net.params[name]),
                         grads[name])
        assert err < (W_GRAD_TOL if name[0] == "W" else B_GRAD_TOL), "%s: %.3e" % (name, err)


def test_neural_net_two_layer_net_init_draw_order():
    np.random.seed(4)
    net = NeuralNetTwoLayerNet(6, 5, 3, std=0.02)
    np.random.seed(4)
    np.testing.assert_array_equal(net.params["W1"], 0.02 * np.random.randn(6, 5))
    np.testing.assert_array_equal(net.params["W2"], 0.02 * np.random.randn(5, 3))
    np.testing.assert_array_equal(net.params["b1"], np.zeros(5))
    np.testing.assert_array_equal(net.params["b2"], np.zeros(3))


def test_neural_net_two_layer_net_train_and_predict():
    np.random.seed(0)
    r = np.random.default_rng(5)
    centers = 3 * r.standard_normal((3, 8))
    y = r.integers(0, 3, size=60)
    X = centers[y] + 0.5 * r.standard_normal((60, 8))
    Xv, yv = X[:20], y[:20]
    net = NeuralNetTwoLayerNet(8, 20, 3, std=1e-1)
    # num_train 60, batch 20: iterations_per_epoch 3.0; accuracies at it = 0, 3, ..., 48 -> 17
    stats = net.train(X, y, Xv, yv, learning_rate=0.1, learning_rate_decay=0.95, reg=1e-4, num_iters=50,
                      batch_size=20, verbose=False)
    assert set(stats) == {"loss_history", "train_acc_history", "val_acc_history"}
    assert len(stats["loss_history"]) == 50
    assert len(stats["train_acc_history"]) == 17
    assert len(stats["val_acc_history"]) == 17
    assert stats["loss_history"][-1] < stats["loss_history"][0]
    pred = net.predict(X)
    assert pred.shape == (60,)
    assert pred.dtype.kind in "iu", "predict returned dtype %s" % pred.dtype
    assert np.mean(pred == y) > 0.9
    # a batch larger than the training set: iterations_per_epoch is max(num_train / batch_size, 1)
    stats = net.train(X[:10], y[:10], Xv, yv, num_iters=4, batch_size=20)
    assert len(stats["train_acc_history"]) == 4


# ---------------------------------------------------------------------------------------
# overfitting 50 examples through the Solver (the course's notebook checks)

def overfit(hidden, weight_scale, learning_rate, dtype, seed=0):
    r = np.random.RandomState(seed)
    X = r.randn(50, 300)
    y = r.randint(10, size=50)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    np.random.seed(seed)
    model = FullyConnectedNet(hidden, input_dim=300, num_classes=10, weight_scale=weight_scale, dtype=dtype)
    solver = Solver(model, data, print_every=1000, num_epochs=20, batch_size=25, update_rule="sgd",
                    optim_config={"learning_rate": learning_rate}, verbose=False)
    solver.train()
    return solver, X, y


def test_three_layer_net_overfits_50_examples(dtype):
    solver, X, y = overfit([100, 100], 1e-1, 5e-2, dtype)
    assert max(solver.train_acc_history) == 1.0, solver.train_acc_history
    assert solver.check_accuracy(X, y) == 1.0
    assert solver.loss_history[-1] < 0.5 * solver.loss_history[0]


def test_five_layer_net_overfits_50_examples():
    solver, X, y = overfit([100, 100, 100, 100], 2e-1, 1e-2, np.float64)
    assert max(solver.train_acc_history) == 1.0, solver.train_acc_history
    assert solver.check_accuracy(X, y) == 1.0


# ---------------------------------------------------------------------------------------
# pickling (the Solver's checkpoints pickle the model)

@pytest.mark.parametrize("normalization", NORMS, ids=NORM_IDS)
def test_pickled_model_gives_the_same_loss(normalization, dtype):
    model = make([9, 8], 6, 5, dtype, normalization=normalization, dropout_keep_ratio=0.7, seed=3, reg=0.1)
    X, y = batch(7, 6, 5)
    model.loss(X, y)  # builds the native plan and, for batchnorm, running statistics
    blob = pickle.dumps(model)
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone.loss(X), model.loss(X))
    loss_a, grads_a = model.loss(X, y)
    loss_b, grads_b = clone.loss(X, y)
    assert loss_a == loss_b
    for k in grads_a:
        np.testing.assert_array_equal(grads_a[k], grads_b[k])
    del model  # the clone owns its own plan
    assert clone.loss(X, y)[0] == loss_b


def test_pickled_two_layer_nets():
    np.random.seed(0)
    X, y = batch(5, 4, 3)
    for net, call in ((TwoLayerNet(4, 6, 3, weight_scale=0.1, reg=0.2), lambda m: m.loss(X, y)),
                      (NeuralNetTwoLayerNet(4, 6, 3, std=0.1), lambda m: m.loss(X, y, reg=0.2))):
        loss = call(net)[0]
        assert call(pickle.loads(pickle.dumps(net)))[0] == loss


# ---------------------------------------------------------------------------------------
# bad input

def test_unknown_normalization_raises_value_error():
    with pytest.raises(ValueError, match="normalization"):
        FullyConnectedNet([5], input_dim=4, num_classes=3, normalization="groupnorm")


@pytest.mark.parametrize("keep", [0, 0.0, 1.5, -0.2])
def test_bad_dropout_keep_ratio_raises_value_error(keep):
    with pytest.raises(ValueError, match="dropout_keep_ratio"):
        FullyConnectedNet([5], input_dim=4, num_classes=3, dropout_keep_ratio=keep)


@pytest.mark.parametrize("hidden", [[], [0], [-5], [5, 0]], ids=["empty", "zero", "negative", "second-zero"])
def test_bad_hidden_dims_raise_value_error(hidden):
    with pytest.raises(ValueError, match="hidden_dims"):
        FullyConnectedNet(hidden, input_dim=4, num_classes=3)


def test_feature_size_mismatch_raises_value_error_naming_input_dim():
    model = FullyConnectedNet([5], input_dim=4, num_classes=3)
    for X in (np.ones((2, 5)), np.ones((2, 2, 3))):
        with pytest.raises(ValueError, match="input_dim"):
            model.loss(X, np.array([0, 1]))
        with pytest.raises(ValueError, match="input_dim"):
            model.loss(X)


def test_labels_of_the_wrong_length_raise_value_error():
    model = FullyConnectedNet([5], input_dim=4, num_classes=3)
    for y in (np.array([0, 1, 2]), np.array([0]), np.zeros((2, 1), np.int64)):
        with pytest.raises(ValueError, match=r"\by\b"):
            model.loss(np.ones((2, 4)), y)


@pytest.mark.parametrize("normalization", NORMS, ids=NORM_IDS)
def test_labels_out_of_range_raise_value_error_naming_y(normalization):
    model = make([5], 4, 3, np.float64, normalization=normalization)
    model.loss(np.ones((2, 4)), np.array([0, 1]))
    stats = [(p["running_mean"].copy(), p["running_var"].copy()) for p in model.bn_params] \
        if normalization == "batchnorm" else []
    for y in (np.array([0, 3]), np.array([-1, 0])):
        with pytest.raises(ValueError, match=r"\by\b"):
            model.loss(np.ones((2, 4)), y)
    # a refused call leaves the running statistics as they were
    for p, (m, v) in zip(model.bn_params, stats):
        np.testing.assert_array_equal(p["running_mean"], m)
        np.testing.assert_array_equal(p["running_var"], v)


def test_float_labels_raise_type_error():
    model = FullyConnectedNet([5], input_dim=4, num_classes=3)
    with pytest.raises(TypeError):
        model.loss(np.ones((2, 4)), np.array([0.0, 1.0]))
