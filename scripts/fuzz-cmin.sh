#!/usr/bin/env bash
# Minimises a target's committed corpus after a campaign: `cargo fuzz cmin` (libFuzzer's merge:
# the fewest inputs that keep the coverage), then drops every file identical to a seed of
# fuzz/shared-seeds (shared data is never committed) or of fuzz/seeds, then caps the folder at
# 600 KiB (8 MB over every target) by dropping the largest files first. Prints the corpus's files and size.
# Usage: scripts/fuzz-cmin.sh TARGET...
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
# The Wasm target's component, as scripts/build-wasm.sh writes it (not under the fuzz build).
export SIGIL_WASM_COMPONENT="${SIGIL_WASM_COMPONENT:-$(cd .. && pwd)/target/wasm/sigil_engine.component.wasm}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=32}"
cap=$((600 * 1024))
for target in "$@"; do
  features=()
  [ "$target" = verdicts_wasm ] && features=(--features wasm)
  corpus="corpus/$target"
  [ -d "$corpus" ] || continue
  sanitizer="${SANITIZER:-address}"
  [ "$target" = verdicts_wasm ] && sanitizer=none
  export CARGO_TARGET_DIR="$PWD/target"
  [ "$sanitizer" = none ] && export CARGO_TARGET_DIR="$PWD/target/no-sanitizer"
  cargo +nightly fuzz cmin -s "$sanitizer" "${features[@]}" "$target" "$corpus" -- \
    -timeout=5 -rss_limit_mb=2048 > "artifacts/$target/cmin.log" 2>&1 || {
    echo "$target: cmin failed, see fuzz/artifacts/$target/cmin.log" >&2
    continue
  }
  # Identical to a seed: the seed is read by every campaign anyway, and a shared one may not be
  # committed. libFuzzer names corpus files by the SHA-1 of their bytes, as fuzz-seed.py does.
  for seed in "shared-seeds/$target"/* "seeds/$target"/*; do
    [ -f "$seed" ] || continue
    rm -f "$corpus/$(sha1sum "$seed" | cut -d' ' -f1)"
  done
  while [ "$(du -cb "$corpus" | tail -n 1 | cut -f1)" -gt "$cap" ]; do
    rm -f "$(ls -S "$corpus" | head -n 1 | sed "s|^|$corpus/|")"
  done
  printf '%s: %s files, %s bytes\n' "$target" "$(ls "$corpus" | wc -l)" "$(du -cb "$corpus" | tail -n 1 | cut -f1)"
done
printf 'all corpora: %s bytes\n' "$(du -cb corpus | tail -n 1 | cut -f1)"
