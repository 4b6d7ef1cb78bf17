"""Property-based tests (hypothesis) of the Python API: every layer, loss, update rule and
whole network, over random shapes (including sizes 1), dtypes (float16/32/64, integers,
booleans, Python lists), memory layouts (Fortran order, strided, reversed, byte-swapped,
read-only), NaN/Inf and labels of every integer dtype, against the independent NumPy
reference in reference.py. Each call either returns the reference's result (in the
documented compute dtype) or raises a clear error.

A second group feeds every public function junk (arrays of any shape including 0 and
huge zero-stride views, any dtype, NaN/Inf, wrong caches and parameter dicts); it runs in
a child interpreter, so a crash is reported with its signal and the call that caused it.

Data are drawn on a grid (k/16), so that every value is exact in every float dtype and
the reference sees exactly the engine's input. Examples per property: SWIFTNN_PROPERTY_EXAMPLES
(default 60, derandomized so that CI is reproducible); SWIFTNN_PROPERTY_RANDOM=1 explores
fresh random examples instead.
"""
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import reference as ref
import swiftnn
from swiftnn import layers, optim
from swiftnn.models import FullyConnectedNet

HERE = Path(__file__).resolve().parent
EXAMPLES = int(os.environ.get("SWIFTNN_PROPERTY_EXAMPLES", "60"))
RANDOM = os.environ.get("SWIFTNN_PROPERTY_RANDOM") == "1"


def props(scale=1.0):
    return settings(max_examples=max(1, int(EXAMPLES * scale)), deadline=None, derandomize=not RANDOM,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
FLOATS = [F32, F64, F16]
INTEGERS = [np.dtype(t) for t in (np.int8, np.int32, np.int64, np.uint8, np.uint16)]
LAYOUTS = ["C", "F", "strided", "reversed", "swapped", "readonly", "list"]


def compute_dtype(*arrays):
    """The documented rule: float32 (and float16) compute in float32, anything else in float64."""
    rt = np.result_type(*[np.asarray(a).dtype for a in arrays])
    return F32 if rt.kind == "f" and rt.itemsize <= 4 else F64


def relayout(a, layout):
    """The same values in another memory layout (or as nested lists)."""
    if layout == "C" or a.ndim == 0:
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if layout == "reversed":
        flip = tuple(slice(None, None, -1) for _ in a.shape)
        return np.ascontiguousarray(a[flip])[flip]
    if layout == "swapped":
        return a.astype(a.dtype.newbyteorder()) if a.dtype.itemsize > 1 else a
    if layout == "readonly":
        b = a.copy()
        b.setflags(write=False)
        return b
    if layout == "list":
        return a.tolist()
    raise AssertionError(layout)


@st.composite
def grid(draw, shape, dtype, lo=-64, hi=64, denominator=16):
    """An array of `shape` whose values are k/denominator, exact in `dtype`."""
    count = int(np.prod(shape))
    if dtype.kind in "iu":
        lo, hi, denominator = (0 if dtype.kind == "u" else -8), 8, 1
    if dtype.kind == "b":
        values = draw(st.lists(st.booleans(), min_size=count, max_size=count))
        return np.array(values, dtype=bool).reshape(shape)
    ints = draw(st.lists(st.integers(lo, hi), min_size=count, max_size=count))
    return (np.array(ints, dtype=np.float64) / denominator).reshape(shape).astype(dtype)


@st.composite
def operand(draw, shape, dtypes=None, layouts=LAYOUTS, **grid_args):
    """(value as the API receives it, the same values as float64) for one argument."""
    dtype = draw(st.sampled_from(dtypes or FLOATS + INTEGERS))
    a = draw(grid(shape, np.dtype(dtype), **grid_args))
    layout = draw(st.sampled_from(layouts))
    given_value = relayout(a, layout)
    note("%s %s %s" % (shape, np.dtype(dtype), layout))
    return given_value, a.astype(np.float64)


def as_compute(values, dt):
    """What the engine sees: the float64 values rounded to the compute dtype, as float64."""
    return np.asarray(values, dtype=np.float64).astype(dt).astype(np.float64)


def check_close(got, want, dt, what, inner=1, scale=None, loose=1.0):
    """|got - want| <= tol * scale, tol growing with the length of the sums behind a value."""
    got = np.asarray(got)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, "%s: shape %s, expected %s" % (what, got.shape, want.shape)
    if scale is None:
        scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    unit = 6e-8 if dt == F32 else 1.2e-16
    tol = 16 * unit * (inner + 4) * scale * loose
    err = float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0.0
    assert err <= tol, "%s (%s): max error %.3g > tolerance %.3g (scale %.3g)" % (what, dt, err, tol, scale)


def check_dtype(a, dt, what):
    assert np.asarray(a).dtype == dt, "%s has dtype %s, expected %s" % (what, np.asarray(a).dtype, dt)


small = st.integers(1, 6)
shape_tail = st.lists(st.integers(1, 4), min_size=0, max_size=2)


# ---- affine, ReLU, affine + ReLU -----------------------------------------------------------

@props()
@given(st.data(), small, shape_tail, small)
def test_affine_matches_reference(data, n, tail, m):
    x_shape = (n, *tail) if tail else (n, data.draw(small))
    d = int(np.prod(x_shape[1:]))
    x, x64 = data.draw(operand(x_shape))
    w, w64 = data.draw(operand((d, m)))
    b, b64 = data.draw(operand((m,)))
    dt = compute_dtype(x, w, b)
    X, W, B = (as_compute(v, dt) for v in (x64, w64, b64))
    out, cache = layers.affine_forward(x, w, b)
    check_dtype(out, dt, "out")
    check_close(out, ref.affine_forward(X, W, B), dt, "affine out", inner=d)
    dout, dout64 = data.draw(operand((n, m)))
    dt2 = compute_dtype(x, w, b, dout)
    dx, dw, db = layers.affine_backward(dout, cache)
    rdx, rdw, rdb = ref.affine_backward(as_compute(dout64, dt2), as_compute(x64, dt2), as_compute(w64, dt2))
    assert dx.shape == tuple(x_shape)
    check_close(dx, rdx, dt2, "dx", inner=m)
    check_close(dw, rdw, dt2, "dw", inner=n)
    check_close(db, rdb, dt2, "db", inner=n)


@props()
@given(st.data(), st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_relu_matches_reference(data, shape):
    x, x64 = data.draw(operand(tuple(shape)))
    dt = compute_dtype(x)
    out, cache = layers.relu_forward(x)
    check_dtype(out, dt, "out")
    assert np.array_equal(out, ref.relu_forward(x64))   # exact: a selection, no arithmetic
    dout, dout64 = data.draw(operand(tuple(shape)))
    dx = layers.relu_backward(dout, cache)
    assert np.array_equal(dx, ref.relu_backward(as_compute(dout64, compute_dtype(dout, x)), x64))


@props()
@given(st.data(), small, small, small)
def test_affine_relu_matches_reference(data, n, d, m):
    x, x64 = data.draw(operand((n, d)))
    w, w64 = data.draw(operand((d, m)))
    b, b64 = data.draw(operand((m,)))
    dt = compute_dtype(x, w, b)
    out, cache = layers.affine_relu_forward(x, w, b)
    a = ref.affine_forward(as_compute(x64, dt), as_compute(w64, dt), as_compute(b64, dt))
    check_close(out, ref.relu_forward(a), dt, "out", inner=d)
    dout, dout64 = data.draw(operand((n, m), dtypes=[dt]))
    dx, dw, db = layers.affine_relu_backward(dout, cache)
    # Where the pre-activation is 0 within rounding, the engine's own pre decides.
    da = np.where(np.asarray(cache[1]) > 0, dout64, 0.0)
    rdx, rdw, rdb = ref.affine_backward(da, x64, as_compute(w64, dt))
    check_close(dx, rdx, dt, "dx", inner=m)
    check_close(dw, rdw, dt, "dw", inner=n)
    check_close(db, rdb, dt, "db", inner=n)


# ---- losses --------------------------------------------------------------------------------

LABEL_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64, np.intp]


@st.composite
def labels(draw, n, c):
    dtype = draw(st.sampled_from(LABEL_DTYPES))
    y = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=dtype)
    return y.tolist() if draw(st.booleans()) and n > 1 else y


@props()
@given(st.data(), small, st.integers(1, 8), st.sampled_from(["softmax_loss", "svm_loss"]),
       st.sampled_from([1.0, 1.0, 1e2, 1e4]))
def test_losses_match_reference(data, n, c, name, magnitude):
    """Scores of any dtype and layout, including logits of size ~1e4: a finite loss equal to
    the reference's, and its gradient."""
    x, x64 = data.draw(operand((n, c), dtypes=FLOATS))
    if magnitude != 1.0:
        x = np.asarray(x, dtype=np.float64) * magnitude
        x64 = x64 * magnitude
    y = data.draw(labels(n, c))
    dt = compute_dtype(x)
    loss, dx = getattr(layers, name)(x, y)
    rloss, rdx = getattr(ref, name)(as_compute(x64, dt), np.asarray(y, dtype=np.int64))
    assert isinstance(loss, float) and np.isfinite(loss)
    check_dtype(dx, dt, "dx")
    # The loss involves differences of scores of size `magnitude`.
    check_close(loss, rloss, dt, "loss", inner=c, scale=max(1.0, magnitude, abs(rloss)))
    check_close(dx, rdx, dt, "dx", inner=c, scale=1.0)


@props()
@given(st.data(), small, st.integers(1, 6), st.sampled_from(["softmax_loss", "svm_loss"]),
       st.sampled_from([np.nan, np.inf, -np.inf]))
def test_losses_with_non_finite_scores_raise_or_match(data, n, c, name, bad):
    """NaN/Inf among the scores: a SwiftNNError with SNN_E_NONFINITE exactly when the
    reference loss is not finite, else the reference's finite loss (e.g. -Inf on a wrong
    class is a probability of 0)."""
    dtype = data.draw(st.sampled_from([F32, F64]))
    x64 = data.draw(grid((n, c), dtype)).astype(np.float64)
    cells = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, c - 1)), min_size=1, max_size=3))
    for cell in cells:
        x64[cell] = bad
    y = data.draw(labels(n, c))
    with np.errstate(all="ignore"):
        rloss, rdx = getattr(ref, name)(x64, np.asarray(y, dtype=np.int64))
    if np.isfinite(rloss):
        loss, dx = getattr(layers, name)(x64.astype(dtype), y)
        check_close(loss, rloss, dtype, "loss", inner=c)
        assert np.array_equal(np.isnan(dx), np.isnan(rdx))
    else:
        with pytest.raises(swiftnn.SwiftNNError) as info:
            getattr(layers, name)(x64.astype(dtype), y)
        assert info.value.status == -5 and "x" in str(info.value)


@props()
@given(st.data(), small, st.integers(1, 6), st.sampled_from(["softmax_loss", "svm_loss"]),
       st.one_of(st.integers(-2**63, -1), st.integers(1, 2**63 - 1)))
def test_labels_out_of_range_raise_value_error(data, n, c, name, offset):
    x, _ = data.draw(operand((n, c), dtypes=[F32, F64]))
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    i = data.draw(st.integers(0, n - 1))
    bad = int(y[i]) + offset if offset > 0 else offset
    y[i] = min(max(bad, -2**63), 2**63 - 1)
    assume(not 0 <= y[i] < c)
    with pytest.raises(swiftnn.SwiftNNError) as info:
        getattr(layers, name)(x, y)
    assert info.value.status == -4
    assert "y[%d]" % i in str(info.value)


# ---- normalization -------------------------------------------------------------------------

@st.composite
def norm_inputs(draw, n_min=1):
    n = draw(st.integers(n_min, 8))
    d = draw(st.integers(1, 6))
    x, x64 = draw(operand((n, d)))
    # Some constant columns (variance 0), as real data has.
    for j in draw(st.lists(st.integers(0, d - 1), max_size=2)):
        x64[:, j] = x64[0, j]
        x = np.array(x, copy=True) if not isinstance(x, list) else [row[:] for row in x]
        if isinstance(x, list):
            for row in x:
                row[j] = x[0][j]
        else:
            x[:, j] = x[0, j]
    gamma, g64 = draw(operand((d,)))
    beta, b64 = draw(operand((d,)))
    return n, d, x, x64, gamma, g64, beta, b64


EPS = st.sampled_from([1e-5, 1e-3, 0.1, 1.0])


@props()
@given(st.data(), norm_inputs(), EPS, st.sampled_from([0.0, 0.5, 0.9, 1.0]))
def test_batchnorm_train_matches_reference(data, inputs, eps, momentum):
    n, d, x, x64, gamma, g64, beta, b64 = inputs
    dt = compute_dtype(x, gamma, beta)
    rm = data.draw(grid((d,), F64))
    rv = np.abs(data.draw(grid((d,), F64)))
    param = {"mode": "train", "eps": eps, "momentum": momentum, "running_mean": rm.copy(),
             "running_var": rv.copy()}
    out, cache = layers.batchnorm_forward(x, gamma, beta, param)
    X, G, B = (as_compute(v, dt) for v in (x64, g64, b64))
    rout, mu, var, new_m, new_v = ref.batchnorm_forward_train(X, G, B, eps, momentum, rm.astype(dt), rv.astype(dt))
    check_dtype(out, dt, "out")
    assert np.all(np.isfinite(out))
    # Rounding in the mean (relative to |x|) is amplified by gamma / std.
    scale = max(1.0, float(np.max(np.abs(G) * np.max(np.abs(X), axis=0) / np.sqrt(var + eps)) + np.max(np.abs(B))))
    check_close(out, rout, dt, "out", inner=n, scale=scale)
    check_close(param["running_mean"], new_m, dt, "running_mean", inner=n)
    check_close(param["running_var"], new_v, dt, "running_var", inner=n)
    dout, dout64 = data.draw(operand((n, d), dtypes=[dt]))
    rdx, rdg, rdb = ref.batchnorm_backward(dout64, X, G, eps)
    for fn in (layers.batchnorm_backward, layers.batchnorm_backward_alt):
        dx, dgamma, dbeta = fn(dout, cache)
        assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dgamma))
        gscale = max(1.0, float(np.sum(np.abs(dout64)) * np.max(1 / np.sqrt(var + eps))
                                * max(1.0, float(np.max(np.abs(G)))) * np.max(np.abs(X - mu) + 1)))
        check_close(dx, rdx, dt, fn.__name__ + " dx", inner=n, scale=gscale, loose=4)
        check_close(dgamma, rdg, dt, fn.__name__ + " dgamma", inner=n, scale=gscale, loose=4)
        check_close(dbeta, rdb, dt, fn.__name__ + " dbeta", inner=n)


@props()
@given(st.data(), norm_inputs(), EPS)
def test_batchnorm_test_mode_matches_reference(data, inputs, eps):
    n, d, x, x64, gamma, g64, beta, b64 = inputs
    dt = compute_dtype(x, gamma, beta)
    rm = data.draw(grid((d,), F64))
    rv = np.abs(data.draw(grid((d,), F64)))
    out, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "test", "eps": eps, "running_mean": rm,
                                                          "running_var": rv})
    X, G, B = (as_compute(v, dt) for v in (x64, g64, b64))
    want = ref.batchnorm_forward_test(X, G, B, eps, rm.astype(dt), rv.astype(dt))
    check_close(out, want, dt, "out", scale=max(1.0, float(np.max(np.abs(want)))) / np.sqrt(eps))


@props()
@given(st.data(), norm_inputs(), EPS)
def test_layernorm_matches_reference(data, inputs, eps):
    n, d, x, x64, gamma, g64, beta, b64 = inputs
    # Constant rows (variance 0) too.
    dt = compute_dtype(x, gamma, beta)
    out, cache = layers.layernorm_forward(x, gamma, beta, {"eps": eps})
    X, G, B = (as_compute(v, dt) for v in (x64, g64, b64))
    mu = X.mean(axis=1, keepdims=True)
    var = ((X - mu) ** 2).mean(axis=1, keepdims=True)
    scale = max(1.0, float(np.max(np.abs(G) * np.max(np.abs(X), axis=1, keepdims=True) / np.sqrt(var + eps))
                           + np.max(np.abs(B))))
    check_close(out, ref.layernorm_forward(X, G, B, eps), dt, "out", inner=d, scale=scale)
    dout, dout64 = data.draw(operand((n, d), dtypes=[dt]))
    dx, dgamma, dbeta = layers.layernorm_backward(dout, cache)
    rdx, rdg, rdb = ref.layernorm_backward(dout64, X, G, eps)
    gscale = max(1.0, float(np.sum(np.abs(dout64)) * np.max(1 / np.sqrt(var + eps))
                            * max(1.0, float(np.max(np.abs(G)))) * np.max(np.abs(X - mu) + 1)))
    check_close(dx, rdx, dt, "dx", inner=d, scale=gscale, loose=4)
    check_close(dgamma, rdg, dt, "dgamma", inner=n, scale=gscale, loose=4)
    check_close(dbeta, rdb, dt, "dbeta", inner=n)


# ---- dropout -------------------------------------------------------------------------------

@props()
@given(st.data(), st.lists(st.integers(1, 6), min_size=1, max_size=3),
       st.sampled_from([1.0, 0.999, 0.5, 0.25, 1e-3]), st.integers(0, 2**64 - 1))
def test_dropout_matches_the_documented_mask(data, shape, p, seed):
    x, x64 = data.draw(operand(tuple(shape), dtypes=[F32, F64]))
    dt = compute_dtype(x)
    param = {"mode": "train", "p": p, "seed": seed}
    out, cache = layers.dropout_forward(x, param)
    mask = ref.dropout_mask(tuple(shape), p, seed, dt)
    assert np.array_equal(cache[1], mask)
    check_close(out, ref.dropout_forward(as_compute(x64, dt), mask), dt, "out")
    assert out.dtype == np.asarray(x).dtype      # dropout keeps the input's dtype
    dout, dout64 = data.draw(operand(tuple(shape), dtypes=[dt]))
    check_close(layers.dropout_backward(dout, cache), ref.dropout_backward(dout64, mask), dt, "dx")
    test_out, _ = layers.dropout_forward(x, {"mode": "test", "p": p})
    assert test_out is x


# ---- update rules --------------------------------------------------------------------------

def _reference_step(rule, w, dw, cfg, state):
    if rule == "sgd":
        return ref.sgd_step(w, dw, cfg["learning_rate"])
    if rule == "sgd_momentum":
        return ref.momentum_step(w, dw, cfg["learning_rate"], cfg["momentum"], state.get("velocity", 0 * w))
    if rule == "nesterov":
        return ref.nesterov_step(w, dw, cfg["learning_rate"], cfg["momentum"], state.get("velocity", 0 * w))
    if rule == "rmsprop":
        return ref.rmsprop_step(w, dw, cfg["learning_rate"], cfg["decay_rate"], cfg["epsilon"],
                                state.get("cache", 0 * w))
    if rule == "adam":
        return ref.adam_step(w, dw, cfg["learning_rate"], cfg["beta1"], cfg["beta2"], cfg["epsilon"],
                             state.get("m", 0 * w), state.get("v", 0 * w), state.get("t", 0))
    return ref.adagrad_step(w, dw, cfg["learning_rate"], cfg["epsilon"], state.get("cache", 0 * w))


RULE_NAMES = ["sgd", "sgd_momentum", "nesterov", "rmsprop", "adam", "adagrad"]


@props()
@given(st.data(), st.sampled_from(RULE_NAMES), st.lists(st.integers(1, 5), min_size=1, max_size=2),
       st.integers(1, 3), st.sampled_from([0.0, 1e-3, 0.1, 1.0]),
       st.sampled_from([0.0, 0.5, 0.9, 0.99]), st.sampled_from([1e-8, 1e-4, 1.0]))
def test_update_rules_match_reference(data, rule, shape, steps, lr, mix, eps):
    """Several steps of every rule, learning rate 0 included, all-zero gradients included;
    `w` stays untouched except for sgd, which updates it in place as the course's does."""
    w, w64 = data.draw(operand(tuple(shape), dtypes=[F32, F64], layouts=["C", "F", "strided", "reversed"]))
    dt = compute_dtype(w)
    cfg = {"learning_rate": lr, "momentum": mix, "decay_rate": mix, "beta1": min(mix, 0.9), "beta2": 0.999,
           "epsilon": eps}
    config = dict(cfg)
    if rule == "nesterov":
        config["nesterov"] = True
    fn = optim.sgd_momentum if rule == "nesterov" else getattr(optim, rule)
    state = {}
    current, current64 = w, w64
    zero = data.draw(st.booleans())
    for _ in range(steps):
        dw, dw64 = data.draw(operand(tuple(shape), dtypes=[dt]))
        if zero:
            dw, dw64 = np.zeros(shape, dt), np.zeros(shape)
        before = np.array(current, copy=True)
        next_w, config = fn(current, dw, config)
        want, state = _reference_step(rule, current64, dw64, cfg, state)
        assert np.all(np.isfinite(next_w))
        check_close(next_w, want, dt, "%s w" % rule, scale=max(1.0, float(np.max(np.abs(want)))))
        if rule == "sgd" and isinstance(current, np.ndarray) and current.flags.writeable:
            assert np.array_equal(current, next_w)      # in place
        elif rule != "sgd":
            assert np.array_equal(current, before)      # untouched
        if lr == 0 or zero:
            assert np.array_equal(np.asarray(next_w, np.float64), np.asarray(before, np.float64))
        current, current64 = next_w, np.array(next_w, dtype=np.float64, copy=True)


@props()
@given(st.data(), st.sampled_from(RULE_NAMES), st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=2),
                                                       min_size=1, max_size=4),
       st.sampled_from([F32, F64]))
def test_optimizer_step_matches_reference(data, rule, shapes, dt):
    """swiftnn.optim.Optimizer updates every parameter in one native call, as the rule does
    on each alone."""
    params = {"p%d" % i: data.draw(grid(tuple(s), dt)) for i, s in enumerate(shapes)}
    ref_params = {k: v.astype(np.float64) for k, v in params.items()}
    cfg = {"learning_rate": 0.05, "momentum": 0.9, "decay_rate": 0.9, "beta1": 0.9, "beta2": 0.99, "epsilon": 1e-6}
    opt = optim.Optimizer(params, rule=rule, **cfg)
    states = {k: {} for k in params}
    for _ in range(2):
        grads = {k: data.draw(grid(v.shape, dt)) for k, v in params.items()}
        opt.step(grads)
        for k in params:
            ref_params[k], states[k] = _reference_step(rule, ref_params[k], grads[k].astype(np.float64), cfg,
                                                       states[k])
            check_close(params[k], ref_params[k], dt, "%s %s" % (rule, k))


# ---- whole networks ------------------------------------------------------------------------

@props(0.5)
@given(st.data(), st.lists(st.integers(1, 6), min_size=1, max_size=3), small, small, st.integers(1, 5),
       st.sampled_from([None, "batchnorm", "layernorm"]), st.sampled_from([1.0, 0.5]),
       st.sampled_from([0.0, 0.1]), st.sampled_from([F32, F64]), st.sampled_from(["relu", "leaky_relu"]))
def test_fully_connected_net_matches_reference(data, hidden, n, d, c, norm, keep, reg, dt, activation):
    """Loss, every gradient and test-mode scores of the whole-network plan equal the
    reference network's, for inputs of any dtype and layout (shapes (N, d1, d2) too)."""
    model = FullyConnectedNet(hidden, input_dim=d, num_classes=c, normalization=norm, dropout_keep_ratio=keep,
                              reg=reg, dtype=dt, seed=data.draw(st.integers(0, 2**32)), activation=activation)
    for k in model.params:
        model.params[k] = data.draw(grid(model.params[k].shape, dt, lo=-16, hi=16))
    X, X64 = data.draw(operand((n, d)))
    y = data.draw(labels(n, c))
    bn = [dict(p) for p in model.bn_params]
    loss, grads = model.loss(X, y)
    rloss, rgrads, _ = ref.fc_net(model.params, as_compute(X64, dt), np.asarray(y, np.int64),
                                  num_layers=model.num_layers, normalization=norm, keep=keep,
                                  seed=model.dropout_param.get("seed", 0), reg=reg, bn_params=bn,
                                  activation=activation, mask_dtype=dt)
    loose = (1 if norm is None else 4) if dt == F64 else 50
    check_close(loss, rloss, dt, "loss", inner=max(hidden + [d]), loose=loose)
    for k in grads:
        check_dtype(grads[k], dt, k)
        check_close(grads[k], rgrads[k], dt, "d" + k, inner=max(hidden + [n, d]), loose=loose,
                    scale=max(1.0, float(np.max(np.abs(rgrads[k])))) * (1 if norm is None else 10))
    scores = model.loss(X)
    rscores = ref.fc_net(model.params, as_compute(X64, dt), None, num_layers=model.num_layers,
                         normalization=norm, bn_params=model.bn_params, activation=activation)
    check_close(scores, rscores, dt, "scores", inner=max(hidden + [d]), loose=loose)


@props()
@given(st.data(), small, small, small, small, small)
def test_mismatched_shapes_raise_value_error(data, n, d, m, d2, m2):
    """Any disagreement between x, w, b, dout (or gamma, beta) is a ValueError naming the
    argument; never a result read from the wrong memory."""
    assume(d2 != d or m2 != m)
    x = np.ones((n, d))
    which = data.draw(st.sampled_from(["w", "b", "dout", "gamma", "beta", "relu_dout", "y"]))
    if which == "w":
        assume(d2 != d)
        call = lambda: layers.affine_forward(x, np.ones((d2, m)), np.ones(m))
    elif which == "b":
        assume(m2 != m)
        call = lambda: layers.affine_forward(x, np.ones((d, m)), np.ones(m2))
    elif which == "dout":
        cache = layers.affine_forward(x, np.ones((d, m)), np.ones(m))[1]
        assume(m2 != m)
        call = lambda: layers.affine_backward(np.ones((n, m2)), cache)
    elif which in ("gamma", "beta"):
        assume(d2 != d)
        args = {"gamma": np.ones(d), "beta": np.ones(d)}
        args[which] = np.ones(d2)
        call = lambda: layers.batchnorm_forward(x, args["gamma"], args["beta"], {"mode": "train"})
    elif which == "relu_dout":
        assume(d2 != d)
        call = lambda: layers.relu_backward(np.ones((n, d2)), x)
    else:
        assume(m2 != n)
        call = lambda: layers.softmax_loss(x, np.zeros(m2, np.int64))
    with pytest.raises(ValueError) as info:
        call()
    name = {"relu_dout": "dout"}.get(which, which)
    assert name in str(info.value), str(info.value)


# ---- junk: anything at all, in a child interpreter ---------------------------------------

JUNK_DTYPES = ["float16", "float32", "float64", "int8", "int64", "uint64", "bool", "complex64", "object",
               "U3", "datetime64[s]", ">f8", ">f4", "longdouble"]
SPECIAL = [0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, 3.5e38, 1e4, -1e4]


@st.composite
def junk_array(draw):
    kind = draw(st.sampled_from(["array", "array", "array", "huge_view", "scalar", "list", "none", "string"]))
    if kind == "none":
        return None
    if kind == "string":
        return "abc"
    if kind == "scalar":
        return draw(st.sampled_from(SPECIAL + [0, 3, -1, True, 2**70, "1.5", 1j]))
    if kind == "huge_view":
        # Zero-stride views: huge logical sizes, no memory. Converting them must fail cleanly.
        shape = draw(st.sampled_from([(2**45,), (2**40, 8), (4, 2**45), (2**31, 2**31), (1, 2**62)]))
        try:
            return np.broadcast_to(np.zeros(1), shape)
        except ValueError:
            return np.zeros(0)
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)))
    dtype = np.dtype(draw(st.sampled_from(JUNK_DTYPES)))
    count = int(np.prod(shape))
    values = draw(st.lists(st.sampled_from(SPECIAL + [2.0, -3.0, 0.5]), min_size=count, max_size=count))
    with np.errstate(all="ignore"):
        if dtype.kind in "iub":
            a = np.array([0 if not np.isfinite(v) else int(max(min(v, 100), -100)) for v in values])
            a = a.astype(dtype)
        elif dtype.kind == "M":
            a = np.zeros(count, dtype)
        else:
            a = np.array(values).astype(dtype)
    a = a.reshape(shape)
    layout = draw(st.sampled_from(["C", "F", "strided", "reversed"]))
    a = relayout(a, layout) if dtype.kind not in "OUM" and a.size else a
    return a.tolist() if draw(st.integers(0, 9)) == 0 else a


def junk_param(draw, keys):
    param = {}
    for key in keys:
        choice = draw(st.integers(0, 5))
        if choice == 0:
            continue
        if key == "mode":
            param[key] = draw(st.sampled_from(["train", "test", "train", "eval", None, 0, "TRAIN"]))
        elif key in ("running_mean", "running_var"):
            param[key] = draw(junk_array())
        elif key == "seed":
            param[key] = draw(st.sampled_from([0, 1, -1, 2**64 - 1, 2**80, None, 1.5]))
        else:
            param[key] = draw(st.sampled_from(SPECIAL + [0.5, 0.9, 1e-5, -0.5, 2.0, None, "x"]))
    return param


@st.composite
def junk_call(draw):
    """(description, callable) of a public function with junk arguments."""
    name = draw(st.sampled_from([
        "affine_forward", "affine_backward", "relu_forward", "relu_backward", "affine_relu_forward",
        "affine_relu_backward", "softmax_loss", "svm_loss", "batchnorm_forward", "batchnorm_backward",
        "batchnorm_backward_alt", "layernorm_forward", "layernorm_backward", "dropout_forward",
        "dropout_backward", "sgd", "sgd_momentum", "rmsprop", "adam", "adagrad", "model_loss", "optimizer"]))
    a = [draw(junk_array()) for _ in range(4)]
    fn = getattr(layers, name, None) or getattr(optim, name, None)
    if name in ("affine_forward", "affine_relu_forward"):
        return name, lambda: fn(a[0], a[1], a[2])
    if name in ("affine_backward",):
        return name, lambda: fn(a[0], (a[1], a[2], a[3]))
    if name == "affine_relu_backward":
        pre = draw(junk_array())
        return name, lambda: fn(a[0], ((a[1], a[2], a[3]), pre))
    if name in ("relu_forward",):
        return name, lambda: fn(a[0])
    if name in ("relu_backward", "softmax_loss", "svm_loss"):
        return name, lambda: fn(a[0], a[1])
    if name == "batchnorm_forward":
        param = junk_param(draw, ["mode", "eps", "momentum", "running_mean", "running_var"])
        return name + repr(sorted(param)), lambda: fn(a[0], a[1], a[2], param)
    if name == "layernorm_forward":
        param = junk_param(draw, ["eps", "mode"])
        return name, lambda: fn(a[0], a[1], a[2], param)
    if name in ("batchnorm_backward", "batchnorm_backward_alt", "layernorm_backward"):
        cache = (a[1], a[2], a[3], draw(junk_array()), None, draw(junk_array()), 1e-5)
        return name, lambda: fn(a[0], cache)
    if name == "dropout_forward":
        param = junk_param(draw, ["mode", "p", "seed"])
        return name + repr(param), lambda: fn(a[0], param)
    if name == "dropout_backward":
        return name, lambda: fn(a[0], ({"mode": "train"}, a[1]))
    if name in ("sgd", "sgd_momentum", "rmsprop", "adam", "adagrad"):
        config = junk_param(draw, ["learning_rate", "momentum", "decay_rate", "beta1", "beta2", "epsilon"])
        for key in ("velocity", "cache", "m", "v"):
            if draw(st.integers(0, 3)) == 0:
                config[key] = draw(junk_array())
        return name + repr(config), lambda: fn(a[0], a[1], config)
    if name == "optimizer":
        rule = draw(st.sampled_from(RULE_NAMES))

        def run():
            opt = optim.Optimizer({"w": a[0], "b": a[1]}, rule=rule)
            opt.step({"w": a[2], "b": a[3]})
        return name + " " + rule, run
    # a small real model given junk data
    norm = draw(st.sampled_from([None, "batchnorm", "layernorm"]))
    model = FullyConnectedNet([3], input_dim=4, num_classes=3, normalization=norm,
                              dropout_keep_ratio=draw(st.sampled_from([1.0, 0.5])), dtype=np.float32)
    if draw(st.booleans()):
        model.params["W1"] = a[2]
    if norm == "batchnorm" and draw(st.booleans()):
        model.bn_params[0].update(junk_param(draw, ["running_mean", "running_var", "eps", "momentum"]))
    y = a[1] if draw(st.booleans()) else None
    return "model_loss(%s)" % norm, lambda: model.loss(a[0], y)


CLEAN_ERRORS = (ValueError, TypeError, MemoryError)


def limit_address_space():
    """In the child: huge allocations fail at once (MemoryError) whatever the machine's
    overcommit policy, instead of being granted and then filled. Not under AddressSanitizer,
    whose shadow memory needs terabytes of address space."""
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        return
    import resource
    limit = 16 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_junk(examples, log_fd):
    """Calls public functions with junk; each must return or raise a clean error. Silently
    dropping the imaginary part of complex input counts as a failure."""
    import warnings
    warnings.simplefilter("error", np.exceptions.ComplexWarning)
    counts = {"calls": 0, "returned": 0, "refused": 0}

    @settings(max_examples=examples, deadline=None, derandomize=not RANDOM, database=None,
              suppress_health_check=list(HealthCheck))
    @given(junk_call())
    def prop(call):
        description, fn = call
        os.write(log_fd, ("CALL %s\n" % description).encode())
        counts["calls"] += 1
        try:
            with np.errstate(all="ignore"):
                fn()
            counts["returned"] += 1
        except CLEAN_ERRORS:
            counts["refused"] += 1
        except (AttributeError, IndexError, KeyError) as e:
            raise AssertionError("%s raised %s: %s" % (description, type(e).__name__, e))

    prop()
    return counts


def test_junk_never_crashes_the_interpreter():
    """Junk given to every public function, in a child interpreter: a crash there is a
    failure here that shows the signal and the call that caused it."""
    examples = max(200, EXAMPLES * 20)
    log = HERE / ".junk_calls.log"
    script = ("import os, sys, json\nsys.path[:0] = [%r, %r]\nimport test_properties as t\n"
              "fd = os.open(%r, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\n"
              "print('COUNTS', json.dumps(t.run_junk(%d, fd)), flush=True)\n"
              % (str(HERE), str(HERE.parent), str(log), examples))
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=300 + examples * 0.1, cwd=str(HERE), preexec_fn=limit_address_space)
        calls = log.read_text().splitlines() if log.exists() else []
    finally:
        log.unlink(missing_ok=True)
    if proc.returncode < 0:
        pytest.fail("child killed by %s during %s\n%s" % (signal.Signals(-proc.returncode).name,
                                                          (calls or ["<nothing>"])[-1], proc.stderr[-3000:]))
    assert proc.returncode == 0, "child failed (exit %d) after %s\n%s" % (
        proc.returncode, (calls or ["<nothing>"])[-1], proc.stderr[-5000:])
    counts = [line for line in proc.stdout.splitlines() if line.startswith("COUNTS")]
    print(counts[-1])
    assert len(calls) >= examples
