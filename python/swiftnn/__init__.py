"""swiftnn: fully connected neural networks on a Swift engine, with CS231n's API."""
from ._native import SwiftNNError, lib as _lib, version as __version__
from . import layers
from .trainer import Trainer


def thread_count():
    """The threads the engine computes on: OPENBLAS_NUM_THREADS (else OMP_NUM_THREADS) as set
    when the engine first runs, every CPU by default, or as set_thread_count set it since. The
    engine splits its GEMMs and long loops over them itself; the OpenBLAS it links then runs on
    one thread."""
    return int(_lib.snn_thread_count())


def set_thread_count(n):
    """Sets the threads the engine computes on, from its next call on: 1 ... the online CPUs.
    threadpoolctl's ``threadpool_limits`` (and joblib's limits for nested parallelism) do this
    through the controller swiftnn registers with threadpoolctl ("swiftnn" user API)."""
    from ._arrays import integer
    n = integer("set_thread_count", "n", n, 1, int(_lib.snn_max_thread_count()))
    _call(_lib.snn_set_thread_count(n), "set_thread_count")


from ._arrays import call as _call  # noqa: E402
from . import _threadpool  # noqa: E402,F401  (registers the threadpoolctl controller)


# The native-loop Solver; swiftnn.solver.Solver is the course-exact, Python-driven one.
Solver = Trainer

__all__ = ["SwiftNNError", "Solver", "Trainer", "layers", "thread_count", "set_thread_count", "__version__"]
