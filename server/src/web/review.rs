//! The review queue (审核): fields that two people changed concurrently, and changes the server
//! refused, each settled by the supervisor.
//!
//! A conflict is settled by choosing one of the concurrent values
//! ([`KefuDoc::resolve_conflict`]); a refused change is either dismissed or replaced by values
//! the supervisor corrects. Either way the supervisor's decision is an ordinary change: it is
//! validated as the record type, stored through the acceptance pipeline (provenance,
//! projection, conflict count) and pushed to the phones, exactly like an edit made on a phone.
//! The phone that sent a refused change has set its own copy aside and receives the
//! supervisor's version by sync.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use kefu_model::automerge::{AutoCommit, ChangeHash};
use kefu_model::enums::{DocKind, Role};
use kefu_model::lifecycle::{CallbackStep, ComplaintStep, VisitStep};
use kefu_model::records::appearance::{AppearanceCheck, AppearanceTemplate};
use kefu_model::records::attendance::AttendanceMonth;
use kefu_model::records::campaign::Campaign;
use kefu_model::records::customer::CustomerFile;
use kefu_model::records::roster::Roster;
use kefu_model::records::{validate_transition, Record};
use kefu_model::{DocError, KefuDoc};
use maud::{html, Markup};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::customers::{name_of, people};
use super::form::FormData;
use super::layout::{self, form_fields};
use super::table::{export_links, Cell, Table};
use super::{after_action, blocking, fmt_time, label, Ctx, Lang, PageError, Posted};
use crate::accept;
use crate::api::blocking as run;
use crate::auth::{now_ms, Principal};
use crate::edit;
use crate::error::ServerError;
use crate::http::AppState;

/// Review pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/review", get(review_page))
        .route("/review/resolve", post(resolve_form))
        .route("/review/dismiss", post(dismiss_form))
        .route("/review/correct", post(correct_form))
}

/// Calls `$f::<R>(args…)` with `R` the record type of document kind `$kind`.
macro_rules! by_kind {
    ($kind:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match $kind {
            DocKind::Customer => $f::<CustomerFile>($($arg),*),
            DocKind::Attendance => $f::<AttendanceMonth>($($arg),*),
            DocKind::AppearanceCheck => $f::<AppearanceCheck>($($arg),*),
            DocKind::AppearanceTemplate => $f::<AppearanceTemplate>($($arg),*),
            DocKind::Roster => $f::<Roster>($($arg),*),
            DocKind::Campaign => $f::<Campaign>($($arg),*),
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Rows

/// One of the concurrent values of a field in conflict.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictValueRow {
    /// Opaque id of this value: pass it to the resolve action to keep this value.
    pub value_id: String,
    /// The value (JSON).
    pub value: Json,
    /// Whether this is the value the record shows now (automerge's deterministic winner).
    pub current: bool,
    /// User id claimed by the device in the change (the server-verified one is `user`).
    pub claimed_user: Option<String>,
    /// User id who sent the change, verified by the server (absent when the server has no
    /// provenance for it).
    pub user: Option<String>,
    /// That user's display name.
    pub user_name: Option<String>,
    /// Device that sent it (its name), verified by the server.
    pub device: Option<String>,
    /// When the server received it, Unix ms.
    pub received_at: Option<i64>,
    /// The device's clock when the change was made, Unix ms (a claim).
    pub device_time: i64,
    /// Device time is ahead of receipt, or more than a day behind it.
    pub clock_skew: bool,
    /// The change that wrote the value (hex hash).
    pub change: String,
}

/// A field of a record that two people changed concurrently; every value is kept until the
/// supervisor picks one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictRow {
    /// Document id.
    pub doc_id: String,
    /// Record kind (`customer`, `attendance`, …).
    pub kind: String,
    /// What the record is: the customer's name, the month, the date, the campaign's name.
    pub record: String,
    /// The record's page on the dashboard.
    pub link: String,
    /// Path of the field from the document root, e.g. `["visits", "7Hq…", "work_done"]`; pass
    /// it unchanged to the resolve action.
    pub path: Vec<String>,
    /// The same path with nested record ids replaced by something a person recognizes (the
    /// work-order number of a visit, the date of a callback) where known.
    pub place: Vec<String>,
    /// Every concurrent value, the one shown now first.
    pub values: Vec<ConflictValueRow>,
}

/// One field a refused change set (or removed).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SentField {
    /// Path from the document root; pass it to the correct action.
    pub path: Vec<String>,
    /// The same path with nested record ids replaced by names where known.
    pub place: Vec<String>,
    /// The value before the change (absent: there was none).
    pub before: Option<Json>,
    /// The value the change sent (absent: the change removed the field).
    pub sent: Option<Json>,
}

/// A refused batch of changes waiting for the supervisor (quarantine entry, status `open`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RejectedRow {
    /// Quarantine entry id.
    pub id: i64,
    /// Document id.
    pub doc_id: String,
    /// Record kind, when known.
    pub kind: Option<String>,
    /// What the record is (customer name, month, date …).
    pub record: String,
    /// The record's page (absent for a refused new record the server never stored).
    pub link: Option<String>,
    /// Whether the server holds the record (false: the refused change created a new record;
    /// such an entry can only be dismissed).
    pub stored: bool,
    /// User id who sent it, verified by the server.
    pub user: String,
    /// That user's display name.
    pub user_name: String,
    /// Device that sent it (its name).
    pub device: String,
    /// When the server received it, Unix ms.
    pub received_at: i64,
    /// Why it was refused (record, field and rule).
    pub reason: String,
    /// Hashes of the refused changes.
    pub changes: Vec<String>,
    /// Whether the fields below could be worked out (false when the changes do not apply to
    /// the stored record, e.g. their dependencies are missing).
    pub readable: bool,
    /// Fields the refused changes set, with the value before and the value sent.
    pub fields: Vec<SentField>,
}

// ---------------------------------------------------------------------------------------------
// Inputs

/// Keep one of the concurrent values of a field.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ResolveInput {
    /// Document id.
    pub doc_id: String,
    /// Path of the field, as listed.
    pub path: Vec<String>,
    /// The value to keep (`value_id` of one of the listed values).
    pub value_id: String,
}

/// Settle a refused change without applying it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DismissInput {
    /// Quarantine entry id.
    pub id: i64,
    /// The supervisor's note (why).
    pub note: Option<String>,
}

/// One corrected value.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CorrectedValue {
    /// Path of a field the refused change set (as listed in `fields`).
    pub path: Vec<String>,
    /// The value to store (JSON; `null` clears an optional field).
    pub value: Json,
}

/// Settle a refused change by storing corrected values for the fields it set.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CorrectInput {
    /// Quarantine entry id.
    pub id: i64,
    /// The values to store; each path must be one the refused change set.
    pub values: Vec<CorrectedValue>,
    /// The supervisor's note.
    pub note: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A day: a device time further behind its receipt than this is flagged.
const SKEW_BEHIND_MS: i64 = 86_400_000;
/// Device time ahead of receipt by more than this: the clock is wrong.
const SKEW_AHEAD_MS: i64 = 5 * 60_000;

/// The team of a supervisor; anyone else is refused (admins hold no records).
fn supervisor_team(p: &Principal) -> Result<String, ServerError> {
    match (&p.role, &p.team) {
        (Role::Supervisor, Some(t)) => Ok(t.clone()),
        _ => Err(ServerError::Forbidden(
            "只有客服主管可以处理审核队列 / Only a supervisor can settle the review queue".into(),
        )),
    }
}

/// Record errors as the supervisor is told them (an unreadable result is bad input here: it
/// comes from the values chosen or typed).
fn doc_err(e: DocError) -> ServerError {
    match e {
        DocError::Unreadable(m) => ServerError::BadRequest(m),
        other => edit::doc_error(other),
    }
}

/// The server-verified sender of a change: (user id, display name, device name, received at).
type Prov = (String, String, String, i64);

fn provenance(conn: &Connection, doc_id: &str, hash: &str) -> Result<Option<Prov>, ServerError> {
    if hash.is_empty() {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT p.user_id, coalesce(u.display_name, p.user_id), coalesce(d.name, p.device_id), p.received_at \
         FROM provenance p LEFT JOIN users u ON u.id = p.user_id LEFT JOIN devices d ON d.id = p.device_id \
         WHERE p.change_hash = ?1 AND p.doc_id = ?2",
    )?;
    Ok(stmt.query_row([hash, doc_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional()?)
}

fn text_at<'a>(json: &'a Json, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(json, |j, k| j.get(k))?.as_str()
}

/// What a record is, in words: the customer's name, the staff member and month, the date.
fn record_title(kind: Option<DocKind>, json: &Json, people: &BTreeMap<String, (String, String)>) -> String {
    let t = |path: &[&str]| text_at(json, path).unwrap_or("").to_string();
    match kind {
        Some(DocKind::Customer) => t(&["profile", "name"]),
        Some(DocKind::Attendance) => {
            format!("{} · {}", name_of(people, text_at(json, &["staff"]).unwrap_or("")), t(&["month"]))
        }
        Some(DocKind::AppearanceCheck) => t(&["date"]),
        Some(DocKind::AppearanceTemplate) => t(&["team"]),
        Some(DocKind::Roster) => t(&["month"]),
        Some(DocKind::Campaign) => t(&["name"]),
        None => String::new(),
    }
}

fn record_link(kind: DocKind, doc_id: &str) -> String {
    match kind {
        DocKind::Customer => format!("/customers/{doc_id}"),
        _ => format!("/records/{doc_id}/history"),
    }
}

/// Nested records named by one of their fields (map name → field).
const NAMED_BY: &[(&str, &str)] = &[
    ("visits", "work_order"),
    ("orders", "number"),
    ("callbacks", "scheduled_for"),
    ("leave", "start_date"),
    ("clock_events", "date"),
    ("overtime", "date"),
    ("handovers", "date"),
    ("swaps", "date"),
];
/// Nested records named by a time field (map name → field, Unix ms).
const NAMED_BY_TIME: &[(&str, &str)] =
    &[("complaints", "received_at"), ("contacts", "at"), ("attempts", "at")];
/// Maps keyed by a user id.
const KEYED_BY_USER: &[&str] = &["checks"];

/// `path` with nested record ids replaced by what names them in `json` (the record's content).
fn place_of(json: &Json, path: &[String], people: &BTreeMap<String, (String, String)>) -> Vec<String> {
    let mut out = Vec::with_capacity(path.len());
    let mut cur = Some(json);
    for (i, seg) in path.iter().enumerate() {
        let parent = if i > 0 { path[i - 1].as_str() } else { "" };
        let node = cur.and_then(|c| c.get(seg.as_str()));
        let named = if let Some((_, f)) = NAMED_BY.iter().find(|(m, _)| *m == parent) {
            node.and_then(|n| n.get(*f)).and_then(|v| match v {
                Json::String(s) => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            })
        } else if let Some((_, f)) = NAMED_BY_TIME.iter().find(|(m, _)| *m == parent) {
            node.and_then(|n| n.get(*f)).and_then(Json::as_i64).map(fmt_time)
        } else if KEYED_BY_USER.contains(&parent) {
            people.get(seg).map(|(n, _)| n.clone())
        } else if parent == "shifts" {
            // Roster entries are keyed "date/staff".
            seg.split_once('/').map(|(date, staff)| format!("{date} {}", name_of(people, staff)))
        } else {
            None
        };
        out.push(named.filter(|n| !n.is_empty()).unwrap_or_else(|| seg.clone()));
        cur = node;
    }
    out
}

/// Leaf-level differences between two JSON values: (path, before, after). Objects are compared
/// key by key (also when one side is missing); lists and scalars are compared whole.
fn json_diff(path: &mut Vec<String>, old: Option<&Json>, new: Option<&Json>, out: &mut Vec<SentField>) {
    if old == new {
        return;
    }
    let om = old.and_then(Json::as_object);
    let nm = new.and_then(Json::as_object);
    let walk = (om.is_some() || old.is_none())
        && (nm.is_some() || new.is_none())
        && (om.is_some_and(|m| !m.is_empty()) || nm.is_some_and(|m| !m.is_empty()));
    if walk {
        let keys: BTreeSet<&String> =
            om.into_iter().flat_map(|m| m.keys()).chain(nm.into_iter().flat_map(|m| m.keys())).collect();
        for k in keys {
            path.push(k.clone());
            json_diff(path, om.and_then(|m| m.get(k)), nm.and_then(|m| m.get(k)), out);
            path.pop();
        }
    } else {
        out.push(SentField {
            path: path.clone(),
            place: Vec::new(),
            before: old.cloned(),
            sent: new.cloned(),
        });
    }
}

/// The record before and after a refused batch of changes: the changes (raw bytes, as
/// quarantined) are loaded into a copy of the stored document (an empty one for a refused new
/// record); "before" is the state the sender built on (the changes' dependencies outside the
/// batch), "after" that state plus the batch. `None` when the changes cannot be applied.
fn sent_states(base: Option<AutoCommit>, bytes: &[u8], hashes: &[String]) -> Option<(Json, Json)> {
    let mut all = base.unwrap_or_default();
    all.load_incremental(bytes).ok()?;
    let batch: Vec<ChangeHash> = hashes.iter().map(|h| h.parse().ok()).collect::<Option<_>>()?;
    let in_batch: BTreeSet<ChangeHash> = batch.iter().copied().collect();
    let mut deps: BTreeSet<ChangeHash> = BTreeSet::new();
    for h in &batch {
        let change = all.get_change_by_hash(h)?;
        deps.extend(change.deps().iter().copied());
    }
    let base_heads: Vec<ChangeHash> = deps.iter().filter(|d| !in_batch.contains(d)).copied().collect();
    let tips = batch.iter().filter(|h| !deps.contains(h)).copied();
    let before = if base_heads.is_empty() {
        Json::Object(serde_json::Map::new())
    } else {
        KefuDoc::from_automerge(all.fork_at(&base_heads).ok()?).json_fast()
    };
    let heads: Vec<ChangeHash> = base_heads.iter().copied().chain(tips).collect();
    let after = KefuDoc::from_automerge(all.fork_at(&heads).ok()?).json_fast();
    Some((before, after))
}

/// The fields a refused batch set, and the record's content after it (for names).
fn sent_fields(
    base: Option<AutoCommit>,
    bytes: &[u8],
    hashes: &[String],
    people: &BTreeMap<String, (String, String)>,
) -> Option<(Vec<SentField>, Json)> {
    let (before, after) = sent_states(base, bytes, hashes)?;
    let mut fields = Vec::new();
    json_diff(&mut Vec::new(), Some(&before), Some(&after), &mut fields);
    for f in &mut fields {
        f.place = place_of(&after, &f.path, people);
    }
    Some((fields, after))
}

fn split_hashes(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_string).collect()
}

/// Sets `value` at `path` in a record's JSON, creating maps on the way (a `null` on the way,
/// an absent optional record, becomes a map).
fn set_path(json: &mut Json, path: &[String], value: Json) -> Result<(), ServerError> {
    let Some((last, parents)) = path.split_last() else {
        return Err(ServerError::BadRequest("空的字段路径 / empty field path".into()));
    };
    let bad = || {
        ServerError::BadRequest(format!(
            "{}: 记录中没有这个位置 / no such place in the record",
            path.join(".")
        ))
    };
    let mut cur = json;
    for seg in parents {
        if cur.is_null() {
            *cur = Json::Object(serde_json::Map::new());
        }
        cur = match cur {
            Json::Object(m) => m.entry(seg.clone()).or_insert(Json::Null),
            Json::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
    }
    if cur.is_null() {
        *cur = Json::Object(serde_json::Map::new());
    }
    match cur {
        Json::Object(m) => {
            m.insert(last.clone(), value);
        }
        Json::Array(a) => {
            let slot = last.parse::<usize>().ok().and_then(|i| a.get_mut(i)).ok_or_else(bad)?;
            *slot = value;
        }
        _ => return Err(bad()),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Conflicts

/// Every field in conflict in the records of `team`, newest records first, with who wrote each
/// value (server-verified) and when.
pub fn list_conflicts(conn: &Connection, team: &str) -> Result<Vec<ConflictRow>, ServerError> {
    let ids: Vec<String> = {
        let mut s = conn.prepare_cached(
            "SELECT doc_id FROM documents WHERE team = ?1 AND conflicts > 0 ORDER BY updated_at DESC, doc_id",
        )?;
        let rows = s.query_map([team], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let people = people(conn, team)?;
    let mut out = Vec::new();
    for doc_id in ids {
        let Some(stored) = accept::load(conn, &doc_id)? else { continue };
        let kind = stored.meta.kind;
        let mut doc = KefuDoc::from_automerge(stored.doc);
        let json = doc.json_fast();
        let record = record_title(Some(kind), &json, &people);
        for c in doc.conflicts() {
            let mut values = Vec::with_capacity(c.values.len());
            for (i, v) in c.values.into_iter().enumerate() {
                let prov = provenance(conn, &doc_id, &v.change)?;
                let device_time = v.time * 1000;
                let clock_skew = prov.as_ref().is_some_and(|(_, _, _, rec)| {
                    v.time != 0 && (device_time > rec + SKEW_AHEAD_MS || device_time < rec - SKEW_BEHIND_MS)
                });
                let (user, user_name, device, received_at) = match prov {
                    Some((u, n, d, r)) => (Some(u), Some(n), Some(d), Some(r)),
                    None => (None, None, None, None),
                };
                values.push(ConflictValueRow {
                    value_id: v.value_id,
                    value: v.value,
                    current: i == 0,
                    claimed_user: v.author.map(|a| a.user),
                    user,
                    user_name,
                    device,
                    received_at,
                    device_time,
                    clock_skew,
                    change: v.change,
                });
            }
            out.push(ConflictRow {
                doc_id: doc_id.clone(),
                kind: kind.as_str().to_string(),
                record: record.clone(),
                link: record_link(kind, &doc_id),
                place: place_of(&json, &c.path, &people),
                path: c.path,
                values,
            });
        }
    }
    Ok(out)
}

fn resolve_as<R: Record>(doc: &mut KefuDoc, p: &Principal, input: &ResolveInput) -> Result<(), ServerError> {
    let before: R = doc.read().map_err(doc_err)?;
    doc.resolve_conflict::<R>(&input.path, &input.value_id, &edit::author(p), now_ms()).map_err(doc_err)?;
    let after: R = doc.read().map_err(doc_err)?;
    // Checked here so that a choice the record's rules refuse is a message, not a quarantine
    // entry of the supervisor's own change.
    validate_transition(&before, &after).map_err(|e| ServerError::BadRequest(e.to_string()))
}

/// [`resolve`] on a locked connection; returns the team to notify.
pub fn resolve_locked(conn: &Connection, p: &Principal, input: &ResolveInput) -> Result<String, ServerError> {
    supervisor_team(p)?;
    let mut stored = edit::load_writable(conn, p, &input.doc_id)?;
    let kind = stored.meta.kind;
    let mut doc = KefuDoc::from_automerge(stored.doc.clone().with_actor(edit::fresh_actor()?));
    let open = doc
        .conflicts()
        .iter()
        .any(|c| c.path == input.path && c.values.iter().any(|v| v.value_id == input.value_id));
    if !open {
        return Err(ServerError::NotFound(
            "这个冲突已经处理，或记录已有新的修改；请刷新页面 / This conflict was already settled or the record changed; reload the page"
                .into(),
        ));
    }
    by_kind!(kind, resolve_as(&mut doc, p, input))?;
    let mut after = doc.automerge().clone();
    edit::store(conn, p, &input.doc_id, Some(&mut stored), &mut after)
}

/// Settles a conflict by keeping the chosen value: an ordinary change by the supervisor,
/// validated, stored with provenance and sent to the phones. Backs `POST /review/resolve`.
pub fn resolve(st: &AppState, p: &Principal, input: &ResolveInput) -> Result<String, ServerError> {
    let conn = st.db.lock();
    let team = resolve_locked(&conn, p, input)?;
    drop(conn);
    edit::notify(st, &input.doc_id, &team);
    Ok("已采用所选的值，手机会同步到这个结果 / The chosen value is kept; the phones receive it by sync"
        .into())
}

// ---------------------------------------------------------------------------------------------
// Rejected changes

/// A quarantine entry: (doc id, changes, change hashes).
type Entry = (String, Vec<u8>, String);

const VISIBLE: &str = "FROM quarantine q \
     LEFT JOIN documents d ON d.doc_id = q.doc_id \
     LEFT JOIN users u ON u.id = q.user_id \
     LEFT JOIN devices dv ON dv.id = q.device_id \
     WHERE q.status = 'open' AND (d.team = ?1 OR (d.doc_id IS NULL AND u.team = ?1))";

/// An open entry the supervisor of `team` may settle: of a record of the team, or a refused
/// new record sent by someone of the team.
fn open_entry(conn: &Connection, team: &str, id: i64) -> Result<Entry, ServerError> {
    conn.query_row(
        &format!("SELECT q.doc_id, q.changes, q.change_hashes {VISIBLE} AND q.id = ?2"),
        params![team, id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()?
    .ok_or_else(|| {
        ServerError::NotFound(format!(
            "没有待处理的被拒绝修改 #{id}（可能已经处理）/ No open rejected change #{id} (it may have been settled already)"
        ))
    })
}

/// The refused changes of `team` waiting for a decision, newest first: who sent them, when,
/// why they were refused and which fields they set.
pub fn list_rejected(conn: &Connection, team: &str) -> Result<Vec<RejectedRow>, ServerError> {
    struct Raw {
        id: i64,
        doc_id: String,
        user: String,
        received_at: i64,
        reason: String,
        bytes: Vec<u8>,
        hashes: String,
        user_name: String,
        device: String,
    }
    let raw: Vec<Raw> = {
        let mut s = conn.prepare_cached(&format!(
            "SELECT q.id, q.doc_id, q.user_id, q.received_at, q.reason, q.changes, q.change_hashes, \
             coalesce(u.display_name, q.user_id), coalesce(dv.name, q.device_id) \
             {VISIBLE} ORDER BY q.received_at DESC, q.id DESC"
        ))?;
        let rows = s.query_map([team], |r| {
            Ok(Raw {
                id: r.get(0)?,
                doc_id: r.get(1)?,
                user: r.get(2)?,
                received_at: r.get(3)?,
                reason: r.get(4)?,
                bytes: r.get(5)?,
                hashes: r.get(6)?,
                user_name: r.get(7)?,
                device: r.get(8)?,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let people = people(conn, team)?;
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        let stored = accept::load(conn, &r.doc_id)?;
        let changes = split_hashes(&r.hashes);
        let mut kind = stored.as_ref().map(|s| s.meta.kind);
        let current = stored.as_ref().map(|s| KefuDoc::from_automerge(s.doc.clone()).json_fast());
        let is_stored = stored.is_some();
        let sent = sent_fields(stored.map(|s| s.doc), &r.bytes, &changes, &people);
        let (readable, fields, after) = match sent {
            Some((f, after)) => (true, f, Some(after)),
            None => (false, Vec::new(), None),
        };
        if kind.is_none() {
            kind = after
                .as_ref()
                .and_then(|a| a.get("kind"))
                .and_then(Json::as_str)
                .and_then(|k| k.parse().ok());
        }
        let shown = current.as_ref().or(after.as_ref()).cloned().unwrap_or(Json::Null);
        out.push(RejectedRow {
            id: r.id,
            record: record_title(kind, &shown, &people),
            link: if is_stored { kind.map(|k| record_link(k, &r.doc_id)) } else { None },
            kind: kind.map(|k| k.as_str().to_string()),
            doc_id: r.doc_id,
            stored: is_stored,
            user: r.user,
            user_name: r.user_name,
            device: r.device,
            received_at: r.received_at,
            reason: r.reason,
            changes,
            readable,
            fields,
        });
    }
    Ok(out)
}

/// Settles a refused change without applying it (status `dismissed`, with who, when and the
/// note). Backs `POST /review/dismiss`.
pub fn dismiss(st: &AppState, p: &Principal, input: &DismissInput) -> Result<String, ServerError> {
    let team = supervisor_team(p)?;
    let conn = st.db.lock();
    open_entry(&conn, &team, input.id)?;
    let note = input.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    conn.execute(
        "UPDATE quarantine SET status = 'dismissed', settled_by = ?2, settled_at = ?3, settled_note = ?4 \
         WHERE id = ?1 AND status = 'open'",
        params![input.id, p.user_id, now_ms(), note],
    )?;
    Ok(format!("已驳回被拒绝的修改 #{} / Rejected change #{} dismissed", input.id, input.id))
}

/// Applies the corrected values to the record as `R` and commits them as one change by `p`;
/// `false` when the record already holds those values.
fn correct_as<R: Record>(
    doc: &mut KefuDoc,
    p: &Principal,
    values: &[CorrectedValue],
) -> Result<bool, ServerError> {
    let current: R = doc.read().map_err(doc_err)?;
    let base = serde_json::to_value(&current).map_err(|e| ServerError::Internal(e.to_string()))?;
    let mut json = base.clone();
    for v in values {
        set_path(&mut json, &v.path, v.value.clone())?;
    }
    let corrected: R = match serde_json::from_value(json) {
        Ok(r) => r,
        Err(all) => {
            // Name the first value that does not fit on its own.
            for v in values {
                let mut one = base.clone();
                set_path(&mut one, &v.path, v.value.clone())?;
                if let Err(e) = serde_json::from_value::<R>(one) {
                    return Err(ServerError::BadRequest(format!("{}: {e}", v.path.join("."))));
                }
            }
            return Err(ServerError::BadRequest(all.to_string()));
        }
    };
    let (_, hash) = doc
        .update::<R, ()>(&edit::author(p), now_ms(), |r| {
            *r = corrected;
            Ok(())
        })
        .map_err(doc_err)?;
    Ok(hash.is_some())
}

/// [`accept_corrected`] on a locked connection; returns the document and, when the record
/// changed, the team to notify.
pub fn accept_corrected_locked(
    conn: &Connection,
    p: &Principal,
    input: &CorrectInput,
) -> Result<(String, Option<String>), ServerError> {
    let team = supervisor_team(p)?;
    let (doc_id, bytes, hashes) = open_entry(conn, &team, input.id)?;
    if input.values.is_empty() {
        return Err(ServerError::BadRequest("请至少选择一个字段 / Choose at least one field".into()));
    }
    let exists: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM documents WHERE doc_id = ?1)", [&doc_id], |r| r.get(0))?;
    if !exists {
        return Err(ServerError::BadRequest(
            "被拒绝的是一条新记录，服务器上还没有它：只能驳回，请发送人改正后重新建立 / The refused change created a new record the server does not hold: dismiss it and ask the sender to create it again"
                .into(),
        ));
    }
    let mut stored = edit::load_writable(conn, p, &doc_id)?;
    let people = people(conn, &team)?;
    let Some((fields, _)) = sent_fields(Some(stored.doc.clone()), &bytes, &split_hashes(&hashes), &people)
    else {
        return Err(ServerError::BadRequest(
            "无法读出这些被拒绝的修改，只能驳回 / These refused changes cannot be read; they can only be dismissed".into(),
        ));
    };
    for v in &input.values {
        if !fields.iter().any(|f| f.path == v.path) {
            return Err(ServerError::BadRequest(format!(
                "{}: 被拒绝的修改没有改这个字段 / the refused change did not set this field",
                v.path.join(".")
            )));
        }
    }
    let mut doc = KefuDoc::from_automerge(stored.doc.clone().with_actor(edit::fresh_actor()?));
    let changed = by_kind!(stored.meta.kind, correct_as(&mut doc, p, &input.values))?;
    let notify = if changed {
        let mut after = doc.automerge().clone();
        Some(edit::store(conn, p, &doc_id, Some(&mut stored), &mut after)?)
    } else {
        None
    };
    let note = input.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    conn.execute(
        "UPDATE quarantine SET status = 'accepted', settled_by = ?2, settled_at = ?3, settled_note = ?4 \
         WHERE id = ?1 AND status = 'open'",
        params![input.id, p.user_id, now_ms(), note],
    )?;
    Ok((doc_id, notify))
}

/// Settles a refused change by storing the supervisor's corrected values for fields it set: the
/// values are put into the record, which must still read and validate as its type; the change
/// is the supervisor's, stored with provenance and sent to the phones (the sender's phone gets
/// this version by sync). Bad values are a `BadRequest` naming the field. Backs
/// `POST /review/correct`.
pub fn accept_corrected(st: &AppState, p: &Principal, input: &CorrectInput) -> Result<String, ServerError> {
    let conn = st.db.lock();
    let (doc_id, team) = accept_corrected_locked(&conn, p, input)?;
    drop(conn);
    let id = input.id;
    match team {
        Some(team) => {
            edit::notify(st, &doc_id, &team);
            Ok(format!(
                "已保存改正后的值（#{id}），手机会同步到这个结果 / Corrected values saved (#{id}); the phones receive them by sync"
            ))
        }
        None => Ok(format!(
            "记录已经是这些值，#{id} 标为已接受 / The record already holds these values; #{id} marked accepted"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Display

/// Field names shown to people: (parent, key) pairs first, then keys anywhere.
const FIELD_IN: &[(&str, &str, &str, &str)] = &[
    ("profile", "name", "客户姓名", "customer name"),
    ("profile", "phones", "电话", "phones"),
    ("profile", "email", "邮箱", "e-mail"),
    ("profile", "wechat", "微信", "WeChat"),
    ("profile", "address", "地址", "address"),
    ("profile", "district", "区域", "district"),
    ("profile", "source", "来源渠道", "source channel"),
    ("classification", "category", "需求类别", "needs category"),
    ("classification", "intent", "意向程度", "intent level"),
    ("classification", "stage", "购买阶段", "purchase stage"),
    ("classification", "tags", "标签", "tags"),
    ("classification", "notes", "备注", "notes"),
    ("assignment", "agent", "负责客服专员", "responsible agent"),
    ("assignment", "field_staff", "负责售后人员", "responsible field staff"),
    ("assignment", "assigned_at", "分配时间", "assigned at"),
    ("assignment", "assigned_by", "分配人", "assigned by"),
];

const FIELD: &[(&str, &str, &str)] = &[
    ("profile", "基本信息", "profile"),
    ("classification", "分类", "classification"),
    ("assignment", "负责人", "assignment"),
    ("orders", "订单", "orders"),
    ("contacts", "咨询记录", "contact log"),
    ("callbacks", "回访", "callbacks"),
    ("visits", "上门服务", "visits"),
    ("complaints", "投诉", "complaints"),
    ("team", "班组", "team"),
    ("work_order", "工单号", "work order"),
    ("reason", "原因", "reason"),
    ("staff", "人员", "staff"),
    ("window_start", "预约开始", "window start"),
    ("window_end", "预约结束", "window end"),
    ("steps", "进度", "steps"),
    ("work_done", "完成内容", "work done"),
    ("parts", "配件", "parts"),
    ("photos", "照片", "photos"),
    ("signature", "客户签名", "customer signature"),
    ("rating", "客户评分", "customer rating"),
    ("follow_up_on", "跟进日期", "follow-up date"),
    ("scheduled_for", "回访日期", "scheduled for"),
    ("campaign", "回访计划", "campaign"),
    ("agent", "专员", "agent"),
    ("method", "方式", "method"),
    ("attempts", "尝试", "attempts"),
    ("outcome", "结果", "outcome"),
    ("satisfaction", "满意度", "satisfaction"),
    ("evaluation", "客户评价", "evaluation"),
    ("suggestions", "建议", "suggestions"),
    ("issue", "提出的问题", "issue raised"),
    ("visit", "关联上门", "related visit"),
    ("received_at", "受理时间", "received at"),
    ("channel", "渠道", "channel"),
    ("content", "内容", "content"),
    ("category", "类别", "category"),
    ("severity", "严重程度", "severity"),
    ("department", "责任部门", "department"),
    ("handler", "处理人", "handler"),
    ("resolution", "处理结果", "resolution"),
    ("apology_made", "已致歉", "apology made"),
    ("analysis", "分析与改进", "analysis and improvement"),
    ("at", "时间", "time"),
    ("by", "经办人", "by"),
    ("note", "备注", "note"),
    ("summary", "摘要", "summary"),
    ("number", "单号", "number"),
    ("item", "项目", "item"),
    ("amount_fen", "金额（分）", "amount (fen)"),
    ("ordered_on", "下单日期", "ordered on"),
    ("completed_on", "完成日期", "completed on"),
    ("status", "状态", "status"),
    ("part", "配件名称", "part"),
    ("quantity", "数量", "quantity"),
    ("clock_events", "打卡", "clock events"),
    ("absences", "缺勤", "absences"),
    ("overtime", "加班", "overtime"),
    ("handovers", "交接班", "handovers"),
    ("leave", "请假", "leave"),
    ("swaps", "换班", "shift swaps"),
    ("date", "日期", "date"),
    ("clock", "打卡类型", "clock"),
    ("shift", "班次", "shift"),
    ("device_time", "设备时间", "device time"),
    ("location", "位置", "location"),
    ("minutes", "分钟数", "minutes"),
    ("leave_kind", "假别", "leave kind"),
    ("start_date", "开始日期", "start date"),
    ("end_date", "结束日期", "end date"),
    ("requested_at", "申请时间", "requested at"),
    ("asked_in_person", "当面申请", "asked in person"),
    ("certificate", "证明", "certificate"),
    ("approvals", "审批", "approvals"),
    ("decision", "决定", "decision"),
    ("cancelled", "取消", "cancelled"),
    ("my_shift", "本人班次", "own shift"),
    ("with_staff", "换班对象", "swap with"),
    ("their_date", "对方日期", "their date"),
    ("their_shift", "对方班次", "their shift"),
    ("colleague_agreed", "同事同意", "colleague agreed"),
    ("manager", "主管审批", "manager"),
    ("checks", "检查结果", "checks"),
    ("items", "检查项", "items"),
    ("result", "结果", "result"),
    ("photo", "照片", "photo"),
    ("checked_at", "检查时间", "checked at"),
    ("checked_by", "检查人", "checked by"),
    ("template", "模板", "template"),
    ("versions", "版本", "versions"),
    ("shifts", "排班", "shifts"),
    ("month", "月份", "month"),
    ("name", "名称", "name"),
    ("criteria", "条件", "criteria"),
    ("starts_on", "开始日期", "starts on"),
    ("ends_on", "结束日期", "ends on"),
    ("started", "开始", "started"),
    ("ended", "结束", "ended"),
    ("targets", "回访对象", "targets"),
    ("description", "说明", "description"),
    ("created_at", "创建时间", "created at"),
    ("created_by", "创建人", "created by"),
];

/// Keys whose values are user ids (shown as names).
const USER_KEYS: &[&str] = &[
    "agent",
    "field_staff",
    "staff",
    "by",
    "handler",
    "assigned_by",
    "checked_by",
    "created_by",
    "with_staff",
    "attached_by",
];

/// A path for people: "上门服务 › WO-1 › 完成内容".
fn path_label(lang: Lang, path: &[String], place: &[String]) -> String {
    let mut parts = Vec::with_capacity(path.len());
    for (i, seg) in path.iter().enumerate() {
        let shown = place.get(i).unwrap_or(seg);
        let parent = if i > 0 { path[i - 1].as_str() } else { "" };
        let text = if shown != seg {
            shown.clone()
        } else if let Some((_, _, zh, en)) = FIELD_IN.iter().find(|(p, k, _, _)| *p == parent && k == seg) {
            lang.t(zh, en).to_string()
        } else if parent == "steps" {
            step_label(lang, seg).unwrap_or_else(|| seg.clone())
        } else if let Some((_, zh, en)) = FIELD.iter().find(|(k, _, _)| k == seg) {
            lang.t(zh, en).to_string()
        } else {
            seg.clone()
        };
        parts.push(text);
    }
    parts.join(" › ")
}

fn step_label(lang: Lang, seg: &str) -> Option<String> {
    if let Ok(s) = seg.parse::<VisitStep>() {
        return Some(label(lang, s.label_zh(), s.as_str()));
    }
    if let Ok(s) = seg.parse::<CallbackStep>() {
        return Some(label(lang, s.label_zh(), s.as_str()));
    }
    seg.parse::<ComplaintStep>().ok().map(|s| label(lang, s.label_zh(), s.as_str()))
}

/// The label of an enum value stored under `key`, when `key` holds one of the record enums.
fn enum_label(lang: Lang, key: &str, value: &str) -> Option<String> {
    use kefu_model::enums::{
        CallbackOutcome, CheckCategory, CheckResult, ClockKind, ComplaintCategory, ContactChannel, Decision,
        IntentLevel, LeaveKind, OrderStatus, PurchaseStage, Severity, Shift, SourceChannel, VisitReason,
    };
    macro_rules! try_enum {
        ($t:ty) => {
            value.parse::<$t>().ok().map(|v| label(lang, v.label_zh(), v.as_str()))
        };
    }
    match key {
        "source" => try_enum!(SourceChannel),
        "intent" => try_enum!(IntentLevel),
        "stage" => try_enum!(PurchaseStage),
        "status" => try_enum!(OrderStatus),
        "channel" | "method" => try_enum!(ContactChannel),
        "outcome" => try_enum!(CallbackOutcome),
        "reason" => try_enum!(VisitReason),
        "severity" => try_enum!(Severity),
        "category" => try_enum!(ComplaintCategory).or_else(|| try_enum!(CheckCategory)),
        "shift" | "my_shift" | "their_shift" => try_enum!(Shift),
        "clock" => try_enum!(ClockKind),
        "leave_kind" => try_enum!(LeaveKind),
        "decision" => try_enum!(Decision),
        "result" => try_enum!(CheckResult),
        "kind" => try_enum!(DocKind),
        _ => None,
    }
    .or_else(|| {
        // Roster shifts are keyed "date/staff" with the shift as the value.
        value
            .parse::<Shift>()
            .ok()
            .filter(|_| key.contains('/'))
            .map(|v| label(lang, v.label_zh(), v.as_str()))
    })
}

fn is_time_key(key: &str) -> bool {
    key == "at" || key.ends_with("_at") || matches!(key, "window_start" | "window_end" | "device_time")
}

/// A value for people: times as local time, user ids as names, long JSON shortened.
fn show_value(
    lang: Lang,
    key: &str,
    v: Option<&Json>,
    people: &BTreeMap<String, (String, String)>,
) -> String {
    let s = match v {
        None => return lang.t("（删除）", "(removed)").to_string(),
        Some(Json::Null) => return "—".to_string(),
        Some(Json::Bool(b)) => {
            return lang.t(if *b { "是" } else { "否" }, if *b { "yes" } else { "no" }).to_string()
        }
        Some(Json::Number(n)) if is_time_key(key) && n.as_i64().is_some_and(|t| t > 100_000_000_000) => {
            return n.as_i64().map(fmt_time).unwrap_or_default();
        }
        Some(Json::String(s)) if USER_KEYS.contains(&key) => return name_of(people, s),
        Some(Json::String(s)) if enum_label(lang, key, s).is_some() => {
            return enum_label(lang, key, s).unwrap_or_default();
        }
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

/// The type of a form input for a sent value (how the typed text becomes JSON).
fn input_type(sent: Option<&Json>, before: Option<&Json>) -> &'static str {
    match sent.filter(|v| !v.is_null()).or(before) {
        Some(Json::String(_)) => "string",
        Some(Json::Number(_)) => "number",
        Some(Json::Bool(_)) => "bool",
        _ => "json",
    }
}

/// The text a form input starts with.
fn input_text(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(Json::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

/// Typed text from a form input as JSON, by the input's type; empty text is `null`.
fn typed_value(ty: &str, text: &str, field: &str) -> Result<Json, ServerError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Json::Null);
    }
    match ty {
        "string" => Ok(Json::String(text.to_string())),
        "number" => {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Json::from(i));
            }
            text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Json::Number).ok_or_else(
                || ServerError::BadRequest(format!("{field}: {text:?} 不是数字 / is not a number")),
            )
        }
        "bool" => match text {
            "true" | "是" | "yes" => Ok(Json::Bool(true)),
            "false" | "否" | "no" => Ok(Json::Bool(false)),
            _ => Err(ServerError::BadRequest(format!("{field}: {text:?} 应为 是/否 / must be yes or no"))),
        },
        _ => Ok(serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.to_string()))),
    }
}

fn kind_label(lang: Lang, kind: Option<&str>) -> String {
    match kind.and_then(|k| k.parse::<DocKind>().ok()) {
        Some(k) => label(lang, k.label_zh(), k.as_str()),
        None => lang.t("记录", "record").to_string(),
    }
}

fn last_key(path: &[String]) -> &str {
    path.last().map_or("", String::as_str)
}

fn conflict_table(ctx: &Ctx, rows: &[ConflictRow], people: &BTreeMap<String, (String, String)>) -> Table {
    let lang = ctx.lang;
    let mut t = Table::new(
        "conflicts",
        ctx.t("字段冲突", "Conflicts"),
        &[
            ctx.t("记录类型", "Kind"),
            ctx.t("记录", "Record"),
            ctx.t("字段", "Field"),
            ctx.t("值", "Value"),
            ctx.t("当前显示", "Shown now"),
            ctx.t("用户（服务器核实）", "User (verified)"),
            ctx.t("设备", "Device"),
            ctx.t("服务器收到", "Received by server"),
            ctx.t("设备时间", "Device time"),
        ],
    );
    for r in rows {
        let field = path_label(lang, &r.path, &r.place);
        for v in &r.values {
            let skew = if v.clock_skew { ctx.t(" ⚠ 时钟偏差", " ⚠ clock skew") } else { "" };
            t.push_warn(
                vec![
                    kind_label(lang, Some(&r.kind)).into(),
                    Cell::Link(r.record.clone(), r.link.clone()),
                    field.clone().into(),
                    show_value(lang, last_key(&r.path), Some(&v.value), people).into(),
                    if v.current { ctx.t("是", "yes") } else { "" }.into(),
                    v.user_name.clone().or_else(|| v.claimed_user.clone()).into(),
                    v.device.clone().into(),
                    v.received_at.map(fmt_time).into(),
                    format!("{}{skew}", fmt_time(v.device_time)).into(),
                ],
                v.clock_skew,
            );
        }
    }
    t
}

fn rejected_table(ctx: &Ctx, rows: &[RejectedRow], people: &BTreeMap<String, (String, String)>) -> Table {
    let lang = ctx.lang;
    let mut t = Table::new(
        "rejected-changes",
        ctx.t("被拒绝的修改", "Rejected changes"),
        &[
            ctx.t("编号", "No."),
            ctx.t("记录类型", "Kind"),
            ctx.t("记录", "Record"),
            ctx.t("发送人（服务器核实）", "Sent by (verified)"),
            ctx.t("设备", "Device"),
            ctx.t("服务器收到", "Received by server"),
            ctx.t("拒绝原因", "Reason"),
            ctx.t("字段", "Field"),
            ctx.t("原值", "Before"),
            ctx.t("发送的值", "Sent"),
        ],
    );
    for r in rows {
        let record = match &r.link {
            Some(l) => Cell::Link(r.record.clone(), l.clone()),
            None => r.record.clone().into(),
        };
        let head = |i: usize| -> Vec<Cell> {
            if i == 0 {
                vec![
                    Cell::Int(r.id),
                    kind_label(lang, r.kind.as_deref()).into(),
                    record.clone(),
                    format!("{} ({})", r.user_name, r.user).into(),
                    r.device.clone().into(),
                    fmt_time(r.received_at).into(),
                    r.reason.clone().into(),
                ]
            } else {
                vec![
                    Cell::Int(r.id),
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                ]
            }
        };
        if r.fields.is_empty() {
            let mut row = head(0);
            row.extend([Cell::Empty, Cell::Empty, Cell::Empty]);
            t.push(row);
        }
        for (i, f) in r.fields.iter().enumerate() {
            let key = last_key(&f.path);
            let mut row = head(i);
            row.extend([
                path_label(lang, &f.path, &f.place).into(),
                f.before.as_ref().map(|b| show_value(lang, key, Some(b), people)).into(),
                show_value(lang, key, f.sent.as_ref(), people).into(),
            ]);
            t.push(row);
        }
    }
    t
}

// ---------------------------------------------------------------------------------------------
// Pages

#[derive(Debug, Deserialize)]
struct ReviewQuery {
    /// `conflicts` or `rejected` (which list to export).
    list: Option<String>,
    /// `csv` or `xlsx`.
    format: Option<String>,
}

async fn review_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ReviewQuery>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let (conflicts, rejected, people) = blocking(ctx.lang, move || {
        let conn = db.lock();
        Ok((list_conflicts(&conn, &team)?, list_rejected(&conn, &team)?, people(&conn, &team)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    if let Some(fmt) = q.format.as_deref() {
        let t = match q.list.as_deref() {
            None | Some("conflicts") => conflict_table(&ctx, &conflicts, &people),
            Some("rejected") => rejected_table(&ctx, &rejected, &people),
            Some(other) => {
                return Err(ctx.error(ServerError::BadRequest(format!(
                    "unknown list {other:?}: conflicts or rejected"
                ))))
            }
        };
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let body = html! {
        p.muted { (ctx.t(
            "这里处理两类事：两个人同时改了同一字段（冲突），以及服务器拒绝的修改。你的决定会作为一次普通修改保存并同步到手机。",
            "Two things wait here: fields two people changed at the same time (conflicts), and changes the server refused. Your decision is saved as an ordinary change and synced to the phones.")) }
        h2 { (ctx.t("字段冲突", "Conflicts")) " (" (conflicts.len()) ")" }
        (export_links("/review?list=conflicts", ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        @if conflicts.is_empty() {
            p.muted { (ctx.t("没有冲突", "No conflicts")) }
        }
        @for c in &conflicts { (conflict_card(&ctx, c, &people)) }
        h2 { (ctx.t("被拒绝的修改", "Rejected changes")) " (" (rejected.len()) ")" }
        (export_links("/review?list=rejected", ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        @if rejected.is_empty() {
            p.muted { (ctx.t("没有待处理的被拒绝修改", "No rejected changes waiting")) }
        } @else {
            p.muted { (ctx.t(
                "发送这些修改的手机已把它们放在一边；你接受改正后的值后，手机会通过同步收到你的版本。",
                "The phones that sent these have set them aside; when you accept corrected values, the phone receives your version by sync.")) }
        }
        @for r in &rejected { (rejected_card(&ctx, r, &people)) }
    };
    Ok(layout::page(&ctx, ctx.t("审核", "Review"), body))
}

const CARD: &str = "margin:.6rem 0";

fn conflict_card(ctx: &Ctx, c: &ConflictRow, people: &BTreeMap<String, (String, String)>) -> Markup {
    let lang = ctx.lang;
    let path_json = serde_json::to_string(&c.path).unwrap_or_default();
    let key = last_key(&c.path);
    html! {
        div.card.conflict style=(CARD) {
            p {
                span.tag { (kind_label(lang, Some(&c.kind))) }
                a href=(c.link) { (if c.record.is_empty() { c.doc_id.as_str() } else { c.record.as_str() }) }
                " · " b.path { (path_label(lang, &c.path, &c.place)) }
                " · " a.muted href={ "/records/" (c.doc_id) "/history" } { (ctx.t("修改历史", "history")) }
            }
            table {
                tr {
                    th { (ctx.t("值", "Value")) }
                    th { (ctx.t("写入人（服务器核实）", "Written by (verified)")) }
                    th { (ctx.t("设备", "Device")) }
                    th { (ctx.t("服务器收到", "Received by server")) }
                    th { (ctx.t("设备时间", "Device time")) }
                    th { (ctx.t("处理", "Decide")) }
                }
                @for v in &c.values {
                    tr.warn[v.clock_skew] {
                        td { (show_value(lang, key, Some(&v.value), people))
                            @if v.current { " " span.tag { (ctx.t("当前显示", "shown now")) } } }
                        td { (v.user_name.clone().or_else(|| v.claimed_user.clone()).unwrap_or_else(|| "—".into())) }
                        td { (v.device.clone().unwrap_or_else(|| "—".into())) }
                        td { (v.received_at.map(fmt_time).unwrap_or_else(|| "—".into())) }
                        td { (fmt_time(v.device_time)) @if v.clock_skew { (ctx.t(" ⚠ 时钟偏差", " ⚠ clock skew")) } }
                        td {
                            form.inline method="post" action="/review/resolve" {
                                (form_fields(ctx))
                                input type="hidden" name="doc_id" value=(c.doc_id);
                                input type="hidden" name="path" value=(path_json);
                                input type="hidden" name="value_id" value=(v.value_id);
                                button.primary type="submit" { (ctx.t("采用此值", "Keep this value")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn rejected_card(ctx: &Ctx, r: &RejectedRow, people: &BTreeMap<String, (String, String)>) -> Markup {
    let lang = ctx.lang;
    let record = if r.record.is_empty() { r.doc_id.clone() } else { r.record.clone() };
    html! {
        div.card.rejected id={ "q" (r.id) } style=(CARD) {
            p {
                b { "#" (r.id) } " "
                span.tag { (kind_label(lang, r.kind.as_deref())) }
                @match &r.link { Some(l) => a href=(l) { (record) }, None => span { (record) " " span.tag.bad { (ctx.t("新记录", "new record")) } } }
                " · " (ctx.t("发送人：", "sent by ")) (r.user_name) " · " (r.device) " · " (fmt_time(r.received_at))
            }
            p.reason { span.tag.bad { (ctx.t("拒绝原因", "Reason")) } " " (r.reason) }
            @if !r.readable {
                p.muted { (ctx.t("这些修改无法在服务器上的记录上展开（缺少它们依赖的修改），只能驳回。",
                    "These changes cannot be laid out on the server's record (changes they depend on are missing); they can only be dismissed.")) }
            } @else if r.fields.is_empty() {
                p.muted { (ctx.t("这些修改没有改变任何字段。", "These changes change no field.")) }
            } @else if !r.stored {
                table {
                    tr { th { (ctx.t("字段", "Field")) } th { (ctx.t("发送的值", "Sent")) } }
                    @for f in &r.fields {
                        tr { td { (path_label(lang, &f.path, &f.place)) } td { (show_value(lang, last_key(&f.path), f.sent.as_ref(), people)) } }
                    }
                }
                p.muted { (ctx.t("这是一条被拒绝的新记录，服务器上没有它：只能驳回，请发送人改正后重新建立。",
                    "This refused change created a new record the server does not hold: dismiss it and ask the sender to create it again.")) }
            } @else {
                form method="post" action="/review/correct" {
                    (form_fields(ctx))
                    input type="hidden" name="id" value=(r.id);
                    table {
                        tr {
                            th { (ctx.t("采用", "Use")) }
                            th { (ctx.t("字段", "Field")) }
                            th { (ctx.t("原值", "Before")) }
                            th { (ctx.t("发送的值", "Sent")) }
                            th { (ctx.t("改正后的值", "Corrected value")) }
                        }
                        @for (i, f) in r.fields.iter().enumerate() {
                            @let key = last_key(&f.path);
                            @let ty = input_type(f.sent.as_ref(), f.before.as_ref());
                            tr {
                                td { input type="checkbox" name={ "use." (i) } value="1" checked; }
                                td { (path_label(lang, &f.path, &f.place)) }
                                td { (f.before.as_ref().map(|b| show_value(lang, key, Some(b), people)).unwrap_or_default()) }
                                td { (show_value(lang, key, f.sent.as_ref(), people)) }
                                td {
                                    input type="hidden" name={ "path." (i) } value=(serde_json::to_string(&f.path).unwrap_or_default());
                                    input type="hidden" name={ "type." (i) } value=(ty);
                                    input type="hidden" name={ "label." (i) } value=(path_label(lang, &f.path, &f.place));
                                    @match ty {
                                        "bool" => {
                                            @let cur = input_text(f.sent.as_ref());
                                            select name={ "value." (i) } {
                                                option value="" selected[cur.is_empty()] { "—" }
                                                option value="true" selected[cur == "true"] { (ctx.t("是", "yes")) }
                                                option value="false" selected[cur == "false"] { (ctx.t("否", "no")) }
                                            }
                                        }
                                        "json" => {
                                            textarea name={ "value." (i) } rows="2" cols="40" { (input_text(f.sent.as_ref())) }
                                        }
                                        _ => {
                                            input type="text" name={ "value." (i) } value=(input_text(f.sent.as_ref())) size="30";
                                        }
                                    }
                                }
                            }
                        }
                    }
                    label { (ctx.t("备注 ", "Note ")) input type="text" name="note" size="40"; }
                    " "
                    button.primary type="submit" { (ctx.t("接受改正后的值", "Accept the corrected values")) }
                }
            }
            form.inline method="post" action="/review/dismiss" {
                (form_fields(ctx))
                input type="hidden" name="id" value=(r.id);
                label { (ctx.t("备注 ", "Note ")) input type="text" name="note" size="30"; }
                " "
                button type="submit" { (ctx.t("驳回（不采用）", "Dismiss (keep refused)")) }
            }
        }
    }
}

fn parse_path(form: &FormData, name: &str) -> Result<Vec<String>, ServerError> {
    let text = form.required(name, "字段 field")?;
    serde_json::from_str(text)
        .map_err(|_| ServerError::BadRequest(format!("字段路径无效 / bad field path {text:?}")))
}

/// Reads the resolve form.
fn parse_resolve(form: &FormData) -> Result<ResolveInput, ServerError> {
    Ok(ResolveInput {
        doc_id: form.required("doc_id", "记录 record")?.to_string(),
        path: parse_path(form, "path")?,
        value_id: form.required("value_id", "值 value")?.to_string(),
    })
}

/// Reads the correction form: `path.N`, `type.N`, `value.N` and the `use.N` checkbox per field.
fn parse_correct(form: &FormData, lang: Lang) -> Result<CorrectInput, ServerError> {
    let id = form.parsed::<i64>("id", "编号 id")?;
    let mut values = Vec::new();
    for i in 0..10_000 {
        let name = format!("path.{i}");
        if form.get(&name).is_none() {
            break;
        }
        if !form.checked(&format!("use.{i}")) {
            continue;
        }
        let path = parse_path(form, &name)?;
        let ty = form.get(&format!("type.{i}")).unwrap_or("json");
        let text = form.get(&format!("value.{i}")).unwrap_or("");
        let field =
            form.get(&format!("label.{i}")).map_or_else(|| path_label(lang, &path, &path), str::to_string);
        values.push(CorrectedValue { value: typed_value(ty, text, &field)?, path });
    }
    if values.is_empty() {
        return Err(ServerError::BadRequest("请至少选择一个字段 / Choose at least one field".into()));
    }
    Ok(CorrectInput { id, values, note: form.get("note").map(str::to_string) })
}

async fn resolve_form(State(state): State<AppState>, posted: Posted) -> Response {
    let p = posted.ctx.p.clone();
    let form = posted.form.clone();
    let result = run(move || resolve(&state, &p, &parse_resolve(&form)?)).await;
    after_action(posted.ctx.lang, &posted.back, result)
}

async fn dismiss_form(State(state): State<AppState>, posted: Posted) -> Response {
    let p = posted.ctx.p.clone();
    let form = posted.form.clone();
    let result = run(move || {
        let input =
            DismissInput { id: form.parsed("id", "编号 id")?, note: form.get("note").map(str::to_string) };
        dismiss(&state, &p, &input)
    })
    .await;
    after_action(posted.ctx.lang, &posted.back, result)
}

async fn correct_form(State(state): State<AppState>, posted: Posted) -> Response {
    let p = posted.ctx.p.clone();
    let form = posted.form.clone();
    let lang = posted.ctx.lang;
    let result = run(move || accept_corrected(&state, &p, &parse_correct(&form, lang)?)).await;
    after_action(posted.ctx.lang, &posted.back, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_model::automerge::transaction::Transactable;
    use kefu_model::automerge::{ActorId, Change, ReadDoc, ROOT};
    use kefu_model::enums::{Shift, SourceChannel, VisitReason};
    use kefu_model::records::customer::Profile;
    use kefu_model::verbs::{Actor, NewVisit};
    use kefu_model::Author;

    use crate::accept::{accept, Outcome};
    use crate::sync::Limits;

    const NOW: i64 = 1_795_395_600_000;

    fn who(user: &str, role: Role) -> Principal {
        Principal { user_id: user.into(), device_id: format!("{user}-phone"), role, team: Some("A".into()) }
    }

    fn author(user: &str) -> Author {
        Author { user: user.into(), device: format!("{user}-phone") }
    }

    fn state() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        {
            let conn = db.lock();
            for (id, name, role) in
                [("li", "李专员", "agent"), ("zhang", "张师傅", "field"), ("sup", "王主管", "supervisor")]
            {
                conn.execute(
                    "INSERT INTO users (id, username, display_name, role, team, password_hash, created_at) VALUES (?1, ?1, ?2, ?3, 'A', 'x', 0)",
                    params![id, name, role],
                )
                .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        (dir, AppState::new(db, Limits::default()))
    }

    fn since(doc: &mut KefuDoc, heads: &[ChangeHash]) -> Vec<Change> {
        doc.automerge().get_changes(heads)
    }

    fn accepted(st: &AppState, p: &Principal, doc_id: &str, changes: Vec<Change>) {
        let out = accept(&st.db.lock(), p, doc_id, changes, NOW).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(out, Outcome::Accepted { .. }), "{out:?}");
    }

    /// A customer assigned to agent li and field worker zhang, with visit v1 on site, stored.
    fn customer(st: &AppState) -> KefuDoc {
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
        c.assignment.agent = Some("li".into());
        c.assignment.field_staff = Some("zhang".into());
        c.assignment.assigned_at = Some(NOW);
        let by = Actor { user: "li".into(), at: NOW };
        let nv = NewVisit {
            work_order: "WO-1".into(),
            reason: VisitReason::Repair,
            staff: "zhang".into(),
            window_start: NOW,
            window_end: NOW + 3_600_000,
        };
        c.dispatch_visit("v1".into(), &by, &nv);
        c.advance_visit("v1", &by, VisitStep::OnSite, None).unwrap_or_else(|e| panic!("{e}"));
        let mut doc =
            KefuDoc::create(&c, ActorId::random(), &author("li"), NOW).unwrap_or_else(|e| panic!("{e}"));
        accepted(st, &who("li", Role::Agent), "c1", since(&mut doc, &[]));
        doc
    }

    fn conflicts_count(st: &AppState, doc_id: &str) -> i64 {
        st.db
            .lock()
            .query_row("SELECT conflicts FROM documents WHERE doc_id = ?1", [doc_id], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn stored_file(st: &AppState) -> CustomerFile {
        let stored = accept::load(&st.db.lock(), "c1")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("stored"));
        KefuDoc::from_automerge(stored.doc).read().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_real_conflict_is_listed_with_both_authors_and_resolved() {
        let (_d, st) = state();
        let sup = who("sup", Role::Supervisor);
        let mut doc = customer(&st);
        let heads = doc.heads();
        // Two phones, offline, write the same field differently.
        let mut a = KefuDoc::from_automerge(doc.automerge().fork().with_actor(ActorId::random()));
        let mut b = KefuDoc::from_automerge(doc.automerge().fork().with_actor(ActorId::random()));
        a.update(&author("li"), NOW + 1000, |c: &mut CustomerFile| {
            c.profile.district = Some("徐汇".into());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        b.update(&author("zhang"), NOW + 2000, |c: &mut CustomerFile| {
            c.profile.district = Some("浦东".into());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        accepted(&st, &who("li", Role::Agent), "c1", since(&mut a, &heads));
        accepted(&st, &who("zhang", Role::Field), "c1", since(&mut b, &heads));
        assert_eq!(conflicts_count(&st, "c1"), 1);

        let rows = list_conflicts(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 1, "{rows:?}");
        let row = &rows[0];
        assert_eq!(row.path, vec!["profile".to_string(), "district".to_string()]);
        assert_eq!((row.record.as_str(), row.link.as_str()), ("王女士", "/customers/c1"));
        assert_eq!(path_label(Lang::Zh, &row.path, &row.place), "基本信息 › 区域");
        let mut by: Vec<(String, String)> = row
            .values
            .iter()
            .map(|v| (v.user_name.clone().unwrap_or_default(), v.value.as_str().unwrap_or("").to_string()))
            .collect();
        by.sort();
        assert_eq!(by, vec![("张师傅".into(), "浦东".into()), ("李专员".into(), "徐汇".into())]);
        assert!(row.values.iter().all(|v| v.received_at == Some(NOW) && v.device.is_some()));
        // Another team sees nothing.
        assert!(list_conflicts(&st.db.lock(), "B").unwrap_or_else(|e| panic!("{e}")).is_empty());

        // The supervisor keeps the value shown second (whichever it is).
        let keep = row.values[1].clone();
        let input =
            ResolveInput { doc_id: "c1".into(), path: row.path.clone(), value_id: keep.value_id.clone() };
        resolve(&st, &sup, &input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(conflicts_count(&st, "c1"), 0);
        assert!(list_conflicts(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}")).is_empty());
        assert_eq!(stored_file(&st).profile.district.as_deref(), keep.value.as_str());
        let by_sup: i64 = st
            .db
            .lock()
            .query_row("SELECT count(*) FROM provenance WHERE doc_id = 'c1' AND user_id = 'sup'", [], |r| {
                r.get(0)
            })
            .unwrap_or(0);
        assert_eq!(by_sup, 1, "the choice is an ordinary change with provenance");
        // Choosing again: already settled, a message.
        assert!(matches!(resolve(&st, &sup, &input), Err(ServerError::NotFound(_))));
        // Only a supervisor of the team may resolve.
        let other = Principal { team: Some("B".into()), ..who("sup2", Role::Supervisor) };
        assert!(resolve(&st, &other, &input).is_err());
        assert!(matches!(resolve(&st, &who("li", Role::Agent), &input), Err(ServerError::Forbidden(_))));
    }

    #[test]
    fn conflicts_in_other_record_kinds_are_resolved_too() {
        let (_d, st) = state();
        let sup = who("sup", Role::Supervisor);
        let (_, mut roster) =
            KefuDoc::genesis("roster/A/2026-11", &Roster::new("A", "2026-11"), ActorId::random())
                .unwrap_or_else(|e| panic!("{e}"));
        accepted(&st, &sup, "r1", since(&mut roster, &[]));
        let heads = roster.heads();
        let key = Roster::key("2026-11-23", "zhang");
        let mut a = KefuDoc::from_automerge(roster.automerge().fork().with_actor(ActorId::random()));
        let mut b = KefuDoc::from_automerge(roster.automerge().fork().with_actor(ActorId::random()));
        for (d, shift, user) in [(&mut a, Shift::Early, "sup"), (&mut b, Shift::Late, "sup3")] {
            d.update(&author(user), NOW, |r: &mut Roster| {
                r.shifts.insert(key.clone(), shift);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        }
        accepted(&st, &sup, "r1", since(&mut a, &heads));
        accepted(&st, &who("sup3", Role::Supervisor), "r1", since(&mut b, &heads));
        let rows = list_conflicts(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].kind.as_str(), rows[0].record.as_str()), ("roster", "2026-11"));
        assert_eq!(rows[0].link, "/records/r1/history");
        let late = rows[0].values.iter().find(|v| v.value == "late").cloned();
        let late = late.unwrap_or_else(|| panic!("{rows:?}"));
        resolve(
            &st,
            &sup,
            &ResolveInput { doc_id: "r1".into(), path: rows[0].path.clone(), value_id: late.value_id },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(conflicts_count(&st, "r1"), 0);
        let stored = accept::load(&st.db.lock(), "r1")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("r1"));
        let r: Roster = KefuDoc::from_automerge(stored.doc).read().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.shifts.get(&key), Some(&Shift::Late));
    }

    /// A buggy field phone writes `rating` directly into visit v1; the server refuses it.
    fn refused_rating(st: &AppState, doc: &KefuDoc, rating: i64) -> i64 {
        let mut bad = doc.clone();
        bad.automerge().set_actor(ActorId::random());
        let heads = bad.heads();
        let visits = bad.automerge().get(ROOT, "visits").ok().flatten().map(|(_, id)| id);
        let v1 = visits.and_then(|v| bad.automerge().get(&v, "v1").ok().flatten()).map(|(_, id)| id);
        let Some(v1) = v1 else { panic!("visit v1 missing") };
        bad.automerge().put(&v1, "rating", rating).unwrap_or_else(|e| panic!("{e}"));
        bad.automerge().put(&v1, "work_done", "换了阀芯").unwrap_or_else(|e| panic!("{e}"));
        bad.automerge().commit_with(
            kefu_model::automerge::transaction::CommitOptions::default()
                .with_message(author("zhang").message()),
        );
        let out = accept(&st.db.lock(), &who("zhang", Role::Field), "c1", since(&mut bad, &heads), NOW + 5)
            .unwrap_or_else(|e| panic!("{e}"));
        match out {
            Outcome::Rejected { quarantine_id, .. } => quarantine_id,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rejected_change_is_listed_with_its_fields_then_dismissed() {
        let (_d, st) = state();
        let sup = who("sup", Role::Supervisor);
        let doc = customer(&st);
        let id = refused_rating(&st, &doc, 9);
        let rows = list_rejected(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.id, r.user.as_str(), r.user_name.as_str(), r.stored, r.readable),
            (id, "zhang", "张师傅", true, true)
        );
        assert!(r.reason.contains("rating"), "{}", r.reason);
        assert_eq!(r.record, "王女士");
        let paths: Vec<String> = r.fields.iter().map(|f| path_label(Lang::Zh, &f.path, &f.place)).collect();
        assert_eq!(paths, vec!["上门服务 › WO-1 › 客户评分", "上门服务 › WO-1 › 完成内容"]);
        assert_eq!(r.fields[0].sent, Some(Json::from(9)));
        assert_eq!(r.fields[0].before, Some(Json::Null));
        assert!(list_rejected(&st.db.lock(), "B").unwrap_or_else(|e| panic!("{e}")).is_empty());

        // Another team's supervisor cannot settle it.
        let other = Principal { team: Some("B".into()), ..who("sup2", Role::Supervisor) };
        assert!(matches!(
            dismiss(&st, &other, &DismissInput { id, note: None }),
            Err(ServerError::NotFound(_))
        ));
        dismiss(&st, &sup, &DismissInput { id, note: Some("评分无效".into()) })
            .unwrap_or_else(|e| panic!("{e}"));
        let (status, by, note): (String, String, String) = st
            .db
            .lock()
            .query_row("SELECT status, settled_by, settled_note FROM quarantine WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((status.as_str(), by.as_str(), note.as_str()), ("dismissed", "sup", "评分无效"));
        assert!(list_rejected(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}")).is_empty());
        assert!(matches!(
            dismiss(&st, &sup, &DismissInput { id, note: None }),
            Err(ServerError::NotFound(_))
        ));
        assert_eq!(stored_file(&st).visits["v1"].rating, None, "nothing of it was applied");
    }

    #[test]
    fn a_corrected_value_is_accepted_and_a_bad_one_refused_with_a_message() {
        let (_d, st) = state();
        let sup = who("sup", Role::Supervisor);
        let doc = customer(&st);
        let id = refused_rating(&st, &doc, 9);
        let rating = vec!["visits".to_string(), "v1".into(), "rating".into()];
        let work = vec!["visits".to_string(), "v1".into(), "work_done".into()];
        let input = |rating_value: Json| CorrectInput {
            id,
            values: vec![
                CorrectedValue { path: rating.clone(), value: rating_value },
                CorrectedValue { path: work.clone(), value: Json::from("换了阀芯") },
            ],
            note: Some("按客户电话确认".into()),
        };
        // Still out of range: refused with the rule, nothing stored, the entry stays open.
        let e = accept_corrected(&st, &sup, &input(Json::from(9))).err();
        assert!(matches!(&e, Some(ServerError::BadRequest(m)) if m.contains("rating")), "{e:?}");
        // Not a number at all: the message names the field.
        let e = accept_corrected(&st, &sup, &input(Json::from("五"))).err();
        assert!(matches!(&e, Some(ServerError::BadRequest(m)) if m.contains("visits.v1.rating")), "{e:?}");
        // A field the refused change did not touch.
        let e = accept_corrected(
            &st,
            &sup,
            &CorrectInput {
                id,
                values: vec![CorrectedValue {
                    path: vec!["profile".into(), "name".into()],
                    value: Json::from("x"),
                }],
                note: None,
            },
        )
        .err();
        assert!(matches!(e, Some(ServerError::BadRequest(_))), "{e:?}");
        assert_eq!(stored_file(&st).visits["v1"].rating, None);
        assert_eq!(list_rejected(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}")).len(), 1);
        let open: i64 = st
            .db
            .lock()
            .query_row("SELECT count(*) FROM quarantine WHERE status = 'open'", [], |r| r.get(0))
            .unwrap_or(0);
        assert_eq!(open, 1, "a refused correction is not itself quarantined");

        // A good value: stored as the supervisor's change, the entry settled.
        accept_corrected(&st, &sup, &input(Json::from(5))).unwrap_or_else(|e| panic!("{e}"));
        let file = stored_file(&st);
        assert_eq!(file.visits["v1"].rating, Some(5));
        assert_eq!(file.visits["v1"].work_done.as_deref(), Some("换了阀芯"));
        let (status, by): (String, String) = st
            .db
            .lock()
            .query_row("SELECT status, settled_by FROM quarantine WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((status.as_str(), by.as_str()), ("accepted", "sup"));
        assert!(list_rejected(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}")).is_empty());
    }

    #[test]
    fn form_text_becomes_typed_json() {
        assert_eq!(typed_value("number", " 5 ", "f").ok(), Some(Json::from(5)));
        assert!(
            matches!(typed_value("number", "五", "评分"), Err(ServerError::BadRequest(m)) if m.contains("评分"))
        );
        assert_eq!(typed_value("string", "", "f").ok(), Some(Json::Null));
        assert_eq!(typed_value("bool", "false", "f").ok(), Some(Json::Bool(false)));
        assert_eq!(typed_value("json", "[\"a\"]", "f").ok(), Some(serde_json::json!(["a"])));
        assert_eq!(typed_value("json", "plain", "f").ok(), Some(Json::from("plain")));
        let mut j = serde_json::json!({"a": {"b": 1}, "n": null});
        assert!(set_path(&mut j, &["a".into(), "c".into()], Json::from(2)).is_ok());
        assert!(set_path(&mut j, &["n".into(), "x".into()], Json::from(3)).is_ok());
        assert!(set_path(&mut j, &["a".into(), "b".into(), "z".into()], Json::from(4)).is_err());
        assert_eq!(j, serde_json::json!({"a": {"b": 1, "c": 2}, "n": {"x": 3}}));
    }
}
