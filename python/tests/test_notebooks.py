"""Every notebook runs top to bottom in a Jupyter kernel, and prints what it should.

- ``python/tests/notebooks/``: course-style notebooks written against the course package
  ``cs231n`` (CS231n's two_layer_net, FullyConnectedNets, BatchNormalization and Dropout
  notebooks, exercises filled in). Each runs as a student runs it, through ``swiftnn course
  run`` in an assignment folder that holds the course's skeleton ``cs231n/`` (which must not
  shadow ours) and a small CIFAR-10 that this module writes in the real format
  (``cifar-10-batches-py`` with Python 2 pickles, as in cifar-10-python.tar.gz) in the course
  layout ``cs231n/datasets/cifar-10-batches-py``. Their printed numbers are
  checked against the course's thresholds and against NumPy computations (``reference.py``) of
  what the course's reference implementation prints.
- ``notebooks/``: swiftnn's own notebooks, on the real Fashion-MNIST (Debian's package) and the
  small CIFAR-10 folder. They assert the numbers that matter themselves, so a run without a cell
  error is the test; here we also check they drew plots and notebook (widget) progress bars and
  showed a model summary (text and the HTML table Jupyter displays).

Every kernel runs with ``SWIFTNN_SMALL=1`` (small data) and one BLAS thread. Any cell error
fails the test with the cell and its traceback (nbclient's CellExecutionError).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import reference as ref

if os.environ.get("CI"):
    import ipykernel  # noqa: F401  (CI installs requirements-dev.txt: a missing Jupyter must fail)
    import nbclient  # noqa: F401
    import nbformat
else:
    pytest.importorskip("ipykernel")
    pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")

from course_folder import make_assignment_folder
from test_data import py2_cifar_batch  # the real files' byte format (Python 2 pickles)

REPO = Path(__file__).resolve().parents[2]
COURSE_DIR = Path(__file__).resolve().parent / "notebooks"
OURS_DIR = REPO / "notebooks"
sys.path.insert(0, str(OURS_DIR))
from run_notebooks import execute, stdout_text  # noqa: E402

COURSE_NOTEBOOKS = ["two_layer_net", "FullyConnectedNets", "BatchNormalization", "Dropout"]
OUR_NOTEBOOKS = sorted(p.name for p in OURS_DIR.glob("[0-9]*.ipynb"))
KERNEL_ENV = {"SWIFTNN_SMALL": "1", "OPENBLAS_NUM_THREADS": "1"}
TIMES = {}


# ---------------------------------------------------------------------------------------
# a small CIFAR-10 in the real format, with images a network can learn (each class a faint
# template under strong noise, so accuracies climb over epochs instead of jumping to 100%)

def learnable_cifar_rows(n, seed, signal=0.1, noise=64):
    rng = np.random.default_rng(seed)
    templates = np.random.default_rng(1234).integers(0, 256, (10, 3072)).astype(np.float64)
    y = rng.integers(0, 10, n)
    X = 128.0 + signal * (templates[y] - 128.0) + rng.normal(0, noise, (n, 3072))
    return np.clip(X, 0, 255).astype(np.uint8), y


def write_small_cifar10(folder, rows=300, test_rows=200):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(["data_batch_%d" % b for b in range(1, 6)] + ["test_batch"]):
        X, y = learnable_cifar_rows(test_rows if name == "test_batch" else rows, seed=10 + i)
        (folder / name).write_bytes(py2_cifar_batch(X, y, name))
    return folder


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory):
    """A folder holding cifar-10-batches-py/ (what SWIFTNN_DATA names)."""
    root = tmp_path_factory.mktemp("data")
    write_small_cifar10(root / "cifar-10-batches-py")
    return root


def run(path, cwd, **env):
    nb, seconds = execute(path, cwd=cwd, timeout=600, env=dict(KERNEL_ENV, **env))
    TIMES[Path(path).name] = seconds
    print("%s: %.1f s" % (Path(path).name, seconds))
    return nb


@pytest.fixture(scope="module")
def course(cifar_root, tmp_path_factory):
    """Runs a course notebook once per module, as a student would in the assignment folder:
    the course's skeleton cs231n/ there (course_folder.py), CIFAR-10 in its cs231n/datasets/,
    through `swiftnn course run`, which must report every code cell ok. Returns its stdout
    text."""
    done = {}

    def get(name):
        if name not in done:
            work = make_assignment_folder(tmp_path_factory.mktemp(name), cifar_root / "cifar-10-batches-py")
            shutil.copy(COURSE_DIR / (name + ".ipynb"), work)
            notebook = work / (name + ".ipynb")
            env = dict(os.environ, PYTHONPATH=str(REPO / "python"), **KERNEL_ENV)
            env.pop("SWIFTNN_DATA", None)
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "swiftnn", "course", "run", str(notebook)], cwd=str(work),
                                  env=env, capture_output=True, text=True, timeout=900)
            TIMES[name + ".ipynb"] = time.perf_counter() - start
            print("%s.ipynb: %.1f s" % (name, TIMES[name + ".ipynb"]))
            lines = proc.stdout.splitlines()
            assert proc.returncode == 0 and lines and all(re.fullmatch(r"cell \d+: ok", l) for l in lines), \
                "%s: exit %d\n%s\n%s" % (name, proc.returncode, proc.stdout, proc.stderr[-3000:])
            assert len(lines) == sum(c.cell_type == "code" for c in nbformat.read(str(notebook), as_version=4).cells)
            done[name] = stdout_text(nbformat.read(str(work / (name + ".out.ipynb")), as_version=4))
        return done[name]

    return get


# ---------------------------------------------------------------------------------------
# reading printed numbers

NUM = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf"


def after(text, label):
    """Every number printed right after label (label matched literally)."""
    return [float(v) for v in re.findall(re.escape(label) + r"\s*(" + NUM + ")", text)]


def one(text, label):
    values = after(text, label)
    assert len(values) == 1, "expected one %r in the output, found %s" % (label, values)
    return values[0]


def array_after(text, label):
    """The NumPy array printed after label ('  means: [1. 2. 3.]'), for every occurrence."""
    found = re.findall(re.escape(label) + r"\s*\[([^\]]*)\]", text)
    return [np.array([float(v) for v in re.findall(NUM, body)]) for body in found]


def section(text, start, end=None):
    i = text.index(start)
    j = text.index(end, i + len(start)) if end else len(text)
    return text[i:j]


def errors(text):
    """{'W1': 1.2e-08, ...} from '<name> relative error: <value>' lines."""
    return {k: float(v) for k, v in re.findall(r"(\w+) relative error:\s*(" + NUM + ")", text)}


def epochs(text):
    """[(epoch, train_acc, val_acc)] from the Solver's '(Epoch e / n) train acc: ...' lines."""
    return [(int(e), float(t), float(v)) for e, t, v in
            re.findall(r"\(Epoch (\d+) / \d+\) train acc: (" + NUM + "); val_acc: (" + NUM + ")", text)]


def rel_error(x, y):
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def fc_initial_losses(models, normalization=None, keep=1.0, seed=None):
    """What the course's reference FullyConnectedNet prints as 'Initial loss' in the checks that
    start from np.random.seed(231): X (2, 15), y, then one model per entry of models (a list of
    regs), each drawing W1..W3 = 5e-2 * randn in layer order."""
    np.random.seed(231)
    X = np.random.randn(2, 15)
    y = np.random.randint(10, size=(2,))
    losses = []
    for reg in models:
        params = {}
        for l, (a, b) in enumerate([(15, 20), (20, 30), (30, 10)], 1):
            params["W%d" % l] = 5e-2 * np.random.randn(a, b)
            params["b%d" % l] = np.zeros(b)
            if normalization and l < 3:
                params["gamma%d" % l], params["beta%d" % l] = np.ones(b), np.zeros(b)
        losses.append(ref.fc_net(params, X, y, num_layers=3, normalization=normalization, reg=reg,
                                 keep=keep[len(losses)] if isinstance(keep, list) else keep,
                                 seed=seed or 0)[0])
    return losses


# ---------------------------------------------------------------------------------------
# the course notebooks

def test_course_notebooks_are_the_four_assignments():
    assert sorted(p.stem for p in COURSE_DIR.glob("*.ipynb")) == sorted(COURSE_NOTEBOOKS)


@pytest.mark.parametrize("name", COURSE_NOTEBOOKS)
def test_course_notebook_has_the_course_setup_cell(name):
    nb = nbformat.read(str(COURSE_DIR / (name + ".ipynb")), as_version=4)
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    for line in ["import numpy as np", "import matplotlib.pyplot as plt",
                 "from cs231n.classifiers.fc_net import *", "from cs231n.data_utils import get_CIFAR10_data",
                 "from cs231n.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array",
                 "from cs231n.solver import Solver", "%matplotlib inline", "%load_ext autoreload",
                 "%autoreload 2"]:
        assert line in setup, line


def test_two_layer_net_layers_print_the_course_numbers(course):
    out = course("two_layer_net")
    assert "('X_train: ', (1000, 3, 32, 32))" in out and "('y_test: ', (200,))" in out
    # affine_forward against the course's correct_out (its comment: around e-9 or less)
    assert one(section(out, "Testing affine_forward", "Testing affine_backward"), "difference:") < 1e-8
    block = section(out, "Testing affine_backward", "Testing relu_forward")
    assert max(after(block, "error:")) < 1e-9 and len(after(block, "error:")) == 3
    assert one(section(out, "Testing relu_forward", "Testing relu_backward"), "difference:") < 1e-7
    assert one(section(out, "Testing relu_backward", "Testing affine_relu"), "dx error:") < 1e-11
    block = section(out, "Testing affine_relu_forward", "Testing svm_loss")
    assert max(after(block, "error:")) < 1e-9
    # the loss layers on the course's inputs: svm near 9, softmax near 2.3, exactly as computed here
    np.random.seed(231)
    x = 0.001 * np.random.randn(50, 10)
    y = np.random.randint(10, size=50)
    svm = section(out, "Testing svm_loss", "Testing softmax_loss")
    soft = section(out, "Testing softmax_loss", "Testing initialization")
    assert one(svm, "loss:") == pytest.approx(ref.svm_loss(x, y)[0], rel=1e-12)
    assert one(soft, "loss:") == pytest.approx(ref.softmax_loss(x, y)[0], rel=1e-12)
    assert abs(one(svm, "loss:") - 9) < 0.01 and abs(one(soft, "loss:") - np.log(10)) < 0.01
    assert one(svm, "dx error:") < 1e-8 and one(soft, "dx error:") < 1e-7


def test_two_layer_net_model_and_solver(course):
    out = course("two_layer_net")
    # the notebook's own asserts check the course's correct_scores and correct_loss values
    assert "Testing training loss (no regularization)" in out
    errs = re.findall(r"(\w+) relative error: (" + NUM + ")", section(out, "Running numeric gradient check"))
    assert len(errs) == 8 and max(float(v) for _, v in errs) < 1e-6
    first_loss = after(out, "(Iteration 1 / 100) loss:")
    assert abs(first_loss[0] - np.log(10)) < 0.05           # tiny weights: ln(10)
    history = epochs(section(out, "(Iteration 1 / 100)", "lr "))
    assert [e for e, _, _ in history] == list(range(11))
    assert history[-1][2] > 0.4 and history[-1][2] > history[0][2] + 0.3
    assert one(out, "best validation accuracy achieved during cross-validation:") > 0.6
    assert one(out, "Test set accuracy:") > 0.6


def test_fully_connected_nets_gradient_check_prints_the_course_losses(course):
    out = course("FullyConnectedNets")
    printed = after(out, "Initial loss:")
    expected = fc_initial_losses([0, 3.14])
    assert printed == pytest.approx(expected, rel=1e-12)
    assert printed[0] == pytest.approx(2.3004790897684924, rel=1e-12)   # the course's printout
    for block in (section(out, "reg =  0\n", "reg =  3.14"), section(out, "reg =  3.14", "(Iteration")):
        errs = errors(block)
        assert sorted(errs) == ["W1", "W2", "W3", "b1", "b2", "b3"]
        assert max(errs.values()) < 1e-4                     # the course: e-7, W2 up to e-5
        assert max(v for k, v in errs.items() if k != "W2") < 1e-6


def test_fully_connected_nets_overfit_and_update_rules(course):
    out = course("FullyConnectedNets")
    three = epochs(section(out, "(Iteration 1 / 40)", "next_w error"))
    assert len(three) == 42
    assert three[20][1] == 1.0                                # three layers: 100% in 20 epochs
    assert three[-1][1] >= 0.9                                # five layers
    # the course's expected arrays: momentum e-8 or less, RMSProp and Adam e-7 or less
    assert max(after(out, "next_w error:")) < 1e-6
    assert one(out, "velocity error:") < 1e-7
    assert one(out, "cache error:") < 1e-7
    assert one(out, "v error:") < 1e-7 and one(out, "m error:") < 1e-7
    runs = {"sgd": epochs(section(out, "Running with  sgd\n", "Running with  sgd_momentum")),
            "sgd_momentum": epochs(section(out, "Running with  sgd_momentum\n", "next_w error")),
            "adam": epochs(section(out, "Running with  adam\n", "Running with  rmsprop")),
            "rmsprop": epochs(section(out, "Running with  rmsprop\n", "\n\n"))}
    assert all(len(r) == 6 for r in runs.values())
    assert runs["sgd_momentum"][-1][1] > runs["sgd"][-1][1]   # momentum trains faster than SGD
    assert runs["adam"][-1][1] > 0.5 and runs["rmsprop"][-1][1] > runs["sgd"][-1][1]
    assert one(out, "Validation set accuracy:") > 0.5 and one(out, "Test set accuracy:") > 0.5


def test_batch_normalization_forward_prints_the_course_statistics(course):
    out = course("BatchNormalization")
    np.random.seed(231)
    X = np.random.randn(200, 50)
    W1, W2 = np.random.randn(50, 60), np.random.randn(60, 3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    means, stds = array_after(out, "means:"), array_after(out, "stds:")
    np.testing.assert_allclose(means[0], a.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stds[0], a.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(means[1], 0, atol=1e-12)
    np.testing.assert_allclose(stds[1], 1, atol=1e-7)
    np.testing.assert_allclose(means[2], [11, 12, 13], rtol=1e-9)
    np.testing.assert_allclose(stds[2], [1, 2, 3], rtol=1e-7)
    # test time: the running averages of 50 training batches (momentum 0.9, biased variance)
    np.random.seed(231)
    W1, W2 = np.random.randn(50, 60), np.random.randn(60, 3)
    mean, var = np.zeros(3), np.zeros(3)
    for _ in range(50):
        a = np.maximum(0, np.random.randn(200, 50).dot(W1)).dot(W2)
        mean, var = 0.9 * mean + 0.1 * a.mean(axis=0), 0.9 * var + 0.1 * a.var(axis=0)
    a = np.maximum(0, np.random.randn(200, 50).dot(W1)).dot(W2)
    test_out = ref.batchnorm_forward_test(a, np.ones(3), np.zeros(3), 1e-5, mean, var)
    np.testing.assert_allclose(means[3], test_out.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stds[3], test_out.std(axis=0), rtol=1e-6)


def test_batch_normalization_backward_and_networks(course):
    out = course("BatchNormalization")
    block = section(out, "dx error:", "dx difference:")
    assert one(block, "dx error:") < 1e-8                      # the course: 1e-13 .. 1e-8
    assert one(block, "dgamma error:") < 1e-10 and one(block, "dbeta error:") < 1e-10
    assert one(out, "dx difference:") < 1e-10 and one(out, "dgamma difference:") < 1e-10
    assert one(out, "dbeta difference:") < 1e-12
    assert one(out, "speedup:") > 0
    bn = section(out, "Running check with reg =  0", "Solver with batch norm:")
    assert after(bn, "Initial loss:") == pytest.approx(fc_initial_losses([0, 3.14], "batchnorm"), rel=1e-12)
    for block in bn.split("Running check with reg")[1:]:
        errs = errors(block)
        assert sorted(errs) == ["W1", "W2", "W3", "b1", "b2", "b3", "beta1", "beta2", "gamma1", "gamma2"]
        # b1 and b2 feed batch normalization, which cancels them: their true gradient is 0 and
        # their relative error compares rounding noise, as in the course's own printout.
        assert max(errs[k] for k in ("W1", "W2", "W3")) < 1e-3
        assert errs["b3"] < 1e-8
        assert max(errs[k] for k in ("beta1", "beta2", "gamma1", "gamma2")) < 1e-6
    with_bn = epochs(section(out, "Solver with batch norm:", "Solver without batch norm:"))
    without = epochs(section(out, "Solver without batch norm:", "Running weight scale 1 / 20"))
    assert len(with_bn) == len(without) == 11
    assert with_bn[-1][1] > 0.9 and with_bn[-1][1] >= without[-1][1]
    assert out.count("Running weight scale") == 20
    assert out.count("Normalization: batch size = ") == 6 and out.count("No normalization: batch size =  5") == 2


def test_layer_normalization_prints_the_course_statistics(course):
    out = course("BatchNormalization")
    np.random.seed(231)
    X = np.random.randn(4, 50)
    W1, W2 = np.random.randn(50, 60), np.random.randn(60, 3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    ln = section(out, "Before layer normalization:")
    means, stds = array_after(ln, "means:"), array_after(ln, "stds:")
    np.testing.assert_allclose(means[0], a.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(stds[0], a.std(axis=1), rtol=1e-6)
    expected = ref.layernorm_forward(a, np.ones(3), np.zeros(3), 1e-5)
    np.testing.assert_allclose(stds[1], expected.std(axis=1), rtol=1e-6)
    np.testing.assert_allclose(means[1], 0, atol=1e-12)
    np.testing.assert_allclose(means[2], 5, rtol=1e-9)
    np.testing.assert_allclose(stds[2], 3 * expected.std(axis=1), rtol=1e-6)
    block = section(ln, "dx error:", "Running check")
    assert max(after(block, "error:")) < 1e-8                  # the course: 1e-12 .. 1e-8
    checks = section(ln, "Running check with reg =  0")
    assert after(checks, "Initial loss:") == pytest.approx(fc_initial_losses([0, 3.14], "layernorm"), rel=1e-12)
    for block in checks.split("Running check with reg")[1:]:
        errs = errors(block)
        assert len(errs) == 10 and max(errs.values()) < 1e-4


def test_dropout_prints_the_course_checks(course):
    out = course("Dropout")
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    for p in (0.25, 0.4, 0.7):
        block = section(out, "Running tests with p =  %s\n" % p, "\n\n")
        assert one(block, "Mean of input:") == pytest.approx(x.mean(), rel=1e-12)
        assert one(block, "Mean of test-time output:") == pytest.approx(x.mean(), rel=1e-12)
        assert abs(one(block, "Mean of train-time output:") - x.mean()) < 0.15
        assert abs(one(block, "Fraction of train-time output set to zero:") - (1 - p)) < 0.005
        assert one(block, "Fraction of test-time output set to zero:") == 0
    assert one(out, "dx relative error:") < 1e-10
    # the losses of the course's check, masks from swiftnn's documented generator (seed 123)
    printed = after(out, "Initial loss:")
    expected = fc_initial_losses([0, 0, 0], keep=[1.0, 0.75, 0.5], seed=123)
    assert printed == pytest.approx(expected, rel=1e-12)
    assert printed[0] == pytest.approx(2.3004790897684924, rel=1e-12)
    for block in out.split("Running check with dropout =")[1:]:
        errs = errors(section(block, "Initial loss:", "\n\n"))
        assert len(errs) == 6 and max(errs.values()) < 1e-4


def test_dropout_regularization_experiment(course):
    out = course("Dropout")
    without = epochs(section(out, "\n1\n", "\n0.25\n"))
    with_dropout = epochs(section(out, "\n0.25\n"))
    assert len(without) == len(with_dropout) == 26
    assert without[-1][1] == 1.0                               # memorises 500 examples
    assert with_dropout[-1][2] >= without[-1][2] - 0.02        # and dropout does not hurt validation


# ---------------------------------------------------------------------------------------
# our notebooks

def test_our_notebooks_exist():
    assert [n[:2] for n in OUR_NOTEBOOKS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("name", OUR_NOTEBOOKS + ["course/" + n + ".ipynb" for n in COURSE_NOTEBOOKS])
def test_notebooks_are_committed_without_outputs(name):
    path = COURSE_DIR / name[len("course/"):] if name.startswith("course/") else OURS_DIR / name
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, "%s has outputs" % name
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", OUR_NOTEBOOKS)
def test_our_notebook_runs_top_to_bottom(name, cifar_root):
    try:
        from swiftnn.data import load_fashion_mnist
        load_fashion_mnist()
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    nb = run(OURS_DIR / name, OURS_DIR, SWIFTNN_DATA=str(cifar_root))
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert images, "no plot"
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = stdout_text(nb) + "".join(o["data"].get("text/plain", "") for o in outputs if "data" in o)
    assert "total parameters:" in text, "no model summary"
    html = "".join(o["data"].get("text/html", "") for o in outputs if "data" in o)
    assert "<table>" in html and "total parameters:" in html, "no HTML model summary"
    assert widgets, "no notebook progress bar"
