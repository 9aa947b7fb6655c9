#!/usr/bin/env bash
# Installs Debian's Chromium, which the browser playground's end-to-end test
# (web-playground/www/tests/e2e.mjs, through npm's playwright-core) drives headless.
# Idempotent: nothing is installed when /usr/bin/chromium is already there.
# Usage: scripts/setup-chromium.sh
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium: present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
sudo_if_needed=()
if [ "$(id -u)" != 0 ]; then sudo_if_needed=(sudo); fi
# The package lists may be stale on a fresh machine: refresh them only when the install fails.
if ! "${sudo_if_needed[@]}" apt-get install -y chromium; then
  "${sudo_if_needed[@]}" apt-get update
  "${sudo_if_needed[@]}" apt-get install -y chromium
fi
/usr/bin/chromium --version
