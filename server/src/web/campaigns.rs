//! Callback campaigns (回访计划, DOMAIN §4): choose customers by criteria, preview whom they
//! would go to, create the campaign document and schedule a callback in each customer file;
//! follow the progress per agent and read the summary report (回访总结报告); close it.
//!
//! Customers are chosen by one of two rules:
//! - `since_service`: the last completed visit or order (its completion date, else its order
//!   date; cancelled orders do not count) was at least N days ago, and no callback since
//!   (none scheduled for that date or later and no attempt since, cancelled ones aside) —
//!   seed 000 §6.3.3 "回访两个月之前的老客户";
//! - `recent_visits`: a visit was completed in the last N days (today included); the callback
//!   names that visit. Visits that already have a follow-up callback are left out unless asked
//!   for (`include_followed_up`), so a customer is not called twice about one visit.
//!
//! The chosen customers are spread over the chosen agents greedily by their open callbacks
//! ([`super::assign::spread_by_load`]). An agent sees only the customer files they are
//! responsible for, so when a callback goes to another agent than the file's, the same change
//! makes that agent responsible (`CustomerFile::assign`); with "keep own agent" a customer
//! whose agent is among those chosen stays with them. Due dates are spread evenly over the
//! campaign's days for each agent.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, Query, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use kefu_model::dates::{Date, CHINA_UTC_OFFSET_MIN as TZ};
use kefu_model::enums::{CampaignStatus, ContactChannel, DocKind, OrderStatus, PurchaseStage, Role};
use kefu_model::ids::{record_id, DocumentId};
use kefu_model::lifecycle::{CallbackStep, IllegalStep, StepMark, VisitStep};
use kefu_model::records::campaign::{Campaign, Criteria, Target};
use kefu_model::records::customer::CustomerFile;
use kefu_model::records::SCHEMA_VERSION;
use kefu_model::verbs::{Actor, NewCallback};
use kefu_model::{DocError, KefuDoc};
use maud::html;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::assign::{spread_by_load, staff_load, team_member, Loaded};
use super::customers::{name_of, people};
use super::form::FormData;
use super::layout::{self, form_fields};
use super::table::{export_links, Cell, Table};
use super::{after_action, blocking, fmt_time, label, today, Ctx, Lang, PageError, Posted};
use crate::auth::{now_ms, Principal};
use crate::edit;
use crate::error::ServerError;
use crate::http::AppState;

/// Campaign pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(list))
        .route("/campaigns/new", get(new_page))
        .route("/campaigns/create", post(create))
        .route("/campaigns/{id}", get(detail))
        .route("/campaigns/{id}/close", post(close))
}

/// Longest campaign, in days.
pub const MAX_SPAN_DAYS: i64 = 366;
/// Most customers one campaign takes.
pub const MAX_TARGETS: usize = 2000;

fn bad(zh: &str, en: &str) -> ServerError {
    ServerError::BadRequest(format!("{zh} / {en}"))
}

fn supervisor_team(p: &Principal) -> Result<String, ServerError> {
    match (&p.role, &p.team) {
        (Role::Supervisor, Some(t)) => Ok(t.clone()),
        _ => Err(ServerError::Forbidden(
            "只有客服主管可以管理回访计划 / only a supervisor runs campaigns".into(),
        )),
    }
}

// ---- criteria ---------------------------------------------------------------------------------

/// How customers are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Last completed visit or order at least N days ago and no callback since.
    SinceService,
    /// A visit completed in the last N days.
    RecentVisits,
}

impl Rule {
    /// `since_service` or `recent_visits`.
    pub fn parse(s: &str) -> Result<Rule, ServerError> {
        match s.trim() {
            "since_service" => Ok(Rule::SinceService),
            "recent_visits" => Ok(Rule::RecentVisits),
            other => Err(bad(
                &format!("未知的筛选规则 {other:?}"),
                &format!("unknown rule {other:?}: since_service or recent_visits"),
            )),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::SinceService => "since_service",
            Rule::RecentVisits => "recent_visits",
        }
    }
}

/// Why a customer matches: the service the rule looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Date of the last completed visit or order (`since_service`), or of the visit's
    /// completion (`recent_visits`).
    pub service_on: Date,
    /// The visit to follow up (`recent_visits`).
    pub visit: Option<String>,
    /// That visit already has a follow-up callback (not cancelled).
    pub followed_up: bool,
}

fn completed_on(v: &kefu_model::records::customer::Visit) -> Option<(i64, Date)> {
    v.steps.get(VisitStep::Completed.as_str()).map(|m| (m.at, Date::of_time(m.at, TZ)))
}

/// Whether customer file `c` matches `rule` with `days` on `today` (pure; see the module docs).
pub fn matches(c: &CustomerFile, rule: Rule, days: i64, today: Date) -> Option<Match> {
    let live = |cb: &&kefu_model::records::customer::Callback| cb.status() != Some(CallbackStep::Cancelled);
    match rule {
        Rule::SinceService => {
            let visits = c.visits.values().filter_map(completed_on).map(|(_, d)| d);
            let orders = c
                .orders
                .values()
                .filter(|o| o.status != OrderStatus::Cancelled)
                .filter_map(|o| Date::parse(o.completed_on.as_deref().unwrap_or(&o.ordered_on)));
            let last = visits.chain(orders).max()?;
            if last > today.add_days(-days) {
                return None;
            }
            let since = c.callbacks.values().filter(live).any(|cb| {
                Date::parse(&cb.scheduled_for).is_some_and(|d| d >= last)
                    || cb.attempts.values().any(|a| Date::of_time(a.at, TZ) >= last)
            });
            (!since).then_some(Match { service_on: last, visit: None, followed_up: false })
        }
        Rule::RecentVisits => {
            let from = today.add_days(1 - days);
            let followed =
                |id: &str| c.callbacks.values().filter(live).any(|cb| cb.visit.as_deref() == Some(id));
            // The latest visit of the window, preferring one not yet followed up.
            let (followed_up, _, id, day) = c
                .visits
                .iter()
                .filter_map(|(id, v)| completed_on(v).map(|(at, d)| (followed(id), at, id, d)))
                .filter(|(_, _, _, d)| *d >= from && *d <= today)
                .max_by(|a, b| (!a.0, a.1, a.2).cmp(&(!b.0, b.1, b.2)))?;
            Some(Match { service_on: day, visit: Some(id.clone()), followed_up })
        }
    }
}

/// A customer matching a campaign's criteria.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    /// Customer document id.
    pub doc_id: String,
    /// Name.
    pub name: String,
    /// Purchase stage.
    pub stage: String,
    /// The customer's responsible agent (user id).
    pub agent: Option<String>,
    /// The service the rule looked at, YYYY-MM-DD.
    pub service_on: String,
    /// The visit the callback follows up (`recent_visits`).
    pub visit: Option<String>,
    /// That visit already has a follow-up callback.
    pub followed_up: bool,
}

/// The customers of `team` matching `rule`, by name. Reads the projection to narrow down,
/// then each remaining customer file for its order and visit dates.
pub fn candidates(
    conn: &Connection,
    team: &str,
    rule: Rule,
    days: i64,
    stage: Option<&str>,
    today: Date,
) -> Result<Vec<Candidate>, ServerError> {
    if let Some(s) = stage {
        s.parse::<PurchaseStage>().map_err(|e| ServerError::BadRequest(e.to_string()))?;
    }
    let visits_only = if rule == Rule::RecentVisits {
        " AND EXISTS (SELECT 1 FROM idx_visits v WHERE v.doc_id = c.doc_id AND v.status IN ('completed', 'reviewed'))"
    } else {
        ""
    };
    let sql = format!(
        "SELECT c.doc_id, c.name, c.stage, c.agent FROM idx_customers c \
         WHERE c.team = ?1 AND (?2 IS NULL OR c.stage = ?2){visits_only} ORDER BY c.name, c.doc_id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params![team, stage], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for (doc_id, name, stage, agent) in rows {
        let Some(file) = read_customer(conn, team, &doc_id)? else { continue };
        if let Some(m) = matches(&file, rule, days, today) {
            out.push(Candidate {
                doc_id,
                name,
                stage,
                agent,
                service_on: m.service_on.to_string(),
                visit: m.visit,
                followed_up: m.followed_up,
            });
        }
    }
    Ok(out)
}

/// A customer file of `team` (`None` when absent, of another team, or unreadable).
fn read_customer(conn: &Connection, team: &str, doc_id: &str) -> Result<Option<CustomerFile>, ServerError> {
    let Some(stored) = crate::accept::load(conn, doc_id)? else { return Ok(None) };
    if stored.meta.team != team || stored.meta.kind != DocKind::Customer {
        return Ok(None);
    }
    match KefuDoc::from_automerge(stored.doc).read::<CustomerFile>() {
        Ok(f) => Ok(Some(f)),
        Err(e) => {
            tracing::warn!(doc_id, error = %e, "customer file does not read");
            Ok(None)
        }
    }
}

// ---- planning and creating ----------------------------------------------------------------------

/// A new campaign (also the JSON API's body, and the preview's query).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewCampaignInput {
    /// Name, e.g. "2026年11月 老客户回访" (needed to create, not to preview).
    #[serde(default)]
    pub name: String,
    /// `since_service` (last completed visit or order at least `days` ago, no callback since)
    /// or `recent_visits` (a visit completed in the last `days` days).
    pub rule: String,
    /// The rule's number of days.
    pub days: i64,
    /// Only customers in this purchase stage (购买阶段).
    #[serde(default)]
    pub stage: Option<String>,
    /// First due date, YYYY-MM-DD (today or later).
    pub starts_on: String,
    /// Last due date, YYYY-MM-DD.
    pub ends_on: String,
    /// Planned method: `phone` (default), `sms`, `email`, `wechat`, `visit`.
    #[serde(default)]
    pub method: Option<String>,
    /// Agents to spread over (user ids); empty: every active agent of the team.
    #[serde(default)]
    pub agents: Vec<String>,
    /// Keep a customer with their own agent when that agent is among those chosen.
    #[serde(default)]
    pub keep_own_agent: bool,
    /// `recent_visits`: also take visits that already have a follow-up callback.
    #[serde(default)]
    pub include_followed_up: bool,
    /// Only these matching customers (document ids); empty: every matching customer.
    #[serde(default)]
    pub customers: Vec<String>,
}

/// The checked form of [`NewCampaignInput`].
#[derive(Debug, Clone)]
struct Checked {
    rule: Rule,
    days: i64,
    stage: Option<String>,
    starts: Date,
    ends: Date,
    method: ContactChannel,
}

fn check(input: &NewCampaignInput, today: Date) -> Result<Checked, ServerError> {
    let rule = Rule::parse(&input.rule)?;
    let min = if rule == Rule::RecentVisits { 1 } else { 0 };
    if !(min..=3650).contains(&input.days) {
        return Err(bad(&format!("天数必须在 {min}–3650 之间"), &format!("days must be {min}–3650")));
    }
    let stage = input.stage.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(s) = &stage {
        s.parse::<PurchaseStage>().map_err(|e| ServerError::BadRequest(e.to_string()))?;
    }
    let date = |s: &str, zh: &str, en: &str| {
        Date::parse(s.trim())
            .ok_or_else(|| bad(&format!("{zh}不是有效日期"), &format!("{en} is not a date (YYYY-MM-DD)")))
    };
    let starts = date(&input.starts_on, "开始日期", "start date")?;
    let ends = date(&input.ends_on, "结束日期", "end date")?;
    if starts < today {
        return Err(bad("开始日期不能早于今天", "the start date cannot be in the past"));
    }
    if ends < starts {
        return Err(bad("结束日期早于开始日期", "the end date is before the start date"));
    }
    if starts.days_until(&ends) >= MAX_SPAN_DAYS {
        return Err(bad(
            &format!("回访计划最长 {MAX_SPAN_DAYS} 天"),
            &format!("a campaign lasts at most {MAX_SPAN_DAYS} days"),
        ));
    }
    let method = match input.method.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => ContactChannel::Phone,
        Some(m) => {
            m.parse().map_err(|e: kefu_model::enums::UnknownValue| ServerError::BadRequest(e.to_string()))?
        }
    };
    Ok(Checked { rule, days: input.days, stage, starts, ends, method })
}

/// One customer of a planned campaign: who calls them back and when.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlannedCallback {
    /// Customer document id.
    pub doc_id: String,
    /// Name.
    pub name: String,
    /// Purchase stage.
    pub stage: String,
    /// The service the rule looked at, YYYY-MM-DD.
    pub service_on: String,
    /// The visit the callback follows up.
    pub visit: Option<String>,
    /// The customer's responsible agent now (user id).
    pub current_agent: Option<String>,
    /// The agent who will call back (user id).
    pub agent: String,
    /// Their name.
    pub agent_name: String,
    /// The customer file's responsible agent becomes `agent` (an agent sees only their own
    /// customers).
    pub reassign: bool,
    /// Due date, YYYY-MM-DD.
    pub scheduled_for: String,
    /// The visit already has a follow-up callback (only with `include_followed_up`).
    pub followed_up: bool,
}

/// A planned campaign.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CampaignPreview {
    /// The customers and their callbacks, by customer name.
    pub planned: Vec<PlannedCallback>,
    /// `recent_visits`: customers left out because their visit already has a follow-up
    /// callback.
    pub skipped_followed_up: i64,
}

/// Plans a campaign without changing anything: the matching customers (limited to
/// `input.customers` when given), the agent each goes to (greedy by open callbacks) and the
/// due date (spread over the campaign's days per agent).
pub fn preview_campaign(
    conn: &Connection,
    team: &str,
    input: &NewCampaignInput,
    today: Date,
) -> Result<CampaignPreview, ServerError> {
    let c = check(input, today)?;
    plan(conn, team, input, &c, today)
}

fn plan(
    conn: &Connection,
    team: &str,
    input: &NewCampaignInput,
    c: &Checked,
    today: Date,
) -> Result<CampaignPreview, ServerError> {
    let loads = staff_load(conn, team)?;
    let wanted: BTreeSet<&str> = input.agents.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    for id in &wanted {
        team_member(conn, team, id, Role::Agent)?;
    }
    let mut agents: Vec<Loaded> = loads
        .iter()
        .filter(|s| {
            s.role == Role::Agent.as_str() && (wanted.is_empty() || wanted.contains(s.user_id.as_str()))
        })
        .map(|s| Loaded { id: s.user_id.clone(), name: s.name.clone(), load: s.open_callbacks })
        .collect();
    if agents.is_empty() {
        return Err(bad("本组没有可分配的客服专员", "the team has no agent to give callbacks to"));
    }
    let mut found = candidates(conn, team, c.rule, c.days, c.stage.as_deref(), today)?;
    if !input.customers.is_empty() {
        let only: BTreeSet<&str> = input.customers.iter().map(|s| s.trim()).collect();
        found.retain(|x| only.contains(x.doc_id.as_str()));
    }
    let before = found.len();
    if !input.include_followed_up {
        found.retain(|x| !x.followed_up);
    }
    let skipped_followed_up = (before - found.len()) as i64;
    if found.len() > MAX_TARGETS {
        return Err(bad(
            &format!("符合条件的客户超过 {MAX_TARGETS} 位，请缩小范围"),
            &format!("more than {MAX_TARGETS} customers match; narrow the criteria"),
        ));
    }
    // Customers kept with their own agent count towards that agent's load first.
    let mut given: Vec<(Candidate, String)> = Vec::new();
    let mut rest = Vec::new();
    for x in found {
        match x.agent.clone().filter(|a| input.keep_own_agent && agents.iter().any(|g| &g.id == a)) {
            Some(a) => {
                if let Some(g) = agents.iter_mut().find(|g| g.id == a) {
                    g.load += 1;
                }
                given.push((x, a));
            }
            None => rest.push(x),
        }
    }
    given.extend(spread_by_load(&rest, &agents));
    given.sort_by(|a, b| {
        (a.0.name.as_str(), a.0.doc_id.as_str()).cmp(&(b.0.name.as_str(), b.0.doc_id.as_str()))
    });
    // Due dates: each agent's customers spread evenly over the campaign's days.
    let span = c.starts.days_until(&c.ends) + 1;
    let mut per_agent: BTreeMap<String, i64> = BTreeMap::new();
    for (_, a) in &given {
        *per_agent.entry(a.clone()).or_default() += 1;
    }
    let names: BTreeMap<&str, &str> = agents.iter().map(|g| (g.id.as_str(), g.name.as_str())).collect();
    let mut seen: BTreeMap<String, i64> = BTreeMap::new();
    let mut out = Vec::with_capacity(given.len());
    for (x, a) in given {
        let n = per_agent.get(&a).copied().unwrap_or(1).max(1);
        let k = seen.entry(a.clone()).or_default();
        let date = c.starts.add_days(*k * span / n);
        *k += 1;
        out.push(PlannedCallback {
            reassign: x.agent.as_deref() != Some(a.as_str()),
            agent_name: names.get(a.as_str()).map_or_else(|| a.clone(), |n| n.to_string()),
            doc_id: x.doc_id,
            name: x.name,
            stage: x.stage,
            service_on: x.service_on,
            visit: x.visit,
            current_agent: x.agent,
            agent: a,
            scheduled_for: date.to_string(),
            followed_up: x.followed_up,
        });
    }
    Ok(CampaignPreview { planned: out, skipped_followed_up })
}

/// The plain-language description of the criteria kept in the campaign record.
fn describe(c: &Checked, input: &NewCampaignInput, agents: usize) -> String {
    let mut s = match c.rule {
        Rule::SinceService => format!("最近一次完成的上门或订单在 {} 天以前，且此后没有回访", c.days),
        Rule::RecentVisits if input.include_followed_up => {
            format!("最近 {} 天内完成的全部上门服务（含已安排跟进回访的）", c.days)
        }
        Rule::RecentVisits => format!("最近 {} 天内完成上门服务，且该次上门尚未安排跟进回访", c.days),
    };
    if let Some(stage) = c.stage.as_deref().and_then(|s| s.parse::<PurchaseStage>().ok()) {
        s.push_str(&format!("；购买阶段：{}", stage.label_zh()));
    }
    s.push_str(&format!("；按未完成回访数分配给 {agents} 位客服专员"));
    if input.keep_own_agent {
        s.push_str("（原负责专员优先）");
    }
    s
}

/// How many callbacks one agent got.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgentCount {
    /// User id.
    pub agent: String,
    /// Name.
    pub name: String,
    /// Callbacks scheduled.
    pub count: i64,
}

/// What creating a campaign did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CreatedCampaign {
    /// The campaign's document id.
    pub campaign_id: String,
    /// Callbacks scheduled.
    pub scheduled: i64,
    /// Per agent.
    pub per_agent: Vec<AgentCount>,
    /// Customers that could not be given a callback, with the reason.
    pub failed: Vec<String>,
    /// What the supervisor is told.
    pub message: String,
}

fn new_ids() -> Result<[u8; 16], ServerError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ServerError::Internal(format!("no randomness: {e}")))?;
    Ok(b)
}

fn new_record_id() -> Result<String, ServerError> {
    let b = new_ids()?;
    let mut r = [0u8; 12];
    r.copy_from_slice(&b[..12]);
    Ok(record_id(r))
}

/// Creates the campaign: the campaign document (started now), then one change per customer
/// file scheduling its callback (and making the agent responsible where the plan says so),
/// then the targets recorded in the campaign. Customers that no longer match are left out.
pub fn create_campaign(
    st: &AppState,
    p: &Principal,
    input: &NewCampaignInput,
) -> Result<CreatedCampaign, ServerError> {
    let team = supervisor_team(p)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(bad("请填写名称（最多 200 字）", "give the campaign a name (at most 200 characters)"));
    }
    let today = today();
    let c = check(input, today)?;
    let planned = {
        let conn = st.db.lock();
        plan(&conn, &team, input, &c, today)?.planned
    };
    if planned.is_empty() {
        return Err(bad("没有符合条件的客户，未创建回访计划", "no customer matches: nothing was created"));
    }
    let left_out = if input.customers.is_empty() {
        0
    } else {
        input.customers.iter().collect::<BTreeSet<_>>().len().saturating_sub(planned.len())
    };
    let agents_used: BTreeSet<&str> = planned.iter().map(|x| x.agent.as_str()).collect();
    let now = now_ms();
    let campaign_id = DocumentId::from_bytes(new_ids()?).to_string();
    let record = Campaign {
        kind: DocKind::Campaign,
        schema_version: SCHEMA_VERSION,
        team: team.clone(),
        name: name.to_string(),
        criteria: Criteria {
            description: describe(&c, input, agents_used.len()),
            min_days_since_service: (c.rule == Rule::SinceService).then_some(c.days),
            visits_completed_within_days: (c.rule == Rule::RecentVisits).then_some(c.days),
        },
        starts_on: c.starts.to_string(),
        ends_on: c.ends.to_string(),
        created_by: p.user_id.clone(),
        created_at: now,
        started: Some(StepMark::new(&p.user_id, now)),
        ended: None,
        targets: BTreeMap::new(),
    };
    let mut doc =
        KefuDoc::create(&record, edit::fresh_actor()?, &edit::author(p), now).map_err(edit::doc_error)?;
    {
        let conn = st.db.lock();
        edit::store(&conn, p, &campaign_id, None, doc.automerge())?;
    }
    edit::notify(st, &campaign_id, &team);

    let mut targets = BTreeMap::new();
    let mut failed = Vec::new();
    let mut fatal = None;
    for x in &planned {
        let cb_id = new_record_id()?;
        let by = Actor { user: p.user_id.clone(), at: now_ms() };
        let new = NewCallback {
            agent: x.agent.clone(),
            date: x.scheduled_for.clone(),
            method: c.method,
            campaign: Some(campaign_id.clone()),
            visit: x.visit.clone(),
        };
        let (reassign, cid) = (x.reassign, cb_id.clone());
        let r = edit::edit::<CustomerFile, _>(st, p, &x.doc_id, move |f| {
            if reassign {
                f.assign(&by, Some(new.agent.clone()), None);
            }
            f.schedule_callback(cid, &by, &new);
            Ok(())
        });
        match r {
            Ok(()) => {
                targets.insert(
                    x.doc_id.clone(),
                    Target {
                        agent: x.agent.clone(),
                        callback: cb_id,
                        scheduled_for: x.scheduled_for.clone(),
                    },
                );
            }
            Err(ServerError::BadRequest(m) | ServerError::NotFound(m) | ServerError::Forbidden(m)) => {
                failed.push(format!("{}: {m}", x.name));
            }
            Err(e) => {
                fatal = Some(e);
                break;
            }
        }
    }
    let scheduled = targets.len() as i64;
    let mut per: BTreeMap<&str, i64> = BTreeMap::new();
    for t in targets.values() {
        *per.entry(t.agent.as_str()).or_default() += 1;
    }
    let per_agent: Vec<AgentCount> = per
        .iter()
        .map(|(a, n)| AgentCount {
            agent: a.to_string(),
            name: planned
                .iter()
                .find(|x| x.agent == *a)
                .map_or_else(|| a.to_string(), |x| x.agent_name.clone()),
            count: *n,
        })
        .collect();
    let per_agent_text = per_agent.iter().map(|a| format!("{} {}", a.name, a.count)).collect::<Vec<_>>();
    let recorded = targets.clone();
    edit::edit::<Campaign, _>(st, p, &campaign_id, move |camp| {
        camp.targets.extend(recorded);
        Ok(())
    })?;
    if let Some(e) = fatal {
        return Err(e);
    }
    let mut message = format!(
        "已创建回访计划“{name}”，安排 {scheduled} 条回访：{} / Campaign “{name}” created with {scheduled} callbacks: {}",
        per_agent_text.join("，"),
        per_agent_text.join(", ")
    );
    if left_out > 0 {
        message.push_str(&format!(
            "；{left_out} 位客户已不符合条件，未加入 / {left_out} customers no longer match and were left out"
        ));
    }
    if !failed.is_empty() {
        message.push_str(&format!("；{} 位未能安排 / not scheduled: {}", failed.len(), failed.join("; ")));
    }
    Ok(CreatedCampaign { campaign_id, scheduled, per_agent, failed, message })
}

// ---- list, progress and the summary report ------------------------------------------------------

/// A campaign in the list, with its progress from the projection.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CampaignRow {
    /// Document id.
    pub doc_id: String,
    /// Name.
    pub name: String,
    /// `draft`, `active` or `ended`.
    pub status: String,
    /// First due date.
    pub starts_on: String,
    /// Last due date.
    pub ends_on: String,
    /// Unix ms.
    pub created_at: i64,
    /// Customers selected.
    pub targets: i64,
    /// Callbacks naming the campaign.
    pub callbacks: i64,
    /// Of those, still to be made (scheduled, or attempted without reaching the customer).
    pub open: i64,
    /// Of those, done: the customer was reached and the result recorded.
    pub done: i64,
    /// Of those, cancelled.
    pub cancelled: i64,
    /// Done ÷ callbacks not cancelled, percent.
    pub progress_pct: Option<f64>,
}

fn pct(n: i64, of: i64) -> Option<f64> {
    (of > 0).then(|| n as f64 * 100.0 / of as f64)
}

/// The campaigns of `team`, newest first.
pub fn campaigns(conn: &Connection, team: &str) -> Result<Vec<CampaignRow>, ServerError> {
    let mut counts: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
    {
        let mut s = conn.prepare_cached(
            "SELECT b.campaign, count(*), \
               coalesce(sum(b.status IN ('scheduled', 'attempting')), 0), \
               coalesce(sum(b.status = 'done'), 0), coalesce(sum(b.status = 'cancelled'), 0) \
             FROM idx_callbacks b JOIN idx_customers c ON c.doc_id = b.doc_id \
             WHERE c.team = ?1 AND b.campaign IS NOT NULL GROUP BY b.campaign",
        )?;
        let rows = s.query_map([team], |r| {
            Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        })?;
        for row in rows {
            let (k, v) = row?;
            counts.insert(k, v);
        }
    }
    let ids: Vec<String> = conn
        .prepare_cached("SELECT doc_id FROM idx_keyed WHERE kind = 'campaign' AND team = ?1")?
        .query_map([team], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for id in ids {
        let Some(c) = read_campaign(conn, team, &id)? else { continue };
        let (callbacks, open, done, cancelled) = counts.get(&id).copied().unwrap_or_default();
        out.push(CampaignRow {
            status: c.status().as_str().to_string(),
            name: c.name,
            starts_on: c.starts_on,
            ends_on: c.ends_on,
            created_at: c.created_at,
            targets: c.targets.len() as i64,
            callbacks,
            open,
            done,
            cancelled,
            progress_pct: pct(done, callbacks - cancelled),
            doc_id: id,
        });
    }
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.doc_id.cmp(&b.doc_id)));
    Ok(out)
}

fn read_campaign(conn: &Connection, team: &str, doc_id: &str) -> Result<Option<Campaign>, ServerError> {
    let Some(stored) = crate::accept::load(conn, doc_id)? else { return Ok(None) };
    if stored.meta.team != team || stored.meta.kind != DocKind::Campaign {
        return Ok(None);
    }
    match KefuDoc::from_automerge(stored.doc).read::<Campaign>() {
        Ok(c) => Ok(Some(c)),
        Err(e) => {
            tracing::warn!(doc_id, error = %e, "campaign does not read");
            Ok(None)
        }
    }
}

/// A campaign's record, as shown on its page.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CampaignInfo {
    /// Document id.
    pub doc_id: String,
    /// Name.
    pub name: String,
    /// `draft`, `active` or `ended`.
    pub status: String,
    /// How customers were selected.
    pub description: String,
    /// Rule `since_service`: days.
    pub min_days_since_service: Option<i64>,
    /// Rule `recent_visits`: days.
    pub visits_completed_within_days: Option<i64>,
    /// First due date.
    pub starts_on: String,
    /// Last due date.
    pub ends_on: String,
    /// Creator (user id).
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
    /// When it started, Unix ms.
    pub started_at: Option<i64>,
    /// When it was closed, Unix ms.
    pub ended_at: Option<i64>,
    /// The note given when closing.
    pub ended_note: Option<String>,
    /// Customers selected.
    pub targets: i64,
}

/// One callback of a campaign with its result.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CampaignCallbackRow {
    /// Customer document id.
    pub customer_id: String,
    /// Customer name.
    pub customer: String,
    /// Callback id inside the customer file.
    pub callback_id: String,
    /// Agent (user id).
    pub agent: String,
    /// Due date.
    pub scheduled_for: String,
    /// `scheduled`, `attempting`, `done` or `cancelled`.
    pub status: String,
    /// Final outcome.
    pub outcome: Option<String>,
    /// The customer was reached.
    pub reached: bool,
    /// Attempts made.
    pub attempts: i64,
    /// Satisfaction 1–5.
    pub satisfaction: Option<i64>,
    /// The customer's evaluation of the company.
    pub evaluation: Option<String>,
    /// Suggestions.
    pub suggestions: Option<String>,
    /// Issue raised.
    pub issue: Option<String>,
    /// Follow-up date.
    pub follow_up_on: Option<String>,
}

/// Counts for one agent, or for the whole campaign.
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct Tally {
    /// Agent user id; empty for the whole campaign.
    pub agent: String,
    /// Agent name (合计 for the whole campaign).
    pub name: String,
    /// Callbacks.
    pub callbacks: i64,
    /// Still to be made.
    pub open: i64,
    /// Done.
    pub done: i64,
    /// Cancelled.
    pub cancelled: i64,
    /// At least one attempt made.
    pub attempted: i64,
    /// The customer was reached.
    pub reached: i64,
    /// Reached ÷ callbacks not cancelled, percent.
    pub reached_pct: Option<f64>,
    /// Done ÷ callbacks not cancelled, percent.
    pub done_pct: Option<f64>,
    /// How many gave satisfaction 1, 2, 3, 4, 5.
    pub satisfaction: [i64; 5],
    /// Mean satisfaction.
    pub mean_satisfaction: Option<f64>,
    /// Callbacks where the customer raised an issue.
    pub issues: i64,
    /// Callbacks with suggestions.
    pub suggestions: i64,
}

impl Tally {
    fn add(&mut self, r: &CampaignCallbackRow) {
        self.callbacks += 1;
        match r.status.as_str() {
            "done" => self.done += 1,
            "cancelled" => self.cancelled += 1,
            _ => self.open += 1,
        }
        self.attempted += i64::from(r.attempts > 0);
        self.reached += i64::from(r.reached);
        if let Some(s) = r.satisfaction.filter(|s| (1..=5).contains(s)) {
            self.satisfaction[(s - 1) as usize] += 1;
        }
        self.issues += i64::from(has_issue(r));
        self.suggestions += i64::from(has_text(&r.suggestions));
    }

    fn finish(&mut self) {
        let live = self.callbacks - self.cancelled;
        self.reached_pct = pct(self.reached, live);
        self.done_pct = pct(self.done, live);
        let n: i64 = self.satisfaction.iter().sum();
        let total: i64 = self.satisfaction.iter().enumerate().map(|(i, k)| (i as i64 + 1) * k).sum();
        self.mean_satisfaction = (n > 0).then(|| total as f64 / n as f64);
    }
}

fn has_text(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|t| !t.trim().is_empty())
}

fn has_issue(r: &CampaignCallbackRow) -> bool {
    has_text(&r.issue) || r.outcome.as_deref() == Some("issue_raised")
}

/// The summary report (回访总结报告): totals and one tally per agent (by name).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CampaignSummary {
    /// The whole campaign.
    pub total: Tally,
    /// Per agent.
    pub per_agent: Vec<Tally>,
}

/// Adds up a campaign's callbacks (`name` gives an agent's display name).
pub fn summarize(rows: &[CampaignCallbackRow], name: impl Fn(&str) -> String) -> CampaignSummary {
    let mut total = Tally { name: "合计".into(), ..Tally::default() };
    let mut per: BTreeMap<&str, Tally> = BTreeMap::new();
    for r in rows {
        total.add(r);
        per.entry(r.agent.as_str())
            .or_insert_with(|| Tally { agent: r.agent.clone(), name: name(&r.agent), ..Tally::default() })
            .add(r);
    }
    total.finish();
    let mut per_agent: Vec<Tally> = per.into_values().collect();
    for t in &mut per_agent {
        t.finish();
    }
    per_agent.sort_by(|a, b| (a.name.as_str(), a.agent.as_str()).cmp(&(b.name.as_str(), b.agent.as_str())));
    CampaignSummary { total, per_agent }
}

/// Everything about one campaign: the record, its summary and every callback.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CampaignReport {
    /// The record.
    pub info: CampaignInfo,
    /// Totals and per agent.
    pub summary: CampaignSummary,
    /// Every callback, by agent and due date.
    pub callbacks: Vec<CampaignCallbackRow>,
}

/// The report of campaign `id` of `team` (not found for another team's or another kind).
pub fn campaign_report(conn: &Connection, team: &str, id: &str) -> Result<CampaignReport, ServerError> {
    let camp = read_campaign(conn, team, id)?
        .ok_or_else(|| ServerError::NotFound(format!("没有回访计划 {id} / no campaign {id}")))?;
    let mut customers: BTreeSet<String> = camp.targets.keys().cloned().collect();
    {
        let mut s = conn.prepare_cached(
            "SELECT DISTINCT b.doc_id FROM idx_callbacks b JOIN idx_customers c ON c.doc_id = b.doc_id \
             WHERE b.campaign = ?1 AND c.team = ?2",
        )?;
        for d in s.query_map([id, team], |r| r.get::<_, String>(0))? {
            customers.insert(d?);
        }
    }
    let mut rows = Vec::new();
    for doc_id in customers {
        let Some(file) = read_customer(conn, team, &doc_id)? else { continue };
        for (cb_id, cb) in &file.callbacks {
            if cb.campaign.as_deref() != Some(id) {
                continue;
            }
            rows.push(CampaignCallbackRow {
                customer_id: doc_id.clone(),
                customer: file.profile.name.clone(),
                callback_id: cb_id.clone(),
                agent: cb.agent.clone(),
                scheduled_for: cb.scheduled_for.clone(),
                status: cb.status().map_or("scheduled", |s| s.as_str()).to_string(),
                outcome: cb.outcome.map(|o| o.as_str().to_string()),
                reached: cb.outcome.is_some_and(|o| o.reached()),
                attempts: cb.attempts.len() as i64,
                satisfaction: cb.satisfaction,
                evaluation: cb.evaluation.clone(),
                suggestions: cb.suggestions.clone(),
                issue: cb.issue.clone(),
                follow_up_on: cb.follow_up_on.clone(),
            });
        }
    }
    let people = people(conn, team)?;
    rows.sort_by(|a, b| {
        (name_of(&people, &a.agent), &a.scheduled_for, &a.customer, &a.customer_id).cmp(&(
            name_of(&people, &b.agent),
            &b.scheduled_for,
            &b.customer,
            &b.customer_id,
        ))
    });
    let summary = summarize(&rows, |a| name_of(&people, a));
    let info = CampaignInfo {
        doc_id: id.to_string(),
        status: camp.status().as_str().to_string(),
        name: camp.name,
        description: camp.criteria.description,
        min_days_since_service: camp.criteria.min_days_since_service,
        visits_completed_within_days: camp.criteria.visits_completed_within_days,
        starts_on: camp.starts_on,
        ends_on: camp.ends_on,
        created_by: camp.created_by,
        created_at: camp.created_at,
        started_at: camp.started.as_ref().map(|m| m.at),
        ended_at: camp.ended.as_ref().map(|m| m.at),
        ended_note: camp.ended.and_then(|m| m.note),
        targets: camp.targets.len() as i64,
    };
    Ok(CampaignReport { info, summary, callbacks: rows })
}

/// Close a campaign (also the JSON API's body).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CloseCampaignInput {
    /// The campaign's document id.
    pub campaign: String,
    /// Also cancel its callbacks that are still open.
    #[serde(default)]
    pub cancel_open: bool,
    /// A note kept with the end.
    #[serde(default)]
    pub note: Option<String>,
}

/// Ends the campaign (once; its callbacks stay as they are unless `cancel_open`, which cancels
/// each open one in its customer file).
pub fn close_campaign(
    st: &AppState,
    p: &Principal,
    input: &CloseCampaignInput,
) -> Result<String, ServerError> {
    let team = supervisor_team(p)?;
    let id = input.campaign.trim().to_string();
    let open: Vec<(String, String)> = {
        let conn = st.db.lock();
        let kind: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT kind FROM documents WHERE doc_id = ?1 AND team = ?2",
            [&id, &team],
            |r| r.get(0),
        ))?;
        if kind.as_deref() != Some(DocKind::Campaign.as_str()) {
            return Err(ServerError::NotFound(format!("没有回访计划 {id} / no campaign {id}")));
        }
        let mut s = conn.prepare_cached(
            "SELECT b.doc_id, b.callback_id FROM idx_callbacks b JOIN idx_customers c ON c.doc_id = b.doc_id \
             WHERE b.campaign = ?1 AND c.team = ?2 AND b.status IN ('scheduled', 'attempting') ORDER BY b.doc_id, b.callback_id",
        )?;
        let rows = s.query_map([&id, &team], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let note = input.note.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if note.as_deref().is_some_and(|n| n.chars().count() > 1000) {
        return Err(bad("备注太长（最多 1000 字）", "the note is too long (at most 1000 characters)"));
    }
    let user = p.user_id.clone();
    let at = now_ms();
    edit::edit::<Campaign, _>(st, p, &id, move |c| {
        if c.ended.is_some() {
            return Err(DocError::IllegalStep(IllegalStep {
                from: "ended".into(),
                to: "ended".into(),
                why: "the campaign is already closed / 回访计划已结束",
            }));
        }
        if c.started.is_none() {
            c.started = Some(StepMark::new(&user, at));
        }
        c.ended = Some(StepMark { note, ..StepMark::new(&user, at) });
        Ok(())
    })?;
    if !input.cancel_open {
        return Ok(format!(
            "回访计划已结束（{} 条回访仍未完成） / Campaign closed ({} callbacks still open)",
            open.len(),
            open.len()
        ));
    }
    let mut cancelled = 0;
    let mut failed = Vec::new();
    for (doc_id, cb_id) in open {
        let by = Actor { user: p.user_id.clone(), at: now_ms() };
        match edit::edit::<CustomerFile, _>(st, p, &doc_id, move |f| {
            f.cancel_callback(&cb_id, &by, "回访计划已结束 / the campaign was closed")
        }) {
            Ok(()) => cancelled += 1,
            Err(ServerError::BadRequest(m) | ServerError::NotFound(m) | ServerError::Forbidden(m)) => {
                failed.push(m)
            }
            Err(e) => return Err(e),
        }
    }
    let mut msg = format!(
        "回访计划已结束，取消了 {cancelled} 条未完成的回访 / Campaign closed; {cancelled} open callbacks cancelled"
    );
    if !failed.is_empty() {
        msg.push_str(&format!("；{} 条未能取消 / not cancelled: {}", failed.len(), failed.join("; ")));
    }
    Ok(msg)
}

// ---- pages ------------------------------------------------------------------------------------

fn status_label(lang: Lang, s: &str) -> String {
    s.parse::<CampaignStatus>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

fn callback_status_label(lang: Lang, s: &str) -> String {
    s.parse::<CallbackStep>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

fn outcome_label(lang: Lang, s: &str) -> String {
    s.parse::<kefu_model::enums::CallbackOutcome>()
        .map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

fn stage_label(lang: Lang, s: &str) -> String {
    s.parse::<PurchaseStage>().map_or_else(|_| s.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

#[derive(Debug, Deserialize)]
struct Fmt {
    format: Option<String>,
    table: Option<String>,
}

async fn list(State(state): State<AppState>, ctx: Ctx, Query(q): Query<Fmt>) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let rows =
        blocking(ctx.lang, move || campaigns(&db.lock(), &team)).await.map_err(|e| ctx.error(e.error))?;
    let lang = ctx.lang;
    let mut t = Table::new(
        "campaigns",
        ctx.t("回访计划", "Campaigns"),
        &[
            ctx.t("名称", "Name"),
            ctx.t("状态", "Status"),
            ctx.t("开始", "Starts"),
            ctx.t("结束", "Ends"),
            ctx.t("客户", "Customers"),
            ctx.t("回访", "Callbacks"),
            ctx.t("待回访", "Open"),
            ctx.t("已完成（已联系上）", "Done (reached)"),
            ctx.t("已取消", "Cancelled"),
            ctx.t("完成率 %", "Progress %"),
        ],
    );
    for r in &rows {
        t.push(vec![
            Cell::Link(r.name.clone(), format!("/campaigns/{}", r.doc_id)),
            status_label(lang, &r.status).into(),
            r.starts_on.clone().into(),
            r.ends_on.clone().into(),
            r.targets.into(),
            r.callbacks.into(),
            r.open.into(),
            r.done.into(),
            r.cancelled.into(),
            r.progress_pct.into(),
        ]);
    }
    if let Some(fmt) = q.format.as_deref() {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let body = html! {
        p { a href="/campaigns/new" { (ctx.t("＋ 新建回访计划", "+ New campaign")) } }
        p.muted { (ctx.t("回访完成即表示已联系上客户并记录了结果；未接通的尝试仍算待回访。",
            "A callback is done when the customer was reached and the result recorded; unanswered attempts stay open.")) }
        (export_links(&ctx.here, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        (t.html(ctx.t("还没有回访计划", "No campaign yet")))
    };
    Ok(layout::page(&ctx, ctx.t("回访计划", "Callback campaigns"), body))
}

/// The new-campaign form's fields as an input (`customer` fields are the chosen customers).
fn input_from(f: &FormData, today: Date) -> Result<NewCampaignInput, ServerError> {
    Ok(NewCampaignInput {
        name: f.get("name").unwrap_or("").to_string(),
        rule: f.get("rule").unwrap_or("since_service").to_string(),
        days: f.optional::<i64>("days", "天数 days")?.unwrap_or(60),
        stage: f.get("stage").map(str::to_string),
        starts_on: f.get("starts_on").map_or_else(|| today.to_string(), str::to_string),
        ends_on: f.get("ends_on").map_or_else(|| today.add_days(13).to_string(), str::to_string),
        method: f.get("method").map(str::to_string),
        agents: f.all("agents").into_iter().map(str::to_string).collect(),
        keep_own_agent: f.checked("keep_own"),
        include_followed_up: f.checked("include_followed"),
        customers: f.all("customer").into_iter().map(str::to_string).collect(),
    })
}

const METHODS: &[ContactChannel] = &[
    ContactChannel::Phone,
    ContactChannel::Wechat,
    ContactChannel::Sms,
    ContactChannel::Email,
    ContactChannel::Visit,
];

async fn new_page(
    State(state): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let lang = ctx.lang;
    let f = FormData::parse(raw.unwrap_or_default().as_bytes()).unwrap_or_default();
    let today = today();
    let asked = f.get("rule").is_some();
    let parsed = input_from(&f, today);
    let mut input = parsed.as_ref().cloned().unwrap_or_default();
    if input.rule.is_empty() {
        input = NewCampaignInput {
            rule: "since_service".into(),
            days: 60,
            starts_on: today.to_string(),
            ends_on: today.add_days(13).to_string(),
            ..NewCampaignInput::default()
        };
    }
    if input.name.is_empty() {
        input.name = format!("{} {}", today, ctx.t("客户回访", "callbacks"));
    }
    let db = state.db.clone();
    let (t2, inp) = (team.clone(), input.clone());
    let form_error = parsed.as_ref().err().map(|e| e.to_string());
    let no_agents = asked && input.agents.is_empty();
    let run_preview = asked && form_error.is_none() && !no_agents;
    type Data = (Vec<super::assign::StaffLoad>, Option<Result<CampaignPreview, String>>);
    let (loads, preview): Data = blocking(lang, move || {
        let conn = db.lock();
        let loads = staff_load(&conn, &t2)?;
        let preview = if run_preview {
            let mut q = inp.clone();
            // The preview shows every matching customer; the ticks choose among them.
            q.customers.clear();
            match preview_campaign(&conn, &t2, &q, today) {
                Ok(p) => Some(Ok(p)),
                Err(ServerError::BadRequest(m) | ServerError::NotFound(m)) => Some(Err(m)),
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok((loads, preview))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let agents: Vec<_> = loads.iter().filter(|s| s.role == "agent").collect();
    let problem = form_error
        .or_else(|| {
            no_agents.then(|| ctx.t("请至少选择一位客服专员", "Choose at least one agent").to_string())
        })
        .or_else(|| preview.as_ref().and_then(|p| p.as_ref().err().cloned()));
    let (planned, skipped) = match preview {
        Some(Ok(p)) => (p.planned, p.skipped_followed_up),
        _ => (Vec::new(), 0),
    };
    let mut t = Table::new(
        "campaign-preview",
        ctx.t("回访计划预览", "Campaign preview"),
        &[
            ctx.t("客户", "Customer"),
            ctx.t("购买阶段", "Stage"),
            ctx.t("上次服务", "Last service"),
            ctx.t("现负责专员", "Current agent"),
            ctx.t("回访专员", "Callback agent"),
            ctx.t("改派", "Reassigned"),
            ctx.t("回访日期", "Due"),
            ctx.t("已有跟进回访", "Already followed up"),
        ],
    );
    let who =
        |id: &str| loads.iter().find(|s| s.user_id == id).map_or_else(|| id.to_string(), |s| s.name.clone());
    for x in &planned {
        t.push(vec![
            Cell::Link(x.name.clone(), format!("/customers/{}", x.doc_id)),
            stage_label(lang, &x.stage).into(),
            x.service_on.clone().into(),
            x.current_agent.as_deref().map(who).into(),
            x.agent_name.clone().into(),
            if x.reassign { ctx.t("是", "yes") } else { "" }.into(),
            x.scheduled_for.clone().into(),
            if x.followed_up { ctx.t("是", "yes") } else { "" }.into(),
        ]);
    }
    if let Some(fmt) = f.get("format") {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let mut per_agent: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for x in &planned {
        let e = per_agent.entry(x.agent_name.as_str()).or_default();
        e.0 += 1;
        e.1 += i64::from(x.reassign);
    }
    let chosen_agent = |id: &str| !asked || input.agents.iter().any(|a| a == id);
    let sel = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let method = input.method.clone().unwrap_or_else(|| "phone".into());
    let body = html! {
        form.stack method="get" action="/campaigns/new" {
            label { (ctx.t("名称", "Name")) input name="name" value=(input.name) maxlength="200" required; }
            fieldset {
                legend { (ctx.t("选择客户", "Choose customers")) }
                label { input type="radio" name="rule" value="since_service" checked[input.rule == "since_service"];
                    (ctx.t("最近一次完成的上门或订单在 N 天以前，且此后没有回访（老客户回访）",
                        "Last completed visit or order at least N days ago, and no callback since (old customers)")) }
                label { input type="radio" name="rule" value="recent_visits" checked[input.rule == "recent_visits"];
                    (ctx.t("最近 N 天内（含今天）完成上门服务的客户", "A visit completed in the last N days (today included)")) }
                label { input type="checkbox" name="include_followed" value="1" checked[input.include_followed_up];
                    (ctx.t("也包括已安排跟进回访的上门", "also visits already followed up by a callback")) }
                label { (ctx.t("天数 N", "Days N")) input type="number" name="days" min="0" max="3650" value=(input.days); }
                label { (ctx.t("购买阶段（可选）", "Stage (optional)"))
                    select name="stage" { option value="" { (ctx.t("全部", "all")) }
                        @for s in PurchaseStage::ALL { option value=(s.as_str()) selected[sel(&input.stage, s.as_str())] { (label(lang, s.label_zh(), s.as_str())) } } } }
            }
            fieldset {
                legend { (ctx.t("安排", "Schedule")) }
                label { (ctx.t("开始日期", "First due date")) input type="date" name="starts_on" value=(input.starts_on) required; }
                label { (ctx.t("结束日期", "Last due date")) input type="date" name="ends_on" value=(input.ends_on) required; }
                label { (ctx.t("回访方式", "Method"))
                    select name="method" { @for m in METHODS { option value=(m.as_str()) selected[method == m.as_str()] { (label(lang, m.label_zh(), m.as_str())) } } } }
                p { (ctx.t("分配给客服专员（按未完成回访数从少到多）：", "Spread over agents (fewest open callbacks first):")) br;
                    @for s in &agents { label { input type="checkbox" name="agents" value=(s.user_id) checked[chosen_agent(&s.user_id)];
                        (s.name) " (" (s.open_callbacks) (ctx.t(" 条未完成", " open")) ")" } } }
                label { input type="checkbox" name="keep_own" value="1" checked[input.keep_own_agent];
                    (ctx.t("原负责专员在所选专员中时，由其回访", "Keep a customer with their own agent when that agent is chosen")) }
                p.muted { (ctx.t("专员只能看到自己负责的客户：回访交给其他专员时，该客户的负责专员随之改为回访专员。",
                    "An agent sees only their own customers: when a callback goes to another agent, the customer is reassigned to that agent.")) }
            }
            button.primary type="submit" { (ctx.t("预览", "Preview")) }
        }
        @if let Some(m) = &problem { div.flash.err role="alert" { (m) } }
        @if run_preview && problem.is_none() {
            h2 { (ctx.t("预览", "Preview")) }
            p { (planned.len()) (ctx.t(" 位客户符合条件", " customers match"))
                @for (n, (k, r)) in &per_agent { " · " (n) " " (k) @if *r > 0 { span.muted { " (" (ctx.t("改派 ", "reassigned ")) (r) ")" } } } }
            @if skipped > 0 {
                p.muted { (skipped) (ctx.t(" 位客户的该次上门已安排跟进回访，未列出（可勾选“也包括已安排跟进回访的上门”）。",
                    " customers left out: their visit already has a follow-up callback (tick “also visits already followed up” to include them).")) } }
            (export_links(&ctx.here, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
            @if planned.is_empty() {
                p.muted { (ctx.t("没有符合条件的客户", "No customer matches")) }
            } @else {
                form method="post" action="/campaigns/create" {
                    (form_fields(&ctx))
                    input type="hidden" name="name" value=(input.name);
                    input type="hidden" name="rule" value=(input.rule);
                    input type="hidden" name="days" value=(input.days);
                    input type="hidden" name="stage" value=(input.stage.clone().unwrap_or_default());
                    input type="hidden" name="starts_on" value=(input.starts_on);
                    input type="hidden" name="ends_on" value=(input.ends_on);
                    input type="hidden" name="method" value=(method);
                    @for a in &input.agents { input type="hidden" name="agents" value=(a); }
                    @if input.keep_own_agent { input type="hidden" name="keep_own" value="1"; }
                    @if input.include_followed_up { input type="hidden" name="include_followed" value="1"; }
                    p.muted { (ctx.t("取消勾选的客户不加入；分配会按所选客户重新计算。",
                        "Unticked customers are left out; the spread is recalculated over those chosen.")) }
                    table {
                        thead { tr { th { "✓" } @for c in &t.columns { th { (c) } } } }
                        tbody {
                            @for (i, x) in planned.iter().enumerate() {
                                tr {
                                    td { input type="checkbox" name="customer" value=(x.doc_id) checked aria-label=(x.name); }
                                    @for cell in &t.rows[i] {
                                        @match cell {
                                            Cell::Link(text, href) => td { a href=(href) { (text) } },
                                            other => td { (other.text()) },
                                        }
                                    }
                                }
                            }
                        }
                    }
                    button.primary type="submit" { (ctx.t("创建回访计划并安排回访", "Create the campaign and schedule the callbacks")) }
                }
            }
        }
    };
    Ok(layout::page(&ctx, ctx.t("新建回访计划", "New campaign"), body))
}

async fn create(State(state): State<AppState>, posted: Posted) -> Response {
    let lang = posted.ctx.lang;
    let input = input_from(&posted.form, today());
    let p = posted.ctx.p.clone();
    let st = state.clone();
    let result = tokio::task::spawn_blocking(move || {
        let input = input?;
        if input.customers.is_empty() {
            return Err(bad("请至少勾选一位客户", "tick at least one customer"));
        }
        if input.agents.is_empty() {
            return Err(bad("请至少选择一位客服专员", "choose at least one agent"));
        }
        create_campaign(&st, &p, &input)
    })
    .await
    .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string())));
    match result {
        Ok(c) => after_action(lang, &format!("/campaigns/{}", c.campaign_id), Ok(c.message)),
        Err(e) => after_action(lang, &posted.back, Err(e)),
    }
}

async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<Fmt>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let cid = id.clone();
    let (report, people) = blocking(ctx.lang, move || {
        let conn = db.lock();
        Ok((campaign_report(&conn, &team, &cid)?, people(&conn, &team)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let lang = ctx.lang;
    let who = |u: &str| name_of(&people, u);
    let s = &report.summary;
    let i = &report.info;

    let mut agents_t = Table::new(
        "campaign-agents",
        ctx.t("按专员", "Per agent"),
        &[
            ctx.t("专员", "Agent"),
            ctx.t("回访", "Callbacks"),
            ctx.t("待回访", "Open"),
            ctx.t("已尝试", "Attempted"),
            ctx.t("已完成", "Done"),
            ctx.t("已联系上", "Reached"),
            ctx.t("已取消", "Cancelled"),
            ctx.t("完成率 %", "Done %"),
            ctx.t("联系率 %", "Reached %"),
            ctx.t("平均满意度", "Mean satisfaction"),
            "1★",
            "2★",
            "3★",
            "4★",
            "5★",
            ctx.t("提出问题", "Issues"),
            ctx.t("建议", "Suggestions"),
        ],
    );
    for t in s.per_agent.iter().chain(std::iter::once(&s.total)) {
        let name = if t.agent.is_empty() { ctx.t("合计", "Total").to_string() } else { t.name.clone() };
        let mut row: Vec<Cell> = vec![
            name.into(),
            t.callbacks.into(),
            t.open.into(),
            t.attempted.into(),
            t.done.into(),
            t.reached.into(),
            t.cancelled.into(),
            t.done_pct.into(),
            t.reached_pct.into(),
            t.mean_satisfaction.into(),
        ];
        row.extend(t.satisfaction.iter().map(|n| Cell::Int(*n)));
        row.push(t.issues.into());
        row.push(t.suggestions.into());
        agents_t.push(row);
    }
    let mut sat_t = Table::new(
        "campaign-satisfaction",
        ctx.t("满意度分布", "Satisfaction"),
        &[ctx.t("满意度", "Satisfaction"), ctx.t("人数", "Customers"), ctx.t("占比 %", "Share %")],
    );
    let rated: i64 = s.total.satisfaction.iter().sum();
    for (k, n) in s.total.satisfaction.iter().enumerate().rev() {
        sat_t.push(vec![format!("{}★", k + 1).into(), (*n).into(), pct(*n, rated).into()]);
    }
    let mut issues_t = Table::new(
        "campaign-issues",
        ctx.t("客户提出的问题", "Issues raised"),
        &[
            ctx.t("客户", "Customer"),
            ctx.t("专员", "Agent"),
            ctx.t("结果", "Outcome"),
            ctx.t("问题", "Issue"),
            ctx.t("跟进日期", "Follow up"),
        ],
    );
    let mut sugg_t = Table::new(
        "campaign-suggestions",
        ctx.t("客户建议与评价", "Suggestions and evaluations"),
        &[
            ctx.t("客户", "Customer"),
            ctx.t("专员", "Agent"),
            ctx.t("满意度", "Satisfaction"),
            ctx.t("建议", "Suggestions"),
            ctx.t("评价", "Evaluation"),
        ],
    );
    let mut all_t = Table::new(
        "campaign-callbacks",
        ctx.t("全部回访", "All callbacks"),
        &[
            ctx.t("客户", "Customer"),
            ctx.t("专员", "Agent"),
            ctx.t("日期", "Due"),
            ctx.t("状态", "Status"),
            ctx.t("尝试次数", "Attempts"),
            ctx.t("结果", "Outcome"),
            ctx.t("满意度", "Satisfaction"),
            ctx.t("问题", "Issue"),
            ctx.t("建议", "Suggestions"),
            ctx.t("评价", "Evaluation"),
        ],
    );
    for r in &report.callbacks {
        let customer = Cell::Link(r.customer.clone(), format!("/customers/{}", r.customer_id));
        let outcome: Cell = r.outcome.as_deref().map(|o| outcome_label(lang, o)).into();
        if has_issue(r) {
            issues_t.push(vec![
                customer.clone(),
                who(&r.agent).into(),
                outcome.clone(),
                r.issue.clone().into(),
                r.follow_up_on.clone().into(),
            ]);
        }
        if has_text(&r.suggestions) || has_text(&r.evaluation) {
            sugg_t.push(vec![
                customer.clone(),
                who(&r.agent).into(),
                r.satisfaction.into(),
                r.suggestions.clone().into(),
                r.evaluation.clone().into(),
            ]);
        }
        all_t.push_warn(
            vec![
                customer,
                who(&r.agent).into(),
                r.scheduled_for.clone().into(),
                callback_status_label(lang, &r.status).into(),
                r.attempts.into(),
                outcome,
                r.satisfaction.into(),
                r.issue.clone().into(),
                r.suggestions.clone().into(),
                r.evaluation.clone().into(),
            ],
            matches!(r.status.as_str(), "scheduled" | "attempting") && r.scheduled_for < today().to_string(),
        );
    }
    if let Some(fmt) = q.format.as_deref() {
        let t = match q.table.as_deref() {
            Some("satisfaction") => &sat_t,
            Some("issues") => &issues_t,
            Some("suggestions") => &sugg_t,
            Some("callbacks") => &all_t,
            _ => &agents_t,
        };
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let base = format!("/campaigns/{}", i.doc_id);
    let exports = |table: &str| {
        export_links(
            &format!("{base}?table={table}"),
            ctx.t("导出 CSV", "Export CSV"),
            ctx.t("导出 Excel", "Export Excel"),
        )
    };
    let ended = i.status == CampaignStatus::Ended.as_str();
    let body = html! {
        div.grid2 {
            div.card {
                p { b { (status_label(lang, &i.status)) } " · " (i.starts_on) " – " (i.ends_on) }
                p { (ctx.t("选择条件：", "Criteria: ")) (i.description) }
                p.muted { (ctx.t("创建：", "Created: ")) (who(&i.created_by)) " " (fmt_time(i.created_at))
                    @if let Some(t) = i.ended_at { " · " (ctx.t("结束于 ", "closed ")) (fmt_time(t)) }
                    @if let Some(n) = &i.ended_note { " · " (n) } }
                p { (i.targets) (ctx.t(" 位客户", " customers")) " · " (s.total.callbacks) (ctx.t(" 条回访", " callbacks")) }
            }
            div.cards {
                div.card { div.n { (s.total.done) " / " (s.total.callbacks - s.total.cancelled) } (ctx.t("已完成", "done")) }
                div.card { div.n { (s.total.reached_pct.map_or_else(|| "—".to_string(), |x| format!("{x:.1}%"))) } (ctx.t("联系率", "reached")) }
                div.card { div.n { (s.total.mean_satisfaction.map_or_else(|| "—".to_string(), |x| format!("{x:.2}"))) } (ctx.t("平均满意度", "mean satisfaction")) }
                div.card { div.n { (s.total.issues) } (ctx.t("提出问题", "issues raised")) }
            }
        }
        @if !ended {
            form.bar method="post" action={ (base) "/close" } {
                (form_fields(&ctx))
                label { (ctx.t("结束备注", "Closing note")) input name="note" maxlength="1000"; }
                label { input type="checkbox" name="cancel_open" value="1"; (ctx.t("同时取消未完成的回访", "also cancel the callbacks still open")) }
                button.primary type="submit" { (ctx.t("结束回访计划", "Close the campaign")) }
            }
        }
        h2 { (ctx.t("回访总结报告：按专员", "Summary report (回访总结报告): per agent")) }
        p.muted { (ctx.t("完成率、联系率按未取消的回访计算；满意度为已联系上且评分的客户。",
            "Done and reached rates are over callbacks not cancelled; satisfaction counts customers reached who gave a score.")) }
        (exports("agents"))
        (agents_t.html(ctx.t("没有回访", "No callbacks")))
        h2 { (ctx.t("满意度分布", "Satisfaction distribution")) }
        (exports("satisfaction"))
        (sat_t.html(""))
        h2 { (ctx.t("客户提出的问题", "Issues raised")) }
        (exports("issues"))
        (issues_t.html(ctx.t("没有客户提出问题", "No issues raised")))
        h2 { (ctx.t("客户建议与评价", "Suggestions and evaluations")) }
        (exports("suggestions"))
        (sugg_t.html(ctx.t("没有建议", "No suggestions")))
        h2 { (ctx.t("全部回访", "All callbacks")) }
        (exports("callbacks"))
        (all_t.html(ctx.t("没有回访", "No callbacks")))
    };
    Ok(layout::page(&ctx, &i.name.clone(), body))
}

async fn close(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Response {
    let input = CloseCampaignInput {
        campaign: id,
        cancel_open: posted.form.checked("cancel_open"),
        note: posted.form.get("note").map(str::to_string),
    };
    let p = posted.ctx.p.clone();
    let st = state.clone();
    let result = tokio::task::spawn_blocking(move || close_campaign(&st, &p, &input))
        .await
        .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string())));
    after_action(posted.ctx.lang, &posted.back, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_model::automerge::ActorId;
    use kefu_model::enums::{CallbackOutcome, SourceChannel, VisitReason};
    use kefu_model::records::customer::{Order, Profile};
    use kefu_model::verbs::{CallbackResult, NewVisit, VisitCompletion};
    use kefu_model::Author;

    const DAY: i64 = 86_400_000;

    fn today() -> Date {
        Date::parse("2026-11-20").unwrap_or_else(|| panic!("date"))
    }

    /// Noon local time of the day `offset` days from `today()`.
    fn at(offset: i64) -> i64 {
        today().add_days(offset).start_ms(TZ) + 12 * 3_600_000
    }

    fn sup() -> Principal {
        Principal {
            user_id: "sup".into(),
            device_id: "web".into(),
            role: Role::Supervisor,
            team: Some("A".into()),
        }
    }

    fn customer(name: &str, stage: PurchaseStage) -> CustomerFile {
        let profile = Profile {
            name: name.into(),
            phones: vec!["13800000000".into()],
            email: None,
            wechat: None,
            address: None,
            district: None,
            source: SourceChannel::Phone,
        };
        let mut c = CustomerFile::new("A", profile, "sup", at(-400));
        c.classification.stage = stage;
        c.assignment.agent = Some("li".into());
        c.assignment.assigned_at = Some(at(-400));
        c
    }

    fn order(c: &mut CustomerFile, id: &str, on: i64, status: OrderStatus) {
        c.add_order(
            id.into(),
            Order {
                number: id.into(),
                item: "橱柜".into(),
                amount_fen: 100,
                ordered_on: today().add_days(on).to_string(),
                completed_on: None,
                status,
            },
        );
    }

    fn visit(c: &mut CustomerFile, id: &str, done: i64) {
        let by = Actor { user: "zhang".into(), at: at(done) - 3_600_000 };
        let nv = NewVisit {
            work_order: format!("WO-{id}"),
            reason: VisitReason::Repair,
            staff: "zhang".into(),
            window_start: by.at,
            window_end: by.at + 3_600_000,
        };
        c.dispatch_visit(id.into(), &by, &nv);
        c.advance_visit(id, &by, VisitStep::OnSite, None).unwrap_or_else(|e| panic!("{e}"));
        let done_by = Actor { user: "zhang".into(), at: at(done) };
        let vc = VisitCompletion { work_done: "维修".into(), ..VisitCompletion::default() };
        c.complete_visit(id, &done_by, &vc).unwrap_or_else(|e| panic!("{e}"));
    }

    fn callback(c: &mut CustomerFile, id: &str, due: i64, visit: Option<&str>) {
        let by = Actor { user: "sup".into(), at: at(due) };
        let new = NewCallback {
            agent: "li".into(),
            date: today().add_days(due).to_string(),
            method: ContactChannel::Phone,
            campaign: None,
            visit: visit.map(Into::into),
        };
        c.schedule_callback(id.into(), &by, &new);
    }

    fn store(conn: &Connection, id: &str, c: &CustomerFile) {
        let mut doc = KefuDoc::create(
            c,
            ActorId::random(),
            &Author { user: "sup".into(), device: "web".into() },
            at(-400),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        edit::store(conn, &sup(), id, None, doc.automerge()).unwrap_or_else(|e| panic!("{e}"));
    }

    fn names(found: &[Candidate]) -> Vec<&str> {
        found.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn criteria_pick_old_customers_without_callbacks_and_recent_visits() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let conn = db.lock();
        // 甲: order 90 days ago, nothing since → old customer.
        let mut a = customer("甲", PurchaseStage::AfterSale);
        order(&mut a, "o1", -90, OrderStatus::Completed);
        store(&conn, "c-a", &a);
        // 乙: order 90 days ago but a callback 30 days ago → already called back.
        let mut b = customer("乙", PurchaseStage::AfterSale);
        order(&mut b, "o1", -90, OrderStatus::Completed);
        callback(&mut b, "cb1", -30, None);
        store(&conn, "c-b", &b);
        // 丙: order 90 days ago, visit completed 3 days ago → recent service, recent visit.
        let mut c = customer("丙", PurchaseStage::InService);
        order(&mut c, "o1", -90, OrderStatus::Completed);
        visit(&mut c, "v1", -3);
        store(&conn, "c-c", &c);
        // 丁: visit 70 days ago; a callback due before that doesn't count, nor does an order
        // cancelled last week.
        let mut d = customer("丁", PurchaseStage::AfterSale);
        visit(&mut d, "v1", -70);
        order(&mut d, "o2", -7, OrderStatus::Cancelled);
        callback(&mut d, "cb0", -100, None);
        store(&conn, "c-d", &d);
        // 戊: visit completed yesterday but already followed up; nothing bought.
        let mut e = customer("戊", PurchaseStage::AfterSale);
        visit(&mut e, "v1", -1);
        callback(&mut e, "cb1", 2, Some("v1"));
        store(&conn, "c-e", &e);
        // 己: no service at all.
        store(&conn, "c-f", &customer("己", PurchaseStage::Lead));

        let old =
            candidates(&conn, "A", Rule::SinceService, 60, None, today()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&old), vec!["丁", "甲"], "sorted by name (code point)");
        assert_eq!(old[1].service_on, today().add_days(-90).to_string());
        assert_eq!(old[0].service_on, today().add_days(-70).to_string());
        // 70 days is not "at least 80 days ago".
        let older =
            candidates(&conn, "A", Rule::SinceService, 80, None, today()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&older), vec!["甲"]);
        // The stage filter narrows; another team sees nothing.
        let in_service = candidates(&conn, "A", Rule::SinceService, 0, Some("in_service"), today())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&in_service), vec!["丙"]);
        assert!(candidates(&conn, "B", Rule::SinceService, 0, None, today())
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty());
        assert!(candidates(&conn, "A", Rule::SinceService, 0, Some("vip"), today()).is_err());

        // 庚: two visits this week; the newer one is followed up, the older one not yet.
        let mut g = customer("庚", PurchaseStage::AfterSale);
        visit(&mut g, "v1", -2);
        visit(&mut g, "v2", -1);
        callback(&mut g, "cb1", 2, Some("v2"));
        store(&conn, "c-g", &g);

        // Visits completed in the last 7 days: 丙, 戊 (followed up already) and 庚 (its v1).
        let recent =
            candidates(&conn, "A", Rule::RecentVisits, 7, None, today()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&recent), vec!["丙", "庚", "戊"]);
        let picked: Vec<(Option<&str>, bool)> =
            recent.iter().map(|c| (c.visit.as_deref(), c.followed_up)).collect();
        assert_eq!(picked, vec![(Some("v1"), false), (Some("v1"), false), (Some("v1"), true)]);
        // "The last 3 days" are today and the two before: a visit 3 days ago is outside.
        let r3 =
            candidates(&conn, "A", Rule::RecentVisits, 3, None, today()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&r3), vec!["庚", "戊"]);
        let r4 =
            candidates(&conn, "A", Rule::RecentVisits, 4, None, today()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&r4), vec!["丙", "庚", "戊"]);

        // The preview leaves out visits already followed up, unless asked.
        crate::auth::add_user(
            &conn,
            &crate::auth::NewUser {
                username: "a1".into(),
                role: Role::Agent,
                team: Some("A".into()),
                display_name: None,
            },
            "password-1",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let input = NewCampaignInput {
            rule: "recent_visits".into(),
            days: 7,
            starts_on: today().to_string(),
            ends_on: today().to_string(),
            ..NewCampaignInput::default()
        };
        let p = preview_campaign(&conn, "A", &input, today()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.planned.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(), vec!["丙", "庚"]);
        assert_eq!(p.skipped_followed_up, 1);
        let all = NewCampaignInput { include_followed_up: true, ..input };
        let p = preview_campaign(&conn, "A", &all, today()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.planned.len(), p.skipped_followed_up), (3, 0));
        assert!(p.planned.iter().all(|x| x.reassign && x.scheduled_for == today().to_string()));
    }

    #[test]
    fn the_plan_spreads_by_open_callbacks_and_dates_over_the_days() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let conn = db.lock();
        let add = |u: &str, role: Role| {
            crate::auth::add_user(
                &conn,
                &crate::auth::NewUser {
                    username: u.into(),
                    role,
                    team: Some("A".into()),
                    display_name: Some(u.into()),
                },
                "password-1",
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let a1 = add("a1", Role::Agent);
        let a2 = add("a2", Role::Agent);
        let f1 = add("f1", Role::Field);
        // Four old customers of a1, who also has one open callback elsewhere.
        for (i, n) in ["甲", "乙", "丙", "丁"].iter().enumerate() {
            let mut c = customer(n, PurchaseStage::AfterSale);
            c.assignment.agent = Some(a1.clone());
            order(&mut c, "o1", -90, OrderStatus::Completed);
            store(&conn, &format!("c{i}"), &c);
        }
        let mut busy = customer("忙", PurchaseStage::Lead);
        busy.assignment.agent = Some(a1.clone());
        let by = Actor { user: "sup".into(), at: at(-1) };
        let new = NewCallback {
            agent: a1.clone(),
            date: today().to_string(),
            method: ContactChannel::Phone,
            campaign: None,
            visit: None,
        };
        busy.schedule_callback("x".into(), &by, &new);
        store(&conn, "busy", &busy);

        let input = NewCampaignInput {
            rule: "since_service".into(),
            days: 60,
            starts_on: today().to_string(),
            ends_on: today().add_days(1).to_string(),
            ..NewCampaignInput::default()
        };
        let plan = preview_campaign(&conn, "A", &input, today()).unwrap_or_else(|e| panic!("{e}")).planned;
        // In name order 丁 < 丙 < 乙 < 甲 (code points), greedy by open callbacks: 丁 → a2 (0
        // open), 丙 → a1 (1 each, tie by name), 乙 → a2, 甲 → a1; two a day per agent.
        let got: Vec<(&str, &str, bool, &str)> = plan
            .iter()
            .map(|x| (x.name.as_str(), x.agent_name.as_str(), x.reassign, x.scheduled_for.as_str()))
            .collect();
        let (d0, d1) = (today().to_string(), today().add_days(1).to_string());
        assert_eq!(
            got,
            vec![
                ("丁", "a2", true, d0.as_str()),
                ("丙", "a1", false, d0.as_str()),
                ("乙", "a2", true, d1.as_str()),
                ("甲", "a1", false, d1.as_str()),
            ]
        );
        // Keeping own agents: all four stay with a1.
        let keep = NewCampaignInput { keep_own_agent: true, ..input.clone() };
        let plan = preview_campaign(&conn, "A", &keep, today()).unwrap_or_else(|e| panic!("{e}")).planned;
        assert!(plan.iter().all(|x| x.agent == a1 && !x.reassign));
        // Only a2, and only two customers.
        let few = NewCampaignInput {
            agents: vec![a2.clone()],
            customers: vec!["c0".into(), "c3".into()],
            ..input.clone()
        };
        let plan = preview_campaign(&conn, "A", &few, today()).unwrap_or_else(|e| panic!("{e}")).planned;
        assert_eq!(plan.len(), 2);
        assert!(plan.iter().all(|x| x.agent == a2));
        // A field staff member is not an agent; dates must make sense.
        let wrong = NewCampaignInput { agents: vec![f1], ..input.clone() };
        assert!(matches!(preview_campaign(&conn, "A", &wrong, today()), Err(ServerError::BadRequest(_))));
        let past = NewCampaignInput { starts_on: today().add_days(-1).to_string(), ..input.clone() };
        assert!(preview_campaign(&conn, "A", &past, today()).is_err());
        let backwards = NewCampaignInput { ends_on: today().add_days(-1).to_string(), ..input.clone() };
        assert!(preview_campaign(&conn, "A", &backwards, today()).is_err());
        let rule = NewCampaignInput { rule: "everyone".into(), ..input };
        assert!(preview_campaign(&conn, "A", &rule, today()).is_err());
    }

    fn row(
        agent: &str,
        status: &str,
        outcome: Option<CallbackOutcome>,
        sat: Option<i64>,
    ) -> CampaignCallbackRow {
        CampaignCallbackRow {
            customer_id: "c".into(),
            customer: "客户".into(),
            callback_id: "cb".into(),
            agent: agent.into(),
            scheduled_for: "2026-11-20".into(),
            status: status.into(),
            outcome: outcome.map(|o| o.as_str().to_string()),
            reached: outcome.is_some_and(|o| o.reached()),
            attempts: i64::from(matches!(status, "attempting" | "done")),
            satisfaction: sat,
            evaluation: None,
            suggestions: None,
            issue: None,
            follow_up_on: None,
        }
    }

    #[test]
    fn the_summary_adds_up() {
        let mut rows = vec![
            row("li", "done", Some(CallbackOutcome::Satisfied), Some(5)),
            row("li", "done", Some(CallbackOutcome::Satisfied), Some(4)),
            row("li", "done", Some(CallbackOutcome::IssueRaised), Some(2)),
            row("li", "attempting", None, None),
            row("wang", "done", Some(CallbackOutcome::Satisfied), Some(5)),
            row("wang", "scheduled", None, None),
            row("wang", "cancelled", None, None),
        ];
        rows[2].issue = Some("安装后柜门不平".into());
        rows[0].suggestions = Some("希望提前电话预约".into());
        rows[4].suggestions = Some("  ".into());
        let s = summarize(&rows, |a| if a == "li" { "李".into() } else { "王".into() });
        let t = &s.total;
        assert_eq!((t.callbacks, t.open, t.done, t.cancelled, t.reached, t.attempted), (7, 2, 4, 1, 4, 5));
        assert_eq!(t.satisfaction, [0, 1, 0, 1, 2]);
        assert_eq!(t.mean_satisfaction, Some(4.0));
        // Reached 4 of the 6 not cancelled.
        assert_eq!(t.reached_pct.map(|x| (x * 10.0).round()), Some(667.0));
        assert_eq!((t.issues, t.suggestions), (1, 1));
        let names: Vec<&str> = s.per_agent.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["李", "王"]);
        let li = &s.per_agent[0];
        assert_eq!((li.callbacks, li.reached, li.reached_pct), (4, 3, Some(75.0)));
        assert_eq!(li.mean_satisfaction.map(|x| (x * 100.0).round()), Some(367.0));
        let wang = &s.per_agent[1];
        assert_eq!(
            (wang.callbacks, wang.cancelled, wang.reached_pct, wang.done_pct),
            (3, 1, Some(50.0), Some(50.0))
        );
        // Nothing to count: no rates, no mean.
        let empty = summarize(&[], |a| a.to_string());
        assert_eq!((empty.total.reached_pct, empty.total.mean_satisfaction), (None, None));
        assert!(empty.per_agent.is_empty());
    }

    fn cid(i: u8) -> String {
        DocumentId::from_bytes([i + 1; 16]).to_string()
    }

    #[test]
    fn a_campaign_is_created_reported_and_closed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let st = AppState::new(db, crate::sync::Limits::default());
        let (a1, p) = {
            let conn = st.db.lock();
            let mk = |u: &str, role: Role| {
                crate::auth::add_user(
                    &conn,
                    &crate::auth::NewUser {
                        username: u.into(),
                        role,
                        team: Some("A".into()),
                        display_name: Some(u.into()),
                    },
                    "password-1",
                )
                .unwrap_or_else(|e| panic!("{e}"))
            };
            let s = mk("boss", Role::Supervisor);
            let a1 = mk("a1", Role::Agent);
            let p = Principal { user_id: s, ..sup() };
            let real_today = super::today();
            for (i, n) in ["甲", "乙"].iter().enumerate() {
                let mut c = customer(n, PurchaseStage::AfterSale);
                c.add_order(
                    "o1".into(),
                    Order {
                        number: "o1".into(),
                        item: "门".into(),
                        amount_fen: 1,
                        ordered_on: real_today.add_days(-100).to_string(),
                        completed_on: None,
                        status: OrderStatus::Completed,
                    },
                );
                let mut doc = KefuDoc::create(&c, ActorId::random(), &edit::author(&p), now_ms() - 100 * DAY)
                    .unwrap_or_else(|e| panic!("{e}"));
                edit::store(&conn, &p, &cid(i as u8), None, doc.automerge())
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            (a1, p)
        };
        let t = super::today();
        let input = NewCampaignInput {
            name: "老客户回访".into(),
            rule: "since_service".into(),
            days: 60,
            starts_on: t.to_string(),
            ends_on: t.add_days(6).to_string(),
            ..NewCampaignInput::default()
        };
        let made = create_campaign(&st, &p, &input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(made.scheduled, 2, "{}", made.message);
        // Both now belong to a1 (they had agent "li", who is not a user of the team).
        let conn = st.db.lock();
        let rows = campaigns(&conn, "A").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((rows.len(), rows[0].callbacks, rows[0].open, rows[0].targets), (1, 2, 2, 2));
        assert_eq!(rows[0].status, "active");
        let agent: Option<String> = conn
            .query_row("SELECT agent FROM idx_customers WHERE doc_id = ?1", [cid(0)], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(agent.as_deref(), Some(a1.as_str()));
        // No callback since now: nobody matches a second time.
        assert!(candidates(&conn, "A", Rule::SinceService, 60, None, t)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty());
        drop(conn);
        // a1 reaches 甲 (satisfied, 4).
        let target = {
            let conn = st.db.lock();
            let c = read_campaign(&conn, "A", &made.campaign_id).unwrap_or_else(|e| panic!("{e}"));
            c.unwrap_or_else(|| panic!("campaign")).targets[&cid(0)].callback.clone()
        };
        let result = CallbackResult {
            method: ContactChannel::Phone,
            outcome: CallbackOutcome::Satisfied,
            satisfaction: Some(4),
            evaluation: None,
            suggestions: Some("多回访".into()),
            issue: None,
            follow_up_on: None,
            note: None,
        };
        let by = Actor { user: a1.clone(), at: now_ms() };
        edit::edit::<CustomerFile, _>(&st, &p, &cid(0), |f| {
            f.record_callback(&target, "a".into(), &by, &result)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let report = campaign_report(&st.db.lock(), "A", &made.campaign_id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((report.summary.total.reached, report.summary.total.satisfaction[3]), (1, 1));
        assert_eq!(report.summary.total.reached_pct, Some(50.0));
        // Another kind or id is not a campaign.
        assert!(matches!(campaign_report(&st.db.lock(), "A", &cid(0)), Err(ServerError::NotFound(_))));
        let bogus = CloseCampaignInput { campaign: cid(0), ..CloseCampaignInput::default() };
        assert!(matches!(close_campaign(&st, &p, &bogus), Err(ServerError::NotFound(_))));
        // Closing cancels the open one; closing twice is refused.
        let close = CloseCampaignInput {
            campaign: made.campaign_id.clone(),
            cancel_open: true,
            note: Some("完成".into()),
        };
        let msg = close_campaign(&st, &p, &close).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg.contains("1 open callbacks cancelled"), "{msg}");
        assert!(matches!(close_campaign(&st, &p, &close), Err(ServerError::BadRequest(_))));
        let rows = campaigns(&st.db.lock(), "A").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((rows[0].status.as_str(), rows[0].done, rows[0].cancelled), ("ended", 1, 1));
        assert_eq!(rows[0].progress_pct, Some(100.0));
    }
}
