#!/usr/bin/env bash
# Installs Debian's nats-server (2.9.x, JetStream included), which the cluster tests
# (cluster/tests/, cli/tests/cluster.rs) start on free loopback ports, and prints its path.
# Idempotent: nothing is installed when `nats-server --version` already works.
# Usage: scripts/setup-nats.sh        (the last line of output is the path)
set -euo pipefail
if ! nats-server --version >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  if ! apt-cache policy nats-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $sudo apt-get update
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends nats-server
fi
nats-server --version >&2
command -v nats-server
