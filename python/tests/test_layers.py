"""Every function of swiftnn.layers against the independent NumPy reference in reference.py.

Tolerances: float64 results must match the float64 reference to a relative 1e-12 of the
largest reference value (np.testing.assert_allclose with rtol=1e-12, atol=1e-12*max|ref|);
float32 results must match the float64 reference computed on the same float32-rounded
inputs to 1e-5 in the same sense. Numeric gradient checks run in float64 with centered
differences (h=1e-5) and require rel_error < 1e-7, with inputs kept away from the kinks of
ReLU and the hinge.
"""
import numpy as np
import pytest

import reference as ref
import swiftnn
from swiftnn import layers

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
GRAD_TOL = 1e-7


@pytest.fixture(params=DTYPES, ids=DTYPE_IDS)
def dtype(request):
    return np.dtype(request.param)


def rng(seed=0):
    return np.random.default_rng(seed)


def rand(r, shape, dtype, scale=1.0):
    return (scale * r.standard_normal(shape)).astype(dtype)


def away_from_zero(r, shape, dtype, margin=1e-2):
    """Standard normal values with |v| > margin, so a ReLU kink is never near an input."""
    v = r.standard_normal(shape)
    v = np.where(np.abs(v) < margin, np.copysign(margin + np.abs(v), v), v)
    return v.astype(dtype)


def check(actual, expected, dtype, rtol=None, what=""):
    """actual (computed by swiftnn in ``dtype``) against the float64 reference."""
    rtol = TOL[np.dtype(dtype)] if rtol is None else rtol
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.dtype == np.dtype(dtype), "%s: dtype %s, expected %s" % (what, actual.dtype, dtype)
    assert actual.shape == expected.shape, "%s: shape %s, expected %s" % (what, actual.shape,
                                                                         expected.shape)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=rtol, atol=rtol * scale,
                               err_msg=what)


def check_loss(actual, expected, dtype, what="loss"):
    assert isinstance(actual, float), "%s: %r is not a Python float" % (what, type(actual))
    rtol = TOL[np.dtype(dtype)]
    assert actual == expected or abs(actual - expected) <= rtol * abs(expected), \
        "%s: %r, expected %r" % (what, actual, expected)


def grad_ok(numeric, analytic, what):
    err = ref.rel_error(numeric, analytic)
    assert err < GRAD_TOL, "%s: rel_error %.3e between numeric and analytic gradient" % (what, err)


def test_all_layer_functions_are_covered():
    assert set(layers.__all__) == {
        "affine_forward", "affine_backward", "relu_forward", "relu_backward",
        "affine_relu_forward", "affine_relu_backward", "softmax_loss", "svm_loss",
        "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
        "layernorm_forward", "layernorm_backward", "dropout_forward", "dropout_backward",
    }


def test_swiftnn_error_is_value_error():
    assert issubclass(swiftnn.SwiftNNError, ValueError)


# =======================================================================================
# affine

AFFINE_SHAPES = {
    "small": ((4, 5), 3),
    "N1": ((1, 5), 3),
    "D1": ((4, 1), 3),
    "M1": ((4, 5), 1),
    "N1D1M1": ((1, 1), 1),
    "N1large": ((1, 784), 512),  # one row runs as a matrix-vector product
    "4d": ((3, 2, 4, 5), 6),
    "largeD": ((8, 3072), 10),
}


@pytest.mark.parametrize("case", list(AFFINE_SHAPES))
def test_affine_forward(dtype, case):
    xshape, m = AFFINE_SHAPES[case]
    r = rng(1)
    d = int(np.prod(xshape[1:]))
    x, w, b = rand(r, xshape, dtype), rand(r, (d, m), dtype), rand(r, m, dtype)
    out, cache = layers.affine_forward(x, w, b)
    check(out, ref.affine_forward(x, w, b), dtype, what="out")
    assert cache[0] is x and cache[1] is w and cache[2] is b


@pytest.mark.parametrize("case", list(AFFINE_SHAPES))
def test_affine_backward(dtype, case):
    xshape, m = AFFINE_SHAPES[case]
    r = rng(2)
    d = int(np.prod(xshape[1:]))
    x, w, b = rand(r, xshape, dtype), rand(r, (d, m), dtype), rand(r, m, dtype)
    dout = rand(r, (xshape[0], m), dtype)
    _, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(dout, cache)
    rdx, rdw, rdb = ref.affine_backward(dout, x, w)
    assert dx.shape == x.shape
    check(dx, rdx, dtype, what="dx")
    check(dw, rdw, dtype, what="dw")
    check(db, rdb, dtype, what="db")


@pytest.mark.parametrize("xshape", [(4, 5), (2, 3, 2, 2), (1, 3)])
def test_affine_numeric_gradient(xshape):
    r = rng(3)
    d = int(np.prod(xshape[1:]))
    x, w, b = rand(r, xshape, np.float64), rand(r, (d, 3), np.float64), rand(r, 3, np.float64)
    dout = rand(r, (xshape[0], 3), np.float64)
    _, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(dout, cache)
    grad_ok(ref.eval_numerical_gradient_array(lambda v: layers.affine_forward(v, w, b)[0], x, dout),
            dx, "dx")
    grad_ok(ref.eval_numerical_gradient_array(lambda v: layers.affine_forward(x, v, b)[0], w, dout),
            dw, "dw")
    grad_ok(ref.eval_numerical_gradient_array(lambda v: layers.affine_forward(x, w, v)[0], b, dout),
            db, "db")


def test_affine_non_contiguous(dtype):
    r = rng(4)
    big_x = rand(r, (8, 12), dtype)
    x = big_x[::2, 1::2]                      # (4, 6) strided slice
    w = rand(r, (3, 6), dtype).T              # (6, 3) transposed view
    b = rand(r, 9, dtype)[::3]                # (3,) strided
    dout = rand(r, (3, 4), dtype).T           # (4, 3) transposed view
    assert not (x.flags.c_contiguous or w.flags.c_contiguous or b.flags.c_contiguous
                or dout.flags.c_contiguous)
    xc, wc, bc, doutc = (np.ascontiguousarray(a) for a in (x, w, b, dout))
    out, cache = layers.affine_forward(x, w, b)
    outc, cachec = layers.affine_forward(xc, wc, bc)
    check(out, outc, dtype, what="out view vs copy")
    check(out, ref.affine_forward(x, w, b), dtype, what="out")
    for got, want, name in zip(layers.affine_backward(dout, cache),
                               layers.affine_backward(doutc, cachec), ("dx", "dw", "db")):
        check(got, want, dtype, what=name + " view vs copy")
    dx, dw, db = layers.affine_backward(dout, cache)
    for got, want, name in zip((dx, dw, db), ref.affine_backward(dout, x, w), ("dx", "dw", "db")):
        check(got, want, dtype, what=name)


def test_affine_fortran_order_4d(dtype):
    r = rng(5)
    x = np.asfortranarray(rand(r, (3, 2, 2, 2), dtype))
    w, b = rand(r, (8, 4), dtype), rand(r, 4, dtype)
    out, cache = layers.affine_forward(x, w, b)
    check(out, ref.affine_forward(x, w, b), dtype, what="out")
    dout = rand(r, (3, 4), dtype)
    dx, dw, db = layers.affine_backward(dout, cache)
    rdx, rdw, rdb = ref.affine_backward(dout, x, w)
    check(dx, rdx, dtype, what="dx")
    check(dw, rdw, dtype, what="dw")


def test_affine_integer_inputs_promote_to_float64():
    r = rng(6)
    x = r.integers(-5, 5, size=(3, 4))
    w = r.integers(-5, 5, size=(4, 2)).astype(np.int32)
    b = np.array([1, -2], dtype=np.int16)
    out, cache = layers.affine_forward(x, w, b)
    check(out, ref.affine_forward(x, w, b), np.float64, what="out")
    dout = r.integers(-3, 3, size=(3, 2))
    dx, dw, db = layers.affine_backward(dout, cache)
    rdx, rdw, rdb = ref.affine_backward(dout, x, w)
    check(dx, rdx, np.float64, what="dx")
    check(dw, rdw, np.float64, what="dw")
    check(db, rdb, np.float64, what="db")


def test_affine_mixed_precision_promotes_to_float64():
    r = rng(7)
    x, w, b = rand(r, (3, 4), np.float32), rand(r, (4, 2), np.float64), rand(r, 2, np.float32)
    out, cache = layers.affine_forward(x, w, b)
    check(out, ref.affine_forward(x, w, b), np.float64, what="out")
    dout = rand(r, (3, 2), np.float32)
    dx, dw, db = layers.affine_backward(dout, cache)
    rdx, rdw, rdb = ref.affine_backward(dout, x, w)
    check(dx, rdx, np.float64, what="dx")
    check(dw, rdw, np.float64, what="dw")
    check(db, rdb, np.float64, what="db")


def test_affine_float32_dout_with_float64_cache():
    r = rng(8)
    x, w, b = rand(r, (3, 4), np.float64), rand(r, (4, 2), np.float64), rand(r, 2, np.float64)
    _, cache = layers.affine_forward(x, w, b)
    dout = rand(r, (3, 2), np.float32)
    dx, dw, db = layers.affine_backward(dout, cache)
    rdx, rdw, rdb = ref.affine_backward(dout, x, w)
    check(dx, rdx, np.float64, what="dx")
    check(dw, rdw, np.float64, what="dw")


def test_affine_does_not_modify_inputs(dtype):
    r = rng(9)
    x, w, b = rand(r, (3, 4), dtype), rand(r, (4, 2), dtype), rand(r, 2, dtype)
    dout = rand(r, (3, 2), dtype)
    copies = [a.copy() for a in (x, w, b, dout)]
    _, cache = layers.affine_forward(x, w, b)
    layers.affine_backward(dout, cache)
    for a, c in zip((x, w, b, dout), copies):
        assert np.array_equal(a, c)


# =======================================================================================
# ReLU

RELU_SHAPES = {"2d": (4, 5), "N1": (1, 7), "D1": (6, 1), "4d": (2, 3, 4, 5), "1d": (9,),
               "large": (4, 3072)}


@pytest.mark.parametrize("case", list(RELU_SHAPES))
def test_relu_forward_backward(dtype, case):
    r = rng(10)
    shape = RELU_SHAPES[case]
    x = away_from_zero(r, shape, dtype)
    out, cache = layers.relu_forward(x)
    assert cache is x
    check(out, ref.relu_forward(x), dtype, what="out")
    dout = rand(r, shape, dtype)
    dx = layers.relu_backward(dout, cache)
    check(dx, ref.relu_backward(dout, x), dtype, what="dx")


def test_relu_exact_values(dtype):
    x = np.array([[-2.0, -0.0, 0.0, 1e-30, 3.5]], dtype=dtype)
    out, cache = layers.relu_forward(x)
    assert np.array_equal(out, np.array([[0, 0, 0, 1e-30, 3.5]], dtype=dtype))
    dx = layers.relu_backward(np.full(x.shape, 7, dtype), cache)
    # dx = dout where x > 0 (strictly): zero at x == 0.
    assert np.array_equal(dx, np.array([[0, 0, 0, 7, 7]], dtype=dtype))


def test_relu_numeric_gradient():
    r = rng(11)
    x = away_from_zero(r, (4, 6), np.float64, margin=1e-3)
    dout = rand(r, (4, 6), np.float64)
    _, cache = layers.relu_forward(x)
    dx = layers.relu_backward(dout, cache)
    grad_ok(ref.eval_numerical_gradient_array(lambda v: layers.relu_forward(v)[0], x, dout), dx, "dx")


def test_relu_non_contiguous(dtype):
    r = rng(12)
    x = away_from_zero(r, (10, 8), dtype)[::3, 1::2]
    dout = rand(r, (4, 4), dtype).T
    assert not x.flags.c_contiguous and not dout.flags.c_contiguous
    out, cache = layers.relu_forward(x)
    outc, cachec = layers.relu_forward(x.copy())
    assert np.array_equal(out, outc)
    check(out, ref.relu_forward(x), dtype, what="out")
    dx = layers.relu_backward(dout, cache)
    assert np.array_equal(dx, layers.relu_backward(dout.copy(), cachec))
    check(dx, ref.relu_backward(dout, x), dtype, what="dx")


def test_relu_integer_input_promotes_to_float64():
    x = np.array([[-3, 0, 2], [5, -1, 7]])
    out, cache = layers.relu_forward(x)
    check(out, ref.relu_forward(x), np.float64, what="out")
    dx = layers.relu_backward(np.ones((2, 3), np.int32), cache)
    check(dx, ref.relu_backward(np.ones((2, 3)), x), np.float64, what="dx")


def test_relu_mixed_precision_promotes_to_float64():
    r = rng(13)
    x = away_from_zero(r, (3, 4), np.float32)
    _, cache = layers.relu_forward(x)
    dout = rand(r, (3, 4), np.float64)
    dx = layers.relu_backward(dout, cache)
    check(dx, ref.relu_backward(dout, x), np.float64, what="dx")


# =======================================================================================
# affine + ReLU

def affine_relu_inputs(r, xshape, m, dtype, margin=1e-2):
    """x, w, b whose affine output stays at least ``margin`` away from 0."""
    d = int(np.prod(xshape[1:]))
    for _ in range(100):
        x, w, b = rand(r, xshape, dtype), rand(r, (d, m), dtype), rand(r, m, dtype)
        if np.min(np.abs(ref.affine_forward(x, w, b))) > margin:
            return x, w, b
    raise AssertionError("could not draw inputs away from the ReLU kink")


@pytest.mark.parametrize("case", ["small", "N1", "D1", "4d", "largeD"])
def test_affine_relu_forward_backward(dtype, case):
    xshape, m = AFFINE_SHAPES[case]
    r = rng(14)
    x, w, b = affine_relu_inputs(r, xshape, m, dtype, margin=1e-3 if case == "largeD" else 1e-2)
    out, cache = layers.affine_relu_forward(x, w, b)
    pre = ref.affine_forward(x, w, b)
    check(out, ref.relu_forward(pre), dtype, what="out")
    (cx, cw, cb), cpre = cache
    assert cx is x and cw is w and cb is b
    check(cpre, pre, dtype, what="cache pre-activation")
    dout = rand(r, (xshape[0], m), dtype)
    dx, dw, db = layers.affine_relu_backward(dout, cache)
    rdx, rdw, rdb = ref.affine_backward(ref.relu_backward(dout, pre), x, w)
    assert dx.shape == x.shape
    check(dx, rdx, dtype, what="dx")
    check(dw, rdw, dtype, what="dw")
    check(db, rdb, dtype, what="db")


def test_affine_relu_matches_composition(dtype):
    r = rng(15)
    x, w, b = affine_relu_inputs(r, (5, 4), 3, dtype)
    out, cache = layers.affine_relu_forward(x, w, b)
    a, fc_cache = layers.affine_forward(x, w, b)
    out2, relu_cache = layers.relu_forward(a)
    check(out, out2, dtype, what="out")
    dout = rand(r, (5, 3), dtype)
    fused = layers.affine_relu_backward(dout, cache)
    staged = layers.affine_backward(layers.relu_backward(dout, relu_cache), fc_cache)
    for got, want, name in zip(fused, staged, ("dx", "dw", "db")):
        check(got, want, dtype, what=name)


def test_affine_relu_numeric_gradient():
    r = rng(16)
    x, w, b = affine_relu_inputs(r, (2, 3, 4), 5, np.float64)
    dout = rand(r, (2, 5), np.float64)
    _, cache = layers.affine_relu_forward(x, w, b)
    dx, dw, db = layers.affine_relu_backward(dout, cache)
    f = layers.affine_relu_forward
    grad_ok(ref.eval_numerical_gradient_array(lambda v: f(v, w, b)[0], x, dout), dx, "dx")
    grad_ok(ref.eval_numerical_gradient_array(lambda v: f(x, v, b)[0], w, dout), dw, "dw")
    grad_ok(ref.eval_numerical_gradient_array(lambda v: f(x, w, v)[0], b, dout), db, "db")


def test_affine_relu_non_contiguous(dtype):
    r = rng(17)
    x, w, b = affine_relu_inputs(r, (4, 6), 3, dtype)
    xv = np.asfortranarray(x)[:, :]
    wv = np.ascontiguousarray(w.T).T
    bv = np.repeat(b, 2)[::2]
    dout = rand(r, (3, 4), dtype).T
    assert not (xv.flags.c_contiguous or wv.flags.c_contiguous or bv.flags.c_contiguous
                or dout.flags.c_contiguous)
    out, cache = layers.affine_relu_forward(xv, wv, bv)
    outc, cachec = layers.affine_relu_forward(x, w, b)
    check(out, outc, dtype, what="out view vs copy")
    for got, want, name in zip(layers.affine_relu_backward(dout, cache),
                               layers.affine_relu_backward(dout.copy(), cachec), ("dx", "dw", "db")):
        check(got, want, dtype, what=name + " view vs copy")


def test_affine_relu_integer_and_mixed_inputs():
    x = np.array([[1, 2], [3, -4]])
    w = np.array([[1.5, -2.0, 0.25], [0.5, 1.0, -1.0]], dtype=np.float32)
    b = np.array([0.1, 0.2, 0.3])
    out, cache = layers.affine_relu_forward(x, w, b)
    check(out, ref.relu_forward(ref.affine_forward(x, w, b)), np.float64, what="out")
    dx, dw, db = layers.affine_relu_backward(np.ones((2, 3), np.float32), cache)
    rdx, rdw, rdb = ref.affine_backward(ref.relu_backward(np.ones((2, 3)),
                                                          ref.affine_forward(x, w, b)), x, w)
    check(dx, rdx, np.float64, what="dx")
    check(dw, rdw, np.float64, what="dw")
    check(db, rdb, np.float64, what="db")


# =======================================================================================
# losses

LOSS_SHAPES = {"small": (6, 10), "N1": (1, 4), "C1": (5, 1), "C2": (3, 2), "wide": (4, 3072)}


def svm_scores(r, n, c, dtype, margin=1e-2):
    """Scores and labels whose hinge margins x_j - x_y + 1 all stay ``margin`` away from 0."""
    for _ in range(100):
        x = rand(r, (n, c), dtype)
        y = r.integers(0, c, size=n)
        m = x.astype(np.float64) - x.astype(np.float64)[np.arange(n), y][:, None] + 1
        m[np.arange(n), y] = 1.0
        if np.min(np.abs(m)) > margin:
            return x, y
    raise AssertionError("could not draw scores away from the hinge")


@pytest.mark.parametrize("case", list(LOSS_SHAPES))
def test_softmax_loss(dtype, case):
    n, c = LOSS_SHAPES[case]
    r = rng(20)
    x, y = rand(r, (n, c), dtype), r.integers(0, c, size=n)
    loss, dx = layers.softmax_loss(x, y)
    rloss, rdx = ref.softmax_loss(x, y)
    check_loss(loss, rloss, dtype)
    check(dx, rdx, dtype, what="dx")


def test_softmax_loss_c1_is_zero(dtype):
    loss, dx = layers.softmax_loss(np.array([[3.0], [-1.0]], dtype), np.array([0, 0]))
    assert loss == 0.0
    assert np.array_equal(dx, np.zeros((2, 1), dtype))


def test_softmax_loss_is_stable_for_large_scores(dtype):
    r = rng(21)
    x = (rand(r, (5, 7), np.float64) * 1e3 + np.array([[8e4], [-8e4], [0], [3e4], [-1e3]])).astype(dtype)
    y = r.integers(0, 7, size=5)
    loss, dx = layers.softmax_loss(x, y)
    rloss, rdx = ref.softmax_loss(x, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    check_loss(loss, rloss, dtype)
    check(dx, rdx, dtype, what="dx")


def test_softmax_loss_uniform_scores():
    loss, dx = layers.softmax_loss(np.zeros((4, 10)), np.arange(4))
    assert loss == pytest.approx(np.log(10), rel=1e-12)
    expected = np.full((4, 10), 0.1 / 4)
    expected[np.arange(4), np.arange(4)] -= 0.25
    check(dx, expected, np.float64, what="dx")


def test_softmax_loss_numeric_gradient():
    r = rng(22)
    x, y = rand(r, (5, 6), np.float64), r.integers(0, 6, size=5)
    _, dx = layers.softmax_loss(x, y)
    grad_ok(ref.eval_numerical_gradient(lambda v: layers.softmax_loss(v, y)[0], x), dx, "dx")


@pytest.mark.parametrize("case", list(LOSS_SHAPES))
def test_svm_loss(dtype, case):
    n, c = LOSS_SHAPES[case]
    r = rng(23)
    x, y = svm_scores(r, n, c, dtype, margin=1e-3 if case == "wide" else 1e-2)
    loss, dx = layers.svm_loss(x, y)
    rloss, rdx = ref.svm_loss(x, y)
    check_loss(loss, rloss, dtype)
    check(dx, rdx, dtype, what="dx")


def test_svm_loss_exact_values(dtype):
    x = np.array([[3.0, 1.0, 2.5], [0.0, 0.0, 0.0]], dtype)
    y = np.array([0, 2])
    loss, dx = layers.svm_loss(x, y)
    # row 0: margins 1-3+1 = -1 -> 0, 2.5-3+1 = 0.5; row 1: 1 + 1 = 2 (all exact in binary)
    assert loss == 1.25
    assert np.array_equal(dx, np.array([[-0.5, 0, 0.5], [0.5, 0.5, -1.0]], dtype))


def test_svm_loss_numeric_gradient():
    r = rng(24)
    x, y = svm_scores(r, 5, 6, np.float64, margin=1e-3)
    _, dx = layers.svm_loss(x, y)
    grad_ok(ref.eval_numerical_gradient(lambda v: layers.svm_loss(v, y)[0], x), dx, "dx")


@pytest.mark.parametrize("loss_name", ["softmax_loss", "svm_loss"])
def test_loss_non_contiguous(dtype, loss_name):
    fn = getattr(layers, loss_name)
    r = rng(25)
    x = rand(r, (8, 12), dtype)[::2, ::3]           # (4, 4)
    y = r.integers(0, 4, size=8)[::2]
    assert not x.flags.c_contiguous and not y.flags.c_contiguous
    loss, dx = fn(x, y)
    lossc, dxc = fn(x.copy(), y.copy())
    assert loss == lossc
    assert np.array_equal(dx, dxc)
    xt = rand(r, (4, 4), dtype).T
    loss, dx = fn(xt, y)
    lossc, dxc = fn(xt.copy(), y)
    assert loss == lossc
    assert np.array_equal(dx, dxc)
    rloss, rdx = getattr(ref, loss_name)(xt, y)
    check_loss(loss, rloss, dtype)
    check(dx, rdx, dtype, what="dx")


@pytest.mark.parametrize("loss_name", ["softmax_loss", "svm_loss"])
@pytest.mark.parametrize("label_dtype", [np.int8, np.uint8, np.int32, np.uint32, np.int64, list])
def test_loss_label_dtypes(loss_name, label_dtype):
    fn = getattr(layers, loss_name)
    x = rand(rng(26), (3, 4), np.float64)
    y = [0, 3, 2]
    yy = list(y) if label_dtype is list else np.array(y, dtype=label_dtype)
    loss, dx = fn(x, yy)
    rloss, rdx = getattr(ref, loss_name)(x, y)
    check_loss(loss, rloss, np.float64)
    check(dx, rdx, np.float64, what="dx")


@pytest.mark.parametrize("loss_name", ["softmax_loss", "svm_loss"])
def test_loss_integer_scores_promote_to_float64(loss_name):
    fn = getattr(layers, loss_name)
    x = np.array([[1, 5, 2], [0, -3, 4]], dtype=np.int32)
    y = np.array([1, 0])
    loss, dx = fn(x, y)
    rloss, rdx = getattr(ref, loss_name)(x, y)
    check_loss(loss, rloss, np.float64)
    check(dx, rdx, np.float64, what="dx")


# =======================================================================================
# batch normalization

BN_SHAPES = {"small": (8, 5), "N2": (2, 3), "D1": (6, 1), "largeD": (4, 3072)}


def bn_inputs(r, n, d, dtype):
    x = (rand(r, (n, d), np.float64) * 3 + 2).astype(dtype)
    gamma = (1 + 0.5 * rand(r, d, np.float64)).astype(dtype)
    beta = rand(r, d, dtype)
    return x, gamma, beta


@pytest.mark.parametrize("case", list(BN_SHAPES))
def test_batchnorm_forward_train(dtype, case):
    n, d = BN_SHAPES[case]
    r = rng(30)
    x, gamma, beta = bn_inputs(r, n, d, dtype)
    rm0, rv0 = rand(r, d, dtype), np.abs(rand(r, d, dtype))
    bn_param = {"mode": "train", "eps": 1e-3, "momentum": 0.7,
                "running_mean": rm0.copy(), "running_var": rv0.copy()}
    out, cache = layers.batchnorm_forward(x, gamma, beta, bn_param)
    rout, mu, var, rmean, rvar = ref.batchnorm_forward_train(x, gamma, beta, 1e-3, 0.7, rm0, rv0)
    check(out, rout, dtype, what="out")
    check(bn_param["running_mean"], rmean, dtype, what="running_mean")
    check(bn_param["running_var"], rvar, dtype, what="running_var")
    assert bn_param["mode"] == "train" and bn_param["eps"] == 1e-3 and bn_param["momentum"] == 0.7


def test_batchnorm_forward_defaults(dtype):
    """Without eps, momentum or running statistics: eps 1e-5, momentum 0.9, zeros."""
    r = rng(31)
    x, gamma, beta = bn_inputs(r, 10, 4, dtype)
    bn_param = {"mode": "train"}
    out, _ = layers.batchnorm_forward(x, gamma, beta, bn_param)
    zeros = np.zeros(4)
    rout, mu, var, rmean, rvar = ref.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.9, zeros, zeros)
    check(out, rout, dtype, what="out")
    for key, want in (("running_mean", rmean), ("running_var", rvar)):
        assert isinstance(bn_param[key], np.ndarray), key
        check(bn_param[key], want, dtype, what=key)
    # the default eps really is 1e-5 (tiny variance makes eps visible)
    xs = (np.array([[0.0], [2e-3]]) + 1).astype(dtype)
    out, _ = layers.batchnorm_forward(xs, np.ones(1, dtype), np.zeros(1, dtype), {"mode": "train"})
    rout = ref.batchnorm_forward_train(xs, np.ones(1), np.zeros(1), 1e-5, 0.9, zeros[:1], zeros[:1])[0]
    # Tolerance reason (float32 only): x - mean cancels from ~1 down to ~1e-3, which costs
    # log2(1e3) ~ 10 bits of float32, hence 1e-4 instead of 1e-5.
    check(out, rout, dtype, rtol=1e-4 if dtype == np.float32 else 1e-12, what="out, eps visible")
    assert abs(out[1, 0]) < 0.996  # would be ~1.0 without eps


def test_batchnorm_running_statistics_accumulate(dtype):
    r = rng(32)
    d = 3
    bn_param = {"mode": "train", "momentum": 0.8}
    rmean, rvar = np.zeros(d), np.zeros(d)
    gamma, beta = np.ones(d, dtype), np.zeros(d, dtype)
    for step in range(5):
        x = (rand(r, (16, d), np.float64) * (step + 1) + step).astype(dtype)
        layers.batchnorm_forward(x, gamma, beta, bn_param)
        _, _, _, rmean, rvar = ref.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.8, rmean, rvar)
    check(bn_param["running_mean"], rmean, dtype, what="running_mean")
    check(bn_param["running_var"], rvar, dtype, what="running_var")


def test_batchnorm_running_statistics_converge():
    """As in the course notebook: after many train steps, test-mode output has the
    statistics of gamma, beta."""
    r = rng(33)
    d = 3
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 4.0])
    bn_param = {"mode": "train"}
    for _ in range(100):
        layers.batchnorm_forward(r.standard_normal((200, d)) * 4 + 7, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    out, _ = layers.batchnorm_forward(r.standard_normal((2000, d)) * 4 + 7, gamma, beta, bn_param)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=0.2)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=0.1)


def test_batchnorm_forward_test_mode(dtype):
    r = rng(34)
    x, gamma, beta = bn_inputs(r, 7, 4, dtype)
    rm, rv = rand(r, 4, dtype), (np.abs(rand(r, 4, np.float64)) + 0.5).astype(dtype)
    bn_param = {"mode": "test", "eps": 1e-4, "running_mean": rm.copy(), "running_var": rv.copy()}
    out, cache = layers.batchnorm_forward(x, gamma, beta, bn_param)
    check(out, ref.batchnorm_forward_test(x, gamma, beta, 1e-4, rm, rv), dtype, what="out")
    assert np.array_equal(bn_param["running_mean"], rm)
    assert np.array_equal(bn_param["running_var"], rv)


def test_batchnorm_test_mode_without_running_statistics(dtype):
    r = rng(35)
    x, gamma, beta = bn_inputs(r, 3, 2, dtype)
    bn_param = {"mode": "test"}
    out, _ = layers.batchnorm_forward(x, gamma, beta, bn_param)
    zeros = np.zeros(2)
    check(out, ref.batchnorm_forward_test(x, gamma, beta, 1e-5, zeros, zeros), dtype, what="out")
    assert np.array_equal(bn_param["running_mean"], zeros)
    assert bn_param["running_mean"].dtype == dtype


def test_batchnorm_train_then_test_uses_updated_statistics(dtype):
    r = rng(36)
    x, gamma, beta = bn_inputs(r, 9, 3, dtype)
    bn_param = {"mode": "train", "momentum": 0.5}
    layers.batchnorm_forward(x, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    x2 = rand(r, (4, 3), dtype)
    out, _ = layers.batchnorm_forward(x2, gamma, beta, bn_param)
    _, _, _, rm, rv = ref.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.5, np.zeros(3), np.zeros(3))
    check(out, ref.batchnorm_forward_test(x2, gamma, beta, 1e-5, rm, rv), dtype, what="out")


def test_batchnorm_running_statistics_are_not_aliased(dtype):
    """bn_param gets its statistics as arrays of x's dtype; a caller's list is accepted."""
    x, gamma, beta = bn_inputs(rng(37), 5, 2, dtype)
    bn_param = {"mode": "train", "running_mean": [1.0, 2.0], "running_var": [3.0, 4.0]}
    layers.batchnorm_forward(x, gamma, beta, bn_param)
    _, _, _, rm, rv = ref.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.9, [1.0, 2.0], [3.0, 4.0])
    check(bn_param["running_mean"], rm, dtype, what="running_mean")
    check(bn_param["running_var"], rv, dtype, what="running_var")


@pytest.mark.parametrize("case", list(BN_SHAPES))
@pytest.mark.parametrize("which", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_backward(dtype, case, which):
    n, d = BN_SHAPES[case]
    r = rng(38)
    x, gamma, beta = bn_inputs(r, n, d, dtype)
    dout = rand(r, (n, d), dtype)
    _, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-5})
    dx, dgamma, dbeta = getattr(layers, which)(dout, cache)
    rdx, rdgamma, rdbeta = ref.batchnorm_backward(dout, x, gamma, 1e-5)
    # Tolerance reason: dx = gamma/std/N * (N*dout - sum(dout) - xhat*sum(dout*xhat)), and the
    # three terms cancel to far less than their size (completely, up to eps, when N = 2: the
    # output is then +-gamma + beta whatever x is). dx is therefore compared at the scale of
    # its terms, max|dout| * max(gamma/std), not of dx itself (measured: up to ~1e-12 of
    # max|dx| in float64 and ~5e-2 in float32 for N = 2; ~5e-16 and ~5e-7 otherwise).
    term_scale = np.max(np.abs(dout.astype(np.float64))) * np.max(
        np.abs(gamma.astype(np.float64)) / np.sqrt(x.astype(np.float64).var(axis=0) + 1e-5))
    rtol = TOL[np.dtype(dtype)]
    scale = max(np.max(np.abs(rdx)), term_scale)
    np.testing.assert_allclose(dx.astype(np.float64), rdx, rtol=rtol, atol=rtol * scale * 4,
                               err_msg="dx")
    assert dx.dtype == dtype
    check(dgamma, rdgamma, dtype, what="dgamma")
    check(dbeta, rdbeta, dtype, what="dbeta")


def test_batchnorm_n1():
    """With one example the batch variance is 0: out = beta, dx = 0."""
    for dtype in DTYPES:
        x = np.array([[1.0, -2.0, 3.0]], dtype)
        gamma, beta = np.array([2.0, 3.0, 4.0], dtype), np.array([0.5, -0.5, 1.0], dtype)
        bn_param = {"mode": "train"}
        out, cache = layers.batchnorm_forward(x, gamma, beta, bn_param)
        check(out, ref.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.9, np.zeros(3), np.zeros(3))[0],
              dtype, what="out")
        for which in ("batchnorm_backward", "batchnorm_backward_alt"):
            dx, dgamma, dbeta = getattr(layers, which)(np.ones((1, 3), dtype), cache)
            rdx, rdgamma, rdbeta = ref.batchnorm_backward(np.ones((1, 3)), x, gamma, 1e-5)
            # the exact dx is 0 (any x gives out = beta), so the comparison is absolute
            np.testing.assert_allclose(dx, rdx, atol=TOL[np.dtype(dtype)])
            check(dgamma, rdgamma, dtype, what="dgamma")
            check(dbeta, rdbeta, dtype, what="dbeta")


@pytest.mark.parametrize("which", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_numeric_gradient(which):
    r = rng(39)
    n, d = 6, 4
    x, gamma, beta = bn_inputs(r, n, d, np.float64)
    dout = rand(r, (n, d), np.float64)
    bn_param = {"mode": "train"}
    _, cache = layers.batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = getattr(layers, which)(dout, cache)

    def fwd(xx, gg, bb):
        return layers.batchnorm_forward(xx, gg, bb, {"mode": "train"})[0]

    grad_ok(ref.eval_numerical_gradient_array(lambda v: fwd(v, gamma, beta), x, dout), dx, "dx")
    grad_ok(ref.eval_numerical_gradient_array(lambda v: fwd(x, v, beta), gamma, dout), dgamma, "dgamma")
    grad_ok(ref.eval_numerical_gradient_array(lambda v: fwd(x, gamma, v), beta, dout), dbeta, "dbeta")


def test_batchnorm_backward_and_alt_agree(dtype):
    r = rng(40)
    for n, d in ((50, 20), (3, 7), (128, 3072)):
        x, gamma, beta = bn_inputs(r, n, d, dtype)
        dout = rand(r, (n, d), dtype)
        _, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        a = layers.batchnorm_backward(dout, cache)
        b = layers.batchnorm_backward_alt(dout, cache)
        rtol = TOL[np.dtype(dtype)]
        for ga, gb, name in zip(a, b, ("dx", "dgamma", "dbeta")):
            assert ga.dtype == gb.dtype == dtype
            # dx: scale of the cancelling terms, see test_batchnorm_backward
            scale = np.max(np.abs(dout)) * np.max(np.abs(gamma)) / np.min(np.sqrt(x.var(axis=0))) \
                if name == "dx" else np.max(np.abs(gb))
            np.testing.assert_allclose(ga, gb, rtol=rtol, atol=4 * rtol * scale, err_msg=name)


def test_batchnorm_non_contiguous(dtype):
    r = rng(41)
    x, gamma, beta = bn_inputs(r, 6, 4, dtype)
    xv = np.ascontiguousarray(x.T).T
    gv = np.repeat(gamma, 3)[::3]
    bv = np.repeat(beta, 2)[1::2]
    dout = rand(r, (4, 6), dtype).T
    assert not (xv.flags.c_contiguous or gv.flags.c_contiguous or bv.flags.c_contiguous
                or dout.flags.c_contiguous)
    p1, p2 = {"mode": "train"}, {"mode": "train"}
    out, cache = layers.batchnorm_forward(xv, gv, bv, p1)
    outc, cachec = layers.batchnorm_forward(x, gamma, beta, p2)
    assert np.array_equal(out, outc)
    assert np.array_equal(p1["running_mean"], p2["running_mean"])
    assert np.array_equal(p1["running_var"], p2["running_var"])
    for which in ("batchnorm_backward", "batchnorm_backward_alt"):
        for got, want in zip(getattr(layers, which)(dout, cache),
                             getattr(layers, which)(dout.copy(), cachec)):
            assert np.array_equal(got, want)


def test_batchnorm_integer_and_mixed_inputs():
    x = np.array([[1, 2], [3, 5], [0, -4]])
    gamma = np.array([1.0, 2.0], np.float32)
    beta = np.array([0, 1])
    bn_param = {"mode": "train"}
    out, cache = layers.batchnorm_forward(x, gamma, beta, bn_param)
    rout, _, _, rm, rv = ref.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.9, np.zeros(2), np.zeros(2))
    check(out, rout, np.float64, what="out")
    check(bn_param["running_mean"], rm, np.float64, what="running_mean")
    dout = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 2.5]], np.float32)
    dx, dgamma, dbeta = layers.batchnorm_backward(dout, cache)
    rdx, rdg, rdb = ref.batchnorm_backward(dout, x, gamma, 1e-5)
    np.testing.assert_allclose(dx, rdx, rtol=1e-12, atol=1e-12 * np.max(np.abs(rdx)))
    check(dgamma, rdg, np.float64, what="dgamma")
    check(dbeta, rdb, np.float64, what="dbeta")


# =======================================================================================
# layer normalization

LN_SHAPES = {"small": (4, 6), "N1": (1, 5), "D2": (3, 2), "largeD": (4, 3072)}


@pytest.mark.parametrize("case", list(LN_SHAPES))
def test_layernorm_forward_backward(dtype, case):
    n, d = LN_SHAPES[case]
    r = rng(50)
    x, gamma, beta = bn_inputs(r, n, d, dtype)
    ln_param = {"eps": 1e-4}
    out, cache = layers.layernorm_forward(x, gamma, beta, ln_param)
    check(out, ref.layernorm_forward(x, gamma, beta, 1e-4), dtype, what="out")
    dout = rand(r, (n, d), dtype)
    dx, dgamma, dbeta = layers.layernorm_backward(dout, cache)
    rdx, rdgamma, rdbeta = ref.layernorm_backward(dout, x, gamma, 1e-4)
    # Tolerance reason: as for batchnorm's dx (see test_batchnorm_backward), per row the
    # terms of dx cancel, completely up to eps when D = 2 (a row normalizes to +-1 whatever
    # x is). dx is compared at the scale of its terms, max|dout*gamma| * max(inv_std)
    # (measured for D = 2 in float32: ~5e-2 of max|dx|; otherwise ~1e-6 / ~1e-15).
    xd = x.astype(np.float64)
    term_scale = np.max(np.abs(dout.astype(np.float64)) * np.abs(gamma.astype(np.float64))) * np.max(
        1 / np.sqrt(xd.var(axis=1) + 1e-4))
    rtol = TOL[np.dtype(dtype)]
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx.astype(np.float64), rdx, rtol=rtol,
                               atol=4 * rtol * max(term_scale, np.max(np.abs(rdx))), err_msg="dx")
    check(dgamma, rdgamma, dtype, what="dgamma")
    check(dbeta, rdbeta, dtype, what="dbeta")
    assert ln_param == {"eps": 1e-4}


def test_layernorm_d1(dtype):
    """With one feature each row's variance is 0: out = beta, dx = 0."""
    x = np.array([[1.0], [-3.0], [7.0]], dtype)
    gamma, beta = np.array([2.0], dtype), np.array([0.25], dtype)
    out, cache = layers.layernorm_forward(x, gamma, beta, {})
    check(out, ref.layernorm_forward(x, gamma, beta, 1e-5), dtype, what="out")
    dx, dgamma, dbeta = layers.layernorm_backward(np.ones((3, 1), dtype), cache)
    # the exact dx is 0, so the comparison is absolute
    np.testing.assert_allclose(dx, 0.0, atol=TOL[np.dtype(dtype)])
    check(dbeta, [3.0], dtype, what="dbeta")


def test_layernorm_default_eps_and_ignored_mode(dtype):
    r = rng(51)
    x = (np.array([[1.0, 1.001, 0.999, 1.0005]]) + 0 * rand(r, (1, 4), np.float64)).astype(dtype)
    x = np.vstack([x, rand(r, (3, 4), dtype)])
    gamma, beta = bn_inputs(r, 1, 4, dtype)[1:]
    out0, cache0 = layers.layernorm_forward(x, gamma, beta, {})
    # Tolerance reason (float32 only): row 0 has a spread of ~1e-3 around 1, so x - mean
    # cancels ~10 bits of float32, hence 1e-4 instead of 1e-5.
    check(out0, ref.layernorm_forward(x, gamma, beta, 1e-5), dtype,
          rtol=1e-4 if dtype == np.float32 else 1e-12, what="out default eps")
    dout = rand(r, x.shape, dtype)
    g0 = layers.layernorm_backward(dout, cache0)
    for ln_param in ({"mode": "train"}, {"mode": "test"}, {"mode": "nonsense"}):
        out, cache = layers.layernorm_forward(x, gamma, beta, ln_param)
        assert np.array_equal(out, out0), ln_param
        for a, b in zip(layers.layernorm_backward(dout, cache), g0):
            assert np.array_equal(a, b), ln_param


def test_layernorm_numeric_gradient():
    r = rng(52)
    x, gamma, beta = bn_inputs(r, 4, 5, np.float64)
    dout = rand(r, (4, 5), np.float64)
    _, cache = layers.layernorm_forward(x, gamma, beta, {})
    dx, dgamma, dbeta = layers.layernorm_backward(dout, cache)

    def fwd(xx, gg, bb):
        return layers.layernorm_forward(xx, gg, bb, {})[0]

    grad_ok(ref.eval_numerical_gradient_array(lambda v: fwd(v, gamma, beta), x, dout), dx, "dx")
    grad_ok(ref.eval_numerical_gradient_array(lambda v: fwd(x, v, beta), gamma, dout), dgamma, "dgamma")
    grad_ok(ref.eval_numerical_gradient_array(lambda v: fwd(x, gamma, v), beta, dout), dbeta, "dbeta")


def test_layernorm_non_contiguous(dtype):
    r = rng(53)
    x, gamma, beta = bn_inputs(r, 5, 4, dtype)
    xv = np.ascontiguousarray(x.T).T
    gv = np.repeat(gamma, 2)[::2]
    dout = rand(r, (4, 5), dtype).T
    out, cache = layers.layernorm_forward(xv, gv, beta, {})
    outc, cachec = layers.layernorm_forward(x, gamma, beta, {})
    assert np.array_equal(out, outc)
    for a, b in zip(layers.layernorm_backward(dout, cache), layers.layernorm_backward(dout.copy(), cachec)):
        assert np.array_equal(a, b)


def test_layernorm_integer_and_mixed_inputs():
    x = np.array([[1, 2, 4], [3, 5, -1]])
    gamma, beta = np.array([1.0, 2.0, 0.5], np.float32), np.array([0, 1, 2])
    out, cache = layers.layernorm_forward(x, gamma, beta, {})
    check(out, ref.layernorm_forward(x, gamma, beta, 1e-5), np.float64, what="out")
    dout = np.arange(6, dtype=np.float32).reshape(2, 3)
    dx, dgamma, dbeta = layers.layernorm_backward(dout, cache)
    rdx, rdg, rdb = ref.layernorm_backward(dout, x, gamma, 1e-5)
    np.testing.assert_allclose(dx, rdx, rtol=1e-12, atol=1e-12 * np.max(np.abs(rdx)))
    check(dgamma, rdg, np.float64, what="dgamma")
    check(dbeta, rdb, np.float64, what="dbeta")


# =======================================================================================
# dropout

def test_splitmix64_reference_self_check():
    # Known first outputs of SplitMix64 seeded with 0.
    assert [int(v) for v in ref.splitmix64(0, 2)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]
    for seed in (0, 1, 42, 2**63 + 11, 2**64 - 1):
        vec = ref.splitmix64(seed, 50)
        assert [int(v) for v in vec] == [ref.splitmix64_scalar(seed, i) for i in range(50)]


@pytest.mark.parametrize("p", [0.3, 0.5, 0.75, 0.9999, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 123, 2**31 + 7, 2**63 + 5, 2**64 - 1])
def test_dropout_mask_matches_documented_generator(dtype, p, seed):
    x = rand(rng(60), (7, 3, 5), dtype)
    out, (param, mask) = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": seed})
    expected = ref.dropout_mask(x.shape, p, seed, dtype)
    assert mask.dtype == dtype and mask.shape == x.shape
    assert np.array_equal(mask, expected), "mask differs from SplitMix64 at %d of %d positions" % (
        int(np.sum(mask != expected)), mask.size)
    assert np.array_equal(out, x * expected)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_forward_train(dtype, p):
    x = rand(rng(61), (100, 1000), dtype)
    dropout_param = {"mode": "train", "p": p, "seed": 7}
    out, cache = layers.dropout_forward(x, dropout_param)
    param, mask = cache
    assert param is dropout_param
    assert out.dtype == dtype and out.shape == x.shape
    assert np.array_equal(out, x * mask)
    scale = dtype.type(1) / dtype.type(p)
    assert set(np.unique(mask).tolist()) == {0.0, float(scale)}
    keep = np.mean(mask != 0)
    assert abs(keep - p) < 5 * np.sqrt(p * (1 - p) / mask.size), keep
    check(out, ref.dropout_forward(x, mask), dtype, what="out")


def test_dropout_same_seed_same_mask(dtype):
    x = rand(rng(62), (50, 40), dtype)
    masks = [layers.dropout_forward(x, {"mode": "train", "p": 0.6, "seed": 99})[1][1] for _ in range(3)]
    assert np.array_equal(masks[0], masks[1]) and np.array_equal(masks[0], masks[2])
    # the same dict reused keeps giving the same mask
    param = {"mode": "train", "p": 0.6, "seed": 99}
    m1 = layers.dropout_forward(x, param)[1][1]
    m2 = layers.dropout_forward(x, param)[1][1]
    assert np.array_equal(m1, m2) and np.array_equal(m1, masks[0])


def test_dropout_different_seeds_differ(dtype):
    x = rand(rng(63), (50, 40), dtype)
    m1 = layers.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 1})[1][1]
    m2 = layers.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 2})[1][1]
    assert not np.array_equal(m1, m2)
    assert abs(np.mean(m1 != m2) - 0.5) < 0.1


def test_dropout_without_seed_follows_numpy_global_generator(dtype):
    x = rand(rng(64), (30, 30), dtype)
    param = {"mode": "train", "p": 0.5}
    state = np.random.get_state()
    try:
        np.random.seed(5)
        a1 = layers.dropout_forward(x, param)[1][1]
        a2 = layers.dropout_forward(x, param)[1][1]
        np.random.seed(5)
        b1 = layers.dropout_forward(x, param)[1][1]
        b2 = layers.dropout_forward(x, param)[1][1]
        np.random.seed(6)
        c1 = layers.dropout_forward(x, param)[1][1]
    finally:
        np.random.set_state(state)
    assert np.array_equal(a1, b1) and np.array_equal(a2, b2)
    assert not np.array_equal(a1, a2), "successive unseeded calls must draw new masks"
    assert not np.array_equal(a1, c1), "different np.random.seed must give different masks"
    assert "seed" not in param


def test_dropout_test_mode_returns_x(dtype):
    x = rand(rng(65), (4, 5, 2), dtype)
    param = {"mode": "test", "p": 0.3}
    out, cache = layers.dropout_forward(x, param)
    assert out.dtype == dtype
    assert np.array_equal(out, x)
    assert cache[0] is param
    dout = rand(rng(66), x.shape, dtype)
    dx = layers.dropout_backward(dout, cache)
    assert np.array_equal(dx, dout)
    # a seed does not matter in test mode
    out2, _ = layers.dropout_forward(x, {"mode": "test", "p": 0.3, "seed": 3})
    assert np.array_equal(out2, x)


def test_dropout_p1_keeps_everything(dtype):
    x = rand(rng(67), (20, 30), dtype)
    for param in ({"mode": "train", "p": 1.0, "seed": 4}, {"mode": "train", "p": 1}):
        out, (_, mask) = layers.dropout_forward(x, param)
        assert np.array_equal(mask, np.ones_like(x))
        assert np.array_equal(out, x)
        assert out.dtype == dtype


def test_dropout_backward(dtype):
    r = rng(68)
    x = rand(r, (6, 7, 3), dtype)
    out, cache = layers.dropout_forward(x, {"mode": "train", "p": 0.4, "seed": 12})
    dout = rand(r, x.shape, dtype)
    dx = layers.dropout_backward(dout, cache)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert np.array_equal(dx, dout * cache[1])
    check(dx, ref.dropout_backward(dout, cache[1]), dtype, what="dx")


def test_dropout_numeric_gradient():
    r = rng(69)
    x = rand(r, (5, 6), np.float64)
    param = {"mode": "train", "p": 0.7, "seed": 321}
    _, cache = layers.dropout_forward(x, param)
    dout = rand(r, (5, 6), np.float64)
    dx = layers.dropout_backward(dout, cache)
    num = ref.eval_numerical_gradient_array(lambda v: layers.dropout_forward(v, param)[0], x, dout)
    grad_ok(num, dx, "dx")


def test_dropout_non_contiguous(dtype):
    r = rng(70)
    big = rand(r, (20, 30), dtype)
    x = big[::2, 1::3]
    xt = rand(r, (10, 10), dtype).T
    for v in (x, xt):
        assert not v.flags.c_contiguous
        param = {"mode": "train", "p": 0.5, "seed": 77}
        out, (_, mask) = layers.dropout_forward(v, param)
        outc, (_, maskc) = layers.dropout_forward(v.copy(), param)
        assert np.array_equal(out, outc) and np.array_equal(mask, maskc)
        # the mask follows the logical (C) order of the elements
        assert np.array_equal(mask, ref.dropout_mask(v.shape, 0.5, 77, dtype))
        dout = rand(r, v.shape, dtype).T.copy().T
        assert np.array_equal(layers.dropout_backward(dout, (param, mask)), dout * mask)


def test_dropout_large_keep_fraction():
    x = np.ones(100_000)
    for p in (0.1, 0.5, 0.9):
        _, (_, mask) = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": 2024})
        keep = np.count_nonzero(mask) / mask.size
        assert abs(keep - p) < 5 * np.sqrt(p * (1 - p) / mask.size), (p, keep)


# =======================================================================================
# mixed precision in the backward passes: a float32 forward pass followed by a float64
# dout. The package promises "float32 inputs compute in float32, anything else as NumPy
# would promote", so float32 and float64 together give float64 (as dout * mask, dout @ w.T
# do in NumPy). Values are compared at float32 accuracy since the cache was made in float32.

def _mixed_cases():
    def affine(r):
        x, w, b = rand(r, (3, 2, 2), np.float32), rand(r, (4, 5), np.float32), rand(r, 5, np.float32)
        dout = rand(r, (3, 5), np.float64)
        got = layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])
        return got, ref.affine_backward(dout, x, w)

    def relu(r):
        x = away_from_zero(r, (3, 4), np.float32)
        dout = rand(r, (3, 4), np.float64)
        return (layers.relu_backward(dout, layers.relu_forward(x)[1]),), (ref.relu_backward(dout, x),)

    def affine_relu(r):
        x, w, b = affine_relu_inputs(r, (3, 4), 5, np.float32)
        dout = rand(r, (3, 5), np.float64)
        got = layers.affine_relu_backward(dout, layers.affine_relu_forward(x, w, b)[1])
        return got, ref.affine_backward(ref.relu_backward(dout, ref.affine_forward(x, w, b)), x, w)

    def batchnorm(which):
        def case(r):
            x, gamma, beta = bn_inputs(r, 6, 3, np.float32)
            dout = rand(r, (6, 3), np.float64)
            cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})[1]
            return getattr(layers, which)(dout, cache), ref.batchnorm_backward(dout, x, gamma, 1e-5)
        return case

    def layernorm(r):
        x, gamma, beta = bn_inputs(r, 6, 3, np.float32)
        dout = rand(r, (6, 3), np.float64)
        cache = layers.layernorm_forward(x, gamma, beta, {})[1]
        return layers.layernorm_backward(dout, cache), ref.layernorm_backward(dout, x, gamma, 1e-5)

    def dropout(r):
        x = rand(r, (4, 6), np.float32)
        dout = rand(r, (4, 6), np.float64)
        _, cache = layers.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 3})
        return (layers.dropout_backward(dout, cache),), (ref.dropout_backward(dout, cache[1]),)

    return {"affine_backward": affine, "relu_backward": relu, "affine_relu_backward": affine_relu,
            "batchnorm_backward": batchnorm("batchnorm_backward"),
            "batchnorm_backward_alt": batchnorm("batchnorm_backward_alt"),
            "layernorm_backward": layernorm, "dropout_backward": dropout}


MIXED = _mixed_cases()


@pytest.mark.parametrize("name", list(MIXED))
def test_backward_float32_cache_float64_dout_gives_float64(name):
    got, want = MIXED[name](rng(80))
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == np.float64, "%s output %d has dtype %s; float32 cache with float64 dout " \
            "should promote to float64 as NumPy does" % (name, i, g.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * np.max(np.abs(w)))
