"""The allocator settings swiftnn makes on import (swiftnn._native): megabyte arrays that a
training step allocates and drops, like a minibatch and a first layer's dx, are reused from
the heap instead of being page-faulted and zeroed again every step; SWIFTNN_SYSTEM_MALLOC=1
leaves glibc's defaults. Each case runs in a fresh interpreter, since the settings are
process-wide."""
import json
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
