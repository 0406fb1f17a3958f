#!/usr/bin/env bash
# Installs what the tests of the generated bindings and the mobile demo need, each pinned:
#   - JNA from Debian (libjna-java, apt-get) when /usr/share/java/jna.jar is missing;
#   - clang from Debian when missing (the Swift header check);
#   - the Kotlin compiler from the npm package kotlin-compiler@$KOTLIN_VERSION, its tarball
#     checked against $KOTLIN_SHA256 before it is unpacked (into $KEFU_TOOLS/kotlinc);
#   - pytest $PYTEST_VERSION in a virtualenv ($KEFU_TOOLS/venv).
# Idempotent: a second run finds everything and does nothing. Prints the tools directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
tools="${KEFU_TOOLS:-$target/tools}"

KOTLIN_VERSION=2.4.20
KOTLIN_SHA256=c23dab400d7ce5ea8b6c909947c0ca5454189e4bb1108695b5f464500e5e950f
PYTEST_VERSION=9.2.0

die() { echo "tests/bindings/setup.sh: $*" >&2; exit 1; }
say() { echo "tests/bindings/setup.sh: $*" >&2; }
mkdir -p "$tools"

# JNA (the generated Kotlin loads the library through it).
if [ ! -f /usr/share/java/jna.jar ]; then
  command -v apt-get >/dev/null 2>&1 || die "libjna-java missing and apt-get is not available"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing libjna-java from Debian (apt-get)"
  $sudo apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libjna-java >&2 || die "apt-get install libjna-java failed"
fi
[ -f /usr/share/java/jna.jar ] || die "libjna-java installed but /usr/share/java/jna.jar is missing"

# clang, to check the generated Swift C header the way Swift's clang importer reads it.
if ! command -v clang >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "clang missing and apt-get is not available"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing clang from Debian (apt-get)"
  $sudo apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clang >&2 || die "apt-get install clang failed"
fi

# Kotlin compiler, checked by sha256.
kotlinc_dir="$tools/kotlinc-$KOTLIN_VERSION"
if [ ! -x "$kotlinc_dir/bin/kotlinc" ]; then
  command -v npm >/dev/null 2>&1 || die "npm is not installed"
  command -v java >/dev/null 2>&1 || die "java is not installed (OpenJDK 17 is needed)"
  dl="$(mktemp -d)"
  trap 'rm -rf "$dl"' EXIT
  say "fetching kotlin-compiler@$KOTLIN_VERSION from npm"
  (cd "$dl" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null 2>&1) || die "npm pack kotlin-compiler@$KOTLIN_VERSION failed"
  tgz="$dl/kotlin-compiler-$KOTLIN_VERSION.tgz"
  [ -f "$tgz" ] || die "npm pack wrote no $tgz"
  got="$(sha256sum "$tgz" | cut -d' ' -f1)"
  [ "$got" = "$KOTLIN_SHA256" ] || die "kotlin-compiler-$KOTLIN_VERSION.tgz has sha256 $got, expected $KOTLIN_SHA256: refusing it"
  mkdir -p "$dl/x"
  tar -xzf "$tgz" -C "$dl/x"
  chmod +x "$dl/x/package/bin/"*
  rm -rf "$kotlinc_dir"
  mv "$dl/x/package" "$kotlinc_dir"
fi

# pytest.
venv="$tools/venv"
if ! "$venv/bin/python" -m pytest --version 2>/dev/null | grep -q "pytest $PYTEST_VERSION"; then
  say "installing pytest $PYTEST_VERSION into $venv"
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pytest==$PYTEST_VERSION" >&2 || die "pip install pytest==$PYTEST_VERSION failed"
fi
echo "$tools"
