"""swiftnn: fully connected neural networks on a Swift engine, with CS231n's API."""
from ._native import SwiftNNError, lib as _lib, version as __version__
from . import layers
from .trainer import Trainer


def thread_count():
    """The threads the engine computes on: OPENBLAS_NUM_THREADS (else OMP_NUM_THREADS) as set
    when the engine first runs, every CPU by default. The engine splits its GEMMs and long loops
    over them itself; the OpenBLAS it links then runs on one thread."""
    return int(_lib.snn_thread_count())


# The native-loop Solver; swiftnn.solver.Solver is the course-exact, Python-driven one.
Solver = Trainer

__all__ = ["SwiftNNError", "Solver", "Trainer", "layers", "thread_count", "__version__"]
