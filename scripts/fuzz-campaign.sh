#!/usr/bin/env bash
# Runs one fuzz campaign (nightly, cargo-fuzz, AddressSanitizer unless SANITIZER says otherwise)
# and prints the figures docs/fuzzing.md records: minutes, executions, cov/ft, corpus, crashes.
# New inputs go to fuzz/corpus/TARGET (committed after scripts/fuzz-cmin.sh); the hand-written
# seeds (fuzz/seeds) and the ones scripts/fuzz-seed.sh made from ../shared (fuzz/shared-seeds,
# uncommitted) are read too. Crashes land in fuzz/artifacts/TARGET.
# Usage: scripts/fuzz-campaign.sh TARGET [SECONDS=600] [extra libFuzzer flags...]
set -uo pipefail
cd "$(dirname "$0")/.."
target="$1"; seconds="${2:-600}"; shift $(( $# >= 2 ? 2 : 1 ))
export CARGO_TARGET_DIR="$PWD/fuzz/target"
features=()
[ "$target" = verdicts_wasm ] && features=(--features wasm)
mkdir -p "fuzz/corpus/$target" "fuzz/seeds/$target" "fuzz/shared-seeds/$target" "fuzz/artifacts/$target"
log="fuzz/artifacts/$target/campaign.log"
cd fuzz
# The Sigma token dictionary, unless the target has its own (http: methods, headers, paths).
dictionary() { if [ -f "dict/$1.dict" ]; then echo "dict/$1.dict"; else echo dict/sigma.dict; fi; }
# The Wasm target's component, as scripts/build-wasm.sh writes it (not under the fuzz build).
export SIGIL_WASM_COMPONENT="${SIGIL_WASM_COMPONENT:-$(cd .. && pwd)/target/wasm/sigil_engine.component.wasm}"
# ASan's quarantine of freed memory (256 MB by default) counts toward -rss_limit_mb; keep it
# small so that the limit measures what the code under test holds.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=32}"
# -s none for the Wasm target: wasmtime's JIT code under ASan is too slow to be useful.
sanitizer="${SANITIZER:-address}"
[ "$target" = verdicts_wasm ] && sanitizer="${SANITIZER:-none}"
# A build without the sanitizer keeps its own folder inside fuzz/target, so that it does not
# replace the sanitizer build (the flags differ, the file names would not).
[ "$sanitizer" = none ] && export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/no-sanitizer"
set +e
cargo +nightly fuzz run -s "$sanitizer" "${features[@]}" "$target" \
  "corpus/$target" "seeds/$target" "shared-seeds/$target" -- \
  -max_total_time="$seconds" -timeout=1 -rss_limit_mb=512 -malloc_limit_mb=512 \
  -dict="$(dictionary "$target")" -print_final_stats=1 "$@" > "../$log" 2>&1
rc=$?
set -e
last=$(grep -E '^#[0-9]+' "../$log" | tail -n 1 || true)
execs=$(grep -E 'stat::number_of_executed_units' "../$log" | awk '{print $2}' | tail -n 1)
fuzzed=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "../$log" | awk '{print $5}' | tail -n 1)
printf '%s | %.1f min | execs %s | %s | corpus %s files | exit %s\n' "$target" \
  "$(echo "${fuzzed:-0} / 60" | bc -l)" "${execs:-?}" \
  "$(echo "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo 'cov ?')" \
  "$(find "corpus/$target" -type f | wc -l)" "$rc"
ls "artifacts/$target" | grep -E '^(crash|timeout|oom|leak|slow)-' || true
