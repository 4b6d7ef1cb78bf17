"""Property-based tests (hypothesis) of the raw C entry points, called through ctypes as a C
caller would (``swiftnn._native.lib.snn_*``): crafted sizes (0, negative, past the BLAS
limit, products that overflow int64 or n*d*8), NULL where the header allows none, NULL
where it allows it, out-of-range labels and hyperparameters, NaN/Inf, destroyed, foreign
and wrong-kind handles. Each call either returns SNN_OK with the reference's result or a
negative SNN_E_* code with a message; refused calls leave in-out buffers (running
statistics, weights and optimizer state) as they were.

The properties run in a child interpreter, which logs each call before making it: a crash
becomes a failure here that names the signal and the call.
"""
import ctypes
import json
import math
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
from swiftnn import _native as nat
from swiftnn.optim import UpdateConfig

HERE = Path(__file__).resolve().parent
EXAMPLES = int(os.environ.get("SWIFTNN_PROPERTY_EXAMPLES", "60"))
RANDOM = os.environ.get("SWIFTNN_PROPERTY_RANDOM") == "1"

OK, E_NULL, E_SIZE, E_SHAPE, E_VALUE, E_NONFINITE, E_ALLOC, E_HANDLE = 0, -1, -2, -3, -4, -5, -6, -7
INT64_MAX = 2**63 - 1
ADDRESSABLE = INT64_MAX // 8      # the most elements a buffer of doubles can have
BLAS_MAX = 2**31 - 1
DTYPES = {"f32": np.dtype(np.float32), "f64": np.dtype(np.float64)}

# One line per call, written before the call (by the child), so a crash names its call.
_LOG_FD = None
COUNTS = {}


def _log(text):
    if _LOG_FD is not None:
        os.write(_LOG_FD, (text + "\n").encode())


def call(fn_name, suffix, *args):
    """Calls snn_<fn_name>[_<suffix>] and returns (status, last error message)."""
    fn = getattr(getattr(nat, suffix), fn_name) if suffix else getattr(nat.lib, "snn_" + fn_name)
    _log("%s_%s %r" % (fn_name, suffix, [a if isinstance(a, (int, float, type(None))) else type(a).__name__
                                          for a in args]))
    COUNTS[fn_name] = COUNTS.get(fn_name, 0) + 1
    status = fn(*args)
    message = nat.lib.snn_last_error().decode(errors="replace")
    if status != OK:
        assert status < 0 and message, "%s returned %d with message %r" % (fn_name, status, message)
    return status, message


def props(scale=1.0):
    return settings(max_examples=max(1, int(EXAMPLES * scale)), deadline=None, derandomize=not RANDOM,
                    database=None, suppress_health_check=list(HealthCheck))


# ---- the per-layer kernels, described once ------------------------------------------------
# Each buffer: (name, role, extent) with role "o" output, "i" input, "io" in-out, "y" labels,
# "loss" a double*; extent a tuple of size names. NULLABLE: outputs the header lets be NULL.

KERNELS = {
    "affine_forward": ([("out", "o", "nm"), ("x", "i", "nd"), ("w", "i", "dm"), ("b", "i", "m")], "ndm", True),
    "affine_backward": ([("dx", "o", "nd"), ("dw", "o", "dm"), ("db", "o", "m"), ("dout", "i", "nm"),
                         ("x", "i", "nd"), ("w", "i", "dm")], "ndm", True),
    "relu_forward": ([("out", "o", "c"), ("x", "i", "c")], "c", False),
    "relu_backward": ([("dx", "o", "c"), ("dout", "i", "c"), ("x", "i", "c")], "c", False),
    "affine_relu_forward": ([("out", "o", "nm"), ("pre", "o", "nm"), ("x", "i", "nd"), ("w", "i", "dm"),
                             ("b", "i", "m")], "ndm", True),
    "affine_relu_backward": ([("dx", "o", "nd"), ("dw", "o", "dm"), ("db", "o", "m"), ("dout", "i", "nm"),
                              ("x", "i", "nd"), ("w", "i", "dm"), ("pre", "i", "nm")], "ndm", True),
    "softmax_loss": ([("loss", "loss", ""), ("dx", "o", "nc"), ("x", "i", "nc"), ("y", "y", "n")], "nc", False),
    "svm_loss": ([("loss", "loss", ""), ("dx", "o", "nc"), ("x", "i", "nc"), ("y", "y", "n")], "nc", False),
    "batchnorm_forward": ([("out", "o", "nd"), ("mean", "o", "d"), ("var", "o", "d"), ("inv_std", "o", "d"),
                           ("running_mean", "io", "d"), ("running_var", "io", "d"), ("x", "i", "nd"),
                           ("gamma", "i", "d"), ("beta", "i", "d")], "nd", False),
    "batchnorm_backward": ([("dx", "o", "nd"), ("dgamma", "o", "d"), ("dbeta", "o", "d"), ("dout", "i", "nd"),
                            ("x", "i", "nd"), ("gamma", "i", "d"), ("mean", "i", "d"), ("inv_std", "i", "d")],
                           "nd", False),
    "layernorm_forward": ([("out", "o", "nd"), ("mean", "o", "n"), ("inv_std", "o", "n"), ("x", "i", "nd"),
                           ("gamma", "i", "d"), ("beta", "i", "d")], "nd", False),
    "layernorm_backward": ([("dx", "o", "nd"), ("dgamma", "o", "d"), ("dbeta", "o", "d"), ("dout", "i", "nd"),
                            ("x", "i", "nd"), ("gamma", "i", "d"), ("mean", "i", "n"), ("inv_std", "i", "n")],
                           "nd", False),
    "dropout_forward": ([("out", "o", "c"), ("mask", "o", "c"), ("x", "i", "c")], "c", False),
    "dropout_forward_masked": ([("out", "o", "c"), ("x", "i", "c"), ("mask", "i", "c")], "c", False),
    "dropout_backward": ([("dx", "o", "c"), ("dout", "i", "c"), ("mask", "i", "c")], "c", False),
}
KERNELS["batchnorm_backward_alt"] = KERNELS["batchnorm_backward"]
NULLABLE = {"affine_backward": {"dx"}, "affine_relu_backward": {"dx"}, "softmax_loss": {"dx"},
            "svm_loss": {"dx"}}
NULLABLE_IN_TEST_MODE = {"mean", "var", "inv_std"}
EPS = 1e-5


def hyper_args(name, hyper):
    """The trailing non-buffer arguments of a kernel."""
    if name == "batchnorm_forward":
        return [hyper["eps"], hyper["momentum"], hyper["mode"]]
    if name == "layernorm_forward":
        return [hyper["eps"]]
    if name == "dropout_forward":
        return [hyper["p"], hyper["seed"]]
    return []


def valid_hyper(name, data):
    hyper = {"eps": data.draw(st.sampled_from([1e-5, 1e-3, 1.0])), "momentum": data.draw(st.sampled_from([0.0, 0.9, 1.0])),
             "mode": data.draw(st.sampled_from([0, 1])), "p": data.draw(st.sampled_from([1.0, 0.5, 0.1])),
             "seed": data.draw(st.integers(0, 2**64 - 1))}
    return hyper


def extent(spec, sizes):
    return int(np.prod([sizes[k] for k in spec])) if spec else 1


def allocate(name, dt, sizes, data):
    """Buffers of exactly the described sizes, inputs filled with grid values."""
    bufs = {}
    for buf, role, spec in KERNELS[name][0]:
        count = extent(spec, sizes)
        if role == "loss":
            bufs[buf] = np.full(1, np.nan)
        elif role == "y":
            c = sizes.get("c", 1)
            bufs[buf] = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=count, max_size=count)),
                                 dtype=np.int64)
        elif role == "o":
            bufs[buf] = np.full(count, np.nan, dt)
        else:
            ints = data.draw(st.lists(st.integers(-64, 64), min_size=count, max_size=count))
            bufs[buf] = (np.array(ints, dtype=np.float64) / 16).astype(dt)
    if "inv_std" in bufs and KERNELS[name][0][-1][0] == "inv_std":
        # backward kernels: the statistics of x, as a forward pass would have written them
        n, d = sizes["n"], sizes["d"]
        x = bufs["x"].astype(np.float64).reshape(n, d)
        axis = 1 if name.startswith("layernorm") else 0
        bufs["mean"] = x.mean(axis=axis).astype(dt)
        bufs["inv_std"] = (1 / np.sqrt(x.var(axis=axis) + EPS)).astype(dt)
    if name == "affine_relu_backward":
        bufs["pre"] = (bufs["x"].astype(np.float64).reshape(sizes["n"], sizes["d"])
                       @ bufs["w"].astype(np.float64).reshape(sizes["d"], sizes["m"])).astype(dt).ravel()
    if name in ("dropout_forward_masked", "dropout_backward"):
        bufs["mask"] = np.where(bufs["mask"] > 0, 2.0, 0.0).astype(dt)
    if name == "batchnorm_forward":
        bufs["running_var"] = np.abs(bufs["running_var"])
    return bufs


def pointers(name, bufs, null=()):
    return [None if buf in null else bufs[buf].ctypes.data for buf, _, _ in KERNELS[name][0]]


def expected(name, dt, b, sizes, hyper):
    """The reference's outputs (float64) for a valid call."""
    f = {k: v.astype(np.float64) for k, v in b.items()}
    n, d, m, c = (sizes.get(k) for k in "ndmc")
    if name == "affine_forward":
        return {"out": ref.affine_forward(f["x"].reshape(n, d), f["w"].reshape(d, m), f["b"])}
    if name == "affine_backward":
        dx, dw, db = ref.affine_backward(f["dout"].reshape(n, m), f["x"].reshape(n, d), f["w"].reshape(d, m))
        return {"dx": dx, "dw": dw, "db": db}
    if name == "relu_forward":
        return {"out": ref.relu_forward(f["x"])}
    if name == "relu_backward":
        return {"dx": ref.relu_backward(f["dout"], f["x"])}
    if name == "affine_relu_forward":
        pre = ref.affine_forward(f["x"].reshape(n, d), f["w"].reshape(d, m), f["b"])
        return {"pre": pre, "out": ref.relu_forward(pre)}
    if name == "affine_relu_backward":
        da = np.where(f["pre"] > 0, f["dout"], 0.0).reshape(n, m)
        dx, dw, db = ref.affine_backward(da, f["x"].reshape(n, d), f["w"].reshape(d, m))
        return {"dx": dx, "dw": dw, "db": db}
    if name in ("softmax_loss", "svm_loss"):
        loss, dx = getattr(ref, name)(f["x"].reshape(n, c), b["y"])
        return {"loss": np.array([loss]), "dx": dx}
    if name == "batchnorm_forward":
        x = f["x"].reshape(n, d)
        if hyper["mode"] == 0:
            out, mu, var, rm, rv = ref.batchnorm_forward_train(x, f["gamma"], f["beta"], hyper["eps"],
                                                               hyper["momentum"], f["running_mean"], f["running_var"])
            return {"out": out, "mean": mu, "var": var, "inv_std": 1 / np.sqrt(var + hyper["eps"]),
                    "running_mean": rm, "running_var": rv}
        out = ref.batchnorm_forward_test(x, f["gamma"], f["beta"], hyper["eps"], f["running_mean"], f["running_var"])
        return {"out": out, "inv_std": 1 / np.sqrt(f["running_var"] + hyper["eps"]),
                "running_mean": f["running_mean"], "running_var": f["running_var"]}
    if name in ("batchnorm_backward", "batchnorm_backward_alt"):
        dx, dg, dbeta = ref.batchnorm_backward(f["dout"].reshape(n, d), f["x"].reshape(n, d), f["gamma"], EPS)
        return {"dx": dx, "dgamma": dg, "dbeta": dbeta}
    if name == "layernorm_forward":
        x = f["x"].reshape(n, d)
        return {"out": ref.layernorm_forward(x, f["gamma"], f["beta"], hyper["eps"]), "mean": x.mean(axis=1),
                "inv_std": 1 / np.sqrt(x.var(axis=1) + hyper["eps"])}
    if name == "layernorm_backward":
        dx, dg, dbeta = ref.layernorm_backward(f["dout"].reshape(n, d), f["x"].reshape(n, d), f["gamma"], EPS)
        return {"dx": dx, "dgamma": dg, "dbeta": dbeta}
    if name == "dropout_forward":
        mask = ref.dropout_mask((c,), hyper["p"], hyper["seed"], dt)
        return {"mask": mask, "out": f["x"] * mask}
    if name == "dropout_forward_masked":
        return {"out": f["x"] * f["mask"]}
    if name == "dropout_backward":
        return {"dx": f["dout"] * f["mask"]}
    raise AssertionError(name)


def assert_close(got, want, dt, what, scale):
    got = np.asarray(got, np.float64).ravel()
    want = np.asarray(want, np.float64).ravel()
    tol = (2e-4 if dt == np.float32 else 1e-10) * scale
    err = float(np.max(np.abs(got - want))) if got.size else 0.0
    assert err <= tol, "%s (%s): error %.3g > %.3g\ngot  %s\nwant %s" % (what, dt, err, tol, got, want)


SMALL = st.integers(1, 5)
SIZE_NAMES = {"ndm": "ndm", "c": "c", "nc": "nc", "nd": "nd"}


@props(3)
@given(st.data(), st.sampled_from(sorted(KERNELS)), st.sampled_from(["f32", "f64"]))
def prop_valid_calls_match_reference(data, name, suffix):
    """Small sizes, buffers of exactly those sizes, NULL in some nullable outputs: SNN_OK and
    the reference's values in every output that was given."""
    dt = DTYPES[suffix]
    bufs_spec, size_names, _ = KERNELS[name]
    sizes = {k: data.draw(SMALL) for k in size_names}
    hyper = valid_hyper(name, data)
    bufs = allocate(name, dt, sizes, data)
    null = {b for b in NULLABLE.get(name, ()) if data.draw(st.booleans())}
    if name == "batchnorm_forward" and hyper["mode"] == 1:
        null = {b for b in NULLABLE_IN_TEST_MODE if data.draw(st.booleans())}
    inputs = {k: v.copy() for k, v in bufs.items()}
    status, message = call(name, suffix, *pointers(name, bufs, null), *[sizes[k] for k in size_names],
                           *hyper_args(name, hyper))
    assert status == OK, "%s %s: %d %s" % (name, sizes, status, message)
    want = expected(name, dt, inputs, sizes, hyper)
    # Normalizations amplify rounding in x - mean by up to 1/sqrt(eps).
    amplify = max(1.0, 1 / math.sqrt(min(EPS, hyper["eps"])) / 8) if name.startswith(("batch", "layer")) else 1.0
    for buf, expect in want.items():
        if buf in null or (name == "batchnorm_forward" and hyper["mode"] == 1 and buf in ("mean", "var")):
            continue
        scale = (1.0 + float(np.max(np.abs(expect)))) * amplify
        assert_close(bufs[buf], expect, dt, "%s %s" % (name, buf), scale)


BAD_SIZES = [0, -1, -2**31, -2**63, 2**31, 2**32 + 1, 2**40, 2**61, 2**62, INT64_MAX]
ANY_SIZES = BAD_SIZES + [1, 2, 3, 2**31 - 1, 2**20, 2**30, 3037000500]   # 3037000500**2 > INT64_MAX


def sizes_invalid(name, sizes):
    bufs_spec, size_names, blas = KERNELS[name]
    if any(sizes[k] < 1 for k in size_names):
        return True
    if blas and any(sizes[k] > BLAS_MAX for k in size_names):
        return True
    return any(extent(spec, sizes) > ADDRESSABLE for _, _, spec in bufs_spec)


@props(3)
@given(st.data(), st.sampled_from(sorted(KERNELS)), st.sampled_from(["f32", "f64"]))
def prop_invalid_sizes_are_refused(data, name, suffix):
    """Sizes that are zero, negative, past the BLAS limit, or whose products overflow int64
    or n*d*8: SNN_E_SIZE (or SNN_E_NULL where a pointer is also NULL), before any buffer is
    touched — the buffers given are tiny, so reading past them would show."""
    bufs_spec, size_names, _ = KERNELS[name]
    sizes = {k: data.draw(st.sampled_from(ANY_SIZES)) for k in size_names}
    assume(sizes_invalid(name, sizes))
    note(repr(sizes))
    tiny = {buf: (np.zeros(1, np.int64) if role == "y" else np.zeros(1, np.float64 if role == "loss" else DTYPES[suffix]))
            for buf, role, _ in bufs_spec}
    null = {buf for buf, _, _ in bufs_spec if data.draw(st.integers(0, 3)) == 0}
    hyper = valid_hyper(name, data)
    status, message = call(name, suffix, *pointers(name, tiny, null), *[sizes[k] for k in size_names],
                           *hyper_args(name, hyper))
    assert status in (E_SIZE, E_NULL), "%s %s: status %d (%s)" % (name, sizes, status, message)


@props(2)
@given(st.data(), st.sampled_from(sorted(KERNELS)), st.sampled_from(["f32", "f64"]))
def prop_null_required_pointers_are_refused(data, name, suffix):
    """NULL in any pointer the header does not allow to be NULL: SNN_E_NULL, a message that
    names it, and in-out buffers unchanged."""
    dt = DTYPES[suffix]
    bufs_spec, size_names, _ = KERNELS[name]
    sizes = {k: data.draw(SMALL) for k in size_names}
    hyper = valid_hyper(name, data)
    allowed = set(NULLABLE.get(name, ()))
    if name == "batchnorm_forward" and hyper["mode"] == 1:
        allowed |= NULLABLE_IN_TEST_MODE
    required = [buf for buf, _, _ in bufs_spec if buf not in allowed]
    null = set(data.draw(st.lists(st.sampled_from(required), min_size=1, unique=True)))
    bufs = allocate(name, dt, sizes, data)
    before = {k: v.copy() for k, v in bufs.items()}
    status, message = call(name, suffix, *pointers(name, bufs, null), *[sizes[k] for k in size_names],
                           *hyper_args(name, hyper))
    assert status == E_NULL, "%s NULL %s: %d %s" % (name, sorted(null), status, message)
    assert any(b in message for b in null), message
    for buf, role, _ in bufs_spec:
        if role in ("i", "io", "y"):
            assert np.array_equal(bufs[buf], before[buf], equal_nan=True), buf


BAD_DOUBLES = [math.nan, math.inf, -math.inf, -1.0, -1e-300, 0.0, 1.0000001, 2.0, 1e308]


@props(2)
@given(st.data(), st.sampled_from(["batchnorm_forward", "layernorm_forward", "dropout_forward"]),
       st.sampled_from(["f32", "f64"]))
def prop_invalid_hyperparameters_are_refused(data, name, suffix):
    """eps <= 0, NaN or Inf; momentum outside [0, 1]; mode neither train nor test; keep
    probability p outside (0, 1] or so small that 1/p overflows: SNN_E_VALUE naming it, and
    the running statistics unchanged."""
    dt = DTYPES[suffix]
    size_names = KERNELS[name][1]
    sizes = {k: data.draw(SMALL) for k in size_names}
    hyper = valid_hyper(name, data)
    key = data.draw(st.sampled_from({"batchnorm_forward": ["eps", "momentum", "mode"], "layernorm_forward": ["eps"],
                                     "dropout_forward": ["p"]}[name]))
    if key == "mode":
        hyper["mode"] = data.draw(st.sampled_from([-1, 2, 7, 2**31 - 1, -2**31]))
    elif key == "eps":
        hyper["eps"] = data.draw(st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, -0.0]))
    elif key == "momentum":
        hyper["mode"] = 0
        hyper["momentum"] = data.draw(st.sampled_from([math.nan, math.inf, -0.1, 1.0000001, 2.0]))
    else:
        tiny = 1e-46 if suffix == "f32" else 5e-324
        hyper["p"] = data.draw(st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.5, 1.0000001, 2.0, tiny]))
    bufs = allocate(name, dt, sizes, data)
    before = {k: v.copy() for k, v in bufs.items()}
    status, message = call(name, suffix, *pointers(name, bufs), *[sizes[k] for k in size_names],
                           *hyper_args(name, hyper))
    assert status == E_VALUE, "%s %s=%r: %d %s" % (name, key, hyper[key], status, message)
    assert key in message, message
    for buf in ("running_mean", "running_var"):
        if buf in bufs:
            assert np.array_equal(bufs[buf], before[buf]), buf


@props(2)
@given(st.data(), st.sampled_from(["softmax_loss", "svm_loss"]), st.sampled_from(["f32", "f64"]),
       st.sampled_from(["label", "nan"]))
def prop_losses_refuse_bad_labels_and_nan(data, name, suffix, bad):
    dt = DTYPES[suffix]
    sizes = {"n": data.draw(SMALL), "c": data.draw(SMALL)}
    bufs = allocate(name, dt, sizes, data)
    i = data.draw(st.integers(0, sizes["n"] - 1))
    if bad == "label":
        bufs["y"][i] = data.draw(st.sampled_from([-1, -2**63, sizes["c"], sizes["c"] + 1, INT64_MAX]))
    else:
        # (An SVM with one class compares no scores: its loss is 0 whatever the score.)
        assume(name == "softmax_loss" or sizes["c"] > 1)
        bufs["x"][i * sizes["c"] + data.draw(st.integers(0, sizes["c"] - 1))] = np.nan
    status, message = call(name, suffix, *pointers(name, bufs), sizes["n"], sizes["c"])
    if bad == "label":
        assert status == E_VALUE and "y[%d]" % i in message, (status, message)
    else:
        assert status == E_NONFINITE, (status, message)


@props(2)
@given(st.data(), st.sampled_from(["f32", "f64"]), st.sampled_from([math.nan, math.inf, -math.inf]))
def prop_batchnorm_refuses_non_finite_x_and_keeps_running_stats(data, suffix, bad):
    dt = DTYPES[suffix]
    sizes = {"n": data.draw(SMALL), "d": data.draw(SMALL)}
    bufs = allocate("batchnorm_forward", dt, sizes, data)
    bufs["x"][data.draw(st.integers(0, bufs["x"].size - 1))] = bad
    before = {k: bufs[k].copy() for k in ("running_mean", "running_var")}
    status, message = call("batchnorm_forward", suffix, *pointers("batchnorm_forward", bufs), sizes["n"], sizes["d"],
                           1e-5, 0.9, 0)
    assert status == E_NONFINITE, (status, message)
    for k, v in before.items():
        assert np.array_equal(bufs[k], v)


# ---- update rules ---------------------------------------------------------------------------

RULE_STATES = {0: 0, 1: 1, 2: 1, 3: 1, 4: 2, 5: 1}


def update_config(lr=1e-2, momentum=0.9, decay=0.99, beta1=0.9, beta2=0.999, eps=1e-8, t=1):
    return UpdateConfig(lr, momentum, decay, beta1, beta2, eps, t)


@st.composite
def configs(draw, valid):
    values = {"lr": draw(st.sampled_from([0.0, 1e-3, 0.5])), "momentum": draw(st.sampled_from([0.0, 0.9, 1.0])),
              "decay": draw(st.sampled_from([0.0, 0.99, 1.0])), "beta1": draw(st.sampled_from([0.0, 0.9])),
              "beta2": draw(st.sampled_from([0.0, 0.999])), "eps": draw(st.sampled_from([1e-8, 1.0])),
              "t": draw(st.integers(1, 10**6))}
    bad = None
    if not valid:
        bad = draw(st.sampled_from(sorted(values)))
        values[bad] = draw(st.sampled_from([-1, 0, -2**63]) if bad == "t" else st.sampled_from(BAD_DOUBLES))
    return values, bad


def config_is_valid(rule, v, dt):
    def unit(x):
        return math.isfinite(x) and 0 <= x <= 1
    with np.errstate(over="ignore"):
        representable = bool(np.isfinite(dt.type(v["lr"])))
    if not (math.isfinite(v["lr"]) and v["lr"] >= 0 and representable):
        return False
    if not (unit(v["momentum"]) and unit(v["decay"]) and unit(v["beta1"]) and unit(v["beta2"])):
        return False
    if not (math.isfinite(v["eps"]) and v["eps"] >= 0):
        return False
    if rule in (3, 4, 5) and not dt.type(v["eps"]) > 0:
        return False
    if rule == 4 and (v["t"] < 1 or v["beta1"] >= 1 or v["beta2"] >= 1):
        return False
    return True


def reference_update(rule, w, dw, s1, s2, v):
    if rule == 0:
        return ref.sgd_step(w, dw, v["lr"])[0], s1, s2
    if rule == 1:
        nw, st_ = ref.momentum_step(w, dw, v["lr"], v["momentum"], s1)
        return nw, st_["velocity"], s2
    if rule == 2:
        nw, st_ = ref.nesterov_step(w, dw, v["lr"], v["momentum"], s1)
        return nw, st_["velocity"], s2
    if rule == 3:
        nw, st_ = ref.rmsprop_step(w, dw, v["lr"], v["decay"], v["eps"], s1)
        return nw, st_["cache"], s2
    if rule == 4:
        nw, st_ = ref.adam_step(w, dw, v["lr"], v["beta1"], v["beta2"], v["eps"], s1, s2, v["t"] - 1)
        return nw, st_["m"], st_["v"]
    nw, st_ = ref.adagrad_step(w, dw, v["lr"], v["eps"], s1)
    return nw, st_["cache"], s2


@props(3)
@given(st.data(), st.integers(-3, 8), st.sampled_from(["f32", "f64"]), st.booleans(),
       st.sampled_from(["ok", "null", "count"]))
def prop_update(data, rule, suffix, valid, what):
    """snn_update_*: any rule number, configuration, NULL state and count. Accepted exactly
    when valid, then equal to the reference step; refused calls leave w and state as they were."""
    dt = DTYPES[suffix]
    count = data.draw(st.integers(1, 20))
    v, bad = data.draw(configs(valid))
    w = (np.array(data.draw(st.lists(st.integers(-64, 64), min_size=count, max_size=count))) / 16).astype(dt)
    dw = np.zeros(count, dt) if data.draw(st.booleans()) else \
        (np.array(data.draw(st.lists(st.integers(-64, 64), min_size=count, max_size=count))) / 16).astype(dt)
    s1 = np.abs(w[::-1]).copy() / 4
    s2 = np.abs(dw).copy()
    given_count = count
    nulls = set()
    if what == "null":
        nulls = set(data.draw(st.lists(st.sampled_from(["w", "s1", "s2", "dw", "config"]), min_size=1, unique=True)))
    if what == "count":
        given_count = data.draw(st.sampled_from([0, -1, -2**63, ADDRESSABLE + 1, 2**62, INT64_MAX]))
    before = [a.copy() for a in (w, s1, s2)]
    config = update_config(v["lr"], v["momentum"], v["decay"], v["beta1"], v["beta2"], v["eps"], v["t"])
    args = {"w": w.ctypes.data, "s1": s1.ctypes.data, "s2": s2.ctypes.data, "dw": dw.ctypes.data,
            "config": ctypes.addressof(config)}
    for k in nulls:
        args[k] = None
    status, message = call("update", suffix, rule, args["w"], args["s1"], args["s2"], args["dw"], given_count,
                           args["config"])
    states = RULE_STATES.get(rule)
    required = {"w", "dw", "config"} | ({"s1"} if (states or 0) >= 1 else set()) | ({"s2"} if states == 2 else set())
    accepted = (states is not None and given_count == count and not (nulls & required)
                and config_is_valid(rule, v, dt))
    if not accepted:
        assert status < 0, "accepted: rule %d %r count %d nulls %s" % (rule, v, given_count, nulls)
        for a, b in zip((w, s1, s2), before):
            assert np.array_equal(a, b)
        return
    assert status == OK, (rule, v, status, message)
    nw, n1, n2 = reference_update(rule, before[0].astype(float), dw.astype(float), before[1].astype(float),
                                  before[2].astype(float), v)
    assert np.all(np.isfinite(w))
    assert_close(w, nw, dt, "w", 1 + float(np.max(np.abs(nw))))
    if states >= 1:
        assert_close(s1, n1, dt, "s1", 1 + float(np.max(np.abs(n1))))
    if states == 2:
        assert_close(s2, n2, dt, "s2", 1 + float(np.max(np.abs(n2))))


@props(2)
@given(st.data(), st.sampled_from(["f32", "f64"]), st.integers(0, 5))
def prop_update_many(data, suffix, rule):
    """snn_update_many_*: tables with NULL entries, bad sizes and counts are refused without
    touching any buffer; valid calls equal one update per buffer."""
    dt = DTYPES[suffix]
    k = data.draw(st.integers(1, 4))
    sizes = [data.draw(st.integers(1, 6)) for _ in range(k)]
    ws = [np.arange(s, dtype=dt) / 8 for s in sizes]
    dws = [np.ones(s, dt) / 4 for s in sizes]
    s1s = [np.zeros(s, dt) for s in sizes]
    s2s = [np.zeros(s, dt) for s in sizes]
    table = lambda arrays: (ctypes.c_void_p * k)(*[a.ctypes.data for a in arrays])
    tables = {"w": table(ws), "dw": table(dws), "s1": table(s1s), "s2": table(s2s)}
    sizes_arr = (ctypes.c_int64 * k)(*sizes)
    given_count = k
    fault = data.draw(st.sampled_from(["none", "null_entry", "null_table", "size", "count"]))
    if fault == "null_entry":
        name = data.draw(st.sampled_from(["w", "dw"] + (["s1"] if RULE_STATES[rule] >= 1 else [])
                                         + (["s2"] if RULE_STATES[rule] == 2 else [])))
        tables[name][data.draw(st.integers(0, k - 1))] = None
    elif fault == "null_table":
        tables[data.draw(st.sampled_from(["w", "dw"]))] = None
    elif fault == "size":
        sizes_arr[data.draw(st.integers(0, k - 1))] = data.draw(st.sampled_from([0, -1, -2**63, ADDRESSABLE + 1, INT64_MAX]))
    elif fault == "count":
        given_count = data.draw(st.sampled_from([0, -1, -2**63]))
    before = [a.copy() for a in ws + s1s + s2s]
    config = update_config(eps=1e-6)
    status, message = call("update_many", suffix, rule, given_count, tables["w"], tables["s1"], tables["s2"],
                           tables["dw"], sizes_arr, ctypes.addressof(config))
    if fault != "none":
        assert status in (E_NULL, E_SIZE), (fault, status, message)
        assert all(np.array_equal(a, b) for a, b in zip(ws + s1s + s2s, before))
        return
    assert status == OK, message
    v = {"lr": 1e-2, "momentum": 0.9, "decay": 0.99, "beta1": 0.9, "beta2": 0.999, "eps": 1e-6, "t": 1}
    for i in range(k):
        nw, _, _ = reference_update(rule, before[i].astype(float), dws[i].astype(float), np.zeros(sizes[i]),
                                    np.zeros(sizes[i]), v)
        assert_close(ws[i], nw, dt, "w%d" % i, 2.0)


# ---- network plans --------------------------------------------------------------------------

DIM_VALUES = [1, 2, 3, 5, 0, -1, -2**63, 2**31 - 1, 2**31, 2**40, 3037000500, INT64_MAX]


def dims_valid(dims):
    if len(dims) < 2 or any(not 1 <= v <= 2**31 - 1 for v in dims):
        return False
    total = 0
    for a, b in zip(dims, dims[1:]):
        total += a * b
        if total > INT64_MAX // 32 - 2 * b:
            return False
        total += 2 * b
    return True


@props(3)
@given(st.data(), st.sampled_from(["f32", "f64"]), st.sampled_from(["net", "trainer"]))
def prop_create_accepts_exactly_the_valid_networks(data, suffix, kind):
    """snn_net_create_* / snn_trainer_create_* with any dims (0, negative, past int32,
    products past int64), num_dims, normalization, activation, keep and leak: a handle
    exactly when the network is valid (for trainers: and small enough to allocate)."""
    dims = data.draw(st.lists(st.sampled_from(DIM_VALUES), min_size=0, max_size=5))
    num_dims = len(dims)
    if data.draw(st.integers(0, 5)) == 0:
        num_dims = data.draw(st.sampled_from([0, 1, -1, -2**63, 2**20 + 1, INT64_MAX]))
        assume(num_dims <= len(dims) or num_dims < 2 or num_dims > 2**20)
    norm = data.draw(st.sampled_from([0, 1, 2, 3, -1, 2**31 - 1]))
    act = data.draw(st.sampled_from([0, 1, 2, -1]))
    keep = data.draw(st.sampled_from([1.0, 0.5, 1e-300, 0.0, -0.5, 1.5, math.nan, math.inf]))
    leak = data.draw(st.sampled_from([0.01, 0.0, 0.999, 1.0, -0.1, math.nan, math.inf]))
    arr = (ctypes.c_int64 * max(1, len(dims)))(*dims)
    dims = dims[:num_dims] if 2 <= num_dims <= len(dims) else dims
    valid = (2 <= num_dims <= 2**20 and num_dims <= len(arr) and dims_valid(dims) and norm in (0, 1, 2)
             and act in (0, 1) and 0 < keep <= 1 and 0 <= leak < 1)
    handle = ctypes.c_void_p()
    if kind == "net":
        status, message = call("net_create", suffix, ctypes.byref(handle), arr, num_dims, norm, keep, act, leak)
        assert (status == OK) == valid, (dims, num_dims, norm, act, keep, leak, status, message)
        if status == OK:
            assert handle.value
            assert call("net_destroy", None, handle)[0] == OK
        else:
            assert not handle.value
        return
    # A trainer reads params (and running) at creation: give buffers of the right size, which
    # only exists for small valid networks; invalid ones get a tiny buffer and must not read it.
    small_valid = valid and all(v <= 5 for v in dims)
    assume(small_valid or not valid)
    count = sum(a * b + b for a, b in zip(dims, dims[1:])) + sum(2 * h for h in dims[1:-1]) if small_valid else 1
    params = np.zeros(count, DTYPES[suffix])
    running = np.zeros(max(1, 2 * sum(dims[1:-1])) if small_valid else 1, DTYPES[suffix])
    extra = [None] * (len(nat._SIGNATURES["trainer_create"]) - 9)
    status, message = call("trainer_create", suffix, ctypes.byref(handle), arr, num_dims, norm, keep, act, leak,
                           params.ctypes.data, running.ctypes.data, *extra)
    assert (status == OK) == valid, (dims, num_dims, norm, act, keep, leak, status, message)
    if status == OK:
        assert call("trainer_destroy", None, handle)[0] == OK


def _net(suffix, dims, norm=0, keep=1.0):
    handle = ctypes.c_void_p()
    arr = (ctypes.c_int64 * len(dims))(*dims)
    status, message = call("net_create", suffix, ctypes.byref(handle), arr, len(dims), norm, keep, 0, 0.01)
    assert status == OK, message
    return handle


def _trainer(suffix, dims, norm=0):
    handle = ctypes.c_void_p()
    arr = (ctypes.c_int64 * len(dims))(*dims)
    count = sum(a * b + b for a, b in zip(dims, dims[1:])) + (sum(2 * h for h in dims[1:-1]) if norm else 0)
    params = np.zeros(count, DTYPES[suffix])
    running = np.zeros(max(1, 2 * sum(dims[1:-1])), DTYPES[suffix])
    extra = [None] * (len(nat._SIGNATURES["trainer_create"]) - 9)
    status, message = call("trainer_create", suffix, ctypes.byref(handle), arr, len(dims), norm, 1.0, 0, 0.01,
                           params.ctypes.data, running.ctypes.data, *extra)
    assert status == OK, message
    return handle, params, running


@props(3)
@given(st.data(), st.sampled_from(["f32", "f64"]), st.sampled_from([0, 1, 2]), st.sampled_from([1.0, 0.5]),
       st.sampled_from(["valid", "n", "d", "null_param", "null_grad", "null_running", "labels", "eps",
                        "momentum", "reg", "nan", "no_scores", "null_x"]))
def prop_net_loss(data, suffix, norm, keep, fault):
    """snn_net_loss_* on a small plan: valid calls equal the reference network; every fault
    is refused with its code, and running statistics stay as they were."""
    dt = DTYPES[suffix]
    dims = [data.draw(st.integers(1, 4)) for _ in range(data.draw(st.integers(2, 4)))]
    L = len(dims) - 1
    H = L - 1
    plan = _net(suffix, dims, norm, keep)
    try:
        names = []
        for l in range(1, L + 1):
            names += ["W%d" % l, "b%d" % l]
        shapes = []
        for l in range(L):
            shapes += [(dims[l], dims[l + 1]), (dims[l + 1],)]
        if norm:
            for l in range(H):
                names += ["gamma%d" % (l + 1), "beta%d" % (l + 1)]
                shapes += [(dims[l + 1],), (dims[l + 1],)]
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32)))
        params = [(rng.integers(-16, 17, s) / 16).astype(dt) for s in shapes]
        grads = [np.full(s, np.nan, dt) for s in shapes]
        running = []
        for l in range(H):
            running += [rng.integers(-4, 5, dims[l + 1]).astype(dt) / 4, rng.integers(0, 5, dims[l + 1]).astype(dt) / 4]
        n = data.draw(st.integers(1, 5))
        x = (rng.integers(-32, 33, (n, dims[0])) / 16).astype(dt)
        y = rng.integers(0, dims[-1], n).astype(np.int64)
        eps = (ctypes.c_double * max(H, 1))(*([1e-5] * max(H, 1)))
        mom = (ctypes.c_double * max(H, 1))(*([0.9] * max(H, 1)))
        ptab = (ctypes.c_void_p * len(params))(*[p.ctypes.data for p in params])
        gtab = (ctypes.c_void_p * len(grads))(*[g.ctypes.data for g in grads])
        rtab = (ctypes.c_void_p * max(1, len(running)))(*[r.ctypes.data for r in running])
        given_n, given_d, reg, seed = n, dims[0], 0.05, data.draw(st.integers(0, 2**64 - 1))
        xp, yp, loss = x.ctypes.data, y.ctypes.data, ctypes.c_double(np.nan)
        scores_p, rtab_p = None, rtab if norm == 1 else None
        expect = OK
        if fault == "n":
            given_n, expect = data.draw(st.sampled_from([0, -1, -2**63, 2**31, INT64_MAX])), E_SIZE
        elif fault == "d":
            given_d = data.draw(st.sampled_from([0, -1, dims[0] + 1, INT64_MAX]))
            expect = E_SHAPE
        elif fault == "null_param":
            ptab[data.draw(st.integers(0, len(params) - 1))] = None
            expect = E_NULL
        elif fault == "null_grad":
            gtab[data.draw(st.integers(0, len(grads) - 1))] = None
            expect = E_NULL
        elif fault == "null_running":
            if norm != 1 or H == 0:
                rtab_p, expect = None, (E_NULL if norm == 1 else OK)
            else:
                rtab[data.draw(st.integers(0, 2 * H - 1))] = None
                expect = E_NULL
        elif fault == "labels":
            y[data.draw(st.integers(0, n - 1))] = data.draw(st.sampled_from([-1, dims[-1], INT64_MAX, -2**63]))
            expect = E_VALUE
        elif fault == "eps" and norm and H:
            eps[data.draw(st.integers(0, H - 1))] = data.draw(st.sampled_from([0.0, -1.0, math.nan, math.inf]))
            expect = E_VALUE
        elif fault == "momentum" and norm and H:
            mom[data.draw(st.integers(0, H - 1))] = data.draw(st.sampled_from([-0.1, 1.5, math.nan]))
            expect = E_VALUE
        elif fault == "reg":
            reg, expect = data.draw(st.sampled_from([-1.0, math.nan, math.inf])), E_VALUE
        elif fault == "nan":
            x[data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, dims[0] - 1))] = data.draw(
                st.sampled_from([np.nan, np.inf, -np.inf]))
            expect = None   # NONFINITE, or a finite loss when the Inf is cut off by a ReLU
        elif fault == "no_scores":
            yp, expect = None, E_NULL      # test mode needs somewhere to put the scores
        elif fault == "null_x":
            xp, expect = None, E_NULL
        before = [r.copy() for r in running]
        status, message = call("net_loss", suffix, plan, ctypes.byref(loss), scores_p, gtab, rtab_p, ptab, xp, yp,
                               given_n, given_d, reg, eps if norm else None, mom if norm else None, seed)
        if expect is None:
            assert status in (OK, E_NONFINITE), (status, message)
            if status == OK:
                return
        else:
            assert status == expect, "%s: expected %d, got %d (%s)" % (fault, expect, status, message)
        if status != OK:
            for a, b in zip(running, before):
                assert np.array_equal(a, b), "running statistics changed by a refused call"
            return
        pdict = {k: p for k, p in zip(names, params)}
        bn = [{"running_mean": before[2 * l], "running_var": before[2 * l + 1]} for l in range(H)] if norm == 1 else None
        rloss, rgrads, rrun = ref.fc_net(pdict, x, y, num_layers=L, normalization={0: None, 1: "batchnorm", 2: "layernorm"}[norm],
                                         keep=keep, seed=seed, reg=reg, bn_params=bn, mask_dtype=dt)
        amplify = 100.0 if norm else 10.0
        assert_close([loss.value], [rloss], dt, "loss", amplify * (1 + abs(rloss)))
        for k, g in zip(names, grads):
            assert_close(g, rgrads[k], dt, "d" + k, amplify * (1 + float(np.max(np.abs(rgrads[k])))))
        if norm == 1:
            for l in range(H):
                assert_close(running[2 * l], rrun[l][0], dt, "running_mean", 10.0)
                assert_close(running[2 * l + 1], rrun[l][1], dt, "running_var", 10.0)
    finally:
        assert call("net_destroy", None, plan)[0] == OK


# ---- handles --------------------------------------------------------------------------------

def _handle_args(fn_name):
    """Arguments after the handle for a handle-taking function: sizes 1, outputs to scratch."""
    sig = nat._GENERIC.get(fn_name) or nat._SIGNATURES[fn_name]
    scratch = np.zeros(64)
    out = []
    for t in sig[1:]:
        if t is nat._P:
            out.append(scratch.ctypes.data)
        elif t is nat._I:
            out.append(1)
        elif t is nat._D:
            out.append(0.5)
        elif t is nat._M:
            out.append(0)
        else:
            out.append(1)
    return out, scratch


HANDLE_FUNCTIONS = sorted(n for n in nat._GENERIC if n not in ("net_destroy", "trainer_destroy")) + \
    ["net_loss", "trainer_set_data"]


@props(3)
@given(st.data(), st.sampled_from(HANDLE_FUNCTIONS + ["net_destroy", "trainer_destroy"]),
       st.sampled_from(["null", "foreign", "destroyed_net", "destroyed_trainer", "live_net_f32", "live_net_f64",
                        "live_trainer_f32", "live_trainer_f64"]), st.sampled_from(["f32", "f64"]))
def prop_bad_handles_are_refused(data, fn_name, which, suffix):
    """Every function that takes a handle, given NULL, a foreign address, a destroyed handle,
    a handle of the other kind or of the other precision: SNN_E_HANDLE (destroy: OK on NULL).
    A live handle of the right kind and precision gets past the handle check."""
    handle = None
    cleanup = None
    if which == "foreign":
        handle = data.draw(st.sampled_from([1, 8, 0xDEADBEEF, 2**47, 2**64 - 8]))
    elif which.startswith("destroyed"):
        kind = which.split("_")[1]
        h = _net(suffix, [2, 2]) if kind == "net" else _trainer(suffix, [2, 2])[0]
        assert call(kind + "_destroy", None, h)[0] == OK
        handle = h.value
    elif which.startswith("live"):
        _, kind, prec = which.split("_")
        keep = _net(prec, [2, 2]) if kind == "net" else _trainer(prec, [2, 2])
        h = keep if kind == "net" else keep[0]
        cleanup = (kind + "_destroy", h)
        handle = h.value
    args, scratch = _handle_args(fn_name)
    suffixed = fn_name in nat._SIGNATURES
    try:
        status, message = call(fn_name, suffix if suffixed else None, handle, *args)
        if which == "null":
            assert status == (OK if fn_name.endswith("destroy") else E_HANDLE), (fn_name, status, message)
        elif which.startswith("live"):
            _, kind, prec = which.split("_")
            usable = fn_name.startswith(kind) and (not suffixed or prec == suffix)
            if usable:
                assert status != E_HANDLE, (fn_name, which, suffix, message)
                if fn_name.endswith("destroy"):
                    assert status == OK
                    cleanup = None
            else:
                assert status == E_HANDLE, (fn_name, which, suffix, status, message)
        else:
            assert status == E_HANDLE, (fn_name, which, status, message)
    finally:
        if cleanup:
            assert call(cleanup[0], None, cleanup[1])[0] == OK


def prop_double_destroy_is_refused():
    for suffix in ("f32", "f64"):
        h = _net(suffix, [3, 2])
        assert call("net_destroy", None, h)[0] == OK
        assert call("net_destroy", None, h)[0] == E_HANDLE
        t = _trainer(suffix, [3, 2])[0]
        assert call("trainer_destroy", None, t)[0] == OK
        assert call("trainer_destroy", None, t)[0] == E_HANDLE


@props(2)
@given(st.data(), st.sampled_from(["f32", "f64"]),
       st.sampled_from(["no_data", "steps", "null_losses", "n_train", "n_val", "d", "batch", "samples", "labels",
                        "null_x", "schedule", "optimizer", "valid"]))
def prop_trainer_misuse_is_refused(data, suffix, fault):
    """The native trainer driven wrongly through the C ABI: running or evaluating before data,
    bad step counts, sizes, labels, schedules and optimizer settings are refused with a code;
    a valid sequence trains (finite losses)."""
    dt = DTYPES[suffix]
    dims = [3, 4, 2]
    t, params, running = _trainer(suffix, dims)
    params[:] = np.linspace(-0.5, 0.5, params.size)
    try:
        n_train, n_val, d, batch, samples = 8, 4, 3, 4, 8
        x = np.linspace(-1, 1, n_train * d).astype(dt)
        y = (np.arange(n_train) % 2).astype(np.int64)
        xv, yv = x[: n_val * d].copy(), y[:n_val].copy()
        losses = np.zeros(16)
        done, ended = ctypes.c_int64(), ctypes.c_int32()
        config = update_config(lr=0.1, eps=1e-8)
        assert call("trainer_set_optimizer", None, t, 4, ctypes.addressof(config), 0.0)[0] == OK
        if fault == "no_data":
            st1, _ = call("trainer_run", None, t, 1, losses.ctypes.data, ctypes.byref(done), ctypes.byref(ended))
            st2, _ = call("trainer_evaluate", None, t, None, None, None, None)
            assert st1 == E_VALUE and st2 == E_VALUE
            return
        xp, yp = x.ctypes.data, y.ctypes.data
        expect = OK
        if fault == "n_train":
            n_train, expect = data.draw(st.sampled_from([0, -1, -2**63])), E_SIZE
        elif fault == "n_val":
            n_val, expect = data.draw(st.sampled_from([0, -5])), E_SIZE
        elif fault == "d":
            d = data.draw(st.sampled_from([0, -1, 2, 4, 2**31, INT64_MAX]))
            expect = E_SHAPE if 1 <= d <= BLAS_MAX else E_SIZE
        elif fault == "batch":
            batch, expect = data.draw(st.sampled_from([0, -1, 2**31])), E_SIZE
        elif fault == "samples":
            samples, expect = data.draw(st.sampled_from([0, -1])), E_SIZE
        elif fault == "labels":
            y[data.draw(st.integers(0, n_train - 1))] = data.draw(st.sampled_from([-1, 2, INT64_MAX]))
            expect = E_VALUE
        elif fault == "null_x":
            xp, expect = None, E_NULL
        status, message = call("trainer_set_data", suffix, t, xp, yp, n_train, xv.ctypes.data, yv.ctypes.data, n_val,
                               d, batch, samples, 7)
        assert status == expect, (fault, expect, status, message)
        if expect != OK:
            st1, _ = call("trainer_run", None, t, 1, losses.ctypes.data, ctypes.byref(done), ctypes.byref(ended))
            assert st1 == E_VALUE    # still no data
            return
        if fault == "steps":
            st1, _ = call("trainer_run", None, t, data.draw(st.sampled_from([0, -1, -2**63])), losses.ctypes.data,
                          ctypes.byref(done), ctypes.byref(ended))
            assert st1 == E_SIZE
        elif fault == "null_losses":
            st1, _ = call("trainer_run", None, t, 2, None, ctypes.byref(done), ctypes.byref(ended))
            assert st1 == E_NULL
        elif fault == "schedule":
            kind = data.draw(st.sampled_from([0, 1, 2, -1]))
            decay = data.draw(st.sampled_from([1.0, -1.0, math.nan, math.inf]))
            warm = data.draw(st.sampled_from([0, -1]))
            total = data.draw(st.sampled_from([10, -1]))
            patience = data.draw(st.sampled_from([0, 3, -1]))
            st1, _ = call("trainer_set_schedule", None, t, kind, decay, warm, total, patience)
            valid = kind in (0, 1) and math.isfinite(decay) and decay >= 0 and warm >= 0 and total >= 0 and patience >= 0
            assert (st1 == OK) == valid and (valid or st1 == E_VALUE)
        elif fault == "optimizer":
            rule = data.draw(st.integers(-1, 6))
            v, bad = data.draw(configs(False))
            cfg = update_config(v["lr"], v["momentum"], v["decay"], v["beta1"], v["beta2"], v["eps"], v["t"])
            st1, _ = call("trainer_set_optimizer", None, t, rule, ctypes.addressof(cfg), 0.0)
            assert st1 == (OK if rule in RULE_STATES and config_is_valid(rule, v, dt) else E_VALUE)
        else:
            st1, message = call("trainer_run", None, t, 4, losses.ctypes.data, ctypes.byref(done), ctypes.byref(ended))
            assert st1 == OK, message
            assert done.value >= 1 and np.all(np.isfinite(losses[: done.value]))
            acc = ctypes.c_double(-1)
            assert call("trainer_evaluate", None, t, ctypes.byref(acc), None, None, None)[0] == OK
            assert 0 <= acc.value <= 1
            assert call("trainer_restore_best", None, t)[0] == OK
    finally:
        assert call("trainer_destroy", None, t)[0] == OK


PROPERTIES = [
    prop_valid_calls_match_reference, prop_invalid_sizes_are_refused, prop_null_required_pointers_are_refused,
    prop_invalid_hyperparameters_are_refused, prop_losses_refuse_bad_labels_and_nan,
    prop_batchnorm_refuses_non_finite_x_and_keeps_running_stats, prop_update, prop_update_many,
    prop_create_accepts_exactly_the_valid_networks, prop_net_loss, prop_bad_handles_are_refused,
    prop_double_destroy_is_refused, prop_trainer_misuse_is_refused,
]


def run_all(log_path):
    """Runs every property in this process (the child), logging each call before it is made."""
    global _LOG_FD
    _LOG_FD = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    failures = []
    for prop in PROPERTIES:
        _log("PROPERTY %s" % prop.__name__)
        try:
            prop()
        except Exception as e:    # report every failing property, not just the first
            import traceback
            failures.append("%s:\n%s" % (prop.__name__, "".join(traceback.format_exception(e))[-4000:]))
    print("COUNTS", json.dumps(COUNTS), flush=True)
    for f in failures:
        print("FAILED", f, flush=True)
    return not failures


def test_raw_entry_points_under_crafted_arguments():
    log = HERE / ".abi_calls.log"
    script = ("import sys\nsys.path[:0] = [%r, %r]\nimport test_properties_abi as t\n"
              "sys.exit(0 if t.run_all(%r) else 1)\n" % (str(HERE), str(HERE.parent), str(log)))
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                              cwd=str(HERE))
        calls = log.read_text().splitlines() if log.exists() else []
    finally:
        log.unlink(missing_ok=True)
    last = (calls or ["<nothing>"])[-1]
    prop = next((c for c in reversed(calls) if c.startswith("PROPERTY")), "<none>")
    if proc.returncode < 0:
        pytest.fail("child killed by %s in %s during %s\n%s" % (signal.Signals(-proc.returncode).name, prop, last,
                                                               proc.stderr[-3000:]))
    counts = [line for line in proc.stdout.splitlines() if line.startswith("COUNTS")]
    failed = proc.stdout[proc.stdout.find("FAILED"):] if "FAILED" in proc.stdout else ""
    assert proc.returncode == 0, "exit %d\n%s\n%s" % (proc.returncode, failed[-8000:], proc.stderr[-3000:])
    total = sum(json.loads(counts[-1][len("COUNTS "):]).values())
    print("%d raw calls: %s" % (total, counts[-1]))
    assert total >= EXAMPLES * 10
