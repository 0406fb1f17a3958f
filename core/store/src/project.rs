//! Index tables: what list screens read instead of hydrating documents.
//!
//! After every change to a document (local edit or merged remote changes) its rows are
//! rewritten inside the same transaction as the document bytes, so the lists can never
//! disagree with the records.

use kefu_model::lifecycle::CallbackStep;
use kefu_model::records::appearance::AppearanceCheck;
use kefu_model::records::appearance::AppearanceTemplate;
use kefu_model::records::attendance::AttendanceMonth;
use kefu_model::records::campaign::Campaign;
use kefu_model::records::customer::CustomerFile;
use kefu_model::records::roster::Roster;
use std::any::Any;

use kefu_model::{DocKind, KefuDoc, Record};
use rusqlite::{params, OptionalExtension, Transaction};

use crate::error::Result;

const TABLES: &[&str] = &[
    "idx_customers",
    "idx_callbacks",
    "idx_visits",
    "idx_complaints",
    "idx_checks",
    "idx_attendance",
    "idx_keyed",
];

/// Removes every index row of a document.
pub fn clear(tx: &Transaction<'_>, doc_id: &str) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM customers_fts WHERE rowid = (SELECT rowid FROM idx_customers WHERE doc_id = ?1)",
    )?
    .execute([doc_id])?;
    for t in TABLES {
        tx.prepare_cached(&format!("DELETE FROM {t} WHERE doc_id = ?1"))?.execute([doc_id])?;
    }
    Ok(())
}

/// Rewrites the index rows of one document, reading it first. A document that cannot be read
/// as its kind (written by a newer app, or damaged) gets no rows but keeps its bytes.
/// Returns the team.
pub fn project(tx: &Transaction<'_>, doc_id: &str, doc: &KefuDoc) -> Result<Option<String>> {
    let Ok(kind) = doc.kind() else {
        clear(tx, doc_id)?;
        return Ok(None);
    };
    match kind {
        DocKind::Customer => project_read::<CustomerFile>(tx, doc_id, doc),
        DocKind::AppearanceCheck => project_read::<AppearanceCheck>(tx, doc_id, doc),
        DocKind::Attendance => project_read::<AttendanceMonth>(tx, doc_id, doc),
        DocKind::Roster => project_read::<Roster>(tx, doc_id, doc),
        DocKind::AppearanceTemplate => project_read::<AppearanceTemplate>(tx, doc_id, doc),
        DocKind::Campaign => project_read::<Campaign>(tx, doc_id, doc),
    }
}

fn project_read<R: Record>(tx: &Transaction<'_>, doc_id: &str, doc: &KefuDoc) -> Result<Option<String>> {
    match doc.read::<R>() {
        Ok(r) => project_record(tx, doc_id, &r),
        Err(_) => {
            clear(tx, doc_id)?;
            Ok(None)
        }
    }
}

/// Rewrites the index rows of one document from its record (already read). Returns the team.
pub fn project_record<R: Record>(tx: &Transaction<'_>, doc_id: &str, record: &R) -> Result<Option<String>> {
    let any = record as &dyn Any;
    if let Some(c) = any.downcast_ref::<CustomerFile>() {
        // Customers update in place, so an edit that leaves the searchable text alone does not
        // touch the trigram index (its writes were a large part of an edit's cost).
        return Ok(Some(customer(tx, doc_id, c)?));
    }
    clear(tx, doc_id)?;
    let team = if let Some(c) = any.downcast_ref::<AppearanceCheck>() {
        let checked = c.checks.len() as i64;
        let passed = c.checks.values().filter(|s| s.passed()).count() as i64;
        tx.prepare_cached("INSERT INTO idx_checks VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![doc_id, c.team, c.date, checked, passed])?;
        c.team.clone()
    } else if let Some(a) = any.downcast_ref::<AttendanceMonth>() {
        tx.prepare_cached("INSERT INTO idx_attendance VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![doc_id, a.staff, a.team, a.month])?;
        a.team.clone()
    } else if let Some(r) = any.downcast_ref::<Roster>() {
        keyed(tx, doc_id, DocKind::Roster, &r.team, &r.month)?
    } else if let Some(t) = any.downcast_ref::<AppearanceTemplate>() {
        keyed(tx, doc_id, DocKind::AppearanceTemplate, &t.team, "")?
    } else if let Some(c) = any.downcast_ref::<Campaign>() {
        keyed(tx, doc_id, DocKind::Campaign, &c.team, &c.name)?
    } else {
        return Ok(None);
    };
    Ok(Some(team))
}

fn keyed(
    tx: &Transaction<'_>,
    doc_id: &str,
    kind: DocKind,
    team: &str,
    key: &str,
) -> rusqlite::Result<String> {
    tx.prepare_cached("INSERT INTO idx_keyed VALUES (?1, ?2, ?3, ?4)")?.execute(params![
        doc_id,
        kind.as_str(),
        team,
        key
    ])?;
    Ok(team.to_string())
}

fn customer(tx: &Transaction<'_>, doc_id: &str, c: &CustomerFile) -> rusqlite::Result<String> {
    let phones = c.profile.phones.join(" ");
    let name = &c.profile.name;
    for t in ["idx_callbacks", "idx_visits", "idx_complaints"] {
        tx.prepare_cached(&format!("DELETE FROM {t} WHERE doc_id = ?1"))?.execute([doc_id])?;
    }
    let rowid: i64 = tx
        .prepare_cached(
            "INSERT INTO idx_customers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT (doc_id) DO UPDATE SET team = excluded.team, name = excluded.name, \
             phones = excluded.phones, district = excluded.district, stage = excluded.stage, \
             intent = excluded.intent, agent = excluded.agent, field_staff = excluded.field_staff, \
             assigned_at = excluded.assigned_at, first_contact_at = excluded.first_contact_at, \
             created_at = excluded.created_at RETURNING rowid",
        )?
        .query_row(
            params![
                doc_id,
                c.team,
                name,
                phones,
                c.profile.district,
                c.classification.stage.as_str(),
                c.classification.intent.as_str(),
                c.assignment.agent,
                c.assignment.field_staff,
                c.assignment.assigned_at,
                c.first_contact_after_assignment(),
                c.created_at
            ],
            |r| r.get(0),
        )?;
    let text = (
        name.clone(),
        phones.replace(['-', ' '], ""),
        c.profile.address.clone(),
        c.classification.notes.clone(),
    );
    let indexed: Option<(String, String, Option<String>, Option<String>)> = tx
        .prepare_cached("SELECT name, phones, address, notes FROM customers_fts WHERE rowid = ?1")?
        .query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    if indexed.as_ref() != Some(&text) {
        tx.prepare_cached("DELETE FROM customers_fts WHERE rowid = ?1")?.execute([rowid])?;
        tx.prepare_cached(
            "INSERT INTO customers_fts (rowid, name, phones, address, notes) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![rowid, text.0, text.1, text.2, text.3])?;
    }
    let mut cb = tx.prepare_cached("INSERT INTO idx_callbacks VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?;
    for (id, x) in &c.callbacks {
        let status = x.status().unwrap_or(CallbackStep::Scheduled);
        cb.execute(params![doc_id, id, x.agent, x.scheduled_for, status.as_str(), x.campaign, name])?;
    }
    let mut v = tx.prepare_cached("INSERT INTO idx_visits VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
    for (id, x) in &c.visits {
        let status = x.status().map_or("dispatched", |s| s.as_str());
        v.execute(params![doc_id, id, x.staff, status, x.work_order, x.window_start, x.window_end, name])?;
    }
    let mut k = tx.prepare_cached("INSERT INTO idx_complaints VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
    for (id, x) in &c.complaints {
        let (status, round) = x.status().map_or(("received", 0), |s| (s.step.as_str(), s.round));
        k.execute(params![doc_id, id, x.handler, status, round, x.severity.as_str(), x.received_at, name])?;
    }
    Ok(c.team.clone())
}
