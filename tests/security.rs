//! Sync security end to end (issue 3, test 5): tokens, access, read-only users, revoked
//! devices, and misbehaving connections that must not hurt anyone else.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use kefu_model::automerge::sync::{self, SyncDoc};
use kefu_model::automerge::AutoCommit;
use kefu_model::enums::Shift;
use kefu_protocol::Message;
use kefu_store::SyncStatus;
use kefu_tests::raw::{joined, open, recv, request, rt, send, Socket};
use kefu_tests::{eventually, new_customer, phone, sync, with, Server};
use tokio_tungstenite::tungstenite::Message as Ws;

/// The server answers with an `error` message and closes.
async fn closed_with_error(s: &mut Socket) -> String {
    let mut error = None;
    while let Some(m) = recv(s).await {
        if let Message::Error { message } = m {
            error = Some(message);
        }
    }
    error.expect("an error message before the close")
}

#[test]
fn tokens_access_and_read_only_users() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup_a", "supervisor", Some("A"));
    server.add_user("sup_b", "supervisor", Some("B"));
    server.add_user("zhang", "field", Some("A"));
    let sup_b = phone(dir.path(), &server, "sup_b");
    let sup_a = phone(dir.path(), &server, "sup_a");
    let zhang = phone(dir.path(), &server, "zhang");
    let other_team = with(&sup_b, |c| c.create_customer(new_customer("赵六", "13911112222"))).unwrap();
    sync(&sup_b);

    let rt = rt();
    rt.block_on(async {
        // No token, or a wrong one: 401 before the upgrade.
        assert_eq!(open(&server, None).await.err(), Some(401));
        assert_eq!(open(&server, Some("kefu_not_a_token")).await.err(), Some(401));
        let (status, _) = server.get("/api/v1/manifest", "kefu_not_a_token");
        assert_eq!(status, 401);

        // A field user asking for another team's customer: doc-unavailable, exactly as for
        // a document that does not exist.
        let token = server.login("zhang")["token"].as_str().unwrap().to_string();
        let mut s = joined(&server, &token, "zhang-raw").await;
        let mut empty = AutoCommit::new();
        let data = empty.sync().generate_sync_message(&mut sync::State::new()).unwrap().encode();
        for doc in [other_team.to_string(), kefu_model::DocumentId::from_bytes([9; 16]).to_string()] {
            send(&mut s, &request(&doc, "zhang-raw", data.clone())).await;
            match recv(&mut s).await {
                Some(Message::DocUnavailable { document_id, .. }) => assert_eq!(document_id, doc),
                other => panic!("expected doc-unavailable, got {other:?}"),
            }
        }
    });
    let (_, manifest) = server.get("/api/v1/manifest", server.login("zhang")["token"].as_str().unwrap());
    assert!(!manifest.to_string().contains(&other_team.to_string()));

    // A read-only user's change is not applied, and the phone shows why.
    let month = "2026-11";
    let roster = with(&sup_a, |c| {
        let r = c.roster("A", month).unwrap();
        c.set_shifts(&r, &[("2026-11-23".into(), "someone".into(), Shift::Early)]).unwrap();
        r
    });
    sync(&sup_a);
    let r = sync(&zhang);
    assert!(r.received >= 1, "{r:?}");
    let before = server.count(&format!("SELECT count(*) FROM provenance WHERE doc_id = '{roster}'"));
    with(&zhang, |c| c.set_shifts(&roster, &[("2026-11-23".into(), "zhang".into(), Shift::Late)])).unwrap();
    let r = sync(&zhang);
    assert!(r.rejected >= 1, "{r:?}");
    match with(&zhang, |c| c.sync_status(&roster)).unwrap() {
        SyncStatus::Rejected { reason } => assert!(reason.contains("read"), "{reason}"),
        other => panic!("expected rejected, got {other:?}"),
    }
    assert_eq!(server.count(&format!("SELECT count(*) FROM provenance WHERE doc_id = '{roster}'")), before);

    // The phone sets the refused change aside (kept, with the reason) and the record
    // continues from the server's version.
    let n = with(&zhang, |c| c.set_aside_rejected(&roster.to_string())).unwrap();
    assert_eq!(n, 1);
    let kept = with(&zhang, |c| c.set_aside(Some(&roster.to_string()))).unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].reason.as_deref().unwrap_or_default().contains("read"));
    assert_eq!(with(&zhang, |c| c.sync_status(&roster)).unwrap(), SyncStatus::Accepted);
    let r = sync(&zhang);
    assert_eq!(r.rejected, 0, "{r:?}");
    let mine = with(&zhang, |c| c.read::<kefu_model::records::roster::Roster>(&roster)).unwrap();
    let theirs = with(&sup_a, |c| c.read::<kefu_model::records::roster::Roster>(&roster)).unwrap();
    assert_eq!(mine, theirs);
}

#[test]
fn revoking_a_device_closes_its_live_socket_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("li", "agent", Some("A"));
    let li = phone(dir.path(), &server, "li");
    with(&li, |c| c.create_customer(new_customer("钱七", "13911112222"))).unwrap();
    let seen: Arc<Mutex<Vec<kefu_sync::Status>>> = Arc::default();
    let log = seen.clone();
    let handle = kefu_sync::start(li.clone(), Arc::new(move |s| log.lock().unwrap().push(s))).unwrap();
    let idle = eventually(Duration::from_secs(20), || {
        seen.lock().unwrap().contains(&kefu_sync::Status::Idle).then_some(())
    });
    assert!(idle.is_some(), "never idle: {:?}", seen.lock().unwrap());
    assert!(server.metrics().contains("kefu_connections 1"));

    // The phone's own session revokes its device (as from a "sign out everywhere" screen).
    let session = with(&li, |c| kefu_sync::session(c)).unwrap().unwrap();
    let res = ureq::post(&format!("{}/api/v1/devices/{}/revoke", server.url, session.device_id))
        .set("Authorization", &format!("Bearer {}", session.token))
        .call()
        .unwrap();
    let body: serde_json::Value = res.into_json().unwrap();
    assert_eq!(body["connections_closed"], 1);
    let dropped = eventually(Duration::from_secs(5), || {
        let s = seen.lock().unwrap();
        s.iter()
            .rev()
            .take(3)
            .any(|s| matches!(s, kefu_sync::Status::Error { .. } | kefu_sync::Status::Unauthorized))
            .then_some(())
    });
    assert!(dropped.is_some(), "socket not closed: {:?}", seen.lock().unwrap());
    let gone =
        eventually(Duration::from_secs(5), || server.metrics().contains("kefu_connections 0").then_some(()));
    assert!(gone.is_some());
    // Reconnecting with the revoked token is refused: the phone is told to sign in again.
    let unauthorized = eventually(Duration::from_secs(10), || {
        seen.lock().unwrap().contains(&kefu_sync::Status::Unauthorized).then_some(())
    });
    assert!(unauthorized.is_some(), "{:?}", seen.lock().unwrap());
    handle.stop();
}

#[test]
fn misbehaving_connections_are_closed_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(&dir.path().join("server"), &[("KEFU_MAX_MESSAGE_BYTES", "65536")]);
    server.add_user("li", "agent", Some("A"));
    let li = phone(dir.path(), &server, "li");
    let token = server.login("li")["token"].as_str().unwrap().to_string();
    let rt = rt();
    rt.block_on(async {
        // A bystander stays connected throughout.
        let mut bystander = joined(&server, &token, "bystander").await;

        // Not CBOR at all.
        let mut s = joined(&server, &token, "bad-cbor").await;
        s.send(Ws::Binary(vec![0xff, 0x00, 0x13, 0x37].into())).await.unwrap();
        assert!(closed_with_error(&mut s).await.contains("malformed"));

        // CBOR, but the sync data is garbage.
        let mut s = joined(&server, &token, "bad-sync").await;
        let garbage = Message::Sync {
            document_id: kefu_model::DocumentId::from_bytes([3; 16]).to_string(),
            sender_id: "bad-sync".into(),
            target_id: "server".into(),
            data: b"not an automerge sync message".to_vec(),
        };
        send(&mut s, &garbage).await;
        assert!(closed_with_error(&mut s).await.contains("not an automerge sync message"));

        // A frame over the limit.
        let mut s = joined(&server, &token, "too-big").await;
        s.send(Ws::Binary(vec![0u8; 100_000].into())).await.unwrap();
        assert!(closed_with_error(&mut s).await.contains("exceeds the limit"));

        // A protocol version the server does not speak.
        let mut s = open(&server, Some(&token)).await.unwrap();
        let join = Message::Join {
            sender_id: "v9".into(),
            supported_protocol_versions: vec!["9".into()],
            metadata: None,
        };
        send(&mut s, &join).await;
        assert!(closed_with_error(&mut s).await.contains("unsupported protocol"));

        // A second join with the same sender id replaces the first socket.
        let mut first = joined(&server, &token, "same-peer").await;
        let _second = joined(&server, &token, "same-peer").await;
        assert!(closed_with_error(&mut first).await.contains("replaced"));

        // The bystander still talks to the server, and a phone still syncs.
        let doc = kefu_model::DocumentId::from_bytes([4; 16]).to_string();
        let data = AutoCommit::new().sync().generate_sync_message(&mut sync::State::new()).unwrap().encode();
        send(&mut bystander, &request(&doc, "bystander", data)).await;
        assert!(matches!(recv(&mut bystander).await, Some(Message::DocUnavailable { .. })));
    });
    let id = with(&li, |c| c.create_customer(new_customer("孙八", "13911112222"))).unwrap();
    let r = sync(&li);
    assert!(r.accepted >= 1, "{r:?}");
    assert_eq!(with(&li, |c| c.sync_status(&id)).unwrap(), SyncStatus::Accepted);
    // The phone has persistent storage: the server kept what they share for next time.
    let kept = eventually(Duration::from_secs(5), || {
        (server.count("SELECT count(*) FROM peer_sync_state") >= 1).then_some(())
    });
    assert!(kept.is_some());
    let metrics = server.metrics();
    assert!(metrics.contains("kefu_protocol_errors_total"), "{metrics}");
    assert!(!metrics.contains("kefu_protocol_errors_total 0\n"), "{metrics}");
}
