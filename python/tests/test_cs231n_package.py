"""The cs231n drop-in package: module paths and names of CS231N_API.md, the layer_utils
helpers, the course utilities (gradient_check, data_utils, vis_utils).

The checks of names that come from swiftnn.models and swiftnn.optim run only when those
modules import (they are written separately); everything else runs regardless.
"""
import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import swiftnn.layers
import swiftnn.solver

LAYER_NAMES = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss",
    "svm_loss", "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "layernorm_forward", "layernorm_backward", "dropout_forward", "dropout_backward",
]
LAYER_UTILS_NAMES = [
    "affine_relu_forward", "affine_relu_backward", "affine_bn_relu_forward",
    "affine_bn_relu_backward", "affine_ln_relu_forward", "affine_ln_relu_backward",
]
OPTIM_NAMES = ["sgd", "sgd_momentum", "rmsprop", "adam", "adagrad"]
PYTHON_DIR = Path(__file__).resolve().parents[1]


def _require(module_name):
    """Skip (only) when a module written separately does not exist yet."""
    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        if getattr(err, "name", None) == module_name:
            pytest.skip("%s is not written yet" % module_name)
        raise


# ---------------------------------------------------------------------------------------
# modules and names

def test_layers_exposes_the_course_names_from_swiftnn():
    from cs231n import layers
    for name in LAYER_NAMES:
        assert getattr(layers, name) is getattr(swiftnn.layers, name), name


def test_layer_utils_star_imports_layers_and_adds_helpers():
    from cs231n import layer_utils
    namespace = {}
    exec("from cs231n.layer_utils import *", namespace)
    for name in LAYER_NAMES + LAYER_UTILS_NAMES:
        assert name in namespace, name
    assert layer_utils.affine_relu_forward is swiftnn.layers.affine_relu_forward


def test_solver_module():
    from cs231n import solver
    assert solver.Solver is swiftnn.solver.Solver
    assert solver.DivergenceError is swiftnn.solver.DivergenceError


def test_utility_modules_expose_their_names():
    from cs231n import data_utils, gradient_check, vis_utils
    for name in ["eval_numerical_gradient", "eval_numerical_gradient_array",
                 "eval_numerical_gradient_blobs", "grad_check_sparse"]:
        assert callable(getattr(gradient_check, name)), name
    for name in ["load_pickle", "load_CIFAR_batch", "load_CIFAR10", "get_CIFAR10_data"]:
        assert callable(getattr(data_utils, name)), name
    assert callable(vis_utils.visualize_grid)


def test_optim_module_when_swiftnn_optim_exists():
    optim = _require("swiftnn.optim")
    from cs231n import optim as course_optim
    for name in OPTIM_NAMES:
        assert getattr(course_optim, name) is getattr(optim, name), name


def test_classifier_modules_when_swiftnn_models_exists():
    models = _require("swiftnn.models")
    from cs231n.classifiers import fc_net, neural_net
    assert fc_net.FullyConnectedNet is models.FullyConnectedNet
    assert fc_net.TwoLayerNet is models.TwoLayerNet
    assert neural_net.TwoLayerNet is models.NeuralNetTwoLayerNet
    # the BatchNormalization and Dropout notebooks call layers after this star import
    namespace = {}
    exec("from cs231n.classifiers.fc_net import *", namespace)
    for name in LAYER_NAMES + LAYER_UTILS_NAMES + ["FullyConnectedNet", "TwoLayerNet", "np"]:
        assert name in namespace, name


def test_importing_needs_only_numpy():
    # a fresh interpreter: no matplotlib, imageio, scipy, tqdm, past or future pulled in
    modules = ["cs231n", "cs231n.classifiers", "cs231n.layers", "cs231n.layer_utils",
               "cs231n.solver", "cs231n.gradient_check", "cs231n.data_utils", "cs231n.vis_utils"]
    code = (
        "import sys\n"
        "sys.path.insert(0, %r)\n"
        "for m in %r:\n"
        "    __import__(m)\n"
        "for m in ('cs231n.optim', 'cs231n.classifiers.fc_net', 'cs231n.classifiers.neural_net'):\n"
        "    try:\n"
        "        __import__(m)\n"
        "    except ImportError as e:\n"
        "        if e.name not in ('swiftnn.optim', 'swiftnn.models'):\n"
        "            raise\n"
        "bad = sorted(m for m in ('matplotlib', 'imageio', 'scipy', 'tqdm', 'past', 'future', 'six')\n"
        "             if m in sys.modules)\n"
        "print(','.join(bad))\n" % (str(PYTHON_DIR), modules))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


# ---------------------------------------------------------------------------------------
# layer_utils helpers against the swiftnn calls they chain, and numeric gradients

def _norm_case(seed=0):
    r = np.random.RandomState(seed)
    x = r.randn(6, 3, 2)
    w = r.randn(6, 5)
    b = r.randn(5)
    gamma = 1.0 + 0.1 * r.randn(5)
    beta = 0.1 * r.randn(5)
    dout = r.randn(6, 5)
    return x, w, b, gamma, beta, dout


@pytest.mark.parametrize("norm", ["bn", "ln"])
def test_affine_norm_relu_matches_the_chain_and_numeric_gradients(norm):
    from cs231n import layer_utils as lu
    from cs231n.gradient_check import eval_numerical_gradient_array

    forward = getattr(lu, "affine_%s_relu_forward" % norm)
    backward = getattr(lu, "affine_%s_relu_backward" % norm)
    norm_forward = swiftnn.layers.batchnorm_forward if norm == "bn" else swiftnn.layers.layernorm_forward
    x, w, b, gamma, beta, dout = _norm_case()

    out, cache = forward(x, w, b, gamma, beta, {"mode": "train"})
    a, _ = swiftnn.layers.affine_forward(x, w, b)
    an, _ = norm_forward(a, gamma, beta, {"mode": "train"})
    expected, _ = swiftnn.layers.relu_forward(an)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert len(cache) == 3

    dx, dw, db, dgamma, dbeta = backward(dout, cache)

    def f(**replace):
        args = dict(x=x, w=w, b=b, gamma=gamma, beta=beta)
        args.update(replace)
        return lambda v: forward(*(v if k in replace else args[k]
                                   for k in ("x", "w", "b", "gamma", "beta")),
                                 {"mode": "train"})[0]

    for name, analytic, value in [("x", dx, x), ("w", dw, w), ("b", db, b),
                                  ("gamma", dgamma, gamma), ("beta", dbeta, beta)]:
        numeric = eval_numerical_gradient_array(f(**{name: value}), value.copy(), dout)
        assert analytic.shape == value.shape
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7, err_msg=name)


def test_affine_norm_relu_dispatches_on_normalization():
    from cs231n import layer_utils as lu
    x, w, b, gamma, beta, dout = _norm_case(1)
    for normalization, fwd, bwd in [("batchnorm", lu.affine_bn_relu_forward, lu.affine_bn_relu_backward),
                                    ("layernorm", lu.affine_ln_relu_forward, lu.affine_ln_relu_backward)]:
        out, cache = lu.affine_norm_relu_forward(x, w, b, gamma, beta, {"mode": "train"},
                                                 normalization)
        ref_out, ref_cache = fwd(x, w, b, gamma, beta, {"mode": "train"})
        np.testing.assert_array_equal(out, ref_out)
        for got, want in zip(lu.affine_norm_relu_backward(dout, cache), bwd(dout, ref_cache)):
            np.testing.assert_array_equal(got, want)
    out, cache = lu.affine_norm_relu_forward(x, w, b, None, None, None, None)
    ref_out, ref_cache = lu.affine_relu_forward(x, w, b)
    np.testing.assert_array_equal(out, ref_out)
    dx, dw, db, dgamma, dbeta = lu.affine_norm_relu_backward(dout, cache)
    assert dgamma is None and dbeta is None
    np.testing.assert_array_equal(dw, lu.affine_relu_backward(dout, ref_cache)[1])
    with pytest.raises(ValueError):
        lu.affine_norm_relu_forward(x, w, b, gamma, beta, {}, "groupnorm")


def test_affine_relu_cache_has_the_course_structure():
    from cs231n.layer_utils import affine_relu_forward
    x, w, b, *_ = _norm_case(2)
    out, (fc_cache, relu_cache) = affine_relu_forward(x, w, b)
    assert fc_cache[0] is x and fc_cache[1] is w and fc_cache[2] is b
    np.testing.assert_allclose(relu_cache, swiftnn.layers.affine_forward(x, w, b)[0], rtol=1e-12)


# ---------------------------------------------------------------------------------------
# gradient_check

def test_eval_numerical_gradient_of_sum_of_squares(capsys):
    from cs231n.gradient_check import eval_numerical_gradient
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.5]])
    before = x.copy()
    grad = eval_numerical_gradient(lambda v: np.sum(v ** 2), x, verbose=False)
    np.testing.assert_allclose(grad, 2 * before, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(x, before)  # restored
    assert capsys.readouterr().out == ""

    eval_numerical_gradient(lambda v: np.sum(v ** 2), x)  # verbose=True by default
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == x.size
    assert lines[0].startswith("(0, 0) ") and lines[-1].startswith("(1, 2) ")
    assert float(lines[1].split(") ")[1]) == pytest.approx(-4.0)


def test_eval_numerical_gradient_step_size():
    from cs231n.gradient_check import eval_numerical_gradient
    x = np.array([1.0, 2.0])
    # a centered difference of a cubic is exact up to h**2 * f''' / 6
    grad = eval_numerical_gradient(lambda v: np.sum(v ** 3), x, verbose=False, h=1e-2)
    np.testing.assert_allclose(grad, 3 * x ** 2 + 1e-4, rtol=1e-9)


def test_eval_numerical_gradient_array():
    from cs231n.gradient_check import eval_numerical_gradient_array
    r = np.random.RandomState(0)
    x = r.randn(3, 4)
    df = r.randn(3, 4)
    before = x.copy()
    grad = eval_numerical_gradient_array(lambda v: v ** 2, x, df)
    np.testing.assert_allclose(grad, 2 * before * df, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(x, before)


class _Blob(object):
    def __init__(self, vals):
        self.vals = vals
        self.diffs = np.zeros_like(vals)


def test_eval_numerical_gradient_blobs():
    from cs231n.gradient_check import eval_numerical_gradient_blobs
    r = np.random.RandomState(1)
    a, b = _Blob(r.randn(2, 3)), _Blob(r.randn(2, 3))
    out = _Blob(np.zeros((2, 3)))
    out.diffs = r.randn(2, 3)

    def f(a_blob, b_blob, out_blob):
        out_blob.vals[...] = a_blob.vals * b_blob.vals

    da, db = eval_numerical_gradient_blobs(f, (a, b), out)
    np.testing.assert_allclose(da, b.vals * out.diffs, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(db, a.vals * out.diffs, rtol=1e-7, atol=1e-9)


def test_grad_check_sparse_prints_the_course_line(capsys):
    import random
    from cs231n.gradient_check import grad_check_sparse
    random.seed(0)  # the course samples indices with random.randrange
    x = np.random.RandomState(2).randn(4, 5)
    grad_check_sparse(lambda v: np.sum(v ** 2), x, 2 * x, num_checks=7)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7
    for line in lines:
        parts = line.replace(",", "").split()
        assert parts[0] == "numerical:" and parts[2] == "analytic:" and parts[4:6] == ["relative", "error:"]
        assert float(parts[1]) == pytest.approx(float(parts[3]), abs=1e-6)
        assert float(parts[6]) < 1e-8


# ---------------------------------------------------------------------------------------
# data_utils, against small files in CIFAR-10's real python-pickle format

ROWS = 20  # rows per batch file


def _batch(seed, rows=ROWS, bytes_keys=True):
    r = np.random.RandomState(seed)
    data = r.randint(0, 256, size=(rows, 3072)).astype(np.uint8)
    labels = [int(v) for v in r.randint(0, 10, size=rows)]
    if bytes_keys:
        return {b"batch_label": b"batch %d" % seed, b"labels": labels, b"data": data,
                b"filenames": [b"img_%d.png" % i for i in range(rows)]}
    return {"batch_label": "batch %d" % seed, "labels": labels, "data": data}


def write_cifar(folder, bytes_keys=True):
    """data_batch_1..5 and test_batch, pickled with protocol 2 as in the real archive."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for i, name in enumerate(["data_batch_%d" % b for b in range(1, 6)] + ["test_batch"]):
        batch = _batch(i + 1, bytes_keys=bytes_keys)
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        batches[name] = batch
    return batches


def _rows(batch):
    return batch[b"data"] if b"data" in batch else batch["data"]


def _labels(batch):
    return batch[b"labels"] if b"labels" in batch else batch["labels"]


@pytest.fixture
def cifar(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    return folder, write_cifar(folder)


def test_load_cifar_batch_shapes_dtype_and_pixel_order(tmp_path):
    from cs231n.data_utils import load_CIFAR_batch
    batch = _batch(9)
    data = batch[b"data"]
    # known values: image 0, row 2, column 3 of the green channel; image 5, pixel (31, 0) blue
    data[0, 1024 + 2 * 32 + 3] = 7
    data[5, 2048 + 31 * 32 + 0] = 201
    data[1, :1024] = 11  # red plane of image 1
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)
    X, Y = load_CIFAR_batch(str(path))
    assert X.shape == (ROWS, 32, 32, 3) and X.dtype == np.float64
    assert Y.shape == (ROWS,) and Y.dtype.kind == "i"
    np.testing.assert_array_equal(Y, batch[b"labels"])
    assert X[0, 2, 3, 1] == 7.0
    assert X[5, 31, 0, 2] == 201.0
    assert np.all(X[1, :, :, 0] == 11.0)
    # every pixel: CHW row -> HWC image
    np.testing.assert_array_equal(X, data.reshape(ROWS, 3, 32, 32).transpose(0, 2, 3, 1))


def test_load_cifar_batch_with_python2_str_keys(tmp_path):
    from cs231n.data_utils import load_CIFAR_batch
    batch = _batch(4, bytes_keys=False)
    path = tmp_path / "test_batch"
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)
    X, Y = load_CIFAR_batch(str(path))
    np.testing.assert_array_equal(X[3], batch["data"][3].reshape(3, 32, 32).transpose(1, 2, 0))
    np.testing.assert_array_equal(Y, batch["labels"])


def test_load_cifar10_concatenates_the_five_batches(cifar):
    from cs231n.data_utils import load_CIFAR10
    folder, batches = cifar
    Xtr, Ytr, Xte, Yte = load_CIFAR10(str(folder))
    assert Xtr.shape == (5 * ROWS, 32, 32, 3) and Xte.shape == (ROWS, 32, 32, 3)
    assert Xtr.dtype == np.float64 and Xte.dtype == np.float64
    assert Ytr.shape == (5 * ROWS,) and Yte.shape == (ROWS,)
    for b in range(5):
        batch = batches["data_batch_%d" % (b + 1)]
        rows = slice(b * ROWS, (b + 1) * ROWS)
        np.testing.assert_array_equal(Xtr[rows], _rows(batch).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        np.testing.assert_array_equal(Ytr[rows], _labels(batch))
    np.testing.assert_array_equal(Yte, _labels(batches["test_batch"]))


def _raw(batches):
    xs = [_rows(batches["data_batch_%d" % b]) for b in range(1, 6)]
    Xtr = np.concatenate(xs).reshape(-1, 3, 32, 32).astype(np.float64)  # (N, C, H, W)
    Ytr = np.concatenate([_labels(batches["data_batch_%d" % b]) for b in range(1, 6)])
    Xte = _rows(batches["test_batch"]).reshape(-1, 3, 32, 32).astype(np.float64)
    return Xtr, Ytr, Xte, np.array(_labels(batches["test_batch"]))


def test_get_cifar10_data_split_mean_and_transpose(cifar):
    from cs231n.data_utils import get_CIFAR10_data
    folder, batches = cifar
    data = get_CIFAR10_data(num_training=60, num_validation=25, num_test=12, cifar10_dir=str(folder))
    assert set(data) == {"X_train", "y_train", "X_val", "y_val", "X_test", "y_test"}
    Xtr, Ytr, Xte, Yte = _raw(batches)
    mean = Xtr[:60].mean(axis=0)
    assert data["X_train"].shape == (60, 3, 32, 32) and data["X_val"].shape == (25, 3, 32, 32)
    assert data["X_test"].shape == (12, 3, 32, 32)
    for key in ("X_train", "X_val", "X_test"):
        assert data[key].dtype == np.float64 and data[key].flags.c_contiguous
    np.testing.assert_allclose(data["X_train"], Xtr[:60] - mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(data["X_val"], Xtr[60:85] - mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(data["X_test"], Xte[:12] - mean, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(data["y_train"], Ytr[:60])
    np.testing.assert_array_equal(data["y_val"], Ytr[60:85])
    np.testing.assert_array_equal(data["y_test"], Yte[:12])
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-9)


def test_get_cifar10_data_without_mean_subtraction(cifar):
    from cs231n.data_utils import get_CIFAR10_data
    folder, batches = cifar
    data = get_CIFAR10_data(50, 10, 5, subtract_mean=False, cifar10_dir=folder)
    Xtr, _, Xte, _ = _raw(batches)
    np.testing.assert_array_equal(data["X_train"], Xtr[:50])
    np.testing.assert_array_equal(data["X_val"], Xtr[50:60])
    np.testing.assert_array_equal(data["X_test"], Xte[:5])


def test_get_cifar10_data_finds_swiftnn_data(cifar, tmp_path, monkeypatch):
    from cs231n.data_utils import get_CIFAR10_data
    folder, _ = cifar
    monkeypatch.setenv("SWIFTNN_DATA", str(folder.parent))
    monkeypatch.chdir(tmp_path)
    data = get_CIFAR10_data(num_training=40, num_validation=10, num_test=10)
    assert data["X_train"].shape == (40, 3, 32, 32)


def test_get_cifar10_data_finds_the_course_layout_under_the_cwd(tmp_path, monkeypatch):
    from cs231n.data_utils import get_CIFAR10_data
    write_cifar(tmp_path / "cs231n" / "datasets" / "cifar-10-batches-py", bytes_keys=False)
    monkeypatch.delenv("SWIFTNN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    data = get_CIFAR10_data(num_training=30, num_validation=10, num_test=10)
    assert data["X_val"].shape == (10, 3, 32, 32)


def test_missing_dataset_names_the_places_and_the_archive(tmp_path, monkeypatch):
    from cs231n import data_utils
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("SWIFTNN_DATA", str(empty))
    monkeypatch.chdir(tmp_path)
    package_place = os.path.join(os.path.dirname(data_utils.__file__), "datasets",
                                 "cifar-10-batches-py", "data_batch_1")
    if os.path.exists(package_place):
        pytest.skip("a CIFAR-10 copy sits inside the package folder")
    with pytest.raises(FileNotFoundError) as info:
        data_utils.get_CIFAR10_data(num_training=10, num_validation=5, num_test=5)
    message = str(info.value)
    assert str(empty / "cifar-10-batches-py") in message
    assert str(tmp_path / "cs231n" / "datasets" / "cifar-10-batches-py") in message
    assert "cifar-10-python.tar.gz" in message

    missing = tmp_path / "nowhere" / "cifar-10-batches-py"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        data_utils.get_CIFAR10_data(cifar10_dir=str(missing))
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
        data_utils.load_CIFAR10(str(missing))


def test_incomplete_dataset_names_the_missing_file(cifar):
    from cs231n.data_utils import load_CIFAR10
    folder, _ = cifar
    (folder / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="test_batch"):
        load_CIFAR10(str(folder))


# ---------------------------------------------------------------------------------------
# vis_utils

def test_visualize_grid_shape_scaling_and_padding():
    from cs231n.vis_utils import visualize_grid
    r = np.random.RandomState(0)
    Xs = r.randn(5, 4, 3, 2) * 10 + 3
    grid = visualize_grid(Xs)
    # ceil(sqrt(5)) = 3 tiles a side, 1 pixel between tiles
    assert grid.shape == (3 * 4 + 2, 3 * 3 + 2, 2)
    for n in range(5):
        y, x = divmod(n, 3)
        tile = grid[y * 5:y * 5 + 4, x * 4:x * 4 + 3]
        img = Xs[n]
        np.testing.assert_allclose(tile, 255.0 * (img - img.min()) / (img.max() - img.min()),
                                   rtol=1e-12)
        assert tile.min() == 0.0 and tile.max() == pytest.approx(255.0)
    assert np.all(grid[4, :] == 0) and np.all(grid[:, 3] == 0)  # padding
    assert np.all(grid[10:, 8:] == 0)  # the sixth..ninth cells stay empty

    small = visualize_grid(Xs[:4], ubound=1.0, padding=2)
    assert small.shape == (2 * 4 + 2, 2 * 3 + 2, 2)
    assert small.max() == pytest.approx(1.0) and small.min() == 0.0


def test_visualize_grid_constant_tile_is_zero():
    from cs231n.vis_utils import visualize_grid
    Xs = np.ones((1, 2, 2, 3))
    grid = visualize_grid(Xs)
    assert grid.shape == (2, 2, 3) and np.all(grid == 0)


def test_vis_grid_and_vis_nn_normalize_to_unit_range():
    from cs231n.vis_utils import vis_grid, vis_nn
    Xs = np.random.RandomState(3).rand(3, 2, 2, 1)
    G = vis_grid(Xs)
    assert G.shape == (2 * 2 + 2, 2 * 2 + 2, 1) and G.min() == 0.0 and G.max() == 1.0
    N = vis_nn([[Xs[0], Xs[1]], [Xs[2], Xs[0]]])
    assert N.shape == (2 * 2 + 2, 2 * 2 + 2, 1) and N.max() == 1.0
