"""swiftnn.optim against the course's update formulas (the NumPy versions in reference.py).

Every rule is run for 5 successive steps, feeding the returned config back in, as the
Solver does; float64 results must match the float64 reference to 1e-12 (relative to the
largest reference value), float32 results must match the float64 reference run on the same
float32-rounded inputs to 1e-5. The course's own check values from the FullyConnectedNets
notebook are checked too (they are printed to 8 digits, so to 1e-6).
"""
import numpy as np
import pytest

import reference as ref
from swiftnn import optim

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
STEPS = 5
SHAPE = (6, 7)


@pytest.fixture(params=DTYPES, ids=DTYPE_IDS)
def dtype(request):
    return np.dtype(request.param)


def check(actual, expected, dtype, what=""):
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.dtype == np.dtype(dtype), "%s: dtype %s, expected %s" % (what, actual.dtype, dtype)
    assert actual.shape == expected.shape, "%s: shape %s, expected %s" % (what, actual.shape, expected.shape)
    rtol = TOL[np.dtype(dtype)]
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def data(dtype, steps=STEPS, shape=SHAPE, seed=0):
    r = np.random.default_rng(seed)
    w = r.standard_normal(shape).astype(dtype)
    dws = [r.standard_normal(shape).astype(dtype) for _ in range(steps)]
    return w, dws


# ---------------------------------------------------------------------------------------
# the rules: the swiftnn function, hyperparameters (non-default), the reference step and the
# names of the state arrays the config must hold

def ref_sgd(w, dw, cfg, st):
    return ref.sgd_step(w, dw, cfg["learning_rate"])


def ref_momentum(w, dw, cfg, st):
    return ref.momentum_step(w, dw, cfg["learning_rate"], cfg["momentum"], st.get("velocity", np.zeros_like(w)))


def ref_nesterov(w, dw, cfg, st):
    return ref.nesterov_step(w, dw, cfg["learning_rate"], cfg["momentum"], st.get("velocity", np.zeros_like(w)))


def ref_rmsprop(w, dw, cfg, st):
    return ref.rmsprop_step(w, dw, cfg["learning_rate"], cfg["decay_rate"], cfg["epsilon"],
                            st.get("cache", np.zeros_like(w)))


def ref_adam(w, dw, cfg, st):
    return ref.adam_step(w, dw, cfg["learning_rate"], cfg["beta1"], cfg["beta2"], cfg["epsilon"],
                         st.get("m", np.zeros_like(w)), st.get("v", np.zeros_like(w)), st.get("t", 0))


def ref_adagrad(w, dw, cfg, st):
    return ref.adagrad_step(w, dw, cfg["learning_rate"], cfg["epsilon"], st.get("cache", np.zeros_like(w)))


RULES = {
    "sgd": (optim.sgd, {"learning_rate": 0.05}, ref_sgd, ()),
    "sgd_momentum": (optim.sgd_momentum, {"learning_rate": 0.05, "momentum": 0.8}, ref_momentum, ("velocity",)),
    "nesterov": (optim.sgd_momentum, {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}, ref_nesterov,
                 ("velocity",)),
    "rmsprop": (optim.rmsprop, {"learning_rate": 0.02, "decay_rate": 0.9, "epsilon": 1e-6}, ref_rmsprop,
                ("cache",)),
    "adam": (optim.adam, {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6}, ref_adam,
             ("m", "v")),
    "adagrad": (optim.adagrad, {"learning_rate": 0.1, "epsilon": 1e-6}, ref_adagrad, ("cache",)),
}

# The course's defaults (adagrad and nesterov are swiftnn's).
DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "nesterov": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 1},
    "adagrad": {"learning_rate": 1e-2, "epsilon": 1e-8},
}
RULE_IDS = list(RULES)


def run_reference(rule, w, dws, cfg):
    _, _, step, _ = RULES[rule]
    w = np.asarray(w, dtype=np.float64)
    state = {}
    trajectory = []
    for dw in dws:
        w, state = step(w, dw, cfg, state)
        trajectory.append((w, dict(state)))
    return trajectory


# ---------------------------------------------------------------------------------------
# the formulas over 5 steps

@pytest.mark.parametrize("rule", RULE_IDS)
def test_five_steps_match_the_formulas(rule, dtype):
    fn, hyper, _, state_names = RULES[rule]
    w, dws = data(dtype)
    expected = run_reference(rule, w, dws, hyper)
    config = dict(hyper)
    for i, dw in enumerate(dws):
        w_before = w.copy()
        state_before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in config.items()}
        one_step, _ = RULES[rule][2](w_before, dw, hyper, state_before)
        next_w, returned = fn(w, dw, config)
        assert returned is config, "%s: the config passed in must be the config returned" % rule
        exp_w, exp_state = expected[i]
        check(next_w, exp_w, dtype, "%s step %d: next_w" % (rule, i + 1))
        # the step itself from this step's w and state (w is O(1), the update much smaller),
        # allowing for the rounding of next_w to dtype
        update = next_w.astype(np.float64) - w_before
        exp_update = one_step - w_before
        tol = TOL[dtype] * np.max(np.abs(exp_update)) + np.finfo(dtype).eps * np.max(np.abs(w_before))
        np.testing.assert_allclose(update, exp_update, rtol=TOL[dtype], atol=tol,
                                   err_msg="%s step %d: update" % (rule, i + 1))
        for name in state_names:
            assert name in config, "%s: config lacks %r after step %d" % (rule, name, i + 1)
            check(config[name], exp_state[name], dtype, "%s step %d: config[%r]" % (rule, i + 1, name))
        if rule == "adam":
            assert config["t"] == i + 1
        for key, value in hyper.items():
            assert config[key] == value, "%s: config[%r] changed to %r" % (rule, key, config[key])
        w = next_w


@pytest.mark.parametrize("rule", RULE_IDS)
def test_five_steps_with_the_default_config(rule, dtype):
    """config=None on the first call, then the returned config fed back in."""
    fn, _, _, state_names = RULES[rule]
    defaults = {k: v for k, v in DEFAULTS[rule].items() if k != "t"}
    w, dws = data(dtype, seed=1)
    expected = run_reference(rule, w, dws, defaults)
    config = {"nesterov": True} if rule == "nesterov" else None
    for i, dw in enumerate(dws):
        w, config = fn(w, dw, config)
        exp_w, exp_state = expected[i]
        check(w, exp_w, dtype, "%s step %d: next_w" % (rule, i + 1))
        for name in state_names:
            check(config[name], exp_state[name], dtype, "%s step %d: config[%r]" % (rule, i + 1, name))


@pytest.mark.parametrize("rule", RULE_IDS)
def test_defaults_are_set_in_the_config(rule):
    fn, _, _, state_names = RULES[rule]
    w, dws = data(np.float64, steps=1)
    config = {"nesterov": True} if rule == "nesterov" else None
    _, config = fn(w, dws[0], config)
    assert isinstance(config, dict)
    expected_keys = set(DEFAULTS[rule]) | set(state_names) | ({"nesterov"} if rule == "nesterov" else set())
    assert set(config) == expected_keys, "%s: config keys %s, expected %s" % (rule, sorted(config),
                                                                           sorted(expected_keys))
    for key, value in DEFAULTS[rule].items():
        assert config[key] == value, "%s: default %s = %r, expected %r" % (rule, key, config[key], value)
    for name in state_names:
        assert isinstance(config[name], np.ndarray) and config[name].shape == w.shape \
            and config[name].dtype == w.dtype, "%s: config[%r] is not an array like w" % (rule, name)


@pytest.mark.parametrize("rule", [r for r in RULE_IDS if r != "sgd"])
def test_state_arrays_are_set_for_an_empty_w(rule):
    """The course stores np.zeros_like(w) as the state whatever w's size; None is not an array."""
    fn, hyper, _, state_names = RULES[rule]
    w = np.ones((0, 3))
    next_w, config = fn(w, np.ones((0, 3)), dict(hyper))
    assert next_w.shape == (0, 3)
    for name in state_names:
        assert isinstance(config.get(name), np.ndarray) and config[name].shape == (0, 3), \
            "%s: config[%r] is %r for an empty w, expected an empty (0, 3) array" % (rule, name, config.get(name))


@pytest.mark.parametrize("rule", RULE_IDS)
def test_defaults_do_not_override_given_values(rule):
    """setdefault semantics: a given hyperparameter is used and kept."""
    fn, hyper, _, _ = RULES[rule]
    w, dws = data(np.float64, steps=1, seed=2)
    config = {"learning_rate": 0.123}
    if rule == "nesterov":
        config["nesterov"] = True
    cfg_ref = dict(DEFAULTS[rule], learning_rate=0.123)
    cfg_ref.pop("t", None)
    expected = run_reference(rule, w, dws, cfg_ref)[0][0]
    next_w, config = fn(w, dws[0], config)
    assert config["learning_rate"] == 0.123
    check(next_w, expected, np.float64, rule)


@pytest.mark.parametrize("rule", [r for r in RULE_IDS if r != "sgd"])
def test_given_state_arrays_are_used(rule, dtype):
    """State passed in the config (the course notebooks pass velocity / cache / m, v, t)."""
    fn, hyper, step, state_names = RULES[rule]
    r = np.random.default_rng(3)
    w, dws = data(dtype, steps=1, seed=4)
    state = {name: np.abs(r.standard_normal(SHAPE)).astype(dtype) for name in state_names}
    config = dict(hyper, **{k: v.copy() for k, v in state.items()})
    if rule == "adam":
        config["t"] = 7
        state["t"] = 7
    exp_w, exp_state = step(w, dws[0], hyper, state)
    next_w, config = fn(w, dws[0], config)
    check(next_w, exp_w, dtype, rule)
    for name in state_names:
        check(config[name], exp_state[name], dtype, "%s: config[%r]" % (rule, name))
    if rule == "adam":
        assert config["t"] == 8


@pytest.mark.parametrize("rule", [r for r in RULE_IDS if r != "sgd"])
def test_given_state_arrays_of_another_dtype_are_converted(rule):
    """A float64 w with float32 state in the config (found by hypothesis under NumPy 2, where a
    conversion with copy=False raised): the state is converted, the step matches the formula."""
    fn, hyper, step, state_names = RULES[rule]
    r = np.random.default_rng(5)
    w, dws = data(np.float64, steps=1, seed=6)
    state = {name: np.abs(r.standard_normal(SHAPE)).astype(np.float32) for name in state_names}
    config = dict(hyper, **{k: v.copy() for k, v in state.items()})
    exp_w, exp_state = step(w, dws[0], hyper, {k: v.astype(np.float64) for k, v in state.items()})
    next_w, config = fn(w, dws[0], config)
    check(next_w, exp_w, np.float64, rule)
    for name in state_names:
        assert config[name].dtype == np.float64
        check(config[name], exp_state[name], np.float64, "%s: config[%r]" % (rule, name))


def test_adam_increments_t_before_use():
    """At t = 1 the bias-corrected step is lr * dw / (|dw| + eps), i.e. about lr * sign(dw)."""
    w = np.zeros(5)
    dw = np.array([3.0, -0.5, 1e-3, -200.0, 7.0])
    next_w, config = optim.adam(w, dw, {"learning_rate": 0.1})
    assert config["t"] == 1
    np.testing.assert_allclose(next_w, -0.1 * dw / (np.abs(dw) + 1e-8), rtol=1e-12)


def test_nesterov_is_the_lookahead_formula():
    """v_prev = v; v = mu*v - lr*dw; w += -mu*v_prev + (1+mu)*v — by hand on scalars."""
    w = np.array([1.0, -2.0])
    dw = np.array([0.5, 0.25])
    v0 = np.array([0.3, -0.1])
    mu, lr = 0.9, 0.1
    next_w, config = optim.sgd_momentum(w, dw, {"learning_rate": lr, "momentum": mu, "velocity": v0.copy(),
                                                "nesterov": True})
    v = mu * v0 - lr * dw
    np.testing.assert_allclose(config["velocity"], v, rtol=1e-14)
    np.testing.assert_allclose(next_w, w - mu * v0 + (1 + mu) * v, rtol=1e-14)
    # and it differs from plain momentum
    plain, _ = optim.sgd_momentum(w, dw, {"learning_rate": lr, "momentum": mu, "velocity": v0.copy()})
    np.testing.assert_allclose(plain, w + v, rtol=1e-14)
    assert not np.allclose(plain, next_w)


# ---------------------------------------------------------------------------------------
# in-place behaviour

@pytest.mark.parametrize("dt", DTYPES, ids=DTYPE_IDS)
def test_sgd_updates_w_in_place(dt):
    w, dws = data(dt, steps=1)
    w0 = w.copy()
    next_w, _ = optim.sgd(w, dws[0], {"learning_rate": 0.1})
    assert next_w is w, "sgd must return w itself, updated in place (course: w -= lr * dw)"
    check(w, w0.astype(np.float64) - 0.1 * dws[0].astype(np.float64), dt, "w after sgd")


def test_sgd_updates_a_float32_w_in_place_with_a_float64_dw():
    """The course's sgd is `w -= lr * dw`: w keeps its dtype and is updated in place whatever
    dw's dtype (a gradient from eval_numerical_gradient is float64)."""
    w = np.ones((3, 4), np.float32)
    dw = np.full((3, 4), 2.0)
    next_w, _ = optim.sgd(w, dw, {"learning_rate": 0.25})
    assert next_w.dtype == np.float32, "sgd returned dtype %s for a float32 w" % next_w.dtype
    assert next_w is w, "sgd did not update the float32 w in place when dw is float64"
    np.testing.assert_array_equal(w, np.full((3, 4), 0.5, np.float32))


def test_sgd_updates_a_non_contiguous_w_in_place():
    """`w -= lr * dw` also updates a Fortran-ordered array or a strided view in place."""
    w = np.asfortranarray(np.ones((3, 4)))
    next_w, _ = optim.sgd(w, np.ones((3, 4)), {"learning_rate": 0.5})
    assert next_w is w, "sgd did not update a Fortran-ordered w in place"
    np.testing.assert_array_equal(w, np.full((3, 4), 0.5))
    base = np.ones((3, 8))
    view = base[:, ::2]
    optim.sgd(view, np.ones((3, 4)), {"learning_rate": 0.5})
    np.testing.assert_array_equal(base[:, ::2], np.full((3, 4), 0.5),
                                  err_msg="sgd did not update a strided view of w in place")
    np.testing.assert_array_equal(base[:, 1::2], np.ones((3, 4)))


@pytest.mark.parametrize("rule", [r for r in RULE_IDS if r != "sgd"])
def test_other_rules_return_a_new_w_and_leave_w_and_dw_alone(rule, dtype):
    fn, hyper, _, _ = RULES[rule]
    w, dws = data(dtype, steps=1)
    w0, dw0 = w.copy(), dws[0].copy()
    next_w, _ = fn(w, dws[0], dict(hyper))
    assert next_w is not w
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(dws[0], dw0)


# ---------------------------------------------------------------------------------------
# the course's check values (FullyConnectedNets notebook, assignment 2)

N_, D_ = 4, 5
COURSE_W = np.linspace(-0.4, 0.6, num=N_ * D_).reshape(N_, D_)
COURSE_DW = np.linspace(-0.6, 0.4, num=N_ * D_).reshape(N_, D_)
COURSE_V = np.linspace(0.6, 0.9, num=N_ * D_).reshape(N_, D_)
COURSE_TOL = 1e-6


def test_course_sgd_momentum_check_values():
    config = {"learning_rate": 1e-3, "velocity": COURSE_V.copy()}
    next_w, _ = optim.sgd_momentum(COURSE_W.copy(), COURSE_DW.copy(), config=config)
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    assert ref.rel_error(next_w, expected_next_w) < COURSE_TOL
    assert ref.rel_error(config["velocity"], expected_velocity) < COURSE_TOL


def test_course_rmsprop_check_values():
    config = {"learning_rate": 1e-2, "cache": COURSE_V.copy()}
    next_w, _ = optim.rmsprop(COURSE_W.copy(), COURSE_DW.copy(), config=config)
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    assert ref.rel_error(next_w, expected_next_w) < COURSE_TOL
    assert ref.rel_error(config["cache"], expected_cache) < COURSE_TOL


def test_course_adam_check_values():
    m = np.linspace(0.6, 0.9, num=N_ * D_).reshape(N_, D_)
    v = np.linspace(0.7, 0.5, num=N_ * D_).reshape(N_, D_)
    config = {"learning_rate": 1e-2, "m": m, "v": v, "t": 5}
    next_w, _ = optim.adam(COURSE_W.copy(), COURSE_DW.copy(), config=config)
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    assert ref.rel_error(next_w, expected_next_w) < COURSE_TOL
    assert ref.rel_error(config["v"], expected_v) < COURSE_TOL
    assert ref.rel_error(config["m"], expected_m) < COURSE_TOL
    assert config["t"] == 6


# ---------------------------------------------------------------------------------------
# Optimizer: every parameter in one native call equals the per-parameter rules

OPTIMIZER_RULE = {"sgd": "sgd", "sgd_momentum": "sgd_momentum", "nesterov": "nesterov",
                  "rmsprop": "rmsprop", "adam": "adam", "adagrad": "adagrad"}
OPTIMIZER_SHAPES = {"W1": (5, 4), "b1": (4,), "W2": (4, 3), "b2": (3,), "gamma1": (1,)}


@pytest.mark.parametrize("rule", RULE_IDS)
@pytest.mark.parametrize("use_defaults", [False, True], ids=["hyper", "defaults"])
def test_optimizer_equals_per_parameter_updates(rule, dtype, use_defaults):
    fn, hyper, _, state_names = RULES[rule]
    hyper = {k: v for k, v in hyper.items() if k != "nesterov"}
    r = np.random.default_rng(5)
    params = {k: r.standard_normal(s).astype(dtype) for k, s in OPTIMIZER_SHAPES.items()}
    separate = {k: v.copy() for k, v in params.items()}
    configs = {k: ({"nesterov": True} if rule == "nesterov" else {}) for k in params}
    if not use_defaults:
        for c in configs.values():
            c.update(hyper)
    opt = optim.Optimizer(params, OPTIMIZER_RULE[rule], **({} if use_defaults else hyper))
    tol = TOL[np.dtype(dtype)]
    for step in range(STEPS):
        grads = {k: r.standard_normal(s).astype(dtype) for k, s in OPTIMIZER_SHAPES.items()}
        held = {k: v for k, v in params.items()}
        opt.step(grads)
        assert opt.t == step + 1
        for k in params:
            assert params[k] is held[k], "Optimizer.step must update params[%r] in place" % k
            separate[k], configs[k] = fn(separate[k], grads[k], configs[k])
            np.testing.assert_allclose(params[k], separate[k], rtol=tol, atol=tol,
                                       err_msg="%s step %d: %s" % (rule, step + 1, k))
            if state_names:
                for j, name in enumerate(state_names):
                    np.testing.assert_allclose(opt.state[k][j], configs[k][name], rtol=tol, atol=tol,
                                               err_msg="%s step %d: state %s of %s" % (rule, step + 1, name, k))


# ---------------------------------------------------------------------------------------
# bad input

def test_optimizer_unknown_rule_raises_value_error():
    with pytest.raises(ValueError, match="rule"):
        optim.Optimizer({"W": np.ones(3)}, rule="adamw")


@pytest.mark.parametrize("rule", RULE_IDS)
def test_dw_shape_mismatch_raises_value_error(rule):
    fn, hyper, _, _ = RULES[rule]
    w = np.ones((3, 4))
    with pytest.raises(ValueError, match="dw"):
        fn(w, np.ones((4, 3)), dict(hyper))
    with pytest.raises(ValueError, match="dw"):
        fn(w, np.ones(12), dict(hyper))
    np.testing.assert_array_equal(w, np.ones((3, 4)))


def test_optimizer_grad_shape_mismatch_raises_value_error():
    params = {"W": np.ones((3, 4)), "b": np.zeros(4)}
    opt = optim.Optimizer(params, rule="adam")
    with pytest.raises(ValueError):
        opt.step({"W": np.ones((4, 3)), "b": np.zeros(4)})
    with pytest.raises(ValueError):
        opt.step({"W": np.ones((3, 4))})  # a missing gradient
    np.testing.assert_array_equal(params["W"], np.ones((3, 4)))


@pytest.mark.parametrize("rule", RULE_IDS)
def test_negative_learning_rate_raises_value_error_naming_it(rule):
    fn, hyper, _, _ = RULES[rule]
    w = np.ones((3, 4))
    with pytest.raises(ValueError, match="learning_rate"):
        fn(w, np.ones((3, 4)), dict(hyper, learning_rate=-1e-3))
    np.testing.assert_array_equal(w, np.ones((3, 4)))


@pytest.mark.parametrize("rule", RULE_IDS)
def test_optimizer_negative_learning_rate_raises_value_error_naming_it(rule):
    params = {"W": np.ones((3, 4))}
    opt = optim.Optimizer(params, OPTIMIZER_RULE[rule], learning_rate=-0.5)
    with pytest.raises(ValueError, match="learning_rate"):
        opt.step({"W": np.ones((3, 4))})
    np.testing.assert_array_equal(params["W"], np.ones((3, 4)))


@pytest.mark.parametrize("rule", RULE_IDS)
def test_complex_w_raises_type_error(rule):
    fn, hyper, _, _ = RULES[rule]
    with pytest.raises(TypeError):
        fn(np.ones((3, 4), np.complex128), np.ones((3, 4)), dict(hyper))
    with pytest.raises(TypeError):
        fn(np.ones((3, 4)), np.ones((3, 4), np.complex64), dict(hyper))


def test_optimizer_complex_params_raise_type_error():
    with pytest.raises(TypeError):
        optim.Optimizer({"W": np.ones((3, 4), np.complex128)}, rule="sgd")


def test_optimizer_sgd_momentum_with_nesterov_takes_nesterov_steps():
    rng = np.random.default_rng(5)
    w0, grads = rng.standard_normal(40), [rng.standard_normal(40) for _ in range(3)]

    def run(rule, **config):
        params = {"w": w0.copy()}
        opt = optim.Optimizer(params, rule, learning_rate=0.1, **config)
        for g in grads:
            opt.step({"w": g})
        return params["w"]

    np.testing.assert_array_equal(run("sgd_momentum", nesterov=True), run("nesterov"))
    assert not np.array_equal(run("sgd_momentum"), run("nesterov"))
