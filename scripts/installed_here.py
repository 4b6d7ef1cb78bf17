"""Exits 0 when `import swiftnn` in this Python resolves to this checkout (an in-place install
already made), 1 otherwise. Finds the module without importing it: the library may not be built."""
import importlib.util
import sys
from pathlib import Path

spec = importlib.util.find_spec("swiftnn")
here = Path(__file__).resolve().parent.parent / "python" / "swiftnn" / "__init__.py"
sys.exit(0 if spec is not None and spec.origin and Path(spec.origin).resolve() == here else 1)
