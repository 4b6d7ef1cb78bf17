"""The course's own notebooks in a student's own assignment folder.

The unzipped CS231n assignment folder holds the course's skeleton ``cs231n/`` package (the
student's TODOs; it also imports ``past``/``future``). With the notebook's folder first on
``sys.path`` that skeleton shadows swiftnn's ``cs231n``, so this module puts swiftnn's package
into ``sys.modules`` before the notebook's first cell (``use_course_package``). Modules that
swiftnn does not provide (k-nearest neighbours, features, ...) are still found in the
folder's own package, after ours. Everything that belongs to the folder stays there: CIFAR-10
is read from ``cs231n/datasets/cifar-10-batches-py`` of the working directory and models
``save`` into its ``cs231n/saved/`` (where the course's ``collect_submission`` looks).

Two ways to run a notebook so:

- ``install_kernel()`` (``swiftnn course kernel``): a Jupyter kernel "Python 3 (swiftnn)" whose
  start-up runs ``use_course_package()``; select it in Jupyter or VS Code and run the
  notebook unchanged.
- ``run_notebook(path)`` (``swiftnn course run``): runs a notebook headless in that kernel
  (nbclient), without the Google Drive cell and the dataset-download shell lines, going on
  after a failing cell, one status line per code cell.
"""
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

PACKAGE = "cs231n"
KERNEL_NAME = "swiftnn"
DISPLAY_NAME = "Python 3 (swiftnn)"
_HERE = Path(__file__).resolve().parent          # .../swiftnn
_ROOT = _HERE.parent                             # the folder holding swiftnn/ and cs231n/
STARTUP = "__import__('swiftnn.course').course.use_course_package();"  # ';': no Out[] value


def use_course_package(folder=None):
    """Makes ``import cs231n`` give swiftnn's package from now on in this process.

    ``folder`` (default: the working directory) is the assignment folder: if it holds its own
    ``cs231n/`` package, that package's folders are searched after ours, so the student's
    modules that swiftnn has no counterpart for still import. Returns the package."""
    current = sys.modules.get(PACKAGE)
    if current is not None and getattr(current, "__file__", None) \
            and Path(current.__file__).resolve().parent == _ROOT / PACKAGE:
        package = current
    else:
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]    # the skeleton, if a cell imported it already
        spec = importlib.machinery.PathFinder.find_spec(PACKAGE, [str(_ROOT)])
        if spec is None:
            raise ImportError("swiftnn: its cs231n package is missing from %s" % _ROOT)
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    theirs = Path(folder or os.getcwd()).resolve() / PACKAGE
    if theirs.is_dir() and theirs != _ROOT / PACKAGE:
        _search_after(package, theirs)
    return package


def _search_after(package, theirs):
    """Appends the skeleton's folders to our packages' search paths (ours stay first)."""
    if str(theirs) not in package.__path__:
        package.__path__.append(str(theirs))
    import cs231n.classifiers as classifiers     # the one subpackage; ours, from sys.modules
    if (theirs / "classifiers").is_dir() and str(theirs / "classifiers") not in classifiers.__path__:
        classifiers.__path__.append(str(theirs / "classifiers"))


# ------------------------------------------------------------------------------------------
# the kernel

def kernel_spec():
    """The kernelspec (kernel.json's content): this Python's ipykernel, with
    ``use_course_package()`` run at start-up, before the first cell."""
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=%s" % STARTUP],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
    }
    if not _importable_without_path():
        # a source checkout run through PYTHONPATH: the kernel needs that path too
        spec["env"] = {"PYTHONPATH": os.pathsep.join([str(_ROOT)] + [p for p in os.environ.get(
            "PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != _ROOT])}
    return spec


def _importable_without_path():
    import site
    places = set(site.getsitepackages() + [site.getusersitepackages()])
    return any(Path(p).resolve() == _ROOT for p in places if os.path.isdir(p))


def install_kernel(user=True, prefix=None):
    """Installs the kernel "Python 3 (swiftnn)" (name ``swiftnn``) with jupyter_client's
    KernelSpecManager: into the user's Jupyter data folder (``$JUPYTER_DATA_DIR`` when set,
    else ``jupyter --data-dir``), or under ``prefix``. Returns the folder written."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        raise ImportError("swiftnn course kernel: needs Jupyter (pip install 'swiftnn[notebooks]', "
                          "or pip install ipykernel)") from None
    _require_ipykernel()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "kernel.json").write_text(json.dumps(kernel_spec(), indent=1))
        _copy_logos(Path(tmp))
        return KernelSpecManager().install_kernel_spec(tmp, KERNEL_NAME, user=user and prefix is None,
                                                       replace=True, prefix=prefix)


def _copy_logos(to):
    try:
        from ipykernel.kernelspec import RESOURCES
    except ImportError:
        return
    for name in os.listdir(RESOURCES):
        if name.startswith("logo"):
            shutil.copy(os.path.join(RESOURCES, name), to / name)


def _require_ipykernel():
    if importlib.util.find_spec("ipykernel") is None:
        raise ImportError("swiftnn course: needs ipykernel in %s (pip install ipykernel)" % sys.executable)


# ------------------------------------------------------------------------------------------
# running a notebook headless

# The first cell of the Colab notebooks mounts Google Drive; outside Colab it cannot run.
_DRIVE = re.compile(r"google\.colab|drive\.mount\(")
# Lines only Colab can run: shell lines that fetch the data set (the course's get_datasets.sh,
# wget/curl of an archive) and changes into the Colab machine's /content folder.
_DOWNLOAD = re.compile(r"^\s*(!.*(get_datasets|wget\s|curl\s|\.tar\.gz|\.zip)|%cd\s+['\"]?/content\b)")


def prepared_source(source):
    """The source to run for a code cell, or None to skip it: None for the Google Drive cell,
    else the cell without its dataset-download shell lines and ``%cd /content/...`` (None if
    nothing is left)."""
    if _DRIVE.search(source):
        return None
    kept = [line for line in source.splitlines() if not _DOWNLOAD.match(line)]
    text = "\n".join(kept)
    return text if text.strip() else None


def _one_line(text):
    lines = [l.strip() for l in str(text).splitlines() if l.strip()]
    return lines[0] if lines else ""


def _spec_manager():
    """jupyter_client's KernelSpecManager that also knows the course kernel without its being
    installed (``swiftnn course run`` needs no ``swiftnn course kernel`` first)."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class Specs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            if kernel_name == KERNEL_NAME:
                return KernelSpec(resource_dir=str(_HERE), **kernel_spec())
            return super().get_kernel_spec(kernel_name)

    return Specs()


def cifar10_hint(folder):
    """Where a missing CIFAR-10 goes, for a notebook run in folder."""
    target = Path(folder).resolve() / PACKAGE / "datasets" / "cifar-10-batches-py"
    return ("CIFAR-10 is missing: put the extracted cifar-10-batches-py/ folder (data_batch_1 ... "
            "data_batch_5, test_batch; from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, "
            "which the course's cs231n/datasets/get_datasets.sh downloads) at %s, or set SWIFTNN_DATA to "
            "the folder that contains cifar-10-batches-py/." % target)


def run_notebook(path, out=None, timeout=None, log=print):
    """Runs the notebook at path in the course kernel, in the notebook's folder, and writes
    the executed notebook to out (default: ``<name>.out.ipynb`` next to it).

    The Google Drive cell and the dataset-download shell lines are not run; a failing cell
    does not stop the run. ``log`` gets one line per code cell: ``cell N: ok``,
    ``cell N: error: <exception: first line of its message>`` or ``cell N: skipped`` (N counts
    code cells from 1). Returns (number of failed cells, the output path)."""
    _require_ipykernel()
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError("%s: no such notebook" % path)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as e:   # not JSON, not a notebook
        raise ValueError("%s: not a Jupyter notebook (%s)" % (path, _one_line(e))) from None
    out = Path(out) if out is not None else path.with_name(path.stem + ".out.ipynb")
    if not out.parent.is_dir():
        raise FileNotFoundError("%s: no folder %s to write the executed notebook to" % (out, out.parent))
    folder = path.resolve().parent

    numbers, originals, skipped = {}, {}, set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        numbers[index] = len(numbers) + 1
        source = prepared_source(cell.source)
        if source is None:
            skipped.add(index)
            originals[index] = cell.source
            cell.source = ""
        elif source != cell.source:
            originals[index] = cell.source
            cell.source = source
    failures, messages, reported = [], [], set()

    def report(cell_index, status):
        reported.add(cell_index)
        log("cell %d: %s" % (numbers[cell_index], status))

    def on_start(cell, cell_index):
        if cell_index in skipped or (cell_index in numbers and not cell.source.strip()):
            report(cell_index, "skipped")

    def on_executed(cell, cell_index, execute_reply):
        content = (execute_reply or {}).get("content", {})
        if content.get("status") == "error":
            failures.append(cell_index)
            message = "%s: %s" % (content.get("ename", "Error"), _one_line(content.get("evalue", "")))
            messages.append(message)
            report(cell_index, "error: " + message)
        else:
            report(cell_index, "ok")

    km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=_spec_manager())
    client = NotebookClient(nb, km=km, kernel_name=KERNEL_NAME, timeout=timeout, allow_errors=True,
                            resources={"metadata": {"path": str(folder)}},
                            on_cell_start=on_start, on_cell_executed=on_executed)
    try:
        client.execute(cwd=str(folder))
    except (CellTimeoutError, DeadKernelError) as e:
        # the kernel is gone or stuck: the cell that was running failed, the rest did not run
        pending = [i for i in numbers if i not in reported]
        if pending:
            failures.append(pending[0])
            report(pending[0], "error: %s: %s" % (type(e).__name__, _one_line(e)))
        for index in pending[1:]:
            report(index, "skipped")
    for index, source in originals.items():
        nb.cells[index].source = source
    nbformat.write(nb, str(out))
    if any("CIFAR-10" in m or "cifar-10" in m for m in messages):
        log(cifar10_hint(folder))
    return len(failures), out
