"""Argument checks and conversions shared by the Python API: the only place that decides
which precision a call runs in and what a bad argument's message says."""
import numpy as np

from . import _native

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
_ND = np.ndarray


def _real_dtype(where, name, array):
    dt = array.dtype
    if dt.kind not in "biuf":
        raise TypeError("%s: %s has dtype %s; expected real numbers (float32, float64 or integers)"
                        % (where, name, dt))
    return dt


def compute_dtype(where, named):
    """The precision a call over ``named`` arrays runs in, chosen as NumPy promotes them:
    float32 stays float32, float64 or any mix with it gives float64, integers and booleans
    give float64, float16 is computed in float32."""
    dtypes = [_real_dtype(where, name, a) for name, a in named]
    dt = np.result_type(*dtypes)
    if dt == _F32 or dt == _F64:
        return dt
    if dt.kind == "f" and dt.itemsize < 4:
        return _F32
    return _F64


def kernels_of(a):
    """The fast path's one test per array: the kernel table of a C-contiguous float32 or
    float64 ndarray, which goes to the library as it is; None for anything else (which then
    takes ``floats``). Built-in dtypes are singletons, so ``is`` decides without hashing."""
    if type(a) is _ND and a.flags.c_contiguous:
        dt = a.dtype
        if dt is _F64:
            return _native.f64
        if dt is _F32:
            return _native.f32
    return None


def floats(where, **named):
    """Converts each keyword array to one C-contiguous float dtype.

    Returns (kernels, dtype, arrays...) in keyword order; arrays already of that dtype and
    contiguous pass without a copy.
    """
    items = [(name, a if isinstance(a, np.ndarray) else np.asarray(a)) for name, a in named.items()]
    dt = compute_dtype(where, items)
    out = [np.ascontiguousarray(a, dtype=dt) for _, a in items]
    return (_native.KERNELS[dt], dt, *out)


def same_floats(where, names, arrays):
    """``floats`` for positional arrays, with the fast path first: when every array is a
    C-contiguous ndarray of one float dtype, returns (kernels, arrays) untouched."""
    k = kernels_of(arrays[0])
    if k is not None:
        for a in arrays[1:]:
            if kernels_of(a) is not k:
                break
        else:
            return k, arrays
    k, _, *out = floats(where, **dict(zip(names, arrays)))
    return k, out


def labels(where, y, n, c):
    """y as C-contiguous int64 of shape (n,); range is checked by the engine."""
    if type(y) is _ND and y.dtype is _I64 and y.shape == (n,) and y.flags.c_contiguous:
        return y
    y = y if isinstance(y, np.ndarray) else np.asarray(y)
    if y.dtype.kind not in "iu":
        raise TypeError("%s: y must hold integer class labels, got dtype %s" % (where, y.dtype))
    if y.shape != (n,):
        raise ValueError("%s: y has shape %s, expected (%d,) — one label per row of x"
                         % (where, y.shape, n))
    if y.dtype == np.uint64 and y.size and y.max() > np.iinfo(np.int64).max:
        raise ValueError("%s: y holds %d, which is not a class index" % (where, y.max()))
    return np.ascontiguousarray(y, dtype=np.int64)


def integer(where, name, value, minimum, maximum=2**62):
    """value as an int in [minimum, maximum]; a bool, a fraction or a string is refused, not
    truncated (the library would otherwise get a value the caller did not write)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError("%s: %s must be an integer, got %r" % (where, name, value))
    if not minimum <= value <= maximum:
        raise ValueError("%s: %s = %d, expected an integer in [%d, %d]" % (where, name, value, minimum, maximum))
    return int(value)


def require_ndim(where, name, a, ndim, meaning):
    if a.ndim != ndim:
        raise ValueError("%s: %s must be %d-D %s, got shape %s" % (where, name, ndim, meaning, a.shape))


def require_nonempty(where, name, a):
    if a.size == 0:
        raise ValueError("%s: %s is empty (shape %s); every size must be at least 1"
                         % (where, name, a.shape))


def require_shape(where, name, a, shape, why):
    if a.shape != shape:
        raise ValueError("%s: %s has shape %s, expected %s (%s)" % (where, name, a.shape, shape, why))


def call(status, where):
    if status:
        _native.raise_status(status, where)
