//! Changes made on the server by a signed-in supervisor (the dashboard and the JSON API).
//!
//! A supervisor's choice is an ordinary automerge change: it is made with the same domain
//! verbs the phones use, committed under a fresh actor with the supervisor as author, and then
//! goes through the same acceptance pipeline as a change arriving by sync
//! ([`crate::accept::accept_merged`]: access, validation, durable storage with provenance,
//! projection). Only after the commit are the connected phones told, so what they receive is
//! already on disk.

use kefu_model::automerge::{ActorId, AutoCommit};
use kefu_model::records::Record;
use kefu_model::{Author, DocError, KefuDoc};
use rusqlite::Connection;

use crate::accept::{self, Outcome, Stored};
use crate::auth::{now_ms, Principal};
use crate::error::ServerError;
use crate::http::AppState;
use crate::hub::{Audience, Control};

/// Connection id used as the sender of server-side changes (no sync connection has it).
const SERVER_SENDER: u64 = u64::MAX;

/// A fresh actor for one server-side change: two edits never share an actor and sequence.
pub fn fresh_actor() -> Result<ActorId, ServerError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ServerError::Internal(format!("no randomness: {e}")))?;
    Ok(ActorId::from(b.as_slice()))
}

/// The author recorded in the commit message of a change made by `p`.
pub fn author(p: &Principal) -> Author {
    Author { user: p.user_id.clone(), device: p.device_id.clone() }
}

/// Turns a record error into what the person is told.
pub fn doc_error(e: DocError) -> ServerError {
    match e {
        DocError::Invalid(p) => ServerError::BadRequest(p.to_string()),
        DocError::IllegalStep(s) => ServerError::BadRequest(s.to_string()),
        DocError::NotFound(what) => ServerError::NotFound(format!("not found: {what}")),
        other => ServerError::Internal(other.to_string()),
    }
}

/// Loads a document `p` may write, or the error they are shown (not found for no access).
pub fn load_writable(conn: &Connection, p: &Principal, doc_id: &str) -> Result<Stored, ServerError> {
    let stored =
        accept::load(conn, doc_id)?.ok_or_else(|| ServerError::NotFound(format!("no record {doc_id}")))?;
    match crate::access::access(p, &stored.meta) {
        crate::access::Access::Write => Ok(stored),
        crate::access::Access::Read => {
            Err(ServerError::Forbidden("you may read but not change this record".into()))
        }
        crate::access::Access::None => Err(ServerError::NotFound(format!("no record {doc_id}"))),
    }
}

/// Applies `f` to record `doc_id` of type `R` as `p`, validates, stores and tells the phones.
/// Returns `f`'s output; `Ok` only when the change is on disk (or changed nothing).
pub fn edit<R: Record, T>(
    st: &AppState,
    p: &Principal,
    doc_id: &str,
    f: impl FnOnce(&mut R) -> Result<T, DocError>,
) -> Result<T, ServerError> {
    let db = st.db.lock();
    let (out, team) = edit_locked(&db, p, doc_id, f)?;
    drop(db);
    if let Some(team) = team {
        st.sync.hub.notify(
            doc_id,
            Audience::Team(&team),
            SERVER_SENDER,
            &Control::DocChanged(doc_id.to_string()),
        );
    }
    Ok(out)
}

/// [`edit`] on an already locked connection; returns the team to notify when something changed.
pub fn edit_locked<R: Record, T>(
    conn: &Connection,
    p: &Principal,
    doc_id: &str,
    f: impl FnOnce(&mut R) -> Result<T, DocError>,
) -> Result<(T, Option<String>), ServerError> {
    let mut stored = load_writable(conn, p, doc_id)?;
    let mut doc = KefuDoc::from_automerge(stored.doc.clone().with_actor(fresh_actor()?));
    let (out, hash) = doc.update::<R, T>(&author(p), now_ms(), f).map_err(doc_error)?;
    if hash.is_none() {
        return Ok((out, None));
    }
    let mut after = doc.automerge().clone();
    let team = store(conn, p, doc_id, Some(&mut stored), &mut after)?;
    Ok((out, Some(team)))
}

/// Runs an already committed document through acceptance; returns the team on success.
pub fn store(
    conn: &Connection,
    p: &Principal,
    doc_id: &str,
    before: Option<&mut Stored>,
    after: &mut AutoCommit,
) -> Result<String, ServerError> {
    let before = before.map(Stored::before);
    match accept::accept_merged(
        conn,
        p,
        doc_id,
        before.as_ref().map(accept::Before::as_ref),
        after,
        None,
        now_ms(),
    )? {
        (Outcome::Accepted { .. }, Some(acc)) => Ok(acc.meta.team),
        (Outcome::Rejected { reason, .. }, _) => Err(ServerError::BadRequest(reason)),
        (Outcome::ReadOnly, _) => {
            Err(ServerError::Forbidden("you may read but not change this record".into()))
        }
        (Outcome::Unavailable, _) => Err(ServerError::NotFound(format!("no record {doc_id}"))),
        (Outcome::NothingNew, _) | (Outcome::Accepted { .. }, None) => {
            Err(ServerError::Internal(format!("the change to {doc_id} was not stored")))
        }
    }
}

/// Tells the phones of `team` that `doc_id` changed (after a commit made outside [`edit`]).
pub fn notify(st: &AppState, doc_id: &str, team: &str) {
    st.sync.hub.notify(doc_id, Audience::Team(team), SERVER_SENDER, &Control::DocChanged(doc_id.to_string()));
}
