"""Bad input to swiftnn.layers: each case must raise ValueError (swiftnn.SwiftNNError is a
ValueError subclass) or TypeError with a message that names the offending argument, and
no input may crash the interpreter (test_no_bad_input_crashes_the_interpreter replays every
case in a child process)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import swiftnn
from swiftnn import layers

F = np.float64


def _x(n=4, d=5, dtype=F, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)


def _bn_cache(mode="train"):
    x = _x(6, 3)
    return layers.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": mode})[1]


def _ln_cache(n=6, d=3):
    return layers.layernorm_forward(_x(n, d), np.ones(d), np.zeros(d), {})[1]


def _affine_cache(dtype=F):
    return layers.affine_forward(_x(4, 5, dtype), _x(5, 3, dtype), np.zeros(3, dtype))[1]


def _affine_relu_cache():
    return layers.affine_relu_forward(_x(4, 5), _x(5, 3), np.zeros(3))[1]


def _dropout_cache():
    return layers.dropout_forward(_x(4, 5), {"mode": "train", "p": 0.5, "seed": 1})[1]


def _nan_scores(n=4, c=3, where=(1, 2)):
    x = _x(n, c)
    x[where] = np.nan
    return x


CASES = {}


def case(case_id, exc, names, fn):
    """A bad call: ``fn()`` must raise ``exc`` with a message naming one of ``names``."""
    assert case_id not in CASES, case_id
    CASES[case_id] = (exc, (names,) if isinstance(names, str) else tuple(names), fn)


V, T = ValueError, TypeError
y4 = np.array([0, 1, 2, 0])

# ---- mismatched shapes ------------------------------------------------------------------
case("affine_forward-w_rows", V, "w", lambda: layers.affine_forward(_x(4, 5), _x(6, 3), np.zeros(3)))
case("affine_forward-w_rows_4d", V, "w",
     lambda: layers.affine_forward(np.zeros((2, 3, 4)), _x(13, 3), np.zeros(3)))
case("affine_forward-b_length", V, "b", lambda: layers.affine_forward(_x(4, 5), _x(5, 3), np.zeros(4)))
case("affine_forward-b_2d", V, "b", lambda: layers.affine_forward(_x(4, 5), _x(5, 3), np.zeros((1, 3))))
case("affine_relu_forward-w_rows", V, "w",
     lambda: layers.affine_relu_forward(_x(4, 5), _x(4, 3), np.zeros(3)))
case("affine_relu_forward-b_length", V, "b",
     lambda: layers.affine_relu_forward(_x(4, 5), _x(5, 3), np.zeros(2)))
case("batchnorm_forward-gamma_length", V, "gamma",
     lambda: layers.batchnorm_forward(_x(4, 5), np.ones(4), np.zeros(5), {"mode": "train"}))
case("batchnorm_forward-beta_length", V, "beta",
     lambda: layers.batchnorm_forward(_x(4, 5), np.ones(5), np.zeros(6), {"mode": "train"}))
case("batchnorm_forward-test_gamma_length", V, "gamma",
     lambda: layers.batchnorm_forward(_x(4, 5), np.ones(4), np.zeros(5), {"mode": "test"}))
case("batchnorm_forward-running_mean_length", V, "running_mean",
     lambda: layers.batchnorm_forward(_x(4, 5), np.ones(5), np.zeros(5),
                                      {"mode": "train", "running_mean": np.zeros(4)}))
case("batchnorm_forward-running_var_length", V, "running_var",
     lambda: layers.batchnorm_forward(_x(4, 5), np.ones(5), np.zeros(5),
                                      {"mode": "test", "running_var": np.zeros(6)}))
case("layernorm_forward-gamma_length", V, "gamma",
     lambda: layers.layernorm_forward(_x(4, 5), np.ones(4), np.zeros(5), {}))
case("layernorm_forward-beta_length", V, "beta",
     lambda: layers.layernorm_forward(_x(4, 5), np.ones(5), np.zeros((5, 1)), {}))
case("affine_backward-dout_shape", V, "dout", lambda: layers.affine_backward(_x(4, 2), _affine_cache()))
case("affine_backward-dout_transposed", V, "dout",
     lambda: layers.affine_backward(_x(3, 4), _affine_cache()))
case("relu_backward-dout_shape", V, "dout", lambda: layers.relu_backward(_x(4, 4), _x(4, 5)))
case("affine_relu_backward-dout_shape", V, "dout",
     lambda: layers.affine_relu_backward(_x(4, 4), _affine_relu_cache()))
case("batchnorm_backward-dout_shape", V, "dout", lambda: layers.batchnorm_backward(_x(6, 4), _bn_cache()))
case("batchnorm_backward_alt-dout_shape", V, "dout",
     lambda: layers.batchnorm_backward_alt(_x(5, 3), _bn_cache()))
case("layernorm_backward-dout_shape", V, "dout", lambda: layers.layernorm_backward(_x(3, 6), _ln_cache()))
case("dropout_backward-dout_shape", V, "dout", lambda: layers.dropout_backward(_x(4, 6), _dropout_cache()))
case("softmax_loss-y_length", V, "y", lambda: layers.softmax_loss(_x(4, 3), np.array([0, 1, 2])))
case("svm_loss-y_length", V, "y", lambda: layers.svm_loss(_x(4, 3), np.array([0, 1, 2, 0, 1])))
case("softmax_loss-y_2d", V, "y", lambda: layers.softmax_loss(_x(4, 3), y4.reshape(4, 1)))
case("svm_loss-y_scalar", V, "y", lambda: layers.svm_loss(_x(1, 3), np.int64(0)))

# ---- wrong ndim -------------------------------------------------------------------------
case("affine_forward-x_1d", V, "x", lambda: layers.affine_forward(np.ones(5), _x(5, 3), np.zeros(3)))
case("affine_forward-x_0d", V, "x", lambda: layers.affine_forward(np.float64(1), _x(1, 3), np.zeros(3)))
case("affine_forward-w_1d", V, "w", lambda: layers.affine_forward(_x(4, 5), np.ones(5), np.zeros(1)))
case("affine_forward-w_3d", V, "w",
     lambda: layers.affine_forward(_x(4, 6), np.ones((2, 3, 2)), np.zeros(2)))
case("softmax_loss-x_3d", V, "x", lambda: layers.softmax_loss(np.zeros((4, 3, 2)), y4))
case("svm_loss-x_3d", V, "x", lambda: layers.svm_loss(np.zeros((4, 3, 2)), y4))
case("softmax_loss-x_1d", V, "x", lambda: layers.softmax_loss(np.zeros(4), y4))
case("batchnorm_forward-x_1d", V, "x",
     lambda: layers.batchnorm_forward(np.ones(5), np.ones(5), np.zeros(5), {"mode": "train"}))
case("batchnorm_forward-x_3d", V, "x",
     lambda: layers.batchnorm_forward(np.ones((2, 3, 5)), np.ones(5), np.zeros(5), {"mode": "train"}))
case("layernorm_forward-x_1d", V, "x", lambda: layers.layernorm_forward(np.ones(5), np.ones(5),
                                                                         np.zeros(5), {}))

# ---- zero sizes -------------------------------------------------------------------------
case("affine_forward-N0", V, "x", lambda: layers.affine_forward(np.zeros((0, 5)), _x(5, 3), np.zeros(3)))
case("affine_forward-D0", V, ("x", "w"),
     lambda: layers.affine_forward(np.zeros((4, 0)), np.zeros((0, 3)), np.zeros(3)))
case("affine_forward-N0_4d", V, "x",
     lambda: layers.affine_forward(np.zeros((0, 2, 2)), _x(4, 3), np.zeros(3)))
case("affine_forward-M0", V, ("w", "b"),
     lambda: layers.affine_forward(_x(4, 5), np.zeros((5, 0)), np.zeros(0)))
case("affine_relu_forward-N0", V, "x",
     lambda: layers.affine_relu_forward(np.zeros((0, 5)), _x(5, 3), np.zeros(3)))
case("relu_forward-empty", V, "x", lambda: layers.relu_forward(np.zeros((0, 3))))
case("relu_forward-empty_list", V, "x", lambda: layers.relu_forward([]))
case("relu_backward-empty", V, ("dout", "x"), lambda: layers.relu_backward(np.zeros((0, 3)), np.zeros((0, 3))))
case("softmax_loss-N0", V, "x", lambda: layers.softmax_loss(np.zeros((0, 3)), np.zeros(0, np.int64)))
case("softmax_loss-C0", V, "x", lambda: layers.softmax_loss(np.zeros((4, 0)), y4))
case("svm_loss-N0", V, "x", lambda: layers.svm_loss(np.zeros((0, 3)), np.zeros(0, np.int64)))
case("svm_loss-C0", V, "x", lambda: layers.svm_loss(np.zeros((4, 0)), y4))
case("batchnorm_forward-N0", V, "x",
     lambda: layers.batchnorm_forward(np.zeros((0, 3)), np.ones(3), np.zeros(3), {"mode": "train"}))
case("batchnorm_forward-D0", V, "x",
     lambda: layers.batchnorm_forward(np.zeros((4, 0)), np.ones(0), np.zeros(0), {"mode": "train"}))
case("batchnorm_forward-test_N0", V, "x",
     lambda: layers.batchnorm_forward(np.zeros((0, 3)), np.ones(3), np.zeros(3), {"mode": "test"}))
case("layernorm_forward-N0", V, "x",
     lambda: layers.layernorm_forward(np.zeros((0, 3)), np.ones(3), np.zeros(3), {}))
case("layernorm_forward-D0", V, "x",
     lambda: layers.layernorm_forward(np.zeros((4, 0)), np.ones(0), np.zeros(0), {}))
case("dropout_forward-empty", V, "x",
     lambda: layers.dropout_forward(np.zeros((0, 3)), {"mode": "train", "p": 0.5, "seed": 1}))

# ---- labels outside [0, C) --------------------------------------------------------------
for _loss in ("softmax_loss", "svm_loss"):
    case(_loss + "-label_negative", V, "y",
         lambda f=getattr(layers, _loss): f(_x(4, 3), np.array([0, -1, 2, 0])))
    case(_loss + "-label_eq_C", V, "y", lambda f=getattr(layers, _loss): f(_x(4, 3), np.array([0, 1, 3, 0])))
    case(_loss + "-label_huge", V, "y",
         lambda f=getattr(layers, _loss): f(_x(4, 3), np.array([0, 1, 2, 2**62])))
    case(_loss + "-label_uint64_huge", V, "y",
         lambda f=getattr(layers, _loss): f(_x(2, 3), np.array([0, 2**64 - 1], dtype=np.uint64)))
    case(_loss + "-label_float", T, "y", lambda f=getattr(layers, _loss): f(_x(4, 3), y4.astype(float)))
    case(_loss + "-label_float_list", T, "y", lambda f=getattr(layers, _loss): f(_x(2, 3), [0.0, 1.5]))
    case(_loss + "-label_string", T, "y", lambda f=getattr(layers, _loss): f(_x(2, 3), ["0", "1"]))
    case(_loss + "-label_complex", T, "y",
         lambda f=getattr(layers, _loss): f(_x(2, 3), np.array([0, 1], dtype=complex)))
    case(_loss + "-nan_scores", V, "x", lambda f=getattr(layers, _loss): f(_nan_scores(), y4))
    case(_loss + "-nan_correct_class_score", V, "x",
         lambda f=getattr(layers, _loss): f(_nan_scores(where=(2, 2)), y4))
    case(_loss + "-all_nan_scores", V, "x",
         lambda f=getattr(layers, _loss): f(np.full((4, 3), np.nan), y4))
    case(_loss + "-nan_scores_f32", V, "x",
         lambda f=getattr(layers, _loss): f(_nan_scores().astype(np.float32), y4))

# ---- dropout p and mode -----------------------------------------------------------------
for _p in (0, 0.0, -0.1, 1.5, 1.0000001, float("nan"), float("inf"), -float("inf")):
    case("dropout_forward-p=%r" % _p, V, "p",
         lambda p=_p: layers.dropout_forward(_x(), {"mode": "train", "p": p, "seed": 1}))
# p so small that the scale 1/p overflows the compute dtype
case("dropout_forward-p_tiny_f32", V, "p", lambda: layers.dropout_forward(
    _x(dtype=np.float32), {"mode": "train", "p": 1e-40, "seed": 1}))
case("dropout_forward-p_tiny_f64", V, "p", lambda: layers.dropout_forward(
    _x(), {"mode": "train", "p": 1e-320, "seed": 1}))
case("dropout_forward-p_missing", V, "p", lambda: layers.dropout_forward(_x(), {"mode": "train"}))
case("dropout_forward-p_unseeded", V, "p", lambda: layers.dropout_forward(_x(), {"mode": "train", "p": 0}))
case("dropout_forward-mode_unknown", V, "mode",
     lambda: layers.dropout_forward(_x(), {"mode": "eval", "p": 0.5}))
case("dropout_forward-mode_missing", V, "mode", lambda: layers.dropout_forward(_x(), {"p": 0.5}))
case("dropout_forward-mode_case", V, "mode", lambda: layers.dropout_forward(_x(), {"mode": "Train", "p": 0.5}))

# ---- batchnorm mode, eps, momentum ------------------------------------------------------
def _bn(param, x=None):
    x = _x(4, 3) if x is None else x
    return layers.batchnorm_forward(x, np.ones(x.shape[1]), np.zeros(x.shape[1]), param)


case("batchnorm_forward-mode_unknown", V, "mode", lambda: _bn({"mode": "eval"}))
case("batchnorm_forward-mode_missing", V, "mode", lambda: _bn({}))
case("batchnorm_forward-mode_none", V, "mode", lambda: _bn({"mode": None}))
case("batchnorm_forward-mode_int", V, "mode", lambda: _bn({"mode": 0}))
case("batchnorm_forward-eps_negative", V, "eps", lambda: _bn({"mode": "train", "eps": -1e-5}))
case("batchnorm_forward-test_eps_negative", V, "eps", lambda: _bn({"mode": "test", "eps": -1.0}))
case("batchnorm_forward-eps_nan", V, "eps", lambda: _bn({"mode": "train", "eps": float("nan")}))
case("batchnorm_forward-eps_inf", V, "eps", lambda: _bn({"mode": "train", "eps": float("inf")}))
case("layernorm_forward-eps_negative", V, "eps",
     lambda: layers.layernorm_forward(_x(4, 3), np.ones(3), np.zeros(3), {"eps": -1e-5}))
case("layernorm_forward-eps_nan", V, "eps",
     lambda: layers.layernorm_forward(_x(4, 3), np.ones(3), np.zeros(3), {"eps": float("nan")}))
for _m in (-0.1, 1.5, float("nan"), float("inf")):
    case("batchnorm_forward-momentum=%r" % _m, V, "momentum",
         lambda m=_m: _bn({"mode": "train", "momentum": m}))
case("batchnorm_backward-test_mode_cache", V, ("cache", "mode", "train"),
     lambda: layers.batchnorm_backward(_x(6, 3), _bn_cache("test")))
case("batchnorm_backward_alt-test_mode_cache", V, ("cache", "mode", "train"),
     lambda: layers.batchnorm_backward_alt(_x(6, 3), _bn_cache("test")))
# A layernorm cache holds per-row statistics (n of them), a batchnorm cache per-feature ones
# (d): exchanging them must be refused, not read past the end of an array.
case("layernorm_backward-batchnorm_cache", V, ("cache", "mean", "inv_std"),
     lambda: layers.layernorm_backward(_x(6, 3), _bn_cache()))
case("batchnorm_backward-layernorm_cache", V, ("cache", "mean", "inv_std"),
     lambda: layers.batchnorm_backward(_x(2, 40), _ln_cache(2, 40)))

# ---- wrong dtypes -----------------------------------------------------------------------
_C = np.ones((4, 5), complex)
_O = np.array([[1.0, None], [2.0, 3.0]], dtype=object)
_S = np.array([["a", "b"], ["c", "d"]])
case("affine_forward-x_complex", T, "x", lambda: layers.affine_forward(_C, _x(5, 3), np.zeros(3)))
case("affine_forward-w_complex", T, "w",
     lambda: layers.affine_forward(_x(4, 5), _x(5, 3).astype(complex), np.zeros(3)))
case("affine_forward-b_complex", T, "b", lambda: layers.affine_forward(_x(4, 5), _x(5, 3), np.zeros(3, complex)))
case("affine_forward-x_object", T, "x", lambda: layers.affine_forward(_O, _x(2, 3), np.zeros(3)))
case("affine_forward-x_string", T, "x", lambda: layers.affine_forward(_S, _x(2, 3), np.zeros(3)))
case("affine_forward-w_string", T, "w", lambda: layers.affine_forward(_x(2, 2), _S, np.zeros(2)))
case("affine_backward-dout_complex", T, "dout",
     lambda: layers.affine_backward(np.ones((4, 3), complex), _affine_cache()))
case("affine_backward-dout_string", T, "dout",
     lambda: layers.affine_backward(np.full((4, 3), "a"), _affine_cache()))
case("affine_relu_forward-x_complex", T, "x", lambda: layers.affine_relu_forward(_C, _x(5, 3), np.zeros(3)))
case("affine_relu_backward-dout_complex", T, "dout",
     lambda: layers.affine_relu_backward(np.ones((4, 3), complex), _affine_relu_cache()))
case("relu_forward-complex", T, "x", lambda: layers.relu_forward(_C))
case("relu_forward-object", T, "x", lambda: layers.relu_forward(_O))
case("relu_forward-string", T, "x", lambda: layers.relu_forward(_S))
case("relu_forward-str_scalar", T, "x", lambda: layers.relu_forward("abc"))
case("relu_backward-dout_complex", T, "dout", lambda: layers.relu_backward(_C, _x(4, 5)))
case("softmax_loss-x_complex", T, "x", lambda: layers.softmax_loss(_C, y4))
case("svm_loss-x_object", T, "x", lambda: layers.svm_loss(_O, np.array([0, 1])))
case("softmax_loss-x_string", T, "x", lambda: layers.softmax_loss(_S, np.array([0, 1])))
case("batchnorm_forward-x_complex", T, "x", lambda: _bn({"mode": "train"}, x=_C))
case("batchnorm_forward-gamma_complex", T, "gamma",
     lambda: layers.batchnorm_forward(_x(4, 3), np.ones(3, complex), np.zeros(3), {"mode": "train"}))
case("batchnorm_forward-beta_string", T, "beta",
     lambda: layers.batchnorm_forward(_x(4, 2), np.ones(2), np.array(["a", "b"]), {"mode": "train"}))
case("batchnorm_backward-dout_complex", T, "dout",
     lambda: layers.batchnorm_backward(np.ones((6, 3), complex), _bn_cache()))
case("layernorm_forward-x_object", T, "x",
     lambda: layers.layernorm_forward(_O, np.ones(2), np.zeros(2), {}))
case("layernorm_backward-dout_complex", T, "dout",
     lambda: layers.layernorm_backward(np.ones((6, 3), complex), _ln_cache()))
case("dropout_forward-x_complex", T, "x",
     lambda: layers.dropout_forward(_C, {"mode": "train", "p": 0.5, "seed": 1}))
case("dropout_forward-x_string", T, "x",
     lambda: layers.dropout_forward(_S, {"mode": "train", "p": 0.5, "seed": 1}))
case("dropout_backward-dout_complex", T, "dout",
     lambda: layers.dropout_backward(np.ones((4, 5), complex), _dropout_cache()))
case("dropout_backward-dout_string", T, "dout",
     lambda: layers.dropout_backward(np.full((4, 5), "a"), _dropout_cache()))


def _names(message, names):
    return any(re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(n), message) for n in names)


@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_input(case_id):
    exc, names, fn = CASES[case_id]
    with pytest.raises((ValueError, TypeError)) as info:
        fn()
    err = info.value
    message = str(err)
    assert isinstance(err, exc), "%s raised %s (%s), expected %s" % (
        case_id, type(err).__name__, message, exc.__name__)
    assert _names(message, names), "%s: the message does not name %s: %r" % (
        case_id, " or ".join(names), message)


def test_engine_errors_are_swiftnn_errors():
    with pytest.raises(swiftnn.SwiftNNError) as info:
        layers.softmax_loss(_x(2, 3), np.array([0, 3]))
    assert info.value.status == -4   # SNN_E_VALUE
    with pytest.raises(swiftnn.SwiftNNError) as info:
        layers.softmax_loss(_nan_scores(), y4)
    assert info.value.status == -5   # SNN_E_NONFINITE


# ---- state must survive a refused call --------------------------------------------------

@pytest.mark.parametrize("bad", ["nan_x", "inf_x", "momentum", "eps"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_refused_batchnorm_leaves_running_stats_unchanged(bad, dtype):
    x = _x(5, 3, dtype)
    param = {"mode": "train", "momentum": 0.9}
    if bad == "nan_x":
        x[2, 1] = np.nan
    elif bad == "inf_x":
        x[0, 0] = np.inf
    elif bad == "momentum":
        param["momentum"] = 1.5
    else:
        param["eps"] = -1.0
    rm = np.array([0.5, -1.0, 2.0], dtype)
    rv = np.array([1.0, 2.0, 3.0], dtype)
    param.update(running_mean=rm, running_var=rv)
    before = dict(param)
    with pytest.raises(ValueError) as info:
        layers.batchnorm_forward(x, np.ones(3, dtype), np.zeros(3, dtype), param)
    assert _names(str(info.value), {"nan_x": ["x"], "inf_x": ["x"], "momentum": ["momentum"],
                                    "eps": ["eps"]}[bad]), str(info.value)
    assert param.keys() == before.keys()
    assert param["running_mean"] is rm and param["running_var"] is rv
    assert np.array_equal(rm, [0.5, -1.0, 2.0]) and np.array_equal(rv, [1.0, 2.0, 3.0])


def test_refused_batchnorm_without_running_stats_adds_none():
    x = _x(5, 3)
    x[1, 1] = np.nan
    param = {"mode": "train"}
    with pytest.raises(ValueError):
        layers.batchnorm_forward(x, np.ones(3), np.zeros(3), param)
    assert param == {"mode": "train"}


def test_refused_calls_do_not_modify_inputs():
    x = _nan_scores()
    copy = x.copy()
    with pytest.raises(ValueError):
        layers.softmax_loss(x, y4)
    np.testing.assert_array_equal(x, copy)


# ---- no crash ---------------------------------------------------------------------------

def test_no_bad_input_crashes_the_interpreter():
    """Every case above, replayed in a child interpreter: a segfault or abort there is a
    failure here instead of the end of the test session."""
    here = Path(__file__).resolve().parent
    script = (
        "import sys\n"
        "sys.path[:0] = [%r, %r]\n"
        "import test_bad_input as t\n"
        "for name, (exc, names, fn) in t.CASES.items():\n"
        "    print(name, flush=True)\n"
        "    try:\n"
        "        fn()\n"
        "    except Exception:\n"
        "        pass\n"
        "print('DONE', flush=True)\n" % (str(here), str(here.parent)))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=str(here), env=dict(os.environ))
    last = proc.stdout.strip().splitlines()[-1:] or ["<nothing>"]
    assert proc.returncode == 0 and last == ["DONE"], (
        "child exited with %d after case %s\nstderr:\n%s" % (proc.returncode, last[0], proc.stderr[-3000:]))
