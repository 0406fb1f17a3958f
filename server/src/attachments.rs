//! Attachments: photos of the work, the customer's signature, check-item photos and medical
//! certificates (`docs/attachments.md`).
//!
//! An attachment is addressed by the SHA-256 of its bytes; the record stores that hash with
//! size, media type and who attached it (`AttachmentRef`), so record and evidence cannot drift
//! apart, and the same photo attached twice is stored once. The bytes live in this database
//! (`attachment_chunks`), so they are durable like records (`synchronous=FULL`) and every
//! backup holds them.
//!
//! - Upload: `PUT /api/v1/attachments/{sha256}?offset=N`, one chunk (at most
//!   [`MAX_CHUNK_BYTES`]) per request, with `X-Kefu-Size` (the whole file's size),
//!   `Content-Type` (its media type) and `X-Kefu-Chunk-Sha256` (this chunk's hash). Chunks are
//!   appended in order; a chunk whose bytes do not match its hash is refused and not stored;
//!   when the last byte arrives the whole file is checked against its name and discarded if it
//!   does not match. `GET …/{sha256}/status` says how far an upload got, so a phone resumes
//!   after a cut connection or a restart. A declared size over the limit (default 25 MB,
//!   `KEFU_MAX_ATTACHMENT_BYTES`) is refused before any of the body is read.
//! - Download: `GET /api/v1/attachments/{sha256}`, with a single `Range: bytes=…` for resuming.
//!   Access follows the records that refer to the attachment (`attachment_refs`, written at
//!   acceptance): no read access to any of them → 404, exactly like a missing attachment. The
//!   uploader may also read back what they uploaded.
//! - Retention: an attachment no record refers to, and an upload never finished, is deleted
//!   after the retention period (default 30 days, `KEFU_ATTACHMENT_RETENTION_DAYS`) by
//!   [`sweep`], which `serve` runs hourly.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kefu_model::enums::Role;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::{access, Access, DocMeta};
use crate::api::{blocking, query_params, ApiError, ApiUser};
use crate::auth::{hex, now_ms, Principal};
use crate::error::ServerError;
use crate::http::AppState;
use crate::sync::env_number;

/// Largest chunk one upload request may carry.
pub const MAX_CHUNK_BYTES: usize = 4 << 20;
/// How much of a refused request body is read and dropped so the client hears the answer (a
/// server that answers mid-body and closes leaves a plain HTTP client with a broken pipe
/// instead of the reason). Past this the connection is closed unread.
const DRAIN_CAP_BYTES: usize = 4 * MAX_CHUNK_BYTES;

/// Default largest attachment.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 25 << 20;
/// Default time an unreferenced attachment or an unfinished upload is kept.
pub const DEFAULT_RETENTION_DAYS: u64 = 30;

/// Attachment limits, from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentLimits {
    /// Largest attachment, bytes.
    pub max_bytes: u64,
    /// How long unreferenced attachments and unfinished uploads are kept, ms.
    pub retention_ms: i64,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits {
            max_bytes: DEFAULT_MAX_ATTACHMENT_BYTES,
            retention_ms: DEFAULT_RETENTION_DAYS as i64 * 86_400_000,
        }
    }
}

impl AttachmentLimits {
    /// The defaults, overridden by `KEFU_MAX_ATTACHMENT_BYTES` and
    /// `KEFU_ATTACHMENT_RETENTION_DAYS` when set.
    pub fn from_env() -> Result<AttachmentLimits, ServerError> {
        let mut l = AttachmentLimits::default();
        if let Some(v) = env_number::<u64>("KEFU_MAX_ATTACHMENT_BYTES")? {
            l.max_bytes = v.max(1);
        }
        if let Some(v) = env_number::<u64>("KEFU_ATTACHMENT_RETENTION_DAYS")? {
            l.retention_ms = (v as i64).saturating_mul(86_400_000);
        }
        Ok(l)
    }
}

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadStatus {
    /// The attachment's SHA-256 (lowercase hex).
    pub sha256: String,
    /// Its size, bytes.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
    /// Bytes received so far; the next chunk starts here.
    pub received: u64,
    /// Every byte arrived and matched the hash.
    pub complete: bool,
}

/// Query of an upload request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UploadQuery {
    /// Offset of this chunk's first byte in the file (must equal `received`).
    pub offset: u64,
}

/// The routes, for `api::router`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload, download))
        .routes(routes!(upload_status))
        .routes(routes!(thumbnail))
        .routes(routes!(limits))
}

fn check_hash(sha256: &str) -> Result<(), ServerError> {
    if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(ServerError::BadRequest(format!(
            "{:?} is not an attachment id (64 lowercase hex digits of SHA-256)",
            sha256.chars().take(80).collect::<String>()
        )))
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ServerError> {
    headers
        .get(name)
        .map(|v| v.to_str().map_err(|_| ServerError::BadRequest(format!("header {name} is not text"))))
        .transpose()
}

fn status_of(conn: &Connection, sha256: &str) -> Result<Option<(UploadStatus, String)>, ServerError> {
    Ok(conn
        .query_row(
            "SELECT size, media_type, received, complete, uploaded_by FROM attachments WHERE sha256 = ?1",
            [sha256],
            |r| {
                Ok((
                    UploadStatus {
                        sha256: sha256.to_string(),
                        size: r.get::<_, i64>(0)? as u64,
                        media_type: r.get(1)?,
                        received: r.get::<_, i64>(2)? as u64,
                        complete: r.get::<_, i64>(3)? != 0,
                    },
                    r.get(4)?,
                ))
            },
        )
        .optional()?)
}

/// Whether `p` may read the attachment: they uploaded it, or they may read a record that
/// refers to it.
fn may_read(conn: &Connection, p: &Principal, sha256: &str, uploaded_by: &str) -> Result<bool, ServerError> {
    if p.role != Role::Admin && uploaded_by == p.user_id {
        return Ok(true);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT d.kind, d.team, d.agent, d.field_staff, d.staff FROM attachment_refs r \
         JOIN documents d ON d.doc_id = r.doc_id WHERE r.sha256 = ?1",
    )?;
    let rows = stmt
        .query_map([sha256], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
    for row in rows {
        let (kind, team, agent, field_staff, staff) = row?;
        let Ok(kind) = kind.parse() else { continue };
        if access(p, &DocMeta { kind, team, agent, field_staff, staff }) >= Access::Read {
            return Ok(true);
        }
    }
    Ok(false)
}

fn not_found(sha256: &str) -> ServerError {
    ServerError::NotFound(format!("no attachment {sha256}"))
}

/// A chunk's body as read by [`read_chunk`].
enum ChunkBody {
    /// All of it, at most the limit.
    Whole(Vec<u8>),
    /// More than the limit (what came, up to [`DRAIN_CAP_BYTES`], was read and dropped).
    TooLarge,
    /// The connection failed mid-body.
    Cut(String),
}

/// Reads a request body, keeping at most `keep` bytes; a larger body is read on (and dropped)
/// up to [`DRAIN_CAP_BYTES`] so the client is still listening when the refusal is sent.
async fn read_chunk(body: Body, keep: usize) -> ChunkBody {
    use futures_core::Stream;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    loop {
        let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await;
        match next {
            None => break,
            Some(Err(e)) => return ChunkBody::Cut(e.to_string()),
            Some(Ok(bytes)) => {
                seen = seen.saturating_add(bytes.len());
                if seen <= keep {
                    kept.extend_from_slice(&bytes);
                } else {
                    kept = Vec::new();
                    if seen > DRAIN_CAP_BYTES {
                        break;
                    }
                }
            }
        }
    }
    if seen > keep {
        ChunkBody::TooLarge
    } else {
        ChunkBody::Whole(kept)
    }
}

/// An upload's headers, checked before any of the body is read: (size, media type, chunk hash).
fn upload_headers(
    p: &Principal,
    sha256: &str,
    headers: &HeaderMap,
    limits: AttachmentLimits,
) -> Result<(u64, String, String), ServerError> {
    if p.role == Role::Admin {
        return Err(ServerError::Forbidden("admins do not attach evidence to records".into()));
    }
    check_hash(sha256)?;
    // Everything that can refuse the upload is decided from the headers, before the body.
    let size: u64 = header_str(headers, "x-kefu-size")?
        .ok_or_else(|| {
            ServerError::BadRequest("header X-Kefu-Size (the whole file's size) is required".into())
        })?
        .trim()
        .parse()
        .map_err(|_| ServerError::BadRequest("X-Kefu-Size is not a whole number".into()))?;
    if size > limits.max_bytes {
        return Err(ServerError::TooLarge(format!(
            "the attachment is {size} bytes; the limit is {} bytes",
            limits.max_bytes
        )));
    }
    if size == 0 {
        return Err(ServerError::BadRequest("an empty file is not an attachment".into()));
    }
    let media_type =
        header_str(headers, "content-type")?.unwrap_or("application/octet-stream").trim().to_string();
    if media_type.len() > 100 || !media_type.contains('/') || media_type.chars().any(|c| c.is_control()) {
        return Err(ServerError::BadRequest(format!("{media_type:?} is not a media type")));
    }
    let chunk_hash = header_str(headers, "x-kefu-chunk-sha256")?
        .ok_or_else(|| {
            ServerError::BadRequest("header X-Kefu-Chunk-Sha256 (this chunk's SHA-256) is required".into())
        })?
        .to_ascii_lowercase();
    Ok((size, media_type, chunk_hash))
}

/// Uploads one chunk of an attachment (see the module docs). Chunks arrive in order from
/// offset 0; an attachment already stored answers `complete` at once (stored once).
#[utoipa::path(put, path = "/api/v1/attachments/{sha256}", tag = "attachments",
    params(("sha256" = String, Path, description = "SHA-256 of the whole file, lowercase hex"), UploadQuery,
        ("X-Kefu-Size" = u64, Header, description = "size of the whole file, bytes"),
        ("X-Kefu-Chunk-Sha256" = String, Header, description = "SHA-256 of this chunk, lowercase hex")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the chunk; Content-Type is the file's media type"),
    responses((status = 200, body = UploadStatus), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 413, body = ApiError)))]
async fn upload(
    State(st): State<AppState>,
    who: ApiUser,
    Path(sha256): Path<String>,
    q: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<UploadStatus>, ServerError> {
    let p = who.0;
    let checked =
        query_params(q).and_then(|q| Ok((q, upload_headers(&p, &sha256, &headers, st.attachments)?)));
    let (q, (size, media_type, chunk_hash)) = match checked {
        Ok(h) => h,
        Err(e) => {
            // A body small enough is read and dropped so the client hears why; one declared
            // larger than that (a 100 MB file in one request) is not read at all.
            let declared = header_str(&headers, "content-length")
                .ok()
                .flatten()
                .and_then(|v| v.trim().parse::<u64>().ok());
            if declared.is_none_or(|n| n <= DRAIN_CAP_BYTES as u64) {
                let _ = read_chunk(body, 0).await;
            }
            return Err(e);
        }
    };
    let db = st.db.clone();
    // Where the upload stands, before reading the body: a finished one answers at once, a
    // wrong offset is told where to resume.
    let early = {
        let sha = sha256.clone();
        let db = db.clone();
        match blocking(move || status_of(&db.lock(), &sha)).await? {
            Some((s, _)) if s.complete => Some(Ok(Json(s))),
            Some((s, _)) if s.size != size => Some(Err(ServerError::Conflict(format!(
                "this attachment is being uploaded with size {}, not {size}",
                s.size
            )))),
            Some((s, _)) if q.offset != s.received => Some(Err(ServerError::Conflict(format!(
                "the upload stands at byte {}; resume there",
                s.received
            )))),
            Some(_) => None,
            None if q.offset != 0 => {
                Some(Err(ServerError::Conflict("the upload stands at byte 0; resume there".into())))
            }
            None => None,
        }
    };
    if let Some(answer) = early {
        // The client is still sending the chunk: read it and drop it, so it gets this answer
        // instead of a connection reset mid-body.
        let _ = read_chunk(body, 0).await;
        return answer;
    }
    let chunk = match read_chunk(body, MAX_CHUNK_BYTES).await {
        ChunkBody::Whole(chunk) => chunk,
        ChunkBody::TooLarge => {
            return Err(ServerError::TooLarge(format!("a chunk may be at most {MAX_CHUNK_BYTES} bytes")))
        }
        ChunkBody::Cut(e) => return Err(ServerError::BadRequest(format!("the chunk's body was cut: {e}"))),
    };
    if chunk.is_empty() {
        return Err(ServerError::BadRequest("the chunk is empty".into()));
    }
    if hex(&Sha256::digest(&chunk)) != chunk_hash {
        return Err(ServerError::BadRequest(format!(
            "the chunk at byte {} does not match X-Kefu-Chunk-Sha256 (damaged on the way?); it was not stored, send it again",
            q.offset
        )));
    }
    if q.offset + chunk.len() as u64 > size {
        return Err(ServerError::BadRequest(format!(
            "the chunk ends at byte {}, past the file's size {size}",
            q.offset + chunk.len() as u64
        )));
    }
    let user = p.user_id.clone();
    blocking(move || {
        store_chunk(&mut db.lock(), &sha256, size, &media_type, &user, q.offset, &chunk, now_ms())
    })
    .await
    .map(Json)
}

/// Appends a chunk in one transaction; on the last one checks the whole file's hash.
#[allow(clippy::too_many_arguments)]
pub fn store_chunk(
    conn: &mut Connection,
    sha256: &str,
    size: u64,
    media_type: &str,
    user: &str,
    offset: u64,
    chunk: &[u8],
    now: i64,
) -> Result<UploadStatus, ServerError> {
    let tx = conn.transaction()?;
    // Checked again under the lock: another request may have moved the upload on.
    let received: Option<(i64, i64)> = tx
        .query_row("SELECT received, complete FROM attachments WHERE sha256 = ?1", [sha256], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match received {
        Some((_, 1)) => {
            drop(tx);
            return status_of(conn, sha256)?.map(|(s, _)| s).ok_or_else(|| not_found(sha256));
        }
        Some((r, _)) if r as u64 != offset => {
            return Err(ServerError::Conflict(format!("the upload stands at byte {r}; resume there")));
        }
        Some(_) => {}
        None if offset != 0 => {
            return Err(ServerError::Conflict("the upload stands at byte 0; resume there".into()));
        }
        None => {
            tx.execute(
                "INSERT INTO attachments (sha256, size, media_type, uploaded_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![sha256, size as i64, media_type, user, now],
            )?;
        }
    }
    tx.execute(
        "INSERT INTO attachment_chunks (sha256, pos, data) VALUES (?1, ?2, ?3)",
        params![sha256, offset as i64, chunk],
    )?;
    let received = offset + chunk.len() as u64;
    tx.execute("UPDATE attachments SET received = ?2 WHERE sha256 = ?1", params![sha256, received as i64])?;
    if received == size {
        let mut h = Sha256::new();
        {
            let mut stmt =
                tx.prepare_cached("SELECT data FROM attachment_chunks WHERE sha256 = ?1 ORDER BY pos")?;
            for data in stmt.query_map([sha256], |r| r.get::<_, Vec<u8>>(0))? {
                h.update(data?);
            }
        }
        if hex(&h.finalize()) != sha256 {
            tx.execute("DELETE FROM attachment_chunks WHERE sha256 = ?1", [sha256])?;
            tx.execute("DELETE FROM attachments WHERE sha256 = ?1", [sha256])?;
            tx.commit()?;
            return Err(ServerError::BadRequest(format!(
                "the file's bytes do not match its name {sha256}; the upload was discarded, start again"
            )));
        }
        tx.execute(
            "UPDATE attachments SET complete = 1, completed_at = ?2 WHERE sha256 = ?1",
            params![sha256, now],
        )?;
    }
    tx.commit()?;
    status_of(conn, sha256)?.map(|(s, _)| s).ok_or_else(|| not_found(sha256))
}

/// How far an upload got (to resume it), or that the attachment is stored.
#[utoipa::path(get, path = "/api/v1/attachments/{sha256}/status", tag = "attachments",
    params(("sha256" = String, Path, description = "SHA-256 of the file, lowercase hex")),
    responses((status = 200, body = UploadStatus), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
async fn upload_status(
    State(st): State<AppState>,
    who: ApiUser,
    Path(sha256): Path<String>,
) -> Result<Json<UploadStatus>, ServerError> {
    check_hash(&sha256)?;
    let db = st.db.clone();
    blocking(move || {
        let conn = db.lock();
        match status_of(&conn, &sha256)? {
            Some((s, by)) if may_read(&conn, &who.0, &sha256, &by)? => Ok(Json(s)),
            _ => Err(not_found(&sha256)),
        }
    })
    .await
}

/// Parses a single `bytes=` range against a size: (start, end exclusive).
fn parse_range(value: &str, size: u64) -> Result<(u64, u64), ServerError> {
    let bad = || ServerError::RangeNotSatisfiable(format!("range {value:?} is not within 0..{size}"));
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    if spec.contains(',') {
        return Err(ServerError::RangeNotSatisfiable("only one range per request".into()));
    }
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| bad())?;
            (size.saturating_sub(n), size)
        }
        (s, "") => (s.parse().map_err(|_| bad())?, size),
        (s, e) => {
            (s.parse().map_err(|_| bad())?, e.parse::<u64>().map_err(|_| bad())?.saturating_add(1).min(size))
        }
    };
    if start >= end || start >= size {
        return Err(bad());
    }
    Ok((start, end))
}

/// Reads bytes `start..end` of a stored attachment.
pub fn read_range(conn: &Connection, sha256: &str, start: u64, end: u64) -> Result<Vec<u8>, ServerError> {
    let mut out = Vec::with_capacity((end - start) as usize);
    let mut stmt = conn.prepare_cached(
        "SELECT pos, data FROM attachment_chunks WHERE sha256 = ?1 AND pos < ?3 \
         AND pos + length(data) > ?2 ORDER BY pos",
    )?;
    let rows = stmt.query_map(params![sha256, start as i64, end as i64], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
    })?;
    for row in rows {
        let (pos, data) = row?;
        let from = start.saturating_sub(pos) as usize;
        let to = ((end - pos) as usize).min(data.len());
        out.extend_from_slice(&data[from..to]);
    }
    Ok(out)
}

/// Downloads an attachment, or one byte range of it (`Range: bytes=…`) to resume.
#[utoipa::path(get, path = "/api/v1/attachments/{sha256}", tag = "attachments",
    params(("sha256" = String, Path, description = "SHA-256 of the file, lowercase hex"),
        ("Range" = Option<String>, Header, description = "one range, e.g. bytes=1048576-")),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
        (status = 206, description = "the range asked for"), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 416, body = ApiError)))]
async fn download(
    State(st): State<AppState>,
    who: ApiUser,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    check_hash(&sha256)?;
    let range = header_str(&headers, "range")?.map(str::to_string);
    let db = st.db.clone();
    blocking(move || {
        let conn = db.lock();
        let status = match status_of(&conn, &sha256)? {
            Some((s, by)) if s.complete && may_read(&conn, &who.0, &sha256, &by)? => s,
            _ => return Err(not_found(&sha256)),
        };
        let (start, end, code) = match range {
            Some(r) => {
                let (s, e) = parse_range(&r, status.size)?;
                (s, e, StatusCode::PARTIAL_CONTENT)
            }
            None => (0, status.size, StatusCode::OK),
        };
        let bytes = read_range(&conn, &sha256, start, end)?;
        let mut resp = (code, bytes).into_response();
        let h = resp.headers_mut();
        let value = |s: String| HeaderValue::from_str(&s).map_err(|e| ServerError::Internal(e.to_string()));
        h.insert(header::CONTENT_TYPE, value(status.media_type.clone())?);
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(header::ETAG, value(format!("\"{sha256}\""))?);
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
        if code == StatusCode::PARTIAL_CONTENT {
            h.insert(header::CONTENT_RANGE, value(format!("bytes {start}-{}/{}", end - 1, status.size))?);
        }
        Ok(resp)
    })
    .await
}

/// What an upload must fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadLimits {
    /// Largest attachment, bytes.
    pub max_bytes: u64,
    /// Largest chunk per request, bytes.
    pub max_chunk_bytes: u64,
}

/// The upload limits, so a phone can refuse a file that is too large before sending it (the
/// server answers 413 to such a PUT; a body declared larger than 16 MiB is not read at all and
/// the connection is closed, which a client may only see as a broken pipe).
#[utoipa::path(get, path = "/api/v1/attachments/limits", tag = "attachments",
    responses((status = 200, body = UploadLimits), (status = 401, body = ApiError)))]
async fn limits(State(st): State<AppState>, _who: ApiUser) -> Json<UploadLimits> {
    Json(UploadLimits { max_bytes: st.attachments.max_bytes, max_chunk_bytes: MAX_CHUNK_BYTES as u64 })
}

/// Longest side of a thumbnail, pixels.
pub const THUMBNAIL_PX: u32 = 320;
/// Memory a thumbnail's decode may use; a photo that needs more is shown as a link.
const DECODE_LIMIT_BYTES: u64 = 256 << 20;

/// Whether thumbnails are made for this media type.
pub fn has_thumbnail(media_type: &str) -> bool {
    matches!(media_type, "image/jpeg" | "image/jpg" | "image/png")
}

/// A JPEG thumbnail (at most [`THUMBNAIL_PX`] on a side, upright by the photo's EXIF
/// orientation) of an image's bytes.
pub fn make_thumbnail(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use image::ImageDecoder;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(DECODE_LIMIT_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    img.apply_orientation(orientation);
    let small = img.thumbnail(THUMBNAIL_PX, THUMBNAIL_PX).to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// A small JPEG of an image attachment for the dashboard, made on first request and kept.
#[utoipa::path(get, path = "/api/v1/attachments/{sha256}/thumbnail", tag = "attachments",
    params(("sha256" = String, Path, description = "SHA-256 of the file, lowercase hex")),
    responses((status = 200, description = "a JPEG at most 320 px on a side", content_type = "image/jpeg"),
        (status = 401, body = ApiError), (status = 404, body = ApiError),
        (status = 415, body = ApiError, description = "not an image (a PDF certificate) or not decodable")))]
async fn thumbnail(
    State(st): State<AppState>,
    who: ApiUser,
    Path(sha256): Path<String>,
) -> Result<Response, ServerError> {
    check_hash(&sha256)?;
    let db = st.db.clone();
    blocking(move || {
        let cached: Option<Vec<u8>> = {
            let conn = db.lock();
            let status = match status_of(&conn, &sha256)? {
                Some((s, by)) if s.complete && may_read(&conn, &who.0, &sha256, &by)? => s,
                _ => return Err(not_found(&sha256)),
            };
            if !has_thumbnail(&status.media_type) {
                return Err(ServerError::Unsupported(format!(
                    "{} is not an image with a thumbnail; download the file",
                    status.media_type
                )));
            }
            match conn
                .query_row("SELECT data FROM attachment_thumbnails WHERE sha256 = ?1", [&sha256], |r| r.get(0))
                .optional()?
            {
                Some(t) => Some(t),
                None => {
                    let bytes = read_range(&conn, &sha256, 0, status.size)?;
                    drop(conn); // decoding takes a while; the database is not held for it
                    let t = make_thumbnail(&bytes).map_err(|e| {
                        ServerError::Unsupported(format!("the image cannot be decoded for a thumbnail: {e}"))
                    })?;
                    db.lock().execute(
                        "INSERT OR REPLACE INTO attachment_thumbnails (sha256, data, created_at) VALUES (?1, ?2, ?3)",
                        params![sha256, t, now_ms()],
                    )?;
                    Some(t)
                }
            }
        };
        let mut resp = (StatusCode::OK, cached.unwrap_or_default()).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
        Ok(resp)
    })
    .await
}

/// Rewrites the attachments a record refers to (at acceptance, in its transaction).
pub fn index_refs(conn: &Connection, doc_id: &str, record: &serde_json::Value) -> Result<(), ServerError> {
    conn.prepare_cached("DELETE FROM attachment_refs WHERE doc_id = ?1")?.execute([doc_id])?;
    let mut insert =
        conn.prepare_cached("INSERT OR IGNORE INTO attachment_refs (doc_id, sha256) VALUES (?1, ?2)")?;
    for h in kefu_model::records::attachment_hashes(record) {
        insert.execute(params![doc_id, h])?;
    }
    conn.prepare_cached("UPDATE documents SET attachments_indexed = 1 WHERE doc_id = ?1")?
        .execute([doc_id])?;
    Ok(())
}

/// Indexes the references of documents stored before attachments were indexed (schema 8).
pub fn index_unindexed(conn: &Connection) -> Result<(), ServerError> {
    let ids: Vec<String> = conn
        .prepare("SELECT doc_id FROM documents WHERE attachments_indexed = 0")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in ids {
        if let Some(stored) = crate::accept::load(conn, &id)? {
            let json = kefu_model::KefuDoc::from_automerge(stored.doc).json_fast();
            index_refs(conn, &id, &json)?;
        }
    }
    Ok(())
}

/// Deletes attachments no record refers to that were finished more than `retention_ms` ago,
/// and uploads started more than `retention_ms` ago and never finished. Returns how many.
pub fn sweep(conn: &mut Connection, now: i64, retention_ms: i64) -> Result<usize, ServerError> {
    let cutoff = now.saturating_sub(retention_ms);
    let tx = conn.transaction()?;
    let doomed: Vec<String> = tx
        .prepare(
            "SELECT a.sha256 FROM attachments a WHERE \
             (a.complete = 0 AND a.created_at < ?1) OR \
             (a.complete = 1 AND a.completed_at < ?1 AND NOT EXISTS \
                (SELECT 1 FROM attachment_refs r WHERE r.sha256 = a.sha256))",
        )?
        .query_map([cutoff], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for h in &doomed {
        tx.execute("DELETE FROM attachment_chunks WHERE sha256 = ?1", [h])?;
        tx.execute("DELETE FROM attachment_thumbnails WHERE sha256 = ?1", [h])?;
        tx.execute("DELETE FROM attachments WHERE sha256 = ?1", [h])?;
    }
    tx.commit()?;
    Ok(doomed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migrated server database in a temporary directory (removed when the guard drops).
    fn db() -> (Connection, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::db::Db::open(dir.path()).expect("open");
        (Connection::open(db.path()).expect("conn"), dir)
    }

    fn sha(b: &[u8]) -> String {
        hex(&Sha256::digest(b))
    }

    #[test]
    fn chunks_resume_and_complete_only_with_the_right_hash() {
        let (mut c, _dir) = db();
        let file: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let h = sha(&file);
        let s = store_chunk(&mut c, &h, 10_000, "image/jpeg", "u1", 0, &file[..4000], 1).expect("first");
        assert_eq!((s.received, s.complete), (4000, false));
        // A repeated or skipped chunk is told where the upload stands.
        let e = store_chunk(&mut c, &h, 10_000, "image/jpeg", "u1", 0, &file[..4000], 2).expect_err("repeat");
        assert!(matches!(e, ServerError::Conflict(m) if m.contains("4000")));
        let s = store_chunk(&mut c, &h, 10_000, "image/jpeg", "u1", 4000, &file[4000..], 3).expect("last");
        assert!(s.complete);
        assert_eq!(read_range(&c, &h, 0, 10_000).expect("read"), file);
        assert_eq!(read_range(&c, &h, 3990, 4010).expect("read"), file[3990..4010].to_vec());
        // The same file again is stored once.
        let again = store_chunk(&mut c, &h, 10_000, "image/jpeg", "u2", 0, &file[..10], 4).expect("again");
        assert!(again.complete);
        let n: i64 = c.query_row("SELECT count(*) FROM attachment_chunks", [], |r| r.get(0)).expect("count");
        assert_eq!(n, 2);

        // Bytes that do not match the name are discarded whole.
        let wrong = sha(b"something else");
        let e = store_chunk(&mut c, &wrong, 5, "image/png", "u1", 0, b"hello", 5).expect_err("mismatch");
        assert!(matches!(e, ServerError::BadRequest(m) if m.contains("do not match")));
        assert!(status_of(&c, &wrong).expect("status").is_none());
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100).expect("r"), (0, 10));
        assert_eq!(parse_range("bytes=90-", 100).expect("r"), (90, 100));
        assert_eq!(parse_range("bytes=-10", 100).expect("r"), (90, 100));
        assert_eq!(parse_range("bytes=50-500", 100).expect("r"), (50, 100));
        for bad in ["bytes=100-", "bytes=5-2", "items=0-1", "bytes=0-1,3-4", "bytes=x-"] {
            assert!(matches!(parse_range(bad, 100), Err(ServerError::RangeNotSatisfiable(_))), "{bad}");
        }
    }

    #[test]
    fn sweep_keeps_referenced_and_recent_attachments() {
        let (mut c, _dir) = db();
        let day = 86_400_000;
        let (a, b, d) = (b"referenced".as_slice(), b"orphan".as_slice(), b"recent".as_slice());
        for (bytes, at) in [(a, 0), (b, 0), (d, 40 * day)] {
            store_chunk(&mut c, &sha(bytes), bytes.len() as u64, "image/jpeg", "u", 0, bytes, at)
                .expect("store");
        }
        store_chunk(&mut c, &sha(b"never finished"), 100, "image/jpeg", "u", 0, b"never", 0)
            .expect("partial");
        c.execute("INSERT INTO attachment_refs (doc_id, sha256) VALUES ('doc', ?1)", [sha(a)]).expect("ref");
        assert_eq!(sweep(&mut c, 41 * day, 30 * day).expect("sweep"), 2);
        assert!(status_of(&c, &sha(a)).expect("a").is_some());
        assert!(status_of(&c, &sha(b)).expect("b").is_none());
        assert!(status_of(&c, &sha(d)).expect("d").is_some());
        assert!(status_of(&c, &sha(b"never finished")).expect("p").is_none());
    }

    #[test]
    fn attachment_hashes_are_found_anywhere_in_a_record() {
        let r = serde_json::json!({
            "visits": {"v1": {"photos": {"aa": {"sha256": "aa", "size": 1, "media_type": "image/jpeg"}},
                              "signature": {"sha256": "bb", "size": 2, "media_type": "image/png"}}},
            "profile": {"sha256": "not an attachment"}
        });
        let found: Vec<String> = kefu_model::records::attachment_hashes(&r).into_iter().collect();
        assert_eq!(found, vec!["aa".to_string(), "bb".to_string()]);
    }
}
