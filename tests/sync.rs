//! Sync end to end: a real server process, phones that are real stores synced by
//! `kefu-sync` (issue 3, tests 1, 2 and 4).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use kefu_model::automerge::sync::{self, SyncDoc};
use kefu_model::automerge::AutoCommit;
use kefu_model::enums::{ClockKind, VisitReason};
use kefu_model::lifecycle::VisitStep;
use kefu_model::records::customer::CustomerFile;
use kefu_model::verbs::{NewVisit, VisitCompletion};
use kefu_protocol::Message;
use kefu_store::SyncStatus;
use kefu_tests::raw::{self, joined, recv, recv_within, rt, send};
use kefu_tests::{new_customer, phone, profile, sync, with, Server};

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Test 1: two phones edit one customer file offline, different fields and the same field.
#[test]
fn two_phones_converge_and_the_same_field_edit_is_a_visible_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup", "supervisor", Some("A"));
    let li_id = server.add_user("li", "agent", Some("A"));
    let zhang_id = server.add_user("zhang", "field", Some("A"));
    let li = phone(dir.path(), &server, "li");
    let zhang = phone(dir.path(), &server, "zhang");
    let sup = phone(dir.path(), &server, "sup");

    // The agent takes a new customer; it is created on the server by syncing.
    let id = with(&li, |c| c.create_customer(new_customer("王芳", "13800001111"))).unwrap();
    let r = sync(&li);
    assert!(r.accepted >= 1, "{r:?}");
    assert_eq!(with(&li, |c| c.sync_status(&id)).unwrap(), SyncStatus::Accepted);
    assert_eq!(
        with(&li, |c| c.read::<CustomerFile>(&id)).unwrap().assignment.agent.as_deref(),
        Some(li_id.as_str())
    );

    // The supervisor sends field staff zhang; zhang's phone receives the file.
    sync(&sup);
    with(&sup, |c| c.assign_customer(&id, Some(li_id.clone()), Some(zhang_id.clone()))).unwrap();
    sync(&sup);
    let r = sync(&zhang);
    assert!(r.received >= 1, "{r:?}");

    // Offline, both edit: the agent the intent, both the district.
    let mut p_li = profile("王芳", "13800001111");
    p_li.district = Some("徐汇区".into());
    with(&li, |c| c.update_profile(&id, p_li.clone())).unwrap();
    let mut p_zhang = profile("王芳", "13800001111");
    p_zhang.district = Some("静安区".into());
    with(&zhang, |c| c.update_profile(&id, p_zhang.clone())).unwrap();
    with(&zhang, |c| c.log_contact(&id, kefu_model::enums::ContactChannel::Visit, "上门确认地址")).unwrap();
    with(&li, |c| {
        let mut cl = c.read::<CustomerFile>(&id).unwrap().classification;
        cl.intent = kefu_model::enums::IntentLevel::High;
        c.update_classification(&id, cl)
    })
    .unwrap();

    // Reconnect: both upload, then both download.
    sync(&li);
    sync(&zhang);
    sync(&li);
    let a = with(&li, |c| c.read::<CustomerFile>(&id)).unwrap();
    let b = with(&zhang, |c| c.read::<CustomerFile>(&id)).unwrap();
    assert_eq!(a, b, "both phones hold the same record");
    assert_eq!(a.classification.intent, kefu_model::enums::IntentLevel::High);
    assert_eq!(a.contacts.len(), 1);
    let heads_a = with(&li, |c| c.heads(&id)).unwrap();
    let heads_b = with(&zhang, |c| c.heads(&id)).unwrap();
    assert_eq!(heads_a, heads_b);
    for p in [&li, &zhang] {
        assert_eq!(with(p, |c| c.sync_status(&id)).unwrap(), SyncStatus::Accepted);
        let conflicts = with(p, |c| c.conflicts(&id)).unwrap();
        let district = conflicts
            .iter()
            .find(|c| c.path == ["profile", "district"])
            .unwrap_or_else(|| panic!("no conflict on the district: {conflicts:?}"));
        let mut values: Vec<String> = district.values.iter().map(|v| v.value.to_string()).collect();
        values.sort();
        assert_eq!(values, vec!["\"徐汇区\"", "\"静安区\""]);
        let mut who: Vec<String> =
            district.values.iter().map(|v| v.author.as_ref().unwrap().user.clone()).collect();
        who.sort();
        let mut expected = vec![li_id.clone(), zhang_id.clone()];
        expected.sort();
        assert_eq!(who, expected, "each value names who wrote it");
    }
    // The server projected the merged record.
    let name: String = server
        .db()
        .query_row("SELECT name FROM idx_customers WHERE doc_id = ?1", [id.to_string()], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "王芳");
}

/// Test 2: a field phone offline for a day; then a reconnect with nothing new.
#[test]
fn a_day_offline_arrives_whole_and_a_quiet_reconnect_is_one_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup", "supervisor", Some("A"));
    let zhang_id = server.add_user("zhang", "field", Some("A"));
    let sup = phone(dir.path(), &server, "sup");
    let zhang = phone(dir.path(), &server, "zhang");
    let start = now_ms();
    let mut jobs = Vec::new();
    with(&sup, |c| {
        for i in 0..30 {
            let id =
                c.create_customer(new_customer(&format!("客户{i:02}"), &format!("1390000{i:04}"))).unwrap();
            c.assign_customer(&id, None, Some(zhang_id.clone())).unwrap();
            let visit = c
                .dispatch_visit(
                    &id,
                    &NewVisit {
                        work_order: format!("WO-{i:04}"),
                        reason: VisitReason::Repair,
                        staff: zhang_id.clone(),
                        window_start: start + i64::from(i) * 600_000,
                        window_end: start + i64::from(i) * 600_000 + 3_600_000,
                    },
                )
                .unwrap();
            jobs.push((id, visit));
        }
    });
    let r = sync(&sup);
    assert_eq!(r.exchanged, 30, "{r:?}");
    let r = sync(&zhang);
    assert_eq!(r.received, 30, "{r:?}");

    // The day, offline: clock in, 30 visits, clock out.
    with(&zhang, |c| {
        c.clock(ClockKind::In, Some("门店".into())).unwrap();
        for (id, visit) in &jobs {
            c.advance_visit(id, visit, VisitStep::OnSite, None).unwrap();
            c.complete_visit(
                id,
                visit,
                &VisitCompletion {
                    work_done: "更换滤芯，测试正常".into(),
                    parts: vec![("滤芯 F-3".into(), 1)],
                    rating: Some(5),
                    follow_up_on: None,
                },
            )
            .unwrap();
        }
        c.clock(ClockKind::Out, None).unwrap();
        assert!(c.outbox().unwrap().len() >= 62, "every change waits in the outbox");
    });

    let r = sync(&zhang);
    assert!(r.connected);
    assert_eq!(r.rejected, 0, "{r:?}");
    assert!(with(&zhang, |c| c.outbox()).unwrap().is_empty(), "everything accepted");
    let completed = server.count(&format!(
        "SELECT count(*) FROM idx_visits WHERE staff = '{zhang_id}' AND status = 'completed'"
    ));
    assert_eq!(completed, 30);
    assert_eq!(server.count(&format!("SELECT count(*) FROM idx_attendance WHERE staff = '{zhang_id}'")), 1);
    assert!(server.count("SELECT count(*) FROM provenance") >= 62);

    // Nothing new: one manifest request, no WebSocket, no per-document exchange.
    let r = sync(&zhang);
    assert!(!r.connected, "{r:?}");
    assert_eq!(r.exchanged, 0);
    assert_eq!(r.manifest, 31);
}

/// Test 4: SIGKILL while 20 phones upload; acknowledged changes survive, the rest follow.
#[test]
fn a_killed_server_keeps_every_acknowledged_change_and_phones_upload_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("server"));
    let phones: Vec<_> = (0..20)
        .map(|i| {
            let name = format!("agent{i:02}");
            server.add_user(&name, "agent", Some("A"));
            phone(dir.path(), &server, &name)
        })
        .collect();
    // Each phone takes customers and syncs, repeatedly, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let p = p.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 40 {
                    for _ in 0..2 {
                        with(&p, |c| {
                            c.create_customer(new_customer(
                                &format!("客户{i}-{n}"),
                                &format!("137{i:02}00{n:04}"),
                            ))
                        })
                        .unwrap();
                        n += 1;
                    }
                    let _ = kefu_sync::sync_blocking(p.clone());
                }
                n
            })
        })
        .collect();
    // Kill once uploads are under way.
    let under_way = kefu_tests::eventually(Duration::from_secs(60), || {
        (server.count("SELECT count(*) FROM documents") >= 40).then_some(())
    });
    assert!(under_way.is_some(), "uploads never started: {}", server.log());
    server.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let made: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();

    // Every change a phone saw acknowledged is on the server.
    let acknowledged: Vec<(String, String)> = phones
        .iter()
        .flat_map(|p| {
            with(p, |c| {
                let mut stmt = c
                    .connection()
                    .prepare("SELECT hash, doc_id FROM changes WHERE status = 'accepted'")
                    .unwrap();
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
                rows.collect::<Result<Vec<(String, String)>, _>>().unwrap()
            })
        })
        .collect();
    assert!(!acknowledged.is_empty());
    server.restart();
    let db = server.db();
    for (hash, doc) in &acknowledged {
        let n: i64 = db
            .query_row(
                "SELECT count(*) FROM provenance WHERE change_hash = ?1 AND doc_id = ?2",
                [hash, doc],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "acknowledged change {hash} of {doc} was lost");
    }
    // The phones upload the rest by themselves.
    for p in &phones {
        let r = sync(p);
        assert_eq!(r.rejected, 0, "{r:?}");
        assert!(with(p, |c| c.outbox()).unwrap().is_empty());
    }
    assert_eq!(server.count("SELECT count(*) FROM documents WHERE kind = 'customer'"), made as i64);
    // Every stored document is a valid record that a fresh phone can download.
    server.add_user("auditor", "supervisor", Some("A"));
    let auditor = phone(dir.path(), &server, "auditor");
    let r = sync(&auditor);
    assert_eq!(r.received, made, "{r:?}");
    let ids = with(&auditor, |c| c.documents(None)).unwrap();
    for id in &ids {
        with(&auditor, |c| c.read::<CustomerFile>(id)).unwrap();
    }
}

/// Accepted changes reach a connected phone without it asking (live push), new documents
/// included; the phone's listener hears `Idle` once a pushed change is in its store, so its
/// screens can refresh.
#[test]
fn a_connected_phone_receives_other_phones_changes_live() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup", "supervisor", Some("A"));
    server.add_user("li", "agent", Some("A"));
    let sup = phone(dir.path(), &server, "sup");
    let li = phone(dir.path(), &server, "li");
    let c1 = with(&li, |c| c.create_customer(new_customer("吴一", "13700000001"))).unwrap();
    sync(&li);
    sync(&sup);
    let seen: std::sync::Arc<std::sync::Mutex<Vec<kefu_sync::Status>>> = std::sync::Arc::default();
    // Each Idle: whether the store then held li's contact (what a screen would show).
    let idles: std::sync::Arc<std::sync::Mutex<Vec<bool>>> = std::sync::Arc::default();
    let (log, idle_log, store) = (seen.clone(), idles.clone(), sup.clone());
    let handle = kefu_sync::start(
        sup.clone(),
        std::sync::Arc::new(move |s| {
            if s == kefu_sync::Status::Idle {
                let has = with(&store, |c| c.read::<CustomerFile>(&c1).map(|f| f.contacts.len() == 1))
                    .unwrap_or(false);
                idle_log.lock().unwrap().push(has);
            }
            log.lock().unwrap().push(s)
        }),
    )
    .unwrap();
    let idle = kefu_tests::eventually(Duration::from_secs(20), || {
        seen.lock().unwrap().contains(&kefu_sync::Status::Idle).then_some(())
    });
    assert!(idle.is_some(), "{:?}", seen.lock().unwrap());

    // An edit to a file the phone holds arrives as one push, and the listener hears of it.
    with(&li, |c| c.log_contact(&c1, kefu_model::enums::ContactChannel::Phone, "电话回访，客户满意"))
        .unwrap();
    sync(&li);
    let told = kefu_tests::eventually(Duration::from_secs(10), || {
        idles.lock().unwrap().contains(&true).then_some(())
    });
    assert!(told.is_some(), "no Idle after the push: {:?}", seen.lock().unwrap());

    let c2 = with(&li, |c| c.create_customer(new_customer("吴二", "13700000002"))).unwrap();
    let sent = std::time::Instant::now();
    sync(&li);
    let arrived = kefu_tests::eventually(Duration::from_secs(10), || {
        with(&sup, |c| {
            let edited = c.read::<CustomerFile>(&c1).map(|f| f.contacts.len() == 1).unwrap_or(false);
            let created = c.read::<CustomerFile>(&c2).is_ok();
            (edited && created).then_some(())
        })
    });
    assert!(arrived.is_some(), "pushes did not arrive: {:?}", seen.lock().unwrap());
    eprintln!("live push arrived {} ms after the upload finished", sent.elapsed().as_millis());
    handle.stop();
}

/// A connected phone's nudges (one after each edit, as the app does) push its edits at once
/// without re-reading the manifest: the server reads it once, when the phone connects.
#[test]
fn nudges_push_edits_without_rereading_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("li", "agent", Some("A"));
    let li = phone(dir.path(), &server, "li");
    let c1 = with(&li, |c| c.create_customer(new_customer("吴一", "13700000001"))).unwrap();
    let manifests = || {
        let m = server.metrics();
        let line = m.lines().find(|l| l.starts_with("kefu_manifests_total ")).unwrap().to_string();
        line.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
    };
    let idle = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = idle.clone();
    let handle = kefu_sync::start(
        li.clone(),
        std::sync::Arc::new(move |s| {
            if s == kefu_sync::Status::Idle {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }),
    )
    .unwrap();
    let connected = kefu_tests::eventually(Duration::from_secs(20), || {
        (idle.load(std::sync::atomic::Ordering::SeqCst) > 0).then_some(())
    });
    assert!(connected.is_some(), "never idle");
    assert_eq!(manifests(), 1, "one manifest on connecting");
    for i in 0..5 {
        with(&li, |c| c.log_contact(&c1, kefu_model::enums::ContactChannel::Phone, &format!("第{i}次电话")))
            .unwrap();
        handle.sync_now();
    }
    let uploaded = kefu_tests::eventually(Duration::from_secs(20), || {
        with(&li, |c| c.unsynced_documents()).unwrap().is_empty().then_some(())
    });
    assert!(uploaded.is_some(), "the edits were not accepted");
    let stored = server.count("SELECT count(*) FROM documents");
    assert_eq!(stored, 1);
    assert_eq!(manifests(), 1, "nudges read no manifest");
    handle.stop();
    // And what the server holds is what the phone made.
    let r = sync(&li);
    assert_eq!((r.exchanged, r.rejected), (0, 0), "{r:?}");
}

/// A document the server no longer lists for a phone is removed from it only when nothing
/// made on the phone is waiting; unsent edits are kept and shown as refused.
#[test]
fn reassigned_files_leave_the_phone_only_when_nothing_is_unsettled() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup", "supervisor", Some("A"));
    let zhang_id = server.add_user("zhang", "field", Some("A"));
    let wang_id = server.add_user("wang", "field", Some("A"));
    let sup = phone(dir.path(), &server, "sup");
    let zhang = phone(dir.path(), &server, "zhang");
    let (d1, d2) = with(&sup, |c| {
        let d1 = c.create_customer(new_customer("郑一", "13500000001")).unwrap();
        let d2 = c.create_customer(new_customer("郑二", "13500000002")).unwrap();
        c.assign_customer(&d1, None, Some(zhang_id.clone())).unwrap();
        c.assign_customer(&d2, None, Some(zhang_id.clone())).unwrap();
        (d1, d2)
    });
    sync(&sup);
    assert_eq!(sync(&zhang).received, 2);
    // zhang edits d2 offline; meanwhile both files go to wang.
    with(&zhang, |c| c.log_contact(&d2, kefu_model::enums::ContactChannel::Visit, "上门未遇")).unwrap();
    with(&sup, |c| {
        c.assign_customer(&d1, None, Some(wang_id.clone())).unwrap();
        c.assign_customer(&d2, None, Some(wang_id.clone())).unwrap();
    });
    sync(&sup);
    let r = sync(&zhang);
    assert_eq!(r.removed, 1, "{r:?}");
    let left = with(&zhang, |c| c.documents(None)).unwrap();
    assert_eq!(left, vec![d2], "the file with an unsent edit stays");
    match with(&zhang, |c| c.sync_status(&d2)).unwrap() {
        SyncStatus::Rejected { reason } => {
            assert!(reason.contains("not make this record available"), "{reason}")
        }
        other => panic!("expected rejected, got {other:?}"),
    }
    assert!(!left.contains(&d1));
    let kept = server
        .count(&format!("SELECT count(*) FROM quarantine WHERE doc_id = '{d2}' AND user_id = '{zhang_id}'"));
    assert_eq!(kept, 1, "the unsent edit is kept on the server for the supervisor");
    // Syncing again offers the same refused edit again: still one quarantine entry.
    sync(&zhang);
    assert_eq!(server.count(&format!("SELECT count(*) FROM quarantine WHERE doc_id = '{d2}'")), 1);
}

/// A stock automerge-repo client pulling a file: its request, the file, its acknowledgement,
/// then the server's heads once (as the reference server answers: without that answer the
/// stock client did about four times the work per file, docs/performance.md lesson 13), and
/// then nothing: a peer repeating its heads is not echoed.
#[test]
fn an_acknowledged_pull_is_answered_with_the_servers_heads_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("li", "agent", Some("A"));
    let li = phone(dir.path(), &server, "li");
    let id = with(&li, |c| c.create_customer(new_customer("周九", "13911112222"))).unwrap().to_string();
    assert!(sync(&li).accepted >= 1);
    let token = server.login("li")["token"].as_str().unwrap().to_string();
    let from_server = |m: Option<Message>| match m {
        Some(Message::Sync { data, .. }) => sync::Message::decode(&data).unwrap(),
        other => panic!("expected a sync message, got {other:?}"),
    };
    rt().block_on(async {
        let mut s = joined(&server, &token, "puller").await;
        let mut doc = AutoCommit::new();
        let mut state = sync::State::new();
        let first = doc.sync().generate_sync_message(&mut state).unwrap();
        send(&mut s, &raw::request(&id, "puller", first.encode())).await;
        let file = from_server(recv(&mut s).await);
        assert!(!file.changes.is_empty(), "the first answer holds the file");
        doc.sync().receive_sync_message(&mut state, file).unwrap();
        let heads = doc.get_heads();
        assert!(!heads.is_empty());
        let ack = doc.sync().generate_sync_message(&mut state).expect("an acknowledgement");
        assert!(ack.changes.is_empty());
        send(&mut s, &raw::sync(&id, "puller", ack.encode())).await;

        let answer = from_server(recv(&mut s).await);
        assert_eq!(answer.heads, heads);
        assert!(answer.changes.is_empty(), "heads only");
        doc.sync().receive_sync_message(&mut state, answer).unwrap();
        assert!(doc.sync().generate_sync_message(&mut state).is_none(), "in sync, nothing left to say");

        state.have_responded = false;
        let again = doc.sync().generate_sync_message(&mut state).unwrap();
        send(&mut s, &raw::sync(&id, "puller", again.encode())).await;
        let echo = recv_within(&mut s, Duration::from_millis(500)).await;
        assert!(echo.is_none(), "heads repeated by the peer are not echoed: {echo:?}");
    });
}

/// A phone back from a day offline uploads all its changes in one sync message, many times
/// the socket's initial 8 KiB read buffer: it arrives whole and every entry is accepted.
#[test]
fn a_days_offline_work_in_one_message_larger_than_the_read_buffer_is_accepted_whole() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup", "supervisor", Some("A"));
    server.add_user("li", "agent", Some("A"));
    let li = phone(dir.path(), &server, "li");
    let sup = phone(dir.path(), &server, "sup");
    let id = with(&li, |c| c.create_customer(new_customer("王芳", "13800001111"))).unwrap();
    let summary = "客户来电询问橱柜安装时间、保修范围和上门费用，已逐项说明并约定回访。".repeat(3);
    for _ in 0..80 {
        with(&li, |c| c.log_contact(&id, kefu_model::enums::ContactChannel::Phone, &summary)).unwrap();
    }
    let r = sync(&li);
    assert!(r.accepted >= 1, "{r:?}");
    assert_eq!(with(&li, |c| c.sync_status(&id)).unwrap(), SyncStatus::Accepted);
    assert_eq!(server.count("SELECT count(*) FROM provenance"), 81, "every change has its provenance");
    sync(&sup);
    let file = with(&sup, |c| c.read::<CustomerFile>(&id)).unwrap();
    assert_eq!(file.contacts.len(), 80);
    assert!(file.contacts.values().all(|c| c.summary == summary));
}
