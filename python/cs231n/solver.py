"""The course's ``cs231n/solver.py``: the Solver of swiftnn.solver (course semantics with
the default keyword arguments)."""
from swiftnn.solver import DivergenceError, Solver  # noqa: F401
