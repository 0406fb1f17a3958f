//! `GET /sync`: the automerge-repo network protocol (v1) over WebSocket.
//!
//! One task per connection. The first message must be `join`; the server answers `peer`.
//! For each document a connection syncs, the server keeps an automerge sync state and runs
//! the standard sync protocol against its stored copy, with three differences that make the
//! server the supervisor's source of truth:
//!
//! * Incoming changes are merged into a *copy* of the stored document and handed to the
//!   acceptance pipeline ([`crate::accept::accept_merged`]). The server answers only after the
//!   pipeline returns, so a peer never hears of a change the server has not committed.
//! * A refused change is quarantined and the peer is told with an `ephemeral` message
//!   carrying a [`Notice`] (`rejected`, the reason, the change hashes). The server's sync
//!   state for that document on that connection becomes read-only (automerge's READ_ONLY
//!   flag), so the peer stops offering the refused change instead of looping. A read-only
//!   user gets the same treatment with a `read-only` notice.
//! * A document the peer may not see is `doc-unavailable`, exactly like one that does not
//!   exist. A `sync` for an unknown document is answered from an empty document, so the peer
//!   sends its changes; they create the document if they validate as a kind the peer's role
//!   may create.
//!
//! Accepted changes are pushed to every other connection following the document.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kefu_model::automerge::sync::{self, SyncDoc};
use kefu_model::automerge::{AutoCommit, Change};
use kefu_model::document::{forget_patches, json_text_of};
use kefu_model::ids::DocumentId;
use kefu_protocol::{Message, Notice, PeerMetadata, PROTOCOL_VERSION};
use rusqlite::{Connection, OptionalExtension};
use serde::Deserialize;

use crate::accept::{self, Outcome, Stored};
use crate::access::{access, Access, DocMeta};
use crate::auth::{self, Principal};
use crate::error::ServerError;
use crate::http::AppState;
use crate::hub::{Audience, Control, Hub};
use crate::metrics::Metrics;

/// Limits that protect the server from one misbehaving peer. Each broken limit is answered
/// with an `error` message and the connection is closed; other connections are unaffected.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest protocol message (one WebSocket message), bytes.
    pub max_message_bytes: usize,
    /// Largest stored document, bytes.
    pub max_document_bytes: usize,
    /// Sustained messages per second per connection.
    pub messages_per_second: u32,
    /// Messages a connection may send in a burst above the sustained rate.
    pub message_burst: u32,
    /// How often the server pings (and re-checks the token).
    pub ping_interval: Duration,
    /// A connection silent for this long is closed.
    pub idle_timeout: Duration,
    /// Documents kept in memory (least recently used evicted; the rest load from SQLite).
    pub doc_cache: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 << 20,
            max_document_bytes: 32 << 20,
            messages_per_second: 500,
            message_burst: 5_000,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(90),
            doc_cache: 2_000,
        }
    }
}

/// Documents kept in memory, least recently used evicted. An entry is valid while its heads
/// equal the stored heads, so writes made by other paths (the supervisor API, seeding) are
/// never served stale.
#[derive(Debug)]
pub struct DocCache {
    /// Boxed: a `Stored` is 4 KiB inline (its `AutoCommit`), and the map keeps spare room.
    map: HashMap<String, (Box<Stored>, String, u64)>,
    /// Last use → document, oldest first.
    order: BTreeMap<u64, String>,
    tick: u64,
    capacity: usize,
}

impl DocCache {
    /// A cache of at most `capacity` documents.
    pub fn new(capacity: usize) -> DocCache {
        DocCache { map: HashMap::new(), order: BTreeMap::new(), tick: 0, capacity: capacity.max(1) }
    }

    /// The stored document, from memory when current, otherwise loaded.
    pub fn get(&mut self, conn: &Connection, id: &str) -> Result<Option<&mut Stored>, ServerError> {
        let heads: Option<String> = conn
            .prepare_cached("SELECT heads FROM documents WHERE doc_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let Some(heads) = heads else {
            self.remove(id);
            return Ok(None);
        };
        let fresh = self.map.get(id).is_some_and(|(_, h, _)| *h == heads);
        if !fresh {
            let Some(stored) = accept::load(conn, id)? else { return Ok(None) };
            self.insert(id, stored, heads);
        }
        self.tick += 1;
        let tick = self.tick;
        let Some((s, _, t)) = self.map.get_mut(id) else { return Ok(None) };
        self.order.remove(t);
        *t = tick;
        self.order.insert(tick, id.to_string());
        Ok(Some(&mut **s))
    }

    /// Drops the cached copy (the next reader loads the stored bytes).
    pub fn remove(&mut self, id: &str) {
        if let Some((_, _, t)) = self.map.remove(id) {
            self.order.remove(&t);
        }
    }

    /// Replaces the cached copy after an accepted change.
    pub fn put(&mut self, id: &str, mut stored: Stored) {
        let heads = stored.doc.get_heads().iter().map(|h| h.to_string()).collect::<Vec<_>>().join(",");
        self.insert(id, stored, heads);
    }

    fn insert(&mut self, id: &str, stored: Stored, heads: String) {
        self.remove(id);
        while self.map.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            self.map.remove(&oldest);
        }
        self.tick += 1;
        self.order.insert(self.tick, id.to_string());
        self.map.insert(id.to_string(), (Box::new(stored), heads, self.tick));
    }
}

/// The initial read buffer of each sync connection's WebSocket (tungstenite's default is 128 KiB).
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// State shared by every sync connection.
#[derive(Debug)]
pub struct SyncShared {
    /// Live connections.
    pub hub: Hub,
    /// Documents in memory.
    pub cache: Mutex<DocCache>,
    /// Counters.
    pub metrics: Metrics,
    /// Limits.
    pub limits: Limits,
    /// The server's peer id.
    pub peer_id: String,
    /// The server's storage id.
    pub storage_id: String,
    /// Ephemeral session id of this process.
    pub session_id: String,
}

impl SyncShared {
    /// Shared state for a server with this storage id.
    pub fn new(storage_id: &str, limits: Limits) -> SyncShared {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        SyncShared {
            hub: Hub::default(),
            cache: Mutex::new(DocCache::new(limits.doc_cache)),
            metrics: Metrics::default(),
            limits,
            peer_id: format!("kefu-server-{storage_id}"),
            storage_id: storage_id.to_string(),
            session_id: b.iter().map(|x| format!("{x:02x}")).collect(),
        }
    }

    /// The document cache (lock after the database, never before).
    pub fn cache(&self) -> MutexGuard<'_, DocCache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The token from `Authorization: Bearer` or `?token=`.
pub fn bearer(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string())
        .or_else(|| query.map(str::to_string))
        .filter(|t| !t.is_empty())
}

/// Resolves a token off the async threads.
pub async fn resolve(state: &AppState, token: Option<String>) -> Result<Principal, ServerError> {
    let token = token.ok_or(ServerError::Unauthorized)?;
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || auth::principal(&db.lock(), &token))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??
        .ok_or(ServerError::Unauthorized)
}

/// `?token=` on the upgrade request.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
    /// `all`: push changes of every document this user may read, not only those synced on
    /// this connection (Kefu phones ask for this; stock automerge-repo clients do not).
    follow: Option<String>,
}

/// `GET /sync`: 401 before the upgrade without a valid token.
pub async fn handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let (q, follow_all) = match query {
        Ok(Query(q)) => (q.token, q.follow.as_deref() == Some("all")),
        Err(_) => (None, false),
    };
    let token = bearer(&headers, q.as_deref());
    let principal = match resolve(&state, token.clone()).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    let limit = state.sync.limits.max_message_bytes;
    // The socket layer refuses frames far beyond the limit outright; those just above it are
    // read and answered with an `error` message.
    // A phone's messages are small (one edit is a few hundred bytes): the socket layer's
    // default 128 KiB read buffer per connection was half the server's memory with 1,000
    // phones connected. Longer messages still arrive whole; the buffer grows for them.
    ws.max_message_size(limit.saturating_mul(2))
        .max_frame_size(limit.saturating_mul(2))
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| connection(socket, state, principal, token.unwrap_or_default(), follow_all))
}

/// Per-document sync bookkeeping of one connection: one for every document a peer follows,
/// kept for the connection's life. The two documents are boxed because an `AutoCommit` is
/// 4 KiB inline: unboxed, each entry of a connection's map took 8.7 KiB, empty or not, which
/// was most of the server's memory per connection (docs/performance.md, lesson 19).
#[derive(Debug)]
struct DocSync {
    state: sync::State,
    /// For a document the server does not have (yet): the empty document the peer syncs
    /// against until its changes create it.
    pending: Option<Box<AutoCommit>>,
    /// The stored document plus changes whose dependencies have not arrived yet. Automerge
    /// keeps such changes queued and asks for the missing ones; the copy is kept until they
    /// come, then goes through acceptance whole.
    partial: Option<Box<AutoCommit>>,
    /// The peer was told its changes were refused or not applied.
    told: bool,
    /// The last message sent answered the peer's request with the document: the peer's
    /// acknowledgement is answered with the server's heads (once, so two peers never echo
    /// heads at each other).
    owe_heads: bool,
}

impl DocSync {
    fn new() -> DocSync {
        DocSync { state: sync::State::new(), pending: None, partial: None, told: false, owe_heads: false }
    }
}

/// What one connection knows.
#[derive(Debug)]
struct Conn {
    id: u64,
    principal: Principal,
    peer: Option<String>,
    /// `user/storage-id` of a peer with persistent storage: its sync states are saved.
    storage: Option<String>,
    docs: HashMap<String, DocSync>,
    ephemeral_count: u64,
}

/// What handling one message asks the connection task to do.
#[derive(Debug, Default)]
struct Step {
    send: Vec<Message>,
    close: Option<String>,
    /// Close without an error (the peer said `leave`).
    bye: bool,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

async fn connection(
    mut socket: WebSocket,
    state: AppState,
    principal: Principal,
    token: String,
    follow_all: bool,
) {
    let shared = state.sync.clone();
    let (id, mut control) = shared.hub.register(&principal, follow_all);
    tracing::info!(conn = id, user = %principal.user_id, device = %principal.device_id, "sync connection opened");
    let mut conn =
        Box::new(Conn { id, principal, peer: None, storage: None, docs: HashMap::new(), ephemeral_count: 0 });
    let limits = shared.limits.clone();
    let mut ping = tokio::time::interval(limits.ping_interval);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let mut bucket = Bucket { tokens: f64::from(limits.message_burst), at: Instant::now() };
    let reason: Option<String> = loop {
        let step = tokio::select! {
            incoming = socket.recv() => {
                last_heard = Instant::now();
                match incoming {
                    None | Some(Ok(WsMessage::Close(_))) => break None,
                    Some(Err(e)) => {
                        shared.metrics.protocol_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::info!(conn = id, error = %e, "sync connection broken");
                        break None;
                    }
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                    Some(Ok(WsMessage::Text(_))) => {
                        Step { close: Some("text frames are not part of the protocol; send CBOR in binary frames".into()), ..Step::default() }
                    }
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        let now = Instant::now();
                        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * f64::from(limits.messages_per_second)).min(f64::from(limits.message_burst));
                        bucket.at = now;
                        if bucket.tokens < 1.0 {
                            Step { close: Some(format!("more than {} messages per second", limits.messages_per_second)), ..Step::default() }
                        } else if bytes.len() > limits.max_message_bytes {
                            bucket.tokens -= 1.0;
                            Step { close: Some(format!("message of {} bytes exceeds the limit of {} bytes", bytes.len(), limits.max_message_bytes)), ..Step::default() }
                        } else {
                            bucket.tokens -= 1.0;
                            let started = Instant::now();
                            let (c, step) = on_blocking(&state, conn, move |st, c| handle_frame(st, c, &bytes)).await;
                            conn = c;
                            shared.metrics.observe_sync(started.elapsed());
                            step
                        }
                    }
                }
            }
            ctl = control.recv() => match ctl {
                None => break Some("server shutting down".into()),
                Some(Control::Close(reason)) => Step { close: Some(reason), ..Step::default() },
                Some(Control::Ephemeral(mut m)) => {
                    if let (Message::Ephemeral { target_id, .. }, Some(peer)) = (&mut m, &conn.peer) {
                        target_id.clone_from(peer);
                    }
                    Step { send: vec![m], ..Step::default() }
                }
                Some(Control::DocChanged(doc)) => {
                    let (c, step) = on_blocking(&state, conn, move |st, c| push(st, c, &doc)).await;
                    conn = c;
                    step
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > limits.idle_timeout {
                    break Some(format!("no message for {} s", limits.idle_timeout.as_secs()));
                }
                if resolve(&state, Some(token.clone())).await.is_err() {
                    Step { close: Some("the token is no longer valid (expired, device revoked or user disabled)".into()), ..Step::default() }
                } else if socket.send(WsMessage::Ping(Vec::new().into())).await.is_err() {
                    break None;
                } else {
                    continue;
                }
            }
        };
        let mut failed = false;
        for m in step.send {
            if socket.send(WsMessage::Binary(kefu_protocol::encode(&m).into())).await.is_err() {
                failed = true;
                break;
            }
        }
        if failed {
            break None;
        }
        if let Some(reason) = step.close {
            break Some(reason);
        }
        if step.bye {
            break None;
        }
    };
    if let Some(reason) = &reason {
        shared.metrics.protocol_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(conn = id, reason, "closing sync connection");
        let m = Message::Error { message: reason.clone() };
        let _ = socket.send(WsMessage::Binary(kefu_protocol::encode(&m).into())).await;
    }
    let _ = socket.send(WsMessage::Close(None)).await;
    shared.hub.unregister(id);
    if conn.storage.is_some() {
        let db = state.db.clone();
        let saved = tokio::task::spawn_blocking(move || save_states(&db.lock(), &conn)).await;
        if let Ok(Err(e)) = saved {
            tracing::warn!(conn = id, error = %e, "sync states not saved");
        }
    }
    tracing::info!(conn = id, "sync connection closed");
}

/// Runs `f` on a blocking thread with the connection's state, which moves there and back.
async fn on_blocking(
    state: &AppState,
    conn: Box<Conn>,
    f: impl FnOnce(&AppState, &mut Conn) -> Result<Step, ServerError> + Send + 'static,
) -> (Box<Conn>, Step) {
    let st = state.clone();
    // Kept outside, so a panicking handler still leaves a connection to close properly.
    let (id, principal, peer, storage) =
        (conn.id, conn.principal.clone(), conn.peer.clone(), conn.storage.clone());
    let res = tokio::task::spawn_blocking(move || {
        let mut conn = conn;
        let step = f(&st, &mut conn);
        (conn, step)
    })
    .await;
    match res {
        Ok((conn, Ok(step))) => (conn, step),
        Ok((conn, Err(e))) => {
            tracing::error!(error = %e, "sync message failed");
            (conn, Step { close: Some("internal error; try again later".into()), ..Step::default() })
        }
        Err(e) => {
            // The handler panicked: the connection state went with it. Close this connection
            // only; the server and its other connections go on.
            tracing::error!(error = %e, ?peer, "sync handler panicked");
            (
                Box::new(Conn { id, principal, peer, storage, docs: HashMap::new(), ephemeral_count: 0 }),
                Step { close: Some("internal error; try again later".into()), ..Step::default() },
            )
        }
    }
}

fn now_ms() -> i64 {
    auth::now_ms()
}

fn handle_frame(st: &AppState, c: &mut Conn, bytes: &[u8]) -> Result<Step, ServerError> {
    st.sync.metrics.messages.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let msg = match kefu_protocol::decode(bytes) {
        Ok(m) => m,
        Err(e) => return Ok(Step { close: Some(format!("malformed message: {e}")), ..Step::default() }),
    };
    let shared = &st.sync;
    match msg {
        Message::Join { sender_id, supported_protocol_versions, metadata } => {
            c.storage = metadata
                .filter(|m| !m.is_ephemeral)
                .and_then(|m| m.storage_id)
                .map(|s| format!("{}/{s}", c.principal.user_id));
            if !supported_protocol_versions.iter().any(|v| v == PROTOCOL_VERSION) {
                return Ok(Step {
                    close: Some(format!(
                        "unsupported protocol versions {supported_protocol_versions:?}; this server speaks {PROTOCOL_VERSION}"
                    )),
                    ..Step::default()
                });
            }
            shared.hub.set_peer(c.id, &sender_id);
            c.peer = Some(sender_id.clone());
            Ok(Step {
                send: vec![Message::Peer {
                    sender_id: shared.peer_id.clone(),
                    selected_protocol_version: PROTOCOL_VERSION.into(),
                    target_id: sender_id,
                    metadata: Some(PeerMetadata {
                        storage_id: Some(shared.storage_id.clone()),
                        is_ephemeral: false,
                    }),
                }],
                ..Step::default()
            })
        }
        _ if c.peer.is_none() => {
            Ok(Step { close: Some("the first message must be join".into()), ..Step::default() })
        }
        Message::Leave { .. } => Ok(Step { bye: true, ..Step::default() }),
        Message::Request { document_id, data, .. } => handle_doc(st, c, true, document_id, &data),
        Message::Sync { document_id, data, .. } => handle_doc(st, c, false, document_id, &data),
        Message::Ephemeral { sender_id, count, session_id, document_id, data, .. } => {
            // Kefu notices speak for the server: a peer may not relay one.
            let may = c.docs.get(&document_id).is_some_and(|d| d.pending.is_none())
                && Notice::decode(&data).is_none();
            if may {
                let relay = Message::Ephemeral {
                    sender_id,
                    target_id: String::new(),
                    count,
                    session_id,
                    document_id: document_id.clone(),
                    data,
                };
                shared.hub.notify(&document_id, Audience::Followers, c.id, &Control::Ephemeral(relay));
            }
            Ok(Step::default())
        }
        Message::Error { message } => {
            tracing::info!(conn = c.id, message, "peer reported an error");
            Ok(Step { close: Some("peer reported an error".into()), ..Step::default() })
        }
        // Tolerated and ignored: the server does not gossip remote heads.
        Message::Peer { .. }
        | Message::DocUnavailable { .. }
        | Message::RemoteSubscriptionChange { .. }
        | Message::RemoteHeadsChanged { .. } => Ok(Step::default()),
    }
}

fn unavailable(st: &AppState, c: &Conn, doc: &str) -> Message {
    Message::DocUnavailable {
        sender_id: st.sync.peer_id.clone(),
        target_id: c.peer.clone().unwrap_or_default(),
        document_id: doc.to_string(),
    }
}

fn sync_message(st: &AppState, c: &Conn, doc: &str, m: sync::Message) -> Message {
    Message::Sync {
        document_id: doc.to_string(),
        sender_id: st.sync.peer_id.clone(),
        target_id: c.peer.clone().unwrap_or_default(),
        data: m.encode(),
    }
}

fn notice(st: &AppState, c: &mut Conn, doc: &str, n: &Notice) -> Message {
    c.ephemeral_count += 1;
    Message::Ephemeral {
        sender_id: st.sync.peer_id.clone(),
        target_id: c.peer.clone().unwrap_or_default(),
        count: c.ephemeral_count,
        session_id: st.sync.session_id.clone(),
        document_id: doc.to_string(),
        data: n.encode(),
    }
}

fn stored_size(conn: &Connection, doc: &str) -> Result<usize, ServerError> {
    Ok(conn
        .prepare_cached("SELECT length(snapshot) + chunk_bytes FROM documents WHERE doc_id = ?1")?
        .query_row([doc], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0) as usize)
}

fn handle_doc(
    st: &AppState,
    c: &mut Conn,
    is_request: bool,
    doc_id: String,
    data: &[u8],
) -> Result<Step, ServerError> {
    let mut step = Step::default();
    if doc_id.parse::<DocumentId>().is_err() {
        step.send.push(unavailable(st, c, &doc_id));
        return Ok(step);
    }
    let msg = match sync::Message::decode(data) {
        Ok(m) => m,
        Err(e) => {
            step.close = Some(format!(
                "the data of a {} for {doc_id} is not an automerge sync message: {e}",
                if is_request { "request" } else { "sync" }
            ));
            return Ok(step);
        }
    };
    let limits = &st.sync.limits;
    let db = st.db.lock();
    let conn: &Connection = &db;
    if !msg.changes.is_empty() && stored_size(conn, &doc_id)? + data.len() > limits.max_document_bytes {
        step.close =
            Some(format!("document {doc_id} would exceed the limit of {} bytes", limits.max_document_bytes));
        return Ok(step);
    }
    let mut cache = st.sync.cache();
    let (exists, acc) = match cache.get(conn, &doc_id)? {
        Some(s) => (true, access(&c.principal, &s.meta)),
        None => (false, Access::None),
    };
    let metrics = &st.sync.metrics;
    let now = now_ms();
    let principal = c.principal.clone();
    if acc == Access::None {
        if is_request {
            c.docs.remove(&doc_id);
            st.sync.hub.unsubscribe(c.id, &doc_id);
            step.send.push(unavailable(st, c, &doc_id));
            return Ok(step);
        }
        // Unknown (or not theirs): sync against an empty document; changes may create it.
        let ds = c.docs.entry(doc_id.clone()).or_insert_with(DocSync::new);
        let fork = ds.pending.get_or_insert_with(Box::default);
        let saved = ds.state.clone();
        let received = fork.sync().receive_sync_message(&mut ds.state, msg);
        forget_patches(fork);
        if let Err(e) = received {
            step.close = Some(format!("changes for {doc_id} do not load: {e}"));
            return Ok(step);
        }
        let complete = !fork.get_heads().is_empty() && fork.get_missing_deps(&[]).is_empty();
        if complete && exists {
            // Someone without access sent changes to an existing record (typically edits
            // made before it was reassigned away): keep them for the supervisor, answer as
            // for any record they may not see.
            if let Some(stored) = cache.get(conn, &doc_id)? {
                let theirs = fork.get_changes(&[]);
                let new: Vec<_> = theirs
                    .into_iter()
                    .filter(|ch| stored.doc.get_change_by_hash(&ch.hash()).is_none())
                    .collect();
                if !new.is_empty() {
                    let reason = format!(
                        "{} ({}) changed a record they may not access (reassigned away?); kept for the supervisor",
                        principal.user_id, principal.role
                    );
                    accept::quarantine(conn, &principal, &doc_id, &new, &reason, now)?;
                    metrics
                        .changes_rejected
                        .fetch_add(new.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            }
            c.docs.remove(&doc_id);
            step.send.push(unavailable(st, c, &doc_id));
            return Ok(step);
        }
        if complete {
            let mut after = ds.pending.take().map(|b| *b).unwrap_or_default();
            let new: Vec<String> = after.get_changes(&[]).iter().map(|ch| ch.hash().to_string()).collect();
            let (outcome, meta) =
                accept::accept_merged(conn, &principal, &doc_id, None, &mut after, None, now)?;
            match (outcome, meta) {
                (Outcome::Accepted { new }, Some(acc)) => {
                    metrics
                        .changes_accepted
                        .fetch_add(new.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    st.sync.hub.subscribe(c.id, &doc_id);
                    // Only channel sends: safe while holding the database.
                    st.sync.hub.notify(
                        &doc_id,
                        Audience::Readers(&acc.meta),
                        c.id,
                        &Control::DocChanged(doc_id.clone()),
                    );
                    cache.put(&doc_id, Stored { doc: after, meta: acc.meta, json: Some(acc.json) });
                }
                (Outcome::Rejected { reason, .. }, _) => {
                    metrics
                        .changes_rejected
                        .fetch_add(new.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    ds.state = saved;
                    ds.state.set_read_only(true);
                    ds.pending = Some(Box::default());
                    ds.told = true;
                    let n = Notice { kefu: "rejected".into(), reason, hashes: new };
                    let m = notice(st, c, &doc_id, &n);
                    step.send.push(m);
                }
                _ => {
                    // Nothing new or not complete after all: keep syncing against the copy.
                    ds.pending = Some(Box::new(after));
                }
            }
        }
        let Some(ds) = c.docs.get_mut(&doc_id) else { return Ok(step) };
        let reply = match &mut ds.pending {
            Some(fork) => fork.sync().generate_sync_message(&mut ds.state),
            None => match cache.get(conn, &doc_id)? {
                Some(s) => s.doc.sync().generate_sync_message(&mut ds.state),
                None => None,
            },
        };
        if let Some(m) = reply {
            step.send.push(sync_message(st, c, &doc_id, m));
        }
        return Ok(step);
    }

    let Some(stored) = cache.get(conn, &doc_id)? else { return Ok(step) };
    if !c.docs.contains_key(&doc_id) {
        let mut ds = DocSync::new();
        if let Some(saved) = saved_state(conn, c.storage.as_deref(), &doc_id)? {
            // Only what this copy really holds (a restored backup may hold less).
            if saved.shared_heads.iter().all(|h| stored.doc.get_change_by_hash(h).is_some()) {
                ds.state = saved;
            }
        }
        c.docs.insert(doc_id.clone(), ds);
    }
    let ds = c.docs.entry(doc_id.clone()).or_insert_with(DocSync::new);
    ds.pending = None;
    if acc == Access::Read && !ds.state.read_only {
        ds.state.set_read_only(true);
    }
    let has_changes = !msg.changes.is_empty();
    let mut changed: Option<DocMeta> = None;
    if ds.state.read_only || (!has_changes && ds.partial.is_none()) {
        // Nothing to apply (or the peer may not write here): read-only states ignore changes.
        let received = stored.doc.sync().receive_sync_message(&mut ds.state, msg);
        forget_patches(&mut stored.doc);
        if let Err(e) = received {
            step.close = Some(format!("sync message for {doc_id} does not apply: {e}"));
            return Ok(step);
        }
        // The peer holds changes the server will not take (it may only read, or they were
        // refused): say so once, so it stops waiting for them to be accepted.
        let ahead = ds.state.read_only
            && ds
                .state
                .their_heads
                .as_ref()
                .is_some_and(|hs| hs.iter().any(|h| stored.doc.get_change_by_hash(h).is_none()));
        if (has_changes || ahead) && ds.state.read_only && !ds.told {
            ds.told = true;
            let (kind, reason) = if acc == Access::Read {
                ("read-only", format!("you may read but not change this {}", stored.meta.kind))
            } else {
                (
                    "rejected",
                    "earlier changes to this record were refused; reconnect after settling them".to_string(),
                )
            };
            let n = Notice { kefu: kind.into(), reason, hashes: Vec::new() };
            let m = notice(st, c, &doc_id, &n);
            step.send.push(m);
        }
    } else {
        let saved = ds.state.clone();
        // The message's changes, when they are plain change chunks (a whole-document chunk is
        // left to `get_changes` below).
        let incoming: Option<Vec<Change>> =
            msg.changes.iter().map(|b| Change::from_bytes(b.to_vec()).ok()).collect();
        // The version before, as acceptance compares against it.
        let before_heads = stored.doc.get_heads();
        let before_meta = stored.meta.clone();
        let before_json = stored.json.take().unwrap_or_else(|| json_text_of(&stored.doc));
        // The changes are applied to the cached document itself, not to a copy of it: copying
        // a whole document per incoming message was a large part of the server's cost. When
        // they are not accepted, the cached copy is dropped and the next reader loads the
        // stored bytes, which only an acceptance changes.
        let (mut fork, in_place) = match ds.partial.take() {
            Some(p) => {
                let mut p = *p;
                // Bring in what other peers added meanwhile.
                if !before_heads.iter().all(|h| p.get_change_by_hash(h).is_some()) {
                    if let Err(e) = p.merge(&mut stored.doc.clone()) {
                        return Err(ServerError::Internal(format!("merging {doc_id}: {e}")));
                    }
                    forget_patches(&mut p);
                }
                stored.json = Some(before_json.clone());
                (p, false)
            }
            None => (std::mem::take(&mut stored.doc), true),
        };
        let received = fork.sync().receive_sync_message(&mut ds.state, msg);
        forget_patches(&mut fork);
        if let Err(e) = received {
            if in_place {
                cache.remove(&doc_id);
            }
            step.close = Some(format!("changes for {doc_id} do not load: {e}"));
            return Ok(step);
        }
        if !fork.get_missing_deps(&[]).is_empty() {
            // Wait for the missing dependencies (the reply below asks for them).
            if in_place {
                cache.remove(&doc_id);
            }
            ds.partial = Some(Box::new(fork));
            if let Some(m) = ds.partial.as_mut().and_then(|p| p.sync().generate_sync_message(&mut ds.state)) {
                step.send.push(sync_message(st, c, &doc_id, m));
            }
            st.sync.hub.subscribe(c.id, &doc_id);
            return Ok(step);
        }
        let before = accept::BeforeRef { heads: &before_heads, meta: &before_meta, json: &before_json };
        // The message's changes are the new ones (a change the server already had is stored
        // once all the same); after a wait for dependencies they are computed.
        let known = if in_place { incoming } else { None };
        let new: Vec<String> = match &known {
            Some(k) => k.iter().map(|ch| ch.hash().to_string()).collect(),
            None => fork.get_changes(&before_heads).iter().map(|ch| ch.hash().to_string()).collect(),
        };
        let decided = accept::accept_merged(conn, &principal, &doc_id, Some(before), &mut fork, known, now);
        let (outcome, meta) = match decided {
            Ok(d) => d,
            Err(e) => {
                if in_place {
                    cache.remove(&doc_id);
                }
                return Err(e);
            }
        };
        let Some(ds) = c.docs.get_mut(&doc_id) else {
            cache.remove(&doc_id);
            return Err(ServerError::Internal("sync state vanished".into()));
        };
        match (outcome, meta) {
            (Outcome::Accepted { new }, Some(acc)) => {
                metrics.changes_accepted.fetch_add(new.len() as u64, std::sync::atomic::Ordering::Relaxed);
                changed = Some(acc.meta.clone());
                cache.put(&doc_id, Stored { doc: fork, meta: acc.meta, json: Some(acc.json) });
            }
            (Outcome::NothingNew, _) if in_place && fork.get_heads() == before_heads => {
                cache.put(&doc_id, Stored { doc: fork, meta: before_meta, json: Some(before_json) });
            }
            (outcome, _) => {
                if in_place {
                    cache.remove(&doc_id);
                }
                match outcome {
                    Outcome::Rejected { reason, .. } => {
                        metrics
                            .changes_rejected
                            .fetch_add(new.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        ds.state = saved;
                        ds.state.set_read_only(true);
                        ds.told = true;
                        let n = Notice { kefu: "rejected".into(), reason, hashes: new };
                        let m = notice(st, c, &doc_id, &n);
                        step.send.push(m);
                    }
                    Outcome::ReadOnly | Outcome::Unavailable => {
                        ds.state = saved;
                        ds.state.set_read_only(true);
                    }
                    _ => {}
                }
            }
        }
    }
    st.sync.hub.subscribe(c.id, &doc_id);
    let ds = c.docs.get_mut(&doc_id).ok_or_else(|| ServerError::Internal("sync state vanished".into()))?;
    if let Some(s) = cache.get(conn, &doc_id)? {
        let mut reply = s.doc.sync().generate_sync_message(&mut ds.state);
        if reply.is_none() && !has_changes && std::mem::take(&mut ds.owe_heads) {
            // The peer acknowledged the document it requested and there is nothing more to
            // say: answer once with the server's heads, as the reference server does. The
            // stock automerge-repo client, left without that answer, took 2-4x as long over
            // a cold pull (docs/performance.md, lesson 13). Changes pushed to a live peer
            // are not followed up so: that is one more message per edit per phone (1.1 MB
            // more to the 1,000 phones of the benchmark) for no gain measured.
            ds.state.have_responded = false;
            reply = s.doc.sync().generate_sync_message(&mut ds.state);
        }
        if let Some(m) = reply {
            ds.owe_heads = is_request && !m.changes.is_empty();
            step.send.push(sync_message(st, c, &doc_id, m));
        }
    }
    drop(cache);
    drop(db);
    if let Some(meta) = changed {
        st.sync.hub.notify(&doc_id, Audience::Readers(&meta), c.id, &Control::DocChanged(doc_id.clone()));
    }
    Ok(step)
}

fn saved_state(
    conn: &Connection,
    storage: Option<&str>,
    doc: &str,
) -> Result<Option<sync::State>, ServerError> {
    let Some(peer) = storage else { return Ok(None) };
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT state FROM peer_sync_state WHERE peer = ?1 AND doc_id = ?2")?
        .query_row([peer, doc], |r| r.get(0))
        .optional()?;
    Ok(bytes.and_then(|b| sync::State::decode(&b).ok()))
}

/// Saves what this peer and the server share, per document, in one transaction.
fn save_states(db: &Connection, c: &Conn) -> Result<(), ServerError> {
    let Some(peer) = &c.storage else { return Ok(()) };
    let tx = db.unchecked_transaction()?;
    let now = now_ms();
    for (doc, ds) in &c.docs {
        if ds.pending.is_none() && !ds.state.shared_heads.is_empty() {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO peer_sync_state (peer, doc_id, state, updated_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(rusqlite::params![peer, doc, ds.state.encode(), now])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Another connection changed `doc`: send this peer what it lacks (if it may still see it).
fn push(st: &AppState, c: &mut Conn, doc: &str) -> Result<Step, ServerError> {
    let mut step = Step::default();
    let db = st.db.lock();
    let mut cache = st.sync.cache();
    let Some(s) = cache.get(&db, doc)? else { return Ok(step) };
    let acc = access(&c.principal, &s.meta);
    if acc == Access::None {
        // Told only if it was following the document (it may have lost access).
        if c.docs.remove(doc).is_some() {
            st.sync.hub.unsubscribe(c.id, doc);
            step.send.push(unavailable(st, c, doc));
        }
        return Ok(step);
    }
    if !c.docs.contains_key(doc) {
        // A follow-all peer hears of a document it may read: start syncing it.
        let mut ds = DocSync::new();
        if acc == Access::Read {
            ds.state.set_read_only(true);
        }
        c.docs.insert(doc.to_string(), ds);
        st.sync.hub.subscribe(c.id, doc);
    }
    let Some(ds) = c.docs.get_mut(doc) else { return Ok(step) };
    if ds.pending.is_some() {
        return Ok(step);
    }
    if let Some(m) = s.doc.sync().generate_sync_message(&mut ds.state) {
        step.send.push(sync_message(st, c, doc, m));
    }
    Ok(step)
}

/// A number from the environment variable `name`, if set; a value that is not a number is a
/// configuration error naming the variable.
pub fn env_number<T: std::str::FromStr>(name: &str) -> Result<Option<T>, ServerError> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ServerError::Config(format!("{name}={v:?} is not a valid number"))),
        Err(_) => Ok(None),
    }
}

impl Limits {
    /// The defaults, overridden by `KEFU_MAX_MESSAGE_BYTES`, `KEFU_MAX_DOCUMENT_BYTES`,
    /// `KEFU_MESSAGES_PER_SECOND`, `KEFU_MESSAGE_BURST`, `KEFU_PING_SECONDS`,
    /// `KEFU_IDLE_SECONDS` and `KEFU_DOC_CACHE` when set.
    pub fn from_env() -> Result<Limits, ServerError> {
        let mut l = Limits::default();
        if let Some(v) = env_number("KEFU_MAX_MESSAGE_BYTES")? {
            l.max_message_bytes = v;
        }
        if let Some(v) = env_number("KEFU_MAX_DOCUMENT_BYTES")? {
            l.max_document_bytes = v;
        }
        if let Some(v) = env_number("KEFU_MESSAGES_PER_SECOND")? {
            l.messages_per_second = v;
        }
        if let Some(v) = env_number("KEFU_MESSAGE_BURST")? {
            l.message_burst = v;
        }
        if let Some(v) = env_number::<u64>("KEFU_PING_SECONDS")? {
            l.ping_interval = Duration::from_secs(v.max(1));
        }
        if let Some(v) = env_number::<u64>("KEFU_IDLE_SECONDS")? {
            l.idle_timeout = Duration::from_secs(v.max(1));
        }
        if let Some(v) = env_number::<usize>("KEFU_DOC_CACHE")? {
            l.doc_cache = v.max(1);
        }
        Ok(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn following_a_document_costs_a_connection_little_memory() {
        // A phone follows every record it may see (hundreds); each entry of its map is paid for
        // the whole connection, and hashbrown keeps up to twice the entries' room.
        let entry = std::mem::size_of::<(String, DocSync)>();
        assert!(entry <= 512, "a followed document costs {entry} bytes inline");
    }
}
