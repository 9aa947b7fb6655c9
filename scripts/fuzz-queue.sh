#!/usr/bin/env bash
# Runs campaigns back to back, one at a time (CPU is scarce), each followed by the minimisation
# of its corpus (scripts/fuzz-cmin.sh), appending the figures to fuzz/artifacts/campaigns.txt.
# Usage: scripts/fuzz-queue.sh SECONDS TARGET...
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="$1"; shift
for target in "$@"; do
  scripts/fuzz-campaign.sh "$target" "$seconds" >> fuzz/artifacts/campaigns.txt 2>&1
  scripts/fuzz-cmin.sh "$target" >> fuzz/artifacts/campaigns.txt 2>&1
done
