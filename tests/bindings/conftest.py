"""Shared fixtures of the tests of the generated bindings and the mobile demo.

Everything runs against a real `kefu-server` (the debug binary of this checkout) on
127.0.0.1, in a data directory of the test's own, started and stopped by the test.
`tests/run-all.sh` builds the server, runs `bindings/generate.sh` and the Kotlin builds first;
these tests only use what is there and fail with a clear message when something is missing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")).resolve()
BINDINGS = TARGET / "bindings"
LIB_DIR = BINDINGS / "lib"
JARS = BINDINGS / "jars"
TOOLS = Path(os.environ.get("KEFU_TOOLS", TARGET / "tools"))
SERVER_BIN = TARGET / "debug" / "kefu-server"

PASSWORD = "kefu-test-pass-1"
TEAM = "一组"
# username -> (role, display name)
USERS = {
    "agent1": ("agent", "王回访"),
    "field1": ("field", "李师傅"),
    "sup": ("supervisor", "赵主管"),
}


def require(path: Path, how: str) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: {how}", pytrace=False)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A kefu-server process on 127.0.0.1 that can be stopped and started again on the same
    port and data directory (a phone's server going away and coming back)."""

    def __init__(self, data: Path):
        self.data = data
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = data.parent / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_user(self, username: str, role: str, team: str | None = TEAM, display_name: str | None = None):
        args = [str(SERVER_BIN), "user", "add", "--data", str(self.data), "--username", username,
                "--role", role, "--password-stdin"]
        if team:
            args += ["--team", team]
        if display_name:
            args += ["--display-name", display_name]
        subprocess.run(args, input=PASSWORD + "\n", text=True, check=True, capture_output=True, timeout=60)

    def start(self, timeout: float = 30.0) -> str:
        assert self.proc is None, "already running"
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [str(SERVER_BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--data", str(self.data)],
            stdout=subprocess.PIPE, stderr=log, env={**os.environ, "RUST_LOG": "warn"},
        )
        ready = threading.Event()

        def watch(out):
            for line in out:
                if line.startswith(b"listening on "):
                    ready.set()

        threading.Thread(target=watch, args=(self.proc.stdout,), daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"kefu-server did not start within {timeout} s; see {self.log}")
        return self.url

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def api(self, method: str, path: str, token: str | None = None, body=None):
        """(status, parsed JSON body or text) of one HTTP call."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def login(self, username: str) -> str:
        status, body = self.api("POST", "/api/v1/login", body={
            "username": username, "password": PASSWORD, "device_name": f"pytest {username}"})
        assert status == 200, body
        return body["token"]


@pytest.fixture
def server_data(tmp_path):
    """A data directory with the test team's users (see USERS), server not started."""
    require(SERVER_BIN, "build it with `cargo build -p kefu-server` (tests/run-all.sh does)")
    s = Server(tmp_path / "data")
    for name, (role, display) in USERS.items():
        s.add_user(name, role, display_name=display)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def server(server_data):
    """A running server with the test team's users."""
    server_data.start()
    return server_data
