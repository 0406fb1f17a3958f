//! The supervisor dashboard in headless Chromium (issue 4): Debian's `chromium` driven by
//! `playwright-core` (pinned in tests/browser/package-lock.json, installed by
//! tests/browser/setup.sh), against `kefu-server demo` started here on 127.0.0.1.
//!
//! Before the browser starts, two phones make what the supervisor must settle: an agent and a
//! field staff member edit the same customer's address offline (a conflict made by two
//! clients), and the field staff member asks for three days of personal leave. The script
//! (tests/browser/dashboard.mjs) then signs in, finds a customer by a two-character Chinese
//! fragment, settles the conflict, approves the leave through manager → HR → general manager,
//! opens a KPI report and exports it, and submits every form on the main pages with bad input.
//! Afterwards the phones sync and must see the supervisor's choices. Screenshots are kept in
//! target/browser-artifacts/.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use kefu_model::enums::LeaveKind;
use kefu_model::records::attendance::AttendanceMonth;
use kefu_model::records::customer::CustomerFile;
use kefu_model::verbs::NewLeave;
use kefu_model::DocumentId;
use kefu_tests::{phone_with_password, sync, with, Server, DEMO_PASSWORD};

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn user_id(server: &Server, username: &str) -> String {
    server.db().query_row("SELECT id FROM users WHERE username = ?1", [username], |r| r.get(0)).unwrap()
}

#[test]
fn a_supervisor_works_the_dashboard_in_chromium() {
    let setup = Command::new("bash").arg(browser_dir().join("setup.sh")).status().unwrap();
    assert!(
        setup.success(),
        "tests/browser/setup.sh failed (Chromium from Debian and playwright-core from npm)"
    );

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(&dir.path().join("server"));
    let agent_id = user_id(&server, "agent1");
    let field_id = user_id(&server, "field1");

    // Step 1: a customer both agent1 and field1 look after; both phones pull it.
    let doc: String = server
        .db()
        .query_row(
            "SELECT doc_id FROM documents WHERE kind = 'customer' AND agent = ?1 AND field_staff = ?2 ORDER BY doc_id LIMIT 1",
            [&agent_id, &field_id],
            |r| r.get(0),
        )
        .unwrap();
    let doc_id: DocumentId = doc.parse().unwrap();
    let agent = phone_with_password(dir.path(), &server, "agent1", DEMO_PASSWORD);
    let field = phone_with_password(dir.path(), &server, "field1", DEMO_PASSWORD);
    sync(&agent);
    sync(&field);

    // Step 2: offline, both change the address; then both sync: a conflict on the server.
    let agents_address = "上海市徐汇区漕溪北路 88 号（专员记录）";
    let fields_address = "上海市徐汇区漕溪北路 99 号（上门核实）";
    for (p, address) in [(&agent, agents_address), (&field, fields_address)] {
        with(p, |c| {
            let mut profile = c.read::<CustomerFile>(&doc_id).unwrap().profile;
            profile.address = Some(address.to_string());
            c.update_profile(&doc_id, profile).unwrap();
        });
    }
    sync(&agent);
    sync(&field);
    let conflicts: i64 = server
        .db()
        .query_row("SELECT conflicts FROM documents WHERE doc_id = ?1", [&doc], |r| r.get(0))
        .unwrap();
    assert!(conflicts > 0, "the two offline edits must conflict on the server");

    // Step 3: field1 asks for three days of personal leave, a week ahead.
    let today = with(&field, |c| c.today());
    let start = kefu_model::dates::Date::parse(&today).unwrap().add_days(7);
    let (leave_doc, leave_id) = with(&field, |c| {
        c.request_leave(&NewLeave {
            kind: LeaveKind::Personal,
            start: start.to_string(),
            end: start.add_days(2).to_string(),
            reason: "回老家办理房产手续".into(),
            asked_in_person: true,
        })
        .unwrap()
    });
    sync(&field);

    // A customer name of three or more characters, searched by two of them.
    let name: String = server
        .db()
        .query_row("SELECT name FROM idx_customers WHERE length(name) >= 3 ORDER BY name LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let fragment: String = name.chars().skip(1).take(2).collect();

    // Step 4: the supervisor in the browser.
    let out = Command::new("node")
        .arg(browser_dir().join("dashboard.mjs"))
        .env("KEFU_URL", &server.url)
        .env("KEFU_USER", "supervisor")
        .env("KEFU_PASSWORD", DEMO_PASSWORD)
        .env("KEFU_ARTIFACTS", artifacts())
        .env("KEFU_CONFLICT_DOC", &doc)
        .env("KEFU_CONFLICT_CHOICE", fields_address)
        .env("KEFU_LEAVE_ID", &leave_id)
        .env("KEFU_SEARCH_FRAGMENT", &fragment)
        .env("KEFU_SEARCH_NAME", &name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "dashboard.mjs failed:\n{stdout}\n{stderr}\nserver log:\n{}", server.log());

    // Step 5: the supervisor's choices are ordinary changes that reach the phones.
    sync(&agent);
    sync(&field);
    for p in [&agent, &field] {
        with(p, |c| {
            assert!(c.conflicts(&doc_id).unwrap().is_empty(), "the conflict is settled on the phone too");
            let address = c.read::<CustomerFile>(&doc_id).unwrap().profile.address;
            assert_eq!(address.as_deref(), Some(fields_address));
        });
    }
    with(&field, |c| {
        let month: AttendanceMonth = c.read(&leave_doc).unwrap();
        let leave = &month.leave[&leave_id];
        assert_eq!(leave.approvals.len(), 3, "manager, HR and general manager: {:?}", leave.approvals);
    });
}
