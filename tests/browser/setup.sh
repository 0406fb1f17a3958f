#!/usr/bin/env bash
# Installs what the browser tests need: Debian's Chromium (apt-get, when /usr/bin/chromium is
# missing) and the pinned playwright-core from package-lock.json (npm ci). Idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

die() { echo "tests/browser/setup.sh: $*" >&2; exit 1; }

if ! [ -x /usr/bin/chromium ]; then
  command -v apt-get >/dev/null 2>&1 || die "/usr/bin/chromium is missing and apt-get is not available"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "tests/browser/setup.sh: installing Debian's chromium (apt-get)" >&2
  $sudo apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2 || die "apt-get install chromium failed"
fi

command -v node >/dev/null 2>&1 || die "node is not installed (Node.js 20 or newer is needed)"
stamp=node_modules/.package-lock.json
if [ -d node_modules ] && [ -f "$stamp" ] && ! [ package-lock.json -nt "$stamp" ]; then
  exit 0
fi
echo "tests/browser/setup.sh: installing pinned packages (npm ci)" >&2
npm ci --no-audit --no-fund >&2 || die "npm ci failed in $(pwd)"
touch "$stamp"
