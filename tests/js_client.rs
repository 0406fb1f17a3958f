//! The stock JavaScript automerge-repo client against Kefu (issue 3, test 3): it signs in over
//! HTTP, creates a valid customer file and edits another over `/sync`; a Rust phone sees both;
//! an invalid document from it is quarantined, never stored or listed.
//!
//! Needs Node.js 20+; `tests/js/setup.sh` installs the pinned npm packages.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use kefu_model::records::customer::CustomerFile;
use kefu_tests::{new_customer, password, phone, sync, with, Server};

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Runs the JS client; returns its final JSON line.
fn node(args: &[&str]) -> serde_json::Value {
    let out = Command::new("node").arg(js_dir().join("client.mjs")).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("no JSON from client.mjs ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    assert!(out.status.success(), "client.mjs failed: {json}\n{}", String::from_utf8_lossy(&out.stderr));
    json
}

#[test]
fn the_stock_automerge_repo_client_creates_edits_and_is_refused_invalid_records() {
    let setup = Command::new("bash").arg(js_dir().join("setup.sh")).status().unwrap();
    assert!(setup.success(), "tests/js/setup.sh failed (Node.js 20+ and the npm registry are needed)");

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup", "supervisor", Some("A"));
    let li_id = server.add_user("li", "agent", Some("A"));
    let li = phone(dir.path(), &server, "li");
    let sup = phone(dir.path(), &server, "sup");

    // A customer file made by the agent's Rust phone, for the JS client to edit.
    let existing = with(&li, |c| c.create_customer(new_customer("周九", "13622223333"))).unwrap();
    sync(&li);

    let pw = password("li");
    let common =
        ["--server", server.url.as_str(), "--username", "li", "--password", pw.as_str(), "--team", "A"];
    let existing_s = existing.to_string();
    let mut args: Vec<&str> = vec!["create-and-edit"];
    args.extend_from_slice(&common);
    args.extend_from_slice(&["--agent", li_id.as_str(), "--edit", existing_s.as_str()]);
    let out = node(&args);
    let created = out["created"].as_str().unwrap().to_string();
    assert_eq!(out["edited"].as_str(), Some(existing_s.as_str()));

    // The Rust phones see both: the new file, and the JS client's contact on the old one.
    let r = sync(&sup);
    assert!(r.received >= 2, "{r:?}");
    let created_id = created.parse().unwrap();
    let new_file = with(&sup, |c| c.read::<CustomerFile>(&created_id)).unwrap();
    assert_eq!(new_file.assignment.agent.as_deref(), Some(li_id.as_str()));
    sync(&li);
    let edited = with(&li, |c| c.read::<CustomerFile>(&existing)).unwrap();
    assert_eq!(edited.contacts.len(), 1, "the JS client's contact arrived");
    let provenance = server.count(&format!(
        "SELECT count(*) FROM provenance WHERE doc_id = '{created}' AND user_id = '{li_id}'"
    ));
    assert!(provenance >= 1, "provenance names the authenticated user");

    // An invalid document is refused, quarantined and never listed.
    let before = server.count("SELECT count(*) FROM quarantine");
    let mut args: Vec<&str> = vec!["create-invalid"];
    args.extend_from_slice(&common);
    args.extend_from_slice(&["--agent", li_id.as_str(), "--defect", "phone"]);
    let out = node(&args);
    assert_eq!(out["rejected"], true, "{out}");
    assert_eq!(out["in_manifest"], false, "{out}");
    let invalid = out["invalid"].as_str().unwrap();
    assert_eq!(server.count(&format!("SELECT count(*) FROM documents WHERE doc_id = '{invalid}'")), 0);
    assert_eq!(server.count("SELECT count(*) FROM quarantine"), before + 1);
    let reason: String = server
        .db()
        .query_row("SELECT reason FROM quarantine WHERE doc_id = ?1", [invalid], |r| r.get(0))
        .unwrap();
    assert!(reason.contains("phone"), "{reason}");
}
