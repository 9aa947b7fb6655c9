#!/usr/bin/env bash
# Builds the playground's engine (crate sigil-playground, wasm32-unknown-unknown, release) into the
# page's module: web-playground/www/pkg/sigil_playground.js + sigil_playground_bg.wasm, which the
# page's Web Worker imports as ./pkg/sigil_playground.js. Then prints the sizes, raw and gzipped.
#
# Installs what it needs, skipping what is there at the right version:
#   wasm-bindgen-cli 0.2.130  (cargo install; must equal the wasm-bindgen crate pinned in
#                              web-playground/Cargo.toml)
#   the wasm32-unknown-unknown target
#   wasm-opt from npm's binaryen, as pinned in web-playground/www/package.json (npm ci)
# Idempotent and quick when up to date: cargo rebuilds nothing, and wasm-bindgen and wasm-opt run
# only when the module cargo built changed. Usage: scripts/build-playground-wasm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

bindgen_version=0.2.130
www=web-playground/www
pkg="$www/pkg"

if wasm-bindgen --version 2>/dev/null | grep -q " $bindgen_version\$"; then
  echo "wasm-bindgen-cli $bindgen_version: present"
else
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

wasm_opt="$www/node_modules/.bin/wasm-opt"
if [ ! -x "$wasm_opt" ]; then
  if ! grep -q '"binaryen"' "$www/package.json" 2>/dev/null; then
    echo "$www/package.json does not list binaryen (wasm-opt): add it as a devDependency" >&2
    exit 1
  fi
  npm ci --prefix "$www"
fi

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release -p sigil-playground --target wasm32-unknown-unknown
built="$target_dir/wasm32-unknown-unknown/release/sigil_playground.wasm"
wasm="$pkg/sigil_playground_bg.wasm"
# The module the page's files were last made from, to tell whether they are up to date.
stamp="$target_dir/wasm/.sigil_playground.built.wasm"
mkdir -p "$(dirname "$stamp")"

if [ -f "$wasm" ] && [ -f "$pkg/sigil_playground.js" ] && cmp -s "$built" "$stamp"; then
  echo "playground wasm: up to date"
else
  wasm-bindgen --target web --out-dir "$pkg" "$built"
  # The features rustc enables for wasm32-unknown-unknown (plus simd128, from .cargo/config.toml);
  # wasm-opt may use them and no others, so the module runs wherever the unoptimised one does.
  "$wasm_opt" -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-simd --enable-multivalue --enable-reference-types \
    "$wasm" -o "$wasm.tmp"
  mv "$wasm.tmp" "$wasm"
  echo "playground wasm: wasm-opt -Oz ($("$wasm_opt" --version))"
  cp "$built" "$stamp"
fi

size() { wc -c <"$1" | tr -d ' '; }
gzipped() { gzip -9 -c "$1" | wc -c | tr -d ' '; }
for f in "$wasm" "$pkg/sigil_playground.js"; do
  printf '%s: %s bytes, %s gzipped\n' "$f" "$(size "$f")" "$(gzipped "$f")"
done
