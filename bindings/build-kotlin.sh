#!/usr/bin/env bash
# Compiles the generated Kotlin bindings (both flavours) and their test program into jars,
# with the pinned kotlinc that tests/bindings/setup.sh installs (JVM target 17):
#   $target/bindings/jars/kefu-jvm.jar               target/bindings/kotlin-jvm/**/*.kt
#   $target/bindings/jars/kefu-android.jar           target/bindings/kotlin-android/**/*.kt plus
#                                                    tests/bindings/kotlin/android-stubs/**/*.kt
#                                                    (android.os.Build, androidx RequiresApi,
#                                                    android.system.SystemCleaner: plain-JVM stubs)
#   $target/bindings/jars/bindings-test-jvm.jar      tests/bindings/kotlin/BindingsTest.kt against
#   $target/bindings/jars/bindings-test-android.jar  each flavour's jar
# The Kotlin runtime is NOT put into the jars (no -include-runtime): the compiler's own
# kotlin-stdlib.jar and kotlinx-coroutines-core-jvm.jar are copied next to them, so the jars
# directory holds everything but JNA. Run a flavour's tests with:
#   java -Djna.library.path=$target/bindings/lib \
#     -cp /usr/share/java/jna.jar:J/kotlin-stdlib.jar:J/kotlinx-coroutines-core-jvm.jar:J/kefu-jvm.jar:J/bindings-test-jvm.jar \
#     app.kefu.bindingstest.BindingsTestKt SERVER_BIN DATA_DIR PORT SCRATCH_DIR jvm
# (J = $target/bindings/jars; tests/bindings/test_kotlin.py does this).
# Each jar is recompiled only when the sha256 stamp of its inputs (sources, classpath jars,
# compiler, flags) changed; the script prints which jars were (re)built and which were skipped.
# Needs: bindings/generate.sh run first (the generated sources), tests/bindings/setup.sh (kotlinc,
# JNA). Respects CARGO_TARGET_DIR (default <repo>/target) and KEFU_TOOLS (default $target/tools).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
tools="${KEFU_TOOLS:-$target/tools}"
KOTLIN_VERSION=2.4.20
JVM_TARGET=17

say() { echo "bindings/build-kotlin.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

kotlinc_home="$tools/kotlinc-$KOTLIN_VERSION"
kotlinc="$kotlinc_home/bin/kotlinc"
[ -x "$kotlinc" ] || die "no Kotlin compiler at $kotlinc: run tests/bindings/setup.sh first"
command -v java >/dev/null 2>&1 || die "java is not installed (OpenJDK 17 is needed): see tests/bindings/setup.sh"
jna=/usr/share/java/jna.jar
[ -f "$jna" ] || die "no JNA at $jna: run tests/bindings/setup.sh first"
stdlib="$kotlinc_home/lib/kotlin-stdlib.jar"
coroutines="$kotlinc_home/lib/kotlinx-coroutines-core-jvm.jar"
[ -f "$stdlib" ] || die "no $stdlib in the Kotlin compiler: run tests/bindings/setup.sh again"
[ -f "$coroutines" ] || die "no $coroutines in the Kotlin compiler: run tests/bindings/setup.sh again"

gen="$target/bindings"
stubs_dir="$root/tests/bindings/kotlin/android-stubs"
test_src="$root/tests/bindings/kotlin/BindingsTest.kt"
jars="$gen/jars"
for flavour in jvm android; do
  [ -f "$gen/kotlin-$flavour/app/kefu/core/kefu.kt" ] ||
    die "no generated Kotlin in $gen/kotlin-$flavour: run bindings/generate.sh first"
done
[ -f "$gen/lib/libkefu.so" ] || die "no $gen/lib/libkefu.so: run bindings/generate.sh first"
[ -d "$stubs_dir" ] || die "no Android stubs in $stubs_dir"
[ -f "$test_src" ] || die "no test program $test_src"
mkdir -p "$jars"

# The .kt files under the given directories, sorted (so the stamp does not depend on order).
kt_files() { find "$@" -type f -name '*.kt' -print0 | sort -z | xargs -0 -r printf '%s\n'; }

# sha256 of a jar's inputs: each file's hash and path, the compiler version and the flags.
stamp_of() { # stamp_of FLAGS FILE...
  local flags="$1"
  shift
  {
    echo "kotlinc $KOTLIN_VERSION $(sha256sum "$kotlinc_home/lib/kotlin-compiler.jar" | cut -d' ' -f1)"
    echo "java $(java -version 2>&1 | head -n1)"
    echo "flags $flags"
    sha256sum "$@"
  } | sha256sum | cut -d' ' -f1
}

built=()
skipped=()

# build NAME CLASSPATH EXTRA_FLAGS SOURCE...: compiles SOURCEs into $jars/NAME unless unchanged.
build() {
  local name="$1" cp="$2" extra="$3"
  shift 3
  local out="$jars/$name" stampfile="$jars/.$name.sha256"
  [ "$#" -gt 0 ] || die "no Kotlin sources for $name"
  local cp_files=()
  IFS=: read -r -a cp_files <<<"$cp"
  local stamp
  stamp="$(stamp_of "-jvm-target $JVM_TARGET $extra cp=$cp" "$@" "${cp_files[@]}")"
  if [ -f "$out" ] && [ -f "$stampfile" ] && [ "$(cat "$stampfile")" = "$stamp" ]; then
    skipped+=("$name")
    say "$name is up to date (inputs unchanged), not recompiled"
    return
  fi
  say "compiling $name from $# source file(s)"
  local start=$SECONDS
  rm -f "$out.tmp.jar" "$stampfile"
  local log="$jars/.$name.log"
  # shellcheck disable=SC2086 # $extra holds separate flags
  if ! "$kotlinc" -jvm-target "$JVM_TARGET" -cp "$cp" $extra -d "$out.tmp.jar" "$@" 2>&1 | tee "$log" >&2; then
    if grep -q "'message' hides member of supertype 'Throwable'" "$log"; then
      say "hint: a variant of an error enum has a field named \`message\`, which the generated Kotlin"
      say "      exception cannot have (Throwable.message; uniffi-rs issue #1434): rename the field in"
      say "      bindings/src/error.rs and run bindings/generate.sh again"
    fi
    die "kotlinc failed for $name (output above and in $log)"
  fi
  [ -f "$out.tmp.jar" ] || die "kotlinc wrote no $out.tmp.jar"
  mv "$out.tmp.jar" "$out"
  echo "$stamp" >"$stampfile"
  built+=("$name")
  say "built $out in $((SECONDS - start)) s"
}

# The runtime jars the tests run with, next to the built jars (copied only when changed).
for j in "$stdlib" "$coroutines"; do
  dest="$jars/$(basename "$j")"
  if ! cmp -s "$j" "$dest"; then
    cp "$j" "$dest.tmp" && mv "$dest.tmp" "$dest"
    built+=("$(basename "$j") (copied)")
  fi
done

lib_cp="$jna:$coroutines"
mapfile -t jvm_src < <(kt_files "$gen/kotlin-jvm")
mapfile -t android_src < <(kt_files "$gen/kotlin-android" "$stubs_dir")
# The generated code is full of warnings nobody here can act on: -nowarn for it only.
build kefu-jvm.jar "$lib_cp" "-nowarn -module-name kefu" "${jvm_src[@]}"
build kefu-android.jar "$lib_cp" "-nowarn -module-name kefu" "${android_src[@]}"
build bindings-test-jvm.jar "$lib_cp:$jars/kefu-jvm.jar" "-module-name bindings-test" "$test_src"
build bindings-test-android.jar "$lib_cp:$jars/kefu-android.jar" "-module-name bindings-test" "$test_src"

if [ "${#built[@]}" -gt 0 ]; then
  say "(re)built: ${built[*]}"
else
  say "(re)built: nothing, every jar was up to date"
fi
[ "${#skipped[@]}" -eq 0 ] || say "skipped (unchanged): ${skipped[*]}"
echo "$jars"
