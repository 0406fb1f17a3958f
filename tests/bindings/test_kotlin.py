"""The generated Kotlin bindings, both flavours (plain JVM and `android = true`), on the JVM
against a real kefu-server.

The test program is tests/bindings/kotlin/BindingsTest.kt, compiled by bindings/build-kotlin.sh
against each flavour's jar. It starts and stops the server itself (it works offline while the
server is stopped), so these tests hand it a data directory with the users and a port, and run
it as `java -Djna.library.path=LIB_DIR -cp <jars> app.kefu.bindingstest.BindingsTestKt ...`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import JARS, LIB_DIR, SERVER_BIN, require

JNA = "/usr/share/java/jna.jar"
MAIN_CLASS = "app.kefu.bindingstest.BindingsTestKt"
# The runtime the test jars run with; bindings/build-kotlin.sh copies it next to them.
RUNTIME_JARS = ["kotlin-stdlib.jar", "kotlinx-coroutines-core-jvm.jar"]
TIMEOUT_S = 240


def flavour_jars(flavour: str) -> list[str]:
    return RUNTIME_JARS + [f"kefu-{flavour}.jar", f"bindings-test-{flavour}.jar"]


@pytest.fixture(scope="module", autouse=True)
def built_jars():
    """Every jar the two runs need, built beforehand."""
    how = "run bindings/build-kotlin.sh (after bindings/generate.sh and tests/bindings/setup.sh)"
    missing = [name for f in ("jvm", "android") for name in flavour_jars(f) if not (JARS / name).is_file()]
    if missing:
        pytest.fail(f"missing in {JARS}: {', '.join(missing)}: {how}", pytrace=False)
    require(LIB_DIR / "libkefu.so", "run bindings/generate.sh")
    require(Path(JNA), "run tests/bindings/setup.sh (installs Debian libjna-java)")


def run_flavour(flavour: str, server_data, tmp_path):
    classpath = ":".join([JNA] + [str(JARS / name) for name in flavour_jars(flavour)])
    scratch = tmp_path / f"phones-{flavour}"
    scratch.mkdir()
    cmd = [
        "java", f"-Djna.library.path={LIB_DIR}", "-cp", classpath, MAIN_CLASS,
        str(SERVER_BIN), str(server_data.data), str(server_data.port), str(scratch), flavour,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
        timed_out = False
    except subprocess.TimeoutExpired:
        # SIGTERM first: the program's shutdown hook then stops the server it started.
        proc.terminate()
        try:
            stdout, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        timed_out = True
    print(stdout)
    if stderr:
        print("--- stderr ---")
        print(stderr)
    log = scratch / "server.log"
    if (timed_out or proc.returncode != 0) and log.exists():
        print("--- server.log (end) ---")
        print(log.read_text(errors="replace")[-4000:])
    assert not timed_out, f"kotlin-{flavour} did not finish within {TIMEOUT_S} s"
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert proc.returncode == 0, f"kotlin-{flavour} exited with {proc.returncode}"
    assert lines and lines[-1].startswith(f"kotlin-{flavour}: ") and lines[-1].endswith(" 0 failed"), \
        f"last line: {lines[-1] if lines else '(no output)'}"
    assert "PASS integrity" in stdout


def test_kotlin_jvm(server_data, tmp_path):
    run_flavour("jvm", server_data, tmp_path)


def test_kotlin_android(server_data, tmp_path):
    run_flavour("android", server_data, tmp_path)
