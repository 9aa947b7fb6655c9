#!/usr/bin/env bash
# The nightly fuzz smoke test CI runs (scripts/test.sh): installs cargo-fuzz at the pinned
# version unless it is there, builds every fuzz target once (AddressSanitizer), and runs each
# for a few seconds on its committed seeds and corpus; a crash fails the run. Prints SKIPPED and
# succeeds without a nightly toolchain. Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET=4]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-4}"
CARGO_FUZZ_VERSION=0.13.2

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "SKIPPED: fuzz smoke: no nightly toolchain (rustup toolchain install nightly)"
  exit 0
fi
if cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  echo "cargo-fuzz $CARGO_FUZZ_VERSION: present"
else
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

export CARGO_TARGET_DIR="$PWD/fuzz/target"
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=32}"
cd fuzz
# The Sigma token dictionary, unless the target has its own (http: methods, headers, paths).
dictionary() { if [ -f "dict/$1.dict" ]; then echo "dict/$1.dict"; else echo dict/sigma.dict; fi; }
started=$(date +%s)
cargo +nightly fuzz build
echo "fuzz smoke: built every target in $(( $(date +%s) - started )) s"
status=0
for src in fuzz_targets/*.rs; do
  target="$(basename "$src" .rs)"
  # verdicts_wasm needs wasmtime built without the sanitizer and the Wasm component: it runs
  # in the campaigns (docs/fuzzing.md), its regressions in the stable replay test.
  [ "$target" = verdicts_wasm ] && continue
  # A scratch corpus: the smoke run must not add files to the committed one.
  scratch="$(mktemp -d)"
  # libFuzzer stops on a corpus folder that does not exist.
  inputs=()
  for dir in "seeds/$target" "corpus/$target" "regressions/$target"; do
    [ -d "$dir" ] && inputs+=("$dir")
  done
  if cargo +nightly fuzz run "$target" "$scratch" "${inputs[@]}" -- \
      -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -dict="$(dictionary "$target")" \
      -artifact_prefix="$scratch/" > "$scratch/log" 2>&1; then
    echo "fuzz smoke: $target: $(grep -oE '^Done [0-9]+ runs' "$scratch/log" | tail -n 1)"
  else
    echo "fuzz smoke: $target FAILED:" >&2
    grep -v '^#' "$scratch/log" | tail -n 60 >&2
    status=1
  fi
  rm -rf "$scratch"
done
echo "fuzz smoke: done in $(( $(date +%s) - started )) s"
exit "$status"
