#!/usr/bin/env bash
# Sigil's speed, in one table, with rsigma 0.23 run side by side in the same run (issues 3, 20).
#
# Events: ../shared's OTRF Windows sample (103,531 events). Rules: SigmaHQ's rules/windows
# (2,407 rules), and all 3,780 active rules for the last rows. Every "1 core" run is pinned to one
# CPU (taskset), so that neither engine's reader or writer threads can borrow a second one; the
# best of $REPEAT runs counts (a neighbour's burst only ever makes a run slower).
#
# The table:
#   - the parse floors: read the lines and parse each into serde_json's Value, or into Sigil's
#     borrowed document (what `hunt` does before any rule runs);
#   - the whole command from YAML with a cold compiled-rule cache (compiles, then writes the
#     cache) and a warm one (the cache hit), and from a compiled pack;
#   - load alone (the same command on an empty input), and scan alone: whole command minus
#     load, the same subtraction on both sides; its ratio to the parse floor;
#   - `--runtime wasm` against native, whole and scan alone;
#   - one thread on one core against two threads on two cores;
#   - all 3,780 rules, warm cache, against rsigma.
# Then: the rules each engine loaded, and alerts per rule compared with rsigma's.
#
# Needs ../shared. Installs rsigma 0.23.0 (cargo) when missing.
# Usage: scripts/bench.sh   (REPEAT=5 scripts/bench.sh for steadier figures)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
SHARED=${SIGIL_SHARED:-../shared}
SIGMA=$SHARED/sigma
SAMPLE=$SHARED/datasets/windows/otrf-windows-sample.jsonl.gz
SIGMA_RUST_EVENTS=${SIGMA_RUST_EVENTS:-5000}
REPEAT=${REPEAT:-3}
WORK=target/bench
[ -f "$SAMPLE" ] || { echo "bench: $SAMPLE is absent: the benchmark needs ../shared" >&2; exit 1; }
mkdir -p "$WORK"

if ! rsigma --version 2>/dev/null | grep -q '0\.23\.0'; then
  echo "bench: installing rsigma 0.23.0 (about 10 minutes)" >&2
  cargo install rsigma --version 0.23.0 --locked --no-default-features --features evtx >&2
fi

echo "building (release)..." >&2
cargo build --release -q -p sigil-cli --bin sigil --example parse_only --example pack_load --example sigma_rust_eval
scripts/build-wasm.sh >&2
SIGIL=target/release/sigil
EVENTS=$WORK/otrf-windows-sample.jsonl
[ -s "$EVENTS" ] || gzip -dc "$SAMPLE" > "$EVENTS"
EMPTY=$WORK/empty.jsonl
: > "$EMPTY"
N=$(grep -c . "$EVENTS")
head -n "$SIGMA_RUST_EVENTS" "$EVENTS" > "$WORK/sigma-rust-events.jsonl"
ALL=$WORK/all-rules
rm -rf "$ALL" && mkdir -p "$ALL"
for d in rules rules-emerging-threats rules-threat-hunting rules-placeholder rules-compliance; do
  ln -s "$(cd "$SIGMA/$d" && pwd)" "$ALL/$d"
done
WINDOWS=$SIGMA/rules/windows
PLACEHOLDERS=tests/data/sigmahq-placeholders.yml
ONE="taskset -c 0"
COLD_CACHE=$WORK/cache-cold
WARM_CACHE=$WORK/cache-warm
rm -rf "$WARM_CACHE"

# secs[NAME]: best wall time of NAME; every run's stdout is kept in $WORK/NAME.out.
declare -A secs
run() {
  local name=$1; shift
  local best="" repeat=$REPEAT
  case "$name" in sigma-rust*) repeat=1 ;; esac
  for _ in $(seq "$repeat"); do
    [ "$name" = "${name%cold*}" ] || rm -rf "$COLD_CACHE"
    # Wall time in milliseconds (GNU time's %e has centiseconds: up to 2.5% of a 0.4 s run).
    local start end s
    start=$(date +%s%N)
    "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || { cat "$WORK/$name.err" >&2; return 1; }
    end=$(date +%s%N)
    s=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
  done
  secs[$name]=$best
  printf '  %-28s %7s s\n' "$name" "$best" >&2
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $N events; best of $REPEAT" >&2
$SIGIL compile "$WINDOWS" -o "$WORK/windows.pack" 2>/dev/null
run parse-value          $ONE target/release/examples/parse_only "$EVENTS"
run parse-document       $ONE target/release/examples/parse_only --document "$EVENTS"
run sigil-cold           env SIGIL_CACHE_DIR="$COLD_CACHE" $ONE $SIGIL hunt --rules "$WINDOWS" --threads 1 --format jsonl "$EVENTS"
SIGIL_CACHE_DIR="$WARM_CACHE" $SIGIL hunt --rules "$WINDOWS" --format jsonl "$EMPTY" 2>/dev/null
run sigil-warm           env SIGIL_CACHE_DIR="$WARM_CACHE" $ONE $SIGIL hunt --rules "$WINDOWS" --threads 1 --format jsonl "$EVENTS"
run sigil-pack           $ONE $SIGIL hunt --pack "$WORK/windows.pack" --threads 1 --format jsonl "$EVENTS"
run sigil-pack-load      $ONE $SIGIL hunt --pack "$WORK/windows.pack" --threads 1 --format jsonl "$EMPTY"
run sigil-warm-load      env SIGIL_CACHE_DIR="$WARM_CACHE" $ONE $SIGIL hunt --rules "$WINDOWS" --threads 1 --format jsonl "$EMPTY"
run wasm-pack            $ONE $SIGIL hunt --runtime wasm --pack "$WORK/windows.pack" --format jsonl "$EVENTS"
run wasm-pack-load       $ONE $SIGIL hunt --runtime wasm --pack "$WORK/windows.pack" --format jsonl "$EMPTY"
run sigil-pack-2threads  $SIGIL hunt --pack "$WORK/windows.pack" --threads 2 --format jsonl "$EVENTS"
run rsigma               $ONE rsigma engine eval --logsource-routing -r "$WINDOWS" -e "@$EVENTS"
run rsigma-load          $ONE rsigma engine eval --logsource-routing -r "$WINDOWS" -e "@$EMPTY"
SIGIL_CACHE_DIR="$WARM_CACHE" $SIGIL hunt --rules "$ALL" --placeholder-file $PLACEHOLDERS --format jsonl "$EMPTY" 2>/dev/null
run sigil-all-warm       env SIGIL_CACHE_DIR="$WARM_CACHE" $ONE $SIGIL hunt --rules "$ALL" --placeholder-file $PLACEHOLDERS --threads 1 --format jsonl "$EVENTS"
run rsigma-all           $ONE rsigma engine eval --logsource-routing -r "$ALL" -e "@$EVENTS"
run sigil-nonrouted      $ONE $SIGIL hunt --pack "$WORK/windows.pack" --logsource all --threads 1 --format jsonl "$EVENTS"
run sigma-rust           target/release/examples/sigma_rust_eval "$WORK/sigma-rust-events.jsonl" "$WORK/sigma-rust-matches.tsv" "$WINDOWS"

# Arithmetic on the best times: d(a, b) = a - b, floored at a millisecond.
calc() { awk "BEGIN { $1 }"; }
s() { echo "${secs[$1]}"; }
scan() { calc "d = $(s "$1") - $(s "$2"); if (d < 0.001) d = 0.001; printf \"%.3f\", d"; }
rate() { calc "printf \"%.0f\", $2 / $1"; }
ratio() { calc "printf \"%.2f\", $1 / $2"; }
SIGIL_SCAN=$(scan sigil-pack sigil-pack-load)
RSIGMA_SCAN=$(scan rsigma rsigma-load)
WASM_SCAN=$(scan wasm-pack wasm-pack-load)

row() { printf '| %-52s | %9s | %9s | %s |\n' "$1" "$2" "$3" "$4"; }
{
  echo
  echo "== Sigil against rsigma 0.23.0: OTRF Windows sample, $N events, SigmaHQ rules/windows (2,407 rules), 1 pinned core unless said"
  row "measure" "sigil" "rsigma" "sigil's advantage (rsigma time / sigil time), or the ratio named"
  row "---" "---" "---" "---"
  row "parse floor: serde_json::Value, s" "$(s parse-value)" "" "$(rate "$(s parse-value)" "$N") events/s"
  row "parse floor: Sigil's borrowed document, s" "$(s parse-document)" "" "$(rate "$(s parse-document)" "$N") events/s"
  row "whole command, --rules, cold cache (compile + write), s" "$(s sigil-cold)" "$(s rsigma)" "$(ratio "$(s rsigma)" "$(s sigil-cold)")x"
  row "whole command, --rules, warm cache (target 4x), s" "$(s sigil-warm)" "$(s rsigma)" "$(ratio "$(s rsigma)" "$(s sigil-warm)")x"
  row "whole command, --pack, s" "$(s sigil-pack)" "$(s rsigma)" "$(ratio "$(s rsigma)" "$(s sigil-pack)")x"
  row "load alone (empty input): --pack / warm cache, s" "$(s sigil-pack-load) / $(s sigil-warm-load)" "$(s rsigma-load)" ""
  row "scan alone (whole - load, --pack) (target 5x), s" "$SIGIL_SCAN" "$RSIGMA_SCAN" "$(ratio "$RSIGMA_SCAN" "$SIGIL_SCAN")x"
  row "scan alone, events/s" "$(rate "$SIGIL_SCAN" "$N")" "$(rate "$RSIGMA_SCAN" "$N")" "target 170,000 events/s"
  row "scan alone against the document parse floor" "" "" "floor time / scan time = $(ratio "$(s parse-document)" "$SIGIL_SCAN")"
  row "--runtime wasm --pack, whole command, s" "$(s wasm-pack)" "" "native/wasm = $(ratio "$(s sigil-pack)" "$(s wasm-pack)") (target 0.7)"
  row "--runtime wasm --pack, scan alone, s" "$WASM_SCAN" "" "native/wasm = $(ratio "$SIGIL_SCAN" "$WASM_SCAN")"
  row "--pack, 2 threads on 2 cores, whole command, s" "$(s sigil-pack-2threads)" "" "speed-up over 1 thread = $(ratio "$(s sigil-pack)" "$(s sigil-pack-2threads)") (target 1.8)"
  row "all 3,780 rules, --rules, warm cache, s" "$(s sigil-all-warm)" "$(s rsigma-all)" "$(ratio "$(s rsigma-all)" "$(s sigil-all-warm)")x"
  row "sigma-rust 0.7, rules/windows, first $SIGMA_RUST_EVENTS events (unpinned), s" "" "" "$(s sigma-rust) s: $(rate "$(s sigma-rust)" "$SIGMA_RUST_EVENTS") events/s"
} > "$WORK/table.md"

if cmp -s "$WORK/sigil-pack.out" "$WORK/wasm-pack.out"; then
  echo "wasm runtime: alerts identical to the native runtime's" >&2
else
  echo "wasm runtime: ALERTS DIFFER from the native runtime's" >&2
fi
if cmp -s "$WORK/sigil-pack.out" "$WORK/sigil-warm.out" && cmp -s "$WORK/sigil-cold.out" "$WORK/sigil-warm.out"; then
  echo "cache: cold, warm and pack runs gave identical alerts" >&2
else
  echo "cache: ALERTS DIFFER between the cold, warm and pack runs" >&2
fi

echo >&2
echo "== rules loaded" >&2
for name in sigil-cold sigil-warm sigil-pack sigil-all-warm rsigma rsigma-all; do
  line=$(grep -hoE 'Loaded [0-9]+ rules|[0-9]+ rules loaded[^;]*|rules: [0-9]+ loaded[^;]*' "$WORK/$name.err" | head -1 || true)
  printf '  %-16s %s\n' "$name" "$line" >&2
done

echo >&2
echo "== alerts per rule: sigil vs rsigma (rules/windows; sigil without routing, rsigma with its own)" >&2
python3 - "$WORK" >&2 <<'EOF'
import collections, json, sys
work = sys.argv[1]
def counts(path, rule_id):
    c = collections.Counter()
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            c[rule_id(json.loads(line))] += 1
    return c
sigil = counts(f"{work}/sigil-nonrouted.out", lambda a: a["rule"]["id"])
rsigma = counts(f"{work}/rsigma.out", lambda a: a["rule_id"])
differ = sorted((abs(sigil[i] - rsigma[i]), i, sigil[i], rsigma[i]) for i in set(sigil) | set(rsigma) if sigil[i] != rsigma[i])
print(f"sigil {sum(sigil.values())} alerts over {len(sigil)} rules; rsigma {sum(rsigma.values())} over {len(rsigma)} rules; rules that differ: {len(differ)}")
for _, i, s, r in differ[:20]:
    print(f"  {i}: sigil {s}, rsigma {r}")
EOF

cat "$WORK/table.md"
