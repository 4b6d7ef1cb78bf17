import sys
from pathlib import Path

try:
    import swiftnn  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
