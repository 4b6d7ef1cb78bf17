"""The course's ``cs231n/solver.py``: the Solver of swiftnn.solver, which with the default
keyword arguments follows the course's semantics (arguments, random draws, printed lines,
checkpoints) with one difference: a NaN or infinite loss raises ``DivergenceError`` where the
course's Solver records it and goes on; ``stop_on_divergence=False`` turns that off (see
swiftnn.solver for what then happens with swiftnn's models)."""
from swiftnn.solver import DivergenceError, Solver  # noqa: F401
