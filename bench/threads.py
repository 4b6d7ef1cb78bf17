"""What thread pools a process has: the OpenBLAS libraries loaded in it and their thread
counts, and the process's thread count. No dependency beyond ctypes."""
import ctypes
import os

_GETTERS = ("openblas_get_num_threads", "openblas_get_num_threads64_", "scipy_openblas_get_num_threads64_",
            "scipy_openblas_get_num_threads")
_CONFIGS = ("openblas_get_config", "openblas_get_config64_", "scipy_openblas_get_config64_")


def loaded_libraries(pattern="blas"):
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and pattern in parts[-1].lower() and parts[-1] not in paths:
                    paths.append(parts[-1])
    except OSError:
        pass
    return paths


def blas_pools():
    """[(path, threads or None, config string or None)] for every *blas* library mapped."""
    out = []
    for path in loaded_libraries():
        if not path.endswith(".so") and ".so." not in path:
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        threads = config = None
        for name in _GETTERS:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_int
                threads = fn()
                break
        for name in _CONFIGS:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                config = fn().decode(errors="replace").strip()
                break
        out.append((path, threads, config))
    return out


def process_threads():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


ENV_KEYS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")


def env():
    return {k: os.environ[k] for k in ENV_KEYS if k in os.environ}
