"""The C ABI: include/swiftnn.h against the exports of the built libswiftnn.so, a C program
compiled against the header, and refused (not crashing) NULL pointers and bad sizes."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from swiftnn import _native

ROOT = Path(__file__).resolve().parents[2]
HEADER = ROOT / "include" / "swiftnn.h"
LIB = Path(_native.lib._name).resolve()


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is required for the C ABI tests and is not installed" % name)
    return path


def declared_functions():
    text = subprocess.run([_tool("gcc"), "-E", "-P", str(HEADER)], capture_output=True, text=True,
                          check=True).stdout
    return set(re.findall(r"\b(snn_\w+)\s*\(", text))


def exported_functions():
    text = subprocess.run([_tool("nm"), "-D", "--defined-only", str(LIB)], capture_output=True, text=True,
                          check=True).stdout
    names = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].startswith("snn_"):
            names.add(parts[2].split("@")[0])
    return names


def test_library_is_the_one_python_loads():
    assert LIB.is_file(), LIB
    assert LIB.name == "libswiftnn.so"


def test_every_declared_function_is_exported():
    declared, exported = declared_functions(), exported_functions()
    assert declared, "no snn_ declarations parsed from %s" % HEADER
    missing = sorted(declared - exported)
    assert not missing, "declared in swiftnn.h but not exported by %s: %s" % (LIB, missing)


def test_every_export_is_declared():
    declared, exported = declared_functions(), exported_functions()
    assert exported, "no snn_ exports found in %s" % LIB
    extra = sorted(exported - declared)
    assert not extra, "exported by %s but not declared in swiftnn.h: %s" % (LIB, extra)


def test_every_numeric_entry_point_has_both_precisions():
    declared = declared_functions()
    stems = {re.sub(r"_f(32|64)$", "", n) for n in declared if re.search(r"_f(32|64)$", n)}
    for stem in stems:
        assert {stem + "_f32", stem + "_f64"} <= declared, stem


def test_python_signature_table_names_exist_in_header():
    declared = declared_functions()
    for name in _native._SIGNATURES:
        for suffix in ("f32", "f64"):
            assert "snn_%s_%s" % (name, suffix) in declared


C_PROGRAM = r"""
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <ctype.h>
#include "swiftnn.h"

/* 1 if `word` occurs in `text` delimited by non-identifier characters. */
static int names(const char *text, const char *word) {
    size_t len = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        int before = (p == text) || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = !(isalnum((unsigned char)p[len]) || p[len] == '_');
        if (before && after) return 1;
    }
    return 0;
}

int main(void) {
    const char *first = snn_last_error();
    if (first == NULL || first[0] != '\0') { printf("FAIL last_error before any failure\n"); return 2; }
    const char *version = snn_version();
    if (version == NULL || version[0] == '\0') { printf("FAIL version\n"); return 3; }

    /* x (2, 3), w (3, 2), b (2) */
    const double x[6] = {1, 2, 3, 4, 5, 6};
    const double w[6] = {1, -1, 0.5, 2, -2, 0.25};
    const double b[2] = {0.5, -3};
    const double expected[4] = {1*1 + 2*0.5 + 3*-2 + 0.5, 1*-1 + 2*2 + 3*0.25 - 3,
                                4*1 + 5*0.5 + 6*-2 + 0.5, 4*-1 + 5*2 + 6*0.25 - 3};
    double out[4] = {0, 0, 0, 0};
    int32_t status = snn_affine_forward_f64(out, x, w, b, 2, 3, 2);
    if (status != SNN_OK) { printf("FAIL status %d: %s\n", status, snn_last_error()); return 4; }
    for (int i = 0; i < 4; i++) {
        if (fabs(out[i] - expected[i]) > 1e-12) {
            printf("FAIL out[%d] = %.17g, expected %.17g\n", i, out[i], expected[i]);
            return 5;
        }
    }

    float xf[6] = {1, 2, 3, 4, 5, 6}, wf[6] = {1, -1, 0.5f, 2, -2, 0.25f}, bf[2] = {0.5f, -3};
    float outf[4];
    status = snn_affine_forward_f32(outf, xf, wf, bf, 2, 3, 2);
    if (status != SNN_OK) { printf("FAIL f32 status %d\n", status); return 6; }
    for (int i = 0; i < 4; i++) {
        if (fabsf(outf[i] - (float)expected[i]) > 1e-5f) { printf("FAIL f32 out[%d]\n", i); return 7; }
    }

    double untouched[4] = {7, 7, 7, 7};
    status = snn_affine_forward_f64(untouched, x, w, b, 0, 3, 2);
    const char *message = snn_last_error();
    if (status != SNN_E_SIZE) { printf("FAIL n=0 status %d, expected %d\n", status, SNN_E_SIZE); return 8; }
    if (message == NULL || !names(message, "n")) {
        printf("FAIL n=0 message does not name n: %s\n", message ? message : "(null)");
        return 9;
    }
    printf("n=0 message: %s\n", message);

    /* the message stays until the next failing call; a successful call does not clear it */
    status = snn_affine_forward_f64(out, x, w, b, 2, 3, 2);
    if (status != SNN_OK) { printf("FAIL second call %d\n", status); return 10; }

    printf("OK %.17g %.17g %.17g %.17g\n", out[0], out[1], out[2], out[3]);
    return 0;
}
"""


def test_c_program_against_header_and_library(tmp_path):
    gcc = _tool("gcc")
    src = tmp_path / "abi_check.c"
    src.write_text(C_PROGRAM)
    exe = tmp_path / "abi_check"
    libdir = str(LIB.parent)
    compile_ = subprocess.run(
        [gcc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", str(HEADER.parent), str(src),
         "-o", str(exe), "-L", libdir, "-lswiftnn", "-Wl,-rpath," + libdir, "-lm"],
        capture_output=True, text=True)
    assert compile_.returncode == 0, "gcc failed:\n" + compile_.stderr
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, "C program exited %d:\n%s%s" % (run.returncode, run.stdout, run.stderr)
    lines = run.stdout.splitlines()
    assert lines[-1].startswith("OK ")
    values = [float(v) for v in lines[-1].split()[1:]]
    assert values == [-3.5, 0.75, -5.0, 4.5]
    message = lines[0].split(":", 1)[1]
    assert re.search(r"(?<![A-Za-z0-9_])n(?![A-Za-z0-9_])", message), message


def test_c_program_links_the_header_as_cpp(tmp_path):
    """The header's extern "C" block lets C++ callers link the same exports."""
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not installed")
    src = tmp_path / "abi_check.cpp"
    src.write_text('#include "swiftnn.h"\nint main() { double o[1]; double x[1] = {2}, w[1] = {3}, '
                   'b[1] = {1};\n return snn_affine_forward_f64(o, x, w, b, 1, 1, 1) == SNN_OK && '
                   'o[0] == 7.0 ? 0 : 1; }\n')
    exe = tmp_path / "abi_check_cpp"
    libdir = str(LIB.parent)
    compile_ = subprocess.run([gxx, "-I", str(HEADER.parent), str(src), "-o", str(exe), "-L", libdir,
                               "-lswiftnn", "-Wl,-rpath," + libdir], capture_output=True, text=True)
    assert compile_.returncode == 0, compile_.stderr
    assert subprocess.run([str(exe)], timeout=60).returncode == 0


# ---- NULL pointers and bad sizes through the raw entry points ---------------------------

# The per-layer entry points (the ones swiftnn.layers calls), by their names in
# swiftnn._native._SIGNATURES, which gives their argument types.
LAYER_KERNELS = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward", "affine_relu_forward",
    "affine_relu_backward", "softmax_loss", "svm_loss", "batchnorm_forward", "batchnorm_backward",
    "batchnorm_backward_alt", "layernorm_forward", "layernorm_backward", "dropout_forward",
    "dropout_forward_masked", "dropout_backward",
]

_CHILD = r"""
import ctypes, sys
sys.path.insert(0, %r)
from swiftnn import _native as nat

results = []
for name in %r:
    argtypes = nat._SIGNATURES[name]
    for suffix in ("f32", "f64"):
        fn = getattr(getattr(nat, suffix), name)
        def args(size):
            out = []
            for t in argtypes:
                if t is nat._P: out.append(None)
                elif t is nat._I: out.append(size)
                elif t is nat._D: out.append(0.5)
                elif t is nat._M: out.append(0)
                elif t is nat._S: out.append(1)
                else: raise SystemExit("unknown argument type %%r of %%s" %% (t, name))
            return out
        for label, size in (("null", 1), ("zero", 0), ("negative", -1), ("huge", 2**40), ("max", 2**63 - 1)):
            print(name, suffix, label, flush=True)
            status = fn(*args(size))
            message = nat.lib.snn_last_error()
            results.append((name, suffix, label, status, message.decode() if message else None))
for r in results:
    print("RESULT", repr(r))
print("DONE")
"""


def test_raw_entry_points_refuse_null_and_bad_sizes():
    """Every per-layer export called with NULL buffers and sizes 1, 0, -1, 2**40
    and 2**63-1 returns a negative status with a message, in a child process so that a
    crash is reported instead of ending the session. With valid sizes the status must be
    SNN_E_NULL; with invalid ones SNN_E_SIZE or SNN_E_NULL."""
    proc = subprocess.run([sys.executable, "-c", _CHILD % (str(ROOT / "python"), LAYER_KERNELS)], capture_output=True,
                          text=True, timeout=120)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and lines and lines[-1] == "DONE", (
        "child exited %d after %r\n%s" % (proc.returncode, (lines or ["<nothing>"])[-1], proc.stderr[-3000:]))
    import ast
    results = [ast.literal_eval(line[len("RESULT "):]) for line in lines if line.startswith("RESULT ")]
    assert len(results) == len(LAYER_KERNELS) * 2 * 5
    bad = []
    for name, suffix, label, status, message in results:
        allowed = {-1} if label == "null" else {-1, -2}
        if status not in allowed or not message:
            bad.append((name, suffix, label, status, message))
    assert not bad, "unexpected statuses: %s" % bad
