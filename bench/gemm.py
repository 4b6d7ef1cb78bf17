"""This machine's single-precision GEMM rate, measured: 2048^3 sgemm through NumPy (its own
bundled OpenBLAS) and through cblas_sgemm of the OpenBLAS that libswiftnn links (Debian's),
called with ctypes; and, per workload, the time of that step's GEMMs alone at their own
shapes (the workload's GEMM bound). Prints one JSON line.

    python bench/gemm.py [--size 2048] [--repeats 10]
"""
import argparse
import ctypes
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import threads  # noqa: E402
import workloads  # noqa: E402

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def median_seconds(fn, repeats, warmup=2, min_seconds=0.0):
    for _ in range(warmup):
        fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < repeats or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return float(np.median(samples)), samples


def swiftnn_openblas():
    """cblas_sgemm of the OpenBLAS libswiftnn is linked with (found after loading libswiftnn)."""
    import swiftnn  # noqa: F401  loads libswiftnn and, with it, its OpenBLAS
    for path in threads.loaded_libraries("openblas"):
        if "scipy_openblas" in path or "numpy" in path:
            continue
        lib = ctypes.CDLL(path)
        if hasattr(lib, "cblas_sgemm"):
            fn = lib.cblas_sgemm
            fn.restype = None
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                           ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                           ctypes.c_float, ctypes.c_void_p, ctypes.c_int]
            return path, fn
    return None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    n = args.size
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    Cm = np.empty((n, n), np.float32)
    flops = 2.0 * n ** 3
    out = {"size": n, "env": threads.env()}

    t, _ = median_seconds(lambda: np.matmul(A, B, out=Cm), args.repeats)
    out["numpy_gflops"] = flops / t / 1e9

    path, sgemm = swiftnn_openblas()
    out["swiftnn_blas"] = path
    if sgemm is not None:
        pa, pb, pc = A.ctypes.data, B.ctypes.data, Cm.ctypes.data
        t, _ = median_seconds(lambda: sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, n, n, n, 1.0, pa, n, pb, n, 0.0, pc, n),
                              args.repeats)
        out["swiftnn_blas_gflops"] = flops / t / 1e9
        check = A[:64] @ B
        if not np.allclose(Cm[:64], check, rtol=1e-3, atol=1e-2):
            out["swiftnn_blas_error"] = "cblas_sgemm result differs from NumPy's"

        # Each workload's GEMMs at their own shapes, through the engine's OpenBLAS.
        out["workloads"] = {}
        for key, w in workloads.WORKLOADS.items():
            bufs = []
            for m, nn, k, ta, tb in w.gemms():
                a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
                b = rng.standard_normal((nn, k) if tb else (k, nn), dtype=np.float32)
                c = np.empty((m, nn), np.float32)
                bufs.append((m, nn, k, ta, tb, a, b, c))

            def all_gemms():
                for m, nn, k, ta, tb, a, b, c in bufs:
                    sgemm(ROW_MAJOR, TRANS if ta else NO_TRANS, TRANS if tb else NO_TRANS, m, nn, k, 1.0,
                          a.ctypes.data, a.shape[1], b.ctypes.data, b.shape[1], 0.0, c.ctypes.data, nn)

            t, _ = median_seconds(all_gemms, 50, warmup=5, min_seconds=0.5)
            out["workloads"][key] = {"gemm_ms": t * 1e3, "gflops": w.flops / t / 1e9}
    out["blas"] = threads.blas_pools()
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
