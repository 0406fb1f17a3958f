"""The Kotlin mobile demo (mobile-demo/) on the generated JVM bindings, against a real server.

A supervisor phone (the generated Python bindings) creates a customer file for agent1 and
field1, dispatches a visit to field1 for today and schedules a callback for agent1 today.
Then the demo app, each step its own process on the phone's store file:

  sign-in (field1, agent1) -> server stopped -> field-day (field1), agent-day (agent1)
  -> server started again -> sync (both) -> live-sync (field1, the background sync)

and the supervisor's JSON API shows the completed visit with its work done, parts and rating,
the callback's outcome, the complaint and field1's clock-in and clock-out. A second test drives
the interactive app through its menus on piped stdin until EOF.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
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

    server.stop()
    out = step(field_store, "field-day")
    assert "en_route → 已到达 on_site → 已完成 completed" in out
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
    # Sign in (password from KEFU_PASSWORD) -> home: 1 今日上门 -> visit 1 -> 1 出发 -> 0 back
    # -> 0 back -> 2 考勤打卡 -> 1 上班打卡 -> 0 -> 3 待同步 -> 4 同步 -> 1 立即同步 -> 0 -> EOF.
    r = demo(store, "--server", server.url, "--user", "field1",
             stdin="1\n1\n1\n0\n0\n2\n1\n0\n3\n4\n1\n0\n", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for text in ("已登录：李师傅", "今日上门（1）", "WO-DEMO-001", "出发（在途）", "已保存在本机", "上班打卡",
                 "待同步（发件箱）", "输入结束，退出。"):
        assert text in out, f"{text!r} not shown"
    assert "Exception" not in out + r.stderr
    # The background sync pushed both changes: the supervisor sees them.
    token = server.login("sup")
    status, body = server.api("GET", f"/api/v1/customers/{day['doc']}", token)
    assert status == 200, body
    assert "en_route" in body["record"]["visits"][day["visit"]]["steps"]
    status, grid = server.api("GET", f"/api/v1/attendance?month={day['today'][:7]}", token)
    assert status == 200, grid
    days = [d for p in grid["people"] if p["staff"]["id"] == day["field"] for d in p["days"]]
    assert [d for d in days if d["date"] == day["today"] and d["clock_in"]], days
    # The sign-in is kept in the store: a second start goes straight to the home screen and
    # shows the visit on the way (从本机读取), then EOF ends it.
    r = demo(store, "--no-sync", stdin="1\n", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "已登录：李师傅" in r.stdout and "WO-DEMO-001  在途" in r.stdout and "后台同步已关闭" in r.stdout
