//! Customers: search and filters, the customer file, and every record's history.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use kefu_model::automerge::ChangeHash;
use kefu_model::enums::{IntentLevel, PurchaseStage};
use kefu_model::records::customer::CustomerFile;
use kefu_model::{HistoryEntry, KefuDoc};
use maud::{html, Markup};
use rusqlite::{params_from_iter, Connection};
use serde::{Deserialize, Serialize};

use super::table::{export_links, Cell, Table};
use super::{blocking, fmt_time, label, layout, Ctx, Lang, PageError};
use crate::access::{access, Access};
use crate::auth::{now_ms, Principal};
use crate::error::ServerError;
use crate::http::AppState;

/// Customer pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers", get(list))
        .route("/customers/{id}", get(file))
        .route("/records/{id}/history", get(history))
        .route("/records/{id}/at/{hash}", get(at_version))
}

/// People of a team: user id → (display name, role).
pub fn people(conn: &Connection, team: &str) -> Result<BTreeMap<String, (String, String)>, ServerError> {
    let mut s = conn.prepare_cached(
        "SELECT id, display_name, role FROM users WHERE team = ?1 OR role = 'admin' ORDER BY display_name",
    )?;
    let rows = s.query_map([team], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A person's name for display (the id when unknown).
pub fn name_of(people: &BTreeMap<String, (String, String)>, id: &str) -> String {
    people.get(id).map_or_else(|| id.to_string(), |(n, _)| n.clone())
}

/// Filters of the customer list (also the JSON API's query).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
pub struct CustomerFilter {
    /// Name, phone, address or notes fragment (any Chinese fragment; two characters work).
    pub q: Option<String>,
    /// Purchase stage (购买阶段).
    pub stage: Option<String>,
    /// Intent level (意向程度).
    pub intent: Option<String>,
    /// Assigned agent or field staff (user id).
    pub assignee: Option<String>,
    /// Only customers assigned more than 7 days ago and never contacted (`1`).
    pub overdue: Option<String>,
    /// `csv` or `xlsx` to download the list (pages only).
    pub format: Option<String>,
}

/// One customer in a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerRow {
    /// Document id.
    pub doc_id: String,
    /// Name.
    pub name: String,
    /// Phones, comma separated.
    pub phones: String,
    /// District.
    pub district: Option<String>,
    /// Purchase stage.
    pub stage: String,
    /// Intent level.
    pub intent: String,
    /// Agent user id.
    pub agent: Option<String>,
    /// Field staff user id.
    pub field_staff: Option<String>,
    /// When the agent was assigned, Unix ms.
    pub assigned_at: Option<i64>,
    /// First recorded contact after assignment, Unix ms.
    pub first_contact_at: Option<i64>,
    /// Assigned more than 7 days ago and never contacted.
    pub overdue_first_contact: bool,
}

const WEEK_MS: i64 = 7 * 86_400_000;

/// The customers of `team` matching `f`, overdue first contacts first, then by name.
pub fn search(
    conn: &Connection,
    team: &str,
    f: &CustomerFilter,
    now: i64,
) -> Result<Vec<CustomerRow>, ServerError> {
    let mut sql = String::from(
        "SELECT c.doc_id, c.name, c.phones, c.district, c.stage, c.intent, c.agent, c.field_staff, c.assigned_at, c.first_contact_at \
         FROM idx_customers c",
    );
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let q = f.q.as_deref().map(str::trim).unwrap_or("");
    let mut conds = vec!["c.team = ?".to_string()];
    args.push(team.to_string().into());
    if q.chars().count() >= 3 {
        // Trigram full-text match on name, phones, address and notes; quoted as a phrase.
        sql.push_str(" JOIN customers_fts f ON f.rowid = c.rowid");
        conds.push("customers_fts MATCH ?".into());
        args.push(format!("\"{}\"", q.replace('"', "\"\"")).into());
    } else if !q.is_empty() {
        // One or two characters are below the trigram size: scan the team's index rows.
        let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        conds.push("(c.name LIKE ? ESCAPE '\\' OR c.phones LIKE ? ESCAPE '\\')".into());
        args.push(like.clone().into());
        args.push(like.into());
    }
    if let Some(s) = f.stage.as_deref().filter(|s| !s.is_empty()) {
        s.parse::<PurchaseStage>().map_err(|e| ServerError::BadRequest(e.to_string()))?;
        conds.push("c.stage = ?".into());
        args.push(s.to_string().into());
    }
    if let Some(s) = f.intent.as_deref().filter(|s| !s.is_empty()) {
        s.parse::<IntentLevel>().map_err(|e| ServerError::BadRequest(e.to_string()))?;
        conds.push("c.intent = ?".into());
        args.push(s.to_string().into());
    }
    if let Some(a) = f.assignee.as_deref().filter(|s| !s.is_empty()) {
        conds.push("(c.agent = ? OR c.field_staff = ?)".into());
        args.push(a.to_string().into());
        args.push(a.to_string().into());
    }
    if f.overdue.as_deref().is_some_and(|o| o == "1" || o == "true") {
        conds.push("c.agent IS NOT NULL AND c.assigned_at < ? AND c.first_contact_at IS NULL".into());
        args.push((now - WEEK_MS).into());
    }
    sql.push_str(" WHERE ");
    sql.push_str(&conds.join(" AND "));
    sql.push_str(" ORDER BY c.name LIMIT 2000");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        let assigned_at: Option<i64> = r.get(8)?;
        let first: Option<i64> = r.get(9)?;
        let agent: Option<String> = r.get(6)?;
        Ok(CustomerRow {
            doc_id: r.get(0)?,
            name: r.get(1)?,
            phones: r.get(2)?,
            district: r.get(3)?,
            stage: r.get(4)?,
            intent: r.get(5)?,
            overdue_first_contact: agent.is_some()
                && first.is_none()
                && assigned_at.is_some_and(|a| a < now - WEEK_MS),
            agent,
            field_staff: r.get(7)?,
            assigned_at,
            first_contact_at: first,
        })
    })?;
    let mut out: Vec<CustomerRow> = rows.collect::<rusqlite::Result<_>>()?;
    out.sort_by_key(|c| !c.overdue_first_contact);
    Ok(out)
}

fn stage_label(lang: Lang, s: &str) -> String {
    s.parse::<PurchaseStage>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

fn intent_label(lang: Lang, s: &str) -> String {
    s.parse::<IntentLevel>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(f): Query<CustomerFilter>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let filter = f.clone();
    let (rows, people) = blocking(ctx.lang, move || {
        let conn = db.lock();
        Ok((search(&conn, &team, &filter, now_ms())?, people(&conn, &team)?))
    })
    .await
    .or_else(|e| match e.error {
        // A bad filter value is the person's mistake: show it on the page.
        ServerError::BadRequest(m) => Ok((Vec::new(), BTreeMap::from([("!".into(), (m, String::new()))]))),
        other => Err(ctx.error(other)),
    })?;
    let bad_filter = people.get("!").map(|(m, _)| m.clone());
    let lang = ctx.lang;
    let mut t = Table::new(
        "customers",
        ctx.t("客户", "Customers"),
        &[
            ctx.t("姓名", "Name"),
            ctx.t("电话", "Phones"),
            ctx.t("区域", "District"),
            ctx.t("购买阶段", "Stage"),
            ctx.t("意向", "Intent"),
            ctx.t("客服专员", "Agent"),
            ctx.t("售后人员", "Field staff"),
            ctx.t("分配时间", "Assigned"),
            ctx.t("首次联系", "First contact"),
        ],
    );
    for c in &rows {
        let overdue = c.overdue_first_contact;
        t.push_warn(
            vec![
                Cell::Link(c.name.clone(), format!("/customers/{}", c.doc_id)),
                c.phones.clone().into(),
                c.district.clone().into(),
                stage_label(lang, &c.stage).into(),
                intent_label(lang, &c.intent).into(),
                c.agent.as_deref().map(|a| name_of(&people, a)).into(),
                c.field_staff.as_deref().map(|a| name_of(&people, a)).into(),
                c.assigned_at.map(fmt_time).into(),
                match (c.first_contact_at, overdue) {
                    (Some(t), _) => fmt_time(t).into(),
                    (None, true) => ctx.t("超过一周未联系", "overdue: not contacted in a week").into(),
                    (None, false) => Cell::Empty,
                },
            ],
            overdue,
        );
    }
    if let Some(fmt) = f.format.as_deref() {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let sel = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let body = html! {
        form.bar method="get" action="/customers" {
            label { (ctx.t("搜索（姓名、电话、地址、备注的任意片段）", "Search (any fragment of name, phone, address, notes)"))
                input name="q" value=(f.q.clone().unwrap_or_default()) placeholder=(ctx.t("如：王女、1380", "e.g. 王女, 1380")); }
            label { (ctx.t("购买阶段", "Stage"))
                select name="stage" { option value="" { (ctx.t("全部", "all")) }
                    @for s in PurchaseStage::ALL { option value=(s.as_str()) selected[sel(&f.stage, s.as_str())] { (label(lang, s.label_zh(), s.as_str())) } } } }
            label { (ctx.t("意向程度", "Intent"))
                select name="intent" { option value="" { (ctx.t("全部", "all")) }
                    @for s in IntentLevel::ALL { option value=(s.as_str()) selected[sel(&f.intent, s.as_str())] { (label(lang, s.label_zh(), s.as_str())) } } } }
            label { (ctx.t("负责人", "Assignee"))
                select name="assignee" { option value="" { (ctx.t("全部", "all")) }
                    @for (id, (n, role)) in &people { @if role == "agent" || role == "field" {
                        option value=(id) selected[sel(&f.assignee, id)] { (n) } } } } }
            label { input type="checkbox" name="overdue" value="1" checked[sel(&f.overdue, "1")];
                (ctx.t("仅超过一周未首次联系", "only overdue first contact")) }
            button.primary type="submit" { (ctx.t("查询", "Search")) }
        }
        @if let Some(m) = bad_filter { div.flash.err role="alert" { (m) } }
        p.muted { (rows.len()) (ctx.t(" 位客户", " customers")) }
        (export_links(&ctx.here, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        (t.html(ctx.t("没有符合条件的客户", "No customer matches")))
    };
    Ok(layout::page(&ctx, ctx.t("客户", "Customers"), body))
}

/// Loads a document `p` may read, as a `KefuDoc`; not found when they have no access.
pub fn load_readable(conn: &Connection, p: &Principal, doc_id: &str) -> Result<KefuDoc, ServerError> {
    let stored = crate::accept::load(conn, doc_id)?
        .ok_or_else(|| ServerError::NotFound(format!("no record {doc_id}")))?;
    if access(p, &stored.meta) == Access::None {
        return Err(ServerError::NotFound(format!("no record {doc_id}")));
    }
    Ok(KefuDoc::from_automerge(stored.doc))
}

fn money(fen: i64) -> String {
    format!("¥{}.{:02}", fen / 100, (fen % 100).abs())
}

/// The customer file as HTML.
pub fn render_file(
    ctx: &Ctx,
    id: &str,
    c: &CustomerFile,
    people: &BTreeMap<String, (String, String)>,
) -> Markup {
    let lang = ctx.lang;
    let who = |u: &str| name_of(people, u);
    let p = &c.profile;
    html! {
        div.grid2 {
            div.card {
                h2 { (ctx.t("基本信息", "Profile")) }
                p { b { (p.name) } " · " (p.phones.join(", ")) }
                @if let Some(a) = &p.address { p { (a) @if let Some(d) = &p.district { " (" (d) ")" } } }
                p { (ctx.t("来源：", "Source: ")) (label(lang, p.source.label_zh(), p.source.as_str()))
                    @if let Some(w) = &p.wechat { " · WeChat " (w) } @if let Some(e) = &p.email { " · " (e) } }
                p { (ctx.t("阶段：", "Stage: ")) (label(lang, c.classification.stage.label_zh(), c.classification.stage.as_str()))
                    " · " (ctx.t("意向：", "Intent: ")) (label(lang, c.classification.intent.label_zh(), c.classification.intent.as_str())) }
                @if !c.classification.tags.is_empty() { p { @for t in &c.classification.tags { span.tag { (t) } } } }
                @if let Some(n) = &c.classification.notes { p.muted { (n) } }
            }
            div.card {
                h2 { (ctx.t("负责人", "Assignment")) }
                p { (ctx.t("客服专员：", "Agent: ")) (c.assignment.agent.as_deref().map(who).unwrap_or_else(|| "—".into())) }
                p { (ctx.t("售后人员：", "Field staff: ")) (c.assignment.field_staff.as_deref().map(who).unwrap_or_else(|| "—".into())) }
                @if let Some(t) = c.assignment.assigned_at { p.muted { (ctx.t("分配于 ", "assigned ")) (fmt_time(t)) } }
                p { a href={ "/records/" (id) "/history" } { (ctx.t("修改历史", "History of changes")) } }
            }
        }
        h2 { (ctx.t("订单", "Orders")) }
        table { tr { th { (ctx.t("单号", "Number")) } th { (ctx.t("项目", "Item")) } th { (ctx.t("金额", "Amount")) } th { (ctx.t("下单", "Ordered")) } th { (ctx.t("完成", "Completed")) } th { (ctx.t("状态", "Status")) } }
            @for o in c.orders.values() { tr { td { (o.number) } td { (o.item) } td.num { (money(o.amount_fen)) } td { (o.ordered_on) } td { (o.completed_on.clone().unwrap_or_default()) } td { (label(lang, o.status.label_zh(), o.status.as_str())) } } } }
        h2 { (ctx.t("咨询记录", "Contact log")) }
        table { tr { th { (ctx.t("时间", "Time")) } th { (ctx.t("渠道", "Channel")) } th { (ctx.t("内容", "Summary")) } th { (ctx.t("记录人", "By")) } }
            @for k in c.contacts.values() { tr { td { (fmt_time(k.at)) } td { (label(lang, k.channel.label_zh(), k.channel.as_str())) } td { (k.summary) } td { (who(&k.by)) } } } }
        h2 { (ctx.t("回访", "Callbacks")) }
        table { tr { th { (ctx.t("日期", "Due")) } th { (ctx.t("专员", "Agent")) } th { (ctx.t("状态", "Status")) } th { (ctx.t("结果", "Outcome")) } th { (ctx.t("满意度", "Satisfaction")) } th { (ctx.t("评价与建议", "Evaluation and suggestions")) } }
            @for b in c.callbacks.values() { tr {
                td { (b.scheduled_for) } td { (who(&b.agent)) }
                td { (b.status().map(|s| label(lang, s.label_zh(), s.as_str())).unwrap_or_default()) }
                td { (b.outcome.map(|o| label(lang, o.label_zh(), o.as_str())).unwrap_or_default()) }
                td.num { (b.satisfaction.map(|s| s.to_string()).unwrap_or_default()) }
                td { (b.evaluation.clone().unwrap_or_default()) " " (b.suggestions.clone().unwrap_or_default()) " " (b.issue.clone().unwrap_or_default()) }
            } } }
        h2 { (ctx.t("上门服务", "Visits")) }
        table { tr { th { (ctx.t("工单", "Work order")) } th { (ctx.t("原因", "Reason")) } th { (ctx.t("人员", "Staff")) } th { (ctx.t("时间窗", "Window")) } th { (ctx.t("状态", "Status")) } th { (ctx.t("完成内容", "Work done")) } th { (ctx.t("评分", "Rating")) } }
            @for (vid, v) in &c.visits { tr {
                td { a href=(super::visit::href(id, vid)) { (v.work_order) }
                    @if !v.photos.is_empty() || v.signature.is_some() {
                        br; span.muted { "📷 " (v.photos.len()) @if v.signature.is_some() { " · " (ctx.t("已签名", "signed")) } }
                    } } td { (label(lang, v.reason.label_zh(), v.reason.as_str())) } td { (who(&v.staff)) }
                td { (fmt_time(v.window_start)) " – " (fmt_time(v.window_end)) }
                td { (v.status().map(|s| label(lang, s.label_zh(), s.as_str())).unwrap_or_default()) }
                td { (v.work_done.clone().unwrap_or_default())
                    @for part in v.parts.values() { br; span.muted { (part.part) " × " (part.quantity) } } }
                td.num { (v.rating.map(|s| s.to_string()).unwrap_or_default()) }
            } } }
        h2 { (ctx.t("投诉", "Complaints")) }
        table { tr { th { (ctx.t("受理时间", "Received")) } th { (ctx.t("类别", "Category")) } th { (ctx.t("严重程度", "Severity")) } th { (ctx.t("内容", "Content")) } th { (ctx.t("处理人", "Handler")) } th { (ctx.t("状态", "Status")) } th { (ctx.t("处理结果", "Resolution")) } }
            @for k in c.complaints.values() { tr {
                td { (fmt_time(k.received_at)) } td { (label(lang, k.category.label_zh(), k.category.as_str())) }
                td { (label(lang, k.severity.label_zh(), k.severity.as_str())) } td { (k.content) } td { (who(&k.handler)) }
                td { (k.status().map(|s| { let l = label(lang, s.step.label_zh(), s.step.as_str()); if s.round > 0 { format!("{l} (#{})", s.round + 1) } else { l } }).unwrap_or_default()) }
                td { (k.resolution.clone().unwrap_or_default()) }
            } } }
    }
}

async fn file(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let p = ctx.p.clone();
    let doc_id = id.clone();
    let (c, people) = blocking(ctx.lang, move || {
        let conn = db.lock();
        let doc = load_readable(&conn, &p, &doc_id)?;
        let c: CustomerFile = doc.read().map_err(|e| ServerError::NotFound(format!("{doc_id}: {e}")))?;
        Ok((c, people(&conn, &team)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let body = render_file(&ctx, &id, &c, &people);
    Ok(layout::page(&ctx, &c.profile.name.clone(), body))
}

/// One change with its provenance, for the history page and API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryRow {
    /// Change hash (hex): open the record as it was after it.
    pub hash: String,
    /// Server-verified user who sent it (absent for changes the server never received, such
    /// as a keyed document's shared genesis).
    pub user: Option<String>,
    /// Server-verified device.
    pub device: Option<String>,
    /// When the server received it, Unix ms.
    pub received_at: Option<i64>,
    /// The device's clock when it was made, Unix ms (a claim).
    pub device_time: i64,
    /// Device time is ahead of receipt, or more than a day behind it.
    pub clock_skew: bool,
    /// Fields changed: path, old value, new value (JSON).
    pub fields: Vec<(String, serde_json::Value, serde_json::Value)>,
}

/// A day: a device time further behind its receipt than this is flagged (a clock behind, or a
/// long time offline; the supervisor judges which).
const SKEW_BEHIND_MS: i64 = 86_400_000;
/// Device time ahead of receipt by more than this cannot be offline delay: the clock is wrong.
const SKEW_AHEAD_MS: i64 = 5 * 60_000;

/// The history of `doc_id` with provenance, oldest first.
pub fn history_rows(
    conn: &Connection,
    doc_id: &str,
    doc: &mut KefuDoc,
) -> Result<Vec<HistoryRow>, ServerError> {
    let entries: Vec<HistoryEntry> = doc.history(&[]);
    let mut stmt = conn.prepare_cached(
        "SELECT p.user_id, p.device_id, p.received_at, coalesce(u.display_name, p.user_id), coalesce(d.name, p.device_id) \
         FROM provenance p LEFT JOIN users u ON u.id = p.user_id LEFT JOIN devices d ON d.id = p.device_id \
         WHERE p.change_hash = ?1 AND p.doc_id = ?2",
    )?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let prov: Option<(String, String, i64)> = stmt
            .query_row([&e.hash, &doc_id.to_string()], |r| {
                Ok((
                    format!("{} ({})", r.get::<_, String>(3)?, r.get::<_, String>(0)?),
                    r.get::<_, String>(4)?,
                    r.get(2)?,
                ))
            })
            .ok();
        let device_time = e.time * 1000;
        let clock_skew = prov.as_ref().is_some_and(|(_, _, rec)| {
            e.time != 0 && (device_time > rec + SKEW_AHEAD_MS || device_time < rec - SKEW_BEHIND_MS)
        });
        let fields = e
            .fields
            .into_iter()
            .map(|f| {
                (
                    f.path.join("."),
                    f.old.unwrap_or(serde_json::Value::Null),
                    f.new.unwrap_or(serde_json::Value::Null),
                )
            })
            .collect();
        let (user, device, received_at) = match prov {
            Some((u, d, r)) => (Some(u), Some(d), Some(r)),
            None => (None, None, None),
        };
        out.push(HistoryRow { hash: e.hash, user, device, received_at, device_time, clock_skew, fields });
    }
    Ok(out)
}

fn short(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

#[derive(Debug, Deserialize)]
struct Fmt {
    format: Option<String>,
}

async fn history(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<Fmt>,
) -> Result<Response, PageError> {
    ctx.team()?;
    let db = state.db.clone();
    let p = ctx.p.clone();
    let doc_id = id.clone();
    let rows = blocking(ctx.lang, move || {
        let conn = db.lock();
        let mut doc = load_readable(&conn, &p, &doc_id)?;
        history_rows(&conn, &doc_id, &mut doc)
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let mut t = Table::new(
        "history",
        ctx.t("修改历史", "History"),
        &[
            ctx.t("服务器收到", "Received by server"),
            ctx.t("用户（服务器核实）", "User (verified)"),
            ctx.t("设备", "Device"),
            ctx.t("设备时间", "Device time"),
            ctx.t("字段", "Field"),
            ctx.t("原值", "Before"),
            ctx.t("新值", "After"),
            ctx.t("版本", "Version"),
        ],
    );
    for r in rows.iter().rev() {
        let n = r.fields.len().max(1);
        for i in 0..n {
            let (path, old, new) =
                r.fields.get(i).map_or((String::new(), String::new(), String::new()), |(p, o, nw)| {
                    (p.clone(), short(o), short(nw))
                });
            let skew = if r.clock_skew { ctx.t(" ⚠ 时钟偏差", " ⚠ clock skew") } else { "" };
            t.push_warn(
                vec![
                    r.received_at.map(fmt_time).into(),
                    r.user.clone().into(),
                    r.device.clone().into(),
                    format!("{}{skew}", fmt_time(r.device_time)).into(),
                    path.into(),
                    old.into(),
                    new.into(),
                    if i == 0 {
                        Cell::Link(r.hash.chars().take(8).collect(), format!("/records/{id}/at/{}", r.hash))
                    } else {
                        Cell::Empty
                    },
                ],
                r.clock_skew,
            );
        }
    }
    if let Some(fmt) = q.format.as_deref() {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let body = html! {
        p.muted { (ctx.t("最新的在前。用户和设备由服务器核实；设备时间是手机自己的时钟，偏差大时标出。",
            "Newest first. User and device are verified by the server; device time is the phone's own clock, flagged when far off.")) }
        (export_links(&ctx.here, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        (t.html(ctx.t("没有修改", "No changes")))
    };
    Ok(layout::page(&ctx, ctx.t("修改历史", "History of changes"), body))
}

async fn at_version(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, hash)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let p = ctx.p.clone();
    let doc_id = id.clone();
    let h = hash.clone();
    let lang = ctx.lang;
    let (json, file, people) = blocking(ctx.lang, move || {
        let conn = db.lock();
        let doc = load_readable(&conn, &p, &doc_id)?;
        let heads: Vec<ChangeHash> =
            vec![h.parse().map_err(|_| ServerError::NotFound(format!("no version {h}")))?];
        let mut am = doc.clone();
        if am.automerge().get_change_by_hash(&heads[0]).is_none() {
            return Err(ServerError::NotFound(format!("no version {h}")));
        }
        let old = KefuDoc::from_automerge(
            am.automerge().fork_at(&heads).map_err(|e| ServerError::Internal(e.to_string()))?,
        );
        let file: Option<CustomerFile> = old.read().ok();
        Ok((old.to_json(), file, people(&conn, &team)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let body = html! {
        div.flash.ok { (lang.t("这是记录在版本 ", "This is the record as it was at version ")) code { (hash.chars().take(12).collect::<String>()) }
            " · " a href={ "/records/" (id) "/history" } { (lang.t("返回历史", "back to the history")) } }
        @match &file {
            Some(c) => (render_file(&ctx, &id, c, &people)),
            None => pre { (serde_json::to_string_pretty(&json).unwrap_or_default()) },
        }
    };
    Ok(layout::page(&ctx, ctx.t("历史版本", "Earlier version"), body).into_response())
}
