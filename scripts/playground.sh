#!/usr/bin/env bash
# Builds Sigil's browser playground into web-playground/www/dist/ and, with --serve, serves it on
# 127.0.0.1 for local use (the page runs the engine as wasm in a Web Worker: no server logic, and
# nothing leaves the browser). Steps, each skipped when already done:
#   1. npm ci in web-playground/www (when node_modules is missing or older than package-lock.json)
#   2. scripts/build-playground-wasm.sh (the sigil-playground crate -> web-playground/www/pkg/)
#   3. node build.mjs (esbuild bundle + the rule pack's examples -> dist/)
# Usage: scripts/playground.sh                  build only
#        scripts/playground.sh --serve [PORT]   build, then serve dist/ on http://127.0.0.1:PORT/ (default 8000)
set -euo pipefail
cd "$(dirname "$0")/.."
www=web-playground/www

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

serve=false
port=8000
while [ $# -gt 0 ]; do
  case "$1" in
    --serve)
      serve=true
      if [ $# -gt 1 ] && [[ "$2" =~ ^[0-9]+$ ]]; then port=$2; shift; fi
      ;;
    -h | --help) usage; exit 0 ;;
    *) echo "playground.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "playground.sh: $tool is not on PATH: install Node.js 20 or later with npm (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
done

# npm records what it installed in node_modules/.package-lock.json; an older record than the
# committed lock file means the dependencies changed since.
if [ ! -f "$www/node_modules/.package-lock.json" ] || [ "$www/package-lock.json" -nt "$www/node_modules/.package-lock.json" ]; then
  echo "==> npm ci ($www)"
  (cd "$www" && npm ci --no-audit --no-fund)
else
  echo "==> npm packages: present ($www/node_modules)"
fi

echo "==> the engine as wasm (scripts/build-playground-wasm.sh)"
scripts/build-playground-wasm.sh

echo "==> the page (esbuild)"
(cd "$www" && node build.mjs)

if [ "$serve" = true ]; then
  echo "==> serving $www/dist on http://127.0.0.1:$port/ (Ctrl-C stops)"
  exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$www/dist"
fi
echo "built: $www/dist (serve it with scripts/playground.sh --serve)"
