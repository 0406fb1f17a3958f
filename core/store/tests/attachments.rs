//! Attachments on the phone, offline: photos and a signature on a visit, a photo on a check
//! item, a certificate on sick leave; the upload queue and its progress surviving a restart;
//! a resumable download checked against the hash; bad input refused with nothing half-made.

use std::collections::BTreeMap;

use kefu_model::enums::*;
use kefu_model::records::appearance::AppearanceCheck;
use kefu_model::records::attendance::AttendanceMonth;
use kefu_model::records::customer::{CustomerFile, Profile};
use kefu_model::verbs::*;
use kefu_model::DocumentId;
use kefu_store::{AttachmentSource, Client, Identity, NewCustomer, StoreError, UploadState, PIECE_BYTES};
use sha2::{Digest, Sha256};

/// 2026-11-23 09:00 in Beijing.
const MONDAY_9AM: i64 = 1_795_395_600_000;

fn ok<T>(r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn open(path: &std::path::Path) -> Client {
    let mut c = ok(Client::open(path));
    c.set_clock(|| MONDAY_9AM);
    ok(c.set_identity(Identity {
        user_id: "zhang".into(),
        device_id: "zhang-phone".into(),
        team: "team-a".into(),
        role: Role::Field,
        display_name: "张师傅".into(),
    }));
    c
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes that look like nothing in particular (not compressible, not repeating per piece).
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

fn customer_with_visit(c: &mut Client) -> (DocumentId, String) {
    let doc = ok(c.create_customer(NewCustomer {
        profile: Profile {
            name: "王晓明".into(),
            phones: vec!["13800138000".into()],
            email: None,
            wechat: None,
            address: Some("上海市徐汇区漕溪北路 88 号".into()),
            district: None,
            source: SourceChannel::Jd,
        },
        classification: None,
    }));
    let visit = ok(c.dispatch_visit(
        &doc,
        &NewVisit {
            work_order: "WO-1".into(),
            reason: VisitReason::Repair,
            staff: "zhang".into(),
            window_start: MONDAY_9AM,
            window_end: MONDAY_9AM + 3_600_000,
        },
    ));
    (doc, visit)
}

#[test]
fn photos_and_a_signature_are_attached_offline_and_queued_in_order() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("phone.db");
    let mut c = open(&path);
    let (doc, visit) = customer_with_visit(&mut c);

    // Two photos: one from bytes, one from a file larger than a piece (read in pieces).
    let first = noise(1000, 1);
    let second = noise(3 * PIECE_BYTES + 123, 2);
    let file = dir.path().join("IMG_0002.jpg");
    std::fs::write(&file, &second).unwrap_or_else(|e| panic!("{e}"));
    let p1 = ok(c.attach_visit_photo(&doc, &visit, AttachmentSource::Bytes(first.clone()), "image/jpeg"));
    let p2 = ok(c.attach_visit_photo(&doc, &visit, AttachmentSource::File(file), "image/jpeg"));
    let sig_bytes = noise(5000, 3);
    let sig = ok(c.sign_visit(&doc, &visit, AttachmentSource::Bytes(sig_bytes.clone()), "image/png"));
    assert_eq!((p1.sha256.as_str(), p1.size), (sha(&first).as_str(), 1000));
    assert_eq!((p2.sha256.clone(), p2.size as usize), (sha(&second), second.len()));
    assert_eq!((p1.attached_by.as_str(), p1.attached_at), ("zhang", MONDAY_9AM));

    // The record refers to them by hash; the bytes are here; all three wait in the queue.
    let f: CustomerFile = ok(c.read(&doc));
    let v = &f.visits[&visit];
    assert_eq!(v.photos.len(), 2);
    assert_eq!(v.photos.get(&p2.sha256), Some(&p2));
    assert_eq!(v.signature.as_ref(), Some(&sig));
    assert_eq!(ok(c.attachment_bytes(&p2.sha256)), Some(second.clone()));
    assert_eq!(
        ok(c.blob_range(&p2.sha256, PIECE_BYTES as u64 - 10, 20)),
        second[PIECE_BYTES - 10..PIECE_BYTES + 10]
    );
    let q = ok(c.uploads());
    assert_eq!(q.iter().map(|u| u.label.as_str()).collect::<Vec<_>>().len(), 3);
    assert!(q.iter().all(|u| u.state == UploadState::Waiting && u.sent == 0 && u.doc_id == doc.to_string()));
    assert_eq!(
        q.iter().find(|u| u.sha256 == sig.sha256).map(|u| (u.label.as_str(), u.media_type.as_str())),
        Some(("signature", "image/png"))
    );

    // The same photo again is one attachment and one queue entry.
    let again = ok(c.attach_visit_photo(&doc, &visit, AttachmentSource::Bytes(first.clone()), "image/jpeg"));
    assert_eq!(again.sha256, p1.sha256);
    assert_eq!(ok(c.uploads()).len(), 3);
    let f: CustomerFile = ok(c.read(&doc));
    assert_eq!(f.visits[&visit].photos.len(), 2);

    // Progress is saved: after a restart the queue resumes from the confirmed bytes.
    ok(c.set_upload_progress(&p2.sha256, UploadState::Uploading, PIECE_BYTES as u64, Some("network: reset")));
    ok(c.set_upload_progress(&p1.sha256, UploadState::Uploaded, 1000, None));
    drop(c);
    let mut c = open(&path);
    let pending = ok(c.pending_uploads());
    assert_eq!(pending.len(), 2, "{pending:?}");
    let p = pending.iter().find(|u| u.sha256 == p2.sha256).unwrap_or_else(|| panic!("p2 pending"));
    assert_eq!(
        (p.state, p.sent, p.percent(), p.error.as_deref()),
        (UploadState::Uploading, PIECE_BYTES as u64, 33, Some("network: reset"))
    );
    assert_eq!(ok(c.attachment_bytes(&sig.sha256)), Some(sig_bytes));

    // A refusal is kept with its reason and retried only when asked.
    ok(c.set_upload_progress(&sig.sha256, UploadState::Failed, 0, Some("HTTP 413: too large")));
    assert_eq!(ok(c.pending_uploads()).len(), 1);
    ok(c.retry_upload(&sig.sha256));
    assert_eq!(ok(c.pending_uploads()).len(), 2);
    assert!(matches!(c.retry_upload(&sig.sha256), Err(StoreError::NotFound(_))));
}

#[test]
fn bad_attachments_are_refused_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("phone.db");
    let mut c = open(&path);
    let (doc, visit) = customer_with_visit(&mut c);
    let pieces = |c: &Client| -> i64 {
        c.connection().query_row("SELECT count(*) FROM blob_pieces", [], |r| r.get(0)).unwrap_or(-1)
    };

    let e = c.attach_visit_photo(&doc, &visit, AttachmentSource::Bytes(vec![1, 2, 3]), "jpeg");
    assert!(matches!(e, Err(StoreError::Invalid(ref v)) if v[0].field == "media_type"), "{e:?}");
    let e = c.attach_visit_photo(&doc, "no-such-visit", AttachmentSource::Bytes(vec![1, 2, 3]), "image/jpeg");
    assert!(matches!(e, Err(StoreError::NotFound(_))), "{e:?}");
    let e = c.attach_visit_photo(
        &doc,
        &visit,
        AttachmentSource::File(dir.path().join("missing.jpg")),
        "image/jpeg",
    );
    assert!(matches!(e, Err(StoreError::File { .. })), "{e:?}");
    c.set_max_attachment_bytes(2 * PIECE_BYTES as u64);
    let big = dir.path().join("big.jpg");
    std::fs::write(&big, noise(2 * PIECE_BYTES + 1, 9)).unwrap_or_else(|e| panic!("{e}"));
    let e = c.attach_visit_photo(&doc, &visit, AttachmentSource::File(big), "image/jpeg");
    assert!(
        matches!(e, Err(StoreError::Invalid(ref v)) if v[0].field == "size" && v[0].rule.contains("limit")),
        "{e:?}"
    );
    ok(c.advance_visit(&doc, &visit, kefu_model::lifecycle::VisitStep::Cancelled, Some("客户取消".into())));
    let e = c.attach_visit_photo(&doc, &visit, AttachmentSource::Bytes(vec![4, 5, 6]), "image/jpeg");
    assert!(matches!(e, Err(StoreError::NotAllowed(_))), "{e:?}");

    assert_eq!(pieces(&c), 0, "no bytes are left from refused attachments");
    assert!(ok(c.uploads()).is_empty());
    let f: CustomerFile = ok(c.read(&doc));
    assert!(f.visits[&visit].photos.is_empty());

    // Pieces staged when the app was killed mid-attach are cleared at the next open.
    ok(c.connection()
        .execute("INSERT INTO blob_pieces VALUES ('staging:dead', 0, x'00')", [])
        .map_err(StoreError::from));
    drop(c);
    let c = open(&path);
    assert_eq!(pieces(&c), 0);
}

#[test]
fn check_photos_and_a_sick_leave_certificate() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut c = open(&dir.path().join("phone.db"));
    let sheet = ok(c.fill_appearance_check("wu", BTreeMap::new()));
    let photo = ok(c.attach_check_photo(
        &sheet,
        "wu",
        "dress.badge",
        AttachmentSource::Bytes(noise(700, 4)),
        "image/jpeg",
    ));
    let s: AppearanceCheck = ok(c.read(&sheet));
    assert_eq!(s.checks["wu"].items["dress.badge"].photo.as_ref(), Some(&photo));
    let e =
        c.attach_check_photo(&sheet, "nobody", "dress.badge", AttachmentSource::Bytes(vec![1]), "image/jpeg");
    assert!(matches!(e, Err(StoreError::NotFound(_))), "{e:?}");

    let (doc, leave) = ok(c.request_leave(&NewLeave {
        kind: LeaveKind::Sick,
        start: "2026-11-23".into(),
        end: "2026-11-24".into(),
        reason: "发烧".into(),
        asked_in_person: false,
    }));
    let scan =
        ok(c.attach_certificate(&doc, &leave, AttachmentSource::Bytes(noise(900, 5)), "application/pdf"));
    let a: AttendanceMonth = ok(c.read(&doc));
    assert_eq!(a.leave[&leave].certificate.as_ref(), Some(&scan));
    let labels: Vec<String> = ok(c.uploads()).into_iter().map(|u| u.label).collect();
    assert_eq!(labels.len(), 2);
    assert!(labels.contains(&"check photo".to_string()) && labels.contains(&"certificate".to_string()));
}

#[test]
fn a_download_resumes_and_is_checked_against_its_hash() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("phone.db");
    let mut c = open(&path);
    let bytes = noise(2 * PIECE_BYTES + 77, 6);
    let h = sha(&bytes);

    assert_eq!(ok(c.begin_download(&h, bytes.len() as u64, "image/jpeg")), 0);
    assert_eq!(ok(c.append_download(&h, 0, &bytes[..300_000])), 300_000);
    assert_eq!(ok(c.attachment_bytes(&h)), None, "a partial download is not shown");
    drop(c);
    let mut c = open(&path);
    let at = ok(c.begin_download(&h, bytes.len() as u64, "image/jpeg"));
    assert_eq!(at, 300_000, "resumes from the bytes held");
    assert!(c.append_download(&h, 0, &bytes[..10]).is_err(), "bytes at the wrong place are refused");
    ok(c.append_download(&h, at, &bytes[at as usize..]));
    assert_eq!(ok(c.attachment_bytes(&h)), Some(bytes.clone()));

    // Bytes that do not match the name are discarded.
    let fake = sha(b"something else");
    ok(c.begin_download(&fake, 5, "image/jpeg"));
    let e = c.append_download(&fake, 0, b"abcde");
    assert!(matches!(e, Err(StoreError::Document(ref m)) if m.contains("do not match")), "{e:?}");
    assert_eq!(ok(c.blob_info(&fake)).map(|b| b.have), Some(0));
    assert!(c.begin_download("ZZ", 1, "image/jpeg").is_err());
}
