#!/usr/bin/env bash
# `make sanitize`: the library under the sanitizers Swift supports on Linux.
#   1. libswiftnn.so built with AddressSanitizer (debug, .build-asan/).
#   2. The XCTest suite under AddressSanitizer + LeakSanitizer.
#   3. A Python run against the ASan library (LD_PRELOAD of the ASan runtime, SWIFTNN_LIB):
#      the layer, model, prediction, optimizer, trainer, bad-input, numerics, thread and property tests,
#      with LeakSanitizer on (SANITIZE_EXAMPLES examples per property, default 20).
#   4. libswiftnn.so built with ThreadSanitizer (.build-tsan/) and the thread and trainer tests
#      against it (the trainer's helpers copy the next minibatch while a step runs).
# UndefinedBehaviorSanitizer: swiftc rejects -sanitize=undefined for Linux targets; Swift
# itself traps on integer overflow and out-of-bounds indexing, and the package has no C
# sources of its own. Any sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
PYTHON=${PYTHON:-python3}
EXAMPLES=${SANITIZE_EXAMPLES:-20}

# The interpreter itself (not a pyenv shim script, which would run bash under the sanitizer).
PY=$("$PYTHON" -c 'import sys; print(sys.executable)')
TOOLCHAIN=$(dirname "$(readlink -f "$(command -v "$SWIFT")")")/..
ASAN_RT=$(find "$TOOLCHAIN/lib" -name 'libclang_rt.asan-x86_64.so' | head -1)
TSAN_RT=$(find "$TOOLCHAIN/lib" -name 'libclang_rt.tsan-x86_64.so' | head -1)
DISPATCH=$(find "$TOOLCHAIN/lib/swift/linux" -maxdepth 1 -name 'libdispatch.so' | head -1)
SUPP=$PWD/scripts/sanitizers
for f in "$ASAN_RT" "$TSAN_RT" "$DISPATCH"; do
    [ -n "$f" ] && [ -f "$f" ] || { echo "sanitize: a sanitizer runtime is missing under $TOOLCHAIN/lib" >&2; exit 1; }
done

step() { printf '\n== %s\n' "$*"; }
start=$SECONDS

step "1/4 build libswiftnn.so with AddressSanitizer"
"$SWIFT" build -c debug --sanitize=address --scratch-path .build-asan --product swiftnn

step "2/4 XCTest under AddressSanitizer + LeakSanitizer"
LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0" \
    "$SWIFT" test --sanitize=address --scratch-path .build-asan

step "3/4 Python tests against the ASan library"
LD_PRELOAD="$ASAN_RT" \
ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" \
LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0" \
SWIFTNN_LIB="$PWD/.build-asan/debug/libswiftnn.so" \
SWIFTNN_PROPERTY_EXAMPLES="$EXAMPLES" \
    "$PY" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning \
        python/tests/test_layers.py python/tests/test_bad_input.py python/tests/test_models.py \
        python/tests/test_optim.py python/tests/test_trainer.py python/tests/test_numerics.py \
        python/tests/test_threads.py python/tests/test_properties.py python/tests/test_properties_abi.py \
        python/tests/test_predict.py

step "4/4 ThreadSanitizer: the thread and trainer tests"
"$SWIFT" build -c debug --sanitize=thread --scratch-path .build-tsan --product swiftnn
LD_PRELOAD="$TSAN_RT $DISPATCH" \
TSAN_OPTIONS="halt_on_error=1:allocator_may_return_null=1:suppressions=$SUPP/tsan.supp" \
SWIFTNN_LIB="$PWD/.build-tsan/debug/libswiftnn.so" \
    "$PY" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning python/tests/test_threads.py \
        python/tests/test_trainer.py

printf '\nsanitize: no findings (%d s)\n' $((SECONDS - start))
