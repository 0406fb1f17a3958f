//! One field visit (上门服务) in full: the customer, the work order, each step with who and
//! when, the work done, and its evidence — photos of the work as thumbnails and the customer's
//! signature — with the review button once it is completed.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use kefu_model::lifecycle::VisitStep;
use kefu_model::records::customer::CustomerFile;
use maud::html;

use super::customers::{load_readable, name_of, people};
use super::evidence::{self, Evidence};
use super::layout::form_fields;
use super::{blocking, fmt_time, label, layout, Ctx, PageError};
use crate::http::AppState;

/// The visit page.
pub fn routes() -> Router<AppState> {
    Router::new().route("/visits/{doc_id}/{visit_id}", get(visit_page))
}

/// The link to a visit's page.
pub fn href(doc_id: &str, visit_id: &str) -> String {
    format!("/visits/{doc_id}/{visit_id}")
}

async fn visit_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((doc_id, visit_id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let p = ctx.p.clone();
    let (id, vid) = (doc_id.clone(), visit_id.clone());
    let (c, people, held) = blocking(ctx.lang, move || {
        let conn = db.lock();
        let doc = load_readable(&conn, &p, &id)?;
        let c: CustomerFile =
            doc.read().map_err(|e| crate::error::ServerError::NotFound(format!("{id}: {e}")))?;
        let v = c.visits.get(&vid).ok_or_else(|| {
            crate::error::ServerError::NotFound(format!(
                "客户档案中没有上门记录 {vid} / no visit {vid} in {id}"
            ))
        })?;
        let hashes: Vec<String> =
            v.photos.keys().cloned().chain(v.signature.iter().map(|s| s.sha256.clone())).collect();
        let held = evidence::uploaded(&conn, hashes.iter().map(String::as_str))?;
        Ok((c, people(&conn, &team)?, held))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let lang = ctx.lang;
    let who = |u: &str| name_of(&people, u);
    let Some(v) = c.visits.get(&visit_id) else {
        return Err(ctx.error(crate::error::ServerError::NotFound(visit_id)));
    };
    let status = v.status();
    let mut photos: Vec<_> = v.photos.values().collect();
    photos.sort_by_key(|a| (a.attached_at, a.sha256.clone()));
    let photos: Vec<(Evidence, String)> = photos
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                Evidence::of(a, &held),
                format!("{} {} · {}", ctx.t("现场照片", "Photo"), i + 1, who(&a.attached_by)),
            )
        })
        .collect();
    let signature = v.signature.as_ref().map(|s| Evidence::of(s, &held));
    let waiting = photos.iter().filter(|(e, _)| !e.uploaded).count()
        + usize::from(signature.as_ref().is_some_and(|s| !s.uploaded));
    let mut steps: Vec<_> = v
        .steps
        .iter()
        .map(|(k, m)| {
            (k.parse::<VisitStep>().map_or_else(|_| k.clone(), |s| label(lang, s.label_zh(), s.as_str())), m)
        })
        .collect();
    steps.sort_by_key(|(_, m)| m.at);
    let p = &c.profile;
    let body = html! {
        p { a href="/visits" { "← " (ctx.t("上门服务看板", "Visit board")) } " · "
            a href={ "/customers/" (doc_id) } { (ctx.t("客户档案", "Customer file")) } }
        div.grid2 {
            div.card {
                p { b { (p.name) } " · " (p.phones.join(", ")) }
                @if let Some(a) = &p.address { p { (a) @if let Some(d) = &p.district { " (" (d) ")" } } }
                p { (ctx.t("原因：", "Reason: ")) (label(lang, v.reason.label_zh(), v.reason.as_str())) }
                p { (ctx.t("售后人员：", "Field staff: ")) (who(&v.staff)) }
                p { (ctx.t("时间窗：", "Window: ")) (fmt_time(v.window_start)) " – " (fmt_time(v.window_end)) }
            }
            div.card {
                p { (ctx.t("状态：", "Status: ")) b.status { (status.map(|s| label(lang, s.label_zh(), s.as_str())).unwrap_or_default()) } }
                @if let Some(w) = &v.work_done { p { (ctx.t("完成内容：", "Work done: ")) (w) } }
                @if !v.parts.is_empty() {
                    p { (ctx.t("使用配件：", "Parts: "))
                        @for (i, part) in v.parts.values().enumerate() { @if i > 0 { "，" } (part.part) " × " (part.quantity) } }
                }
                @if let Some(r) = v.rating { p { (ctx.t("客户评分：", "Customer's rating: ")) (r) " / 5" } }
                @if let Some(f) = &v.follow_up_on { p { (ctx.t("回访日期：", "Follow-up on: ")) (f) } }
                p { a href={ "/records/" (doc_id) "/history" } { (ctx.t("修改历史", "History of changes")) } }
            }
        }
        h2 { (ctx.t("现场照片", "Photos of the work")) " (" (photos.len()) ")" }
        (evidence::gallery(&ctx, &photos))
        h2 { (ctx.t("客户签名", "Customer's signature")) }
        (evidence::signature(&ctx, signature.as_ref(), &p.name))
        @if waiting > 0 {
            p.muted { (ctx.t("部分照片或签名还在手机的上传队列中；手机联网后自动上传。",
                "Some evidence is still in the phone's upload queue; it uploads when the phone is online.")) }
        }
        h2 { (ctx.t("进度", "Steps")) }
        table {
            thead { tr { th { (ctx.t("环节", "Step")) } th { (ctx.t("时间", "When")) } th { (ctx.t("人员", "By")) } th { (ctx.t("备注", "Note")) } } }
            tbody {
                @for (step, m) in &steps {
                    tr { td { (step) } td { (fmt_time(m.at)) } td { (who(&m.by)) } td { (m.note.clone().unwrap_or_default()) } }
                }
            }
        }
        @if status == Some(VisitStep::Completed) {
            h2 { (ctx.t("审核", "Review")) }
            form.inline method="post" action="/visits/review" {
                (form_fields(&ctx))
                input type="hidden" name="doc_id" value=(doc_id);
                input type="hidden" name="visit_id" value=(visit_id);
                input name="note" size="24" placeholder=(ctx.t("备注（可选）", "note (optional)"));
                " "
                button.primary type="submit" { (ctx.t("标记已审核", "Mark reviewed")) }
            }
        }
    };
    let title = format!("{} {} · {}", ctx.t("上门服务", "Visit"), v.work_order, p.name);
    Ok(layout::page(&ctx, &title, body))
}
