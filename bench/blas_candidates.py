"""The BLAS candidates at the shapes the engine runs: each GEMM of a workload's step cut into the
blocks libswiftnn cuts it into (one per thread, the same rule as Parallel.swift's gemm), each
block timed on one thread, as the engine runs it, through Debian's OpenBLAS (the one libswiftnn
links) and PyPI's scipy-openblas32 (the OpenBLAS NumPy's wheels are built on), alternating
call by call in this process. Prints the kernel each library picked on this CPU.

    python bench/blas_candidates.py [--workload W4] [--threads 2] [--repeats 30]
"""
import argparse
import ctypes
import ctypes.util
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads  # noqa: E402

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
ARGS = [ctypes.c_int] * 6 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                             ctypes.c_float, ctypes.c_void_p, ctypes.c_int]


def load(path, prefix):
    lib = ctypes.CDLL(path)
    sgemm = getattr(lib, prefix + "cblas_sgemm")
    sgemm.restype, sgemm.argtypes = None, ARGS
    getattr(lib, prefix + "openblas_set_num_threads")(1)
    core = getattr(lib, prefix + "openblas_get_corename")
    core.restype = ctypes.c_char_p
    config = getattr(lib, prefix + "openblas_get_config")
    config.restype = ctypes.c_char_p
    return sgemm, "%s (%s)" % (config().decode(), core().decode())


def blocks(m, n, k, threads, minimum_edge=32, minimum_flop=1 << 20):
    """The engine's blocks of an (m, n, k) GEMM: [(rows, cols)], as Parallel.swift's gemm cuts it."""
    split = threads > 1 and 2 * m * n * k >= minimum_flop and max(m, n) >= threads * minimum_edge
    b = threads if split else 1
    by_rows = m >= b * minimum_edge and (m >= n or n < b * minimum_edge)
    count, align = (m, 4) if by_rows else (n, 16)
    if b <= 1:
        return [(m, n)]
    pieces = min(b, count // align)
    step = ((count + pieces - 1) // pieces + align - 1) // align * align
    sizes = [min(step, count - i * step) for i in range(pieces) if i * step < count]
    return [(s, n) if by_rows else (m, s) for s in sizes]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="W4")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    import scipy_openblas32
    debian = ctypes.util.find_library("openblas") or "libopenblas.so.0"
    libs = {"debian": load(debian, ""),
            "scipy-openblas32": load(os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas.so"), "scipy_")}
    for name, (_, what) in libs.items():
        print("%s: %s" % (name, what))
    w = workloads.WORKLOADS[args.workload]
    rng = np.random.default_rng(0)
    total = {name: 0.0 for name in libs}
    print("%-22s %-14s %10s %10s %7s" % ("GEMM (m, n, k, tA, tB)", "block", "debian us", "pypi us", "pypi/deb"))
    for m, n, k, ta, tb in w.gemms():
        a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
        c = np.zeros((m, n), np.float32)
        for bm, bn in blocks(m, n, k, args.threads)[:1]:  # the blocks are equal but for the last one's edge
            samples = {name: [] for name in libs}
            for r in range(args.repeats + 3):
                for name, (sgemm, _) in (libs.items() if r % 2 == 0 else reversed(libs.items())):
                    t = time.perf_counter()
                    sgemm(ROW_MAJOR, TRANS if ta else NO_TRANS, TRANS if tb else NO_TRANS, bm, bn, k, 1.0,
                          a.ctypes.data, a.shape[1], b.ctypes.data, b.shape[1], 0.0, c.ctypes.data, n)
                    if r >= 3:
                        samples[name].append(time.perf_counter() - t)
            med = {name: float(np.median(s)) * 1e6 for name, s in samples.items()}
            for name in libs:
                total[name] += med[name]
            print("%-22s %-14s %10.1f %10.1f %7.3f" % ((m, n, k, int(ta), int(tb)), "%dx%d" % (bm, bn),
                                                      med["debian"], med["scipy-openblas32"],
                                                      med["scipy-openblas32"] / med["debian"]))
    print("sum of first blocks: debian %.0f us, scipy-openblas32 %.0f us: pypi/debian %.3f"
          % (total["debian"], total["scipy-openblas32"], total["scipy-openblas32"] / total["debian"]))


if __name__ == "__main__":
    main()
