#!/usr/bin/env bash
# Runs the mobile demo (build it first with mobile-demo/build.sh), passing the arguments
# through: `mobile-demo/run.sh --store phone.db --server http://127.0.0.1:8080 --user field1`.
# Respects CARGO_TARGET_DIR (default <repo>/target) and KEFU_TOOLS (default $target/tools).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
tools="${KEFU_TOOLS:-$target/tools}"
KOTLIN_VERSION=2.4.20
kotlin_lib="$tools/kotlinc-$KOTLIN_VERSION/lib"
jars="$target/bindings/jars"
lib_dir="$target/bindings/lib"

die() { echo "mobile-demo/run.sh: $*" >&2; exit 1; }

command -v java >/dev/null 2>&1 || die "java is not installed (OpenJDK 17 is needed)"
[ -f "$lib_dir/libkefu.so" ] || die "$lib_dir/libkefu.so is missing: run bindings/generate.sh"
[ -f "$jars/kefu-jvm.jar" ] || die "$jars/kefu-jvm.jar is missing: run bindings/build-kotlin.sh"
[ -f "$jars/mobile-demo.jar" ] || die "$jars/mobile-demo.jar is missing: run mobile-demo/build.sh"
for j in /usr/share/java/jna.jar "$kotlin_lib/kotlin-stdlib.jar" "$kotlin_lib/kotlinx-coroutines-core-jvm.jar"; do
  [ -f "$j" ] || die "$j is missing: run tests/bindings/setup.sh"
done

cp="$jars/kefu-jvm.jar:$jars/mobile-demo.jar:/usr/share/java/jna.jar:$kotlin_lib/kotlin-stdlib.jar:$kotlin_lib/kotlinx-coroutines-core-jvm.jar"
exec java -Djna.library.path="$lib_dir" -Dfile.encoding=UTF-8 -Dstdout.encoding=UTF-8 \
  -cp "$cp" app.kefu.demo.KefuDemo "$@"
