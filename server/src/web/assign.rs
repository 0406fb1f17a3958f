//! Assignment (分配): the team's customers with each agent's and field staff member's current
//! load, assigned by hand or spread evenly by load (seed 004 "客户资料管理": the supervisor
//! assigns "balancing the number of customers and ability").
//!
//! Every assignment is an ordinary change of one customer file, made with the domain verb
//! `CustomerFile::assign` through [`crate::edit::edit`]: validated, stored with provenance and
//! pushed to the phones like any other change.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use kefu_model::enums::{IntentLevel, PurchaseStage, Role};
use kefu_model::records::customer::CustomerFile;
use kefu_model::verbs::Actor;
use maud::html;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::customers::{name_of, people, search, CustomerFilter, CustomerRow};
use super::layout::{self, form_fields};
use super::table::{export_links, Cell, Table};
use super::{after_action, blocking, fmt_time, label, Ctx, Lang, PageError, Posted};
use crate::auth::{now_ms, Principal};
use crate::error::ServerError;
use crate::http::AppState;

/// Assignment pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assign", get(page))
        .route("/assign/manual", post(manual))
        .route("/assign/spread", post(spread))
}

/// Most customers one action may assign (the list shows at most 2000).
pub const MAX_BATCH: usize = 2000;

/// An agent or field staff member of the team with their current load.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StaffLoad {
    /// User id.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// `agent` (回访专员) or `field` (售后).
    pub role: String,
    /// Customers assigned to them (as responsible agent, or as field staff).
    pub customers: i64,
    /// Agents: callbacks scheduled or being attempted.
    pub open_callbacks: i64,
    /// Field staff: visits dispatched, en route or on site.
    pub open_visits: i64,
}

/// The team's active agents and field staff with their current load, agents first, by name.
pub fn staff_load(conn: &Connection, team: &str) -> Result<Vec<StaffLoad>, ServerError> {
    let mut s = conn.prepare_cached(
        "SELECT u.id, u.display_name, u.role, \
           CASE u.role WHEN 'agent' \
             THEN (SELECT count(*) FROM idx_customers c WHERE c.agent = u.id AND c.team = ?1) \
             ELSE (SELECT count(*) FROM idx_customers c WHERE c.field_staff = u.id AND c.team = ?1) END, \
           (SELECT count(*) FROM idx_callbacks b JOIN idx_customers c ON c.doc_id = b.doc_id \
             WHERE b.agent = u.id AND c.team = ?1 AND b.status IN ('scheduled', 'attempting')), \
           (SELECT count(*) FROM idx_visits v JOIN idx_customers c ON c.doc_id = v.doc_id \
             WHERE v.staff = u.id AND c.team = ?1 AND v.status IN ('dispatched', 'en_route', 'on_site')) \
         FROM users u WHERE u.team = ?1 AND u.role IN ('agent', 'field') AND u.disabled_at IS NULL \
         ORDER BY u.role = 'field', u.display_name, u.id",
    )?;
    let rows = s.query_map([team], |r| {
        Ok(StaffLoad {
            user_id: r.get(0)?,
            name: r.get(1)?,
            role: r.get(2)?,
            customers: r.get(3)?,
            open_callbacks: r.get(4)?,
            open_visits: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A person with a load, for [`spread_by_load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// User id.
    pub id: String,
    /// Display name (ties are broken by name, then id).
    pub name: String,
    /// Current load.
    pub load: i64,
}

/// Spreads `items` over `people` greedily: each next item goes to the person with the least
/// load so far (ties by name, then id), whose load then grows by one. Deterministic; returns
/// the chosen person's id for each item in order (empty when there is nobody).
pub fn spread_by_load<T: Clone>(items: &[T], people: &[Loaded]) -> Vec<(T, String)> {
    let mut loads: Vec<Loaded> = people.to_vec();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(best) = loads.iter_mut().min_by(|a, b| {
            (a.load, a.name.as_str(), a.id.as_str()).cmp(&(b.load, b.name.as_str(), b.id.as_str()))
        }) else {
            return Vec::new();
        };
        best.load += 1;
        out.push((item.clone(), best.id.clone()));
    }
    out
}

/// Assign customers by hand (also the JSON API's body).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AssignInput {
    /// Customer document ids.
    pub customers: Vec<String>,
    /// The agent (回访专员) to make responsible; absent keeps each customer's agent.
    pub agent: Option<String>,
    /// The field staff (售后) to make responsible; absent keeps each customer's field staff.
    pub field_staff: Option<String>,
}

/// Spread customers evenly by load over chosen people of one role (also the JSON API's body).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SpreadInput {
    /// Customer document ids.
    pub customers: Vec<String>,
    /// `agent` or `field`: which responsibility is assigned.
    pub role: String,
    /// User ids of the people to spread over (all of `role`, in the team).
    pub people: Vec<String>,
}

fn bad(zh: &str, en: &str) -> ServerError {
    ServerError::BadRequest(format!("{zh} / {en}"))
}

fn supervisor_team(p: &Principal) -> Result<String, ServerError> {
    match (&p.role, &p.team) {
        (Role::Supervisor, Some(t)) => Ok(t.clone()),
        _ => Err(ServerError::Forbidden(
            "只有客服主管可以分配客户 / only a supervisor assigns customers".into(),
        )),
    }
}

/// A customer of the team as the assignment needs it.
#[derive(Debug, Clone)]
struct Selected {
    id: String,
    name: String,
    agent: Option<String>,
    field_staff: Option<String>,
}

/// The named customers, deduplicated in order; an error names one that is not in `team`.
fn team_customers(conn: &Connection, team: &str, ids: &[String]) -> Result<Vec<Selected>, ServerError> {
    if ids.is_empty() {
        return Err(bad("请先勾选客户", "select at least one customer"));
    }
    if ids.len() > MAX_BATCH {
        return Err(bad(
            &format!("一次最多分配 {MAX_BATCH} 位客户"),
            &format!("at most {MAX_BATCH} customers at a time"),
        ));
    }
    let mut s = conn.prepare_cached(
        "SELECT name, agent, field_staff FROM idx_customers WHERE doc_id = ?1 AND team = ?2",
    )?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for id in ids {
        let id = id.trim();
        if !seen.insert(id.to_string()) {
            continue;
        }
        let row =
            s.query_row([id, team], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))).optional()?;
        let Some((name, agent, field_staff)) = row else {
            return Err(bad(&format!("本组没有客户 {id}"), &format!("no customer {id} in your team")));
        };
        out.push(Selected { id: id.to_string(), name, agent, field_staff });
    }
    Ok(out)
}

/// Checks that `id` is an active member of `team` with `role`; returns their display name.
pub fn team_member(conn: &Connection, team: &str, id: &str, role: Role) -> Result<String, ServerError> {
    let row: Option<(String, String, Option<String>, Option<i64>)> = conn
        .query_row("SELECT display_name, role, team, disabled_at FROM users WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((name, has, _, disabled)) = row.filter(|r| r.2.as_deref() == Some(team)) else {
        return Err(bad(&format!("{id} 不是本组成员"), &format!("{id} is not a member of your team")));
    };
    if disabled.is_some() {
        return Err(bad(&format!("{name} 的账号已停用"), &format!("{name}'s account is disabled")));
    }
    if has != role.as_str() {
        let is = has.parse::<Role>().map_or(has.clone(), |r| r.label_zh().to_string());
        return Err(bad(
            &format!("{name} 是{is}，不是{}", role.label_zh()),
            &format!("{name} is {has}, not {role}"),
        ));
    }
    Ok(name)
}

/// Makes the changes: one `assign` per customer; returns who got how many.
fn apply(
    st: &AppState,
    p: &Principal,
    plan: &[(Selected, Option<String>, Option<String>)],
) -> Result<(usize, Vec<String>), ServerError> {
    let mut done = 0;
    let mut failed = Vec::new();
    for (c, agent, field) in plan {
        let by = Actor { user: p.user_id.clone(), at: now_ms() };
        let (a, f) = (agent.clone(), field.clone());
        let r = crate::edit::edit::<CustomerFile, _>(st, p, &c.id, move |file| {
            file.assign(&by, a, f);
            Ok(())
        });
        match r {
            Ok(()) => done += 1,
            Err(ServerError::BadRequest(m) | ServerError::NotFound(m) | ServerError::Forbidden(m)) => {
                failed.push(format!("{}: {m}", c.name));
            }
            Err(e) => return Err(e),
        }
    }
    Ok((done, failed))
}

fn outcome(
    done: usize,
    summary_zh: String,
    summary_en: String,
    failed: Vec<String>,
) -> Result<String, ServerError> {
    let ok = format!("已分配 {done} 位客户：{summary_zh} / Assigned {done} customers: {summary_en}");
    if failed.is_empty() {
        Ok(ok)
    } else {
        Err(ServerError::BadRequest(format!(
            "{ok}；{} 位未能分配 / {} not assigned: {}",
            failed.len(),
            failed.len(),
            failed.join("; ")
        )))
    }
}

/// Assigns the customers by hand to `agent` and/or `field_staff` (both checked to be active
/// members of the supervisor's team with that role). Returns who got how many.
pub fn assign_customers(st: &AppState, p: &Principal, input: &AssignInput) -> Result<String, ServerError> {
    let team = supervisor_team(p)?;
    let agent = input.agent.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let field = input.field_staff.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if agent.is_none() && field.is_none() {
        return Err(bad("请选择客服专员或售后人员", "choose an agent or a field staff member"));
    }
    let (selected, agent_name, field_name) = {
        let conn = st.db.lock();
        let agent_name = agent.map(|a| team_member(&conn, &team, a, Role::Agent)).transpose()?;
        let field_name = field.map(|f| team_member(&conn, &team, f, Role::Field)).transpose()?;
        (team_customers(&conn, &team, &input.customers)?, agent_name, field_name)
    };
    let plan: Vec<_> =
        selected.into_iter().map(|c| (c, agent.map(str::to_string), field.map(str::to_string))).collect();
    let (done, failed) = apply(st, p, &plan)?;
    let mut zh = Vec::new();
    let mut en = Vec::new();
    if let Some(n) = &agent_name {
        zh.push(format!("客服专员 {n}"));
        en.push(format!("agent {n}"));
    }
    if let Some(n) = &field_name {
        zh.push(format!("售后 {n}"));
        en.push(format!("field staff {n}"));
    }
    outcome(done, zh.join("，"), en.join(", "), failed)
}

/// Spreads the customers evenly by current load over `people` (all of `role`): each next
/// customer, in the order given, goes to whoever has the fewest customers so far (ties by
/// name). The chosen customers do not count towards anyone's starting load, since they are
/// being handed out again. Returns who got how many.
pub fn spread_customers(st: &AppState, p: &Principal, input: &SpreadInput) -> Result<String, ServerError> {
    let team = supervisor_team(p)?;
    let role: Role = input
        .role
        .parse()
        .ok()
        .filter(|r| matches!(r, Role::Agent | Role::Field))
        .ok_or_else(|| bad("角色必须是客服专员或售后", "role must be agent or field"))?;
    let wanted: BTreeSet<&str> = input.people.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    if wanted.is_empty() {
        return Err(bad("请选择要分配给的人员", "choose the people to spread over"));
    }
    let (selected, pool) = {
        let conn = st.db.lock();
        for id in &wanted {
            team_member(&conn, &team, id, role)?;
        }
        let selected = team_customers(&conn, &team, &input.customers)?;
        let loads = staff_load(&conn, &team)?;
        (selected, loads)
    };
    let holder = |c: &Selected| if role == Role::Agent { c.agent.clone() } else { c.field_staff.clone() };
    let mut people: Vec<Loaded> = pool
        .iter()
        .filter(|s| wanted.contains(s.user_id.as_str()))
        .map(|s| Loaded { id: s.user_id.clone(), name: s.name.clone(), load: s.customers })
        .collect();
    for c in &selected {
        if let Some(h) = holder(c) {
            if let Some(x) = people.iter_mut().find(|x| x.id == h) {
                x.load -= 1;
            }
        }
    }
    let names: BTreeMap<String, String> = people.iter().map(|x| (x.id.clone(), x.name.clone())).collect();
    let spread = spread_by_load(&selected, &people);
    let plan: Vec<_> = spread
        .into_iter()
        .map(|(c, who)| if role == Role::Agent { (c, Some(who), None) } else { (c, None, Some(who)) })
        .collect();
    let (done, failed) = apply(st, p, &plan)?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (_, a, f) in &plan {
        if let Some(who) = a.as_ref().or(f.as_ref()) {
            *counts.entry(names.get(who).cloned().unwrap_or_else(|| who.clone())).or_default() += 1;
        }
    }
    let zh = counts.iter().map(|(n, k)| format!("{n} {k} 位")).collect::<Vec<_>>().join("，");
    let en = counts.iter().map(|(n, k)| format!("{n} {k}")).collect::<Vec<_>>().join(", ");
    outcome(done, zh, en, failed)
}

/// The page's query: the customer filters, plus which table to export.
#[derive(Debug, Clone, Default, Deserialize)]
struct AssignQuery {
    q: Option<String>,
    stage: Option<String>,
    intent: Option<String>,
    assignee: Option<String>,
    overdue: Option<String>,
    format: Option<String>,
    table: Option<String>,
}

fn stage_label(lang: Lang, s: &str) -> String {
    s.parse::<PurchaseStage>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

fn intent_label(lang: Lang, s: &str) -> String {
    s.parse::<IntentLevel>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

fn role_label(lang: Lang, s: &str) -> String {
    s.parse::<Role>().map_or_else(|_| s.to_string(), |r| label(lang, r.label_zh(), r.as_str()))
}

async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<AssignQuery>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let filter = CustomerFilter {
        q: q.q.clone(),
        stage: q.stage.clone(),
        intent: q.intent.clone(),
        assignee: q.assignee.clone(),
        overdue: q.overdue.clone(),
        format: None,
    };
    let db = state.db.clone();
    type PageData = (Result<Vec<CustomerRow>, String>, Vec<StaffLoad>, BTreeMap<String, (String, String)>);
    let (rows, loads, people): PageData = blocking(ctx.lang, move || {
        let conn = db.lock();
        let rows = match search(&conn, &team, &filter, now_ms()) {
            Ok(r) => Ok(r),
            // A bad filter value is the person's mistake: show it on the page.
            Err(ServerError::BadRequest(m)) => Err(m),
            Err(e) => return Err(e),
        };
        Ok((rows, staff_load(&conn, &team)?, people(&conn, &team)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let lang = ctx.lang;
    let (rows, bad_filter) = match rows {
        Ok(r) => (r, None),
        Err(m) => (Vec::new(), Some(m)),
    };

    let mut load_t = Table::new(
        "staff-load",
        ctx.t("人员负载", "Staff load"),
        &[
            ctx.t("姓名", "Name"),
            ctx.t("角色", "Role"),
            ctx.t("负责客户", "Customers"),
            ctx.t("未完成回访", "Open callbacks"),
            ctx.t("未完成上门", "Open visits"),
        ],
    );
    for s in &loads {
        load_t.push(vec![
            Cell::Link(s.name.clone(), format!("/customers?assignee={}", s.user_id)),
            role_label(lang, &s.role).into(),
            s.customers.into(),
            s.open_callbacks.into(),
            s.open_visits.into(),
        ]);
    }
    let mut cust_t = Table::new(
        "assignment",
        ctx.t("客户分配", "Assignment"),
        &[
            ctx.t("姓名", "Name"),
            ctx.t("电话", "Phones"),
            ctx.t("购买阶段", "Stage"),
            ctx.t("意向", "Intent"),
            ctx.t("客服专员", "Agent"),
            ctx.t("售后人员", "Field staff"),
            ctx.t("分配时间", "Assigned"),
        ],
    );
    for c in &rows {
        cust_t.push_warn(
            vec![
                Cell::Link(c.name.clone(), format!("/customers/{}", c.doc_id)),
                c.phones.clone().into(),
                stage_label(lang, &c.stage).into(),
                intent_label(lang, &c.intent).into(),
                c.agent.as_deref().map(|a| name_of(&people, a)).into(),
                c.field_staff.as_deref().map(|a| name_of(&people, a)).into(),
                c.assigned_at.map(fmt_time).into(),
            ],
            c.overdue_first_contact,
        );
    }
    if let Some(fmt) = q.format.as_deref() {
        let t = if q.table.as_deref() == Some("load") { &load_t } else { &cust_t };
        return t.download(fmt).map_err(|e| ctx.error(e));
    }

    let sel = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let agents: Vec<&StaffLoad> = loads.iter().filter(|s| s.role == "agent").collect();
    let fields: Vec<&StaffLoad> = loads.iter().filter(|s| s.role == "field").collect();
    let mut here_load = String::from("/assign?table=load");
    if let Some((_, query)) = ctx.here.split_once('?') {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.starts_with("table=") && !kv.starts_with("ok=") && !kv.starts_with("err="))
            .collect();
        if !kept.is_empty() {
            here_load = format!("/assign?{}&table=load", kept.join("&"));
        }
    }
    let body = html! {
        h2 { (ctx.t("当前负载", "Current load")) }
        (export_links(&here_load, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        (load_t.html(ctx.t("本组没有客服专员或售后人员", "The team has no agents or field staff")))

        h2 { (ctx.t("选择客户", "Choose customers")) }
        form.bar method="get" action="/assign" {
            label { (ctx.t("搜索", "Search"))
                input name="q" value=(q.q.clone().unwrap_or_default()) placeholder=(ctx.t("姓名、电话、地址片段", "name, phone, address fragment")); }
            label { (ctx.t("购买阶段", "Stage"))
                select name="stage" { option value="" { (ctx.t("全部", "all")) }
                    @for s in PurchaseStage::ALL { option value=(s.as_str()) selected[sel(&q.stage, s.as_str())] { (label(lang, s.label_zh(), s.as_str())) } } } }
            label { (ctx.t("意向程度", "Intent"))
                select name="intent" { option value="" { (ctx.t("全部", "all")) }
                    @for s in IntentLevel::ALL { option value=(s.as_str()) selected[sel(&q.intent, s.as_str())] { (label(lang, s.label_zh(), s.as_str())) } } } }
            label { (ctx.t("负责人", "Assignee"))
                select name="assignee" { option value="" { (ctx.t("全部", "all")) }
                    @for s in &loads { option value=(s.user_id) selected[sel(&q.assignee, &s.user_id)] { (s.name) " (" (role_label(lang, &s.role)) ")" } } } }
            label { input type="checkbox" name="overdue" value="1" checked[sel(&q.overdue, "1")];
                (ctx.t("仅超过一周未首次联系", "only overdue first contact")) }
            button.primary type="submit" { (ctx.t("查询", "Search")) }
        }
        @if let Some(m) = bad_filter { div.flash.err role="alert" { (m) } }
        p.muted { (rows.len()) (ctx.t(" 位客户", " customers")) }
        (export_links(&ctx.here, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        form method="post" action="/assign/manual" {
            (form_fields(&ctx))
            div.grid2 {
                div.card {
                    h2 { (ctx.t("手动分配", "Assign by hand")) }
                    p.muted { (ctx.t("把勾选的客户交给：（留空则保持不变）", "Give the selected customers to (empty keeps the current one):")) }
                    p { label { (ctx.t("客服专员 ", "Agent "))
                        select name="agent" { option value="" { "—" }
                            @for s in &agents { option value=(s.user_id) { (s.name) " (" (s.customers) ")" } } } } }
                    p { label { (ctx.t("售后人员 ", "Field staff "))
                        select name="field_staff" { option value="" { "—" }
                            @for s in &fields { option value=(s.user_id) { (s.name) " (" (s.customers) ")" } } } } }
                    button.primary type="submit" formaction="/assign/manual" { (ctx.t("分配", "Assign")) }
                }
                div.card {
                    h2 { (ctx.t("按负载平均分配", "Spread evenly by load")) }
                    p.muted { (ctx.t("每位客户依次交给当前负责客户最少的人（人数相同按姓名）。",
                        "Each customer in turn goes to whoever has the fewest customers (ties by name).")) }
                    p { (ctx.t("客服专员：", "Agents: "))
                        @for s in &agents { label { input type="checkbox" name="agents" value=(s.user_id) checked; (s.name) " (" (s.customers) ")" } " " } }
                    button.primary type="submit" name="role" value="agent" formaction="/assign/spread" { (ctx.t("分给勾选的客服专员", "Spread over the chosen agents")) }
                    p { (ctx.t("售后人员：", "Field staff: "))
                        @for s in &fields { label { input type="checkbox" name="fields" value=(s.user_id) checked; (s.name) " (" (s.customers) ")" } " " } }
                    button.primary type="submit" name="role" value="field" formaction="/assign/spread" { (ctx.t("分给勾选的售后人员", "Spread over the chosen field staff")) }
                }
            }
            p { label { input type="checkbox" name="all_listed" value="1";
                (ctx.t("应用于列表中的全部客户（", "Apply to every customer listed (")) (rows.len()) (ctx.t(" 位）", ")")) } }
            @if rows.is_empty() {
                p.muted { (ctx.t("没有符合条件的客户", "No customer matches")) }
            } @else {
                table {
                    thead { tr { th { "✓" } @for c in &cust_t.columns { th { (c) } } } }
                    tbody {
                        @for (i, c) in rows.iter().enumerate() {
                            tr.warn[c.overdue_first_contact] {
                                td { input type="checkbox" name="customer" value=(c.doc_id) aria-label=(c.name);
                                     input type="hidden" name="listed" value=(c.doc_id); }
                                @for cell in &cust_t.rows[i] {
                                    @match cell {
                                        Cell::Link(t, href) => td { a href=(href) { (t) } },
                                        other => td { (other.text()) },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&ctx, ctx.t("客户分配", "Assignment"), body))
}

/// The customers a posted form names: the ticked ones, or every listed one.
fn chosen(posted: &Posted) -> Vec<String> {
    let f = &posted.form;
    let field = if f.checked("all_listed") { "listed" } else { "customer" };
    f.all(field).into_iter().map(str::to_string).collect()
}

async fn manual(State(state): State<AppState>, posted: Posted) -> Response {
    let input = AssignInput {
        customers: chosen(&posted),
        agent: posted.form.get("agent").map(str::to_string),
        field_staff: posted.form.get("field_staff").map(str::to_string),
    };
    let p = posted.ctx.p.clone();
    let st = state.clone();
    let result = tokio::task::spawn_blocking(move || assign_customers(&st, &p, &input))
        .await
        .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string())));
    after_action(posted.ctx.lang, &posted.back, result)
}

async fn spread(State(state): State<AppState>, posted: Posted) -> Response {
    let role = posted.form.get("role").unwrap_or("").to_string();
    let people_field = if role == "field" { "fields" } else { "agents" };
    let input = SpreadInput {
        customers: chosen(&posted),
        people: posted.form.all(people_field).into_iter().map(str::to_string).collect(),
        role,
    };
    let p = posted.ctx.p.clone();
    let st = state.clone();
    let result = tokio::task::spawn_blocking(move || spread_customers(&st, &p, &input))
        .await
        .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string())));
    after_action(posted.ctx.lang, &posted.back, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_model::automerge::ActorId;
    use kefu_model::enums::SourceChannel;
    use kefu_model::records::customer::Profile;
    use kefu_model::{Author, KefuDoc};

    fn person(id: &str, name: &str, load: i64) -> Loaded {
        Loaded { id: id.into(), name: name.into(), load }
    }

    #[test]
    fn spreading_fills_the_least_loaded_first_and_breaks_ties_by_name() {
        let people = [person("u3", "王五", 5), person("u1", "张三", 2), person("u2", "李四", 2)];
        let items: Vec<i32> = (1..=6).collect();
        let got: Vec<String> = spread_by_load(&items, &people).into_iter().map(|(_, p)| p).collect();
        // By code point 张三 < 李四 < 王五; 张三 and 李四 alternate until they reach 王五's 5,
        // then all three take turns.
        assert_eq!(got, vec!["u1", "u2", "u1", "u2", "u1", "u2"]);
        let items: Vec<i32> = (1..=9).collect();
        let got = spread_by_load(&items, &people);
        let count = |id: &str| got.iter().filter(|(_, p)| p == id).count();
        assert_eq!((count("u1"), count("u2"), count("u3")), (4, 4, 1), "ends level at 6, 6, 6");
        // Deterministic, and the item order is kept.
        assert_eq!(spread_by_load(&items, &people), got);
        assert_eq!(got.iter().map(|(i, _)| *i).collect::<Vec<_>>(), items);
    }

    #[test]
    fn spreading_over_nobody_assigns_nothing() {
        assert!(spread_by_load(&[1, 2], &[]).is_empty());
        let same = [person("b", "甲", 0), person("a", "甲", 0)];
        assert_eq!(spread_by_load(&[1], &same)[0].1, "a", "same name: by id");
    }

    const NOW: i64 = 1_795_395_600_000;

    fn setup() -> (tempfile::TempDir, AppState, Principal, Vec<String>) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let st = AppState::new(db, crate::sync::Limits::default());
        let conn = st.db.lock();
        let add = |u: &str, role: Role, team: &str| {
            crate::auth::add_user(
                &conn,
                &crate::auth::NewUser {
                    username: u.into(),
                    role,
                    team: Some(team.into()),
                    display_name: Some(u.into()),
                },
                "password-1",
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let sup = add("sup", Role::Supervisor, "A");
        let ids = vec![
            add("agent1", Role::Agent, "A"),
            add("agent2", Role::Agent, "A"),
            add("field1", Role::Field, "A"),
            add("other", Role::Agent, "B"),
        ];
        let p = Principal {
            user_id: sup,
            device_id: "web".into(),
            role: Role::Supervisor,
            team: Some("A".into()),
        };
        for i in 0..5 {
            let profile = Profile {
                name: format!("客户{i}"),
                phones: vec![format!("1380000000{i}")],
                email: None,
                wechat: None,
                address: None,
                district: None,
                source: SourceChannel::Phone,
            };
            let mut c = CustomerFile::new("A", profile, &p.user_id, NOW);
            if i == 0 {
                c.assignment.agent = Some(ids[0].clone());
                c.assignment.assigned_at = Some(NOW);
            }
            let mut doc =
                KefuDoc::create(&c, ActorId::random(), &Author { user: "s".into(), device: "d".into() }, NOW)
                    .unwrap_or_else(|e| panic!("{e}"));
            crate::edit::store(&conn, &p, &format!("c{i}"), None, doc.automerge())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        drop(conn);
        (dir, st, p, ids)
    }

    #[test]
    fn assigning_checks_people_and_spreads_by_load() {
        let (_d, st, p, ids) = setup();
        let all: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
        // Wrong role, other team, nobody: refused with a message, nothing changed.
        let wrong = AssignInput { customers: all.clone(), agent: Some(ids[2].clone()), field_staff: None };
        assert!(
            matches!(assign_customers(&st, &p, &wrong), Err(ServerError::BadRequest(m)) if m.contains("field"))
        );
        let other = AssignInput { customers: all.clone(), agent: Some(ids[3].clone()), field_staff: None };
        assert!(
            matches!(assign_customers(&st, &p, &other), Err(ServerError::BadRequest(m)) if m.contains("team"))
        );
        let none = AssignInput { customers: all.clone(), agent: None, field_staff: None };
        assert!(assign_customers(&st, &p, &none).is_err());
        let stranger =
            AssignInput { customers: vec!["nope".into()], agent: Some(ids[0].clone()), field_staff: None };
        assert!(matches!(assign_customers(&st, &p, &stranger), Err(ServerError::BadRequest(_))));

        // By hand: agent1 and the field staff for two more customers (agent1 now holds three).
        let by_hand = AssignInput {
            customers: vec!["c1".into(), "c2".into(), "c1".into()],
            agent: Some(ids[0].clone()),
            field_staff: Some(ids[2].clone()),
        };
        let msg = assign_customers(&st, &p, &by_hand).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg.contains("Assigned 2") && msg.contains("agent agent1, field staff field1"), "{msg}");

        // Spread c2..c4 over both agents: c2 is being handed out again, so agent1 starts at 2
        // and agent2 at 0; agent2 gets two, then the tie goes to agent1 by name.
        let spread = SpreadInput {
            customers: all[2..].to_vec(),
            role: "agent".into(),
            people: vec![ids[0].clone(), ids[1].clone()],
        };
        let msg = spread_customers(&st, &p, &spread).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg.contains("agent1 1") && msg.contains("agent2 2"), "{msg}");
        let loads = staff_load(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}"));
        let l: Vec<(String, i64)> = loads.iter().map(|s| (s.name.clone(), s.customers)).collect();
        assert_eq!(l, vec![("agent1".to_string(), 3), ("agent2".to_string(), 2), ("field1".to_string(), 2)]);
        // Spreading over a field staff member as an agent is refused.
        let bad_role = SpreadInput { customers: all, role: "agent".into(), people: vec![ids[2].clone()] };
        assert!(spread_customers(&st, &p, &bad_role).is_err());
    }
}
