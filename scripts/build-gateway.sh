#!/usr/bin/env bash
# Builds the proxy-wasm gateway filter (crate sigil-gateway) for wasm32-unknown-unknown and
# copies it to target/wasm/sigil_gateway.wasm, the module Envoy loads (and tests/envoy.rs uses).
# Idempotent: cargo rebuilds nothing when the sources are unchanged, and the copy is skipped
# when the module is already there. Usage: scripts/build-gateway.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --target wasm32-unknown-unknown -p sigil-gateway

built="$target_dir/wasm32-unknown-unknown/release/sigil_gateway.wasm"
out_dir="$target_dir/wasm"
out="$out_dir/sigil_gateway.wasm"
mkdir -p "$out_dir"
if cmp -s "$built" "$out"; then
  touch "$out" # checked against the sources just now (tests/envoy.rs compares the times)
  echo "gateway: $out is up to date ($(wc -c <"$out") bytes)"
else
  cp "$built" "$out.tmp"
  mv "$out.tmp" "$out"
  echo "gateway: wrote $out ($(wc -c <"$out") bytes)"
fi
