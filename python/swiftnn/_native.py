"""Loads libswiftnn, declares every C signature once, and turns status codes into exceptions.

The library is found, in order: the ``SWIFTNN_LIB`` environment variable, next to this
package (an installed wheel or ``pip install``), then the release build folder of a source
checkout (``.build/release``). This module holds no numerics.
"""
import ctypes
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np

_LIB_NAME = "libswiftnn.so"


class SwiftNNError(ValueError):
    """A call into libswiftnn was refused; ``status`` is the SNN_E_* code."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


# The SNN_E_* codes of include/swiftnn.h and the Python exception each becomes.
STATUS_NAMES = {
    -1: "SNN_E_NULL",
    -2: "SNN_E_SIZE",
    -3: "SNN_E_SHAPE",
    -4: "SNN_E_VALUE",
    -5: "SNN_E_NONFINITE",
    -6: "SNN_E_ALLOC",
    -7: "SNN_E_HANDLE",
}


def _candidates():
    env = os.environ.get("SWIFTNN_LIB")
    if env:
        yield Path(env)
        return
    here = Path(__file__).resolve().parent
    yield here / _LIB_NAME
    yield here.parent.parent / ".build" / "release" / _LIB_NAME


def _load():
    tried = []
    for path in _candidates():
        tried.append(str(path))
        if path.is_file():
            return ctypes.CDLL(str(path))
    raise ImportError(
        "swiftnn: cannot find %s (looked in: %s). Build it with `make build` in the source "
        "checkout, install the package with `pip install .`, or point SWIFTNN_LIB at the file."
        % (_LIB_NAME, ", ".join(tried)))


# glibc hands blocks above a moving threshold (128 KiB at first) straight back to the kernel
# and trims the heap's free top, so the megabyte arrays a training step allocates and drops
# (a minibatch, a layer's dx) are page-faulted and zeroed again every step: the course API's W1
# step measured 8.7-9.1 ms with that, 2.7-3.9 ms with these settings. Blocks up to 32 MiB
# (glibc's own ceiling for that threshold) now come from the heap, and up to 128 MiB of free heap
# is kept. SWIFTNN_SYSTEM_MALLOC=1 leaves the process's allocator as it was.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
HEAP_BLOCKS_UP_TO, HEAP_KEPT_FREE = 32 << 20, 128 << 20


def _keep_large_blocks_in_the_heap():
    if os.environ.get("SWIFTNN_SYSTEM_MALLOC") == "1":
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only: other allocators have other knobs
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, HEAP_BLOCKS_UP_TO) and mallopt(M_TRIM_THRESHOLD, HEAP_KEPT_FREE))


malloc_tuned = _keep_large_blocks_in_the_heap()
lib = _load()
lib.snn_last_error.restype = ctypes.c_char_p
lib.snn_last_error.argtypes = []
lib.snn_version.restype = ctypes.c_char_p
lib.snn_version.argtypes = []
version = lib.snn_version().decode()
lib.snn_thread_count.restype = ctypes.c_int64
lib.snn_thread_count.argtypes = []

_P = ctypes.c_void_p   # any buffer
_I = ctypes.c_int64    # a size
_D = ctypes.c_double   # a hyperparameter
_M = ctypes.c_int32    # a mode
_S = ctypes.c_uint64   # a seed

# Argument types of every precision-suffixed entry point, named without the snn_ prefix and
# the _f32/_f64 suffix. The one place a C signature is written down on the Python side.
_SIGNATURES = {
    "affine_forward": (_P, _P, _P, _P, _I, _I, _I),
    "affine_backward": (_P, _P, _P, _P, _P, _P, _I, _I, _I),
    "relu_forward": (_P, _P, _I),
    "relu_backward": (_P, _P, _P, _I),
    "affine_relu_forward": (_P, _P, _P, _P, _P, _I, _I, _I),
    "affine_relu_backward": (_P, _P, _P, _P, _P, _P, _P, _I, _I, _I),
    "softmax_loss": (_P, _P, _P, _P, _I, _I),
    "svm_loss": (_P, _P, _P, _P, _I, _I),
    "batchnorm_forward": (_P,) * 9 + (_I, _I, _D, _D, _M),
    "batchnorm_backward": (_P,) * 8 + (_I, _I),
    "batchnorm_backward_alt": (_P,) * 8 + (_I, _I),
    "layernorm_forward": (_P,) * 6 + (_I, _I, _D),
    "layernorm_backward": (_P,) * 8 + (_I, _I),
    "dropout_forward": (_P, _P, _P, _I, _D, _S),
    "dropout_forward_masked": (_P, _P, _P, _I),
    "dropout_backward": (_P, _P, _P, _I),
    "update": (_M, _P, _P, _P, _P, _I, _P),
    "update_many": (_M, _I, _P, _P, _P, _P, _P, _P),
    "net_create": (_P, _P, _I, _M, _D, _M, _D),
    "net_loss": (_P, _P, _P, _P, _P, _P, _P, _P, _I, _I, _D, _P, _P, _S),
    "trainer_create": (_P, _P, _I, _M, _D, _M, _D, _P, _P, _P),
    "trainer_set_data": (_P, _P, _P, _I, _P, _P, _I, _I, _I, _I, _S),
}

# Entry points that work on a handle of either precision.
_GENERIC = {
    "net_destroy": (_P,),
    "trainer_destroy": (_P,),
    "trainer_set_optimizer": (_P, _M, _P, _D),
    "trainer_set_schedule": (_P, _M, _D, _I, _I, _I),
    "trainer_run": (_P, _I, _P, _P, _P),
    "trainer_evaluate": (_P, _P, _P, _P, _P),
    "trainer_restore_best": (_P,),
    "trainer_state": (_P, _P, _P, _P),
    "trainer_set_progress": (_P, _I, _I, _D),
}

MODE_TRAIN = 0
MODE_TEST = 1


def _declare(suffix):
    table = {}
    for name, argtypes in _SIGNATURES.items():
        fn = getattr(lib, "snn_%s_%s" % (name, suffix))
        fn.argtypes = argtypes
        fn.restype = ctypes.c_int32
        table[name] = fn
    return SimpleNamespace(**table)


for _name, _argtypes in _GENERIC.items():
    _fn = getattr(lib, "snn_" + _name)
    _fn.argtypes = _argtypes
    _fn.restype = ctypes.c_int32

f32 = _declare("f32")
f64 = _declare("f64")
KERNELS = {np.dtype(np.float32): f32, np.dtype(np.float64): f64}


def raise_status(status, where):
    """Raises the exception for a non-zero status returned by the C call named ``where``."""
    message = lib.snn_last_error().decode(errors="replace")
    text = "%s: %s" % (where, message)
    if status == -6:
        raise MemoryError(text)
    raise SwiftNNError(text, status)


# The address of an ndarray's first element, for the per-call hot paths. ``a.ctypes.data``
# builds a Python-level helper object per call (2-4 µs, more than a small layer's whole native
# call); the address is the ``data`` field of NumPy's PyArrayObject, which compiled extensions
# read through PyArray_DATA, so its offset is part of NumPy's ABI: right after the object
# header, at id(a) + 16 on 64-bit CPython. It is read here as a word of memory (~0.1 µs). The
# layout is verified at import on arrays of several kinds; where it does not hold (another
# Python implementation, a debug build), ``a.ctypes.data`` is used. Callers pass ndarrays only.
_WORDS = ctypes.cast(8, ctypes.POINTER(ctypes.c_ssize_t))   # _WORDS[i]: the word at 8 * (i + 1)


def _address_by_header(array):
    return _WORDS[(id(array) >> 3) + 1]


def _address_by_ctypes(array):
    return array.ctypes.data


def _header_layout_holds():
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        return False
    base = np.arange(24, dtype=np.float64)
    samples = [base, base[3:], base.reshape(4, 6)[1:], np.empty(0, np.float32), np.zeros((2, 3), np.int64),
               np.frombuffer(bytes(16), np.uint8), base.reshape(4, 6).T]
    try:
        return all(id(a) % 8 == 0 and _address_by_header(a) == a.ctypes.data for a in samples)
    except Exception:   # noqa: BLE001  any failure means: do not read memory this way
        return False


address = _address_by_header if _header_layout_holds() else _address_by_ctypes
