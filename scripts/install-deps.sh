#!/usr/bin/env bash
# Installs what swiftnn needs on Debian: OpenBLAS and zlib (with pkg-config, which SwiftPM uses
# to find them), the Fashion-MNIST dataset package, and the Python requirements. With
# requirements-dev.txt also Debian's PostgreSQL server, which the search tests start on
# 127.0.0.1 themselves (no cluster is created or started here).
#
# The requirements go into $PYTHON's environment. When $PYTHON is $VENV/bin/python (the
# Makefile's choice when no environment is active) and that environment does not exist yet, it
# is created from the `python3` on PATH — on Debian with python3-venv, installed here when
# missing — so an externally-managed system Python (PEP 668) is never pip-installed into.
# Safe to run again: it installs only what is missing (the project environment remembers the
# requirements it holds, so a second run asks pip nothing).
set -euo pipefail
cd "$(dirname "$0")/.."

req="${1:-requirements.txt}"
venv="${VENV:-.venv}"
python="${PYTHON:-$venv/bin/python}"
make_venv=0
[ "$python" = "$venv/bin/python" ] && [ ! -x "$python" ] && make_venv=1

apt_packages=(libopenblas-dev zlib1g-dev pkg-config dataset-fashion-mnist)
if [ $make_venv -eq 1 ] && ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    if [ "$(command -v python3)" = /usr/bin/python3 ]; then
        apt_packages+=(python3-venv)
    else
        echo "$(command -v python3) cannot create a virtual environment (no ensurepip/venv); activate" \
             "an environment of your own, or set PYTHON=/path/to/python" >&2
        exit 1
    fi
fi
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

if [ $make_venv -eq 1 ]; then
    echo "==> python3 -m venv $venv  ($(python3 --version 2>&1) at $(command -v python3))"
    python3 -m venv "$venv"
fi

# The requirement files' contents, -r includes too: what the project environment last installed.
stamp_of() { cat requirements*.txt pyproject.toml | sha256sum | cut -d' ' -f1; }
stamp="$venv/.swiftnn-$(basename "$req").sha256"
if [ "$python" = "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(stamp_of)" ]; then
    exit 0
fi
echo "==> pip install -r $req  (into $("$python" -c 'import sys; print(sys.prefix)'))"
"$python" -m pip install -q --disable-pip-version-check -r "$req" setuptools wheel
if [ "$python" = "$venv/bin/python" ]; then
    stamp_of > "$stamp"
fi
