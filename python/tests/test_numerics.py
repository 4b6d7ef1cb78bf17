"""Numerical edge cases: batchnorm with N=1 and constant columns (and layernorm with constant
rows, D=1), softmax of logits around +-1e4 and at the float32 limit, all-zero gradients in
every update rule, learning rate 0, and float32 overflow in the loss. Each gives finite
results equal to the NumPy reference, or a clear error (SNN_E_NONFINITE, DivergenceError)."""
import numpy as np
import pytest

import reference as ref
import swiftnn
from swiftnn import layers, optim
from swiftnn.models import FullyConnectedNet
from swiftnn.solver import DivergenceError, Solver

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def close(got, want, dt, scale=1.0):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    assert np.all(np.isfinite(got)), got
    assert np.max(np.abs(got - want), initial=0) <= TOL[dt] * max(scale, 1.0, float(np.max(np.abs(want), initial=0))), \
        (got, want)


# ---- batchnorm and layernorm with zero variance ---------------------------------------------

@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("fn", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_with_one_row(dt, fn):
    """N = 1: the batch variance is 0, so x̂ = 0, out = beta and dx = 0; all finite."""
    x = np.array([[3.0, -2.0, 1e4]], dt)
    gamma, beta = np.array([2.0, 0.5, -1.0], dt), np.array([0.25, -0.5, 3.0], dt)
    param = {"mode": "train", "momentum": 0.5}
    out, cache = layers.batchnorm_forward(x, gamma, beta, param)
    assert np.array_equal(out, beta[None, :])
    assert np.array_equal(param["running_mean"], 0.5 * x[0]) and np.array_equal(param["running_var"], np.zeros(3))
    dout = np.array([[1.0, -2.0, 0.5]], dt)
    dx, dgamma, dbeta = getattr(layers, fn)(dout, cache)
    rdx, rdg, rdb = ref.batchnorm_backward(dout, x, gamma, 1e-5)
    assert np.array_equal(dx, np.zeros_like(dx)) and np.array_equal(dgamma, np.zeros(3))
    close(dx, rdx, dt)
    close(dbeta, rdb, dt)
    # test mode on the running statistics of that one row: variance 0, still finite
    out_test, _ = layers.batchnorm_forward(x, gamma, beta, dict(param, mode="test"))
    close(out_test, ref.batchnorm_forward_test(x, gamma, beta, 1e-5, param["running_mean"], param["running_var"]), dt,
          scale=1e4 / np.sqrt(1e-5))


@pytest.mark.parametrize("dt", DTYPES)
def test_batchnorm_with_constant_columns(dt):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 4)).astype(dt)
    x[:, 1] = 7.25
    x[:, 3] = -1e4
    gamma, beta = rng.standard_normal(4).astype(dt), rng.standard_normal(4).astype(dt)
    out, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert np.array_equal(out[:, 1], np.full(16, beta[1])) and np.array_equal(out[:, 3], np.full(16, beta[3]))
    rout = ref.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.9, np.zeros(4), np.zeros(4))[0]
    close(out, rout, dt, scale=10)
    dout = rng.standard_normal((16, 4)).astype(dt)
    for fn in (layers.batchnorm_backward, layers.batchnorm_backward_alt):
        dx, dgamma, dbeta = fn(dout, cache)
        rdx, rdg, rdb = ref.batchnorm_backward(dout, x, gamma, 1e-5)
        # 1/sqrt(eps) ~ 316 multiplies the constant columns' gradients
        close(dx, rdx, dt, scale=1e3)
        close(dgamma, rdg, dt, scale=10)
        close(dbeta, rdb, dt, scale=10)


@pytest.mark.parametrize("dt", DTYPES)
def test_layernorm_with_constant_rows_and_one_feature(dt):
    rng = np.random.default_rng(1)
    for x in (np.full((3, 5), 2.5, dt), rng.standard_normal((4, 1)).astype(dt)):
        d = x.shape[1]
        gamma, beta = rng.standard_normal(d).astype(dt), rng.standard_normal(d).astype(dt)
        out, cache = layers.layernorm_forward(x, gamma, beta, {})
        assert np.array_equal(out, np.broadcast_to(beta, x.shape))
        dout = rng.standard_normal(x.shape).astype(dt)
        dx, dgamma, dbeta = layers.layernorm_backward(dout, cache)
        rdx, rdg, rdb = ref.layernorm_backward(dout, x, gamma, 1e-5)
        close(dx, rdx, dt, scale=1e3)
        close(dgamma, rdg, dt)
        close(dbeta, rdb, dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
def test_normalized_network_with_one_example_and_constant_features(dt, norm):
    """A whole network on a batch of one example, and on constant inputs: finite loss and
    gradients equal to the reference network's."""
    np.random.seed(0)
    model = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, normalization=norm, dtype=dt, reg=0.1)
    for X in (np.array([[1.0, -2.0, 0.5, 3.0]]), np.full((8, 4), 0.75)):
        y = np.arange(len(X)) % 3
        loss, grads = model.loss(X, y)
        bn = [{} for _ in model.bn_params]
        rloss, rgrads, _ = ref.fc_net(model.params, X.astype(dt), y, num_layers=3, normalization=norm, reg=0.1,
                                      bn_params=bn)
        close(loss, rloss, dt, scale=10)
        for k in grads:
            close(grads[k], rgrads[k], dt, scale=100)


def test_negative_running_variance_is_refused():
    """A running variance below 0 would make every test-mode output NaN: refused instead."""
    x = np.ones((3, 2))
    with pytest.raises(swiftnn.SwiftNNError) as info:
        layers.batchnorm_forward(x, np.ones(2), np.zeros(2), {"mode": "test", "running_var": np.array([1.0, -1.0])})
    assert info.value.status == -4 and "running_var[1]" in str(info.value)
    model = FullyConnectedNet([4], input_dim=2, num_classes=3, normalization="batchnorm")
    model.bn_params[0]["running_var"] = np.full(4, np.nan)
    with pytest.raises(swiftnn.SwiftNNError, match="running_var"):
        model.loss(x)


# ---- softmax of large logits ----------------------------------------------------------------

@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("center", [1e4, -1e4, 0.0])
def test_softmax_of_logits_around_1e4(dt, center):
    rng = np.random.default_rng(2)
    x = (center + rng.standard_normal((32, 10)) * 1e4).astype(dt)
    x[0] = [1e4, -1e4] * 5
    x[1] = center        # all equal
    y = rng.integers(0, 10, 32)
    loss, dx = layers.softmax_loss(x, y)
    rloss, rdx = ref.softmax_loss(x, y)
    assert np.isfinite(loss) and loss > 0
    close(loss, rloss, dt, scale=2e4)
    close(dx, rdx, dt)
    close(dx.sum(axis=1), np.zeros(32), dt)      # each row of softmax - onehot sums to 0


def test_softmax_at_the_float32_limit_is_finite_or_a_clear_error():
    big = np.finfo(np.float32).max
    # the label's logit is the largest: probability 1, loss 0
    loss, dx = layers.softmax_loss(np.array([[big, -big, 0]], np.float32), np.array([0]))
    assert loss == 0.0 and np.all(np.isfinite(dx))
    # a label logit 2*max below the top overflows float32: -log p = inf, a clear error
    with pytest.raises(swiftnn.SwiftNNError) as info:
        layers.softmax_loss(np.array([[big, -big]], np.float32), np.array([1]))
    assert info.value.status == -5 and "loss" in str(info.value)
    # the same logits in float64: finite
    loss, _ = layers.softmax_loss(np.array([[big, -big]], np.float64), np.array([1]))
    assert loss == pytest.approx(2 * float(big))


# ---- update rules: zero gradients, learning rate 0 ------------------------------------------

RULES = ["sgd", "sgd_momentum", "nesterov", "rmsprop", "adam", "adagrad"]


def _step(rule, w, dw, config):
    if rule == "nesterov":
        config["nesterov"] = True
        return optim.sgd_momentum(w, dw, config)
    return getattr(optim, rule)(w, dw, config)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("rule", RULES)
def test_all_zero_gradients_leave_weights_unchanged(dt, rule):
    """1000 steps of zero gradients: weights bit-identical, state finite (no 0/0 in the
    adaptive rules, whose denominator is sqrt(0) + epsilon)."""
    w0 = np.linspace(-1, 1, 37).astype(dt)
    w = w0.copy()
    config = {"learning_rate": 0.1}
    for _ in range(1000):
        w, config = _step(rule, w, np.zeros_like(w), config)
    assert np.array_equal(w, w0)
    for key in ("velocity", "cache", "m", "v"):
        if key in config:
            assert np.array_equal(config[key], np.zeros_like(w0))
    # and through the one-call Optimizer
    params = {"w": w0.copy(), "b": np.zeros(3, dt)}
    opt = optim.Optimizer(params, rule=rule, learning_rate=0.1)
    for _ in range(100):
        opt.step({"w": np.zeros_like(w0), "b": np.zeros(3, dt)})
    assert np.array_equal(params["w"], w0)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("rule", ["rmsprop", "adam", "adagrad"])
def test_adaptive_rules_refuse_an_epsilon_of_zero(dt, rule):
    """epsilon = 0 (or so small it is 0 in float32) would give 0/0 = NaN on a zero gradient."""
    for eps in (0.0, 1e-50 if dt == np.float32 else 0.0):
        with pytest.raises(swiftnn.SwiftNNError, match="epsilon"):
            getattr(optim, rule)(np.ones(4, dt), np.zeros(4, dt), {"epsilon": eps})


def test_a_learning_rate_that_overflows_float32_is_refused():
    with pytest.raises(swiftnn.SwiftNNError, match="learning_rate"):
        optim.sgd(np.ones(3, np.float32), np.zeros(3, np.float32), {"learning_rate": 1e39})
    w, _ = optim.sgd(np.ones(3), np.zeros(3), {"learning_rate": 1e39})   # fine in float64
    assert np.array_equal(w, np.ones(3))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("rule", RULES)
def test_learning_rate_zero_leaves_weights_unchanged(dt, rule):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(50).astype(dt)
    w = w0.copy()
    config = {"learning_rate": 0.0}
    for _ in range(20):
        w, config = _step(rule, w, rng.standard_normal(50).astype(dt) * 1e3, config)
    assert np.array_equal(w, w0)


@pytest.mark.parametrize("dt", DTYPES)
def test_adam_with_huge_gradients_stays_finite(dt):
    w = np.ones(8, dt)
    config = {"learning_rate": 1e-3}
    for g in (1e19, 1e30, 3e38):
        w, config = optim.adam(w, np.full(8, g, dt), config)
        assert np.all(np.isfinite(w))


def _data(n=60, d=6, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return {"X_train": rng.standard_normal((n, d)), "y_train": rng.integers(0, c, n),
            "X_val": rng.standard_normal((20, d)), "y_val": rng.integers(0, c, 20)}


@pytest.mark.parametrize("rule", RULES)
def test_native_trainer_with_learning_rate_zero_keeps_the_parameters(rule):
    np.random.seed(1)
    model = FullyConnectedNet([8], input_dim=6, num_classes=3, dtype=np.float64)
    before = {k: v.copy() for k, v in model.params.items()}
    trainer = swiftnn.Trainer(model, _data(), update_rule=rule, optim_config={"learning_rate": 0.0},
                              num_epochs=2, batch_size=10, progress=False, verbose=False).train()
    assert np.all(np.isfinite(trainer.loss_history))
    for k in before:
        assert np.array_equal(model.params[k], before[k]), k


# ---- float32 overflow in the loss ----------------------------------------------------------

def _exploding_model(scale=1e20, dt=np.float32, reg=0.0):
    np.random.seed(2)
    return FullyConnectedNet([8], input_dim=6, num_classes=3, weight_scale=scale, dtype=dt, reg=reg)


def test_float32_overflow_in_the_loss_is_a_clear_error():
    model = _exploding_model()
    X = np.random.default_rng(4).standard_normal((5, 6)) * 1e10
    with pytest.raises(swiftnn.SwiftNNError) as info:
        model.loss(X, np.arange(5) % 3)
    assert info.value.status == -5 and "loss" in str(info.value)


def test_overflowing_l2_term_is_a_clear_error_or_finite():
    """0.5 * reg * sum(W**2) past float32 is summed in double (a finite loss); past double,
    SNN_E_NONFINITE instead of a silent Inf."""
    X, y = np.zeros((4, 6)), np.arange(4) % 3
    loss, grads = _exploding_model(1e20, np.float32, reg=1.0).loss(X, y)
    assert np.isfinite(loss) and loss > 1e38
    with pytest.raises(swiftnn.SwiftNNError) as info:
        _exploding_model(1e160, np.float64, reg=1.0).loss(X, y)
    assert info.value.status == -5 and "reg" in str(info.value)


def test_native_trainer_diverging_in_float32_raises_divergence_error():
    model = _exploding_model()
    data = _data()
    data["X_train"] = data["X_train"] * 1e10
    with pytest.raises(DivergenceError):
        swiftnn.Trainer(model, data, update_rule="sgd", num_epochs=2, batch_size=10, progress=False,
                        verbose=False).train()


def test_solver_diverging_in_float32_raises_divergence_error():
    model = _exploding_model()
    data = _data()
    data["X_train"] = data["X_train"] * 1e10
    with pytest.raises(DivergenceError):
        Solver(model, data, update_rule="sgd", num_epochs=2, batch_size=10, verbose=False).train()


def test_trainer_with_a_huge_learning_rate_diverges_cleanly():
    """Weights driven to Inf by the updates: the next loss is not finite and training stops
    with DivergenceError."""
    np.random.seed(3)
    model = FullyConnectedNet([16], input_dim=6, num_classes=3, dtype=np.float32)
    trainer = swiftnn.Trainer(model, _data(), update_rule="sgd", optim_config={"learning_rate": 1e37},
                              num_epochs=5, batch_size=10, progress=False, verbose=False)
    with pytest.raises(DivergenceError):
        trainer.train()
