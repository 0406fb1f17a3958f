//! The offline store, end to end: a day of work with no network, the lists phones read, and
//! the faults a phone meets (a damaged record, a wrong file, the app being killed).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use kefu_model::enums::*;
use kefu_model::lifecycle::VisitStep;
use kefu_model::records::appearance::{AppearanceCheck, ItemResult};
use kefu_model::records::attendance::{AttendanceMonth, LeaveStatus};
use kefu_model::records::customer::{CustomerFile, Profile};
use kefu_model::verbs::*;
use kefu_model::DocumentId;
use kefu_store::{db, Client, Identity, NewCustomer, StoreError, SyncStatus};

/// 2026-11-23 09:00 in Beijing.
const MONDAY_9AM: i64 = 1_795_395_600_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn identity(user: &str, role: Role) -> Identity {
    Identity {
        user_id: user.into(),
        device_id: format!("{user}-phone"),
        team: "team-a".into(),
        role,
        display_name: user.into(),
    }
}

fn client(path: &std::path::Path, user: &str, role: Role) -> (Client, Arc<AtomicI64>) {
    let mut c = Client::open(path).unwrap_or_else(|e| panic!("open: {e}"));
    let clock = Arc::new(AtomicI64::new(MONDAY_9AM));
    let k = clock.clone();
    c.set_clock(move || k.load(Ordering::SeqCst));
    c.set_identity(identity(user, role)).unwrap_or_else(|e| panic!("{e}"));
    (c, clock)
}

fn profile(name: &str, phone: &str) -> Profile {
    Profile {
        name: name.into(),
        phones: vec![phone.into()],
        email: None,
        wechat: None,
        address: Some("上海市徐汇区漕溪北路 88 号".into()),
        district: Some("徐汇".into()),
        source: SourceChannel::Jd,
    }
}

fn ok<T>(r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_field_day_offline() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("phone.db");
    let (mut c, clock) = client(&path, "zhang", Role::Field);

    // Step 1: customers exist on the phone; search works on Chinese fragments and phones.
    let wang = ok(c
        .create_customer(NewCustomer {
            profile: profile("王晓明", "138-0013-8000"), classification: None
        }));
    let li =
        ok(c.create_customer(NewCustomer {
            profile: profile("李华", "139 0000 1234"),
            classification: None,
        }));
    let _ = ok(c
        .create_customer(NewCustomer {
            profile: profile("欧阳晓红", "13700001111"), classification: None
        }));
    assert_eq!(ok(c.search_customers("晓", 10)).len(), 2, "one-character fragment");
    assert_eq!(ok(c.search_customers("晓明", 10)).len(), 1, "two-character fragment");
    assert_eq!(ok(c.search_customers("欧阳晓", 10))[0].name, "欧阳晓红", "trigram match");
    assert_eq!(ok(c.search_customers("漕溪北路", 10)).len(), 3, "address fragment");
    assert_eq!(
        ok(c.search_customers("0013800", 10))[0].doc_id,
        wang.to_string(),
        "phone digits without dashes"
    );
    assert_eq!(ok(c.search_customers("", 10)).len(), 3);
    assert!(
        ok(c.search_customers("\"; DROP TABLE x", 10)).is_empty(),
        "search text is never SQL or FTS syntax"
    );

    // A rename is searchable at once, and the old name no longer matches.
    let mut renamed = profile("欧阳晓红", "13700001111");
    renamed.name = "欧阳娜娜".into();
    let ouyang = ok(c.search_customers("欧阳晓", 1))[0].doc_id.parse().unwrap_or_else(|_| panic!("id"));
    ok(c.update_profile(&ouyang, renamed));
    assert!(ok(c.search_customers("欧阳晓", 10)).is_empty());
    assert_eq!(ok(c.search_customers("欧阳娜", 10)).len(), 1);
    assert_eq!(ok(c.search_customers("晓", 10)).len(), 1);
    ok(c.assign_customer(&ouyang, Some("li".into()), None));
    assert_eq!(
        ok(c.search_customers("欧阳娜", 10)).len(),
        1,
        "an edit without text changes keeps the search row"
    );

    // Step 2: assignment; the overdue first-contact list.
    ok(c.assign_customer(&wang, Some("li".into()), Some("zhang".into())));
    ok(c.assign_customer(&li, Some("li".into()), None));
    assert_eq!(ok(c.customers_assigned_to("zhang")).len(), 1);
    clock.fetch_add(8 * DAY, Ordering::SeqCst);
    assert_eq!(ok(c.overdue_first_contacts()).len(), 3);
    ok(c.log_contact(&li, ContactChannel::Phone, "首次联系，介绍服务"));
    assert_eq!(ok(c.overdue_first_contacts()).len(), 2);

    // Step 3: a visit from dispatch to completion; the open list follows.
    let now = clock.load(Ordering::SeqCst);
    let v = ok(c.dispatch_visit(
        &wang,
        &NewVisit {
            work_order: "WO-20261201-01".into(),
            reason: VisitReason::Repair,
            staff: "zhang".into(),
            window_start: now + HOUR,
            window_end: now + 3 * HOUR,
        },
    ));
    assert_eq!(ok(c.open_visits(Some("zhang"))).len(), 1);
    let e = c.complete_visit(&wang, &v, &VisitCompletion { work_done: "修好".into(), ..Default::default() });
    assert!(matches!(e, Err(StoreError::NotAllowed(_))), "completing before arrival is refused: {e:?}");
    ok(c.advance_visit(&wang, &v, VisitStep::EnRoute, None));
    ok(c.advance_visit(&wang, &v, VisitStep::OnSite, None));
    let bad = c.complete_visit(
        &wang,
        &v,
        &VisitCompletion { work_done: "更换龙头".into(), rating: Some(9), ..Default::default() },
    );
    match bad {
        Err(StoreError::Invalid(errs)) => {
            assert!(errs.iter().any(|e| e.field == "rating" && e.record.starts_with("visit")), "{errs:?}")
        }
        other => panic!("expected invalid rating, got {other:?}"),
    }
    ok(c.complete_visit(
        &wang,
        &v,
        &VisitCompletion {
            work_done: "更换龙头".into(),
            parts: vec![("水龙头 A2".into(), 1)],
            rating: Some(5),
            follow_up_on: Some("2026-12-08".into()),
        },
    ));
    assert!(ok(c.open_visits(None)).is_empty());

    // Step 4: callbacks: due list by date and agent; an unanswered attempt keeps it open.
    let cb = ok(c.schedule_callback(
        &wang,
        &NewCallback {
            agent: "li".into(),
            date: "2026-12-02".into(),
            method: ContactChannel::Phone,
            campaign: None,
            visit: Some(v.clone()),
        },
    ));
    assert!(ok(c.due_callbacks(Some("li"), "2026-12-01")).is_empty());
    assert_eq!(ok(c.due_callbacks(Some("li"), "2026-12-02")).len(), 1);
    let no_answer = no_answer_by_phone();
    ok(c.record_callback(&wang, &cb, &no_answer));
    assert_eq!(ok(c.due_callbacks(None, "2026-12-31"))[0].status, "attempting");
    let reached = CallbackResult {
        outcome: CallbackOutcome::Satisfied,
        satisfaction: Some(5),
        evaluation: Some("师傅很专业".into()),
        ..no_answer
    };
    ok(c.record_callback(&wang, &cb, &reached));
    assert!(ok(c.due_callbacks(None, "2026-12-31")).is_empty());

    // Step 5: a complaint, resolved, reopened, resolved again, confirmed.
    let k = ok(c.take_complaint(
        &li,
        &NewComplaint {
            channel: ContactChannel::Phone,
            content: "安装师傅迟到两小时".into(),
            category: ComplaintCategory::Service,
            severity: Severity::Medium,
            handler: "li".into(),
        },
    ));
    ok(c.forward_complaint(&li, &k, "安装部"));
    ok(c.resolve_complaint(&li, &k, "致歉并赠送保养一次"));
    assert!(ok(c.open_complaints(None)).is_empty());
    ok(c.reopen_complaint(&li, &k, "客户仍不满意"));
    let open = ok(c.open_complaints(Some("li")));
    assert_eq!((open.len(), open[0].round, open[0].status.as_str()), (1, 1, "reopened"));
    assert!(c.confirm_complaint(&li, &k).is_err(), "only a resolved complaint can be confirmed");
    ok(c.resolve_complaint(&li, &k, "更换安装团队，上门道歉"));
    ok(c.confirm_complaint(&li, &k));
    let file: CustomerFile = ok(c.read(&li));
    assert_eq!(file.complaints[&k].status().map(|s| (s.round, s.step.as_str())), Some((1, "confirmed")));

    // Step 6: clock in late, clock out; the day's figures are derived.
    let today = c.today();
    clock.store(
        kefu_model::dates::Date::parse(&today).map_or(0, |d| d.start_ms(480)) + (8 * 60 + 47) * 60_000,
        Ordering::SeqCst,
    );
    let month_doc = ok(c.clock(ClockKind::In, Some("门店".into())));
    clock.fetch_add(9 * HOUR, Ordering::SeqCst);
    ok(c.clock(ClockKind::Out, None));
    let month: AttendanceMonth = ok(c.read(&month_doc));
    let day = month.day(&today, 480);
    assert_eq!((day.late_minutes, day.early_leave_minutes), (17, 0));
    assert_eq!(ok(c.attendance_for_month(&today[..7], Some("zhang"))).len(), 1);

    // Step 7: the supervisor's appearance check for today on this device.
    let mut results = BTreeMap::new();
    results.insert(
        "dress.badge".to_string(),
        ItemResult { result: CheckResult::Fail, note: Some("工牌未佩戴".into()), photo: None },
    );
    let sheet = ok(c.fill_appearance_check("zhang", results));
    ok(c.fill_appearance_check("wu", BTreeMap::new()));
    let row = ok(c.appearance_check_on("team-a", &c.today())).unwrap_or_else(|| panic!("no sheet"));
    assert_eq!((row.checked, row.passed), (2, 1));
    let s: AppearanceCheck = ok(c.read(&sheet));
    assert_eq!(s.template.as_ref().map(|t| t.items.len()), Some(16));

    // Step 8: everything is in the outbox, marked local, and survives a restart.
    assert_eq!(ok(c.sync_status(&wang)), SyncStatus::Local);
    let outbox = ok(c.outbox());
    assert!(outbox.len() >= 20, "{}", outbox.len());
    drop(c);
    let (mut c, _) = client(&path, "zhang", Role::Field);
    let again: CustomerFile = ok(c.read(&wang));
    assert_eq!(again.visits[&v].status(), Some(VisitStep::Completed));
    assert_eq!(ok(c.outbox()).len(), outbox.len());
    let hashes: Vec<String> =
        outbox.iter().filter(|o| o.doc_id == wang.to_string()).map(|o| o.hash.clone()).collect();
    ok(c.set_change_status(&hashes, "sent", None));
    assert_eq!(ok(c.sync_status(&wang)), SyncStatus::Sent);
    ok(c.set_change_status(&hashes[..1], "rejected", Some("visit: rating must be 1–5")));
    assert_eq!(ok(c.sync_status(&wang)), SyncStatus::Rejected { reason: "visit: rating must be 1–5".into() });
    // History shows who did it.
    let hist = ok(c.history(&wang, &["visits".into(), v.clone()]));
    assert!(hist.len() >= 4 && hist.iter().all(|h| h.author.as_ref().is_some_and(|a| a.user == "zhang")));
}

/// A file handed to another agent takes its unfinished callbacks with it: the new agent's
/// queue has them, the old agent's is empty; finished, cancelled and campaign callbacks given
/// to someone else keep who they belong to.
#[test]
fn reassigning_a_customer_moves_its_open_callbacks_to_the_new_agent() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut c, _clock) = client(&dir.path().join("sup.db"), "sup", Role::Supervisor);
    let wang =
        ok(c.create_customer(NewCustomer {
            profile: profile("王晓明", "13800138000"),
            classification: None,
        }));
    ok(c.assign_customer(&wang, Some("li".into()), None));
    let cb = |agent: &str| NewCallback {
        agent: agent.into(),
        date: "2026-12-02".into(),
        method: ContactChannel::Phone,
        campaign: None,
        visit: None,
    };
    let scheduled = ok(c.schedule_callback(&wang, &cb("li")));
    let attempting = ok(c.schedule_callback(&wang, &cb("li")));
    let done = ok(c.schedule_callback(&wang, &cb("li")));
    let cancelled = ok(c.schedule_callback(&wang, &cb("li")));
    let campaign = ok(c.schedule_callback(&wang, &cb("wu")));
    let no_answer = no_answer_by_phone();
    ok(c.record_callback(&wang, &attempting, &no_answer));
    ok(c.record_callback(
        &wang,
        &done,
        &CallbackResult { outcome: CallbackOutcome::Satisfied, satisfaction: Some(5), ..no_answer },
    ));
    ok(c.cancel_callback(&wang, &cancelled, "客户已搬走"));
    assert_eq!(ok(c.due_callbacks(Some("li"), "2026-12-31")).len(), 2);

    // Re-assigning the same agent changes nothing; a new agent takes the open ones.
    ok(c.assign_customer(&wang, Some("li".into()), None));
    assert_eq!(ok(c.due_callbacks(Some("li"), "2026-12-31")).len(), 2);
    ok(c.assign_customer(&wang, Some("zhao".into()), None));
    assert!(ok(c.due_callbacks(Some("li"), "2026-12-31")).is_empty());
    let mut zhao: Vec<String> =
        ok(c.due_callbacks(Some("zhao"), "2026-12-31")).into_iter().map(|d| d.callback_id).collect();
    zhao.sort();
    let mut want = vec![scheduled.clone(), attempting.clone()];
    want.sort();
    assert_eq!(zhao, want);
    let f: CustomerFile = ok(c.read(&wang));
    assert_eq!(f.callbacks[&done].agent, "li", "who did it stays on record");
    assert_eq!(f.callbacks[&cancelled].agent, "li");
    assert_eq!(f.callbacks[&campaign].agent, "wu", "a callback given to someone else stays theirs");
    assert_eq!(f.callbacks[&attempting].attempts.len(), 1, "the attempt is kept");
}

#[test]
fn leave_of_three_days_goes_manager_hr_general_manager() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut c, _) = client(&dir.path().join("a.db"), "zhang", Role::Field);
    // Personal leave asked today for tomorrow, in person.
    let e = c.request_leave(&NewLeave {
        kind: LeaveKind::Personal,
        start: "2026-11-23".into(),
        end: "2026-11-23".into(),
        reason: "家中有事".into(),
        asked_in_person: true,
    });
    assert!(
        matches!(e, Err(StoreError::Invalid(ref v)) if v.iter().any(|x| x.rule.contains("one day ahead"))),
        "{e:?}"
    );
    let (doc, l) = ok(c.request_leave(&NewLeave {
        kind: LeaveKind::Personal,
        start: "2026-11-25".into(),
        end: "2026-11-27".into(),
        reason: "回老家".into(),
        asked_in_person: true,
    }));
    let e = c.decide_leave(&doc, &l, Approver::Hr, Decision::Approve, None);
    assert!(matches!(e, Err(StoreError::NotAllowed(_))), "HR cannot answer before the manager: {e:?}");
    ok(c.decide_leave(&doc, &l, Approver::Manager, Decision::Approve, None));
    ok(c.decide_leave(&doc, &l, Approver::Hr, Decision::Approve, None));
    let m: AttendanceMonth = ok(c.read(&doc));
    assert!(matches!(m.leave[&l].status(), LeaveStatus::Pending { next: Approver::GeneralManager, .. }));
    ok(c.decide_leave(&doc, &l, Approver::GeneralManager, Decision::Approve, None));
    let m: AttendanceMonth = ok(c.read(&doc));
    assert_eq!(m.leave[&l].status(), LeaveStatus::Approved);

    // Sick leave of two days: the final approval waits for the certificate.
    let (doc, s) = ok(c.request_leave(&NewLeave {
        kind: LeaveKind::Sick,
        start: "2026-11-23".into(),
        end: "2026-11-24".into(),
        reason: "发烧".into(),
        asked_in_person: false,
    }));
    let e = c.decide_leave(&doc, &s, Approver::Manager, Decision::Approve, None);
    assert!(
        matches!(e, Err(StoreError::Invalid(ref v)) if v.iter().any(|x| x.field == "certificate")),
        "{e:?}"
    );
    ok(c.attach_certificate_ref(&doc, &s, "沪医 2026-118842"));
    ok(c.decide_leave(&doc, &s, Approver::Manager, Decision::Approve, None));

    // A shift swap: the colleague agrees, then the manager.
    let (doc, w) = ok(c.request_swap("2026-11-28", "wu", "2026-11-29"));
    assert!(c.decide_swap(&doc, &w, Decision::Approve, None).is_err(), "manager waits for the colleague");
    c.set_identity(identity("wu", Role::Field)).unwrap_or_else(|e| panic!("{e}"));
    ok(c.agree_swap(&doc, &w));
    c.set_identity(identity("sup", Role::Supervisor)).unwrap_or_else(|e| panic!("{e}"));
    ok(c.decide_swap(&doc, &w, Decision::Approve, None));
}

#[test]
fn two_phones_create_the_same_month_offline_and_merge_into_one_document() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut phone, _) = client(&dir.path().join("phone.db"), "zhang", Role::Field);
    let (mut desk, _) = client(&dir.path().join("desk.db"), "sup", Role::Supervisor);
    let a = ok(phone.clock(ClockKind::In, None));
    let b = ok(desk.attendance_month("zhang", "team-a", "2026-11"));
    assert_eq!(a, b, "the keyed document has the same id everywhere");
    ok(desk.edit(&b, |m: &mut AttendanceMonth, by| {
        m.mark_absent(by, "2026-11-20", Some("未到岗".into()));
        Ok(())
    }));
    let from_phone = ok(phone.document_bytes(&a));
    let from_desk = ok(desk.document_bytes(&b));
    assert!(ok(desk.apply_remote(&b, &from_phone)));
    assert!(ok(phone.apply_remote(&a, &from_desk)));
    let m1: AttendanceMonth = ok(phone.read(&a));
    let m2: AttendanceMonth = ok(desk.read(&b));
    assert_eq!(m1, m2);
    assert_eq!((m1.clock_events.len(), m1.absences.len()), (1, 1), "neither side's entry was hidden");
    assert!(ok(phone.conflicts(&a)).is_empty());
    // A customer created elsewhere arrives and shows in lists at once.
    let w =
        ok(desk
            .create_customer(NewCustomer {
                profile: profile("王五", "13800000000"), classification: None
            }));
    let bytes = ok(desk.document_bytes(&w));
    assert!(ok(phone.apply_remote(&w, &bytes)));
    assert_eq!(ok(phone.search_customers("王五", 5)).len(), 1);
    assert!(!ok(phone.apply_remote(&w, &bytes)), "nothing new the second time");
    assert_eq!(ok(phone.sync_status(&w)), SyncStatus::Accepted, "received changes are not ours to send");
}

#[test]
fn many_edits_are_compacted_and_reload_identically() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("c.db");
    let (mut c, _) = client(&path, "li", Role::Agent);
    let id =
        ok(c.create_customer(NewCustomer {
            profile: profile("赵六", "13800000001"), classification: None
        }));
    for i in 0..35 {
        ok(c.log_contact(&id, ContactChannel::Wechat, &format!("第 {i} 次沟通")));
        let chunks: i64 = c
            .connection()
            .query_row("SELECT chunk_count FROM documents WHERE doc_id = ?1", [id.to_string()], |r| r.get(0))
            .unwrap_or(-1);
        assert!((0..=10).contains(&chunks), "chunks never pile up: {chunks}");
    }
    let before: CustomerFile = ok(c.read(&id));
    drop(c);
    let (mut c, _) = client(&path, "li", Role::Agent);
    let after: CustomerFile = ok(c.read(&id));
    assert_eq!(before, after);
    assert_eq!(after.contacts.len(), 35);
}

/// A burst of work (a first sync of many files) grows the WAL; the background checkpoint
/// takes it into the database and the WAL file is cut back to `db::WAL_KEEP_BYTES` instead of
/// keeping its largest size on the phone for good.
#[test]
fn the_wal_of_a_busy_store_is_checkpointed_and_cut_back() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("c.db");
    let wal = dir.path().join("c.db-wal");
    let (mut c, _) = client(&path, "li", Role::Agent);
    let wal_len = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let note = "客户反映空调外机噪音大，已约师傅上门检查。".repeat(40);
    let mut n = 0;
    while wal_len() <= 2 * db::WAL_KEEP_BYTES {
        let id = ok(c.create_customer(NewCustomer {
            profile: profile(&format!("客户{n}"), &format!("139{n:08}")),
            classification: None,
        }));
        ok(c.log_contact(&id, ContactChannel::Phone, &note));
        n += 1;
        assert!(n < 20_000, "the WAL never grew past {} bytes", 2 * db::WAL_KEEP_BYTES);
    }
    // Within a few of the checkpointer's looks (every 500 ms) the WAL is checkpointed; the
    // next commit restarts it and it is cut back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut extra = 0;
    while wal_len() > db::WAL_KEEP_BYTES {
        assert!(std::time::Instant::now() < deadline, "the WAL stayed at {} bytes", wal_len());
        std::thread::sleep(std::time::Duration::from_millis(100));
        ok(c.create_customer(NewCustomer {
            profile: profile(&format!("补录{extra}"), &format!("137{extra:08}")),
            classification: None,
        }));
        extra += 1;
    }
    assert_eq!(ok(c.documents(None)).len(), n + extra);
}

#[test]
fn a_damaged_record_fails_alone() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("d.db");
    let (mut c, _) = client(&path, "li", Role::Agent);
    let good =
        ok(c.create_customer(NewCustomer {
            profile: profile("好记录", "13800000002"),
            classification: None,
        }));
    let bad =
        ok(c.create_customer(NewCustomer {
            profile: profile("坏记录", "13800000003"),
            classification: None,
        }));
    drop(c);
    let raw = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
    raw.execute(
        "UPDATE documents SET snapshot = x'00112233445566778899' WHERE doc_id = ?1",
        [bad.to_string()],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    drop(raw);
    let (mut c, _) = client(&path, "li", Role::Agent);
    assert!(matches!(c.read::<CustomerFile>(&bad), Err(StoreError::CorruptDocument { .. })));
    assert!(matches!(
        c.log_contact(&bad, ContactChannel::Phone, "x"),
        Err(StoreError::CorruptDocument { .. })
    ));
    ok(c.log_contact(&good, ContactChannel::Phone, "仍然可以工作"));
    assert_eq!(ok(c.search_customers("记录", 10)).len(), 2, "lists still show both");
}

#[test]
fn a_file_that_is_not_a_database_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("notes.txt");
    let text = "这不是数据库 — just a text file that happens to be here\n".repeat(200);
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    match Client::open(&path) {
        Err(StoreError::NotADatabase { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected NotADatabase, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), text, "file untouched");

    let foreign = dir.path().join("other.db");
    let other = rusqlite::Connection::open(&foreign).unwrap_or_else(|e| panic!("{e}"));
    other
        .execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY); INSERT INTO photos VALUES (1);")
        .unwrap_or_else(|e| panic!("{e}"));
    drop(other);
    let before = std::fs::read(&foreign).unwrap_or_default();
    assert!(matches!(Client::open(&foreign), Err(StoreError::NotADatabase { .. })));
    assert_eq!(std::fs::read(&foreign).unwrap_or_default(), before);
}

#[test]
fn an_upgraded_database_equals_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fresh = db::open(&dir.path().join("fresh.db")).unwrap_or_else(|e| panic!("{e}"));
    let want = db::schema_dump(&fresh).unwrap_or_else(|e| panic!("{e}"));
    for start in 0..db::MIGRATIONS.len() {
        // A database left at version `start` by an older app, then opened by this one.
        let path = dir.path().join(format!("v{start}.db"));
        let old = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        for (i, sql) in db::MIGRATIONS.iter().enumerate().take(start) {
            old.execute_batch(sql).unwrap_or_else(|e| panic!("{e}"));
            old.pragma_update(None, "user_version", i as i64 + 1).unwrap_or_else(|e| panic!("{e}"));
        }
        drop(old);
        let upgraded = db::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            db::schema_dump(&upgraded).unwrap_or_else(|e| panic!("{e}")),
            want,
            "from version {start}"
        );
        let v: i64 = upgraded.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap_or(-1);
        assert_eq!(v, db::schema_version());
    }
    // A database from a newer app is refused, not downgraded.
    let newer = dir.path().join("newer.db");
    let conn = db::open(&newer).unwrap_or_else(|e| panic!("{e}"));
    conn.pragma_update(None, "user_version", 99).unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    assert!(matches!(db::open(&newer), Err(StoreError::NewerSchema { found: 99, .. })));
}

/// The child half of the kill test: edits as fast as it can, printing each committed edit.
#[test]
fn child_writer() {
    let Ok(path) = std::env::var("KEFU_KILL_TEST_DB") else { return };
    let (mut c, _) = client(std::path::Path::new(&path), "zhang", Role::Field);
    let id: DocumentId =
        std::env::var("KEFU_KILL_TEST_DOC").unwrap_or_default().parse().unwrap_or_else(|e| panic!("{e}"));
    for i in 0..100_000 {
        let rid = ok(c.log_contact(&id, ContactChannel::Phone, &format!("edit {i}")));
        println!("committed {rid}");
    }
}

#[test]
fn killing_the_app_at_any_point_loses_no_committed_edit() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("k.db");
    let (mut c, _) = client(&path, "zhang", Role::Field);
    let id =
        ok(c.create_customer(NewCustomer {
            profile: profile("孙七", "13800000004"), classification: None
        }));
    drop(c);
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    for round in 0..3u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
            .env("KEFU_KILL_TEST_DB", &path)
            .env("KEFU_KILL_TEST_DOC", id.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut committed = Vec::new();
        // Kill after a different number of edits each round, mid-stream.
        let stop_after = 40 + round * 37;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            if let Some(rid) = line.strip_prefix("committed ") {
                committed.push(rid.to_string());
                if committed.len() as u64 >= stop_after {
                    child.kill().unwrap_or_else(|e| panic!("{e}")); // SIGKILL
                    break;
                }
            }
        }
        let _ = child.wait();
        let (mut c, _) = client(&path, "zhang", Role::Field);
        let file: CustomerFile = ok(c.read(&id));
        for rid in &committed {
            assert!(file.contacts.contains_key(rid), "round {round}: acknowledged edit {rid} lost");
        }
        let check: String =
            c.connection().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap_or_default();
        assert_eq!(check, "ok");
    }
}

/// A phone callback nobody answered (未接通), the base the tests vary.
fn no_answer_by_phone() -> CallbackResult {
    CallbackResult {
        method: ContactChannel::Phone,
        outcome: CallbackOutcome::NoAnswer,
        satisfaction: None,
        evaluation: None,
        suggestions: None,
        issue: None,
        follow_up_on: None,
        note: None,
    }
}
