#!/usr/bin/env bash
# The DocC documentation of the SwiftNN module, from the toolchain's docc with warnings as errors
# (no swift-docc-plugin: a plugin dependency would be fetched by every package that depends on
# swiftnn). The symbol graph comes from a debug build in .build-docs/; the site goes to
# out/docs/SwiftNN.doccarchive (DOCS_OUT overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
DOCC=${DOCC:-$(dirname "$(readlink -f "$(command -v "$SWIFT")")")/docc}
out=${DOCS_OUT:-out/docs/SwiftNN.doccarchive}
graphs=$(mktemp -d /tmp/swiftnn-symbols.XXXXXX)
trap 'rm -rf "$graphs"' EXIT
"$SWIFT" build --target SwiftNN --scratch-path .build-docs \
    -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc "$graphs" \
    -Xswiftc -symbol-graph-minimum-access-level -Xswiftc public
mkdir -p "$(dirname "$out")"
"$DOCC" convert Sources/SwiftNN/SwiftNN.docc --additional-symbol-graph-dir "$graphs" \
    --fallback-display-name SwiftNN --fallback-bundle-identifier org.swiftnn.SwiftNN \
    --warnings-as-errors --output-path "$out"
echo "docs: $out"
