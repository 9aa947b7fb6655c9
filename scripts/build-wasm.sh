#!/usr/bin/env bash
# Builds the Sigil engine as WebAssembly (crate sigil-wasm-guest, wasm32-unknown-unknown, release)
# and writes its two faces:
#   target/wasm/sigil_engine.core.wasm       the core module: the C ABI of wasm-host/ABI.md
#                                            (wazero, Chicory, V8, WAMR, wasmtime-py, ...)
#   target/wasm/sigil_engine.component.wasm  the same module wrapped into a component of the
#                                            WIT world wasm-host/wit/sigil.wit (wasmtime)
#   target/wasm/sigil_prefilter_check.wasm   test-only: the prefilter checked inside Wasm
# The component is made with the wit-component crate (wasm-host/componentize). wasm-opt -O3 runs
# on the core module: the binaryen pinned in web-playground/www/package.json, installed there with
# `npm ci` when absent (the playground's build uses the same one). It makes the engine ~5% faster
# under wasmtime (`hunt --runtime wasm` over the OTRF sample: 1.41 -> 1.34 s). Without npm, a
# wasm-opt on PATH is used, else none (the module works without it); SIGIL_WASM_OPT=0 skips it.
# Idempotent and quick when up to date: cargo rebuilds nothing, and the outputs are rewritten
# only when the built module changed. Usage: scripts/build-wasm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

target_dir="${CARGO_TARGET_DIR:-target}"
# sigil-prefilter-check is test-only (wasm-host/tests/prefilter_wasm.rs): the engine's simd128
# prefilter checked inside Wasm; it shares the engine's build.
cargo build --release --target wasm32-unknown-unknown -p sigil-wasm-guest -p sigil-prefilter-check
cargo build --release -p sigil-componentize

built="$target_dir/wasm32-unknown-unknown/release/sigil_wasm_guest.wasm"
out_dir="$target_dir/wasm"
core="$out_dir/sigil_engine.core.wasm"
component="$out_dir/sigil_engine.component.wasm"
# The built module the outputs were last made from, to tell whether they are up to date.
stamp="$out_dir/.sigil_wasm_guest.built.wasm"
mkdir -p "$out_dir"

use_opt=0
wasm_opt=web-playground/www/node_modules/.bin/wasm-opt
if [ "${SIGIL_WASM_OPT:-1}" != 0 ]; then
  if [ ! -x "$wasm_opt" ] && command -v npm >/dev/null 2>&1; then
    (cd web-playground/www && npm ci --no-audit --no-fund)
  fi
  if [ ! -x "$wasm_opt" ] && command -v wasm-opt >/dev/null 2>&1; then
    wasm_opt=$(command -v wasm-opt)
  fi
  if [ -x "$wasm_opt" ]; then
    use_opt=1
  else
    echo "wasm: no wasm-opt (npm is not on PATH): the module is used as cargo built it, ~5% slower" >&2
  fi
fi
# Also redone when the choice about wasm-opt changed since the last run.
opt_mark="$out_dir/.sigil_wasm_guest.opt-$use_opt"

if [ -f "$core" ] && [ -f "$component" ] && [ -f "$opt_mark" ] && cmp -s "$built" "$stamp"; then
  echo "wasm: up to date"
else
  rm -f "$out_dir"/.sigil_wasm_guest.opt-*
  if [ "$use_opt" = 1 ]; then
    # Features come from the module's target_features section; custom sections (the
    # component-type section wit-component reads) are kept.
    if "$wasm_opt" -O3 "$built" -o "$core.tmp"; then
      echo "wasm: wasm-opt -O3 ($("$wasm_opt" --version))"
    else
      echo "wasm: wasm-opt failed (above); using the module as cargo built it" >&2
      use_opt=0
    fi
  fi
  if [ "$use_opt" = 0 ]; then
    cp "$built" "$core.tmp"
  fi
  "$target_dir/release/componentize" "$core.tmp" "$component"
  mv "$core.tmp" "$core"
  cp "$built" "$stamp"
  touch "$out_dir/.sigil_wasm_guest.opt-$use_opt"
fi

check="$out_dir/sigil_prefilter_check.wasm"
cmp -s "$target_dir/wasm32-unknown-unknown/release/sigil_prefilter_check.wasm" "$check" ||
  cp "$target_dir/wasm32-unknown-unknown/release/sigil_prefilter_check.wasm" "$check"

for f in "$core" "$component"; do
  printf 'wasm: %9d bytes  %s\n' "$(wc -c <"$f")" "$f"
done
