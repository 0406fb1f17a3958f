//! Boards: the team's field visits (上门) by status and its complaints (投诉), overdue ones
//! first, each linking to the customer file and exportable as CSV or Excel. A completed visit
//! can be marked reviewed (已审核) here, with the same domain verb a phone would use.
//!
//! Both boards read only the projection (`idx_visits`, `idx_complaints` joined to
//! `idx_customers` for the team); a reopened complaint's current round start is read from its
//! document, since the index keeps only the first receipt.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use kefu_model::dates::{is_month, Date, CHINA_UTC_OFFSET_MIN};
use kefu_model::enums::{Role, Severity};
use kefu_model::lifecycle::{complaint_key, ComplaintStep, VisitStep};
use kefu_model::records::customer::CustomerFile;
use kefu_model::verbs::Actor;
use kefu_model::KefuDoc;
use maud::{html, Markup};
use rusqlite::{params_from_iter, Connection};
use serde::{Deserialize, Serialize};

use super::customers::{name_of, people};
use super::layout::{form_fields, page};
use super::table::{export_links, Cell, Table};
use super::{after_action, blocking, fmt_time, label, Ctx, Lang, PageError, Posted};
use crate::auth::{now_ms, Principal};
use crate::error::ServerError;
use crate::http::AppState;

/// Board pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/visits", get(visits_page))
        .route("/visits/review", post(review_form))
        .route("/complaints", get(complaints_page))
}

/// The response target of a complaint round: 24 hours from receipt (or reopening) to the first
/// answer (forwarded, processing or resolved). The same starting value the KPI facts use
/// (`kefu_kpi::facts::COMPLAINT_RESPONSE_TARGET_MS`); the policy itself names no target.
pub const COMPLAINT_RESPONSE_TARGET_MS: i64 = 24 * 3_600_000;

/// At most this many rows are listed (use the filters to narrow).
const MAX_ROWS: usize = 5000;

/// The order of the visit board's sections.
pub const VISIT_BOARD_ORDER: [VisitStep; 6] = [
    VisitStep::Dispatched,
    VisitStep::EnRoute,
    VisitStep::OnSite,
    VisitStep::Completed,
    VisitStep::Reviewed,
    VisitStep::Cancelled,
];

/// The supervisor's team, for actions (admins and other roles hold no records here).
pub fn supervisor_team(p: &Principal) -> Result<String, ServerError> {
    match (&p.role, &p.team) {
        (Role::Supervisor, Some(t)) => Ok(t.clone()),
        _ => {
            Err(ServerError::Forbidden("只有客服主管可以操作本组记录 / only a supervisor can do this".into()))
        }
    }
}

/// Unix ms bounds `[start, end)` of a month `YYYY-MM` in the department's time zone.
pub fn month_bounds(month: &str) -> Option<(i64, i64)> {
    if !is_month(month) {
        return None;
    }
    let first = Date::parse(&format!("{month}-01"))?;
    let (y, m) = if first.month == 12 { (first.year + 1, 1) } else { (first.year, first.month + 1) };
    let next = Date::parse(&format!("{y:04}-{m:02}-01"))?;
    Some((first.start_ms(CHINA_UTC_OFFSET_MIN), next.start_ms(CHINA_UTC_OFFSET_MIN)))
}

fn bad_month(m: &str) -> ServerError {
    ServerError::BadRequest(format!("月份 {m:?} 无效，应为 YYYY-MM / month {m:?} is not YYYY-MM"))
}

/// A duration in days and hours ("3天5小时"), hours and minutes under a day, minutes under an
/// hour. Negative durations (a device clock ahead) count as zero.
pub fn fmt_age(lang: Lang, ms: i64) -> String {
    let mins = ms.max(0) / 60_000;
    let (d, h, m) = (mins / 1440, mins / 60 % 24, mins % 60);
    match lang {
        Lang::Zh if d > 0 => format!("{d}天{h}小时"),
        Lang::Zh if h > 0 => format!("{h}小时{m}分钟"),
        Lang::Zh => format!("{m}分钟"),
        Lang::En if d > 0 => format!("{d}d {h}h"),
        Lang::En if h > 0 => format!("{h}h {m}min"),
        Lang::En => format!("{m} min"),
    }
}

// ---- visits ------------------------------------------------------------------------------------

/// Filters of the visit board (also the JSON API's query).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
pub struct VisitFilter {
    /// Field staff user id.
    pub staff: Option<String>,
    /// Status: dispatched, en_route, on_site, completed, reviewed or cancelled.
    pub status: Option<String>,
    /// Only visits whose window ended and that are not completed (`1`).
    pub overdue: Option<String>,
    /// Only visits whose window starts in this month, `YYYY-MM`.
    pub month: Option<String>,
    /// `csv` or `xlsx` to download the board (pages only).
    pub format: Option<String>,
}

/// One visit on the board.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VisitRow {
    /// The customer file's document id.
    pub doc_id: String,
    /// The visit's id inside the customer file.
    pub visit_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Field staff user id.
    pub staff: String,
    /// Status (furthest step): dispatched, en_route, on_site, completed, reviewed, cancelled.
    pub status: String,
    /// Work-order number (工单号).
    pub work_order: String,
    /// Promised arrival window start, Unix ms.
    pub window_start: i64,
    /// Promised arrival window end, Unix ms.
    pub window_end: i64,
    /// The window ended and the visit is still open (dispatched, en route or on site).
    pub overdue: bool,
}

fn visit_rank(status: &str) -> usize {
    VISIT_BOARD_ORDER.iter().position(|s| s.as_str() == status).unwrap_or(VISIT_BOARD_ORDER.len())
}

fn is_open_visit(status: &str) -> bool {
    status.parse::<VisitStep>().is_ok_and(|s| s.is_open())
}

/// The visits of `team` matching `f`: overdue first, then by status in board order; open
/// visits by window (soonest first), finished ones newest first.
pub fn visit_board(
    conn: &Connection,
    team: &str,
    f: &VisitFilter,
    now: i64,
) -> Result<Vec<VisitRow>, ServerError> {
    let mut conds = vec!["c.team = ?".to_string()];
    let mut args: Vec<rusqlite::types::Value> = vec![team.to_string().into()];
    if let Some(s) = f.staff.as_deref().filter(|s| !s.is_empty()) {
        conds.push("v.staff = ?".into());
        args.push(s.to_string().into());
    }
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        let step: VisitStep = s.parse().map_err(|e: kefu_model::enums::UnknownValue| {
            ServerError::BadRequest(format!("状态无效 / invalid status: {e}"))
        })?;
        conds.push("v.status = ?".into());
        args.push(step.as_str().to_string().into());
    }
    if f.overdue.as_deref().is_some_and(|o| o == "1" || o == "true") {
        conds.push("v.status IN ('dispatched', 'en_route', 'on_site') AND v.window_end < ?".into());
        args.push(now.into());
    }
    if let Some(m) = f.month.as_deref().filter(|s| !s.is_empty()) {
        let (a, b) = month_bounds(m).ok_or_else(|| bad_month(m))?;
        conds.push("v.window_start >= ? AND v.window_start < ?".into());
        args.push(a.into());
        args.push(b.into());
    }
    let sql = format!(
        "SELECT v.doc_id, v.visit_id, c.name, v.staff, v.status, v.work_order, v.window_start, v.window_end \
         FROM idx_visits v JOIN idx_customers c ON c.doc_id = v.doc_id WHERE {} \
         ORDER BY v.window_start DESC LIMIT {MAX_ROWS}",
        conds.join(" AND ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        let status: String = r.get(4)?;
        let window_end: i64 = r.get(7)?;
        Ok(VisitRow {
            doc_id: r.get(0)?,
            visit_id: r.get(1)?,
            customer_name: r.get(2)?,
            staff: r.get(3)?,
            overdue: is_open_visit(&status) && window_end < now,
            status,
            work_order: r.get(5)?,
            window_start: r.get(6)?,
            window_end,
        })
    })?;
    let mut out: Vec<VisitRow> = rows.collect::<rusqlite::Result<_>>()?;
    sort_visits(&mut out);
    Ok(out)
}

/// Board order: overdue first, then status sections; open by window ascending, others newest
/// first.
pub fn sort_visits(rows: &mut [VisitRow]) {
    rows.sort_by(|a, b| {
        (!a.overdue, visit_rank(&a.status)).cmp(&(!b.overdue, visit_rank(&b.status))).then_with(|| {
            if is_open_visit(&a.status) {
                a.window_start.cmp(&b.window_start)
            } else {
                b.window_start.cmp(&a.window_start)
            }
        })
    });
}

/// Marking a completed visit reviewed (已审核).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ReviewVisit {
    /// The customer file's document id.
    pub doc_id: String,
    /// The visit's id inside the customer file.
    pub visit_id: String,
    /// Optional review note.
    #[serde(default)]
    pub note: Option<String>,
}

/// Marks a completed visit reviewed as the supervisor (`advance_visit` to `reviewed`).
pub fn review_visit(st: &AppState, p: &Principal, input: &ReviewVisit) -> Result<String, ServerError> {
    supervisor_team(p)?;
    let note = input.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    if note.as_deref().is_some_and(|n| n.chars().count() > 500) {
        return Err(ServerError::BadRequest(
            "审核备注最多 500 字 / the note is at most 500 characters".into(),
        ));
    }
    let by = Actor { user: p.user_id.clone(), at: now_ms() };
    let visit = input.visit_id.clone();
    let wo = crate::edit::edit::<CustomerFile, _>(st, p, &input.doc_id, move |c| {
        c.advance_visit(&visit, &by, VisitStep::Reviewed, note)?;
        Ok(c.visits.get(&visit).map(|v| v.work_order.clone()).unwrap_or_default())
    })
    .map_err(|e| match e {
        ServerError::BadRequest(m) => {
            ServerError::BadRequest(format!("只有已完成且未审核的上门可以标记为已审核 / {m}"))
        }
        other => other,
    })?;
    Ok(format!("工单 {wo} 已审核 / work order {wo} marked reviewed"))
}

fn visit_status_label(lang: Lang, s: &str) -> String {
    s.parse::<VisitStep>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

/// The cells of one visit, as shown and exported.
fn visit_cells(ctx: &Ctx, v: &VisitRow, who: &BTreeMap<String, (String, String)>) -> Vec<Cell> {
    vec![
        Cell::Link(v.customer_name.clone(), format!("/customers/{}", v.doc_id)),
        Cell::Link(v.work_order.clone(), super::visit::href(&v.doc_id, &v.visit_id)),
        name_of(who, &v.staff).into(),
        fmt_time(v.window_start).into(),
        fmt_time(v.window_end).into(),
        visit_status_label(ctx.lang, &v.status).into(),
        if v.overdue { ctx.t("逾期", "overdue").into() } else { Cell::Empty },
    ]
}

fn visit_table(ctx: &Ctx, rows: &[VisitRow], who: &BTreeMap<String, (String, String)>) -> Table {
    let mut t = Table::new(
        "visits",
        ctx.t("上门服务", "Visits"),
        &[
            ctx.t("客户", "Customer"),
            ctx.t("工单", "Work order"),
            ctx.t("售后人员", "Field staff"),
            ctx.t("时间窗开始", "Window start"),
            ctx.t("时间窗结束", "Window end"),
            ctx.t("状态", "Status"),
            ctx.t("逾期", "Overdue"),
        ],
    );
    for v in rows {
        t.push_warn(visit_cells(ctx, v, who), v.overdue);
    }
    t
}

/// One status section of the board; completed visits get a review button.
fn visit_section(
    ctx: &Ctx,
    step: VisitStep,
    rows: &[&VisitRow],
    columns: &[String],
    who: &BTreeMap<String, (String, String)>,
) -> Markup {
    let reviewable = step == VisitStep::Completed;
    html! {
        h2 { (label(ctx.lang, step.label_zh(), step.as_str())) " (" (rows.len()) ")" }
        @if rows.is_empty() {
            p.muted { (ctx.t("无", "None")) }
        } @else {
            table {
                thead { tr {
                    @for c in columns { th { (c) } }
                    @if reviewable { th { (ctx.t("审核", "Review")) } }
                } }
                tbody {
                    @for v in rows {
                        tr.warn[v.overdue] {
                            @for cell in visit_cells(ctx, v, who) {
                                @match cell {
                                    Cell::Link(text, href) => td { a href=(href) { (text) } },
                                    other => td { (other.text()) },
                                }
                            }
                            @if reviewable {
                                td {
                                    form.inline method="post" action="/visits/review" {
                                        (form_fields(ctx))
                                        input type="hidden" name="doc_id" value=(v.doc_id);
                                        input type="hidden" name="visit_id" value=(v.visit_id);
                                        input name="note" size="12" placeholder=(ctx.t("备注（可选）", "note (optional)"));
                                        " "
                                        button.primary type="submit" { (ctx.t("标记已审核", "Mark reviewed")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn visits_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(f): Query<VisitFilter>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let filter = f.clone();
    let (rows, who, bad) = blocking(ctx.lang, move || {
        let conn = db.lock();
        let who = people(&conn, &team)?;
        match visit_board(&conn, &team, &filter, now_ms()) {
            Ok(rows) => Ok((rows, who, None)),
            // A bad filter value is the person's mistake: show it on the page.
            Err(ServerError::BadRequest(m)) => Ok((Vec::new(), who, Some(m))),
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let lang = ctx.lang;
    let t = visit_table(&ctx, &rows, &who);
    if let Some(fmt) = f.format.as_deref() {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let overdue = rows.iter().filter(|v| v.overdue).count();
    let sel = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let count = |s: VisitStep| rows.iter().filter(|v| v.status == s.as_str()).count();
    let body = html! {
        form.bar method="get" action="/visits" {
            label { (ctx.t("售后人员", "Field staff"))
                select name="staff" { option value="" { (ctx.t("全部", "all")) }
                    @for (id, (n, role)) in &who { @if role == "field" {
                        option value=(id) selected[sel(&f.staff, id)] { (n) } } } } }
            label { (ctx.t("状态", "Status"))
                select name="status" { option value="" { (ctx.t("全部", "all")) }
                    @for s in VISIT_BOARD_ORDER { option value=(s.as_str()) selected[sel(&f.status, s.as_str())] { (label(lang, s.label_zh(), s.as_str())) } } } }
            label { (ctx.t("月份（时间窗）", "Month (window)"))
                input type="month" name="month" value=(f.month.clone().unwrap_or_default()) placeholder="YYYY-MM"; }
            label { input type="checkbox" name="overdue" value="1" checked[sel(&f.overdue, "1")];
                (ctx.t("仅逾期", "only overdue")) }
            button.primary type="submit" { (ctx.t("查询", "Filter")) }
        }
        @if let Some(m) = &bad { div.flash.err role="alert" { (m) } }
        div.cards {
            a.card href="/visits?overdue=1" { div.n { (overdue) } (ctx.t("逾期（时间窗已过未完成）", "overdue (window ended, not completed)")) }
            @for s in VISIT_BOARD_ORDER {
                a.card href={ "/visits?status=" (s.as_str()) } { div.n { (count(s)) } (label(lang, s.label_zh(), s.as_str())) }
            }
        }
        p.muted { (rows.len()) (ctx.t(" 次上门", " visits"))
            @if rows.len() >= MAX_ROWS { (ctx.t("（已截断，请用筛选缩小范围）", " (truncated: narrow the filters)")) } }
        (export_links(&ctx.here, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        @for s in VISIT_BOARD_ORDER {
            @let section: Vec<&VisitRow> = rows.iter().filter(|v| v.status == s.as_str()).collect();
            @if f.status.as_deref().is_none_or(|x| x.is_empty() || x == s.as_str()) {
                (visit_section(&ctx, s, &section, &t.columns, &who))
            }
        }
    };
    Ok(page(&ctx, ctx.t("上门服务看板", "Visits"), body))
}

async fn review_form(State(state): State<AppState>, posted: Posted) -> Response {
    let f = &posted.form;
    let input = match (f.required("doc_id", "doc_id"), f.required("visit_id", "visit_id")) {
        (Ok(d), Ok(v)) => Ok(ReviewVisit {
            doc_id: d.to_string(),
            visit_id: v.to_string(),
            note: f.get("note").map(str::to_string),
        }),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let p = posted.ctx.p.clone();
    let result = match input {
        Ok(input) => tokio::task::spawn_blocking(move || review_visit(&state, &p, &input))
            .await
            .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string()))),
        Err(e) => Err(e),
    };
    after_action(posted.ctx.lang, &posted.back, result)
}

// ---- complaints --------------------------------------------------------------------------------

/// Filters of the complaint board (also the JSON API's query).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
pub struct ComplaintFilter {
    /// Handler user id.
    pub handler: Option<String>,
    /// `unresolved` (not yet resolved), `overdue`, or a step: received, forwarded, processing,
    /// resolved, confirmed, reopened.
    pub status: Option<String>,
    /// Severity: low, medium, high, critical.
    pub severity: Option<String>,
    /// Only complaints received in this month, `YYYY-MM`.
    pub month: Option<String>,
    /// `csv` or `xlsx` to download the board (pages only).
    pub format: Option<String>,
}

/// One complaint on the board.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ComplaintRow {
    /// The customer file's document id.
    pub doc_id: String,
    /// The complaint's id inside the customer file.
    pub complaint_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Handler user id.
    pub handler: String,
    /// Furthest step of the current round: received, forwarded, processing, resolved,
    /// confirmed, or reopened.
    pub status: String,
    /// How often the customer reopened it (0 = never).
    pub reopened: i64,
    /// Severity: low, medium, high, critical.
    pub severity: String,
    /// First received, Unix ms (device time).
    pub received_at: i64,
    /// When the current round began (receipt, or the last reopening), Unix ms.
    pub round_started_at: i64,
    /// Milliseconds since first received.
    pub age_ms: i64,
    /// Not yet resolved (received, reopened, forwarded or processing).
    pub unresolved: bool,
    /// Unanswered (received or reopened, not yet forwarded, processed or resolved) more than
    /// [`COMPLAINT_RESPONSE_TARGET_MS`] after its round began.
    pub overdue: bool,
}

fn complaint_rank(c: &ComplaintRow) -> u8 {
    match (c.overdue, c.unresolved, c.status.as_str()) {
        (true, _, _) => 0,
        (_, true, _) => 1,
        (_, _, "resolved") => 2,
        _ => 3,
    }
}

/// Whether a complaint in `status` whose round began at `start` is overdue at `now`.
pub fn complaint_overdue(status: &str, start: i64, now: i64) -> bool {
    matches!(status, "received" | "reopened") && now - start > COMPLAINT_RESPONSE_TARGET_MS
}

/// The complaints of `team` matching `f`: overdue first, then unresolved (oldest first), then
/// resolved awaiting confirmation and confirmed ones (newest first).
pub fn complaint_board(
    conn: &Connection,
    team: &str,
    f: &ComplaintFilter,
    now: i64,
) -> Result<Vec<ComplaintRow>, ServerError> {
    let mut conds = vec!["c.team = ?".to_string()];
    let mut args: Vec<rusqlite::types::Value> = vec![team.to_string().into()];
    if let Some(h) = f.handler.as_deref().filter(|s| !s.is_empty()) {
        conds.push("k.handler = ?".into());
        args.push(h.to_string().into());
    }
    let mut only_overdue = false;
    match f.status.as_deref().filter(|s| !s.is_empty()) {
        None => {}
        Some("unresolved") => conds.push("k.status NOT IN ('resolved', 'confirmed')".into()),
        Some("overdue") => {
            conds.push("k.status IN ('received', 'reopened')".into());
            only_overdue = true;
        }
        Some(s) => {
            let step: ComplaintStep = s.parse().map_err(|e: kefu_model::enums::UnknownValue| {
                ServerError::BadRequest(format!("状态无效 / invalid status: {e}"))
            })?;
            conds.push("k.status = ?".into());
            args.push(step.as_str().to_string().into());
        }
    }
    if let Some(s) = f.severity.as_deref().filter(|s| !s.is_empty()) {
        let sev: Severity = s.parse().map_err(|e: kefu_model::enums::UnknownValue| {
            ServerError::BadRequest(format!("严重程度无效 / invalid severity: {e}"))
        })?;
        conds.push("k.severity = ?".into());
        args.push(sev.as_str().to_string().into());
    }
    if let Some(m) = f.month.as_deref().filter(|s| !s.is_empty()) {
        let (a, b) = month_bounds(m).ok_or_else(|| bad_month(m))?;
        conds.push("k.received_at >= ? AND k.received_at < ?".into());
        args.push(a.into());
        args.push(b.into());
    }
    let sql = format!(
        "SELECT k.doc_id, k.complaint_id, c.name, k.handler, k.status, k.round, k.severity, k.received_at \
         FROM idx_complaints k JOIN idx_customers c ON c.doc_id = k.doc_id WHERE {} \
         ORDER BY k.received_at DESC LIMIT {MAX_ROWS}",
        conds.join(" AND ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        let status: String = r.get(4)?;
        let received_at: i64 = r.get(7)?;
        Ok(ComplaintRow {
            doc_id: r.get(0)?,
            complaint_id: r.get(1)?,
            customer_name: r.get(2)?,
            handler: r.get(3)?,
            unresolved: !matches!(status.as_str(), "resolved" | "confirmed"),
            status,
            reopened: r.get(5)?,
            severity: r.get(6)?,
            received_at,
            round_started_at: received_at,
            age_ms: now - received_at,
            overdue: false,
        })
    })?;
    let mut out: Vec<ComplaintRow> = rows.collect::<rusqlite::Result<_>>()?;
    // A reopened round starts at its reopening, which only the document holds.
    let mut files: BTreeMap<String, Option<CustomerFile>> = BTreeMap::new();
    for c in out.iter_mut().filter(|c| c.reopened > 0 && c.unresolved) {
        let file = files.entry(c.doc_id.clone()).or_insert_with(|| {
            crate::accept::load(conn, &c.doc_id)
                .ok()
                .flatten()
                .and_then(|s| KefuDoc::from_automerge(s.doc).read::<CustomerFile>().ok())
        });
        let round = u32::try_from(c.reopened).unwrap_or(0);
        if let Some(mark) = file
            .as_ref()
            .and_then(|f| f.complaints.get(&c.complaint_id))
            .and_then(|k| k.steps.get(&complaint_key(round, ComplaintStep::Reopened)))
        {
            c.round_started_at = mark.at;
        }
    }
    for c in &mut out {
        c.overdue = complaint_overdue(&c.status, c.round_started_at, now);
    }
    if only_overdue {
        out.retain(|c| c.overdue);
    }
    sort_complaints(&mut out);
    Ok(out)
}

/// Board order: overdue, unresolved (oldest first), resolved, confirmed (newest first).
pub fn sort_complaints(rows: &mut [ComplaintRow]) {
    rows.sort_by(|a, b| {
        complaint_rank(a).cmp(&complaint_rank(b)).then_with(|| {
            if a.unresolved {
                a.received_at.cmp(&b.received_at)
            } else {
                b.received_at.cmp(&a.received_at)
            }
        })
    });
}

fn complaint_status_label(lang: Lang, s: &str) -> String {
    s.parse::<ComplaintStep>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

fn severity_label(lang: Lang, s: &str) -> String {
    s.parse::<Severity>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

async fn complaints_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(f): Query<ComplaintFilter>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let filter = f.clone();
    let now = now_ms();
    let (rows, who, bad) = blocking(ctx.lang, move || {
        let conn = db.lock();
        let who = people(&conn, &team)?;
        match complaint_board(&conn, &team, &filter, now) {
            Ok(rows) => Ok((rows, who, None)),
            Err(ServerError::BadRequest(m)) => Ok((Vec::new(), who, Some(m))),
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let lang = ctx.lang;
    let mut t = Table::new(
        "complaints",
        ctx.t("投诉", "Complaints"),
        &[
            ctx.t("客户", "Customer"),
            ctx.t("受理时间", "Received"),
            ctx.t("已过时间", "Time since received"),
            ctx.t("状态", "Status"),
            ctx.t("严重程度", "Severity"),
            ctx.t("处理人", "Handler"),
            ctx.t("重开次数", "Reopened"),
            ctx.t("提醒", "Attention"),
        ],
    );
    for c in &rows {
        let attention = if c.overdue {
            Cell::Text(format!(
                "{}{}",
                ctx.t("超过24小时未响应，本轮开始于 ", "no answer for over 24 h; round began "),
                fmt_time(c.round_started_at)
            ))
        } else if c.unresolved {
            ctx.t("未解决", "unresolved").into()
        } else {
            Cell::Empty
        };
        t.push_warn(
            vec![
                Cell::Link(c.customer_name.clone(), format!("/customers/{}", c.doc_id)),
                fmt_time(c.received_at).into(),
                fmt_age(lang, c.age_ms).into(),
                complaint_status_label(lang, &c.status).into(),
                severity_label(lang, &c.severity).into(),
                name_of(&who, &c.handler).into(),
                Cell::Int(c.reopened),
                attention,
            ],
            c.overdue,
        );
    }
    if let Some(fmt) = f.format.as_deref() {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let overdue = rows.iter().filter(|c| c.overdue).count();
    let unresolved = rows.iter().filter(|c| c.unresolved).count();
    let sel = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let body = html! {
        form.bar method="get" action="/complaints" {
            label { (ctx.t("处理人", "Handler"))
                select name="handler" { option value="" { (ctx.t("全部", "all")) }
                    @for (id, (n, role)) in &who { @if role != "admin" {
                        option value=(id) selected[sel(&f.handler, id)] { (n) } } } } }
            label { (ctx.t("状态", "Status"))
                select name="status" {
                    option value="" { (ctx.t("全部", "all")) }
                    option value="unresolved" selected[sel(&f.status, "unresolved")] { (ctx.t("未解决", "unresolved")) }
                    option value="overdue" selected[sel(&f.status, "overdue")] { (ctx.t("超时未响应", "overdue")) }
                    @for s in [ComplaintStep::Received, ComplaintStep::Reopened, ComplaintStep::Forwarded, ComplaintStep::Processing, ComplaintStep::Resolved, ComplaintStep::Confirmed] {
                        option value=(s.as_str()) selected[sel(&f.status, s.as_str())] { (label(lang, s.label_zh(), s.as_str())) } } } }
            label { (ctx.t("严重程度", "Severity"))
                select name="severity" { option value="" { (ctx.t("全部", "all")) }
                    @for s in Severity::ALL { option value=(s.as_str()) selected[sel(&f.severity, s.as_str())] { (label(lang, s.label_zh(), s.as_str())) } } } }
            label { (ctx.t("受理月份", "Month received"))
                input type="month" name="month" value=(f.month.clone().unwrap_or_default()) placeholder="YYYY-MM"; }
            button.primary type="submit" { (ctx.t("查询", "Filter")) }
        }
        @if let Some(m) = &bad { div.flash.err role="alert" { (m) } }
        div.cards {
            a.card href="/complaints?status=overdue" { div.n { (overdue) } (ctx.t("超过24小时未响应", "unanswered for over 24 h")) }
            a.card href="/complaints?status=unresolved" { div.n { (unresolved) } (ctx.t("未解决", "unresolved")) }
        }
        p.muted { (rows.len()) (ctx.t(" 件投诉。响应：转交、处理或解决；目标 24 小时（重开后重新计时）。",
            " complaints. An answer is forwarding, processing or resolving; target 24 h (restarts when reopened).")) }
        (export_links(&ctx.here, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        (t.html(ctx.t("没有符合条件的投诉", "No complaint matches")))
    };
    Ok(page(&ctx, ctx.t("投诉看板", "Complaints"), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_days_and_hours() {
        let h = 3_600_000;
        assert_eq!(fmt_age(Lang::Zh, 3 * 24 * h + 5 * h + 59 * 60_000), "3天5小时");
        assert_eq!(fmt_age(Lang::En, 3 * 24 * h + 5 * h), "3d 5h");
        assert_eq!(fmt_age(Lang::Zh, 2 * h + 7 * 60_000), "2小时7分钟");
        assert_eq!(fmt_age(Lang::Zh, 59_999), "0分钟");
        assert_eq!(fmt_age(Lang::En, -5 * h), "0 min");
    }

    #[test]
    fn months_bound_local_time() {
        let (a, b) = month_bounds("2026-12").unwrap_or_else(|| panic!("month"));
        assert_eq!(a, Date::parse("2026-12-01").map(|d| d.start_ms(CHINA_UTC_OFFSET_MIN)).unwrap_or(0));
        assert_eq!(b, Date::parse("2027-01-01").map(|d| d.start_ms(CHINA_UTC_OFFSET_MIN)).unwrap_or(0));
        assert!(month_bounds("2026-13").is_none());
        assert!(month_bounds("2026-1").is_none());
    }

    fn visit(id: &str, status: &str, start: i64, overdue: bool) -> VisitRow {
        VisitRow {
            doc_id: "d".into(),
            visit_id: id.into(),
            customer_name: "王".into(),
            staff: "s".into(),
            status: status.into(),
            work_order: id.into(),
            window_start: start,
            window_end: start + 1,
            overdue,
        }
    }

    #[test]
    fn overdue_visits_come_first_then_sections() {
        let mut rows = vec![
            visit("a", "completed", 10, false),
            visit("b", "dispatched", 30, false),
            visit("c", "en_route", 5, true),
            visit("d", "dispatched", 20, false),
            visit("e", "completed", 40, false),
            visit("f", "cancelled", 50, false),
        ];
        sort_visits(&mut rows);
        let ids: Vec<&str> = rows.iter().map(|v| v.visit_id.as_str()).collect();
        assert_eq!(ids, ["c", "d", "b", "e", "a", "f"]);
    }

    #[test]
    fn complaints_overdue_only_when_unanswered_past_target() {
        let day = COMPLAINT_RESPONSE_TARGET_MS;
        assert!(complaint_overdue("received", 0, day + 1));
        assert!(!complaint_overdue("received", 0, day));
        assert!(complaint_overdue("reopened", 0, 2 * day));
        assert!(!complaint_overdue("processing", 0, 10 * day));
        assert!(!complaint_overdue("resolved", 0, 10 * day));
    }

    fn db() -> (tempfile::TempDir, crate::db::Db) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, db)
    }

    #[test]
    fn boards_read_only_the_team_and_filter() {
        let (_d, db) = db();
        let conn = db.lock();
        let now = 1_795_395_600_000_i64;
        let h = 3_600_000;
        conn.execute_batch(&format!(
            "INSERT INTO idx_customers (doc_id, team, name, phones, stage, intent, created_at) VALUES
               ('c1', 'A', '王女士', '', 'lead', 'unknown', 0), ('c2', 'B', '李先生', '', 'lead', 'unknown', 0);
             INSERT INTO idx_visits VALUES
               ('c1', 'v1', 'f1', 'dispatched', 'WO-1', {a}, {b}, '王女士'),
               ('c1', 'v2', 'f2', 'completed', 'WO-2', {a}, {b}, '王女士'),
               ('c1', 'v3', 'f1', 'on_site', 'WO-3', {c}, {d}, '王女士'),
               ('c2', 'v4', 'f1', 'dispatched', 'WO-4', {a}, {b}, '李先生');
             INSERT INTO idx_complaints VALUES
               ('c1', 'k1', 'a1', 'received', 0, 'high', {old}, '王女士'),
               ('c1', 'k2', 'a1', 'confirmed', 0, 'low', {old}, '王女士'),
               ('c1', 'k3', 'a2', 'processing', 0, 'low', {recent}, '王女士'),
               ('c2', 'k4', 'a1', 'received', 0, 'high', {old}, '李先生');",
            a = now - 5 * h,
            b = now - 3 * h,
            c = now + h,
            d = now + 3 * h,
            old = now - 50 * h,
            recent = now - h,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let all = visit_board(&conn, "A", &VisitFilter::default(), now).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = all.iter().map(|v| v.visit_id.as_str()).collect();
        assert_eq!(ids, ["v1", "v3", "v2"], "team A only, overdue first");
        assert!(all[0].overdue && !all[1].overdue && !all[2].overdue);
        let f =
            VisitFilter { staff: Some("f1".into()), status: Some("on_site".into()), ..Default::default() };
        let one = visit_board(&conn, "A", &f, now).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one.len(), 1);
        let bad = VisitFilter { status: Some("flying".into()), ..Default::default() };
        assert!(matches!(visit_board(&conn, "A", &bad, now), Err(ServerError::BadRequest(_))));
        let bad = VisitFilter { month: Some("2026-99".into()), ..Default::default() };
        assert!(matches!(visit_board(&conn, "A", &bad, now), Err(ServerError::BadRequest(_))));

        let all =
            complaint_board(&conn, "A", &ComplaintFilter::default(), now).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = all.iter().map(|c| c.complaint_id.as_str()).collect();
        assert_eq!(ids, ["k1", "k3", "k2"]);
        assert!(all[0].overdue && all[1].unresolved && !all[1].overdue && !all[2].unresolved);
        let f = ComplaintFilter { status: Some("unresolved".into()), ..Default::default() };
        assert_eq!(complaint_board(&conn, "A", &f, now).map(|r| r.len()).ok(), Some(2));
        let f = ComplaintFilter { status: Some("overdue".into()), ..Default::default() };
        assert_eq!(complaint_board(&conn, "A", &f, now).map(|r| r.len()).ok(), Some(1));
        let f = ComplaintFilter {
            handler: Some("a2".into()),
            severity: Some("low".into()),
            ..Default::default()
        };
        assert_eq!(complaint_board(&conn, "A", &f, now).map(|r| r.len()).ok(), Some(1));
        let f = ComplaintFilter { severity: Some("huge".into()), ..Default::default() };
        assert!(matches!(complaint_board(&conn, "A", &f, now), Err(ServerError::BadRequest(_))));
    }

    #[test]
    fn a_completed_visit_is_marked_reviewed_once() {
        use kefu_model::automerge::ActorId;
        use kefu_model::enums::{SourceChannel, VisitReason};
        use kefu_model::records::customer::Profile;
        use kefu_model::verbs::{NewVisit, VisitCompletion};
        use kefu_model::Author;

        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let st = AppState::new(db, crate::sync::Limits::default());
        let now = now_ms();
        let sup = Principal {
            user_id: "sup".into(),
            device_id: "web".into(),
            role: Role::Supervisor,
            team: Some("A".into()),
        };
        let profile = Profile {
            name: "王女士".into(),
            phones: vec!["13800000000".into()],
            email: None,
            wechat: None,
            address: None,
            district: None,
            source: SourceChannel::Phone,
        };
        let mut c = CustomerFile::new("A", profile, "sup", now - 10_000);
        c.assignment.field_staff = Some("f1".into());
        c.assignment.assigned_at = Some(now - 10_000);
        let author = Author { user: "sup".into(), device: "web".into() };
        let mut doc =
            KefuDoc::create(&c, ActorId::random(), &author, now - 10_000).unwrap_or_else(|e| panic!("{e}"));
        let by = Actor { user: "f1".into(), at: now - 5_000 };
        let visit = |n: &str| NewVisit {
            work_order: format!("WO-{n}"),
            reason: VisitReason::Repair,
            staff: "f1".into(),
            window_start: now - 9_000,
            window_end: now - 1_000,
        };
        let done = VisitCompletion {
            work_done: "更换阀芯".into(),
            parts: vec![],
            rating: Some(5),
            follow_up_on: None,
        };
        doc.update(&author, now - 5_000, |c: &mut CustomerFile| {
            c.dispatch_visit("v1".into(), &by, &visit("1"));
            c.dispatch_visit("v2".into(), &by, &visit("2"));
            c.advance_visit("v1", &by, VisitStep::OnSite, None)?;
            c.complete_visit("v1", &by, &done)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let changes = doc.automerge().get_changes(&[]);
        let out =
            crate::accept::accept(&st.db.lock(), &sup, "c1", changes, now).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(out, crate::accept::Outcome::Accepted { .. }), "{out:?}");

        let input = ReviewVisit { doc_id: "c1".into(), visit_id: "v1".into(), note: Some(" 合格 ".into()) };
        let msg = review_visit(&st, &sup, &input).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg.contains("WO-1"), "{msg}");
        let board =
            visit_board(&st.db.lock(), "A", &VisitFilter::default(), now).unwrap_or_else(|e| panic!("{e}"));
        let statuses: Vec<(&str, &str, bool)> =
            board.iter().map(|v| (v.visit_id.as_str(), v.status.as_str(), v.overdue)).collect();
        assert_eq!(statuses, [("v2", "dispatched", true), ("v1", "reviewed", false)]);
        // Twice, or a visit that is not completed: the rule's message, not a failure.
        assert!(matches!(review_visit(&st, &sup, &input), Err(ServerError::BadRequest(_))));
        let open = ReviewVisit { visit_id: "v2".into(), ..input.clone() };
        assert!(matches!(review_visit(&st, &sup, &open), Err(ServerError::BadRequest(_))));
        let missing = ReviewVisit { visit_id: "nope".into(), ..input.clone() };
        assert!(matches!(review_visit(&st, &sup, &missing), Err(ServerError::NotFound(_))));
        // Another team's supervisor does not see the file.
        let other = Principal { team: Some("B".into()), ..sup.clone() };
        let v = ReviewVisit { visit_id: "v1".into(), ..input };
        assert!(matches!(review_visit(&st, &other, &v), Err(ServerError::NotFound(_))));
    }
}
