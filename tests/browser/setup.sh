#!/usr/bin/env bash
# Installs what the browser tests need: Debian's Chromium (apt-get, when /usr/bin/chromium is
# missing) and the pinned playwright-core from package-lock.json (npm ci). Idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

die() { echo "tests/browser/setup.sh: $*" >&2; exit 1; }

# Chromium, and a CJK font so pages and screenshots show Chinese rather than empty boxes.
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || packages+=(fonts-noto-cjk)
if [ "${#packages[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "${packages[*]} missing and apt-get is not available"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "tests/browser/setup.sh: installing ${packages[*]} from Debian (apt-get)" >&2
  $sudo apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >&2 || die "apt-get install ${packages[*]} failed"
fi

command -v node >/dev/null 2>&1 || die "node is not installed (Node.js 20 or newer is needed)"
stamp=node_modules/.package-lock.json
if [ -d node_modules ] && [ -f "$stamp" ] && ! [ package-lock.json -nt "$stamp" ]; then
  exit 0
fi
echo "tests/browser/setup.sh: installing pinned packages (npm ci)" >&2
npm ci --no-audit --no-fund >&2 || die "npm ci failed in $(pwd)"
touch "$stamp"
