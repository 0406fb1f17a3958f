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
use kefu_model::{DocKind, KefuDoc};
use rusqlite::{params, Transaction};

use crate::error::Result;

const TABLES: &[&str] = &[
    "idx_customers",
    "customers_fts",
    "idx_callbacks",
    "idx_visits",
    "idx_complaints",
    "idx_checks",
    "idx_attendance",
    "idx_keyed",
];

/// Removes every index row of a document.
pub fn clear(tx: &Transaction<'_>, doc_id: &str) -> Result<()> {
    for t in TABLES {
        tx.execute(&format!("DELETE FROM {t} WHERE doc_id = ?1"), [doc_id])?;
    }
    Ok(())
}

/// Rewrites the index rows of one document. A document that cannot be read as its kind
/// (written by a newer app, or damaged) gets no rows but keeps its bytes. Returns the team.
pub fn project(tx: &Transaction<'_>, doc_id: &str, doc: &KefuDoc) -> Result<Option<String>> {
    clear(tx, doc_id)?;
    let Ok(kind) = doc.kind() else { return Ok(None) };
    let team = match kind {
        DocKind::Customer => doc.read::<CustomerFile>().ok().map(|c| customer(tx, doc_id, &c)).transpose()?,
        DocKind::AppearanceCheck => doc
            .read::<AppearanceCheck>()
            .ok()
            .map(|c| {
                let checked = c.checks.len() as i64;
                let passed = c.checks.values().filter(|s| s.passed()).count() as i64;
                tx.execute(
                    "INSERT INTO idx_checks VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![doc_id, c.team, c.date, checked, passed],
                )
                .map(|_| c.team)
            })
            .transpose()?,
        DocKind::Attendance => doc
            .read::<AttendanceMonth>()
            .ok()
            .map(|a| {
                tx.execute(
                    "INSERT INTO idx_attendance VALUES (?1, ?2, ?3, ?4)",
                    params![doc_id, a.staff, a.team, a.month],
                )
                .map(|_| a.team)
            })
            .transpose()?,
        DocKind::Roster => {
            doc.read::<Roster>().ok().map(|r| keyed(tx, doc_id, kind, &r.team, &r.month)).transpose()?
        }
        DocKind::AppearanceTemplate => {
            doc.read::<AppearanceTemplate>().ok().map(|t| keyed(tx, doc_id, kind, &t.team, "")).transpose()?
        }
        DocKind::Campaign => {
            doc.read::<Campaign>().ok().map(|c| keyed(tx, doc_id, kind, &c.team, &c.name)).transpose()?
        }
    };
    Ok(team)
}

fn keyed(
    tx: &Transaction<'_>,
    doc_id: &str,
    kind: DocKind,
    team: &str,
    key: &str,
) -> rusqlite::Result<String> {
    tx.execute("INSERT INTO idx_keyed VALUES (?1, ?2, ?3, ?4)", params![doc_id, kind.as_str(), team, key])?;
    Ok(team.to_string())
}

fn customer(tx: &Transaction<'_>, doc_id: &str, c: &CustomerFile) -> rusqlite::Result<String> {
    let phones = c.profile.phones.join(" ");
    let name = &c.profile.name;
    tx.execute(
        "INSERT INTO idx_customers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
    )?;
    tx.execute(
        "INSERT INTO customers_fts (doc_id, name, phones, address, notes) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![doc_id, name, phones.replace(['-', ' '], ""), c.profile.address, c.classification.notes],
    )?;
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
