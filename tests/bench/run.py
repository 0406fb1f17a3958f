#!/usr/bin/env python3
"""Kefu benchmark suite (issue 7): Kefu against the automerge-repo reference sync server.

    python3 tests/bench/run.py [--quick] [--scenarios field-day,burst,...] [--kefu-bin PATH]
        [--phones-scale 1000] [--driver NAME=CMD ...] [sizes]

For every scenario, a fresh kefu-server and a fresh reference server (tests/bench/js/
reference-server.mjs), one after the other on free 127.0.0.1 ports with data directories in a
temporary directory, each driven by the same load generator (tests/bench/js/load.mjs, the stock
automerge-repo client); every `--driver` runs against a fresh kefu-server of its own. For each
run: the load generator's JSON (wall time, docs per second, bytes on the wire, latency), the
server's CPU seconds (utime + stime of the process and its descendants from /proc, sampled at
the load generator's phase boundaries), its peak RSS (VmHWM, read just before stopping) and its
storage (sum of file sizes in its data directory after it stopped: Kefu's WAL is checkpointed
by then). Writes target/bench/results.json and target/bench/results.md and prints the table.
Python 3.11 standard library only. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import queue
import re
import resource
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JS = REPO / "tests" / "bench" / "js"
OUT = REPO / "target" / "bench"

SCENARIOS = ["field-day", "burst", "reconnect", "concurrent", "live"]
# Scenarios that only run when asked for: live-scale (--phones-scale N) and store-100k.
OPTIONAL = ["live-scale", "store-100k"]

# Sizes: phones x docs x edits (live: docs is unused; edits = edits per phone pair).
DEFAULT_SIZES = {
    "field-day": (20, 50, 5),
    "burst": (20, 50, 5),
    "reconnect": (20, 50, 1),  # 1,000 documents
    "concurrent": (2, 100, 2),
    "live": (20, 1, 20),
}
QUICK_SIZES = {
    "field-day": (3, 5, 2),
    "burst": (3, 5, 2),
    "reconnect": (3, 10, 1),
    "concurrent": (2, 10, 2),
    "live": (4, 1, 6),
}

SERVER_START_S = 30  # a server must print its address within this
SERVER_STOP_S = 30  # SIGTERM, then SIGKILL after this
CLK_TCK = os.sysconf("SC_CLK_TCK")
PHASE_RE = re.compile(r"^\[bench\] phase (\S+) (start|end)(?: ([0-9.]+))?$")


def log(*a: object) -> None:
    print("[run.py]", *a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# /proc sampling.


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) is in parentheses and may contain spaces: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        f = _stat_fields(int(d))
        if f:
            children.setdefault(int(f[1]), []).append(int(d))  # f[1] is ppid (field 4)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all threads), of its reaped children (cutime + cstime) and
    of its live descendants."""
    total = 0.0
    for i, p in enumerate([pid, *_descendants(pid)]):
        f = _stat_fields(p)
        if not f:
            continue
        # After comm: f[0] is state (field 3); utime, stime, cutime, cstime are fields 14..17.
        ticks = int(f[11]) + int(f[12])
        if i == 0:
            ticks += int(f[13]) + int(f[14])
        total += ticks / CLK_TCK
    return total


def peak_rss_bytes(pid: int) -> int:
    """VmHWM of the process plus that of its live descendants."""
    total = 0
    for p in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def dir_size(path: Path) -> tuple[int, int]:
    size = files = 0
    for root, _dirs, names in os.walk(path):
        for n in names:
            try:
                size += os.lstat(os.path.join(root, n)).st_size
                files += 1
            except OSError:
                pass
    return size, files


# --------------------------------------------------------------------------------------------
# Servers.


@dataclass
class Server:
    kind: str  # kefu | reference
    proc: subprocess.Popen
    url: str
    data: Path
    log_path: Path
    credentials: Path | None = None
    lines: list[str] = field(default_factory=list)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)


def _read_first_line(proc: subprocess.Popen, pattern: re.Pattern, what: str, log_path: Path) -> str:
    q: queue.Queue[str | None] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            q.put(line.rstrip("\n"))
        q.put(None)

    threading.Thread(target=reader, daemon=True).start()
    end = time.monotonic() + SERVER_START_S
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"{what} did not print its address within {SERVER_START_S} s; log {log_path}")
        try:
            line = q.get(timeout=left)
        except queue.Empty:
            continue
        if line is None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{what} exited before listening (code {proc.poll()}):\n{tail}")
        m = pattern.search(line)
        if m:
            return m.group(1)


def add_kefu_accounts(kefu_bin: Path, work: Path, data: Path, agents: int) -> Path:
    """Adds `agents` agents and one supervisor of team `bench` to a (new) kefu data directory;
    returns the credentials file for the load commands."""
    data.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    names = [f"bench-agent-{i:03d}" for i in range(agents)]
    for name, role in [*((n, "agent") for n in names), ("bench-supervisor", "supervisor")]:
        r = subprocess.run(
            [str(kefu_bin), "user", "add", "--data", str(data), "--username", name, "--role", role,
             "--team", "bench", "--password-stdin"],
            input=password + "\n", capture_output=True, text=True, timeout=60,
        )
        if r.returncode != 0:
            raise RuntimeError(f"kefu-server user add {name} failed: {r.stderr.strip()}")
    creds = work / "credentials.json"
    creds.write_text(json.dumps({
        "team": "bench",
        "supervisor": {"username": "bench-supervisor", "password": password},
        "agents": [{"username": n, "password": password} for n in names],
    }))
    creds.chmod(0o600)
    return creds


def serve_kefu(kefu_bin: Path, work: Path, data: Path, creds: Path) -> Server:
    log_path = work / "kefu-server.log"
    with open(log_path, "wb") as err:
        proc = subprocess.Popen(
            [str(kefu_bin), "serve", "--listen", "127.0.0.1:0", "--data", str(data)],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
        )
    try:
        url = _read_first_line(proc, re.compile(r"listening on (http://127\.0\.0\.1:\d+)"), "kefu-server", log_path)
    except BaseException:
        stop_server_proc(proc)
        raise
    return Server("kefu", proc, url, data, log_path, creds)


def start_kefu(kefu_bin: Path, work: Path, agents: int) -> Server:
    data = work / "data"
    creds = add_kefu_accounts(kefu_bin, work, data, agents)
    return serve_kefu(kefu_bin, work, data, creds)


def start_reference(work: Path, data: Path | None = None) -> Server:
    data = data or work / "data"
    data.mkdir(parents=True, exist_ok=True)
    log_path = work / "reference-server.log"
    with open(log_path, "wb") as err:
        proc = subprocess.Popen(
            ["node", str(JS / "reference-server.mjs"), "--port", "0", "--data", str(data)],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True, cwd=JS,
        )
    try:
        url = _read_first_line(proc, re.compile(r"listening on (ws://127\.0\.0\.1:\d+)"), "reference server", log_path)
    except BaseException:
        stop_server_proc(proc)
        raise
    return Server("reference", proc, url, data, log_path)


def stop_server_proc(proc: subprocess.Popen) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=SERVER_STOP_S)
        except subprocess.TimeoutExpired:
            log(f"pid {proc.pid} did not stop within {SERVER_STOP_S} s; SIGKILL")
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


# --------------------------------------------------------------------------------------------
# One run: a fresh server, one load command, measurements.


def run_load(cmd: list[str], server: Server, timeout_s: int) -> tuple[dict, dict, float, dict]:
    """Runs the load command; returns (its JSON, server CPU seconds at each phase mark, client CPU
    seconds, Kefu's message-time histogram at each phase mark). The command's stderr is scanned
    for phase marks; its last stdout line is JSON."""
    marks: dict[str, float] = {}
    hists: dict[str, list[tuple[float, int]]] = {}
    tail: list[str] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, cwd=JS)

    def scan_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip("\n")
            m = PHASE_RE.match(line)
            if m:
                marks[f"{m.group(1)}:{m.group(2)}"] = server.cpu()
                if server.kind == "kefu":
                    hists[f"{m.group(1)}:{m.group(2)}"] = kefu_histogram(server.url)
            tail.append(line)
            del tail[:-40]

    stdout: list[str] = []

    def read_stdout() -> None:
        assert proc.stdout is not None
        stdout.append(proc.stdout.read())

    threads = [threading.Thread(target=scan_stderr, daemon=True), threading.Thread(target=read_stdout, daemon=True)]
    for t in threads:
        t.start()
    try:
        proc.wait(timeout=timeout_s + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise RuntimeError(f"load command did not finish within {timeout_s + 30} s")
    finally:
        for t in threads:
            t.join(timeout=10)
    out = "".join(stdout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    try:
        result = json.loads(lines[-1]) if lines else {"error": "no output"}
    except json.JSONDecodeError:
        result = {"error": f"last stdout line is not JSON: {lines[-1][:300]}"}
    if proc.returncode != 0 and "error" not in result:
        result["error"] = f"exit code {proc.returncode}"
    if "error" in result:
        result["stderr_tail"] = tail[-15:]
    return result, marks, client_cpu, hists


def one_run(label: str, target: str, base_cmd: list[str], scenario: str, size: tuple[int, int, int],
            args: argparse.Namespace, extra: list[str]) -> dict:
    phones, docs, edits = size
    work = Path(tempfile.mkdtemp(prefix=f"kefu-bench-{scenario}-{label}-"))
    server: Server | None = None
    rec: dict = {"label": label, "target": target}
    try:
        if target == "kefu":
            accounts = max(1, phones // 2) if scenario.startswith("live") else phones
            # live-scale: one agent per pair unless told otherwise (Kefu phones follow every
            # file of their user, so ten phones sharing an agent would each get every change
            # of that agent's five files; the stock client only hears the file it has open).
            cap = args.max_accounts or (accounts if scenario == "live-scale" else 100)
            server = start_kefu(args.kefu_bin, work, min(accounts, cap))
        else:
            server = start_reference(work)
        cpu_start = server.cpu()
        cmd = [*base_cmd, "--target", target, "--url", server.url,
               "--scenario", "live" if scenario == "live-scale" else scenario,
               "--phones", str(phones), "--docs", str(docs), "--edits", str(edits),
               "--timeout", str(args.timeout), *extra]
        if server.credentials:
            cmd += ["--credentials", str(server.credentials)]
        log(f"{scenario} / {label}: {shlex.join(cmd)}")
        result, marks, client_cpu, hists = run_load(cmd, server, args.timeout)
        cpu_end = server.cpu()
        if target == "kefu":
            rec.update(kefu_message_times(hists, result.get("wall_phases") or []))
        rss = peak_rss_bytes(server.proc.pid)
        code = stop_server_proc(server.proc)
        storage, files = dir_size(server.data)
        rec.update(result)
        wall_phases = result.get("wall_phases") or []
        timed = 0.0
        per_phase = {}
        for name in result.get("phases", {}):
            s, e = marks.get(f"{name}:start"), marks.get(f"{name}:end")
            if s is not None and e is not None:
                per_phase[name] = round(e - s, 3)
                if name in wall_phases:
                    timed += e - s
        rec.update({
            "server_cpu_s": round(timed, 3),
            "server_cpu_run_s": round(cpu_end - cpu_start, 3),
            "server_cpu_total_s": round(cpu_end, 3),
            "server_cpu_by_phase_s": per_phase,
            "server_peak_rss_bytes": rss,
            "storage_bytes": storage,
            "storage_files": files,
            "server_exit_code": code,
            "client_cpu_s": round(client_cpu, 3),
        })
        if "error" in result:
            rec["server_log_tail"] = server.log_path.read_text(errors="replace")[-1500:]
    except Exception as e:  # one failed run must not stop the others
        rec["error"] = f"{type(e).__name__}: {e}"
        log(f"{scenario} / {label} failed: {rec['error']}")
    finally:
        if server is not None:
            stop_server_proc(server.proc)
        if args.keep:
            rec["work_dir"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if "error" in rec:
        log(f"{scenario} / {label}: ERROR {rec['error']}")
    else:
        log(f"{scenario} / {label}: wall {rec.get('wall_ms')} ms, server CPU {rec['server_cpu_s']} s, "
            f"RSS {rec['server_peak_rss_bytes'] / 2**20:.1f} MiB, storage {rec['storage_bytes']} B")
    return rec


def kefu_histogram(url: str) -> list[tuple[float, int]]:
    """Kefu's `kefu_sync_latency_seconds` histogram now: (upper bound in s, cumulative count)."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError as e:
        log(f"could not read {url}/metrics: {e}")
        return []
    out = []
    for m in re.finditer(r'^kefu_sync_latency_seconds_bucket\{le="([^"]+)"\} (\d+)$', text, re.M):
        out.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), int(m.group(2))))
    return out


def kefu_message_times(hists: dict, wall_phases: list[str]) -> dict:
    """The server's own time per sync message (decode, validate, commit, answer, with the wait
    for the database) in the timed phases, from its histogram read at each phase mark: the
    bucket bounds (ms) within which half and 99 % of those messages were handled."""
    counts: dict[float, int] = {}
    for name in wall_phases:
        a, b = hists.get(f"{name}:start"), hists.get(f"{name}:end")
        if not a or not b or len(a) != len(b):
            continue
        for (le, n0), (_, n1) in zip(a, b):
            counts[le] = counts.get(le, 0) + n1 - n0
    buckets = sorted(counts.items())
    total = buckets[-1][1] if buckets else 0
    if not total:
        return {}

    def bound(q: float):
        for le, n in buckets:
            if n >= q * total:
                return None if le == float("inf") else round(le * 1000, 1)
        return None

    return {"server_messages": total, "server_msg_p50_ms": bound(0.5), "server_msg_p99_ms": bound(0.99)}


def read_export_ids(path: Path) -> list[str]:
    """The document ids in a `bench-seed --export` file, in order."""
    ids = []
    with open(path, "rb") as f:
        while True:
            head = f.read(4)
            if len(head) < 4:
                break
            ids.append(f.read(int.from_bytes(head, "little")).decode())
            f.seek(int.from_bytes(f.read(4), "little"), os.SEEK_CUR)
    return ids


def vm_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def store_100k(args: argparse.Namespace, node_load: list[str]) -> dict:
    """A store of N documents (default 100,000): seeded once (through Kefu's acceptance
    pipeline; the same documents saved into the reference server's NodeFS storage), then for
    each server: cold start (spawn until it listens), RSS at rest, one client's first document
    and a fetch of --store-fetch documents, peak RSS, storage."""
    n = args.store_docs
    work = Path(tempfile.mkdtemp(prefix="kefu-bench-store-"))
    sc: dict = {"size": [1, n, 0], "fetch": args.store_fetch, "runs": {}}
    try:
        kdata, rdata = work / "kefu-data", work / "reference-data"
        creds = add_kefu_accounts(args.kefu_bin, work, kdata, 1)
        export = work / "docs.bin"
        t = time.monotonic()
        log(f"store-100k: seeding {n:,} customer files through the acceptance pipeline")
        r = subprocess.run([str(args.seed_bin), "--data", str(kdata), "--docs", str(n), "--agent", "bench-agent-000",
                            "--export", str(export)], stdout=subprocess.PIPE, text=True, timeout=3600)
        if r.returncode != 0:
            raise RuntimeError(f"bench-seed failed (exit {r.returncode})")
        sc["kefu_seed_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        log("store-100k: saving the same documents into the reference server's storage")
        r = subprocess.run(["node", str(JS / "seed-reference.mjs"), "--from", str(export), "--data", str(rdata)],
                           stdout=subprocess.PIPE, text=True, timeout=3600, cwd=JS)
        if r.returncode != 0:
            raise RuntimeError(f"seed-reference.mjs failed (exit {r.returncode})")
        sc["reference_seed_s"] = round(time.monotonic() - t, 1)
        ids = read_export_ids(export)
        if len(ids) != n:
            raise RuntimeError(f"the export holds {len(ids)} documents, not {n}")
        export.unlink()
        import random
        rng = random.Random(7)
        sample = rng.sample(ids, min(len(ids), args.store_fetch + 1))
        ids_file = work / "ids.json"
        ids_file.write_text(json.dumps(sample))
        del ids
        targets = [("kefu", kdata)] + ([] if args.no_reference else [("reference", rdata)])
        for label, data in targets:
            rec: dict = {"label": label, "target": label}
            server = None
            try:
                t = time.monotonic()
                server = (serve_kefu(args.kefu_bin, work, data, creds) if label == "kefu"
                          else start_reference(work, data))
                rec["cold_start_ms"] = round((time.monotonic() - t) * 1000, 1)
                time.sleep(2)
                rec["rss_at_rest_mib"] = round(vm_rss(server.proc.pid) / 2**20, 1)
                cpu0 = server.cpu()
                cmd = [*node_load, "--target", label, "--url", server.url, "--scenario", "fetch", "--phones", "1",
                       "--docs", str(args.store_fetch), "--ids", str(ids_file), "--timeout", str(args.timeout)]
                if label == "kefu":
                    cmd += ["--credentials", str(creds)]
                log(f"store-100k / {label}: {shlex.join(cmd)}")
                result, marks, client_cpu, _ = run_load(cmd, server, args.timeout)
                rec.update(result)
                rec["server_cpu_run_s"] = round(server.cpu() - cpu0, 3)
                rec["server_peak_rss_bytes"] = peak_rss_bytes(server.proc.pid)
                rec["client_cpu_s"] = round(client_cpu, 3)
                rec["server_exit_code"] = stop_server_proc(server.proc)
                rec["storage_bytes"], rec["storage_files"] = dir_size(data)
            except Exception as e:
                rec["error"] = f"{type(e).__name__}: {e}"
                log(f"store-100k / {label} failed: {rec['error']}")
            finally:
                if server is not None:
                    stop_server_proc(server.proc)
            sc["runs"][label] = rec
    except Exception as e:
        sc["runs"].setdefault("kefu", {"label": "kefu", "target": "kefu", "error": f"{type(e).__name__}: {e}"})
        log(f"store-100k failed: {e}")
    finally:
        if args.keep:
            sc["work_dir"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return sc


# --------------------------------------------------------------------------------------------
# Report.

# (key, label, kind): kind "cost" → ratio reference / kefu; "speed" → kefu / reference.
METRICS = [
    ("wall_ms", "wall time, ms", "cost"),
    ("docs_per_s", "documents per second", "speed"),
    ("server_cpu_s", "server CPU s (timed phases)", "cost"),
    ("server_cpu_run_s", "server CPU s (whole load run)", "cost"),
    ("server_peak_rss_mib", "server peak RSS, MiB", "cost"),
    ("ws_bytes_sent", "WebSocket bytes sent by clients", "cost"),
    ("ws_bytes_received", "WebSocket bytes received by clients", "cost"),
    ("storage_bytes", "storage, bytes", "cost"),
    ("storage_files", "storage, files", None),
    ("latency_p50_ms", "change → other device p50, ms", "cost"),
    ("latency_p99_ms", "change → other device p99, ms", "cost"),
    ("server_msg_p50_ms", "server time per sync message, p50 ≤ ms", None),
    ("server_msg_p99_ms", "server time per sync message, p99 ≤ ms", None),
    ("connected", "phones connected", None),
    ("cold_start_ms", "cold start (spawn → listening), ms", "cost"),
    ("rss_at_rest_mib", "server RSS at rest after start, MiB", "cost"),
    ("first_ms", "first document after start, ms", "cost"),
    ("fetch_ms", "fetch of the sample, ms", "cost"),
    ("manifest_ms", "manifest (every document), ms", None),
    ("manifest_entries", "manifest entries", None),
    ("http_requests_per_phone", "HTTP requests per phone", None),
    ("websockets_opened", "WebSockets opened", None),
    ("sync_rounds", "sync rounds", None),
    ("edits_delivered", "edits delivered", None),
    ("edits_lost", "edits lost (10 s)", None),
    ("client_cpu_s", "load generator CPU s", None),
]


def _value(rec: dict, key: str):
    if key in ("first_ms", "fetch_ms", "manifest_ms"):
        return rec.get("phases", {}).get(key[:-3])
    if key == "server_peak_rss_mib":
        v = rec.get("server_peak_rss_bytes")
        return None if v is None else round(v / 2**20, 1)
    return rec.get(key)


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _ratio(kefu, ref, kind) -> str:
    if kind is None or not isinstance(kefu, (int, float)) or not isinstance(ref, (int, float)):
        return ""
    if kind == "cost":
        return f"{ref / kefu:.2f}×" if kefu else ""
    return f"{kefu / ref:.2f}×" if ref else ""


def markdown(results: dict) -> str:
    meta = results["meta"]
    out = [
        "# Kefu benchmarks",
        "",
        f"{meta['date']} · {meta['machine']} · {meta['cpus']} CPUs · kefu-server {meta['kefu_version']} · "
        f"Node.js {meta['node']} · automerge-repo 2.5.6 · commit {meta['commit'][:12]}"
        + (" · **quick run**" if meta["quick"] else ""),
        "",
        "Ratio: reference ÷ kefu for costs, kefu ÷ reference for speed; above 1× Kefu does better. "
        "See tests/bench/README.md for how each number is measured.",
    ]
    for name, sc in results["scenarios"].items():
        out += ["", f"## {name}", ""]
        if "not_run" in sc:
            out.append(f"Not run: {sc['not_run']}.")
            continue
        p, d, e = sc["size"]
        if name == "store-100k":
            out.append(f"a store of {d:,} customer files; one client fetches one, then {sc.get('fetch', '?')} more "
                       f"(seeding: Kefu {sc.get('kefu_seed_s', '?')} s through the acceptance pipeline, "
                       f"reference {sc.get('reference_seed_s', '?')} s straight into its storage)")
        elif name.startswith("live"):
            out.append(f"phones {p} ({p // 2} pairs), edits per pair {e}")
        else:
            out.append(f"phones {p}, documents per phone {d}, edits {e}")
        runs = sc["runs"]
        drivers = [k for k in runs if k not in ("kefu", "reference")]
        errors = [(k, r["error"]) for k, r in runs.items() if "error" in r]
        out += ["", "| metric | kefu | reference | ratio |" + "".join(f" {d} (kefu) |" for d in drivers),
                "|---|---:|---:|---:|" + "---:|" * len(drivers)]
        for key, label, kind in METRICS:
            vals = {k: (None if "error" in r else _value(r, key)) for k, r in runs.items()}
            if all(v is None for v in vals.values()):
                continue
            k, r = vals.get("kefu"), vals.get("reference")
            row = f"| {label} | {_fmt(k)} | {_fmt(r)} | {_ratio(k, r, kind)} |"
            row += "".join(f" {_fmt(vals.get(d))} |" for d in drivers)
            out.append(row)
        for k, err in errors:
            out.append(f"\n**{k} failed:** {err}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# Main.


def parse_size(text: str, name: str) -> tuple[int, int, int]:
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(x.isdigit() for x in parts):
        raise SystemExit(f"--{name}-size must be PHONESxDOCSxEDITS, e.g. 20x50x5")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run in under a minute")
    ap.add_argument("--scenarios", help=f"comma-separated, from {', '.join(SCENARIOS + OPTIONAL)}")
    ap.add_argument("--kefu-bin", type=Path, default=REPO / "target" / "release" / "kefu-server")
    ap.add_argument("--seed-bin", type=Path, default=REPO / "target" / "release" / "examples" / "bench-seed",
                    help="the store-100k seeder (cargo build --release -p kefu-server --example bench-seed)")
    ap.add_argument("--no-build", action="store_true",
                    help="do not run cargo build --release first (use the binaries as they are)")
    ap.add_argument("--no-rust", action="store_true",
                    help="leave out the Kefu Rust client column (target/release/examples/bench-driver)")
    ap.add_argument("--store-docs", type=int, help="documents in store-100k (default 100000; quick 2000)")
    ap.add_argument("--store-fetch", type=int, help="documents fetched from it (default 1000; quick 100)")
    ap.add_argument("--timeout", type=int, help="hard bound per load run, seconds (default 600; quick 60)")
    for s in SCENARIOS:
        ap.add_argument(f"--{s}-size", metavar="CxDxE", help=f"phones x docs x edits (default {'x'.join(map(str, DEFAULT_SIZES[s]))})")
    ap.add_argument("--live-seconds", type=int, help="bound of the live edit phase (default 30; quick 10)")
    ap.add_argument("--interval-ms", type=int, default=200, help="think time between a live pair's edits")
    ap.add_argument("--phones-scale", type=int, metavar="N", help="add the live-scale scenario: N phones connected at once")
    ap.add_argument("--scale-edits", type=int, default=10, help="edits per pair in live-scale")
    ap.add_argument("--scale-seconds", type=int, default=60, help="bound of live-scale's edit phase")
    ap.add_argument("--scale-interval-ms", type=int, default=1000, help="think time between a pair's edits in live-scale")
    ap.add_argument("--max-accounts", type=int,
                    help="agent accounts per kefu server, phones share them beyond this (default 100; live-scale: one per pair)")
    ap.add_argument("--driver", action="append", default=[], metavar="NAME=CMD",
                    help="an extra load command run against kefu and reported as column NAME")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference server")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directories")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    if args.timeout is None:
        args.timeout = 60 if args.quick else 600
    live_seconds = args.live_seconds or (10 if args.quick else 30)
    sizes = dict(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    for s in SCENARIOS:
        v = getattr(args, f"{s.replace('-', '_')}_size")
        if v:
            sizes[s] = parse_size(v, s)
    if args.scenarios:
        chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
        bad = [s for s in chosen if s not in SCENARIOS + OPTIONAL]
        if bad:
            raise SystemExit(f"unknown scenarios {bad}; choose from {SCENARIOS + OPTIONAL}")
    else:
        chosen = list(SCENARIOS)
    if args.phones_scale:
        if args.phones_scale < 2 or args.phones_scale % 2:
            raise SystemExit("--phones-scale must be an even number of at least 2")
        sizes["live-scale"] = (args.phones_scale, 1, args.scale_edits)
        if "live-scale" not in chosen:
            chosen.append("live-scale")
    elif "live-scale" in chosen:
        raise SystemExit("live-scale needs --phones-scale N")
    args.store_docs = args.store_docs or (2000 if args.quick else 100_000)
    args.store_fetch = args.store_fetch or (100 if args.quick else 1000)
    if not args.no_build:
        cmd = ["cargo", "build", "--release", "--locked", "-p", "kefu-server", "-p", "kefu-sync",
               "--bin", "kefu-server", "--example", "bench-seed", "--example", "bench-driver"]
        log("building: " + shlex.join(cmd))
        subprocess.run(cmd, check=True, cwd=REPO, timeout=3600)
    rust_driver = REPO / "target" / "release" / "examples" / "bench-driver"
    if not args.no_rust and not any(d.partition("=")[0] == "rust" for d in args.driver):
        if rust_driver.is_file():
            args.driver.insert(0, f"rust={rust_driver}")
        else:
            log(f"no Rust driver at {rust_driver}: the rust column is left out")
    drivers: list[tuple[str, list[str]]] = []
    for d in args.driver:
        name, sep, cmd = d.partition("=")
        if not sep or not name or not cmd.strip() or name in ("kefu", "reference"):
            raise SystemExit(f"--driver must be NAME=CMD with a new NAME, got {d!r}")
        drivers.append((name, shlex.split(cmd)))
    if not args.kefu_bin.is_file():
        raise SystemExit(f"kefu-server binary not found at {args.kefu_bin} (build it, or pass --kefu-bin)")

    t0 = time.monotonic()
    subprocess.run(["bash", str(JS / "setup.sh")], check=True, timeout=600)
    commit = _version(["git", "-C", str(REPO), "rev-parse", "HEAD"])
    cpu_model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    results: dict = {
        "meta": {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.system()} {platform.machine()}, {cpu_model}",
            "cpus": os.cpu_count(),
            "kefu_bin": str(args.kefu_bin),
            "kefu_version": _version([str(args.kefu_bin), "--version"]).replace("kefu-server ", ""),
            "node": _version(["node", "--version"]),
            "python": platform.python_version(),
            "commit": commit,
            "quick": args.quick,
            "timeout_s": args.timeout,
            "live_seconds": live_seconds,
            "drivers": {n: shlex.join(c) for n, c in drivers},
        },
        "scenarios": {},
    }
    node_load = ["node", str(JS / "load.mjs")]
    for scenario in chosen:
        if scenario == "store-100k":
            results["scenarios"][scenario] = store_100k(args, node_load)
            continue
        size = sizes[scenario]
        extra: list[str] = []
        if scenario == "live":
            extra = ["--live-seconds", str(live_seconds), "--interval-ms", str(args.interval_ms)]
        elif scenario == "live-scale":
            extra = ["--live-seconds", str(args.scale_seconds), "--interval-ms", str(args.scale_interval_ms)]
        runs: dict = {}
        targets = [("kefu", "kefu", node_load)]
        if not args.no_reference:
            targets.append(("reference", "reference", node_load))
        targets += [(name, "kefu", cmd) for name, cmd in drivers]
        for label, target, cmd in targets:
            runs[label] = one_run(label, target, cmd, scenario, size, args, extra)
        results["scenarios"][scenario] = {"size": list(size), "runs": runs}

    results["meta"]["total_s"] = round(time.monotonic() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    md = markdown(results)
    (args.out / "results.md").write_text(md)
    print(md)
    log(f"wrote {args.out / 'results.json'} and {args.out / 'results.md'} in {results['meta']['total_s']} s")
    failed = [f"{s}/{k}" for s, sc in results["scenarios"].items() for k, r in sc.get("runs", {}).items() if "error" in r]
    if failed:
        log(f"failed runs: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
