"""Run swiftnn's notebooks top to bottom in a Jupyter kernel, the way the test suite does.

    python3 notebooks/run_notebooks.py                 # full data; executed copies in out/notebooks/
    python3 notebooks/run_notebooks.py --small         # the test suite's sizes (SWIFTNN_SMALL=1)
    python3 notebooks/run_notebooks.py notebooks/03_normalization.ipynb   # just one

Each notebook runs with its own folder as the working directory (the course notebooks in
python/tests/notebooks/ too). An executed copy, with its outputs, plots and progress bars, is
written to --out (default out/notebooks/); the committed notebooks stay without outputs.
A cell that raises stops that notebook and makes the exit status 1. The time each notebook
took is printed at the end.

The course notebooks (python/tests/notebooks/) need CIFAR-10 in its python-pickle folder
(``cifar-10-batches-py``), found through $SWIFTNN_DATA, ``cs231n/datasets/`` under the working
directory, or ``python/cs231n/datasets/``; without it they are skipped here (the test suite
writes a small folder in the real format and runs them on it).
"""
import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OURS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
COURSE = sorted((REPO / "python" / "tests" / "notebooks").glob("*.ipynb"))


def execute(path, cwd=None, timeout=1800, env=None):
    """Execute the notebook at path in a fresh python3 kernel and return (notebook, seconds).

    cwd: the kernel's working directory (default: the notebook's folder). env: variables to
    set for the kernel (a value of None removes the variable). Raises
    nbclient.exceptions.CellExecutionError, naming the cell, when a cell raises."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    saved = {}
    for k, v in (env or {}).items():
        saved[k] = os.environ.get(k)
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = str(v)
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd or Path(path).parent)}})
        start = time.perf_counter()
        client.execute()
        return nb, time.perf_counter() - start
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def stdout_text(nb):
    """Everything the notebook's cells printed to stdout, in order."""
    return "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", []) if out.get("output_type") == "stream"
                   and out.get("name") == "stdout")


def _have_cifar10(cwd):
    sys.path.insert(0, str(REPO / "python"))
    from swiftnn.data import cifar10_candidates
    places = [p if p.is_absolute() else Path(cwd) / p for p in cifar10_candidates()]
    places.append(Path(cwd) / "cs231n" / "datasets" / "cifar-10-batches-py")
    return any((p / "data_batch_1").is_file() for p in places)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: notebooks/*.ipynb and the course notebooks)")
    parser.add_argument("--small", action="store_true", help="small data, as in CI (SWIFTNN_SMALL=1)")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "notebooks",
                        help="folder for the executed copies (default: out/notebooks)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    args = parser.parse_args(argv)

    import nbformat
    from nbclient.exceptions import CellExecutionError

    paths = args.notebooks or (OURS + COURSE)
    env = {"SWIFTNN_SMALL": "1" if args.small else "0"}
    args.out.mkdir(parents=True, exist_ok=True)
    times, failed = [], []
    for path in paths:
        path = path.resolve()
        if path in COURSE and not _have_cifar10(path.parent):
            print("skip %s: CIFAR-10 not found (set SWIFTNN_DATA)" % path.name)
            continue
        print("run  %s ..." % path.relative_to(REPO) if path.is_relative_to(REPO) else path, flush=True)
        try:
            nb, seconds = execute(path, timeout=args.timeout, env=env)
        except CellExecutionError as err:
            print("FAIL %s\n%s" % (path.name, err))
            failed.append(path.name)
            continue
        nbformat.write(nb, str(args.out / path.name))
        times.append((path.name, seconds))
        print("     %.1f s -> %s" % (seconds, args.out / path.name), flush=True)
    print("\n%-44s %8s" % ("notebook (%s data)" % ("small" if args.small else "full"), "seconds"))
    for name, seconds in times:
        print("%-44s %8.1f" % (name, seconds))
    print("%-44s %8.1f" % ("total", sum(s for _, s in times)))
    if failed:
        print("failed: %s" % ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
