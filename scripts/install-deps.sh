#!/usr/bin/env bash
# Installs what swiftnn needs on Debian: OpenBLAS (with pkg-config, which SwiftPM uses to
# find it), the Fashion-MNIST dataset package, and the Python requirements.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(libopenblas-dev pkg-config dataset-fashion-mnist)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "==> apt-get install ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
    echo "swiftnn needs the Swift toolchain (5.9 or later) on PATH: https://www.swift.org/install/" >&2
    exit 1
fi

python="${PYTHON:-python3}"
req="${1:-requirements.txt}"
echo "==> pip install -r $req"
"$python" -m pip install -q --disable-pip-version-check -r "$req" setuptools wheel
