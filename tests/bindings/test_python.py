"""The generated Python bindings (`target/bindings/python/kefu.py` over `libkefu.so`) against a
real kefu-server: sign-in, offline work, sync, refusals, conflicts, the status listener, and
the integrity checks that make a stale library fail loudly."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import hashlib
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from conftest import BINDINGS, PASSWORD, require

PY_DIR = require(BINDINGS / "python", "run bindings/generate.sh (tests/run-all.sh does)")
sys.path.insert(0, str(PY_DIR))
import kefu  # noqa: E402  (generated; its directory holds a link to libkefu.so)


def run(coro):
    return asyncio.run(coro)


def profile(name: str, phone: str = "13800138000") -> kefu.Profile:
    return kefu.Profile(name=name, phones=[phone], email=None, wechat=None, address="上海市浦东新区",
                        district="浦东", source="phone")


def phone(tmp_path, server, user: str) -> kefu.Kefu:
    k = kefu.Kefu.open(str(tmp_path / f"{user}.db"))
    run(k.sign_in(server.url, user, PASSWORD, f"python {user}"))
    return k


def wait_until(what: str, check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_integrity_checks_pass_first():
    # The generated module checks the contract version on import; the per-function API
    # checksums are generated but not called by default: call them, as an app should at start.
    kefu._uniffi_check_contract_api_version(kefu._UniffiLib)
    kefu._uniffi_check_api_checksums(kefu._UniffiLib)
    assert kefu.library_version()


def test_stale_bindings_fail_loudly(tmp_path):
    # Bindings generated from another version of the library: one API checksum differs.
    src = (PY_DIR / "kefu.py").read_text()
    marker = "if lib.uniffi_kefu_checksum_method_kefu_sync_once() != "
    assert marker in src
    start = src.index(marker) + len(marker)
    end = src.index(":", start)
    stale = src[:start] + str((int(src[start:end]) + 1) % 65536) + src[end:]
    (tmp_path / "kefu.py").write_text(stale)
    (tmp_path / "libkefu.so").symlink_to((PY_DIR / "libkefu.so").resolve())
    probe = (
        "import kefu\n"
        "try:\n"
        "    kefu._uniffi_check_api_checksums(kefu._UniffiLib)\n"
        "except kefu.InternalError as e:\n"
        "    print('refused:', e)\n"
        "else:\n"
        "    raise SystemExit('a stale library was accepted')\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr  # not a crash: a clean, catchable error
    assert "checksum mismatch" in r.stdout


def test_choices_and_errors_name_the_field(tmp_path):
    reasons = {c.code: c.label for c in kefu.choices("visit_reason")}
    assert reasons["repair"] == "维修"
    with pytest.raises(kefu.KefuError.InvalidInput) as e:
        kefu.choices("nope")
    assert e.value.field == "kind"

    k = kefu.Kefu.open(str(tmp_path / "x.db"))
    with pytest.raises(kefu.KefuError.Unauthorized):  # nobody signed in on this phone yet
        run(k.create_customer(profile("张三"), None))
    with pytest.raises(kefu.KefuError.InvalidInput) as e:
        run(k.log_contact("not-an-id", "phone", "x"))
    assert e.value.field == "doc_id"

    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("my shopping list\n" * 100)
    with pytest.raises(kefu.KefuError.Storage):
        kefu.Kefu.open(str(not_a_store))
    assert not_a_store.read_text() == "my shopping list\n" * 100  # left untouched


def test_sign_in_errors(tmp_path, server):
    k = kefu.Kefu.open(str(tmp_path / "a.db"))
    with pytest.raises(kefu.KefuError.Unauthorized):
        run(k.sign_in(server.url, "agent1", "wrong password", "python"))
    with pytest.raises(kefu.KefuError.Network):
        run(k.sign_in("http://127.0.0.1:9", "agent1", PASSWORD, "python"))
    assert run(k.session()) is None
    s = run(k.sign_in(server.url, "agent1", PASSWORD, "python"))
    assert (s.role, s.team, s.display_name) == ("agent", "一组", "王回访")
    assert run(k.session()) == s


def test_offline_work_then_sync(tmp_path, server):
    agent = phone(tmp_path, server, "agent1")
    field_id = run(phone(tmp_path, server, "field1").session()).user_id
    server.stop()

    # Offline: a new customer, a consultation and a visit for the field staff member.
    doc = run(agent.create_customer(profile("陈晓梅"), None))
    run(agent.log_contact(doc, "phone", "客户来电咨询安装时间"))
    today = run(agent.today())
    start = int(time.time() * 1000) + 3_600_000
    visit = run(agent.dispatch_visit(doc, kefu.NewVisit(work_order="WO-PY-1", reason="installation",
                                                        staff=field_id, window_start=start,
                                                        window_end=start + 7_200_000)))
    assert isinstance(run(agent.record_status(doc)), kefu.RecordStatus.LOCAL)
    outbox = run(agent.outbox())
    assert {e.doc_id for e in outbox} == {doc} and len(outbox) == 3
    assert [r.doc_id for r in run(agent.search_customers("晓梅", 10))] == [doc]
    view = run(agent.customer(doc))
    assert view.profile.name == "陈晓梅" and view.visits[0].id == visit and view.visits[0].status == "dispatched"

    with pytest.raises(kefu.KefuError.Network):
        run(agent.sync_once())
    assert len(run(agent.outbox())) == 3  # nothing lost

    server.start()
    report = run(agent.sync_once())
    assert report.accepted == 3 and report.rejected == 0
    assert run(agent.outbox()) == []
    assert isinstance(run(agent.record_status(doc)), kefu.RecordStatus.ACCEPTED)

    # The supervisor sees it, with the visit and who made it.
    token = server.login("sup")
    status, body = server.api("GET", f"/api/v1/customers/{doc}", token)
    assert status == 200, body
    assert body["record"]["profile"]["name"] == "陈晓梅"
    assert body["record"]["visits"][visit]["work_order"] == "WO-PY-1"
    history = run(agent.history(doc, []))
    assert history and all(h.user == run(agent.session()).user_id for h in history)
    assert today


def test_refused_change_shows_its_reason(tmp_path, server):
    agent = phone(tmp_path, server, "agent1")
    doc = run(agent.create_customer(profile("周建国", "13900139000"), None))
    run(agent.sync_once())
    # Only supervisors change an assignment: the server refuses this change.
    run(agent.assign_customer(doc, "someone-else", None))
    report = run(agent.sync_once())
    assert report.rejected >= 1
    status = run(agent.record_status(doc))
    assert isinstance(status, kefu.RecordStatus.REJECTED) and status.reason
    # Go on from the server's version; the refused change is kept with its reason.
    assert run(agent.set_aside_rejected(doc)) >= 1
    kept = run(agent.set_aside(doc))
    assert kept and kept[0].reason
    assert not isinstance(run(agent.record_status(doc)), kefu.RecordStatus.REJECTED)
    assert run(agent.customer(doc)).agent == run(agent.session()).user_id


def test_conflict_from_two_phones_is_shown_and_settled(tmp_path, server):
    agent = phone(tmp_path, server, "agent1")
    sup = phone(tmp_path, server, "sup")
    doc = run(agent.create_customer(profile("刘芳"), None))
    run(agent.sync_once())
    run(sup.sync_once())
    assert run(sup.customer(doc)).profile.name == "刘芳"
    # Both change the address offline.
    for k, address in ((agent, "北京市朝阳区一号"), (sup, "北京市海淀区二号")):
        p = run(k.customer(doc)).profile
        p.address = address
        run(k.update_profile(doc, p))
    run(agent.sync_once())
    run(sup.sync_once())
    run(agent.sync_once())
    conflicts = run(agent.conflicts(doc))
    assert [c.path for c in conflicts] == [["profile", "address"]]
    values = {v.value_json: v for v in conflicts[0].values}
    assert set(values) == {'"北京市朝阳区一号"', '"北京市海淀区二号"'}
    assert {v.user for v in values.values()} == {run(agent.session()).user_id, run(sup.session()).user_id}
    run(agent.resolve_conflict(doc, ["profile", "address"], values['"北京市海淀区二号"'].value_id))
    run(agent.sync_once())
    run(sup.sync_once())
    for k in (agent, sup):
        assert run(k.conflicts(doc)) == []
        assert run(k.customer(doc)).profile.address == "北京市海淀区二号"


def test_status_listener_hears_a_background_thread(tmp_path, server):
    agent = phone(tmp_path, server, "agent1")
    seen: list[tuple[object, int]] = []
    lock = threading.Lock()

    uploads: list[kefu.UploadProgress] = []

    class Listener(kefu.SyncListener):
        def on_status(self, state):
            with lock:
                seen.append((state, threading.get_ident()))

        def on_upload(self, progress):
            with lock:
                uploads.append(progress)

    handle = agent.start_sync(Listener())
    try:
        assert handle.is_running()
        wait_until("Idle", lambda: any(isinstance(s, kefu.SyncState.IDLE) for s, _ in seen))
        doc = run(agent.create_customer(profile("黄磊"), None))
        handle.sync_now()
        wait_until("the change to be accepted", lambda: run(agent.outbox()) == [])
        assert isinstance(run(agent.record_status(doc)), kefu.RecordStatus.ACCEPTED)

        # A medical certificate for two days of sick leave goes up in the background too.
        today = datetime.now(timezone(timedelta(hours=8))).date()
        filed = run(agent.request_leave(kefu.NewLeave(kind="sick", start=str(today),
                                                      end=str(today + timedelta(days=1)),
                                                      reason="发烧", asked_in_person=False)))
        scan = bytes(range(256)) * 3000  # 768,000 bytes: three chunks
        cert = run(agent.attach_certificate(filed.doc_id, filed.id, kefu.AttachmentSource.BYTES(scan),
                                            "application/pdf"))
        handle.sync_now()
        wait_until("the certificate to be uploaded",
                   lambda: any(p.sha256 == cert.sha256 and p.state == "uploaded" for p in uploads))
        with lock:
            mine = [p for p in uploads if p.sha256 == cert.sha256]
        assert [p.percent for p in mine] == [34, 68, 100], mine
        assert [(u.label, u.state, u.percent) for u in run(agent.uploads())] == [("certificate", "uploaded", 100)]
    finally:
        handle.stop()
    assert not handle.is_running()
    with lock:
        states = [s for s, _ in seen]
        threads = {t for _, t in seen}
    assert isinstance(states[0], kefu.SyncState.CONNECTING)
    assert isinstance(states[-1], kefu.SyncState.STOPPED)
    assert threading.get_ident() not in threads


def test_field_staff_sees_the_visit_dispatched_to_them(tmp_path, server):
    sup = phone(tmp_path, server, "sup")
    field = phone(tmp_path, server, "field1")
    field_id = run(field.session()).user_id
    doc = run(sup.create_customer(profile("吴静"), None))
    run(sup.assign_customer(doc, None, field_id))
    start = int(time.time() * 1000)
    visit = run(sup.dispatch_visit(doc, kefu.NewVisit(work_order="WO-PY-2", reason="repair", staff=field_id,
                                                      window_start=start, window_end=start + 3_600_000)))
    run(sup.sync_once())
    run(field.sync_once())
    assert [(v.doc_id, v.visit_id) for v in run(field.open_visits(field_id))] == [(doc, visit)]
    run(field.advance_visit(doc, visit, "on_site", None))
    run(field.complete_visit(doc, visit, kefu.VisitCompletion(
        work_done="更换滤芯", parts=[kefu.PartUsed(part="滤芯", quantity=1)], rating=5, follow_up_on=None)))
    with pytest.raises(kefu.KefuError.InvalidInput) as e:  # a finished visit cannot be arrived at again
        run(field.advance_visit(doc, visit, "on_site", None))
    assert e.value.field == "status"
    run(field.sync_once())
    run(sup.sync_once())
    v = run(sup.customer(doc)).visits[0]
    assert (v.status, v.work_done, v.rating, v.parts) == ("completed", "更换滤芯", 5, [kefu.PartUsed(part="滤芯", quantity=1)])


def fetch(server, path: str, token: str) -> tuple[int, bytes]:
    req = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_photos_and_signature_attached_offline_arrive_after_sync(tmp_path, server):
    sup = phone(tmp_path, server, "sup")
    field = phone(tmp_path, server, "field1")
    field_id = run(field.session()).user_id
    doc = run(sup.create_customer(profile("钱进"), None))
    run(sup.assign_customer(doc, None, field_id))
    start = int(time.time() * 1000)
    visit = run(sup.dispatch_visit(doc, kefu.NewVisit(work_order="WO-PY-PHOTO", reason="repair", staff=field_id,
                                                      window_start=start, window_end=start + 3_600_000)))
    run(sup.sync_once())
    run(field.sync_once())

    # No signal at the customer's: the visit is done and documented offline.
    server.stop()
    photo1 = hashlib.sha256(b"one").digest() * 40_000  # 1,280,000 bytes
    photo2 = bytes(reversed(photo1[:700_000]))
    (tmp_path / "IMG_0002.jpg").write_bytes(photo2)
    signature = b"\x89PNG signature strokes" * 100
    run(field.advance_visit(doc, visit, "on_site", None))
    a1 = run(field.attach_visit_photo(doc, visit, kefu.AttachmentSource.BYTES(photo1), "image/jpeg"))
    a2 = run(field.attach_visit_photo(doc, visit, kefu.AttachmentSource.FILE(str(tmp_path / "IMG_0002.jpg")),
                                      "image/jpeg"))
    sig = run(field.sign_visit(doc, visit, kefu.AttachmentSource.BYTES(signature), "image/png"))
    run(field.complete_visit(doc, visit, kefu.VisitCompletion(work_done="更换主板", parts=[], rating=5,
                                                              follow_up_on=None)))
    assert (a1.sha256, a1.size, a1.attached_by) == (hashlib.sha256(photo1).hexdigest(), len(photo1), field_id)
    assert [(u.label, u.state, u.percent) for u in run(field.uploads())] == [
        ("visit photo", "waiting", 0), ("visit photo", "waiting", 0), ("signature", "waiting", 0)]
    v = run(field.customer(doc)).visits[0]
    assert {p.sha256 for p in v.photos} == {a1.sha256, a2.sha256} and v.signature == sig
    assert run(field.attachment_bytes(a2.sha256)) == photo2
    with pytest.raises(kefu.KefuError.Network):
        run(field.sync_once())
    with pytest.raises(kefu.KefuError.InvalidInput) as e:
        run(field.attach_visit_photo(doc, visit, kefu.AttachmentSource.FILE(str(tmp_path / "none.jpg")), "image/jpeg"))
    assert e.value.field == "file"

    # Back in range: one sync sends the visit, then the evidence.
    server.start()
    report = run(field.sync_once())
    assert (report.uploaded, report.upload_failed, report.uploads_pending, report.upload_error) == (3, 0, 0, None)
    assert {u.state for u in run(field.uploads())} == {"uploaded"}

    # The supervisor sees the visit with both photos and the signature, and gets the bytes.
    run(sup.sync_once())
    v = run(sup.customer(doc)).visits[0]
    assert v.status == "completed" and len(v.photos) == 2 and v.signature.sha256 == sig.sha256
    assert run(sup.attachment_bytes(a1.sha256)) is None  # not on this phone until asked for
    assert run(sup.download_attachment(a1.sha256)) == photo1
    assert run(sup.attachment_bytes(a1.sha256)) == photo1
    token = server.login("sup")
    assert fetch(server, f"/api/v1/attachments/{sig.sha256}", token) == (200, signature)
    assert fetch(server, f"/api/v1/attachments/{a2.sha256}", token) == (200, photo2)
