"""The package's layout as designed: no import cycle among swiftnn's modules, and the shared core
never imports a front-end. Read from the source with ast (nothing is imported or run), counting
every import statement, also those inside functions: a lazy import is still a dependency."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "swiftnn"


def module_files(root):
    """{dotted module name: path} of every .py file of the package at root."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name] + list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_modules(name, path, modules):
    """The package's modules that module `name` (source at path) imports. Relative imports are
    resolved; `from X import y` counts module X.y when that is a module (`from . import x`
    imports x), else X itself. Parent packages that Python initializes on the way are not
    counted: they are already importing when their submodules run."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level - 1 > len(base) - 1:
                    raise ValueError("%s: relative import beyond the package" % path)
                base = base[:len(base) - (node.level - 1)]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                sub = "%s.%s" % (base, alias.name)
                found.add(sub if sub in modules else base)
    return {m for m in found if m in modules and m != name}


def import_graph(root):
    modules = module_files(root)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph):
    """One import cycle as a list [a, b, ..., a], or None."""
    state = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, path)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def _write_package(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_swiftnn_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 15 and "swiftnn.cli.train" in graph and "swiftnn.experiment" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_core_and_the_search_and_checks_never_import_the_cli():
    graph = import_graph(PACKAGE)
    front = {m for m in graph if m == "swiftnn.cli" or m.startswith("swiftnn.cli.")}
    for name, imports in graph.items():
        if name in front or name == "swiftnn.__main__":
            continue
        assert not imports & front, "%s imports the command line (%s)" % (name, ", ".join(sorted(imports & front)))


def test_every_command_module_is_registered_once():
    graph = import_graph(PACKAGE)
    commands = {m for m in graph if m.startswith("swiftnn.cli.") and not m.rpartition(".")[2].startswith("_")}
    assert {"swiftnn.cli.train", "swiftnn.cli.evaluate", "swiftnn.cli.search", "swiftnn.cli.check"} <= commands
    assert commands <= graph["swiftnn.cli"], "command modules not imported by swiftnn/cli/__init__.py"
    from swiftnn.cli import COMMANDS
    assert sorted(c.__name__ for c in COMMANDS) == sorted(commands)
    assert len({c.NAME for c in COMMANDS}) == len(COMMANDS)


@pytest.mark.parametrize("files, cycle", [
    # from . import x: module x, through a package's __init__
    ({"__init__.py": "from . import a\n", "a.py": "from .sub import b\n", "sub/__init__.py": "",
      "sub/b.py": "def f():\n    from .. import a\n"}, ["pkg.a", "pkg.sub.b", "pkg.a"]),
    # absolute imports, and from-imports of a name in a module
    ({"__init__.py": "", "a.py": "import pkg.b\n", "b.py": "from pkg.a import thing\n"}, ["pkg.a", "pkg.b", "pkg.a"]),
    # `from .. import name` of a name defined in the parent package's __init__
    ({"__init__.py": "from .sub.c import C\nthing = 1\n", "sub/__init__.py": "", "sub/c.py": "from .. import thing\n"},
     ["pkg", "pkg.sub.c", "pkg"]),
])
def test_the_cycle_finder_finds_cycles(tmp_path, files, cycle):
    root = _write_package(tmp_path / "pkg", files)
    assert find_cycle(import_graph(root)) == cycle


def test_the_cycle_finder_passes_a_layered_package(tmp_path):
    root = _write_package(tmp_path / "pkg", {
        "__init__.py": "from .core import f\n", "core.py": "import math\nfrom . import util\n", "util.py": "",
        "cli/__init__.py": "from . import run\nfrom ..core import f\n", "cli/run.py": "from ..util import *\n"})
    graph = import_graph(root)
    assert graph["pkg.cli"] == {"pkg.cli.run", "pkg.core"} and graph["pkg.core"] == {"pkg.util"}
    assert find_cycle(graph) is None


def test_pyproject_ships_every_package():
    # A subpackage missing from the explicit list is left out of the installed package (the
    # console script would fail on `import swiftnn.cli` while every test in the checkout passes).
    tomllib = pytest.importorskip("tomllib")
    python = PACKAGE.parent
    config = tomllib.loads((python.parent / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(python).parts) for p in python.rglob("__init__.py")
             if "tests" not in p.relative_to(python).parts}
    assert found <= listed, "packages missing from pyproject.toml: %s" % ", ".join(sorted(found - listed))
