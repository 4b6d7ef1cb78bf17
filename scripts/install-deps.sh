#!/usr/bin/env bash
# Installs what swiftnn needs on Debian: OpenBLAS and zlib (with pkg-config, which SwiftPM uses
# to find them), the Fashion-MNIST dataset package, and the Python requirements. With
# requirements-dev.txt also Debian's PostgreSQL server, which the search tests start on
# 127.0.0.1 themselves (no cluster is created or started here).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

req="${1:-requirements.txt}"
apt_packages=(libopenblas-dev zlib1g-dev pkg-config dataset-fashion-mnist)
if [ "$(basename "$req")" = "requirements-dev.txt" ]; then
    apt_packages+=(postgresql)
    if ! dpkg -s postgresql >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        # the tests run their own throwaway server: no system cluster on port 5432
        mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/swiftnn-tests.conf
    fi
fi
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
    echo "swiftnn needs the Swift toolchain (6.0 or later) on PATH: https://www.swift.org/install/" >&2
    exit 1
fi

python="${PYTHON:-python3}"
echo "==> pip install -r $req"
"$python" -m pip install -q --disable-pip-version-check -r "$req" setuptools wheel
