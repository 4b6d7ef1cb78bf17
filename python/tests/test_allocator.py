"""The allocator settings swiftnn makes on import (swiftnn._native): megabyte arrays that a
training step allocates and drops, like a minibatch and a first layer's dx, are reused from
the heap instead of being page-faulted and zeroed again every step; SWIFTNN_SYSTEM_MALLOC=1
leaves glibc's defaults. Each case runs in a fresh interpreter, since the settings are
process-wide."""
import json
import shutil
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json, resource
import numpy as np
from swiftnn import _native, layers
rng = np.random.default_rng(0)
X = rng.standard_normal((2000, 3072), dtype=np.float32)
w = rng.standard_normal((3072, 50), dtype=np.float32) * 1e-2
b = np.zeros(50, np.float32)
dout = rng.standard_normal((200, 50), dtype=np.float32)

def step():
    xb = X[rng.integers(0, len(X), 200)]          # 2.4 MB, new every step
    out, cache = layers.affine_relu_forward(xb, w, b)
    dx, dw, db = layers.affine_relu_backward(dout, cache)   # dx: 2.4 MB, new every step
    return float(dx[0, 0] + dw[0, 0])

for _ in range(20):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(100):
    step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print("RESULT " + json.dumps({"tuned": _native.malloc_tuned, "faults_per_step": faults / 100}))
"""


def _run(extra_env):
    env = dict(os.environ, **extra_env)
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads([l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1][len("RESULT "):])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_steps_reuse_their_megabyte_arrays_without_page_faults():
    tuned = _run({})
    system = _run({"SWIFTNN_SYSTEM_MALLOC": "1"})
    print("minor page faults per step: %.1f with swiftnn's settings, %.1f with glibc's defaults"
          % (tuned["faults_per_step"], system["faults_per_step"]))
    assert tuned["tuned"] and not system["tuned"]
    # Two 2.4 MB arrays a step are ~1200 pages; a handful of faults a step is noise.
    assert tuned["faults_per_step"] < 20, tuned


# Counts the calls to the C allocator, by size, while armed; preloaded into the child.
COUNTER = r"""
#include <stddef.h>
#include <stdatomic.h>
extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t), *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static atomic_long calls, bytes;
static atomic_int armed;
void counter_arm(int on) { atomic_store(&armed, on); }
long counter_calls(void) { return atomic_load(&calls); }
long counter_bytes(void) { return atomic_load(&bytes); }
static void note(size_t n) { if (atomic_load(&armed)) { atomic_fetch_add(&calls, 1); atomic_fetch_add(&bytes, (long)n); } }
void *malloc(size_t n) { note(n); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(a * b); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(n); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { note(n); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { note(n); return __libc_memalign(a, n); }
int posix_memalign(void **p, size_t a, size_t n) { note(n); *p = __libc_memalign(a, n); return *p ? 0 : 12; }
"""

STEPS_CHILD = r"""
import ctypes, json
import numpy as np
import swiftnn
from swiftnn import _native
from swiftnn.models import FullyConnectedNet
counter = ctypes.CDLL(None)
counter.counter_calls.restype = counter.counter_bytes.restype = ctypes.c_long
rng = np.random.default_rng(0)
out = []
for dtype in (np.float32, np.float64):
    X = rng.standard_normal((4000, 300)).astype(dtype)
    y = rng.integers(0, 10, 4000)
    data = {"X_train": X, "y_train": y, "X_val": X[:200], "y_val": y[:200]}
    for norm, keep, rule in ((None, 1.0, "sgd"), ("batchnorm", 0.8, "adam"), ("layernorm", 1.0, "rmsprop"),
                             (None, 0.5, "sgd_momentum")):
        model = FullyConnectedNet([400, 100], input_dim=300, num_classes=10, normalization=norm,
                                  dropout_keep_ratio=keep, reg=1e-3, dtype=dtype)
        trainer = swiftnn.Trainer(model, data, update_rule=rule, batch_size=50, num_epochs=1,
                                  progress=False, verbose=False)
        trainer.train()   # binds everything and sizes the workspace
        losses = np.zeros(64)
        done, ended = ctypes.c_int64(), ctypes.c_int32()
        counts = {}
        for steps in (1, 1, 30, 30):
            before = counter.counter_calls(), counter.counter_bytes()
            counter.counter_arm(1)
            status = _native.lib.snn_trainer_run(trainer._handle, steps, losses.ctypes.data,
                                                 ctypes.byref(done), ctypes.byref(ended))
            counter.counter_arm(0)
            assert status == 0 and done.value == steps, (status, done.value)
            counts[steps] = (counter.counter_calls() - before[0], counter.counter_bytes() - before[1])
        out.append({"case": "%s %s %s" % (np.dtype(dtype).name, norm, rule), "one step": counts[1],
                    "30 steps": counts[30]})
print("RESULT " + json.dumps({"threads": swiftnn.thread_count(), "runs": out}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator entry points")
@pytest.mark.parametrize("threads", [1, 2])
def test_training_steps_make_no_heap_allocation(tmp_path, threads):
    """A call of 30 native trainer steps calls the C allocator exactly as often as a call of one
    step, on one thread and on two (where work is handed to the helper threads every step)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is required to build the allocation counter and is not installed")
    src, lib = tmp_path / "counter.c", tmp_path / "counter.so"
    src.write_text(COUNTER)
    subprocess.run([gcc, "-O2", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    env = dict(os.environ, LD_PRELOAD=str(lib), OPENBLAS_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", STEPS_CHILD], capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads([l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1][len("RESULT "):])
    assert result["threads"] == min(threads, os.cpu_count())
    for run in result["runs"]:
        assert run["30 steps"] == run["one step"], \
            "%s: (calls, bytes) of the allocator per trainer call grow with the steps: %s" % (run["case"], run)
