//! Attachments end to end (issue 6, server side): a photo referred to by a field visit is
//! uploaded in chunks over a cut connection and resumed, fetched whole and by range by the
//! team's supervisor, refused to another team's supervisor, and kept in backups; a tampered
//! chunk is refused; a 100 MB file is refused before its body is read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kefu_model::enums::VisitReason;
use kefu_model::records::customer::CustomerFile;
use kefu_model::records::AttachmentRef;
use kefu_model::verbs::NewVisit;
use kefu_tests::{new_customer, phone, sync, with, Server};
use sha2::{Digest, Sha256};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn bearer(server: &Server, user: &str) -> String {
    server.login(user)["token"].as_str().expect("token").to_string()
}

/// PUT one chunk: (status, body).
fn put_chunk(
    server: &Server,
    token: &str,
    file_sha: &str,
    size: usize,
    offset: usize,
    chunk: &[u8],
    chunk_sha: &str,
) -> (u16, serde_json::Value) {
    let r = ureq::put(&format!("{}/api/v1/attachments/{file_sha}?offset={offset}", server.url))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "image/jpeg")
        .set("X-Kefu-Size", &size.to_string())
        .set("X-Kefu-Chunk-Sha256", chunk_sha)
        .send_bytes(chunk);
    match r {
        Ok(r) => (r.status(), r.into_json().expect("json")),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or_default()),
        Err(e) => panic!("PUT: {e}"),
    }
}

fn get_bytes(
    server: &Server,
    token: &str,
    path: &str,
    range: Option<&str>,
) -> (u16, Vec<u8>, Option<String>) {
    let mut req =
        ureq::get(&format!("{}{path}", server.url)).set("Authorization", &format!("Bearer {token}"));
    if let Some(r) = range {
        req = req.set("Range", r);
    }
    match req.call() {
        Ok(r) => {
            let status = r.status();
            let cr = r.header("Content-Range").map(str::to_string);
            let mut out = Vec::new();
            r.into_reader().read_to_end(&mut out).expect("read");
            (status, out, cr)
        }
        Err(ureq::Error::Status(code, _)) => (code, Vec::new(), None),
        Err(e) => panic!("GET {path}: {e}"),
    }
}

#[test]
fn a_visit_photo_uploads_in_resumable_chunks_and_only_its_team_sees_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup", "supervisor", Some("A"));
    let field_id = server.add_user("zhang", "field", Some("A"));
    server.add_user("sup_b", "supervisor", Some("B"));
    let sup = phone(dir.path(), &server, "sup");
    let zhang = phone(dir.path(), &server, "zhang");

    // A visit for zhang, who photographs the work.
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis() as i64;
    let (doc, visit) = with(&sup, |c| {
        let id = c.create_customer(new_customer("孙丽", "13700137000")).expect("create");
        c.assign_customer(&id, None, Some(field_id.clone())).expect("assign");
        let visit = c
            .dispatch_visit(
                &id,
                &NewVisit {
                    work_order: "WO-PHOTO".into(),
                    reason: VisitReason::Repair,
                    staff: field_id.clone(),
                    window_start: now,
                    window_end: now + 3_600_000,
                },
            )
            .expect("dispatch");
        (id, visit)
    });
    sync(&sup);
    sync(&zhang);
    let photo: Vec<u8> = (0..2_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let photo_sha = sha(&photo);
    with(&zhang, |c| {
        c.edit(&doc, |f: &mut CustomerFile, _| {
            let v = f.visits.get_mut(&visit).expect("visit");
            v.photos.insert(
                photo_sha.clone(),
                AttachmentRef {
                    sha256: photo_sha.clone(),
                    size: photo.len() as i64,
                    media_type: "image/jpeg".into(),
                    attached_by: field_id.clone(),
                    attached_at: now,
                },
            );
            Ok(())
        })
        .expect("attach")
    });
    let r = sync(&zhang);
    assert_eq!(r.rejected, 0, "{r:?}");

    let tz = bearer(&server, "zhang");
    let ts = bearer(&server, "sup");
    let tb = bearer(&server, "sup_b");
    let status_path = format!("/api/v1/attachments/{photo_sha}/status");

    // Not uploaded yet: nothing to fetch.
    assert_eq!(get_bytes(&server, &ts, &format!("/api/v1/attachments/{photo_sha}"), None).0, 404);

    // The first megabyte arrives; then the connection is cut (the phone stops).
    let mb = 1 << 20;
    let (code, body) = put_chunk(&server, &tz, &photo_sha, photo.len(), 0, &photo[..mb], &sha(&photo[..mb]));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["received"], mb as u64);
    // A tampered chunk (bytes changed on the way) is refused and not stored.
    let mut tampered = photo[mb..2 * mb].to_vec();
    tampered[1234] ^= 0xff;
    let (code, body) =
        put_chunk(&server, &tz, &photo_sha, photo.len(), mb, &tampered, &sha(&photo[mb..2 * mb]));
    assert_eq!(code, 400, "{body}");
    // Resuming asks where the upload stands and goes on from there.
    let (code, st) = server.get(&status_path, &tz);
    assert_eq!(
        (code, st["received"].as_u64(), st["complete"].as_bool()),
        (200, Some(mb as u64), Some(false))
    );
    // A chunk at the wrong offset is told where to resume.
    let (code, _) =
        put_chunk(&server, &tz, &photo_sha, photo.len(), 2 * mb, &photo[2 * mb..], &sha(&photo[2 * mb..]));
    assert_eq!(code, 409);
    let mut offset = st["received"].as_u64().expect("received") as usize;
    while offset < photo.len() {
        let end = (offset + mb).min(photo.len());
        let (code, body) = put_chunk(
            &server,
            &tz,
            &photo_sha,
            photo.len(),
            offset,
            &photo[offset..end],
            &sha(&photo[offset..end]),
        );
        assert_eq!(code, 200, "{body}");
        offset = end;
    }
    let (_, st) = server.get(&status_path, &tz);
    assert_eq!(st["complete"], true);

    // The supervisor of the visit's team fetches it whole and by range; the bytes match.
    let (code, bytes, _) = get_bytes(&server, &ts, &format!("/api/v1/attachments/{photo_sha}"), None);
    assert_eq!(code, 200);
    assert_eq!(sha(&bytes), photo_sha);
    let (code, part, cr) =
        get_bytes(&server, &ts, &format!("/api/v1/attachments/{photo_sha}"), Some("bytes=1048000-1049999"));
    assert_eq!((code, cr.as_deref()), (206, Some("bytes 1048000-1049999/2500000")));
    assert_eq!(part, photo[1_048_000..1_050_000].to_vec());
    // Another team's supervisor: as if it did not exist.
    assert_eq!(get_bytes(&server, &tb, &format!("/api/v1/attachments/{photo_sha}"), None).0, 404);
    assert_eq!(server.get(&status_path, &tb).0, 404);
    // Stored once, even when uploaded again.
    let (code, body) = put_chunk(&server, &tz, &photo_sha, photo.len(), 0, &photo[..10], &sha(&photo[..10]));
    assert_eq!((code, body["complete"].as_bool()), (200, Some(true)));
    assert_eq!(server.count(&format!("SELECT count(*) FROM attachments WHERE sha256 = '{photo_sha}'")), 1);
    assert_eq!(
        server.count(&format!("SELECT count(*) FROM attachment_refs WHERE sha256 = '{photo_sha}'")),
        1
    );
}

#[test]
fn a_100_mb_file_is_refused_before_its_body_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server"));
    server.add_user("zhang", "field", Some("A"));
    let token = bearer(&server, "zhang");
    let size = 100usize << 20;
    let fake_sha = "ab".repeat(32);
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let head = format!(
        "PUT /api/v1/attachments/{fake_sha}?offset=0 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/jpeg\r\nX-Kefu-Size: {size}\r\nX-Kefu-Chunk-Sha256: {fake_sha}\r\nContent-Length: {size}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("head");
    // Only 64 KiB of the 100 MB are ever sent: the answer must come without the rest.
    s.write_all(&vec![0u8; 64 << 10]).expect("some body");
    let started = Instant::now();
    let mut answer = [0u8; 512];
    let n = s.read(&mut answer).expect("an answer before the body is complete");
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // A chunk larger than a chunk may be (of an allowed file) is refused too.
    let big = vec![7u8; 5 << 20];
    let (code, body) = put_chunk(&server, &token, &sha(&big), big.len(), 0, &big, &sha(&big));
    assert_eq!(code, 413, "{body}");
    // A too-large file sent as a proper chunk hears the reason too (its body is read and
    // dropped), not a broken pipe.
    let first = vec![9u8; 1 << 20];
    let (code, body) = put_chunk(&server, &token, &fake_sha, size, 0, &first, &sha(&first));
    assert_eq!(code, 413, "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("limit"), "{body}");
    assert_eq!(server.count("SELECT count(*) FROM attachments"), 0);
}

/// Bytes that look like a photo to a compressor (no pattern to squeeze).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn the_phone_queue_uploads_offline_evidence_resumes_after_a_cut_and_a_restart_and_the_supervisor_downloads_it(
) {
    use kefu_store::{AttachmentSource, Client, UploadState};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().expect("tempdir");
    let mut server =
        Server::start_with_env(&dir.path().join("server"), &[("KEFU_MAX_ATTACHMENT_BYTES", "3000000")]);
    server.add_user("sup", "supervisor", Some("A"));
    let field_id = server.add_user("zhang", "field", Some("A"));
    server.add_user("sup_b", "supervisor", Some("B"));
    let sup = phone(dir.path(), &server, "sup");
    let zhang = phone(dir.path(), &server, "zhang");
    let other_team = phone(dir.path(), &server, "sup_b");

    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis() as i64;
    let (doc, visit) = with(&sup, |c| {
        let id = c.create_customer(new_customer("周强", "13600136000")).expect("create");
        c.assign_customer(&id, None, Some(field_id.clone())).expect("assign");
        let visit = c
            .dispatch_visit(
                &id,
                &NewVisit {
                    work_order: "WO-EVIDENCE".into(),
                    reason: VisitReason::Installation,
                    staff: field_id.clone(),
                    window_start: now,
                    window_end: now + 3_600_000,
                },
            )
            .expect("dispatch");
        (id, visit)
    });
    sync(&sup);
    sync(&zhang);

    // Offline on the phone: two photos and the customer's signature; one photo is over the
    // server's limit (3,000,000 bytes here), which the phone cannot know.
    let photo1 = noise(1_000_000, 11);
    let photo2 = noise(600_000, 12);
    let signature = noise(40_000, 13);
    let too_big = noise(3_100_000, 14);
    let path2 = dir.path().join("IMG_0002.jpg");
    std::fs::write(&path2, &photo2).expect("write photo");
    let (r1, r2, rs, rbig) = with(&zhang, |c| {
        (
            c.attach_visit_photo(&doc, &visit, AttachmentSource::Bytes(photo1.clone()), "image/jpeg")
                .expect("p1"),
            c.attach_visit_photo(&doc, &visit, AttachmentSource::File(path2.clone()), "image/jpeg")
                .expect("p2"),
            c.sign_visit(&doc, &visit, AttachmentSource::Bytes(signature.clone()), "image/png").expect("sig"),
            c.attach_visit_photo(&doc, &visit, AttachmentSource::Bytes(too_big.clone()), "image/jpeg")
                .expect("big"),
        )
    });
    assert_eq!(r1.sha256, sha(&photo1));

    // The connection is cut after the first chunk of the first photo.
    let session = with(&zhang, |c| kefu_sync::session(c).expect("session").expect("signed in"));
    let mut chunks = 0;
    let report = kefu_sync::upload_pending(&zhang, &session, &mut |p| {
        assert_eq!(p.sha256, r1.sha256);
        chunks += 1;
        false
    })
    .expect("upload pass");
    assert_eq!((chunks, report.uploaded, report.pending), (1, 0, 4), "{report:?}");
    let q = with(&zhang, |c| c.uploads().expect("uploads"));
    let first = q.iter().find(|u| u.sha256 == r1.sha256).expect("queued");
    assert_eq!((first.state, first.sent, first.percent()), (UploadState::Uploading, 262_144, 26));
    let tz = bearer(&server, "zhang");
    let (code, status) = server.get(&format!("/api/v1/attachments/{}/status", r1.sha256), &tz);
    assert_eq!((code, status["received"].as_u64()), (200, Some(262_144)), "{status}");

    // The server goes away: the round fails, nothing is lost, the error is noted.
    server.kill();
    let e = kefu_sync::upload_pending(&zhang, &session, &mut |_| true);
    assert!(matches!(e, Err(kefu_sync::SyncError::Network(_))), "{e:?}");
    let q = with(&zhang, |c| c.uploads().expect("uploads"));
    let first = q.iter().find(|u| u.sha256 == r1.sha256).expect("queued");
    assert_eq!((first.state, first.sent), (UploadState::Uploading, 262_144));
    assert!(first.error.is_some(), "{first:?}");

    // The app restarts (store reopened) and the server is back: one sync round sends the
    // record, then resumes the queue where it stood.
    server.restart();
    drop(zhang);
    let reopened = Client::open(&dir.path().join("zhang.db")).expect("reopen");
    let zhang = Arc::new(Mutex::new(reopened));
    let r = sync(&zhang);
    assert_eq!(r.rejected, 0, "{r:?}");
    assert_eq!((r.uploads.uploaded, r.uploads.failed, r.upload_error.as_deref()), (3, 1, None), "{r:?}");
    let q = with(&zhang, |c| c.uploads().expect("uploads"));
    for u in &q {
        if u.sha256 == rbig.sha256 {
            assert_eq!(u.state, UploadState::Failed);
            assert!(
                u.error
                    .as_deref()
                    .is_some_and(|e| e.contains("3100000 bytes") && e.contains("limit is 3000000")),
                "{u:?}"
            );
        } else {
            assert_eq!(
                (u.state, u.sent, u.percent(), u.error.as_deref()),
                (UploadState::Uploaded, u.size, 100, None),
                "{u:?}"
            );
        }
    }
    // Refused for good until asked: the next round leaves it alone.
    assert_eq!(sync(&zhang).uploads, kefu_sync::UploadReport::default());
    with(&zhang, |c| c.retry_upload(&rbig.sha256).expect("retry"));
    let again = sync(&zhang);
    assert_eq!(again.uploads.failed, 1, "{again:?}");

    // The supervisor's phone sees the visit with its evidence and downloads it, resuming a
    // cut download; another team's supervisor cannot.
    sync(&sup);
    let f: CustomerFile = with(&sup, |c| c.read(&doc).expect("read"));
    let v = &f.visits[&visit];
    assert_eq!(v.photos.len(), 3);
    assert_eq!(v.signature.as_ref().map(|s| s.sha256.as_str()), Some(rs.sha256.as_str()));
    let sup_session = with(&sup, |c| kefu_sync::session(c).expect("session").expect("signed in"));
    let cut = kefu_sync::download(&sup, &sup_session, &r1.sha256, &mut |held, _| held < 262_144);
    assert!(cut.is_err(), "stopped after the first piece");
    let held = with(&sup, |c| c.blob_info(&r1.sha256).expect("info").expect("partial")).have;
    assert_eq!(held, 262_144);
    let mut from = None;
    let got = kefu_sync::download(&sup, &sup_session, &r1.sha256, &mut |held, _| {
        from.get_or_insert(held);
        true
    })
    .expect("download");
    assert_eq!(got, photo1);
    assert_eq!(from, Some(524_288), "resumed after the bytes held");
    for (r, bytes) in [(&r2, &photo2), (&rs, &signature)] {
        assert_eq!(
            &kefu_sync::download(&sup, &sup_session, &r.sha256, &mut |_, _| true).expect("download"),
            bytes
        );
    }
    let e = kefu_sync::download(&sup, &sup_session, &rbig.sha256, &mut |_, _| true);
    assert!(matches!(e, Err(kefu_sync::SyncError::Server(ref m)) if m.contains("404")), "{e:?}");
    let b_session = with(&other_team, |c| kefu_sync::session(c).expect("session").expect("signed in"));
    let e = kefu_sync::download(&other_team, &b_session, &r1.sha256, &mut |_, _| true);
    assert!(matches!(e, Err(kefu_sync::SyncError::Server(ref m)) if m.contains("404")), "{e:?}");
}

/// A real JPEG photo (a gradient), `w`×`h`.
fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, seed]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img).expect("jpeg");
    out
}

/// A signature-like PNG: a dark stroke on white.
fn png_signature() -> Vec<u8> {
    let img = image::GrayImage::from_fn(300, 100, |x, y| {
        let curve = 50.0 + 30.0 * ((x as f32) / 20.0).sin();
        image::Luma([if (y as f32 - curve).abs() < 2.5 { 20 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("png");
    out.into_inner()
}

#[test]
fn the_supervisor_sees_visit_photos_the_signature_check_photos_and_a_certificate_on_the_dashboard() {
    use kefu_model::enums::LeaveKind;
    use kefu_model::verbs::NewLeave;
    use kefu_store::AttachmentSource;

    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server"));
    server.add_user("sup", "supervisor", Some("A"));
    let field_id = server.add_user("zhang", "field", Some("A"));
    server.add_user("sup_b", "supervisor", Some("B"));
    let sup = phone(dir.path(), &server, "sup");
    let zhang = phone(dir.path(), &server, "zhang");
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis() as i64;
    let (doc, visit) = with(&sup, |c| {
        let id = c.create_customer(new_customer("冯雪", "13500135000")).expect("create");
        c.assign_customer(&id, None, Some(field_id.clone())).expect("assign");
        let v = c
            .dispatch_visit(
                &id,
                &NewVisit {
                    work_order: "WO-DASH".into(),
                    reason: VisitReason::Repair,
                    staff: field_id.clone(),
                    window_start: now,
                    window_end: now + 3_600_000,
                },
            )
            .expect("dispatch");
        (id, v)
    });
    sync(&sup);
    sync(&zhang);

    // On zhang's phone: two photos, the signature, a third photo whose bytes never leave the
    // phone (its reference does), and a sick-leave certificate scan.
    let (p1, p2, sig) = (jpeg(1200, 900, 10), jpeg(640, 480, 200), png_signature());
    // The supervisor checks zhang's appearance on their own phone and photographs the badge.
    let check = with(&sup, |c| {
        let sheet = c.fill_appearance_check(&field_id, Default::default()).expect("check");
        c.attach_check_photo(
            &sheet,
            &field_id,
            "dress.badge",
            AttachmentSource::Bytes(jpeg(300, 300, 50)),
            "image/jpeg",
        )
        .expect("check photo")
    });
    let r = sync(&sup);
    assert_eq!((r.rejected, r.uploads.uploaded), (0, 1), "{r:?}");
    let (a1, a2, asig, cert, stuck) = with(&zhang, |c| {
        let a1 = c
            .attach_visit_photo(&doc, &visit, AttachmentSource::Bytes(p1.clone()), "image/jpeg")
            .expect("p1");
        let a2 = c
            .attach_visit_photo(&doc, &visit, AttachmentSource::Bytes(p2.clone()), "image/jpeg")
            .expect("p2");
        let asig =
            c.sign_visit(&doc, &visit, AttachmentSource::Bytes(sig.clone()), "image/png").expect("sig");
        let today = c.today();
        let end = kefu_model::dates::Date::parse(&today).expect("date").add_days(1).to_string();
        let (month, leave) = c
            .request_leave(&NewLeave {
                kind: LeaveKind::Sick,
                start: today,
                end,
                reason: "发烧".into(),
                asked_in_person: false,
            })
            .expect("leave");
        let cert = c
            .attach_certificate(
                &month,
                &leave,
                AttachmentSource::Bytes(b"%PDF-1.4 certificate".repeat(50)),
                "application/pdf",
            )
            .expect("certificate");
        let stuck = "ab".repeat(32);
        c.edit(&doc, |f: &mut CustomerFile, _| {
            let photo = AttachmentRef {
                sha256: stuck.clone(),
                size: 2_000_000,
                media_type: "image/jpeg".into(),
                attached_by: field_id.clone(),
                attached_at: now,
            };
            f.visits.get_mut(&visit).expect("visit").photos.insert(stuck.clone(), photo);
            Ok(())
        })
        .expect("stuck photo");
        (a1, a2, asig, cert, stuck)
    });
    let r = sync(&zhang);
    assert_eq!((r.rejected, r.uploads.uploaded), (0, 4), "{r:?}");

    // The supervisor signs in to the dashboard.
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let login = agent
        .post(&format!("{}/login", server.url))
        .send_form(&[("username", "sup"), ("password", &kefu_tests::password("sup")), ("next", "/visits")])
        .expect("login");
    let cookie = login.header("set-cookie").expect("cookie").split(';').next().expect("cookie").to_string();
    let get = |path: &str| -> (u16, Vec<u8>, String) {
        let r = match agent.get(&format!("{}{path}", server.url)).set("Cookie", &cookie).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let (status, ct) = (r.status(), r.header("Content-Type").unwrap_or_default().to_string());
        let mut body = Vec::new();
        r.into_reader().read_to_end(&mut body).expect("body");
        (status, body, ct)
    };

    // The board links the work order to the visit page.
    let board = String::from_utf8(get("/visits").1).expect("utf8");
    let visit_path = format!("/visits/{doc}/{visit}");
    assert!(board.contains(&format!("href=\"{visit_path}\"")), "the board links to the visit page");
    let (code, page, _) = get(&visit_path);
    let page = String::from_utf8(page).expect("utf8");
    assert_eq!(code, 200, "{page}");
    for a in [&a1, &a2] {
        assert!(
            page.contains(&format!("/api/v1/attachments/{}/thumbnail", a.sha256)),
            "thumbnail of {}",
            a.sha256
        );
    }
    assert!(page.contains(&format!("src=\"/api/v1/attachments/{}\"", asig.sha256)), "the signature is shown");
    assert!(
        page.contains("等待手机上传") && page.contains(&stuck[..16]),
        "the photo not uploaded is shown waiting"
    );
    assert!(page.contains("WO-DASH") && page.contains("冯雪"));

    // The thumbnails are small JPEGs of the photos; the originals come whole.
    let (code, thumb, ct) = get(&format!("/api/v1/attachments/{}/thumbnail", a1.sha256));
    assert_eq!((code, ct.as_str()), (200, "image/jpeg"));
    let t = image::load_from_memory(&thumb).expect("thumbnail decodes");
    assert_eq!((t.width(), t.height()), (320, 240), "1200×900 fits 320 px keeping its shape");
    assert!(thumb.len() < p1.len() / 2, "{} bytes for a thumbnail of {}", thumb.len(), p1.len());
    assert_eq!(get(&format!("/api/v1/attachments/{}", a1.sha256)).1, p1);
    assert_eq!(get(&format!("/api/v1/attachments/{}", asig.sha256)).1, sig);
    let (code, _, _) = get(&format!("/api/v1/attachments/{}/thumbnail", cert.sha256));
    assert_eq!(code, 415, "a PDF has no thumbnail");

    // The check photo on the appearance sheet; the certificate scan on the leave request.
    let sheet = String::from_utf8(get("/appearance").1).expect("utf8");
    assert!(
        sheet.contains(&format!("/api/v1/attachments/{}/thumbnail", check.sha256)),
        "check photo on the sheet"
    );
    let leave_list = String::from_utf8(get("/attendance/requests").1).expect("utf8");
    let leave_href = leave_list
        .split("href=\"")
        .find(|s| s.starts_with("/attendance/leave/"))
        .and_then(|s| s.split('"').next())
        .expect("a leave link")
        .to_string();
    let leave_page = String::from_utf8(get(&leave_href).1).expect("utf8");
    assert!(
        leave_page.contains(&format!("href=\"/api/v1/attachments/{}\"", cert.sha256)),
        "certificate linked"
    );

    // Another team's supervisor gets no thumbnail either.
    let tb = bearer(&server, "sup_b");
    let r = ureq::get(&format!("{}/api/v1/attachments/{}/thumbnail", server.url, a1.sha256))
        .set("Authorization", &format!("Bearer {tb}"))
        .call();
    assert!(matches!(r, Err(ureq::Error::Status(404, _))), "{r:?}");
}
