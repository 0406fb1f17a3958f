//! Kefu's phone-side sync client.
//!
//! A phone signs in once ([`login`]); the session (server, token, user) is kept in the store.
//! A sync then
//!
//! 1. fetches the manifest (`GET /api/v1/manifest`): every document this user may hold, with
//!    the server's heads;
//! 2. compares it with the heads of every local document (read from the store's index, no
//!    document is opened). Documents whose heads are equal are done — their waiting changes
//!    are accepted — so a reconnect with nothing new is this one HTTP round trip;
//! 3. opens the sync WebSocket only when something differs, and runs the automerge sync
//!    protocol (automerge-repo network protocol v1) for those documents, a window at a time.
//!    Local changes move `local → sent → accepted` as the server's heads come to include them,
//!    or `→ rejected` with the server's reason (its `ephemeral` notice);
//! 4. handles documents the manifest no longer lists: they are offered to the server once;
//!    only when the server answers that they exist but are not for this user, and nothing
//!    made here is waiting or refused, is the local copy removed.
//!
//! [`start`] runs this in the background on the library's own runtime and stays connected,
//! so local changes are pushed as they are made ([`SyncHandle::sync_now`]) and the server's
//! pushes arrive live; it reconnects with exponential backoff and reports [`Status`]es.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kefu_model::enums::Role;
use kefu_protocol::{Message, Notice, PeerMetadata, PROTOCOL_VERSION};
use kefu_store::{Client, Identity, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub mod attachments;
pub use attachments::{download, upload_pending, UploadProgress, UploadReport};

/// Documents synced at once over one connection.
const WINDOW: usize = 64;
/// How long to wait for the server before calling the connection dead.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages about one document in one round before the client gives up on it until the
/// next round (the protocol needs a handful; this only stops a runaway exchange).
const MAX_ROUNDS: usize = 200;
/// How often a connected client re-reads the manifest (new assignments).
const MANIFEST_REFRESH: Duration = Duration::from_secs(60);

/// What can go wrong while syncing. The app can act on each: retry later, sign in again,
/// show the server's message, or report a storage problem.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached or the connection broke.
    #[error("network: {0}")]
    Network(String),
    /// The token is missing, expired or revoked, or the password is wrong: sign in again.
    #[error("not signed in (or the sign-in expired or was revoked)")]
    Unauthorized,
    /// The server answered with an error.
    #[error("server: {0}")]
    Server(String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A signed-in session, kept in the store's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Server base URL, e.g. `http://192.168.1.10:8080`.
    pub server: String,
    /// Bearer token.
    pub token: String,
    /// User id.
    pub user_id: String,
    /// Device id given by the server.
    pub device_id: String,
    /// Role.
    pub role: String,
    /// Team.
    pub team: Option<String>,
    /// Name shown in the UI.
    pub display_name: String,
    /// Token expiry, Unix ms.
    pub expires_at: i64,
}

const SESSION_KEY: &str = "session";

/// Where the background sync stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Reaching the server.
    Connecting,
    /// Exchanging documents: `done` of `total`.
    Syncing {
        /// Documents finished.
        done: usize,
        /// Documents to exchange in this round.
        total: usize,
    },
    /// Connected and up to date; changes are pushed as they are made. Also said each time a
    /// change pushed from another device has been taken into the store (screens refresh on it).
    Idle,
    /// Offline or failed; retrying after `retry_in_ms`.
    Error {
        /// What went wrong.
        message: String,
        /// When the next attempt starts.
        retry_in_ms: u64,
    },
    /// The server refused the token: the user must sign in again. Sync waits.
    Unauthorized,
    /// Stopped by the app.
    Stopped,
    /// The attachment upload queue moved (a chunk confirmed, an entry finished or refused).
    /// Reported beside the record statuses above, not instead of them.
    Upload(UploadProgress),
}

/// What one sync round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Documents in the manifest.
    pub manifest: usize,
    /// Documents exchanged over the WebSocket.
    pub exchanged: usize,
    /// Local changes the server accepted.
    pub accepted: usize,
    /// Local changes the server refused.
    pub rejected: usize,
    /// Documents that received changes from the server.
    pub received: usize,
    /// Local copies removed (no longer listed for this user, nothing unsettled).
    pub removed: usize,
    /// Whether a WebSocket was opened at all.
    pub connected: bool,
    /// The attachment upload queue, worked after the records.
    pub uploads: UploadReport,
    /// Why the upload queue stopped early (the network), when it did.
    pub upload_error: Option<String>,
}

/// The store, shared between the app and the sync thread.
pub type SharedStore = Arc<Mutex<Client>>;

/// What this process's sync clients have moved so far (for a data-usage screen, and the
/// benchmarks): WebSocket message payloads (automerge-repo protocol messages, without
/// WebSocket framing) and the HTTP requests of sign-in and manifest. Attachments are not
/// counted here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireTotals {
    /// Payload bytes of WebSocket messages sent.
    pub ws_bytes_sent: u64,
    /// Payload bytes of WebSocket messages received.
    pub ws_bytes_received: u64,
    /// WebSocket messages sent.
    pub ws_messages_sent: u64,
    /// WebSocket messages received.
    pub ws_messages_received: u64,
    /// HTTP requests made (sign-in, manifest).
    pub http_requests: u64,
}

mod wire {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    static WS_SENT: AtomicU64 = AtomicU64::new(0);
    static WS_RECEIVED: AtomicU64 = AtomicU64::new(0);
    static WS_MSGS_SENT: AtomicU64 = AtomicU64::new(0);
    static WS_MSGS_RECEIVED: AtomicU64 = AtomicU64::new(0);
    static HTTP: AtomicU64 = AtomicU64::new(0);

    pub(crate) fn sent(bytes: usize) {
        WS_SENT.fetch_add(bytes as u64, Relaxed);
        WS_MSGS_SENT.fetch_add(1, Relaxed);
    }

    pub(crate) fn received(bytes: usize) {
        WS_RECEIVED.fetch_add(bytes as u64, Relaxed);
        WS_MSGS_RECEIVED.fetch_add(1, Relaxed);
    }

    pub(crate) fn http() {
        HTTP.fetch_add(1, Relaxed);
    }

    pub(crate) fn totals() -> super::WireTotals {
        super::WireTotals {
            ws_bytes_sent: WS_SENT.load(Relaxed),
            ws_bytes_received: WS_RECEIVED.load(Relaxed),
            ws_messages_sent: WS_MSGS_SENT.load(Relaxed),
            ws_messages_received: WS_MSGS_RECEIVED.load(Relaxed),
            http_requests: HTTP.load(Relaxed),
        }
    }
}

/// The totals since the process started (see [`WireTotals`]).
pub fn wire_totals() -> WireTotals {
    wire::totals()
}

/// Encodes a protocol message for the socket, counting it.
fn frame(m: &Message) -> WsMessage {
    let bytes = kefu_protocol::encode(m);
    wire::sent(bytes.len());
    WsMessage::Binary(bytes.into())
}

/// Decodes a received binary frame, counting it.
fn unframe(b: &[u8]) -> Result<Message, SyncError> {
    wire::received(b.len());
    kefu_protocol::decode(b).map_err(|e| SyncError::Server(format!("bad message: {e}")))
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
}

fn http_error(e: ureq::Error) -> SyncError {
    match e {
        ureq::Error::Status(401, _) => SyncError::Unauthorized,
        ureq::Error::Status(code, r) => {
            let body: serde_json::Value = r.into_json().unwrap_or_default();
            let msg = body.get("error").and_then(|m| m.as_str()).unwrap_or("no details").to_string();
            SyncError::Server(format!("HTTP {code}: {msg}"))
        }
        ureq::Error::Transport(t) => SyncError::Network(t.to_string()),
    }
}

fn base(server: &str) -> String {
    server.trim_end_matches('/').to_string()
}

/// Signs in with a password, registers this device, and keeps the session and the identity
/// (user, device, team, role) in the store. Blocking: call it off the UI thread.
pub fn login(
    store: &mut Client,
    server: &str,
    username: &str,
    password: &str,
    device_name: &str,
) -> Result<Session, SyncError> {
    #[derive(Deserialize)]
    struct Reply {
        token: String,
        user_id: String,
        device_id: String,
        role: String,
        expires_at: i64,
        #[serde(default)]
        team: Option<String>,
        #[serde(default)]
        display_name: String,
    }
    wire::http();
    let r: Reply = agent()
        .post(&format!("{}/api/v1/login", base(server)))
        .send_json(
            serde_json::json!({"username": username, "password": password, "device_name": device_name}),
        )
        .map_err(http_error)?
        .into_json()
        .map_err(|e| SyncError::Server(format!("unexpected sign-in answer: {e}")))?;
    let session = Session {
        server: base(server),
        token: r.token,
        user_id: r.user_id,
        device_id: r.device_id,
        role: r.role,
        team: r.team,
        display_name: r.display_name,
        expires_at: r.expires_at,
    };
    let role: Role = session.role.parse().map_err(|e| SyncError::Server(format!("unknown role: {e}")))?;
    store.set_identity(Identity {
        user_id: session.user_id.clone(),
        device_id: session.device_id.clone(),
        team: session.team.clone().unwrap_or_default(),
        role,
        display_name: session.display_name.clone(),
    })?;
    let json = serde_json::to_string(&session).map_err(|e| SyncError::Server(e.to_string()))?;
    store.set_meta(SESSION_KEY, Some(&json))?;
    Ok(session)
}

/// The saved session, if signed in.
pub fn session(store: &Client) -> Result<Option<Session>, SyncError> {
    Ok(store.meta(SESSION_KEY)?.and_then(|j| serde_json::from_str(&j).ok()))
}

/// Forgets the session (the records stay).
pub fn logout(store: &mut Client) -> Result<(), SyncError> {
    store.set_meta(SESSION_KEY, None)?;
    Ok(())
}

/// One entry of the server's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManifestEntry {
    /// Document id.
    pub document_id: String,
    /// Kind.
    pub kind: String,
    /// `read` or `write`.
    pub access: String,
    /// Server heads (hex).
    pub heads: Vec<String>,
}

/// Fetches the manifest (blocking).
pub fn fetch_manifest(session: &Session) -> Result<Vec<ManifestEntry>, SyncError> {
    wire::http();
    agent()
        .get(&format!("{}/api/v1/manifest", session.server))
        .set("Authorization", &format!("Bearer {}", session.token))
        .call()
        .map_err(http_error)?
        .into_json()
        .map_err(|e| SyncError::Server(format!("unexpected manifest: {e}")))
}

async fn store_op<T: Send + 'static>(
    store: &SharedStore,
    f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SyncError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c)
    })
    .await
    .map_err(|e| SyncError::Server(format!("store task failed: {e}")))?
    .map_err(SyncError::Store)
}

/// The work a manifest implies.
#[derive(Debug, Default)]
struct Plan {
    exchange: Vec<String>,
    orphans: HashSet<String>,
    manifest: usize,
}

async fn plan(store: &SharedStore, session: &Session) -> Result<Plan, SyncError> {
    let s = session.clone();
    let manifest = tokio::task::spawn_blocking(move || fetch_manifest(&s))
        .await
        .map_err(|e| SyncError::Network(e.to_string()))??;
    store_op(store, move |c| {
        let local = c.local_heads()?;
        let unsynced: HashSet<String> = c.unsynced_documents()?.into_iter().collect();
        let mut p = Plan { manifest: manifest.len(), ..Plan::default() };
        let mut listed = HashSet::new();
        for m in &manifest {
            listed.insert(m.document_id.clone());
            let mut theirs = m.heads.clone();
            theirs.sort();
            match local.get(&m.document_id) {
                Some(ours) if *ours == theirs => {
                    if unsynced.contains(&m.document_id) {
                        c.mark_all_accepted(&m.document_id)?;
                    }
                }
                _ => p.exchange.push(m.document_id.clone()),
            }
        }
        for id in local.keys() {
            if !listed.contains(id) {
                // New here (waiting to be created on the server) or no longer listed: offer
                // it; the answer decides.
                p.exchange.push(id.clone());
                if !unsynced.contains(id) {
                    p.orphans.insert(id.clone());
                }
            }
        }
        p.exchange.sort();
        p.exchange.dedup();
        Ok(p)
    })
    .await
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One connection to the server's sync endpoint.
struct Engine {
    store: SharedStore,
    ws: Ws,
    me: String,
    server: String,
    active: HashSet<String>,
    /// Messages received per document in this round (a guard against endless exchanges).
    rounds: HashMap<String, usize>,
    queue: VecDeque<String>,
    orphans: HashSet<String>,
    total: usize,
    done: usize,
    report: Report,
    listener: Arc<dyn Fn(Status) + Send + Sync>,
}

async fn connect(session: &Session, me: &str, storage_id: &str) -> Result<(Ws, String), SyncError> {
    let url = if let Some(rest) = session.server.strip_prefix("http://") {
        format!("ws://{rest}/sync?follow=all")
    } else if session.server.starts_with("https://") {
        return Err(SyncError::Network("https servers need a TLS build of the sync client".into()));
    } else {
        return Err(SyncError::Network(format!(
            "server address {:?} must start with http://",
            session.server
        )));
    };
    let mut req = url.into_client_request().map_err(|e| SyncError::Network(e.to_string()))?;
    let auth = format!("Bearer {}", session.token).parse().map_err(|_| SyncError::Unauthorized)?;
    req.headers_mut().insert("Authorization", auth);
    let (mut ws, _) = match tokio::time::timeout(ANSWER_TIMEOUT, tokio_tungstenite::connect_async(req)).await
    {
        Err(_) => return Err(SyncError::Network("timed out connecting".into())),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(r))) if r.status().as_u16() == 401 => {
            return Err(SyncError::Unauthorized)
        }
        Ok(Err(e)) => return Err(SyncError::Network(e.to_string())),
        Ok(Ok(x)) => x,
    };
    let join = Message::Join {
        sender_id: me.to_string(),
        supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
        metadata: Some(PeerMetadata { storage_id: Some(storage_id.to_string()), is_ephemeral: false }),
    };
    ws.send(frame(&join)).await.map_err(|e| SyncError::Network(e.to_string()))?;
    loop {
        match next(&mut ws).await? {
            Message::Peer { sender_id, .. } => return Ok((ws, sender_id)),
            Message::Error { message } => return Err(SyncError::Server(message)),
            _ => {}
        }
    }
}

async fn next(ws: &mut Ws) -> Result<Message, SyncError> {
    loop {
        let frame = tokio::time::timeout(ANSWER_TIMEOUT, ws.next())
            .await
            .map_err(|_| SyncError::Network("the server stopped answering".into()))?;
        match frame {
            None => return Err(SyncError::Network("the server closed the connection".into())),
            Some(Err(e)) => return Err(SyncError::Network(e.to_string())),
            Some(Ok(WsMessage::Binary(b))) => return unframe(&b),
            Some(Ok(WsMessage::Close(_))) => {
                return Err(SyncError::Network("the server closed the connection".into()))
            }
            Some(Ok(_)) => {}
        }
    }
}

impl Engine {
    async fn send(&mut self, m: &Message) -> Result<(), SyncError> {
        self.ws.send(frame(m)).await.map_err(|e| SyncError::Network(e.to_string()))
    }

    fn status(&self) {
        (self.listener)(Status::Syncing { done: self.done, total: self.total });
    }

    fn enqueue(&mut self, docs: impl IntoIterator<Item = String>) {
        for d in docs {
            if !self.active.contains(&d) && !self.queue.contains(&d) {
                self.queue.push_back(d);
                self.total += 1;
            }
        }
    }

    async fn start(&mut self, doc: String) -> Result<(), SyncError> {
        let server = self.server.clone();
        let d = doc.clone();
        let (have, msg) =
            store_op(&self.store, move |c| Ok((c.has_document(&d)?, c.sync_generate(&d, &server)?))).await?;
        let Some(data) = msg else {
            self.finish(&doc);
            return Ok(());
        };
        self.active.insert(doc.clone());
        self.report.exchanged += 1;
        let (sender_id, target_id) = (self.me.clone(), self.server.clone());
        let m = if have {
            Message::Sync { document_id: doc, sender_id, target_id, data }
        } else {
            Message::Request { document_id: doc, sender_id, target_id, data }
        };
        self.send(&m).await
    }

    fn finish(&mut self, doc: &str) {
        if self.active.remove(doc) {
            self.done += 1;
            self.status();
        }
    }

    async fn fill(&mut self) -> Result<(), SyncError> {
        while self.active.len() < WINDOW {
            let Some(doc) = self.queue.pop_front() else { break };
            self.start(doc).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, m: Message) -> Result<(), SyncError> {
        match m {
            Message::Sync { document_id, data, .. } => {
                let n = self.rounds.entry(document_id.clone()).or_insert(0);
                *n += 1;
                if *n > MAX_ROUNDS {
                    tracing::warn!(doc = %document_id, "no agreement after {MAX_ROUNDS} messages; trying again next round");
                    self.rounds.remove(&document_id);
                    self.finish(&document_id);
                    return Ok(());
                }
                let server = self.server.clone();
                let d = document_id.clone();
                let (got, reply) = store_op(&self.store, move |c| {
                    let got = c.sync_receive(&d, &server, &data)?;
                    let reply = c.sync_generate(&d, &server)?;
                    Ok((got, reply))
                })
                .await?;
                self.report.accepted += got.accepted.len();
                if got.changed {
                    self.report.received += 1;
                }
                if let Some(data) = reply {
                    let m = Message::Sync {
                        document_id: document_id.clone(),
                        sender_id: self.me.clone(),
                        target_id: self.server.clone(),
                        data,
                    };
                    self.send(&m).await?;
                }
                if got.in_sync {
                    self.rounds.remove(&document_id);
                    self.orphans.remove(&document_id);
                    self.finish(&document_id);
                }
            }
            Message::DocUnavailable { document_id, .. } => {
                let orphan = self.orphans.remove(&document_id);
                let d = document_id.clone();
                let (removed, rejected) = store_op(&self.store, move |c| {
                    if orphan && c.remove_if_settled(&d)? {
                        return Ok((true, 0));
                    }
                    let waiting = c.unsynced_documents()?.contains(&d);
                    let n = if waiting {
                        c.mark_rejected(&d, &[], "the server does not make this record available to you")?
                            .len()
                    } else {
                        0
                    };
                    Ok((false, n))
                })
                .await?;
                self.report.removed += usize::from(removed);
                self.report.rejected += rejected;
                self.finish(&document_id);
            }
            Message::Ephemeral { document_id, data, sender_id, .. } => {
                // Only the server speaks for the server.
                let notice = if sender_id == self.server { Notice::decode(&data) } else { None };
                if let Some(n) = notice {
                    let d = document_id.clone();
                    let reason = n.reason.clone();
                    let hashes = n.hashes.clone();
                    let marked =
                        store_op(&self.store, move |c| c.mark_rejected(&d, &hashes, &reason)).await?;
                    tracing::info!(doc = %document_id, reason = %n.reason, "changes refused by the server");
                    self.report.rejected += marked.len();
                    self.orphans.remove(&document_id);
                    self.finish(&document_id);
                }
            }
            Message::Error { message } => return Err(SyncError::Server(message)),
            _ => {}
        }
        Ok(())
    }

    /// Exchanges every queued document; returns when all are done.
    async fn run_until_idle(&mut self) -> Result<(), SyncError> {
        self.status();
        self.fill().await?;
        while !self.active.is_empty() {
            let m = next(&mut self.ws).await?;
            self.handle(m).await?;
            self.fill().await?;
        }
        Ok(())
    }
}

fn peer_id(session: &Session) -> String {
    format!("phone-{}", session.device_id)
}

fn saved_session(store: &SharedStore) -> Result<Session, SyncError> {
    let c = store.lock().unwrap_or_else(|p| p.into_inner());
    session(&c)?.ok_or(SyncError::Unauthorized)
}

async fn open_engine(
    store: &SharedStore,
    session: &Session,
    plan: Plan,
    listener: Arc<dyn Fn(Status) + Send + Sync>,
) -> Result<Engine, SyncError> {
    let me = peer_id(session);
    // The store's actor id doubles as its storage id: the server keeps what it and this
    // store are known to share, so the next connection starts from there.
    let storage_id = store.lock().unwrap_or_else(|p| p.into_inner()).actor().to_hex_string();
    let (ws, server) = connect(session, &me, &storage_id).await?;
    let mut e = Engine {
        store: store.clone(),
        ws,
        me,
        server,
        active: HashSet::new(),
        rounds: HashMap::new(),
        queue: VecDeque::new(),
        orphans: plan.orphans,
        total: 0,
        done: 0,
        report: Report { manifest: plan.manifest, connected: true, ..Report::default() },
        listener,
    };
    e.enqueue(plan.exchange);
    Ok(e)
}

async fn close(store: &SharedStore, mut e: Engine) -> Report {
    let leave = Message::Leave { sender_id: e.me.clone() };
    let _ = e.send(&leave).await;
    let _ = e.ws.close(None).await;
    let server = e.server.clone();
    let _ = store_op(store, move |c| {
        c.sync_disconnected(&server);
        Ok(())
    })
    .await;
    e.report
}

/// One sync round with the saved session: manifest, then exchange what differs (see the
/// crate docs). Runs on the caller's tokio runtime.
pub async fn sync_once(
    store: SharedStore,
    listener: Arc<dyn Fn(Status) + Send + Sync>,
) -> Result<Report, SyncError> {
    let session = saved_session(&store)?;
    listener(Status::Connecting);
    let plan = plan(&store, &session).await?;
    let mut report = if plan.exchange.is_empty() {
        Report { manifest: plan.manifest, ..Report::default() }
    } else {
        let mut e = open_engine(&store, &session, plan, listener.clone()).await?;
        let res = e.run_until_idle().await;
        let report = close(&store, e).await;
        res?;
        report
    };
    // Records first (small, and what the supervisor reviews); then the attachments.
    match uploads(&store, &session, &listener, Arc::new(AtomicBool::new(false))).await {
        Ok(u) => report.uploads = u,
        Err(SyncError::Unauthorized) => return Err(SyncError::Unauthorized),
        Err(e) => report.upload_error = Some(e.to_string()),
    }
    listener(Status::Idle);
    Ok(report)
}

/// One pass over the upload queue on a blocking thread, reporting progress to the listener;
/// stops after the chunk in flight when `stop` is set.
async fn uploads(
    store: &SharedStore,
    session: &Session,
    listener: &Arc<dyn Fn(Status) + Send + Sync>,
    stop: Arc<AtomicBool>,
) -> Result<UploadReport, SyncError> {
    let (store, session, listener) = (store.clone(), session.clone(), listener.clone());
    tokio::task::spawn_blocking(move || {
        upload_pending(&store, &session, &mut |p| {
            listener(Status::Upload(p.clone()));
            !stop.load(Ordering::SeqCst)
        })
    })
    .await
    .map_err(|e| SyncError::Server(format!("upload task failed: {e}")))?
}

/// A blocking [`sync_once`] on a runtime of its own (tests, command-line tools).
pub fn sync_blocking(store: SharedStore) -> Result<Report, SyncError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SyncError::Network(format!("no runtime: {e}")))?;
    rt.block_on(sync_once(store, Arc::new(|_| {})))
}

enum Command {
    SyncNow,
    Stop,
}

/// The running background sync. Dropping it stops it.
#[derive(Debug)]
pub struct SyncHandle {
    tx: mpsc::UnboundedSender<Command>,
    /// The sync thread, when [`start`] made one.
    thread: Option<std::thread::JoinHandle<()>>,
    /// Told when the sync task has finished, when [`start_on`] spawned it on a runtime.
    done: Option<std::sync::mpsc::Receiver<()>>,
}

impl SyncHandle {
    /// Push local changes now (connected: the documents with changes the server has not
    /// accepted; the manifest is re-read on connecting and every minute); when offline,
    /// retries connecting at once.
    pub fn sync_now(&self) {
        let _ = self.tx.send(Command::SyncNow);
    }

    /// Stops syncing and waits for the sync thread to finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(done) = self.done.take() {
            // The task ends at its next await point; a stuck network call is cut by its own
            // timeouts, so this wait is bounded too.
            let _ = done.recv_timeout(ANSWER_TIMEOUT);
        }
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts background sync with the saved session on a thread and runtime owned by the
/// library: connects, syncs, stays connected for live changes, reconnects with exponential
/// backoff (1 s doubling to 60 s). `listener` is called from that thread.
pub fn start(
    store: SharedStore,
    listener: Arc<dyn Fn(Status) + Send + Sync>,
) -> Result<SyncHandle, SyncError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SyncError::Network(format!("no runtime: {e}")))?;
    let thread = std::thread::Builder::new()
        .name("kefu-sync".into())
        .spawn(move || rt.block_on(live(store, listener, rx)))
        .map_err(|e| SyncError::Network(format!("no sync thread: {e}")))?;
    Ok(SyncHandle { tx, thread: Some(thread), done: None })
}

/// Like [`start`], but runs the sync as a task on a runtime the caller owns (the bindings'
/// one background runtime) instead of a thread of its own. [`SyncHandle::stop`] must not be
/// called from a thread of that runtime.
pub fn start_on(
    runtime: &tokio::runtime::Handle,
    store: SharedStore,
    listener: Arc<dyn Fn(Status) + Send + Sync>,
) -> SyncHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        live(store, listener, rx).await;
        let _ = done_tx.send(());
    });
    SyncHandle { tx, thread: None, done: Some(done_rx) }
}

/// Waits up to `d` for a command; `true` when told to stop. "Sync now" also wakes the
/// upload queue.
async fn wait(rx: &mut mpsc::UnboundedReceiver<Command>, d: Duration, kick: &Kick) -> bool {
    match tokio::time::timeout(d, rx.recv()).await {
        Ok(Some(Command::Stop) | None) => true,
        Ok(Some(Command::SyncNow)) => {
            if drain_nudges(rx) {
                return true;
            }
            kick.notify.notify_one();
            false
        }
        Err(_) => false,
    }
}

/// Takes the commands already waiting: further "sync now"s add nothing to the one being
/// handled. `true` when one of them is "stop" (or the handle is gone).
fn drain_nudges(rx: &mut mpsc::UnboundedReceiver<Command>) -> bool {
    loop {
        match rx.try_recv() {
            Ok(Command::SyncNow) => {}
            Ok(Command::Stop) | Err(mpsc::error::TryRecvError::Disconnected) => return true,
            Err(mpsc::error::TryRecvError::Empty) => return false,
        }
    }
}

/// How the record loop wakes and stops the upload loop.
#[derive(Default)]
struct Kick {
    notify: Notify,
    stop: Arc<AtomicBool>,
}

async fn live(
    store: SharedStore,
    listener: Arc<dyn Fn(Status) + Send + Sync>,
    rx: mpsc::UnboundedReceiver<Command>,
) {
    let kick = Arc::new(Kick::default());
    tokio::join!(
        records(store.clone(), listener.clone(), rx, kick.clone()),
        upload_loop(store, listener.clone(), kick)
    );
    listener(Status::Stopped);
}

/// The upload queue in the background: worked whenever something is waiting (woken by each
/// record round and by "sync now", else every minute), with backoff after network failures.
async fn upload_loop(store: SharedStore, listener: Arc<dyn Fn(Status) + Send + Sync>, kick: Arc<Kick>) {
    let mut backoff = Duration::from_secs(1);
    while !kick.stop.load(Ordering::SeqCst) {
        let mut pause = MANIFEST_REFRESH;
        let pending = store_op(&store, |c| Ok(c.pending_uploads()?.len())).await.unwrap_or(0);
        if pending > 0 {
            match saved_session(&store) {
                Ok(session) => match uploads(&store, &session, &listener, kick.stop.clone()).await {
                    Ok(_) => backoff = Duration::from_secs(1),
                    Err(SyncError::Unauthorized) => pause = Duration::from_secs(3600),
                    Err(e) => {
                        tracing::info!("attachment uploads wait {backoff:?}: {e}");
                        pause = backoff;
                        backoff = (backoff * 2).min(Duration::from_secs(60));
                    }
                },
                Err(_) => pause = Duration::from_secs(3600),
            }
        }
        if kick.stop.load(Ordering::SeqCst) {
            break;
        }
        let _ = tokio::time::timeout(pause, kick.notify.notified()).await;
    }
}

async fn records(
    store: SharedStore,
    listener: Arc<dyn Fn(Status) + Send + Sync>,
    mut rx: mpsc::UnboundedReceiver<Command>,
    kick: Arc<Kick>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        listener(Status::Connecting);
        let began = std::time::Instant::now();
        let res = connected(&store, &listener, &mut rx, &kick).await;
        if began.elapsed() > Duration::from_secs(30) {
            // It was connected for a while: the next failure starts the backoff afresh.
            backoff = Duration::from_secs(1);
        }
        match res {
            Ok(()) => break,
            Err(SyncError::Unauthorized) => {
                listener(Status::Unauthorized);
                // Nothing to do until the app signs in again and says so.
                if wait(&mut rx, Duration::from_secs(3600), &kick).await {
                    break;
                }
            }
            Err(e) => {
                listener(Status::Error { message: e.to_string(), retry_in_ms: backoff.as_millis() as u64 });
                if wait(&mut rx, backoff, &kick).await {
                    break;
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        }
    }
    kick.stop.store(true, Ordering::SeqCst);
    kick.notify.notify_one();
}

/// What a connected client does next besides taking in pushes.
#[derive(Debug, Clone, Copy)]
enum Round {
    /// Finish the exchanges a push started.
    Finish,
    /// Send the documents with changes the server has not accepted (after a nudge).
    Push,
    /// Re-read the manifest and exchange whatever differs.
    Manifest,
}

/// One connected period: sync, then stay connected pushing and receiving until told to stop
/// (`Ok`) or the connection fails (`Err`).
async fn connected(
    store: &SharedStore,
    listener: &Arc<dyn Fn(Status) + Send + Sync>,
    rx: &mut mpsc::UnboundedReceiver<Command>,
    kick: &Kick,
) -> Result<(), SyncError> {
    let session = saved_session(store)?;
    // The socket first, then the manifest: from the moment it is open the server pushes every
    // change this user may read, so a change accepted while the manifest is being read is
    // pushed rather than missed until the next refresh.
    let mut e = open_engine(store, &session, Plan::default(), listener.clone()).await?;
    let res = async {
        let p = plan(store, &session).await?;
        e.report.manifest = p.manifest;
        e.orphans.extend(p.orphans);
        e.enqueue(p.exchange);
        e.run_until_idle().await?;
        listener(Status::Idle);
        kick.notify.notify_one();
        let mut refresh = tokio::time::interval(MANIFEST_REFRESH);
        refresh.tick().await;
        loop {
            let again: Option<Round> = tokio::select! {
                frame = e.ws.next() => {
                    match frame {
                        None => return Err(SyncError::Network("the server closed the connection".into())),
                        Some(Err(err)) => return Err(SyncError::Network(err.to_string())),
                        Some(Ok(WsMessage::Binary(b))) => {
                            let m = unframe(&b)?;
                            let received = e.report.received;
                            e.handle(m).await?;
                            if e.active.is_empty() && e.report.received != received {
                                // A change from another device, taken in whole: say so, so
                                // the app's screens refresh.
                                listener(Status::Idle);
                            }
                        }
                        Some(Ok(WsMessage::Close(_))) => return Err(SyncError::Network("the server closed the connection".into())),
                        Some(Ok(_)) => {}
                    }
                    // A push handled: finish any exchange it started.
                    (!e.active.is_empty()).then_some(Round::Finish)
                }
                cmd = rx.recv() => match cmd {
                    None | Some(Command::Stop) => return Ok(()),
                    Some(Command::SyncNow) => {
                        // Nudges that came while busy are one.
                        if drain_nudges(rx) {
                            return Ok(());
                        }
                        kick.notify.notify_one();
                        Some(Round::Push)
                    }
                },
                _ = refresh.tick() => Some(Round::Manifest),
            };
            if let Some(round) = again {
                if e.active.is_empty() {
                    let exchange = match round {
                        Round::Finish => Vec::new(),
                        // Connected, the server pushes what changed there; a nudge only has
                        // to send what changed here. The manifest (new and withdrawn
                        // assignments) is read on connecting and every MANIFEST_REFRESH.
                        Round::Push => store_op(store, |c| c.unsynced_documents()).await?,
                        Round::Manifest => {
                            let p = plan(store, &session).await?;
                            e.orphans.extend(p.orphans);
                            p.exchange
                        }
                    };
                    e.total = 0;
                    e.done = 0;
                    e.enqueue(exchange);
                }
                e.run_until_idle().await?;
                listener(Status::Idle);
            }
        }
    }
    .await;
    close(store, e).await;
    res
}
