#!/usr/bin/env bash
# Installs one PyPI package at one version for $PYTHON (default python3), unless pip already has
# exactly that version. Messages go to stderr, so callers can print results on stdout.
# Usage: scripts/pip-pin.sh PACKAGE VERSION
set -euo pipefail
package=$1 version=$2
python="${PYTHON:-python3}"
export PIP_ROOT_USER_ACTION=ignore
if ! command -v "$python" >/dev/null 2>&1; then
  echo "$python is not on PATH: install Python 3 (with pip), then run this again" >&2
  exit 1
fi
installed="$({ "$python" -m pip show "$package" 2>/dev/null || true; } | sed -n 's/^Version: //p')"
if [ "$installed" = "$version" ]; then
  echo "$package $version: present" >&2
  exit 0
fi
echo "$package: installing $version (found: ${installed:-none})" >&2
# A Python whose packages the system manages (PEP 668) refuses plain installs.
if ! "$python" -m pip install --quiet --disable-pip-version-check "$package==$version" >&2; then
  "$python" -m pip install --quiet --disable-pip-version-check --break-system-packages "$package==$version" >&2
fi
