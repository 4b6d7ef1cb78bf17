"""The course's own notebooks in the student's own assignment folder (swiftnn.course and
`swiftnn course kernel|run`), in a folder shaped as the course's zip unpacks
(course_folder.py: the skeleton cs231n/ package, CIFAR-10 in cs231n/datasets/).

The four course-style notebooks run through `swiftnn course run` in such a folder in
test_notebooks.py (every cell ok, and the numbers they print checked there); here: the
kernel installed into a temporary JUPYTER_DATA_DIR and a notebook run in it through nbclient,
with a model's save landing in the folder's cs231n/saved/; the Drive cell, the download lines,
a failing cell, a missing CIFAR-10 and the exit status of `course run`; the package swap
itself, without a kernel.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_folder import make_assignment_folder
from swiftnn import course
from test_notebooks import nbformat, write_small_cifar10  # (skips this module where Jupyter is missing)

PYTHON_DIR = Path(__file__).resolve().parents[1]
KERNEL_ENV = {"SWIFTNN_SMALL": "1", "OPENBLAS_NUM_THREADS": "1"}


def swiftnn(*args, cwd, **env):
    environment = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), **KERNEL_ENV, **env)
    environment.pop("SWIFTNN_DATA", None)
    return subprocess.run([sys.executable, "-m", "swiftnn", *args], cwd=str(cwd), env=environment,
                          capture_output=True, text=True, timeout=600)


def python_in(folder, code):
    """python -c code in folder, with swiftnn importable (as installed) but nothing else set."""
    return subprocess.run([sys.executable, "-c", code], cwd=str(folder), capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(PYTHON_DIR)))


def notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(s[3:]) if s.startswith("md:") else nbformat.v4.new_code_cell(s)
                for s in sources]
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def folder(tmp_path):
    """An assignment folder with the skeleton and a small CIFAR-10."""
    data = write_small_cifar10(tmp_path / "data" / "cifar-10-batches-py", rows=60, test_rows=60)
    return make_assignment_folder(tmp_path / "assignment1", data)


# ---------------------------------------------------------------------------------------
# the package swap, in a plain interpreter started in the folder

def test_the_skeleton_alone_does_not_import(folder):
    proc = python_in(folder, "import cs231n")
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr


def test_use_course_package_gives_ours_and_keeps_the_students_other_modules(folder):
    code = ("import sys; sys.path.insert(0, '');"
            "import swiftnn.course as c; c.use_course_package();"
            "import cs231n, cs231n.layers as L, cs231n.classifiers.fc_net as F, cs231n.data_utils as D;"
            "from cs231n.classifiers.k_nearest_neighbor import KNearestNeighbor;"
            "import numpy as np, inspect;"
            "out, _ = L.relu_forward(np.array([[-1.0, 2.0]]));"
            "print(cs231n.__file__); print(inspect.getfile(F.TwoLayerNet)); print(out.tolist());"
            "print(inspect.getfile(KNearestNeighbor)); print(D.find_CIFAR10())")
    proc = python_in(folder, code)
    assert proc.returncode == 0, proc.stderr
    ours, model, relu, knn, data = proc.stdout.splitlines()
    assert Path(ours) == PYTHON_DIR / "cs231n" / "__init__.py"
    assert Path(model).parent == PYTHON_DIR / "swiftnn"
    assert relu == "[[0.0, 2.0]]"
    assert Path(knn) == folder / "cs231n" / "classifiers" / "k_nearest_neighbor.py"
    assert Path(data) == folder / "cs231n" / "datasets" / "cifar-10-batches-py"


def test_use_course_package_replaces_an_already_imported_skeleton(folder, tmp_path):
    (folder / "cs231n" / "__init__.py").write_text("")   # a skeleton that does import
    code = ("import sys; sys.path.insert(0, ''); import cs231n.layers as theirs;"
            "assert theirs.affine_forward(1, 2, 3) == (None, None);"
            "import swiftnn.course as c; c.use_course_package();"
            "import cs231n.layers as L, numpy as np;"
            "print(L.affine_forward(np.ones((1, 2)), np.ones((2, 1)), np.zeros(1))[0].tolist())")
    proc = python_in(folder, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[[2.0]]"


@pytest.mark.parametrize("source, expected", [
    ("from google.colab import drive\ndrive.mount('/content/drive')\nFOLDERNAME = 'x'", None),
    ("%cd /content/drive/My\\ Drive/$FOLDERNAME/cs231n/datasets/\n!bash get_datasets.sh\n%cd ..", "%cd .."),
    ("!bash get_datasets.sh", None),
    ("  !wget http://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz\nx = 1", "x = 1"),
    ("x = 1\n!ls\ny = 2", "x = 1\n!ls\ny = 2"),
    ("", None),
])
def test_prepared_source_drops_the_drive_cell_and_the_download_lines(source, expected):
    assert course.prepared_source(source) == expected


# ---------------------------------------------------------------------------------------
# swiftnn course run

def test_course_run_skips_goes_on_after_errors_and_reports_each_cell(folder, tmp_path):
    nb = notebook(folder / "student.ipynb",
                  "# This mounts your Google Drive to the Colab VM.\nfrom google.colab import drive\n"
                  "drive.mount('/content/drive')",
                  "md:# Two-layer net",
                  "import cs231n\nprint(cs231n.__file__)\n!bash get_datasets.sh",
                  "1 / 0",
                  "from cs231n.classifiers.fc_net import TwoLayerNet\nimport numpy as np\n"
                  "net = TwoLayerNet(input_dim=4, hidden_dim=3, num_classes=2)\nnet.save('net.npy')",
                  "raise ValueError('first line\\nsecond line')",
                  "print('still running')")
    out = tmp_path / "executed" / "student.ipynb"
    out.parent.mkdir()
    proc = swiftnn("course", "run", str(nb), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines() == [
        "cell 1: skipped", "cell 2: ok", "cell 3: error: ZeroDivisionError: division by zero", "cell 4: ok",
        "cell 5: error: ValueError: first line", "cell 6: ok"]
    executed = nbformat.read(str(out), as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    original = [c for c in nbformat.read(str(nb), as_version=4).cells if c.cell_type == "code"]
    assert [c.source for c in code] == [c.source for c in original]          # the student's cells as written
    assert code[0].outputs == []
    assert Path(code[1].outputs[0]["text"].strip()) == PYTHON_DIR / "cs231n" / "__init__.py"
    assert code[2].outputs[0]["ename"] == "ZeroDivisionError"
    assert code[5].outputs[0]["text"] == "still running\n"
    assert (folder / "cs231n" / "saved" / "net.npy").is_file()                # the folder's, not the cwd's
    assert not (tmp_path / "cs231n").exists()


def test_course_run_without_cifar10_says_where_to_put_it(tmp_path):
    work = make_assignment_folder(tmp_path / "assignment1")
    nb = notebook(work / "FullyConnectedNets.ipynb",
                  "from cs231n.data_utils import get_CIFAR10_data\ndata = get_CIFAR10_data()")
    proc = swiftnn("course", "run", str(nb), cwd=work)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("cell 1: error: FileNotFoundError: CIFAR-10 not found")
    target = work.resolve() / "cs231n" / "datasets" / "cifar-10-batches-py"
    assert "CIFAR-10 is missing: put" in lines[-1] and str(target) in lines[-1]
    assert (work / "FullyConnectedNets.out.ipynb").is_file()                 # next to the notebook


def test_course_run_exits_0_when_every_cell_passes(folder):
    nb = notebook(folder / "ok.ipynb", "x = 1", "print(x + 1)")
    proc = swiftnn("course", "run", "ok.ipynb", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["cell 1: ok", "cell 2: ok"]


def test_course_run_reports_a_dead_kernel_and_the_cells_it_could_not_run(folder):
    nb = notebook(folder / "dies.ipynb", "print(1)", "import os\nos._exit(3)", "print(2)")
    proc = swiftnn("course", "run", str(nb), cwd=folder)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == ["cell 1: ok", "cell 2: error: DeadKernelError: Kernel died", "cell 3: skipped"]
    assert (folder / "dies.out.ipynb").is_file()


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such notebook"),
    (lambda p: p.write_text("{not json"), "not a Jupyter notebook"),
])
def test_course_run_refuses_a_missing_or_broken_notebook(tmp_path, capsys, make, message):
    from swiftnn.cli import main
    path = tmp_path / "nb.ipynb"
    make(path)
    assert main(["course", "run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("swiftnn course: error: ") and message in err and "nb.ipynb" in err


# ---------------------------------------------------------------------------------------
# swiftnn course kernel

def test_kernel_installs_into_jupyter_data_dir_and_runs_the_notebook_in_the_folder(folder, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    data_dir = tmp_path / "jupyter"
    proc = swiftnn("course", "kernel", cwd=tmp_path, JUPYTER_DATA_DIR=str(data_dir))
    assert proc.returncode == 0, proc.stderr
    spec_file = data_dir / "kernels" / "swiftnn" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    assert spec["display_name"] == "Python 3 (swiftnn)" and spec["language"] == "python"
    assert str(spec_file.parent) in proc.stdout
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(data_dir))
    for k, v in KERNEL_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SWIFTNN_DATA", raising=False)
    from jupyter_client.kernelspec import KernelSpecManager
    assert KernelSpecManager().get_kernel_spec("swiftnn").display_name == "Python 3 (swiftnn)"

    nb = nbformat.read(str(notebook(
        folder / "two_layer_net.ipynb",
        "import numpy as np\nfrom cs231n.classifiers.fc_net import *\nfrom cs231n.data_utils import get_CIFAR10_data\n"
        "from cs231n.solver import Solver\nimport cs231n\nprint(cs231n.__file__)",
        "data = get_CIFAR10_data(num_training=200, num_validation=50, num_test=50)\nprint(data['X_train'].shape)",
        "np.random.seed(0)\nmodel = TwoLayerNet(hidden_dim=20, reg=0.0)\n"
        "solver = Solver(model, data, update_rule='sgd', optim_config={'learning_rate': 1e-3}, num_epochs=1,\n"
        "                batch_size=50, print_every=100, verbose=False)\nsolver.train()\n"
        "best_model = model\nbest_model.save('best_two_layer_net.npy')")), as_version=4)
    NotebookClient(nb, kernel_name="swiftnn", timeout=300,
                   resources={"metadata": {"path": str(folder)}}).execute()
    out = [o.get("text", "") for c in nb.cells for o in c.outputs]
    assert Path(out[0].strip()) == PYTHON_DIR / "cs231n" / "__init__.py"
    assert out[1].strip() == "(200, 3, 32, 32)"
    assert out[2] == "best_two_layer_net.npy saved.\n"
    saved = folder / "cs231n" / "saved" / "best_two_layer_net.npy"
    params = np.load(saved, allow_pickle=True).item()                        # the course's own formula
    assert sorted(params) == ["W1", "W2", "b1", "b2"] and params["W1"].shape == (3072, 20)


def test_kernel_spec_starts_ipykernel_with_the_package_swap():
    spec = course.kernel_spec()
    assert spec["argv"][:5] == [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert any("use_course_package" in a for a in spec["argv"])
