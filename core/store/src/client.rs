//! The client: the one object an app holds. It owns the store (one SQLite writer connection
//! and a bounded cache of open documents) and offers the domain verbs and list queries, all of
//! which work offline.
//!
//! Calls are blocking and take well under a few milliseconds; an async caller (the sync task,
//! the bindings) runs them on a blocking thread, never on an async worker.

use std::collections::HashMap;
use std::path::Path;

use kefu_model::automerge::{ActorId, ChangeHash};
use kefu_model::dates::{Date, CHINA_UTC_OFFSET_MIN};
use kefu_model::document::{parse_heads, Conflict, HistoryEntry};
use kefu_model::enums::*;
use kefu_model::lifecycle::{ComplaintStep, VisitStep};
use kefu_model::records::appearance::{default_template_items, AppearanceCheck, ItemResult, SheetTemplate};
use kefu_model::records::attendance::AttendanceMonth;
use kefu_model::records::customer::{Classification, CustomerFile, Order, Profile};
use kefu_model::records::roster::Roster;
use kefu_model::verbs::*;
use kefu_model::{ids, Author, DocError, DocKind, DocumentId, KefuDoc, Record};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::{db, project};

mod attachments;
mod sync;
pub use attachments::{AttachmentSource, BlobInfo, Upload, UploadState, PIECE_BYTES};
pub use sync::{SetAside, SyncReceived};

/// Who uses this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// User id.
    pub user_id: String,
    /// Device id (given by the server at sign-in).
    pub device_id: String,
    /// Team.
    pub team: String,
    /// Role.
    pub role: Role,
    /// Name shown in the UI.
    pub display_name: String,
}

/// Where a record's changes stand with the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncStatus {
    /// Edited here, not yet sent.
    Local,
    /// Sent, not yet confirmed.
    Sent,
    /// Every change confirmed by the server (or received from it).
    Accepted,
    /// The server refused a change; the reason says why.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// A local change waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Change hash (hex).
    pub hash: String,
    /// Document id.
    pub doc_id: String,
    /// `local` or `sent`.
    pub status: String,
    /// Unix ms.
    pub created_at: i64,
}

/// A customer in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRow {
    /// Document id.
    pub doc_id: String,
    /// Name.
    pub name: String,
    /// Phones, space separated.
    pub phones: String,
    /// District.
    pub district: Option<String>,
    /// Purchase stage.
    pub stage: String,
    /// Agent.
    pub agent: Option<String>,
    /// Field staff.
    pub field_staff: Option<String>,
}

/// A callback in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRow {
    /// Customer document id.
    pub doc_id: String,
    /// Callback id.
    pub callback_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Agent.
    pub agent: String,
    /// Due date.
    pub scheduled_for: String,
    /// Status.
    pub status: String,
}

/// A visit in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRow {
    /// Customer document id.
    pub doc_id: String,
    /// Visit id.
    pub visit_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Field staff.
    pub staff: String,
    /// Status.
    pub status: String,
    /// Work order.
    pub work_order: String,
    /// Window start, Unix ms.
    pub window_start: i64,
    /// Window end, Unix ms.
    pub window_end: i64,
}

/// A complaint in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintRow {
    /// Customer document id.
    pub doc_id: String,
    /// Complaint id.
    pub complaint_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Handler.
    pub handler: String,
    /// Status.
    pub status: String,
    /// Times reopened.
    pub round: i64,
    /// Severity.
    pub severity: String,
    /// Unix ms.
    pub received_at: i64,
}

/// A team's appearance sheet for a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRow {
    /// Document id.
    pub doc_id: String,
    /// Date.
    pub date: String,
    /// People checked.
    pub checked: i64,
    /// People who passed every item.
    pub passed: i64,
}

/// An attendance month in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceRow {
    /// Document id.
    pub doc_id: String,
    /// Staff user id.
    pub staff: String,
    /// Month.
    pub month: String,
}

/// Details of a new customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCustomer {
    /// Profile.
    pub profile: Profile,
    /// Classification (defaults: intent unknown, stage lead).
    pub classification: Option<Classification>,
}

/// Maps a row of `doc_id, name, phones, district, stage, agent, field_staff`.
fn customer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CustomerRow> {
    Ok(CustomerRow {
        doc_id: r.get(0)?,
        name: r.get(1)?,
        phones: r.get(2)?,
        district: r.get(3)?,
        stage: r.get(4)?,
        agent: r.get(5)?,
        field_staff: r.get(6)?,
    })
}

/// An input error about one field, before any document is touched.
fn invalid(record: &str, field: &str, rule: String) -> StoreError {
    StoreError::Invalid(vec![kefu_model::ValidationError {
        record: record.into(),
        field: field.into(),
        rule,
    }])
}

const CACHE_DOCS: usize = 64;
const COMPACT_AFTER_CHUNKS: i64 = 10;

/// A bounded cache of open documents (a saved file is ~1 KB but ~25 KB in memory).
#[derive(Debug, Default)]
struct Cache {
    docs: HashMap<String, (KefuDoc, u64)>,
    tick: u64,
}

impl Cache {
    fn take(&mut self, id: &str) -> Option<KefuDoc> {
        self.docs.remove(id).map(|(d, _)| d)
    }
    fn put(&mut self, id: &str, doc: KefuDoc) {
        self.tick += 1;
        if self.docs.len() >= CACHE_DOCS {
            if let Some(oldest) = self.docs.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| k.clone()) {
                self.docs.remove(&oldest);
            }
        }
        self.docs.insert(id.to_string(), (doc, self.tick));
    }
}

/// The entry point: owns the store and offers the domain verbs.
pub struct Client {
    // Declared before `conn` so the checkpoint thread finishes before the writer closes.
    checkpointer: Option<db::Checkpointer>,
    conn: Connection,
    cache: Cache,
    actor: ActorId,
    identity: Option<Identity>,
    clock: Box<dyn Fn() -> i64 + Send>,
    utc_offset_min: i32,
    /// Automerge sync states of this session, by (document, peer); only their shared heads
    /// are persisted.
    sync_states: HashMap<(String, String), kefu_model::automerge::sync::State>,
    /// Documents being fetched that this device does not have yet.
    incoming: HashMap<String, kefu_model::automerge::AutoCommit>,
    /// Largest attachment accepted (`set_max_attachment_bytes`).
    max_attachment_bytes: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("identity", &self.identity).finish_non_exhaustive()
    }
}

fn system_now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS generator only fails on a broken system; fall back to time-derived bytes rather
    // than panic, ids only need to be unique.
    if getrandom::fill(&mut b).is_err() {
        let t = system_now_ms().to_le_bytes();
        for (i, x) in b.iter_mut().enumerate() {
            *x = t[i % 8] ^ (i as u8).wrapping_mul(31);
        }
    }
    b
}

fn new_record_id() -> String {
    ids::record_id(random())
}

impl Client {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Client> {
        let conn = db::open(path)?;
        let checkpointer = db::Checkpointer::start(&conn, path)?;
        let mut client = Self::with_connection(conn)?;
        client.checkpointer = Some(checkpointer);
        Ok(client)
    }

    /// A store in memory (tests, benchmarks).
    pub fn open_in_memory() -> Result<Client> {
        Self::with_connection(db::open_in_memory()?)
    }

    fn with_connection(conn: Connection) -> Result<Client> {
        let actor_hex: Option<String> = conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'actor'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        let actor = match actor_hex.and_then(|h| ActorId::try_from(h.as_str()).ok()) {
            Some(a) => a,
            None => {
                // A new actor per store: never reused, even if the app is reinstalled.
                let a = ActorId::from(random::<16>().as_slice());
                conn.prepare_cached("INSERT OR REPLACE INTO meta VALUES ('actor', ?1)")?
                    .execute([a.to_hex_string()])?;
                a
            }
        };
        // Pieces of a file being attached when the app stopped: no record refers to them.
        conn.prepare_cached("DELETE FROM blob_pieces WHERE sha256 LIKE 'staging:%'")?.execute([])?;
        let identity: Option<String> = conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'identity'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        let identity = identity.and_then(|j| serde_json::from_str(&j).ok());
        Ok(Client {
            checkpointer: None,
            conn,
            cache: Cache::default(),
            actor,
            identity,
            clock: Box::new(system_now_ms),
            utc_offset_min: CHINA_UTC_OFFSET_MIN,
            sync_states: HashMap::new(),
            incoming: HashMap::new(),
            max_attachment_bytes: attachments::DEFAULT_MAX_ATTACHMENT_BYTES,
        })
    }

    /// Replaces the clock (tests, replays).
    pub fn set_clock(&mut self, clock: impl Fn() -> i64 + Send + 'static) {
        self.clock = Box::new(clock);
    }

    /// The time zone the department works in, minutes east of UTC (default China, +480).
    pub fn set_utc_offset(&mut self, minutes: i32) {
        self.utc_offset_min = minutes;
    }

    /// Records who uses this device (after sign-in).
    pub fn set_identity(&mut self, identity: Identity) -> Result<()> {
        let json = serde_json::to_string(&identity).map_err(|e| StoreError::Document(e.to_string()))?;
        self.conn.prepare_cached("INSERT OR REPLACE INTO meta VALUES ('identity', ?1)")?.execute([json])?;
        self.identity = Some(identity);
        Ok(())
    }

    /// A value of the store's settings (`meta` table).
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Sets (or with `None` removes) a value of the store's settings.
    pub fn set_meta(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(v) => self
                .conn
                .prepare_cached("INSERT OR REPLACE INTO meta VALUES (?1, ?2)")?
                .execute(params![key, v])?,
            None => self.conn.prepare_cached("DELETE FROM meta WHERE key = ?1")?.execute([key])?,
        };
        Ok(())
    }

    /// Who uses this device.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// This store's automerge actor.
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    /// The underlying connection, for read-only inspection in tests and tools.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    fn who(&self) -> Result<(Author, Actor)> {
        let id = self.identity.as_ref().ok_or(StoreError::NoIdentity)?;
        let now = self.now();
        Ok((
            Author { user: id.user_id.clone(), device: id.device_id.clone() },
            Actor { user: id.user_id.clone(), at: now },
        ))
    }

    /// Today's date in the department's time zone.
    pub fn today(&self) -> String {
        Date::of_time(self.now(), self.utc_offset_min).to_string()
    }

    // ---- documents ------------------------------------------------------------------------

    fn load(&mut self, id: &str) -> Result<KefuDoc> {
        if let Some(doc) = self.cache.take(id) {
            return Ok(doc);
        }
        let snapshot: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT snapshot FROM documents WHERE doc_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let mut bytes = snapshot.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let mut stmt = self.conn.prepare_cached("SELECT data FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
        let chunks = stmt.query_map([id], |r| r.get::<_, Vec<u8>>(0))?;
        for c in chunks {
            bytes.extend_from_slice(&c?);
        }
        KefuDoc::load(&bytes, self.actor.clone())
            .map_err(|e| StoreError::CorruptDocument { doc_id: id.to_string(), detail: e.to_string() })
    }

    /// Writes what changed in `doc` since `before` (heads) in one transaction with its sync
    /// metadata and index rows. `local` lists the changes made on this device.
    fn persist(
        &mut self,
        id: &str,
        doc: &mut KefuDoc,
        before: Option<&[ChangeHash]>,
        local: &[ChangeHash],
    ) -> Result<()> {
        self.persist_with(id, doc, before, local, project::project)
    }

    /// [`Client::persist`] with the projection given (an edit projects the record it already
    /// has instead of reading the document again).
    fn persist_with(
        &mut self,
        id: &str,
        doc: &mut KefuDoc,
        before: Option<&[ChangeHash]>,
        local: &[ChangeHash],
        project: impl FnOnce(&rusqlite::Transaction<'_>, &str, &KefuDoc) -> Result<Option<String>>,
    ) -> Result<()> {
        let now = self.now();
        let kind = doc.kind().map(|k| k.to_string()).unwrap_or_else(|_| "unknown".into());
        let tx = self.conn.transaction()?;
        let existing: Option<(i64, i64, i64)> = tx
            .prepare_cached(
                "SELECT chunk_count, chunk_bytes, length(snapshot) FROM documents WHERE doc_id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        match (existing, before) {
            (Some((count, bytes, snap)), Some(before)) => {
                let chunk = doc.automerge().save_after(before);
                if count + 1 > COMPACT_AFTER_CHUNKS || bytes + chunk.len() as i64 > snap {
                    // Compact: one snapshot loads ~4x faster than ten chunks.
                    tx.prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?.execute([id])?;
                    tx.prepare_cached("UPDATE documents SET snapshot = ?2, chunk_count = 0, chunk_bytes = 0, updated_at = ?3 WHERE doc_id = ?1")?.execute(params![id, doc.save(), now])?;
                } else if !chunk.is_empty() {
                    tx.prepare_cached("INSERT INTO chunks (doc_id, seq, data) VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM chunks WHERE doc_id = ?1), ?2)")?.execute(params![id, chunk])?;
                    tx.prepare_cached("UPDATE documents SET chunk_count = chunk_count + 1, chunk_bytes = chunk_bytes + ?2, updated_at = ?3 WHERE doc_id = ?1")?.execute(params![id, chunk.len() as i64, now])?;
                }
            }
            (Some(_), None) => {
                tx.prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?.execute([id])?;
                tx.prepare_cached("UPDATE documents SET snapshot = ?2, chunk_count = 0, chunk_bytes = 0, updated_at = ?3 WHERE doc_id = ?1")?.execute(params![id, doc.save(), now])?;
            }
            (None, _) => {
                tx.prepare_cached(
                    "INSERT INTO documents (doc_id, kind, snapshot, updated_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![id, kind, doc.save(), now])?;
            }
        }
        for h in local {
            tx.prepare_cached("INSERT OR IGNORE INTO changes (hash, doc_id, status, created_at, updated_at) VALUES (?1, ?2, 'local', ?3, ?3)")?.execute(params![h.to_string(), id, now])?;
        }
        let team = project(&tx, id, doc)?;
        let heads = sync::heads_text(&doc.heads());
        tx.prepare_cached("UPDATE documents SET team = ?2, kind = ?3, heads = ?4 WHERE doc_id = ?1")?
            .execute(params![id, team, kind, heads])?;
        tx.commit()?;
        if let Some(c) = &self.checkpointer {
            c.dirty();
        }
        Ok(())
    }

    /// Stores a new document (validated) and returns its id.
    fn create<R: Record>(&mut self, record: &R) -> Result<DocumentId> {
        let (author, _) = self.who()?;
        let mut doc = KefuDoc::create(record, self.actor.clone(), &author, self.now())?;
        let id = DocumentId::from_bytes(random());
        let heads = doc.heads();
        self.persist(&id.to_string(), &mut doc, None, &heads)?;
        self.cache.put(&id.to_string(), doc);
        Ok(id)
    }

    /// Opens a keyed document (one per key), creating its genesis if this device has none.
    fn keyed<R: Record>(&mut self, key: &str, genesis: &R) -> Result<DocumentId> {
        let (id, mut doc) = KefuDoc::genesis(key, genesis, self.actor.clone())?;
        let sid = id.to_string();
        let exists: bool = self
            .conn
            .prepare_cached("SELECT count(*) FROM documents WHERE doc_id = ?1")?
            .query_row([&sid], |r| r.get::<_, i64>(0))?
            > 0;
        if !exists {
            // The genesis change is shared by every device, so it is not an outbox entry of
            // ours; edits on top of it are.
            self.persist(&sid, &mut doc, None, &[])?;
            self.cache.put(&sid, doc);
        }
        Ok(id)
    }

    /// Applies a verb to a record and commits it (validated, one change, one transaction).
    pub fn edit<R: Record, T>(
        &mut self,
        id: &DocumentId,
        f: impl FnOnce(&mut R, &Actor) -> Result<T, DocError>,
    ) -> Result<T> {
        self.edit_with(id, f, |_| Ok(()))
    }

    /// [`Client::edit`], with more rows written in the same transaction as the change (or in
    /// a transaction of their own when the verb changed nothing); not written when it fails.
    fn edit_with<R: Record, T>(
        &mut self,
        id: &DocumentId,
        f: impl FnOnce(&mut R, &Actor) -> Result<T, DocError>,
        also: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
    ) -> Result<T> {
        let (author, actor) = self.who()?;
        let sid = id.to_string();
        let mut doc = self.load(&sid)?;
        let before = doc.heads();
        let result = doc.update_returning(&author, actor.at, |r: &mut R| f(r, &actor));
        match result {
            Err(e) => {
                self.cache.put(&sid, doc);
                Err(e.into())
            }
            Ok((out, None, _)) => {
                self.cache.put(&sid, doc);
                let tx = self.conn.transaction()?;
                also(&tx)?;
                tx.commit()?;
                Ok(out)
            }
            Ok((out, Some(hash), record)) => {
                // On a failed write the in-memory copy is dropped, so memory never shows
                // what the disk does not have.
                self.persist_with(&sid, &mut doc, Some(&before), &[hash], |tx, id, _| {
                    also(tx)?;
                    project::project_record(tx, id, &record)
                })?;
                self.cache.put(&sid, doc);
                Ok(out)
            }
        }
    }

    /// Reads a record.
    pub fn read<R: Record>(&mut self, id: &DocumentId) -> Result<R> {
        let sid = id.to_string();
        let doc = self.load(&sid)?;
        let out = doc.read::<R>();
        self.cache.put(&sid, doc);
        Ok(out?)
    }

    fn with_doc<T>(&mut self, id: &DocumentId, f: impl FnOnce(&mut KefuDoc) -> T) -> Result<T> {
        let sid = id.to_string();
        let mut doc = self.load(&sid)?;
        let out = f(&mut doc);
        self.cache.put(&sid, doc);
        Ok(out)
    }

    /// Any record as JSON (the document schema), for generic screens and clients.
    pub fn record_json(&mut self, id: &DocumentId) -> Result<serde_json::Value> {
        self.with_doc(id, |d| d.json_fast())
    }

    /// The document's saved bytes (for sync and export).
    pub fn document_bytes(&mut self, id: &DocumentId) -> Result<Vec<u8>> {
        self.with_doc(id, |d| d.save())
    }

    /// The document's current heads.
    pub fn heads(&mut self, id: &DocumentId) -> Result<Vec<ChangeHash>> {
        self.with_doc(id, |d| d.heads())
    }

    /// Merges changes received from elsewhere (the server, another device, a file), creating
    /// the document if this device did not have it. Returns whether anything new arrived.
    pub fn apply_remote(&mut self, id: &DocumentId, bytes: &[u8]) -> Result<bool> {
        let sid = id.to_string();
        let mut doc = match self.load(&sid) {
            Ok(d) => d,
            Err(StoreError::NotFound(_)) => {
                let doc = KefuDoc::load(bytes, self.actor.clone())
                    .map_err(|e| StoreError::Document(e.to_string()))?;
                let mut doc = doc;
                self.persist(&sid, &mut doc, None, &[])?;
                self.cache.put(&sid, doc);
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        let before = doc.heads();
        let loaded = doc.automerge().load_incremental(bytes);
        kefu_model::document::forget_patches(doc.automerge());
        if let Err(e) = loaded {
            // The copy in memory may hold part of the bad bytes: drop it, the disk is intact.
            drop(doc);
            return Err(StoreError::Document(e.to_string()));
        }
        let changed = doc.heads() != before;
        if changed {
            self.persist(&sid, &mut doc, Some(&before), &[])?;
        }
        self.cache.put(&sid, doc);
        Ok(changed)
    }

    /// Ids of every stored document of a kind.
    pub fn documents(&self, kind: Option<DocKind>) -> Result<Vec<DocumentId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc_id FROM documents WHERE ?1 IS NULL OR kind = ?1 ORDER BY doc_id")?;
        let rows = stmt.query_map([kind.map(|k| k.as_str())], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            if let Ok(id) = r?.parse() {
                out.push(id);
            }
        }
        Ok(out)
    }

    // ---- conflicts and history --------------------------------------------------------------

    /// Fields of a record with concurrent values.
    pub fn conflicts(&mut self, id: &DocumentId) -> Result<Vec<Conflict>> {
        self.with_doc(id, |d| d.conflicts())
    }

    /// Settles a conflict by choosing one value.
    pub fn resolve_conflict(&mut self, id: &DocumentId, path: &[String], value_id: &str) -> Result<()> {
        let (author, actor) = self.who()?;
        let sid = id.to_string();
        let mut doc = self.load(&sid)?;
        let before = doc.heads();
        let res = match doc.kind()? {
            DocKind::Customer => doc.resolve_conflict::<CustomerFile>(path, value_id, &author, actor.at),
            DocKind::Attendance => doc.resolve_conflict::<AttendanceMonth>(path, value_id, &author, actor.at),
            DocKind::AppearanceCheck => {
                doc.resolve_conflict::<AppearanceCheck>(path, value_id, &author, actor.at)
            }
            DocKind::Roster => doc.resolve_conflict::<Roster>(path, value_id, &author, actor.at),
            DocKind::Campaign => doc.resolve_conflict::<kefu_model::records::campaign::Campaign>(
                path, value_id, &author, actor.at,
            ),
            DocKind::AppearanceTemplate => doc
                .resolve_conflict::<kefu_model::records::appearance::AppearanceTemplate>(
                    path, value_id, &author, actor.at,
                ),
        };
        match res {
            Ok(hash) => {
                self.persist(&sid, &mut doc, Some(&before), &[hash])?;
                self.cache.put(&sid, doc);
                Ok(())
            }
            Err(e) => {
                self.cache.put(&sid, doc);
                Err(e.into())
            }
        }
    }

    /// Who changed what and when; `prefix` narrows to a nested record (`["visits", id]`).
    pub fn history(&mut self, id: &DocumentId, prefix: &[String]) -> Result<Vec<HistoryEntry>> {
        self.with_doc(id, |d| d.history(prefix))
    }

    /// A record as it was at a version (the hashes of a history entry).
    pub fn read_at<R: Record>(&mut self, id: &DocumentId, heads: &[String]) -> Result<R> {
        let heads = parse_heads(heads)?;
        self.with_doc(id, |d| d.read_at::<R>(&heads))?.map_err(Into::into)
    }

    // ---- sync metadata ------------------------------------------------------------------------

    /// The record's sync status, from its changes: rejected beats local beats sent.
    pub fn sync_status(&self, id: &DocumentId) -> Result<SyncStatus> {
        let sid = id.to_string();
        let reason: Option<Option<String>> = self.conn.prepare_cached("SELECT reason FROM changes WHERE doc_id = ?1 AND status = 'rejected' ORDER BY updated_at DESC LIMIT 1")?.query_row([&sid], |r| r.get(0)).optional()?;
        if let Some(reason) = reason {
            return Ok(SyncStatus::Rejected { reason: reason.unwrap_or_default() });
        }
        let count = |status: &str| -> rusqlite::Result<i64> {
            self.conn
                .prepare_cached("SELECT count(*) FROM changes WHERE doc_id = ?1 AND status = ?2")?
                .query_row(params![sid, status], |r| r.get(0))
        };
        Ok(if count("local")? > 0 {
            SyncStatus::Local
        } else if count("sent")? > 0 {
            SyncStatus::Sent
        } else {
            SyncStatus::Accepted
        })
    }

    /// Local changes not yet accepted, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self.conn.prepare_cached("SELECT hash, doc_id, status, created_at FROM changes WHERE status IN ('local', 'sent') ORDER BY created_at, hash")?;
        let rows = stmt.query_map([], |r| {
            Ok(OutboxEntry { hash: r.get(0)?, doc_id: r.get(1)?, status: r.get(2)?, created_at: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Moves changes to a new status (`sent`, `accepted`, or `rejected` with a reason).
    pub fn set_change_status(&mut self, hashes: &[String], status: &str, reason: Option<&str>) -> Result<()> {
        let now = self.now();
        let tx = self.conn.transaction()?;
        for h in hashes {
            tx.prepare_cached(
                "UPDATE changes SET status = ?2, reason = ?3, updated_at = ?4 WHERE hash = ?1",
            )?
            .execute(params![h, status, reason, now])?;
        }
        tx.commit()?;
        Ok(())
    }

    // ---- customers -----------------------------------------------------------------------------

    /// Creates a customer file in this user's team (assigned to its creator when an agent).
    pub fn create_customer(&mut self, new: NewCustomer) -> Result<DocumentId> {
        let (_, actor) = self.who()?;
        let team = self.identity.as_ref().map(|i| i.team.clone()).unwrap_or_default();
        let mut c = CustomerFile::new(&team, new.profile, &actor.user, actor.at);
        if let Some(cl) = new.classification {
            c.classification = cl;
        }
        // An agent who takes a new customer is responsible for it (and keeps access to it on
        // the server, which lets agents create only customers assigned to themselves).
        if self.identity.as_ref().is_some_and(|i| i.role == Role::Agent) {
            c.assignment.agent = Some(actor.user.clone());
            c.assignment.assigned_at = Some(actor.at);
        }
        self.create(&c)
    }

    /// Replaces the profile.
    pub fn update_profile(&mut self, id: &DocumentId, profile: Profile) -> Result<()> {
        self.edit(id, |c: &mut CustomerFile, _| {
            c.profile = profile;
            Ok(())
        })
    }

    /// Replaces the classification.
    pub fn update_classification(&mut self, id: &DocumentId, classification: Classification) -> Result<()> {
        self.edit(id, |c: &mut CustomerFile, _| {
            c.classification = classification;
            Ok(())
        })
    }

    /// Assigns agent and/or field staff.
    pub fn assign_customer(
        &mut self,
        id: &DocumentId,
        agent: Option<String>,
        field_staff: Option<String>,
    ) -> Result<()> {
        self.edit(id, |c: &mut CustomerFile, by| {
            c.assign(by, agent, field_staff);
            Ok(())
        })
    }

    /// Adds an order; returns its id.
    pub fn add_order(&mut self, id: &DocumentId, order: Order) -> Result<String> {
        let oid = new_record_id();
        self.edit(id, |c: &mut CustomerFile, _| {
            c.add_order(oid.clone(), order);
            Ok(oid)
        })
    }

    /// Logs a consultation; returns its id.
    pub fn log_contact(&mut self, id: &DocumentId, channel: ContactChannel, summary: &str) -> Result<String> {
        let rid = new_record_id();
        self.edit(id, |c: &mut CustomerFile, by| {
            c.log_contact(rid.clone(), by, channel, summary);
            Ok(rid)
        })
    }

    /// Schedules a callback; returns its id.
    pub fn schedule_callback(&mut self, id: &DocumentId, new: &NewCallback) -> Result<String> {
        let rid = new_record_id();
        self.edit(id, |c: &mut CustomerFile, by| {
            c.schedule_callback(rid.clone(), by, new);
            Ok(rid)
        })
    }

    /// Records a callback attempt or result.
    pub fn record_callback(
        &mut self,
        id: &DocumentId,
        callback: &str,
        result: &CallbackResult,
    ) -> Result<()> {
        let aid = new_record_id();
        self.edit(id, |c: &mut CustomerFile, by| c.record_callback(callback, aid, by, result))
    }

    /// Cancels a callback.
    pub fn cancel_callback(&mut self, id: &DocumentId, callback: &str, reason: &str) -> Result<()> {
        self.edit(id, |c: &mut CustomerFile, by| c.cancel_callback(callback, by, reason))
    }

    /// Dispatches a visit; returns its id.
    pub fn dispatch_visit(&mut self, id: &DocumentId, visit: &NewVisit) -> Result<String> {
        let rid = new_record_id();
        self.edit(id, |c: &mut CustomerFile, by| {
            c.dispatch_visit(rid.clone(), by, visit);
            Ok(rid)
        })
    }

    /// Moves a visit on (en route, on site, reviewed, cancelled).
    pub fn advance_visit(
        &mut self,
        id: &DocumentId,
        visit: &str,
        to: VisitStep,
        note: Option<String>,
    ) -> Result<()> {
        self.edit(id, |c: &mut CustomerFile, by| c.advance_visit(visit, by, to, note))
    }

    /// Completes a visit.
    pub fn complete_visit(&mut self, id: &DocumentId, visit: &str, done: &VisitCompletion) -> Result<()> {
        self.edit(id, |c: &mut CustomerFile, by| c.complete_visit(visit, by, done))
    }

    /// Takes a complaint; returns its id.
    pub fn take_complaint(&mut self, id: &DocumentId, complaint: &NewComplaint) -> Result<String> {
        let rid = new_record_id();
        self.edit(id, |c: &mut CustomerFile, by| {
            c.take_complaint(rid.clone(), by, complaint);
            Ok(rid)
        })
    }

    /// Forwards a complaint to a department.
    pub fn forward_complaint(&mut self, id: &DocumentId, complaint: &str, department: &str) -> Result<()> {
        self.complaint_step(id, complaint, ComplaintStep::Forwarded, Some(department.to_string()))
    }

    /// Resolves a complaint with how it was resolved.
    pub fn resolve_complaint(&mut self, id: &DocumentId, complaint: &str, resolution: &str) -> Result<()> {
        self.complaint_step(id, complaint, ComplaintStep::Resolved, Some(resolution.to_string()))
    }

    /// The customer confirmed being satisfied.
    pub fn confirm_complaint(&mut self, id: &DocumentId, complaint: &str) -> Result<()> {
        self.complaint_step(id, complaint, ComplaintStep::Confirmed, None)
    }

    /// The customer is not satisfied: reopen.
    pub fn reopen_complaint(&mut self, id: &DocumentId, complaint: &str, why: &str) -> Result<()> {
        self.complaint_step(id, complaint, ComplaintStep::Reopened, Some(why.to_string()))
    }

    /// Any complaint step.
    pub fn complaint_step(
        &mut self,
        id: &DocumentId,
        complaint: &str,
        to: ComplaintStep,
        text: Option<String>,
    ) -> Result<()> {
        self.edit(id, |c: &mut CustomerFile, by| c.complaint_step(complaint, by, to, text))
    }

    // ---- appearance, attendance, roster ------------------------------------------------------

    /// The team's appearance sheet for a date (created if absent).
    pub fn appearance_sheet(&mut self, team: &str, date: &str) -> Result<DocumentId> {
        if Date::parse(date).is_none() {
            return Err(invalid("appearance check", "date", format!("{date:?} is not a date (YYYY-MM-DD)")));
        }
        self.keyed(&format!("appearance_check/{team}/{date}"), &AppearanceCheck::new(team, date))
    }

    /// Records one person's appearance check on today's sheet of the user's team; items not
    /// listed passed. Uses the team's current template, or the built-in one (seed 004).
    pub fn fill_appearance_check(
        &mut self,
        staff: &str,
        results: std::collections::BTreeMap<String, ItemResult>,
    ) -> Result<DocumentId> {
        let team = self.identity.as_ref().ok_or(StoreError::NoIdentity)?.team.clone();
        let today = self.today();
        let sheet = self.appearance_sheet(&team, &today)?;
        let template = self.current_template(&team)?;
        self.edit(&sheet, |s: &mut AppearanceCheck, by| s.record(by, staff, &template, results))?;
        Ok(sheet)
    }

    fn current_template(&mut self, team: &str) -> Result<SheetTemplate> {
        let id: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT doc_id FROM idx_keyed WHERE kind = 'appearance_template' AND team = ?1 LIMIT 1",
            )?
            .query_row([team], |r| r.get(0))
            .optional()?;
        if let Some(id) = id.and_then(|i| i.parse::<DocumentId>().ok()) {
            let t: kefu_model::records::appearance::AppearanceTemplate = self.read(&id)?;
            if let Some(v) = t.current() {
                return Ok(SheetTemplate {
                    template_id: id.to_string(),
                    version: v.version,
                    items: v.items.clone(),
                });
            }
        }
        Ok(SheetTemplate { template_id: "builtin".into(), version: 1, items: default_template_items() })
    }

    /// A staff member's attendance document for a month (created if absent).
    pub fn attendance_month(&mut self, staff: &str, team: &str, month: &str) -> Result<DocumentId> {
        if !kefu_model::dates::is_month(month) {
            return Err(invalid("attendance", "month", format!("{month:?} is not a month (YYYY-MM)")));
        }
        self.keyed(&format!("attendance/{team}/{staff}/{month}"), &AttendanceMonth::new(staff, team, month))
    }

    fn my_month(&mut self, date: &str) -> Result<DocumentId> {
        let id = self.identity.clone().ok_or(StoreError::NoIdentity)?;
        self.attendance_month(&id.user_id, &id.team, &date[..7])
    }

    /// The rostered shift of the signed-in user for a date (early when the roster is silent).
    pub fn my_shift(&mut self, date: &str) -> Result<Shift> {
        let id = self.identity.clone().ok_or(StoreError::NoIdentity)?;
        let roster: Option<String> = self
            .conn
            .prepare_cached("SELECT doc_id FROM idx_keyed WHERE kind = 'roster' AND team = ?1 AND key = ?2")?
            .query_row(params![id.team, &date[..7]], |r| r.get(0))
            .optional()?;
        if let Some(rid) = roster.and_then(|r| r.parse::<DocumentId>().ok()) {
            let r: Roster = self.read(&rid)?;
            if let Some(s) = r.shift(date, &id.user_id) {
                return Ok(s);
            }
        }
        Ok(Shift::Early)
    }

    /// The signed-in user's attendance on a date (clock events, lateness, leave), read from
    /// their attendance month without creating it; the rostered shift when nothing is recorded.
    pub fn my_day(&mut self, date: &str) -> Result<kefu_model::records::attendance::DaySummary> {
        if Date::parse(date).is_none() {
            return Err(invalid("attendance", "date", format!("{date:?} is not a date (YYYY-MM-DD)")));
        }
        let id = self.identity.clone().ok_or(StoreError::NoIdentity)?;
        let doc = self.attendance_for_month(&date[..7], Some(&id.user_id))?.into_iter().next();
        if let Some(doc) = doc.and_then(|d| d.doc_id.parse::<DocumentId>().ok()) {
            let month: AttendanceMonth = self.read(&doc)?;
            return Ok(month.day(date, self.utc_offset_min));
        }
        let shift = self.my_shift(date)?;
        Ok(kefu_model::records::attendance::DaySummary {
            date: date.to_string(),
            shift: Some(shift),
            ..Default::default()
        })
    }

    /// Clocks the signed-in user in or out now. The shift comes from the roster.
    pub fn clock(&mut self, clock: ClockKind, location: Option<String>) -> Result<DocumentId> {
        let today = self.today();
        // A late shift's clock-out after midnight belongs to the day the shift started.
        let now = self.now();
        let minute = kefu_model::dates::minute_of_day(now, self.utc_offset_min);
        let date = if clock == ClockKind::Out && minute < 6 * 60 {
            Date::of_time(now, self.utc_offset_min).add_days(-1).to_string()
        } else {
            today
        };
        let shift = self.my_shift(&date)?;
        let doc = self.my_month(&date)?;
        let eid = new_record_id();
        self.edit(&doc, |a: &mut AttendanceMonth, by| {
            a.clock(eid, by, &date, clock, shift, location);
            Ok(())
        })?;
        Ok(doc)
    }

    /// Asks for leave; returns (document, request id).
    pub fn request_leave(&mut self, new: &NewLeave) -> Result<(DocumentId, String)> {
        let start = new.start.as_str();
        if Date::parse(start).is_none() {
            return Err(invalid("leave", "start_date", format!("{start:?} is not a date (YYYY-MM-DD)")));
        }
        let doc = self.my_month(start)?;
        let rid = new_record_id();
        self.edit(&doc, |a: &mut AttendanceMonth, by| {
            a.request_leave(rid.clone(), by, new);
            Ok(())
        })?;
        Ok((doc, rid))
    }

    /// An approver (by role) answers a leave request.
    pub fn decide_leave(
        &mut self,
        doc: &DocumentId,
        leave: &str,
        role: Approver,
        decision: Decision,
        note: Option<String>,
    ) -> Result<()> {
        self.edit(doc, |a: &mut AttendanceMonth, by| a.decide_leave(leave, by, role, decision, note))
    }

    /// Attaches a medical certificate reference to a leave request.
    pub fn attach_certificate_ref(&mut self, doc: &DocumentId, leave: &str, reference: &str) -> Result<()> {
        self.edit(doc, |a: &mut AttendanceMonth, _| {
            a.attach_certificate(leave, None, Some(reference.to_string()))
        })
    }

    /// Asks a colleague for a shift swap; returns (document, swap id).
    pub fn request_swap(&mut self, date: &str, with: &str, their_date: &str) -> Result<(DocumentId, String)> {
        let my_shift = self.my_shift(date)?;
        let id = self.identity.clone().ok_or(StoreError::NoIdentity)?;
        let their_shift = self.shift_of(&id.team, with, their_date)?;
        let doc = self.my_month(date)?;
        let sid = new_record_id();
        self.edit(&doc, |a: &mut AttendanceMonth, by| {
            let new = NewSwap {
                date: date.to_string(),
                my_shift,
                with_staff: with.to_string(),
                their_date: their_date.to_string(),
                their_shift,
            };
            a.request_swap(sid.clone(), by, &new);
            Ok(())
        })?;
        Ok((doc, sid))
    }

    fn shift_of(&mut self, team: &str, staff: &str, date: &str) -> Result<Shift> {
        if date.len() < 7 {
            return Ok(Shift::Early);
        }
        let roster: Option<String> = self
            .conn
            .prepare_cached("SELECT doc_id FROM idx_keyed WHERE kind = 'roster' AND team = ?1 AND key = ?2")?
            .query_row(params![team, &date[..7]], |r| r.get(0))
            .optional()?;
        if let Some(rid) = roster.and_then(|r| r.parse::<DocumentId>().ok()) {
            let r: Roster = self.read(&rid)?;
            return Ok(r.shift(date, staff).unwrap_or(Shift::Early));
        }
        Ok(Shift::Early)
    }

    /// The colleague agrees to a swap.
    pub fn agree_swap(&mut self, doc: &DocumentId, swap: &str) -> Result<()> {
        self.edit(doc, |a: &mut AttendanceMonth, by| a.agree_swap(swap, by))
    }

    /// The manager answers a swap.
    pub fn decide_swap(
        &mut self,
        doc: &DocumentId,
        swap: &str,
        decision: Decision,
        note: Option<String>,
    ) -> Result<()> {
        self.edit(doc, |a: &mut AttendanceMonth, by| a.decide_swap(swap, by, decision, note))
    }

    /// The team's roster for a month (created if absent; written by supervisors).
    pub fn roster(&mut self, team: &str, month: &str) -> Result<DocumentId> {
        self.keyed(&format!("roster/{team}/{month}"), &Roster::new(team, month))
    }

    /// Sets shifts on a roster: (date, staff, shift).
    pub fn set_shifts(&mut self, roster: &DocumentId, shifts: &[(String, String, Shift)]) -> Result<()> {
        self.edit(roster, |r: &mut Roster, _| {
            for (date, staff, shift) in shifts {
                r.shifts.insert(Roster::key(date, staff), *shift);
            }
            Ok(())
        })
    }

    // ---- list queries ----------------------------------------------------------------------------

    /// Customers whose name, phone, address or notes contain `query` (any fragment, Chinese
    /// included); all customers by name when `query` is blank.
    pub fn search_customers(&self, query: &str, limit: usize) -> Result<Vec<CustomerRow>> {
        let q = query.trim();
        let limit = limit as i64;
        let cols = "c.doc_id, c.name, c.phones, c.district, c.stage, c.agent, c.field_staff";
        let map = customer_row;
        if q.is_empty() {
            let mut s = self
                .conn
                .prepare_cached(&format!("SELECT {cols} FROM idx_customers c ORDER BY c.name LIMIT ?1"))?;
            let rows = s.query_map([limit], map)?.collect::<rusqlite::Result<_>>()?;
            return Ok(rows);
        }
        if q.chars().count() >= 3 {
            // Trigram match; quoted so the text is a phrase, not FTS syntax.
            let phrase = format!("\"{}\"", q.replace('"', "\"\"").replace(['-', ' '], ""));
            let mut s = self.conn.prepare_cached(&format!("SELECT {cols} FROM customers_fts f JOIN idx_customers c ON c.rowid = f.rowid WHERE customers_fts MATCH ?1 ORDER BY c.name LIMIT ?2"))?;
            let rows = s.query_map(params![phrase, limit], map)?.collect::<rusqlite::Result<_>>()?;
            return Ok(rows);
        }
        // One or two characters: too short for trigrams, scan the small index table.
        let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let mut s = self.conn.prepare_cached(&format!("SELECT {cols} FROM idx_customers c WHERE c.name LIKE ?1 ESCAPE '\\' OR c.phones LIKE ?1 ESCAPE '\\' ORDER BY c.name LIMIT ?2"))?;
        let rows = s.query_map(params![like, limit], map)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Customers assigned to a user (as agent or field staff).
    pub fn customers_assigned_to(&self, user: &str) -> Result<Vec<CustomerRow>> {
        let mut s = self.conn.prepare_cached("SELECT doc_id, name, phones, district, stage, agent, field_staff FROM idx_customers WHERE agent = ?1 OR field_staff = ?1 ORDER BY name")?;
        let rows = s.query_map([user], customer_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Customers assigned more than seven days ago and never contacted since.
    pub fn overdue_first_contacts(&self) -> Result<Vec<CustomerRow>> {
        let cutoff = self.now() - 7 * 86_400_000;
        let mut s = self.conn.prepare_cached("SELECT doc_id, name, phones, district, stage, agent, field_staff FROM idx_customers WHERE assigned_at IS NOT NULL AND assigned_at < ?1 AND first_contact_at IS NULL ORDER BY assigned_at")?;
        let rows = s.query_map([cutoff], customer_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Open callbacks due on or before `until` (YYYY-MM-DD), for one agent or all, oldest first.
    pub fn due_callbacks(&self, agent: Option<&str>, until: &str) -> Result<Vec<CallbackRow>> {
        let mut s = self.conn.prepare_cached(
            "SELECT doc_id, callback_id, customer_name, agent, scheduled_for, status FROM idx_callbacks \
             WHERE status IN ('scheduled', 'attempting') AND (?1 IS NULL OR agent = ?1) AND scheduled_for <= ?2 \
             ORDER BY scheduled_for, customer_name",
        )?;
        let rows = s.query_map(params![agent, until], |r| {
            Ok(CallbackRow {
                doc_id: r.get(0)?,
                callback_id: r.get(1)?,
                customer_name: r.get(2)?,
                agent: r.get(3)?,
                scheduled_for: r.get(4)?,
                status: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Open visits (dispatched, en route, on site), for one staff member or all, by window.
    pub fn open_visits(&self, staff: Option<&str>) -> Result<Vec<VisitRow>> {
        let mut s = self.conn.prepare_cached(
            "SELECT doc_id, visit_id, customer_name, staff, status, work_order, window_start, window_end FROM idx_visits \
             WHERE status IN ('dispatched', 'en_route', 'on_site') AND (?1 IS NULL OR staff = ?1) ORDER BY window_start",
        )?;
        let rows = s.query_map(params![staff], |r| {
            Ok(VisitRow {
                doc_id: r.get(0)?,
                visit_id: r.get(1)?,
                customer_name: r.get(2)?,
                staff: r.get(3)?,
                status: r.get(4)?,
                work_order: r.get(5)?,
                window_start: r.get(6)?,
                window_end: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Open complaints (not resolved or confirmed), for one handler or all, oldest first.
    pub fn open_complaints(&self, handler: Option<&str>) -> Result<Vec<ComplaintRow>> {
        let mut s = self.conn.prepare_cached(
            "SELECT doc_id, complaint_id, customer_name, handler, status, round, severity, received_at FROM idx_complaints \
             WHERE status NOT IN ('resolved', 'confirmed') AND (?1 IS NULL OR handler = ?1) ORDER BY received_at",
        )?;
        let rows = s.query_map(params![handler], |r| {
            Ok(ComplaintRow {
                doc_id: r.get(0)?,
                complaint_id: r.get(1)?,
                customer_name: r.get(2)?,
                handler: r.get(3)?,
                status: r.get(4)?,
                round: r.get(5)?,
                severity: r.get(6)?,
                received_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The team's appearance sheet for a date, if any.
    pub fn appearance_check_on(&self, team: &str, date: &str) -> Result<Option<CheckRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT doc_id, date, checked, passed FROM idx_checks WHERE team = ?1 AND date = ?2",
            )?
            .query_row(params![team, date], |r| {
                Ok(CheckRow { doc_id: r.get(0)?, date: r.get(1)?, checked: r.get(2)?, passed: r.get(3)? })
            })
            .optional()?)
    }

    /// Attendance documents of a month (one staff member or all).
    pub fn attendance_for_month(&self, month: &str, staff: Option<&str>) -> Result<Vec<AttendanceRow>> {
        let mut s = self.conn.prepare_cached("SELECT doc_id, staff, month FROM idx_attendance WHERE month = ?1 AND (?2 IS NULL OR staff = ?2) ORDER BY staff")?;
        let rows = s.query_map(params![month, staff], |r| {
            Ok(AttendanceRow { doc_id: r.get(0)?, staff: r.get(1)?, month: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Bytes stored per document kind: (kind, documents, bytes).
    pub fn storage_by_kind(&self) -> Result<Vec<(String, i64, i64)>> {
        let mut s = self.conn.prepare_cached(
            "SELECT d.kind, count(*), sum(length(d.snapshot) + coalesce((SELECT sum(length(data)) FROM chunks c WHERE c.doc_id = d.doc_id), 0)) FROM documents d GROUP BY d.kind ORDER BY d.kind",
        )?;
        let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
