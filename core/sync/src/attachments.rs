//! Attachments over HTTP: the upload queue and on-demand downloads (`docs/attachments.md`).
//!
//! The queue is separate from record sync: records are small and go first over the sync
//! WebSocket; attachments follow over `PUT /api/v1/attachments/{sha256}?offset=N`, one chunk
//! of [`CHUNK_BYTES`] per request, oldest first. Each chunk the server confirms is saved in the
//! store before the next is sent, so a cut connection or a restart resumes at the confirmed
//! byte (the server's `…/status` says where it stands). A refusal (too large, not allowed,
//! damaged file) marks the entry `failed` with the server's reason and the queue moves on; a
//! network failure leaves it `waiting`/`uploading` with the error noted, and stops the round.
//! Downloads ask for the bytes not yet held (`Range: bytes=N-`) and store them piece by piece,
//! so they resume too; the store checks the whole file against its hash.

use std::io::Read;
use std::time::Duration;

use kefu_store::{Upload, UploadState, PIECE_BYTES};
use serde::Deserialize;

use crate::{Session, SharedStore, SyncError};

/// Bytes sent per upload request (one stored piece).
pub const CHUNK_BYTES: usize = PIECE_BYTES;
/// Conflicting offsets tolerated in a row before an upload is left for the next round.
const MAX_CONFLICTS: usize = 3;
/// Damaged chunks (refused by the server's chunk check) resent before giving up this round.
const MAX_RESENDS: usize = 3;

/// Progress of the upload queue, told after every chunk and every finished entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadProgress {
    /// The attachment.
    pub sha256: String,
    /// What it is (`visit photo`, `signature`, …).
    pub label: String,
    /// Bytes the server has confirmed.
    pub sent: u64,
    /// Its size.
    pub size: u64,
    /// Its state now.
    pub state: UploadState,
    /// The server's reason when it failed.
    pub error: Option<String>,
    /// Entries still waiting after this one.
    pub remaining: usize,
}

/// What one pass over the upload queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Attachments now complete on the server.
    pub uploaded: usize,
    /// Attachments the server refused (kept with the reason).
    pub failed: usize,
    /// Entries still waiting (stopped early, or left for the next round).
    pub pending: usize,
}

#[derive(Debug, Deserialize)]
struct ServerStatus {
    size: u64,
    received: u64,
    complete: bool,
}

fn agent() -> ureq::Agent {
    // No overall deadline: a 25 MB download on a slow link takes minutes. Each read and write
    // must make progress within 30 s.
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(10))
        .timeout_read(Duration::from_secs(30))
        .timeout_write(Duration::from_secs(30))
        .build()
}

fn url(session: &Session, sha256: &str) -> String {
    format!("{}/api/v1/attachments/{sha256}", session.server)
}

fn sha_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// An HTTP error with its status code kept, so refusals can be told from outages.
enum Answer {
    Status(u16, String),
    Other(SyncError),
}

fn answer(e: ureq::Error) -> Answer {
    match e {
        ureq::Error::Status(code, r) => {
            let body: serde_json::Value = r.into_json().unwrap_or_default();
            let msg = body.get("error").and_then(|m| m.as_str()).unwrap_or("no details").to_string();
            Answer::Status(code, msg)
        }
        ureq::Error::Transport(t) => Answer::Other(SyncError::Network(t.to_string())),
    }
}

/// Where the server's copy stands: `None` when it has none (or none this user may see).
fn server_status(
    a: &ureq::Agent,
    session: &Session,
    sha256: &str,
) -> Result<Option<ServerStatus>, SyncError> {
    match a
        .get(&format!("{}/status", url(session, sha256)))
        .set("Authorization", &format!("Bearer {}", session.token))
        .call()
    {
        Ok(r) => {
            r.into_json().map(Some).map_err(|e| SyncError::Server(format!("unexpected upload status: {e}")))
        }
        Err(e) => match answer(e) {
            Answer::Status(404, _) => Ok(None),
            Answer::Status(401, _) => Err(SyncError::Unauthorized),
            Answer::Status(code, m) => Err(SyncError::Server(format!("HTTP {code}: {m}"))),
            Answer::Other(e) => Err(e),
        },
    }
}

/// Notes a network or server failure on the entry that waits because of it (its state and
/// progress unchanged), so the app can show why.
fn note_error(store: &SharedStore, sha256: &str, e: &SyncError) -> Result<(), SyncError> {
    if let SyncError::Network(m) | SyncError::Server(m) = e {
        with_store(store, |c| {
            let now = c.uploads()?.into_iter().find(|x| x.sha256 == sha256);
            match now {
                Some(x) => c.set_upload_progress(sha256, x.state, x.sent, Some(m)),
                None => Ok(()),
            }
        })?;
    }
    Ok(())
}

/// The server's largest attachment (`None` from a server that does not say).
fn server_limit(a: &ureq::Agent, session: &Session) -> Result<Option<u64>, SyncError> {
    #[derive(Deserialize)]
    struct Limits {
        max_bytes: u64,
    }
    match a
        .get(&format!("{}/api/v1/attachments/limits", session.server))
        .set("Authorization", &format!("Bearer {}", session.token))
        .call()
    {
        Ok(r) => Ok(r.into_json::<Limits>().ok().map(|l| l.max_bytes)),
        Err(e) => match answer(e) {
            Answer::Status(401, _) => Err(SyncError::Unauthorized),
            Answer::Status(..) => Ok(None),
            Answer::Other(e) => Err(e),
        },
    }
}

fn with_store<T>(
    store: &SharedStore,
    f: impl FnOnce(&mut kefu_store::Client) -> kefu_store::Result<T>,
) -> Result<T, SyncError> {
    let mut c = store.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut c).map_err(SyncError::Store)
}

/// How one entry ended.
enum Ended {
    Uploaded,
    Failed,
    /// Left for the next round (told to stop, or the server kept answering conflicts).
    Later,
}

/// Uploads the queue, oldest first. `progress` is told after each confirmed chunk and each
/// finished entry, and may answer `false` to stop after the chunk in flight (the rest waits
/// for the next call). Blocking: run it off the UI thread (the background sync does).
///
/// Network failures and an expired sign-in end the pass with an error (progress so far is
/// saved); refusals fail only their entry.
pub fn upload_pending(
    store: &SharedStore,
    session: &Session,
    progress: &mut dyn FnMut(&UploadProgress) -> bool,
) -> Result<UploadReport, SyncError> {
    let a = agent();
    let queue = with_store(store, |c| c.pending_uploads())?;
    if queue.is_empty() {
        return Ok(UploadReport::default());
    }
    let max = match server_limit(&a, session) {
        Ok(m) => m,
        Err(e) => {
            note_error(store, &queue[0].sha256, &e)?;
            return Err(e);
        }
    };
    let mut report = UploadReport::default();
    let total = queue.len();
    for (i, u) in queue.into_iter().enumerate() {
        let remaining = total - i - 1;
        let mut keep_going = true;
        let ended = upload_one(&a, store, session, &u, max, &mut |sent, state, error| {
            keep_going = progress(&UploadProgress {
                sha256: u.sha256.clone(),
                label: u.label.clone(),
                sent,
                size: u.size,
                state,
                error: error.map(str::to_string),
                remaining,
            }) && keep_going;
            keep_going
        });
        match ended {
            Ok(Ended::Uploaded) => report.uploaded += 1,
            Ok(Ended::Failed) => report.failed += 1,
            Ok(Ended::Later) => report.pending += 1,
            Err(e) => {
                note_error(store, &u.sha256, &e)?;
                return Err(e);
            }
        }
        if !keep_going {
            report.pending += remaining;
            break;
        }
    }
    Ok(report)
}

fn upload_one(
    a: &ureq::Agent,
    store: &SharedStore,
    session: &Session,
    u: &Upload,
    max: Option<u64>,
    told: &mut dyn FnMut(u64, UploadState, Option<&str>) -> bool,
) -> Result<Ended, SyncError> {
    let sha = u.sha256.as_str();
    let save = |state: UploadState, sent: u64, error: Option<&str>| {
        with_store(store, |c| c.set_upload_progress(sha, state, sent, error))
    };
    let fail = |reason: &str, sent: u64, told: &mut dyn FnMut(u64, UploadState, Option<&str>) -> bool| {
        save(UploadState::Failed, sent, Some(reason))?;
        told(sent, UploadState::Failed, Some(reason));
        Ok(Ended::Failed)
    };
    if let Some(max) = max.filter(|m| u.size > *m) {
        let reason = format!("the file is {} bytes; the server's limit is {max} bytes", u.size);
        return fail(&reason, 0, told);
    }
    let mut offset = match server_status(a, session, sha)? {
        Some(s) if s.complete => {
            save(UploadState::Uploaded, u.size, None)?;
            told(u.size, UploadState::Uploaded, None);
            return Ok(Ended::Uploaded);
        }
        Some(s) if s.size == u.size => s.received,
        Some(s) => {
            return fail(
                &format!("the server holds an upload of this file with size {}, not {}", s.size, u.size),
                0,
                told,
            )
        }
        None => 0,
    };
    let (mut conflicts, mut resends) = (0, 0);
    loop {
        let chunk = with_store(store, |c| c.blob_range(sha, offset, CHUNK_BYTES))?;
        if chunk.is_empty() {
            return fail("the bytes are no longer on this phone", offset, told);
        }
        let put = a
            .put(&format!("{}?offset={offset}", url(session, sha)))
            .set("Authorization", &format!("Bearer {}", session.token))
            .set("Content-Type", &u.media_type)
            .set("X-Kefu-Size", &u.size.to_string())
            .set("X-Kefu-Chunk-Sha256", &sha_hex(&chunk))
            .send_bytes(&chunk);
        match put {
            Ok(r) => {
                let s: ServerStatus =
                    r.into_json().map_err(|e| SyncError::Server(format!("unexpected upload answer: {e}")))?;
                conflicts = 0;
                resends = 0;
                if s.complete {
                    save(UploadState::Uploaded, u.size, None)?;
                    told(u.size, UploadState::Uploaded, None);
                    return Ok(Ended::Uploaded);
                }
                offset = s.received;
                save(UploadState::Uploading, offset, None)?;
                if !told(offset, UploadState::Uploading, None) {
                    return Ok(Ended::Later);
                }
            }
            Err(e) => match answer(e) {
                Answer::Other(e) => return Err(e),
                Answer::Status(401, _) => return Err(SyncError::Unauthorized),
                Answer::Status(409, m) => {
                    // Someone (this user's other phone, an earlier attempt) moved it on.
                    conflicts += 1;
                    if conflicts > MAX_CONFLICTS {
                        save(UploadState::Uploading, offset, Some(&m))?;
                        return Ok(Ended::Later);
                    }
                    match server_status(a, session, sha)? {
                        Some(s) if s.complete => {
                            save(UploadState::Uploaded, u.size, None)?;
                            told(u.size, UploadState::Uploaded, None);
                            return Ok(Ended::Uploaded);
                        }
                        Some(s) if s.size == u.size => offset = s.received,
                        Some(_) => return fail(&format!("HTTP 409: {m}"), offset, told),
                        None => offset = 0,
                    }
                }
                Answer::Status(400, m) if m.contains("X-Kefu-Chunk-Sha256") && resends < MAX_RESENDS => {
                    // Damaged on the way: send it again.
                    resends += 1;
                }
                Answer::Status(code, m) if code >= 500 => {
                    return Err(SyncError::Server(format!("HTTP {code}: {m}")));
                }
                Answer::Status(code, m) => return fail(&format!("HTTP {code}: {m}"), offset, told),
            },
        }
    }
}

/// The bytes of an attachment: from the store when held, else fetched from the server
/// (resuming a partial download) and kept. `progress(held, size)` is told after every piece
/// and may answer `false` to stop (what arrived is kept). Blocking.
pub fn download(
    store: &SharedStore,
    session: &Session,
    sha256: &str,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<Vec<u8>, SyncError> {
    if let Some(b) = with_store(store, |c| c.attachment_bytes(sha256))? {
        return Ok(b);
    }
    let held = with_store(store, |c| c.blob_info(sha256))?.map_or(0, |b| b.have);
    let mut req =
        agent().get(&url(session, sha256)).set("Authorization", &format!("Bearer {}", session.token));
    if held > 0 {
        req = req.set("Range", &format!("bytes={held}-"));
    }
    let r = match req.call() {
        Ok(r) => r,
        Err(e) => {
            return Err(match answer(e) {
                Answer::Status(401, _) => SyncError::Unauthorized,
                Answer::Status(404, _) => SyncError::Server(
                    "HTTP 404: the attachment is not on the server (not uploaded yet by the phone that took it, or not yours to see)".into(),
                ),
                Answer::Status(code, m) => SyncError::Server(format!("HTTP {code}: {m}")),
                Answer::Other(e) => e,
            })
        }
    };
    let media_type = r.header("Content-Type").unwrap_or("application/octet-stream").to_string();
    let (start, size) = if r.status() == 206 {
        // Content-Range: bytes a-b/total
        let cr = r.header("Content-Range").unwrap_or_default().to_string();
        let parsed = cr.strip_prefix("bytes ").and_then(|x| x.split_once('/')).and_then(|(range, total)| {
            Some((range.split_once('-')?.0.parse::<u64>().ok()?, total.parse::<u64>().ok()?))
        });
        parsed.ok_or_else(|| SyncError::Server(format!("unexpected Content-Range {cr:?}")))?
    } else {
        let len = r.header("Content-Length").and_then(|l| l.parse::<u64>().ok());
        (0, len.ok_or_else(|| SyncError::Server("the download has no Content-Length".into()))?)
    };
    let mut at = with_store(store, |c| c.begin_download(sha256, size, &media_type))?;
    if start != at {
        // The server sent another range than asked (or the copy was restarted): begin again.
        with_store(store, |c| c.restart_download(sha256))?;
        if start != 0 {
            return Err(SyncError::Server(format!(
                "asked for bytes from {held}, got from {start}; try again"
            )));
        }
        at = 0;
    }
    let mut body = r.into_reader().take(size - at);
    let mut buf = vec![0u8; PIECE_BYTES];
    while at < size {
        let mut n = 0;
        while n < buf.len() {
            let got = body
                .read(&mut buf[n..])
                .map_err(|e| SyncError::Network(format!("download cut at byte {}: {e}", at + n as u64)))?;
            if got == 0 {
                break;
            }
            n += got;
        }
        if n == 0 {
            return Err(SyncError::Network(format!("download cut at byte {at} of {size}; it resumes there")));
        }
        at = with_store(store, |c| c.append_download(sha256, at, &buf[..n]))?;
        if !progress(at, size) && at < size {
            return Err(SyncError::Network(format!(
                "download stopped at byte {at} of {size}; it resumes there"
            )));
        }
    }
    with_store(store, |c| c.attachment_bytes(sha256))?
        .ok_or_else(|| SyncError::Server(format!("attachment {sha256} incomplete after download")))
}
