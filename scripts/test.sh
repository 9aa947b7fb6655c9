#!/usr/bin/env bash
# Installs what Sigil's tests need (skipping what is already there) and runs every check:
# formatting, lints, the engine's wasm32 build, and the whole test suite.
# Usage: scripts/test.sh        (CI runs exactly this, through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The compiled-rule cache of the runs the tests make stays in the build folder, out of $HOME,
# and starts empty, so every run compiles its rules at least once.
export SIGIL_CACHE_DIR="$PWD/target/test-rule-cache"
rm -rf "$SIGIL_CACHE_DIR"

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: rustfmt, clippy and the wasm32-unknown-unknown target"
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not on PATH: install Rust with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
have_component() { rustup component list --installed 2>/dev/null | grep -q "^$1"; }
for component in rustfmt clippy; do
  if have_component "$component"; then echo "$component: present"; else rustup component add "$component"; fi
done
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "wasm32-unknown-unknown: present"
else
  rustup target add wasm32-unknown-unknown
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "the engine (and compiler) build for wasm32-unknown-unknown, with no I/O of their own"
cargo build -p sigil-engine -p sigil-compiler --target wasm32-unknown-unknown

step "the Wasm engine: core module and component (scripts/build-wasm.sh)"
scripts/build-wasm.sh
# The prefilter check module is where the engine's simd128 code (only built for wasm32) is linted.
cargo clippy -p sigil-wasm-guest -p sigil-prefilter-check --all-targets --target wasm32-unknown-unknown -- -D warnings

step "the gateway filter (proxy-wasm) and Envoy for its end-to-end test"
scripts/build-gateway.sh
SIGIL_ENVOY="$(scripts/setup-envoy.sh | tail -n 1)"
export SIGIL_ENVOY

step "nats-server for the cluster tests (Debian's package; scripts/setup-nats.sh)"
SIGIL_NATS_SERVER="$(scripts/setup-nats.sh | tail -n 1)"
export SIGIL_NATS_SERVER

step "fuzz seeds from ../shared for the replay test (scripts/fuzz-seed.py; uncommitted)"
python3 scripts/fuzz-seed.py

step "cargo test (unit, conformance suite, rule pack, SigmaHQ corpus, end-to-end CLI)"
if [ ! -d ../shared/sigma ]; then
  echo "note: ../shared is absent: the SigmaHQ corpus tests will print SKIPPED"
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
# Runs a test command with its output added to the log; a failure fails the run at the end,
# after the remaining test commands and the closing count.
logged() {
  set +e
  "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] || status=$rc
}
logged cargo test --workspace --all-targets

step "nightly fuzz smoke: every cargo-fuzz target built and run for 4 s (scripts/fuzz-smoke.sh)"
logged scripts/fuzz-smoke.sh 4

step "the rule pack's unit tests (sigil test sigma-rules/)"
logged target/debug/sigil test sigma-rules/

step "the Python embedder (wasmtime-py) against sigil hunt, line for line"
scripts/setup-python-wasmtime.sh
# Its closing line (`N passed, N failed`) joins the count below.
SIGIL_BIN=target/debug/sigil logged python3 wasm-host/embedders/python/test_embed.py

step "the browser playground (Playwright, headless Chromium)"
scripts/setup-chromium.sh
scripts/playground.sh
# Its closing line (`N passed, N failed`) joins the count below.
SIGIL_BIN=target/debug/sigil logged node web-playground/www/tests/e2e.mjs

step "the HTML report of a real hunt (Playwright, headless Chromium; SKIPPED without ../shared)"
# Uses the playground's playwright-core (installed above); prints load times and sizes, and its
# closing line joins the count below.
SIGIL_BIN=target/debug/sigil logged node report/tests/e2e.mjs

# One closing line for the whole workspace (cargo prints one per test binary, the last often empty).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
