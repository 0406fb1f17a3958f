#!/usr/bin/env bash
# Installs the pinned JavaScript dependencies of the benchmark suite (the reference sync server
# and the load generator) from package-lock.json. Idempotent: does nothing when node_modules is
# already at least as new as the lock file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

die() { echo "tests/bench/js/setup.sh: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node is not installed (Node.js 20 or newer is needed)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || die "Node.js $(node --version) is too old; 20 or newer is needed"
[ -f package-lock.json ] || die "package-lock.json is missing in $(pwd)"

# npm ci writes node_modules/.package-lock.json; it is older than the lock file after a change.
stamp=node_modules/.package-lock.json
if [ -d node_modules ] && [ -f "$stamp" ] && ! [ package-lock.json -nt "$stamp" ]; then
  exit 0
fi

echo "tests/bench/js/setup.sh: installing pinned packages (npm ci)" >&2
npm ci --no-audit --no-fund >&2 || die "npm ci failed in $(pwd)"
[ -f "$stamp" ] || die "npm ci finished but $stamp is missing"
touch "$stamp"
