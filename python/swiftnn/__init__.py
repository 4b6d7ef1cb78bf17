"""swiftnn: fully connected neural networks on a Swift engine, with CS231n's API."""
from ._native import SwiftNNError, version as __version__
from . import layers
from .trainer import Trainer

# The native-loop Solver; swiftnn.solver.Solver is the course-exact, Python-driven one.
Solver = Trainer

__all__ = ["SwiftNNError", "Solver", "Trainer", "layers", "__version__"]
