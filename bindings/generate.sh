#!/usr/bin/env bash
# Builds the bindings library and generates the Kotlin (JVM and Android flavours), Swift and
# Python bindings from it. Nothing generated is committed; everything lands under
# $CARGO_TARGET_DIR/bindings (default target/bindings):
#   lib/libkefu.so             the library the Python and Kotlin tests load
#   python/kefu.py             Python module (beside a link to lib/libkefu.so)
#   kotlin-jvm/…/kefu.kt       Kotlin, plain JVM
#   kotlin-android/…/kefu.kt   Kotlin, `android = true`
#   swift/Kefu.swift, swift/kefuFFI.h, swift/kefuFFI.modulemap
# The library and the generator are built in two cargo invocations: built together, cargo
# would unify uniffi's `cli` feature into the library and bloat it.
# Usage: bindings/generate.sh [--release]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
profile=debug
flags=()
if [ "${1:-}" = "--release" ]; then
  profile=release
  flags=(--release)
fi
say() { echo "bindings/generate.sh: $*" >&2; }

say "building the library (cargo build -p kefu-bindings ${flags[*]:-})"
cargo build --locked -p kefu-bindings "${flags[@]}" >&2
say "building the generator (cargo build -p uniffi-bindgen)"
cargo build --locked -p uniffi-bindgen >&2

lib="$target/$profile/libkefu.so"
[ -f "$lib" ] || { say "no $lib after the build"; exit 1; }
out="$target/bindings"
bindgen="$target/debug/uniffi-bindgen"
rm -rf "$out.tmp"
mkdir -p "$out.tmp/lib"
cp "$lib" "$out.tmp/lib/"
"$bindgen" generate "$lib" --language python --out-dir "$out.tmp/python" --no-format >&2
"$bindgen" generate "$lib" --language kotlin --out-dir "$out.tmp/kotlin-jvm" --no-format >&2
"$bindgen" generate "$lib" --language kotlin --out-dir "$out.tmp/kotlin-android" --no-format \
  --config "$root/bindings/uniffi-android.toml" >&2
"$bindgen" generate "$lib" --language swift --out-dir "$out.tmp/swift" --no-format >&2
# The Python module loads lib<name>.so from its own directory.
ln -s ../lib/libkefu.so "$out.tmp/python/libkefu.so"
# Replace what was generated; keep what others built from it (jars/, with their stamps).
mkdir -p "$out"
for part in lib python kotlin-jvm kotlin-android swift; do
  rm -rf "${out:?}/$part"
  mv "$out.tmp/$part" "$out/$part"
done
rm -rf "$out.tmp"
say "generated into $out"
