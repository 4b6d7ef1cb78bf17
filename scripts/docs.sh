#!/usr/bin/env bash
# The DocC documentation of the SwiftNN module, from the toolchain's docc with warnings as errors
# (no swift-docc-plugin: a plugin dependency would be fetched by every package that depends on
# swiftnn). SwiftNN re-exports the engine (NetworkSpec, EngineError, ...), so its symbol graph is
# extracted with the engine's symbols included, from a debug build in .build-docs/. The site goes
# to out/docs/SwiftNN.doccarchive (DOCS_OUT overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
bin=$(dirname "$(readlink -f "$(command -v "$SWIFT")")")
out=${DOCS_OUT:-out/docs/SwiftNN.doccarchive}
graphs=$(mktemp -d /tmp/swiftnn-symbols.XXXXXX)
trap 'rm -rf "$graphs"' EXIT
"$SWIFT" build --target SwiftNN --scratch-path .build-docs
modules=$("$SWIFT" build --scratch-path .build-docs --show-bin-path)/Modules
includes=()
for dir in $(pkg-config --cflags-only-I openblas zlib | sed 's/-I//g'); do includes+=(-Xcc "-I$dir"); done
"$bin/swift-symbolgraph-extract" -module-name SwiftNN -target "$(uname -m)-unknown-linux-gnu" \
    -I "$modules" -I Sources/CBLAS -I Sources/CZlib "${includes[@]}" \
    -minimum-access-level public -experimental-allowed-reexported-modules=SwiftNNEngine \
    -output-dir "$graphs"
mkdir -p "$(dirname "$out")"
"$bin/docc" convert Sources/SwiftNN/SwiftNN.docc --additional-symbol-graph-dir "$graphs" \
    --fallback-display-name SwiftNN --fallback-bundle-identifier org.swiftnn.SwiftNN \
    --warnings-as-errors --output-path "$out"
echo "docs: $out"
