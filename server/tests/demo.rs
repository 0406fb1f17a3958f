//! `kefu-server demo`: the seeded department is complete, valid (every document went through
//! the acceptance pipeline), relative to "now", seeded once only; and the real binary serves
//! it with working demo logins.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use kefu_model::dates::{Date, CHINA_UTC_OFFSET_MIN};
use kefu_model::enums::DocKind;
use kefu_model::lifecycle::{CallbackStep, VisitStep};
use kefu_model::records::attendance::{AttendanceMonth, LeaveStatus};
use kefu_model::records::customer::CustomerFile;
use kefu_model::KefuDoc;
use kefu_server::db::Db;
use kefu_server::demo::{seed_if_empty, DEMO_CUSTOMERS, DEMO_PASSWORD};

/// 2026-11-24 (a Tuesday) 14:30 in China.
const NOW: i64 = 1_795_501_800_000;

fn count(db: &Db, sql: &str) -> i64 {
    db.lock().query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn kinds(db: &Db) -> BTreeMap<String, i64> {
    let conn = db.lock();
    let mut stmt =
        conn.prepare("SELECT kind, count(*) FROM documents GROUP BY kind").unwrap_or_else(|e| panic!("{e}"));
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap_or_else(|e| panic!("{e}"));
    rows.map(|r| r.unwrap_or_else(|e| panic!("{e}"))).collect()
}

fn documents<R: kefu_model::Record>(db: &Db, kind: DocKind) -> Vec<R> {
    let ids: Vec<String> = {
        let conn = db.lock();
        let mut stmt =
            conn.prepare("SELECT doc_id FROM documents WHERE kind = ?1").unwrap_or_else(|e| panic!("{e}"));
        let rows =
            stmt.query_map([kind.as_str()], |r| r.get::<_, String>(0)).unwrap_or_else(|e| panic!("{e}"));
        rows.map(|r| r.unwrap_or_else(|e| panic!("{e}"))).collect()
    };
    ids.iter()
        .map(|id| {
            let stored = kefu_server::accept::load(&db.lock(), id)
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("{id} missing"));
            KefuDoc::from_automerge(stored.doc).read::<R>().unwrap_or_else(|e| panic!("{id}: {e}"))
        })
        .collect()
}

#[test]
fn seeds_a_complete_valid_department_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let summary = seed_if_empty(&db, NOW)
        .unwrap_or_else(|e| panic!("seeding: {e}"))
        .unwrap_or_else(|| panic!("an empty database is seeded"));
    println!("{} in {:?}", summary.describe(), summary.elapsed);

    // Accounts: admin, supervisor, three agents, three field staff; all with the demo password.
    assert_eq!(count(&db, "SELECT count(*) FROM users"), 8);
    assert_eq!(count(&db, "SELECT count(*) FROM users WHERE role = 'agent' AND team = '一组'"), 3);
    assert_eq!(count(&db, "SELECT count(*) FROM users WHERE role = 'field' AND team = '一组'"), 3);
    assert_eq!(count(&db, "SELECT count(*) FROM users WHERE role = 'admin' AND team IS NULL"), 1);
    let usernames: Vec<&str> = summary.logins.iter().map(|l| l.username.as_str()).collect();
    assert_eq!(
        usernames,
        ["supervisor", "agent1", "agent2", "agent3", "field1", "field2", "field3", "admin"]
    );
    let (_, _, hash) = kefu_server::auth::find_login(&db.lock(), "agent2")
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("agent2 exists"));
    assert!(kefu_server::auth::password_matches(&hash, DEMO_PASSWORD));

    // Documents per kind, as stored, match the summary; nothing was quarantined.
    let stored = kinds(&db);
    let expected: BTreeMap<String, i64> =
        summary.documents.iter().map(|(k, n)| (k.as_str().to_string(), *n as i64)).collect();
    assert_eq!(stored, expected);
    assert_eq!(stored["customer"], DEMO_CUSTOMERS as i64);
    assert_eq!(stored["appearance_template"], 1);
    assert_eq!(stored["campaign"], 1);
    assert_eq!(stored["roster"], 3, "late October to early December");
    assert!((7..=21).contains(&stored["attendance"]), "{stored:?}");
    assert!((18..=20).contains(&stored["appearance_check"]), "{stored:?}");
    // The one refusal is the review queue's: a field phone giving a customer to itself.
    assert_eq!(
        count(&db, "SELECT count(*) FROM quarantine WHERE reason LIKE 'only a supervisor can change%'"),
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM quarantine"), 1);
    assert_eq!(
        count(&db, "SELECT count(*) FROM documents WHERE conflicts > 0"),
        1,
        "the review queue's conflict"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM provenance") as usize, summary.changes);
    assert!(summary.records["orders"] > 150 && summary.records["callbacks"] > 200, "{:?}", summary.records);

    // The data is relative to now: work is due and under way today.
    let today = Date::of_time(NOW, CHINA_UTC_OFFSET_MIN).to_string();
    let customers: Vec<CustomerFile> = documents(&db, DocKind::Customer);
    let callbacks: Vec<_> = customers.iter().flat_map(|c| c.callbacks.values()).collect();
    let due_today = callbacks
        .iter()
        .filter(|cb| cb.scheduled_for == today && cb.status().is_some_and(|s| s.is_open()))
        .count();
    let overdue = callbacks
        .iter()
        .filter(|cb| cb.scheduled_for < today && cb.status().is_some_and(|s| s.is_open()))
        .count();
    let satisfied = callbacks.iter().filter(|cb| cb.satisfaction.is_some()).count();
    assert!(due_today >= 15 && overdue >= 5 && satisfied >= 100, "{due_today} {overdue} {satisfied}");
    let visits: Vec<_> = customers.iter().flat_map(|c| c.visits.values()).collect();
    for step in [
        VisitStep::Dispatched,
        VisitStep::EnRoute,
        VisitStep::OnSite,
        VisitStep::Completed,
        VisitStep::Reviewed,
    ] {
        assert!(visits.iter().any(|v| v.status() == Some(step)), "a visit {step}");
    }
    assert!(visits.iter().any(|v| v.status() == Some(VisitStep::Completed) && !v.parts.is_empty()));
    let complaints: Vec<_> = customers.iter().flat_map(|c| c.complaints.values()).collect();
    assert!(complaints.iter().any(|c| c.status().is_some_and(|s| s.round > 0)), "a reopened complaint");
    assert!(complaints.iter().any(|c| c.status().is_some_and(|s| !s.is_open())));
    assert!(complaints.iter().any(|c| c.status().is_some_and(|s| s.is_open())));
    assert!(callbacks.iter().any(|cb| cb.status() == Some(CallbackStep::Cancelled)));
    let months: Vec<AttendanceMonth> = documents(&db, DocKind::Attendance);
    let leave: Vec<_> = months.iter().flat_map(|m| m.leave.values()).collect();
    assert!(leave.iter().any(|l| l.status() == LeaveStatus::Approved));
    assert!(leave.iter().any(|l| matches!(l.status(), LeaveStatus::Pending { .. })));
    let late =
        months.iter().any(|m| m.dates().iter().any(|d| m.day(d, CHINA_UTC_OFFSET_MIN).late_minutes > 0));
    assert!(late, "someone came in late");

    // Seeding again does nothing.
    assert!(seed_if_empty(&db, NOW + 3_600_000).unwrap_or_else(|e| panic!("{e}")).is_none());
    assert_eq!(count(&db, "SELECT count(*) FROM users"), 8);
    assert_eq!(kinds(&db), stored);
}

/// Kills the server even when the test fails half-way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_demo_command_serves_the_seeded_department_with_working_logins() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu-server"))
        .args(["demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines().map(|l| l.unwrap_or_else(|e| panic!("read: {e}")));
    let mut before = Vec::new();
    let url = loop {
        let line = lines.next().unwrap_or_else(|| panic!("no listening line after {before:?}"));
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_string();
        }
        before.push(line);
    };
    assert!(before.iter().any(|l| l.starts_with("seeded the demo department")), "{before:?}");
    // After the address: the endpoints and the demo accounts, one per line.
    let mut after = Vec::new();
    for line in lines.by_ref() {
        let done = line.trim_start().starts_with("admin ");
        after.push(line);
        if done {
            break;
        }
    }
    let ws = url.replace("http://", "ws://");
    assert!(after.iter().any(|l| l.starts_with(&format!("sync endpoint: {ws}/sync"))), "{after:?}");
    let agent = after
        .iter()
        .find_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.first() == Some(&"agent1")).then(|| (cols[1].to_string(), cols[2].to_string()))
        })
        .unwrap_or_else(|| panic!("agent1's login is printed: {after:?}"));
    assert_eq!(agent.1, "agent");

    let res = ureq::post(&format!("{url}/api/v1/login")).send_json(serde_json::json!({
        "username": "agent1", "password": agent.0, "device_name": "演示手机"
    }));
    let body: serde_json::Value = match res {
        Ok(r) => {
            assert_eq!(r.status(), 200);
            r.into_json().unwrap_or_else(|e| panic!("{e}"))
        }
        Err(e) => panic!("login with the printed password: {e}"),
    };
    assert_eq!(body["role"], "agent");
    drop(server);
}
