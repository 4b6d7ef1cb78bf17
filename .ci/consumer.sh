#!/usr/bin/env bash
# A Swift package that depends on swiftnn BY VERSION, as a user's would: a clone of this
# repository's HEAD, tagged with the library's version, is the dependency
# `.package(url: "file://...", from: "<version>")`. SwiftPM refuses unsafe build flags in such a
# dependency (a `path:` dependency would hide that), so this builds and runs the program in
# .ci/consumer/ through the public API only. About a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
version=$(sed -n 's/.*swiftnnVersion: StaticString = "\(.*\)"/\1/p' Sources/SwiftNNEngine/Version.swift)
[ -n "$version" ] || { echo "consumer: no version in Sources/SwiftNNEngine/Version.swift" >&2; exit 1; }
work=$(mktemp -d /tmp/swiftnn-consumer.XXXXXX)
trap 'rm -rf "$work"' EXIT

git clone --quiet --no-hardlinks "$PWD" "$work/swiftnn"
git -C "$work/swiftnn" -c user.name=ci -c user.email=ci@localhost tag -f -a "$version" -m "swiftnn $version"
mkdir -p "$work/consumer"
cp -R .ci/consumer/Sources "$work/consumer/"
sed -e "s|@URL@|file://$work/swiftnn|" -e "s|@VERSION@|$version|" .ci/consumer/Package.swift.in \
    > "$work/consumer/Package.swift"
cd "$work/consumer"
echo "== consumer: .package(url: \"file://$work/swiftnn\", from: \"$version\")"
"$SWIFT" build -c release
"$(  "$SWIFT" build -c release --show-bin-path)/Consumer"
