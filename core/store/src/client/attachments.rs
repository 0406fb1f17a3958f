//! Attachments on the phone: photos of a visit, the customer's signature, a photo on an
//! appearance check item, a medical certificate on a leave request.
//!
//! Attaching works offline. The bytes are read in pieces (a file is never held in memory
//! whole), named by their SHA-256, and written in the same transaction as the record change
//! that refers to them, together with an entry in the upload queue (`uploads`). The queue is
//! separate from record sync: `kefu-sync` uploads from it in chunks and moves each entry
//! `waiting → uploading (n bytes confirmed) → uploaded`, or `failed` with the server's reason.
//! Its progress is saved after every chunk, so an upload resumes where it stopped after a cut
//! connection or a restart. Downloads (an attachment made on another device) are appended
//! piece by piece as they arrive and checked against the hash when complete; a partial
//! download resumes from the bytes held.

use std::io::Read;
use std::path::PathBuf;

use kefu_model::records::appearance::AppearanceCheck;
use kefu_model::records::attendance::AttendanceMonth;
use kefu_model::records::customer::CustomerFile;
use kefu_model::records::AttachmentRef;
use kefu_model::{DocError, DocumentId, Record};
use rusqlite::{params, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};

use super::{invalid, random, Actor, Client};
use crate::error::{Result, StoreError};

/// Bytes per stored piece (and per upload chunk, see `kefu-sync`).
pub const PIECE_BYTES: usize = 256 * 1024;
/// Default largest attachment, the server's default limit (25 MiB).
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 25 << 20;

/// Where the bytes of a new attachment come from.
#[derive(Debug, Clone)]
pub enum AttachmentSource {
    /// Bytes in memory (a camera frame, a drawn signature).
    Bytes(Vec<u8>),
    /// A file on the device, read in pieces.
    File(PathBuf),
}

/// The state of an attachment made on this phone in the upload queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Not started.
    Waiting,
    /// Part of it is on the server (`sent` bytes); the rest follows on the next sync.
    Uploading,
    /// On the server, checked against its hash.
    Uploaded,
    /// The server refused it (`error` says why); retried only by [`Client::retry_upload`].
    Failed,
}

impl UploadState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Waiting => "waiting",
            UploadState::Uploading => "uploading",
            UploadState::Uploaded => "uploaded",
            UploadState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> UploadState {
        match s {
            "uploading" => UploadState::Uploading,
            "uploaded" => UploadState::Uploaded,
            "failed" => UploadState::Failed,
            _ => UploadState::Waiting,
        }
    }
}

/// One entry of the upload queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The attachment's SHA-256 (lowercase hex).
    pub sha256: String,
    /// Size, bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
    /// Where it stands.
    pub state: UploadState,
    /// Bytes the server has confirmed.
    pub sent: u64,
    /// The last failure: the server's reason when `Failed`, else the last network error
    /// (the upload is retried on the next sync).
    pub error: Option<String>,
    /// The record it was first attached to.
    pub doc_id: String,
    /// What it is (`visit photo`, `signature`, `check photo`, `certificate`).
    pub label: String,
    /// When it was attached, Unix ms.
    pub queued_at: i64,
    /// Last change of state or progress, Unix ms.
    pub updated_at: i64,
}

impl Upload {
    /// Percent confirmed by the server, 0–100.
    pub fn percent(&self) -> u8 {
        if self.size == 0 || self.state == UploadState::Uploaded {
            return if self.state == UploadState::Uploaded { 100 } else { 0 };
        }
        ((self.sent.min(self.size) * 100) / self.size) as u8
    }
}

/// What this phone holds of an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Size of the whole file, bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
    /// Bytes held from the start (`== size` when complete).
    pub have: u64,
}

impl BlobInfo {
    /// Whether every byte is here (and was checked against the hash).
    pub fn complete(&self) -> bool {
        self.have == self.size
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_media_type(media_type: &str) -> Result<()> {
    let ok = media_type.len() <= 100
        && media_type.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && media_type.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "attachment",
            "media_type",
            format!("{media_type:?} is not a media type like image/jpeg"),
        ))
    }
}

fn check_sha(sha256: &str) -> Result<()> {
    if sha256.len() == 64 && sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(invalid("attachment", "sha256", format!("{sha256:?} is not 64 lowercase hex digits")))
    }
}

/// Bytes staged under a temporary name, not yet part of any record.
struct Staged {
    key: String,
    sha256: String,
    size: u64,
}

impl Client {
    /// The largest attachment this phone accepts (default 25 MiB, the server's default).
    pub fn set_max_attachment_bytes(&mut self, max: u64) {
        self.max_attachment_bytes = max.max(1);
    }

    /// Reads the source into staging pieces (their own transaction), hashing as it goes.
    fn stage(&mut self, source: AttachmentSource) -> Result<Staged> {
        let key = format!("staging:{}", hex(&random::<12>()));
        let max = self.max_attachment_bytes;
        let too_big = |size: u64| {
            invalid(
                "attachment",
                "size",
                format!("{size} bytes is over the limit of {max} bytes; take a smaller photo or scan"),
            )
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let tx = self.conn.transaction()?;
        {
            let mut put = |piece: &[u8], size: &mut u64| -> Result<()> {
                tx.prepare_cached("INSERT INTO blob_pieces (sha256, pos, data) VALUES (?1, ?2, ?3)")?
                    .execute(params![key, *size as i64, piece])?;
                hasher.update(piece);
                *size += piece.len() as u64;
                Ok(())
            };
            match source {
                AttachmentSource::Bytes(b) => {
                    if b.len() as u64 > max {
                        return Err(too_big(b.len() as u64));
                    }
                    for piece in b.chunks(PIECE_BYTES) {
                        put(piece, &mut size)?;
                    }
                }
                AttachmentSource::File(path) => {
                    let file_err =
                        |e: std::io::Error| StoreError::File { path: path.clone(), detail: e.to_string() };
                    let mut f = std::fs::File::open(&path).map_err(file_err)?;
                    let len = f.metadata().map_err(file_err)?.len();
                    if len > max {
                        return Err(too_big(len));
                    }
                    let mut buf = vec![0u8; PIECE_BYTES];
                    loop {
                        // Fill a whole piece (a read may return less).
                        let mut n = 0;
                        while n < buf.len() {
                            let got = f.read(&mut buf[n..]).map_err(file_err)?;
                            if got == 0 {
                                break;
                            }
                            n += got;
                        }
                        if n == 0 {
                            break;
                        }
                        if size + n as u64 > max {
                            return Err(too_big(size + n as u64));
                        }
                        put(&buf[..n], &mut size)?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(Staged { key, sha256: hex(&hasher.finalize()), size })
    }

    fn drop_staged(&mut self, key: &str) {
        // Best effort: leftovers are removed when the store is next opened.
        let _ = self.conn.execute("DELETE FROM blob_pieces WHERE sha256 = ?1", [key]);
    }

    /// Stages the bytes, then applies `f` with the attachment's reference to the record and,
    /// in the same transaction, names the bytes by their hash and queues the upload.
    fn attach<R: Record>(
        &mut self,
        doc: &DocumentId,
        label: &str,
        source: AttachmentSource,
        media_type: &str,
        f: impl FnOnce(&mut R, &Actor, AttachmentRef) -> Result<(), DocError>,
    ) -> Result<AttachmentRef> {
        check_media_type(media_type)?;
        let (_, actor) = self.who()?;
        let staged = self.stage(source)?;
        let key = staged.key.clone();
        let r = AttachmentRef {
            sha256: staged.sha256.clone(),
            size: staged.size as i64,
            media_type: media_type.to_string(),
            attached_by: actor.user.clone(),
            attached_at: actor.at,
        };
        let now = actor.at;
        let doc_id = doc.to_string();
        let given = r.clone();
        let res = self.edit_with(
            doc,
            move |rec: &mut R, by| f(rec, by, given),
            |tx| keep_staged(tx, &staged, media_type, &doc_id, label, now),
        );
        if res.is_err() {
            self.drop_staged(&key);
        }
        res.map(|_| r)
    }

    /// Adds a photo of the work to a visit (offline; uploaded later).
    pub fn attach_visit_photo(
        &mut self,
        doc: &DocumentId,
        visit: &str,
        source: AttachmentSource,
        media_type: &str,
    ) -> Result<AttachmentRef> {
        self.attach(doc, "visit photo", source, media_type, |c: &mut CustomerFile, _, r| {
            c.attach_visit_photo(visit, r)
        })
    }

    /// Sets the customer's signature on a visit (offline; uploaded later).
    pub fn sign_visit(
        &mut self,
        doc: &DocumentId,
        visit: &str,
        source: AttachmentSource,
        media_type: &str,
    ) -> Result<AttachmentRef> {
        self.attach(doc, "signature", source, media_type, |c: &mut CustomerFile, _, r| c.sign_visit(visit, r))
    }

    /// Puts a photo on one item of a person's recorded appearance check.
    pub fn attach_check_photo(
        &mut self,
        sheet: &DocumentId,
        staff: &str,
        code: &str,
        source: AttachmentSource,
        media_type: &str,
    ) -> Result<AttachmentRef> {
        self.attach(sheet, "check photo", source, media_type, |s: &mut AppearanceCheck, _, r| {
            s.attach_item_photo(staff, code, r)
        })
    }

    /// Attaches a scan of the medical certificate to a leave request.
    pub fn attach_certificate(
        &mut self,
        doc: &DocumentId,
        leave: &str,
        source: AttachmentSource,
        media_type: &str,
    ) -> Result<AttachmentRef> {
        self.attach(doc, "certificate", source, media_type, |a: &mut AttendanceMonth, _, r| {
            a.attach_certificate(leave, Some(r), None)
        })
    }

    /// The upload queue, oldest first: everything attached on this phone, with its state.
    pub fn uploads(&self) -> Result<Vec<Upload>> {
        self.query_uploads("1 = 1")
    }

    /// The entries still to upload (waiting or part-way), oldest first.
    pub fn pending_uploads(&self) -> Result<Vec<Upload>> {
        self.query_uploads("u.state IN ('waiting', 'uploading')")
    }

    fn query_uploads(&self, filter: &str) -> Result<Vec<Upload>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT u.sha256, b.size, b.media_type, u.state, u.sent, u.error, u.doc_id, u.label, \
             u.queued_at, u.updated_at FROM uploads u JOIN blobs b USING (sha256) \
             WHERE {filter} ORDER BY u.queued_at, u.sha256"
        ))?;
        let rows = st.query_map([], |r| {
            Ok(Upload {
                sha256: r.get(0)?,
                size: r.get::<_, i64>(1)? as u64,
                media_type: r.get(2)?,
                state: UploadState::parse(&r.get::<_, String>(3)?),
                sent: r.get::<_, i64>(4)? as u64,
                error: r.get(5)?,
                doc_id: r.get(6)?,
                label: r.get(7)?,
                queued_at: r.get(8)?,
                updated_at: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Records upload progress: `sent` bytes confirmed by the server, the new state, and the
    /// last error (`None` clears it).
    pub fn set_upload_progress(
        &mut self,
        sha256: &str,
        state: UploadState,
        sent: u64,
        error: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        let n = self
            .conn
            .prepare_cached(
                "UPDATE uploads SET state = ?2, sent = ?3, error = ?4, updated_at = ?5 WHERE sha256 = ?1",
            )?
            .execute(params![sha256, state.as_str(), sent as i64, error, now])?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("upload {sha256}")));
        }
        Ok(())
    }

    /// Puts a failed upload back in the queue (after the limit was raised, say).
    pub fn retry_upload(&mut self, sha256: &str) -> Result<()> {
        let now = self.now();
        let n = self.conn.execute(
            "UPDATE uploads SET state = CASE WHEN sent > 0 THEN 'uploading' ELSE 'waiting' END, \
             updated_at = ?2 WHERE sha256 = ?1 AND state = 'failed'",
            params![sha256, now],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("failed upload {sha256}")));
        }
        Ok(())
    }

    /// What this phone holds of an attachment, if anything.
    pub fn blob_info(&self, sha256: &str) -> Result<Option<BlobInfo>> {
        Ok(self
            .conn
            .prepare_cached("SELECT size, media_type, have FROM blobs WHERE sha256 = ?1")?
            .query_row([sha256], |r| {
                Ok(BlobInfo {
                    size: r.get::<_, i64>(0)? as u64,
                    media_type: r.get(1)?,
                    have: r.get::<_, i64>(2)? as u64,
                })
            })
            .optional()?)
    }

    /// Up to `len` bytes of a held attachment from `offset` (fewer at the end).
    pub fn blob_range(&self, sha256: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        let end = offset + len as u64;
        let mut st = self.conn.prepare_cached(
            "SELECT pos, data FROM blob_pieces WHERE sha256 = ?1 AND pos < ?3 \
             AND pos + length(data) > ?2 ORDER BY pos",
        )?;
        let mut rows = st.query(params![sha256, offset as i64, end as i64])?;
        let mut out = Vec::with_capacity(len);
        while let Some(r) = rows.next()? {
            let pos = r.get::<_, i64>(0)? as u64;
            let data = r.get_ref(1)?.as_blob().map_err(|e| StoreError::Document(e.to_string()))?;
            let from = offset.saturating_sub(pos) as usize;
            let to = ((end - pos) as usize).min(data.len());
            if pos + from as u64 != offset + out.len() as u64 {
                return Err(StoreError::Document(format!("attachment {sha256} has a gap at byte {offset}")));
            }
            out.extend_from_slice(&data[from..to]);
        }
        Ok(out)
    }

    /// The bytes of an attachment held completely on this phone; `None` when it is not here
    /// (or only part of it: download it first).
    pub fn attachment_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        match self.blob_info(sha256)? {
            Some(b) if b.complete() => Ok(Some(self.blob_range(sha256, 0, b.size as usize)?)),
            _ => Ok(None),
        }
    }

    /// Starts (or resumes) receiving an attachment: returns the bytes already held, where the
    /// next piece starts.
    pub fn begin_download(&mut self, sha256: &str, size: u64, media_type: &str) -> Result<u64> {
        check_sha(sha256)?;
        if let Some(b) = self.blob_info(sha256)? {
            if b.size != size {
                // The partial copy belongs to a different file than the one announced: restart.
                let tx = self.conn.transaction()?;
                tx.prepare_cached("DELETE FROM blob_pieces WHERE sha256 = ?1")?.execute([sha256])?;
                tx.prepare_cached("UPDATE blobs SET size = ?2, have = 0 WHERE sha256 = ?1")?
                    .execute(params![sha256, size as i64])?;
                tx.commit()?;
                return Ok(0);
            }
            return Ok(b.have);
        }
        let now = self.now();
        self.conn
            .prepare_cached(
                "INSERT INTO blobs (sha256, size, media_type, have, added_at) VALUES (?1, ?2, ?3, 0, ?4)",
            )?
            .execute(params![sha256, size as i64, media_type, now])?;
        Ok(0)
    }

    /// Drops the bytes held of a partial download, to receive it again from the start.
    pub fn restart_download(&mut self, sha256: &str) -> Result<()> {
        if self.blob_info(sha256)?.is_some_and(|b| b.complete()) {
            return Ok(()); // a complete, checked copy is kept
        }
        let tx = self.conn.transaction()?;
        tx.prepare_cached("DELETE FROM blob_pieces WHERE sha256 = ?1")?.execute([sha256])?;
        tx.prepare_cached("UPDATE blobs SET have = 0 WHERE sha256 = ?1")?.execute([sha256])?;
        tx.commit()?;
        Ok(())
    }

    /// Appends received bytes at `pos` (which must be the bytes held); returns the new total.
    /// Once every byte is here the whole file is checked against its hash: on a mismatch the
    /// copy is discarded and an error says so.
    pub fn append_download(&mut self, sha256: &str, pos: u64, data: &[u8]) -> Result<u64> {
        let b = self.blob_info(sha256)?.ok_or_else(|| StoreError::NotFound(format!("download {sha256}")))?;
        if pos != b.have {
            return Err(StoreError::Document(format!(
                "attachment {sha256}: bytes at {pos}, but {} are held",
                b.have
            )));
        }
        if b.have + data.len() as u64 > b.size {
            return Err(StoreError::Document(format!(
                "attachment {sha256}: more bytes than its size {}",
                b.size
            )));
        }
        let have = b.have + data.len() as u64;
        let tx = self.conn.transaction()?;
        for (i, piece) in data.chunks(PIECE_BYTES).enumerate() {
            tx.prepare_cached("INSERT INTO blob_pieces (sha256, pos, data) VALUES (?1, ?2, ?3)")?
                .execute(params![sha256, (pos + (i * PIECE_BYTES) as u64) as i64, piece])?;
        }
        tx.prepare_cached("UPDATE blobs SET have = ?2 WHERE sha256 = ?1")?
            .execute(params![sha256, have as i64])?;
        tx.commit()?;
        if have == b.size {
            let mut hasher = Sha256::new();
            let mut at = 0;
            while at < b.size {
                let piece = self.blob_range(sha256, at, PIECE_BYTES * 8)?;
                if piece.is_empty() {
                    break;
                }
                at += piece.len() as u64;
                hasher.update(&piece);
            }
            if hex(&hasher.finalize()) != sha256 {
                let tx = self.conn.transaction()?;
                tx.prepare_cached("DELETE FROM blob_pieces WHERE sha256 = ?1")?.execute([sha256])?;
                tx.prepare_cached("UPDATE blobs SET have = 0 WHERE sha256 = ?1")?.execute([sha256])?;
                tx.commit()?;
                return Err(StoreError::Document(format!(
                    "attachment {sha256}: the received bytes do not match its hash; discarded, download it again"
                )));
            }
        }
        Ok(have)
    }
}

/// In the record's transaction: the staged pieces become the attachment's (or are dropped
/// when the same bytes are already held), and the upload is queued.
fn keep_staged(
    tx: &Transaction<'_>,
    staged: &Staged,
    media_type: &str,
    doc_id: &str,
    label: &str,
    now: i64,
) -> Result<()> {
    let held: Option<(i64, i64)> = tx
        .prepare_cached("SELECT size, have FROM blobs WHERE sha256 = ?1")?
        .query_row([&staged.sha256], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match held {
        Some((size, have)) if size == have => {
            tx.prepare_cached("DELETE FROM blob_pieces WHERE sha256 = ?1")?.execute([&staged.key])?;
        }
        _ => {
            // Absent, or a partial download of the same file: the staged bytes are complete.
            tx.prepare_cached("DELETE FROM blob_pieces WHERE sha256 = ?1")?.execute([&staged.sha256])?;
            tx.prepare_cached("UPDATE blob_pieces SET sha256 = ?2 WHERE sha256 = ?1")?
                .execute(params![staged.key, staged.sha256])?;
            tx.execute(
                "INSERT INTO blobs (sha256, size, media_type, have, added_at) VALUES (?1, ?2, ?3, ?2, ?4) \
                 ON CONFLICT (sha256) DO UPDATE SET size = excluded.size, have = excluded.size",
                params![staged.sha256, staged.size as i64, media_type, now],
            )?;
        }
    }
    tx.execute(
        "INSERT INTO uploads (sha256, state, sent, error, doc_id, label, queued_at, updated_at) \
         VALUES (?1, 'waiting', 0, NULL, ?2, ?3, ?4, ?4) ON CONFLICT (sha256) DO NOTHING",
        params![staged.sha256, doc_id, label, now],
    )?;
    Ok(())
}
