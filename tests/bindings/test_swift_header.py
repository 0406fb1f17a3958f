"""The Swift bindings cannot be compiled here (no Swift toolchain on Linux in this project), so
this checks what Swift builds on: the generated C header (`kefuFFI.h`, imported by Swift's
clang importer through `kefuFFI.modulemap`) compiles with clang, and every function it declares
links against the built library — the shared one and the static one an iOS app links."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import BINDINGS, LIB_DIR, TARGET, require

SWIFT = BINDINGS / "swift"
DECL = re.compile(r"^(?!typedef\b)[A-Za-z_][\w \t\*]*?\b(\w+)\(", re.MULTILINE)


@pytest.fixture(scope="module")
def clang():
    path = shutil.which("clang")
    if path is None:
        pytest.fail("clang is missing: run tests/bindings/setup.sh (installs Debian's clang)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def declared():
    header = require(SWIFT / "kefuFFI.h", "run bindings/generate.sh").read_text()
    names = DECL.findall(header)
    assert len(names) == len(set(names)), "a function is declared twice"
    # Every exported method has its function and checksum; the shared FFI helpers are there too.
    assert len(names) > 150, names
    assert "uniffi_kefu_fn_method_kefu_sync_once" in names
    assert "uniffi_kefu_checksum_method_kefu_sync_once" in names
    assert "ffi_kefu_uniffi_contract_version" in names
    return names


def test_generated_swift_files_are_there():
    for name in ("Kefu.swift", "kefuFFI.h", "kefuFFI.modulemap"):
        require(SWIFT / name, "run bindings/generate.sh")
    assert "module kefuFFI" in (SWIFT / "kefuFFI.modulemap").read_text()
    swift = (SWIFT / "Kefu.swift").read_text()
    assert re.search(r"func syncOnce\(\)\s*async throws\s*-> SyncReport", swift)
    assert "checksum mismatch" in swift  # the integrity check runs on first use


def test_header_compiles(clang):
    r = subprocess.run([clang, "-x", "c-header", "-std=c11", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
                        str(SWIFT / "kefuFFI.h")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def _probe(tmp_path, names):
    src = tmp_path / "probe.c"
    refs = ",\n".join(f"    (const void *)&{n}" for n in names)
    src.write_text(
        '#include <stdio.h>\n#include "kefuFFI.h"\n'
        f"static const void *const symbols[] = {{\n{refs}\n}};\n"
        "int main(void) {\n"
        "    size_t n = 0;\n"
        "    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) n += symbols[i] != NULL;\n"
        '    printf("%zu\\n", n);\n'
        "    return 0;\n}\n"
    )
    return src


def test_every_declared_symbol_links_against_the_shared_library(clang, declared, tmp_path):
    exe = tmp_path / "probe"
    r = subprocess.run([clang, "-std=c11", "-Wall", "-Werror", f"-I{SWIFT}", str(_probe(tmp_path, declared)),
                        f"-L{LIB_DIR}", "-lkefu", f"-Wl,-rpath,{LIB_DIR}", "-Wl,--no-undefined", "-o", str(exe)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == len(declared)
    exported = subprocess.run(["nm", "-D", "--defined-only", str(LIB_DIR / "libkefu.so")],
                              capture_output=True, text=True, timeout=120, check=True).stdout
    defined = {line.split()[-1] for line in exported.splitlines() if line.strip()}
    assert not set(declared) - defined


def test_every_declared_symbol_links_against_the_static_library(clang, declared, tmp_path):
    static = require(TARGET / "debug" / "libkefu.a", "build it with `cargo build -p kefu-bindings`")
    exe = tmp_path / "probe-static"
    r = subprocess.run([clang, "-std=c11", f"-I{SWIFT}", str(_probe(tmp_path, declared)), str(static),
                        "-lpthread", "-ldl", "-lm", "-Wl,--gc-sections", "-o", str(exe)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and int(run.stdout) == len(declared)
