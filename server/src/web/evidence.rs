//! Evidence on dashboard pages: photo thumbnails linking to the full file, the customer's
//! signature, a certificate scan. An attachment the phone has not finished uploading is shown
//! as waiting, never as a broken image.

use std::collections::HashSet;

use kefu_model::records::AttachmentRef;
use maud::{html, Markup};
use rusqlite::Connection;
use serde::Serialize;

use super::{fmt_time, Ctx};
use crate::attachments::has_thumbnail;
use crate::error::ServerError;

/// An attachment as the dashboard and the JSON API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    /// SHA-256 of the bytes (lowercase hex): `GET /api/v1/attachments/{sha256}`.
    pub sha256: String,
    /// Size, bytes.
    pub size: i64,
    /// Media type.
    pub media_type: String,
    /// Who attached it (user id).
    pub attached_by: String,
    /// When, device time, Unix ms.
    pub attached_at: i64,
    /// The server holds every byte (else the phone has not finished uploading it).
    pub uploaded: bool,
}

impl Evidence {
    /// From a record's reference; `uploaded` from [`uploaded`].
    pub fn of(a: &AttachmentRef, held: &HashSet<String>) -> Evidence {
        Evidence {
            sha256: a.sha256.clone(),
            size: a.size,
            media_type: a.media_type.clone(),
            attached_by: a.attached_by.clone(),
            attached_at: a.attached_at,
            uploaded: held.contains(&a.sha256),
        }
    }
}

/// Which of these attachments the server holds completely.
pub fn uploaded<'a>(
    conn: &Connection,
    hashes: impl IntoIterator<Item = &'a str>,
) -> Result<HashSet<String>, ServerError> {
    let mut st = conn.prepare_cached("SELECT 1 FROM attachments WHERE sha256 = ?1 AND complete = 1")?;
    let mut out = HashSet::new();
    for h in hashes {
        if st.exists([h])? {
            out.insert(h.to_string());
        }
    }
    Ok(out)
}

fn size_text(bytes: i64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

fn waiting(ctx: &Ctx, e: &Evidence) -> Markup {
    html! {
        span.thumb.pending title=(e.sha256) {
            (ctx.t("等待手机上传", "waiting for the phone's upload")) br;
            span.muted { (size_text(e.size)) }
        }
    }
}

/// One attachment: a thumbnail linking to the file, a link for other files (PDF), or a note
/// that it has not arrived.
pub fn thumb(ctx: &Ctx, e: &Evidence, caption: &str) -> Markup {
    let href = format!("/api/v1/attachments/{}", e.sha256);
    html! {
        figure.evidence {
            @if !e.uploaded { (waiting(ctx, e)) }
            @else if has_thumbnail(&e.media_type) {
                a.thumb href=(href) target="_blank" title=(ctx.t("查看原图", "open the full photo")) {
                    img src={ (href) "/thumbnail" } alt=(caption) loading="lazy";
                }
            } @else {
                a.thumb.file href=(href) target="_blank" {
                    "📄 " (e.media_type) br; span.muted { (size_text(e.size)) }
                }
            }
            figcaption { (caption) br; span.muted { (fmt_time(e.attached_at)) } }
        }
    }
}

/// Photos side by side.
pub fn gallery(ctx: &Ctx, photos: &[(Evidence, String)]) -> Markup {
    html! {
        @if photos.is_empty() { p.muted { (ctx.t("没有照片", "No photos")) } }
        @else { div.thumbs { @for (e, caption) in photos { (thumb(ctx, e, caption)) } } }
    }
}

/// The customer's signature, shown whole (signatures are small drawings).
pub fn signature(ctx: &Ctx, e: Option<&Evidence>, signer: &str) -> Markup {
    html! {
        @match e {
            None => p.muted { (ctx.t("客户未签名", "The customer has not signed")) },
            Some(e) if !e.uploaded => div.thumbs { (waiting(ctx, e)) },
            Some(e) => figure.signature {
                img src={ "/api/v1/attachments/" (e.sha256) } alt=(ctx.t("客户签名", "customer's signature"));
                figcaption { (signer) " · " (fmt_time(e.attached_at)) }
            },
        }
    }
}
