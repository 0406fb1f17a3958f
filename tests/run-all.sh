#!/usr/bin/env bash
# Runs every check and test of Kefu: formatting, clippy (warnings are errors) and the whole
# workspace's tests. The README's test command and CI's .ci/run both call this script.
# It closes with one line "kefu: N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

step() { echo "==> $*"; }

step "rustfmt"
cargo fmt --all -- --check || status=1

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings || status=1

step "tests"
cargo test --workspace --locked 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
[ "$test_status" -eq 0 ] || status=1

passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '^test result: .* ([0-9]+) failed' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A lint or build failure is a failure even when no test failed.
  failed=1
fi
echo "kefu: ${passed} passed, ${failed} failed"
exit "$status"
