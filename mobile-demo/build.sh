#!/usr/bin/env bash
# Compiles the mobile demo (mobile-demo/src/main/kotlin) against the compiled JVM bindings
# ($target/bindings/jars/kefu-jvm.jar, made by bindings/build-kotlin.sh) into
# $target/bindings/jars/mobile-demo.jar. Skips the compile when the sha256 stamp of its
# inputs (the sources, kefu-jvm.jar, the compiler, this script) is unchanged.
# Respects CARGO_TARGET_DIR (default <repo>/target) and KEFU_TOOLS (default $target/tools).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
tools="${KEFU_TOOLS:-$target/tools}"
KOTLIN_VERSION=2.4.20
kotlinc="$tools/kotlinc-$KOTLIN_VERSION/bin/kotlinc"
kotlin_lib="$tools/kotlinc-$KOTLIN_VERSION/lib"
jna=/usr/share/java/jna.jar
jars="$target/bindings/jars"
kefu_jar="$jars/kefu-jvm.jar"
out="$jars/mobile-demo.jar"
stamp="$jars/.mobile-demo.jar.sha256"

die() { echo "mobile-demo/build.sh: $*" >&2; exit 1; }
say() { echo "mobile-demo/build.sh: $*" >&2; }

[ -x "$kotlinc" ] || die "$kotlinc is missing: run tests/bindings/setup.sh (it installs kotlinc $KOTLIN_VERSION)"
[ -f "$jna" ] || die "$jna is missing: run tests/bindings/setup.sh (it installs libjna-java)"
[ -f "$kefu_jar" ] || die "$kefu_jar is missing: run bindings/build-kotlin.sh first (it compiles the generated Kotlin bindings)"

mapfile -t sources < <(find "$here/src/main/kotlin" -name '*.kt' | LC_ALL=C sort)
[ "${#sources[@]}" -gt 0 ] || die "no Kotlin sources under $here/src/main/kotlin"

want="$(
  {
    for f in "${sources[@]}"; do sha256sum "$f" | sed "s|$root/||"; done
    sha256sum "$kefu_jar" "$jna" "$kotlin_lib/kotlinx-coroutines-core-jvm.jar" "$kotlin_lib/kotlin-stdlib.jar" "$here/build.sh" | sed "s|$root/||"
    echo "kotlinc $KOTLIN_VERSION"
  } | sha256sum | cut -d' ' -f1
)"
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "up to date: $out"
  exit 0
fi

mkdir -p "$jars"
tmp="$(mktemp "$jars/.mobile-demo.XXXXXX.jar")"
trap 'rm -f "$tmp"' EXIT
say "compiling ${#sources[@]} files into $out"
"$kotlinc" -nowarn -jvm-target 17 -module-name kefu-mobile-demo \
  -cp "$kefu_jar:$jna:$kotlin_lib/kotlinx-coroutines-core-jvm.jar" \
  -d "$tmp" "${sources[@]}" >&2 || die "kotlinc failed"
mv -f "$tmp" "$out"
trap - EXIT
echo "$want" > "$stamp"
say "built $out"
