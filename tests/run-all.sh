#!/usr/bin/env bash
# Runs every check and test of Kefu: formatting, clippy (warnings are errors), the whole
# workspace's tests, then the generated bindings (Python, Kotlin in both flavours, the Swift
# header) and the Kotlin mobile demo's scripted field day against a real server (pytest).
# The README's test command and CI's .ci/run both call this script.
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
# uniffi-bindgen is left out of the workspace runs: built with them, cargo would unify
# uniffi's `cli` feature into the bindings library. bindings/generate.sh builds it on its own.
cargo clippy --workspace --exclude uniffi-bindgen --all-targets --locked -- -D warnings || status=1

step "tests"
cargo test --workspace --exclude uniffi-bindgen --locked --no-fail-fast 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
[ "$test_status" -eq 0 ] || status=1

passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '^test result: .* ([0-9]+) failed' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')

step "bindings and mobile demo (setup, generate, build, pytest)"
pylog=$(mktemp)
trap 'rm -f "$log" "$pylog"' EXIT
if tools=$(bash tests/bindings/setup.sh) &&
  bash bindings/generate.sh &&
  bash bindings/build-kotlin.sh &&
  bash mobile-demo/build.sh; then
  "$tools/venv/bin/python" -m pytest tests/bindings -p no:cacheprovider -q -rfE 2>&1 | tee "$pylog"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  summary=$(tail -n 1 "$pylog")
  py_passed=$(echo "$summary" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' || echo 0)
  py_failed=$(echo "$summary" | grep -Eo '[0-9]+ (failed|error|errors)' | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
  passed=$((passed + ${py_passed:-0}))
  failed=$((failed + ${py_failed:-0}))
else
  echo "bindings: setup, generation or a build failed (see above)"
  status=1
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A lint or build failure is a failure even when no test failed.
  failed=1
fi
echo "kefu: ${passed} passed, ${failed} failed"
exit "$status"
