"""The Kotlin mobile demo (mobile-demo/) on the generated JVM bindings, against a real server.

A supervisor phone (the generated Python bindings) creates a customer file for agent1 and
field1, dispatches a visit to field1 for today and schedules a callback for agent1 today.
Then the demo app, each step its own process on the phone's store file:

  sign-in (field1, agent1) -> server stopped -> field-day (field1, two photos of the work and
  the customer's signature from image files), agent-day (agent1) -> server started again ->
  sync (both) -> live-sync (field1, the background sync)

and the supervisor's JSON API shows the completed visit with its work done, parts, rating,
photos and signature, the callback's outcome, the complaint and field1's clock-in and
clock-out; the supervisor's visit page in the dashboard shows both photos as thumbnails and
the signature. A second test drives the interactive app through its menus on piped stdin until
EOF.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest

from conftest import BINDINGS, JARS, LIB_DIR, PASSWORD, ROOT, TARGET, TOOLS, require

DEMO = ROOT / "mobile-demo"
WORK_DONE = "更换PP棉滤芯，清洗水路，试机正常"  # ScriptedDay in mobile-demo/.../Scripts.kt
PARTS = {("PP棉滤芯", 2), ("密封圈", 1)}
COMPLAINT = "安装后第二天接口处又渗水"
STEP_TIMEOUT = 180


@pytest.fixture(scope="module")
def demo_built():
    """mobile-demo.jar, built by mobile-demo/build.sh (skips the compile when nothing changed)."""
    env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET), "KEFU_TOOLS": str(TOOLS)}
    r = subprocess.run(["bash", str(DEMO / "build.sh")], capture_output=True, text=True, timeout=900, env=env)
    if r.returncode != 0:
        pytest.fail(f"mobile-demo/build.sh failed:\n{r.stderr}", pytrace=False)
    require(LIB_DIR / "libkefu.so", "run bindings/generate.sh")
    return require(JARS / "mobile-demo.jar", "run mobile-demo/build.sh")


@pytest.fixture(scope="module")
def kefu():
    """The generated Python bindings (for the supervisor's phone that prepares the day's work)."""
    py = require(BINDINGS / "python" / "kefu.py", "run bindings/generate.sh")
    require(py.parent / "libkefu.so", "run bindings/generate.sh (it links libkefu.so next to kefu.py)")
    if str(py.parent) not in sys.path:
        sys.path.insert(0, str(py.parent))
    import kefu as module

    return module


def png(path: Path, width: int, height: int, seed: int) -> bytes:
    """Writes a real RGB PNG (a pattern, so every file differs) and returns its bytes."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in ((x * seed + y) & 255, (y * 3 + seed) & 255, (x ^ y) & 255))
        for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))
    path.write_bytes(data)
    return data


def page(server, path: str, token: str) -> tuple[int, bytes, str]:
    """A dashboard page or file with the session cookie of `token`."""
    req = urllib.request.Request(server.url + path, headers={"Cookie": f"kefu_session={token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


def run(coro, timeout: float = 120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def demo(store: Path, *args: str, stdin: str | None = None, timeout: float = STEP_TIMEOUT,
         password: str = PASSWORD) -> subprocess.CompletedProcess:
    env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET), "KEFU_TOOLS": str(TOOLS), "KEFU_PASSWORD": password}
    r = subprocess.run(["bash", str(DEMO / "run.sh"), "--store", str(store), *args], input=stdin if stdin is not None else "",
                       capture_output=True, text=True, timeout=timeout, env=env)
    print(f"$ run.sh --store {store.name} {' '.join(args)}  -> exit {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def step(store: Path, name: str, *args: str) -> str:
    r = demo(store, "--script", name, *args)
    assert r.returncode == 0, f"--script {name} failed (exit {r.returncode}):\n{r.stdout}\n{r.stderr}"
    assert f"OK {name}" in r.stdout
    return r.stdout


def user_id(server, username: str) -> str:
    status, body = server.api("POST", "/api/v1/login", body={
        "username": username, "password": PASSWORD, "device_name": f"pytest {username} lookup"})
    assert status == 200, body
    return body["user_id"]


def prepare_day(kefu, server, tmp_path) -> dict:
    """As supervisor `sup` on a phone of the Python bindings: one customer for agent1 and field1,
    a visit dispatched to field1 for today, a callback for agent1 due today; synced."""
    agent, field = user_id(server, "agent1"), user_id(server, "field1")
    sup = kefu.Kefu.open(str(tmp_path / "sup.db"))
    run(sup.sign_in(server.url, "sup", PASSWORD, "pytest supervisor phone"))
    today = run(sup.today())
    doc = run(sup.create_customer(
        kefu.Profile(name="陈美玲", phones=["13912345678"], email=None, wechat="chen-ml", address="徐汇区漕溪北路 88 号 1203 室",
                     district="徐汇", source="tmall"),
        kefu.Classification(category="净水器", intent="high", stage="after_sale", tags=["老客户"], notes=None)))
    run(sup.assign_customer(doc, agent, field))
    start = int(time.time() * 1000)
    visit = run(sup.dispatch_visit(doc, kefu.NewVisit(work_order="WO-DEMO-001", reason="maintenance", staff=field,
                                                      window_start=start, window_end=start + 2 * 3_600_000)))
    callback = run(sup.schedule_callback(doc, kefu.NewCallback(agent=agent, date=today, method="phone", campaign=None,
                                                               visit=visit)))
    report = run(sup.sync_once())
    assert report.rejected == 0, report
    assert run(sup.outbox()) == [], "the supervisor's setup was not accepted"
    return {"doc": doc, "visit": visit, "callback": callback, "agent": agent, "field": field, "today": today}


def test_field_day_offline_then_sync(demo_built, kefu, server, tmp_path):
    day = prepare_day(kefu, server, tmp_path)
    field_store, agent_store = tmp_path / "phone-field1.db", tmp_path / "phone-agent1.db"

    out = step(field_store, "sign-in", "--server", server.url, "--user", "field1")
    assert "visits today: 1 " in out and "WO-DEMO-001 陈美玲" in out
    out = step(agent_store, "sign-in", "--server", server.url, "--user", "agent1")
    assert "callbacks due: 1 " in out and "陈美玲" in out

    # The camera's and the signature pad's output on the field phone.
    shots = [tmp_path / "IMG_0001.png", tmp_path / "IMG_0002.png"]
    photo_bytes = [png(shots[0], 800, 600, 7), png(shots[1], 640, 480, 13)]
    signature = tmp_path / "signature.png"
    signature_bytes = png(signature, 400, 160, 29)
    hashes = [hashlib.sha256(b).hexdigest() for b in photo_bytes]
    sig_hash = hashlib.sha256(signature_bytes).hexdigest()

    server.stop()
    out = step(field_store, "field-day", "--photo", str(shots[0]), "--photo", str(shots[1]),
               "--signature", str(signature))
    assert "en_route → 已到达 on_site → 照片 photo" in out and "已完成 completed" in out
    assert "photos 2, signature yes" in out
    assert "upload queue: 3 files" in out and "upload queue unchanged: 3 files waiting" in out
    assert "sync failed as expected: Network" in out
    assert "outbox unchanged" in out
    out = step(agent_store, "agent-day")
    assert "satisfaction 5" in out and "complaint taken on 陈美玲" in out

    # Still offline: a sync step fails (exit 1, a message) and loses nothing.
    r = demo(field_store, "--script", "sync")
    assert r.returncode == 1 and "FAILED sync" in r.stdout and "Network" in r.stdout

    server.start()
    for store in (field_store, agent_store):
        out = step(store, "sync")
        assert "outbox after: 0 changes" in out and ": rejected (" not in out
        if store == field_store:
            assert "文件上传完成 3 个，被拒绝 0 个，等待 0 个" in out
            assert out.count(": uploaded 100% (已上传)") == 3
    out = step(field_store, "live-sync")
    assert "已连接，已是最新" in out and "未在同步" in out

    # What the supervisor sees.
    token = server.login("sup")
    status, body = server.api("GET", f"/api/v1/customers/{day['doc']}", token)
    assert status == 200, body
    record = body["record"]
    v = record["visits"][day["visit"]]
    assert set(v["steps"]) >= {"dispatched", "en_route", "on_site", "completed"}, v["steps"]
    assert v["steps"]["completed"]["by"] == day["field"]
    assert v["work_done"] == WORK_DONE
    assert {(p["part"], p["quantity"]) for p in v["parts"].values()} == PARTS
    assert v["rating"] == 5
    assert set(v["photos"]) == set(hashes), v["photos"]
    assert all(v["photos"][h]["attached_by"] == day["field"] for h in hashes)
    assert {v["photos"][h]["media_type"] for h in hashes} == {"image/png"}
    assert v["signature"]["sha256"] == sig_hash
    for h, b in zip(hashes + [sig_hash], photo_bytes + [signature_bytes]):
        status, got, _ = page(server, f"/api/v1/attachments/{h}", token)
        assert (status, got == b) == (200, True), h

    # The supervisor's visit page: both photos as thumbnails, the signature, nothing waiting.
    status, html, _ = page(server, f"/visits/{day['doc']}/{day['visit']}", token)
    html = html.decode()
    assert status == 200, html
    for h in hashes:
        assert f"/api/v1/attachments/{h}/thumbnail" in html, h
    assert f'src="/api/v1/attachments/{sig_hash}"' in html
    assert "现场照片 (2)" in html and "等待手机上传" not in html
    status, thumb, ctype = page(server, f"/api/v1/attachments/{hashes[0]}/thumbnail", token)
    assert (status, ctype) == (200, "image/jpeg") and thumb[:2] == b"\xff\xd8"
    cb = record["callbacks"][day["callback"]]
    assert (cb["outcome"], cb["satisfaction"]) == ("satisfied", 5), cb
    assert "done" in cb["steps"] and cb["steps"]["done"]["by"] == day["agent"]
    complaints = list(record["complaints"].values())
    assert [(c["content"], c["category"], c["severity"], c["handler"]) for c in complaints] == [
        (COMPLAINT, "installation", "medium", day["agent"])]

    status, visits = server.api("GET", "/api/v1/visits", token)
    assert status == 200, visits
    assert [r for r in visits if "WO-DEMO-001" in str(r) and "completed" in str(r)], visits
    status, board = server.api("GET", "/api/v1/complaints", token)
    assert status == 200, board
    assert [r for r in board if "陈美玲" in str(r)], board

    status, grid = server.api("GET", f"/api/v1/attendance?month={day['today'][:7]}", token)
    assert status == 200, grid
    person = [p for p in grid["people"] if p["staff"]["id"] == day["field"]]
    assert person and person[0]["doc_ids"], grid["people"]
    days = person[0]["days"]
    assert [d for d in days if d["date"] == day["today"] and d["clock_in"]], days
    assert [d for d in days if d["clock_out"]], days  # today's (or, 00:00–06:00, yesterday's shift)


def test_interactive_app_menus_until_eof(demo_built, kefu, server, tmp_path):
    day = prepare_day(kefu, server, tmp_path)
    store = tmp_path / "phone-field1.db"
    # A wrong password: the sign-in screen says so and the app ends with exit 1, not signed in.
    r = demo(store, "--server", server.url, "--user", "field1", password="not-the-password", timeout=60)
    assert r.returncode == 1 and "登录失败" in r.stdout and "Unauthorized" not in r.stderr, r.stdout + r.stderr
    photo = tmp_path / "IMG_0101.png"
    photo_hash = hashlib.sha256(png(photo, 320, 240, 5)).hexdigest()
    sig = tmp_path / "sig.png"
    sig_hash = hashlib.sha256(png(sig, 300, 120, 11)).hexdigest()
    notes = tmp_path / "notes.txt"
    notes.write_text("不是照片")
    # Sign in (password from KEFU_PASSWORD) -> home: 1 今日上门 -> visit 1 -> 1 出发 -> 1 到达
    # -> 1 拍照 with a text file (refused, the screen goes on) -> 1 拍照 a photo -> 2 客户签名
    # -> 0 back -> 0 back -> 2 考勤打卡 -> 1 上班打卡 -> 0 -> 3 待同步 -> 4 上传队列 -> 5 同步
    # -> 1 立即同步 -> 0 -> EOF.
    walk = ["1", "1", "1", "1", "1", str(notes), "1", str(photo), "2", str(sig), "0", "0", "2", "1", "0", "3", "4",
            "5", "1", "0"]
    r = demo(store, "--server", server.url, "--user", "field1", stdin="\n".join(walk) + "\n", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for text in ("已登录：李师傅", "今日上门（1）", "WO-DEMO-001", "出发（在途）", "已保存在本机", "到达现场",
                 "不是图片文件", "已保存在本机：拍照（现场照片）", "已保存在本机：客户签名", "现场照片 1：",
                 "上班打卡", "待同步（发件箱）", "上传队列", "输入结束，退出。"):
        assert text in out, f"{text!r} not shown"
    assert "Exception" not in out + r.stderr
    # The background sync pushed the changes: the supervisor sees them.
    token = server.login("sup")
    status, body = server.api("GET", f"/api/v1/customers/{day['doc']}", token)
    assert status == 200, body
    visit = body["record"]["visits"][day["visit"]]
    assert {"en_route", "on_site"} <= set(visit["steps"]), visit["steps"]
    assert set(visit["photos"]) == {photo_hash} and visit["signature"]["sha256"] == sig_hash
    status, grid = server.api("GET", f"/api/v1/attendance?month={day['today'][:7]}", token)
    assert status == 200, grid
    days = [d for p in grid["people"] if p["staff"]["id"] == day["field"] for d in p["days"]]
    assert [d for d in days if d["date"] == day["today"] and d["clock_in"]], days
    # The sign-in is kept in the store: a second start goes straight to the home screen and
    # shows the visit on the way (从本机读取), then EOF ends it.
    r = demo(store, "--no-sync", stdin="1\n", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "已登录：李师傅" in r.stdout and "WO-DEMO-001  已到达" in r.stdout and "后台同步已关闭" in r.stdout
