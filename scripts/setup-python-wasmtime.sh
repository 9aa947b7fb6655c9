#!/usr/bin/env bash
# Installs the wasmtime Python package (PyPI `wasmtime`, the Wasm runtime the Python embedder
# example wasm-host/embedders/python uses) for the Python that runs it.
# Idempotent: nothing is installed when pip already has this version.
# Usage: scripts/setup-python-wasmtime.sh        (PYTHON=... picks another interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
version=50.0.1
python="${PYTHON:-python3}"
scripts/pip-pin.sh wasmtime "$version"
"$python" -c 'import wasmtime; print("wasmtime (Python): import ok")'
