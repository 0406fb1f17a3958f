//! Accepting changes: the only way a document on the server changes.
//!
//! Incoming automerge changes are applied in memory, never to the stored bytes. The new version
//! is read once (JSON, then its record type), validated as a whole state, and checked
//! against the state before (nothing recorded removed, no step undone: `validate_transition`)
//! and against the sender's access (read-only users and reassignment by non-supervisors are
//! refused). Only then are the new bytes, the provenance of every new change (authenticated
//! user and device, receipt time) and the document's metadata written in one SQLite
//! transaction with `synchronous=FULL`: when this returns `Accepted`, the change is on disk,
//! and only then may anyone be told. A refused change goes to the quarantine table with who,
//! when and why; it is never silently dropped.

use kefu_model::automerge::{AutoCommit, Change, ChangeHash};
use kefu_model::document::{
    forget_patches, json_of, json_text, json_text_of, kind_of_json, record_of_json, record_of_json_text,
};
use kefu_model::enums::{DocKind, Role};
use kefu_model::records::appearance::{AppearanceCheck, AppearanceTemplate};
use kefu_model::records::attendance::AttendanceMonth;
use kefu_model::records::campaign::Campaign;
use kefu_model::records::customer::CustomerFile;
use kefu_model::records::roster::Roster;
use kefu_model::records::{validate_transition, Record};
use kefu_model::KefuDoc;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::Value as Json;

use crate::access::{access, may_create, Access, DocMeta};
use crate::auth::Principal;
use crate::error::ServerError;

const COMPACT_AFTER_CHUNKS: i64 = 10;

/// What became of incoming changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored durably; these are the new change hashes (hex).
    Accepted {
        /// Hashes of the changes that were new to the server.
        new: Vec<String>,
    },
    /// The server already had every change.
    NothingNew,
    /// Refused and quarantined; the sender is told the reason.
    Rejected {
        /// Why, naming record, field and rule where validation failed.
        reason: String,
        /// The quarantine entry.
        quarantine_id: i64,
    },
    /// The sender may read but not write this document; nothing was applied.
    ReadOnly,
    /// The sender has no access (answered exactly like "no such document").
    Unavailable,
}

/// A stored document with its metadata.
#[derive(Debug)]
pub struct Stored {
    /// The document.
    pub doc: AutoCommit,
    /// What access decisions need.
    pub meta: DocMeta,
    /// The document's current version as JSON text, when already read (the next acceptance
    /// compares against it instead of reading the document again). Text, not a
    /// `serde_json::Value` tree: the tree of a customer file took more memory than the
    /// automerge document itself, in every cached document (ADR 0008).
    pub json: Option<Box<str>>,
}

impl Stored {
    /// A stored document not read yet.
    pub fn new(doc: AutoCommit, meta: DocMeta) -> Stored {
        Stored { doc, meta, json: None }
    }

    /// This document as the version before incoming changes.
    pub fn before(&mut self) -> Before<'_> {
        let heads = self.doc.get_heads();
        let json = self.json.get_or_insert_with(|| json_text_of(&self.doc));
        Before { heads, meta: &self.meta, json }
    }
}

/// The stored version incoming changes are decided against: its heads, metadata and JSON.
#[derive(Debug, Clone, Copy)]
pub struct BeforeRef<'a> {
    /// Its heads.
    pub heads: &'a [ChangeHash],
    /// Its metadata.
    pub meta: &'a DocMeta,
    /// Its JSON text.
    pub json: &'a str,
}

/// [`BeforeRef`] with its heads owned.
#[derive(Debug)]
pub struct Before<'a> {
    /// Its heads.
    pub heads: Vec<ChangeHash>,
    /// Its metadata.
    pub meta: &'a DocMeta,
    /// Its JSON text.
    pub json: &'a str,
}

impl Before<'_> {
    /// Borrowed.
    pub fn as_ref(&self) -> BeforeRef<'_> {
        BeforeRef { heads: &self.heads, meta: self.meta, json: self.json }
    }
}

/// What an accepted change leaves: the document's new metadata and its JSON text (for the
/// cache).
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The new metadata.
    pub meta: DocMeta,
    /// The new version as JSON text.
    pub json: Box<str>,
}

/// The stored metadata columns other than the kind.
struct MetaColumns {
    team: String,
    agent: Option<String>,
    field_staff: Option<String>,
    staff: Option<String>,
}

/// Loads a stored document; `Ok(None)` when the server has no such document.
pub fn load(conn: &Connection, doc_id: &str) -> Result<Option<Stored>, ServerError> {
    let row = conn
        .query_row(
            "SELECT snapshot, kind, team, agent, field_staff, staff FROM documents WHERE doc_id = ?1",
            [doc_id],
            |r| {
                let bytes: Vec<u8> = r.get(0)?;
                let kind: String = r.get(1)?;
                Ok((
                    bytes,
                    kind,
                    MetaColumns {
                        team: r.get(2)?,
                        agent: r.get(3)?,
                        field_staff: r.get(4)?,
                        staff: r.get(5)?,
                    },
                ))
            },
        )
        .optional()?;
    let Some((mut bytes, kind, parts)) = row else { return Ok(None) };
    let mut stmt = conn.prepare_cached(LOAD_CHUNKS)?;
    for chunk in stmt.query_map([doc_id], |r| r.get::<_, Vec<u8>>(0))? {
        bytes.extend_from_slice(&chunk?);
    }
    let doc = AutoCommit::load(&bytes)
        .map_err(|e| ServerError::Internal(format!("stored document {doc_id} does not load: {e}")))?;
    let kind = kind.parse().map_err(|e| ServerError::Internal(format!("stored kind: {e}")))?;
    let MetaColumns { team, agent, field_staff, staff } = parts;
    Ok(Some(Stored::new(doc, DocMeta { kind, team, agent, field_staff, staff })))
}

/// Writes a version's projection rows, from the record already read.
type Projection = Box<dyn FnOnce(&Transaction<'_>, &str) -> Result<(), ServerError>>;

/// The typed reading of a new version, validated (and checked against the version before).
fn checked<R: Record>(
    before: Option<(DocKind, &str)>,
    after: &Json,
    meta: impl Fn(&R) -> DocMeta,
) -> Result<(DocMeta, Projection), String> {
    let new: R = record_of_json(after).map_err(|e| e.to_string())?;
    let result = match before {
        Some((kind, text)) => {
            validate_transition(&record_of_json_text::<R>(kind, text).map_err(|e| e.to_string())?, &new)
        }
        None => new.problems().into_result(),
    };
    result.map_err(|p| p.to_string())?;
    let m = meta(&new);
    // The projection rows come from the same reading: the document is read once per change.
    let project = move |tx: &Transaction<'_>, doc_id: &str| {
        kefu_store::project::project_record(tx, doc_id, &new)
            .map(|_| ())
            .map_err(|e| ServerError::Internal(format!("projecting {doc_id}: {e}")))
    };
    Ok((m, Box::new(project)))
}

/// Reads and validates `after` (and the step from `before`), returning its metadata and how to
/// write its projection rows.
fn check(before: Option<(DocKind, &str)>, after: &Json) -> Result<(DocMeta, Projection), String> {
    let kind = kind_of_json(after).map_err(|e| e.to_string())?;
    let simple =
        |team: &str| DocMeta { kind, team: team.to_string(), agent: None, field_staff: None, staff: None };
    match kind {
        DocKind::Customer => checked::<CustomerFile>(before, after, |c| DocMeta {
            agent: c.assignment.agent.clone(),
            field_staff: c.assignment.field_staff.clone(),
            ..simple(&c.team)
        }),
        DocKind::Attendance => checked::<AttendanceMonth>(before, after, |a| DocMeta {
            staff: Some(a.staff.clone()),
            ..simple(&a.team)
        }),
        DocKind::AppearanceCheck => checked::<AppearanceCheck>(before, after, |c| simple(&c.team)),
        DocKind::AppearanceTemplate => checked::<AppearanceTemplate>(before, after, |t| simple(&t.team)),
        DocKind::Roster => checked::<Roster>(before, after, |r| simple(&r.team)),
        DocKind::Campaign => checked::<Campaign>(before, after, |c| simple(&c.team)),
    }
}

/// Whether the new changes only build on the version before, one after the other (the usual
/// phone edit): then they cannot make a value concurrent with another, so a document without
/// conflicts stays without.
///
/// Each change must depend on every head at that point (the version before, then the change
/// before it). It may list more: automerge always lists the author's own previous change, even
/// when another device's change built on it since (a phone editing after taking in the other
/// phone's edit depends on both). Such an extra dependency is already in the document, hence
/// behind the heads; only a dependency on a change that comes later in `new` (out of order) is
/// not taken as linear. `new` holds every change `after` has beyond the version before, so a
/// dependency that is not among them is in the version before.
fn linear_extension(before_heads: &[ChangeHash], new: &[Change]) -> bool {
    let later: std::collections::HashMap<ChangeHash, usize> =
        new.iter().enumerate().map(|(i, c)| (c.hash(), i)).collect();
    let mut tip: Vec<ChangeHash> = before_heads.to_vec();
    for (i, c) in new.iter().enumerate() {
        let deps = c.deps();
        if !tip.iter().all(|h| deps.contains(h)) {
            return false;
        }
        if deps.iter().any(|d| later.get(d).is_some_and(|&j| j > i)) {
            return false;
        }
        tip = vec![c.hash()];
    }
    true
}

/// Appends a chunk to a document (test `cached_statements_are_not_re_prepared`).
const APPEND_CHUNK: &str = "INSERT INTO chunks (doc_id, seq, data) \
     VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM chunks WHERE doc_id = ?1), ?2)";

/// A document's chunks in order.
const LOAD_CHUNKS: &str = "SELECT data FROM chunks WHERE doc_id = ?1 ORDER BY seq";

fn hex_heads(heads: &[ChangeHash]) -> String {
    heads.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(",")
}

pub(crate) fn quarantine(
    conn: &Connection,
    p: &Principal,
    doc_id: &str,
    changes: &[Change],
    reason: &str,
    now: i64,
) -> Result<Outcome, ServerError> {
    let bytes: Vec<u8> = changes.iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
    let hashes = changes.iter().map(|c| c.hash().to_string()).collect::<Vec<_>>().join(",");
    // The same refused changes offered again (a phone reconnecting) are one entry, not many.
    let known: Option<i64> = conn
        .query_row(
            "SELECT id FROM quarantine WHERE doc_id = ?1 AND change_hashes = ?2 AND status = 'open'",
            params![doc_id, hashes],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = known {
        return Ok(Outcome::Rejected { reason: reason.to_string(), quarantine_id: id });
    }
    conn.execute(
        "INSERT INTO quarantine (doc_id, user_id, device_id, received_at, reason, changes, change_hashes) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![doc_id, p.user_id, p.device_id, now, reason, bytes, hashes],
    )?;
    tracing::info!(doc_id, user = %p.user_id, reason, "changes quarantined");
    Ok(Outcome::Rejected { reason: reason.to_string(), quarantine_id: conn.last_insert_rowid() })
}

/// Applies `changes` from `p` to document `doc_id` if they are acceptable (see module docs).
pub fn accept(
    conn: &Connection,
    p: &Principal,
    doc_id: &str,
    changes: Vec<Change>,
    now: i64,
) -> Result<Outcome, ServerError> {
    let mut stored = load(conn, doc_id)?;
    let mut after = match &stored {
        Some(s) => s.doc.clone(),
        None => AutoCommit::new(),
    };
    let applied = after.apply_changes(changes.clone());
    forget_patches(&mut after);
    if let Err(e) = applied {
        if let Some(s) = &stored {
            if access(p, &s.meta) != Access::Write {
                return Ok(if access(p, &s.meta) == Access::Read {
                    Outcome::ReadOnly
                } else {
                    Outcome::Unavailable
                });
            }
        }
        return quarantine(conn, p, doc_id, &changes, &format!("the changes do not apply: {e}"), now);
    }
    let before = stored.as_mut().map(Stored::before);
    Ok(accept_merged(conn, p, doc_id, before.as_ref().map(Before::as_ref), &mut after, None, now)?.0)
}

/// Decides on `after`, which is `before` (the stored version, `None` for a new document) with
/// the sender's changes merged. On acceptance returns the new metadata and JSON; the caller
/// then keeps `after` as the stored document. On anything else `after` must be dropped (the
/// stored bytes are untouched).
///
/// `after` is read once (one hydrate to JSON); validation, the projection rows and the
/// attachment references all come from that reading, and the version before is compared as
/// the JSON the cache kept of it. `new`: the changes `after` has beyond `before`, when the
/// caller knows them (the sync path has them from the message); else they are computed.
pub fn accept_merged(
    conn: &Connection,
    p: &Principal,
    doc_id: &str,
    before: Option<BeforeRef<'_>>,
    after: &mut AutoCommit,
    new: Option<Vec<Change>>,
    now: i64,
) -> Result<(Outcome, Option<Accepted>), ServerError> {
    if let Some(s) = &before {
        match access(p, s.meta) {
            Access::None => return Ok((Outcome::Unavailable, None)),
            Access::Read => return Ok((Outcome::ReadOnly, None)),
            Access::Write => {}
        }
    }
    let before_heads: Vec<ChangeHash> = before.map(|s| s.heads.to_vec()).unwrap_or_default();
    let after_heads = after.get_heads();
    if after_heads == before_heads {
        return Ok((Outcome::NothingNew, None));
    }
    if !after.get_missing_deps(&[]).is_empty() {
        // Changes whose dependencies the server lacks are held by automerge, not applied; the
        // sync protocol asks for the missing ones. Nothing to store yet.
        return Ok((Outcome::NothingNew, None));
    }
    let new: Vec<Change> = match new {
        Some(n) => n,
        None => after.get_changes(&before_heads),
    };
    let refuse = |reason: &str| quarantine(conn, p, doc_id, &new, reason, now).map(|o| (o, None));
    let after_json = json_of(after);
    let (meta, projection) = match check(before.map(|s| (s.meta.kind, s.json)), &after_json) {
        Ok(m) => m,
        Err(reason) => return refuse(&reason),
    };
    match before.map(|s| s.meta) {
        None if !may_create(p, &meta) => {
            return refuse(&format!("a {} may not create this {}", p.role, meta.kind));
        }
        Some(b)
            if p.role != Role::Supervisor
                && (b.team != meta.team
                    || b.agent != meta.agent
                    || b.field_staff != meta.field_staff
                    || b.staff != meta.staff) =>
        {
            return refuse("only a supervisor can change a record's team or assignment");
        }
        _ => {}
    }
    let tx = conn.unchecked_transaction()?;
    // Statements come from the connection's cache: preparing them anew was 6 % of the server's
    // CPU with 1,000 phones editing.
    let existing: Option<(i64, i64, i64, i64)> = tx
        .prepare_cached(
            "SELECT chunk_count, chunk_bytes, length(snapshot), conflicts FROM documents WHERE doc_id = ?1",
        )?
        .query_row([doc_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let conflicts_before = existing.map(|e| e.3);
    let heads = hex_heads(&after_heads);
    match existing {
        None => {
            tx.prepare_cached(
                "INSERT INTO documents (doc_id, kind, team, agent, field_staff, staff, snapshot, heads, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                doc_id,
                meta.kind.as_str(),
                meta.team,
                meta.agent,
                meta.field_staff,
                meta.staff,
                after.save(),
                heads,
                now
            ])?;
        }
        Some((count, bytes, snap, _)) => {
            let chunk = after.save_after(&before_heads);
            if count + 1 > COMPACT_AFTER_CHUNKS || bytes + chunk.len() as i64 > snap {
                tx.prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?.execute([doc_id])?;
                tx.prepare_cached(
                    "UPDATE documents SET snapshot = ?2, chunk_count = 0, chunk_bytes = 0 WHERE doc_id = ?1",
                )?
                .execute(params![doc_id, after.save()])?;
            } else {
                tx.prepare_cached(APPEND_CHUNK)?.execute(params![doc_id, chunk])?;
                tx.prepare_cached(
                    "UPDATE documents SET chunk_count = chunk_count + 1, chunk_bytes = chunk_bytes + ?2 \
                     WHERE doc_id = ?1",
                )?
                .execute(params![doc_id, chunk.len() as i64])?;
            }
            tx.prepare_cached(
                "UPDATE documents SET team = ?2, agent = ?3, field_staff = ?4, staff = ?5, heads = ?6, \
                 updated_at = ?7 WHERE doc_id = ?1",
            )?
            .execute(params![
                doc_id,
                meta.team,
                meta.agent,
                meta.field_staff,
                meta.staff,
                heads,
                now
            ])?;
        }
    }
    let mut hashes = Vec::with_capacity(new.len());
    for c in &new {
        let hash = c.hash().to_string();
        tx.prepare_cached(
            "INSERT OR IGNORE INTO provenance (change_hash, doc_id, user_id, device_id, received_at, device_time) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![hash, doc_id, p.user_id, p.device_id, now, c.timestamp() * 1000])?;
        hashes.push(hash);
    }
    // The supervisor's tables change in the same transaction as the bytes they describe.
    projection(&tx, doc_id)?;
    // Counting conflicts walks every value; a linear edit of a document without any cannot
    // make one, so only other merges pay for the walk.
    let conflicts = match conflicts_before {
        Some(0) | None if linear_extension(&before_heads, &new) => 0,
        _ => {
            let mut d = KefuDoc::from_automerge(std::mem::take(after));
            let n = d.conflicts().len() as i64;
            *after = d.into_automerge();
            n
        }
    };
    if conflicts_before != Some(conflicts) {
        tx.prepare_cached("UPDATE documents SET conflicts = ?2 WHERE doc_id = ?1")?
            .execute(params![doc_id, conflicts])?;
    }
    crate::attachments::index_refs(&tx, doc_id, &after_json)?;
    tx.commit()?;
    Ok((Outcome::Accepted { new: hashes }, Some(Accepted { meta, json: json_text(&after_json) })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_model::automerge::{ActorId, ReadDoc};
    use kefu_model::enums::{SourceChannel, VisitReason};
    use kefu_model::lifecycle::VisitStep;
    use kefu_model::records::customer::Profile;
    use kefu_model::verbs::{Actor, NewVisit, VisitCompletion};
    use kefu_model::{Author, DocError};

    const NOW: i64 = 1_795_395_600_000;

    fn who(user: &str, role: Role) -> Principal {
        Principal { user_id: user.into(), device_id: format!("{user}-phone"), role, team: Some("A".into()) }
    }

    fn db() -> (tempfile::TempDir, crate::db::Db) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, db)
    }

    fn new_customer(agent: Option<&str>, field: Option<&str>) -> KefuDoc {
        let profile = Profile {
            name: "王女士".into(),
            phones: vec!["13800000000".into()],
            email: None,
            wechat: None,
            address: None,
            district: None,
            source: SourceChannel::Phone,
        };
        let mut c = CustomerFile::new("A", profile, "li", NOW);
        c.assignment.agent = agent.map(Into::into);
        c.assignment.field_staff = field.map(Into::into);
        c.assignment.assigned_at = Some(NOW);
        KefuDoc::create(&c, ActorId::random(), &Author { user: "li".into(), device: "li-phone".into() }, NOW)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn all_changes(doc: &mut KefuDoc) -> Vec<Change> {
        doc.automerge().get_changes(&[])
    }

    fn since(doc: &mut KefuDoc, heads: &[ChangeHash]) -> Vec<Change> {
        doc.automerge().get_changes(heads)
    }

    #[test]
    fn a_valid_new_document_is_stored_with_provenance() {
        let (_d, db) = db();
        let conn = db.lock();
        let mut doc = new_customer(Some("li"), Some("zhang"));
        let out = accept(&conn, &who("li", Role::Agent), "doc1", all_changes(&mut doc), NOW)
            .unwrap_or_else(|e| panic!("{e}"));
        let Outcome::Accepted { new } = out else { panic!("{out:?}") };
        assert_eq!(new.len(), 1);
        let (user, device, received): (String, String, i64) = conn
            .query_row(
                "SELECT user_id, device_id, received_at FROM provenance WHERE change_hash = ?1",
                [&new[0]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((user.as_str(), device.as_str(), received), ("li", "li-phone", NOW));
        // Sending the same again is nothing new.
        let again = accept(&conn, &who("li", Role::Agent), "doc1", all_changes(&mut doc), NOW)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, Outcome::NothingNew);
        // The stored document loads and reads as the record.
        let stored =
            load(&conn, "doc1").unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("stored"));
        assert_eq!(stored.meta.field_staff.as_deref(), Some("zhang"));
    }

    #[test]
    fn invalid_and_backward_changes_are_quarantined_and_not_applied() {
        let (_d, db) = db();
        let conn = db.lock();
        let zhang = who("zhang", Role::Field);
        let mut doc = new_customer(Some("li"), Some("zhang"));
        let by = Actor { user: "zhang".into(), at: NOW };
        let author = Author { user: "zhang".into(), device: "zhang-phone".into() };
        let nv = NewVisit {
            work_order: "WO-1".into(),
            reason: VisitReason::Repair,
            staff: "zhang".into(),
            window_start: NOW,
            window_end: NOW + 1,
        };
        doc.update(&author, NOW, |c: &mut CustomerFile| {
            c.dispatch_visit("v1".into(), &by, &nv);
            c.advance_visit("v1", &by, VisitStep::OnSite, None)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            accept(&conn, &who("li", Role::Agent), "doc1", all_changes(&mut doc), NOW),
            Ok(Outcome::Accepted { .. })
        ));

        // A buggy client writes a rating of 9 directly into the document.
        let heads = doc.heads();
        let mut bad = doc.clone();
        let visits =
            bad.automerge().get(kefu_model::automerge::ROOT, "visits").ok().flatten().map(|(_, id)| id);
        let v1 = visits.and_then(|v| bad.automerge().get(&v, "v1").ok().flatten()).map(|(_, id)| id);
        let Some(v1) = v1 else { panic!("visit v1 missing") };
        use kefu_model::automerge::transaction::Transactable;
        bad.automerge().put(&v1, "rating", 9i64).unwrap_or_else(|e| panic!("{e}"));
        bad.automerge().commit();
        let out =
            accept(&conn, &zhang, "doc1", since(&mut bad, &heads), NOW + 1).unwrap_or_else(|e| panic!("{e}"));
        let Outcome::Rejected { reason, .. } = out else { panic!("{out:?}") };
        assert!(reason.contains("rating") && reason.contains("1–5"), "{reason}");

        // A stale client deletes the on-site step (moving the visit backwards).
        let steps = bad.automerge().get(&v1, "steps").ok().flatten().map(|(_, id)| id);
        let mut back = doc.clone();
        let Some(steps) = steps else { panic!("steps") };
        back.automerge().delete(&steps, "on_site").unwrap_or_else(|e| panic!("{e}"));
        back.automerge().commit();
        let out = accept(&conn, &zhang, "doc1", since(&mut back, &heads), NOW + 2)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&out, Outcome::Rejected { reason, .. } if reason.contains("steps.on_site")),
            "{out:?}"
        );

        // Nothing of either was applied; both wait in quarantine with who sent them.
        let stored =
            load(&conn, "doc1").unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("stored"));
        let file: CustomerFile = KefuDoc::from_automerge(stored.doc).read().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.visits["v1"].rating, None);
        assert_eq!(file.visits["v1"].status(), Some(VisitStep::OnSite));
        let open: i64 = conn
            .query_row(
                "SELECT count(*) FROM quarantine WHERE status = 'open' AND user_id = 'zhang'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0);
        assert_eq!(open, 2);

        // A valid completion from the field phone is accepted.
        let done = VisitCompletion {
            work_done: "更换阀芯".into(),
            parts: vec![],
            rating: Some(5),
            follow_up_on: None,
        };
        doc.update(&author, NOW + 3, |c: &mut CustomerFile| c.complete_visit("v1", &by, &done))
            .unwrap_or_else(|e: DocError| panic!("{e}"));
        let out =
            accept(&conn, &zhang, "doc1", since(&mut doc, &heads), NOW + 3).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    }

    #[test]
    fn access_decides_before_content() {
        let (_d, db) = db();
        let conn = db.lock();
        let mut doc = new_customer(Some("li"), None);
        // A field worker may not create customer files; an agent may create one naming them.
        let out = accept(&conn, &who("zhang", Role::Field), "doc1", all_changes(&mut doc), NOW)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&out, Outcome::Rejected { reason, .. } if reason.contains("may not create")),
            "{out:?}"
        );
        assert!(matches!(
            accept(&conn, &who("li", Role::Agent), "doc1", all_changes(&mut doc), NOW),
            Ok(Outcome::Accepted { .. })
        ));
        // Someone without access learns nothing; a supervisor of another team neither.
        let heads = doc.heads();
        doc.update(&Author { user: "x".into(), device: "x".into() }, NOW, |c: &mut CustomerFile| {
            c.profile.district = Some("徐汇".into());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let other_agent = who("wang", Role::Agent);
        assert!(matches!(
            accept(&conn, &other_agent, "doc1", since(&mut doc, &heads), NOW),
            Ok(Outcome::Unavailable)
        ));
        let other_team = Principal { team: Some("B".into()), ..who("sup2", Role::Supervisor) };
        assert!(matches!(
            accept(&conn, &other_team, "doc1", since(&mut doc, &heads), NOW),
            Ok(Outcome::Unavailable)
        ));
        // The agent may not reassign the file to someone else; the supervisor may.
        let mut moved = doc.clone();
        moved
            .update(&Author { user: "li".into(), device: "li".into() }, NOW, |c: &mut CustomerFile| {
                c.assignment.agent = Some("wang".into());
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let out = accept(&conn, &who("li", Role::Agent), "doc1", since(&mut moved, &heads), NOW)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&out, Outcome::Rejected { reason, .. } if reason.contains("supervisor")), "{out:?}");
        let out = accept(&conn, &who("sup", Role::Supervisor), "doc1", since(&mut moved, &heads), NOW)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    }

    #[test]
    fn read_only_users_changes_are_not_applied() {
        let (_d, db) = db();
        let conn = db.lock();
        let (_, mut roster) =
            KefuDoc::genesis("roster/A/2026-11", &Roster::new("A", "2026-11"), ActorId::random())
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            accept(&conn, &who("sup", Role::Supervisor), "r1", all_changes(&mut roster), NOW),
            Ok(Outcome::Accepted { .. })
        ));
        let heads = roster.heads();
        roster
            .update(&Author { user: "zhang".into(), device: "p".into() }, NOW, |r: &mut Roster| {
                r.shifts.insert(Roster::key("2026-11-23", "zhang"), kefu_model::enums::Shift::Rest);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            accept(&conn, &who("zhang", Role::Field), "r1", since(&mut roster, &heads), NOW),
            Ok(Outcome::ReadOnly)
        ));
    }

    fn set_district(doc: &mut KefuDoc, district: &str) {
        let author = Author { user: "li".into(), device: "li-phone".into() };
        doc.update(&author, NOW, |c: &mut CustomerFile| {
            c.profile.district = Some(district.into());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }

    fn stored_conflicts(conn: &Connection) -> i64 {
        conn.query_row("SELECT conflicts FROM documents WHERE doc_id = 'doc1'", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn phones_taking_turns_skip_the_conflict_walk_and_a_concurrent_edit_is_still_counted() {
        let (_d, db) = db();
        let conn = db.lock();
        let li = who("li", Role::Agent);
        let mut a = new_customer(Some("li"), Some("zhang"));
        let out = accept(&conn, &li, "doc1", all_changes(&mut a), NOW).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
        let mut b = KefuDoc::load(&a.save(), ActorId::random()).unwrap_or_else(|e| panic!("{e}"));

        // Phone b edits; then phone a takes that edit in and edits after it.
        let h = b.heads();
        set_district(&mut b, "一区");
        let out = accept(&conn, &li, "doc1", since(&mut b, &h), NOW).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
        a.merge(&mut b).unwrap_or_else(|e| panic!("{e}"));
        let server_heads = a.heads();
        set_district(&mut a, "二区");
        let turn = since(&mut a, &server_heads);
        // Automerge lists a's own previous change besides the head it built on.
        assert_eq!(turn.len(), 1);
        assert_eq!(turn[0].deps().len(), 2, "{:?}", turn[0].deps());
        assert!(linear_extension(&server_heads, &turn));
        let out = accept(&conn, &li, "doc1", turn, NOW).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
        assert_eq!(stored_conflicts(&conn), 0);

        // Two edits in one go are linear in order, not out of it.
        let h = a.heads();
        set_district(&mut a, "三区");
        set_district(&mut a, "四区");
        let mut two = since(&mut a, &h);
        assert!(linear_extension(&h, &two));
        two.reverse();
        assert!(!linear_extension(&h, &two));
        let out = accept(&conn, &li, "doc1", since(&mut a, &h), NOW).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");

        // Both phones edit the district from the same version: the second is concurrent.
        b.merge(&mut a).unwrap_or_else(|e| panic!("{e}"));
        let h = b.heads();
        set_district(&mut b, "五区");
        set_district(&mut a, "六区");
        let out = accept(&conn, &li, "doc1", since(&mut b, &h), NOW).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
        assert_eq!(stored_conflicts(&conn), 0);
        let server_heads = b.heads();
        let concurrent = since(&mut a, &h);
        assert!(!linear_extension(&server_heads, &concurrent));
        let out = accept(&conn, &li, "doc1", concurrent, NOW).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
        assert_eq!(stored_conflicts(&conn), 1);
    }

    #[test]
    fn cached_statements_are_not_re_prepared() {
        let (_d, db) = db();
        let conn = db.lock();
        let li = who("li", Role::Agent);
        let mut a = new_customer(Some("li"), Some("zhang"));
        accept(&conn, &li, "doc1", all_changes(&mut a), NOW).unwrap_or_else(|e| panic!("{e}"));
        let mut b = new_customer(Some("li"), None);
        accept(&conn, &li, "doc2", all_changes(&mut b), NOW).unwrap_or_else(|e| panic!("{e}"));
        // Edits to two documents in turn, so the statement is bound to a new id each time.
        for (i, district) in ["一区", "二区", "三区"].iter().enumerate() {
            for (id, doc) in [("doc1", &mut a), ("doc2", &mut b)] {
                let h = doc.heads();
                set_district(doc, district);
                let out = accept(&conn, &li, id, since(doc, &h), NOW).unwrap_or_else(|e| panic!("{e}"));
                assert!(matches!(out, Outcome::Accepted { .. }), "{i} {id}: {out:?}");
            }
        }
        let chunks: i64 =
            conn.query_row("SELECT count(*) FROM chunks", [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chunks, 6, "every edit appended a chunk");
        let stmt = conn.prepare_cached(APPEND_CHUNK).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::Run), 6);
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
        for id in ["doc1", "doc2", "doc1"] {
            load(&conn, id).unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("{id} stored"));
        }
        let stmt = conn.prepare_cached(LOAD_CHUNKS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }
}
