//! KPIs (绩效考核): the team's ranking for a month or a year, one person's report with the
//! counts behind every measure, and the team's weights and penalties.
//!
//! The arithmetic is `kefu-kpi`'s (the phone computes the same figures from the same counts);
//! this module loads the team's records, collects each person's facts
//! ([`kefu_kpi::collect_month`], [`kefu_kpi::collect_year`]), evaluates them with the team's
//! configuration (table `kpi_weights`, the crate's defaults when the supervisor never changed
//! them) and ranks the team ([`kefu_kpi::rank`]). Every report states the weights it used.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use kefu_kpi::{
    collect_month, collect_year, evaluate, rank, CollectRules, Grade, KpiReport, Measure, Month, Penalties,
    PersonPeriodFacts, TeamRecords, Weights,
};
use kefu_model::enums::{DocKind, Role};
use kefu_model::records::appearance::AppearanceCheck;
use kefu_model::records::attendance::AttendanceMonth;
use kefu_model::records::customer::CustomerFile;
use kefu_model::records::roster::Roster;
use kefu_model::records::Record;
use kefu_model::KefuDoc;
use maud::{html, Markup};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::form::FormData;
use super::layout::{self, form_fields};
use super::table::{export_links, Cell, Table};
use super::{after_action, blocking, fmt_time, label, today, Ctx, Lang, PageError, Posted};
use crate::auth::{now_ms, Principal};
use crate::error::ServerError;
use crate::http::AppState;

/// KPI pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/kpi", get(team_page))
        .route("/kpi/weights", get(weights_page).post(save_weights))
        .route("/kpi/{user}", get(person_page))
}

// ---- periods ------------------------------------------------------------------------------

/// The period of a report: a calendar month (`2026-11`) or a calendar year (`2026`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One month; the monthly review (allowance).
    Month(Month),
    /// A calendar year, the sum of its twelve months; the yearly review (promotion).
    Year(i32),
}

impl FromStr for Period {
    type Err = ServerError;

    /// `YYYY-MM` (a month) or `YYYY` (a year), years 1970–9999.
    fn from_str(text: &str) -> Result<Period, ServerError> {
        let t = text.trim();
        let bad = || {
            ServerError::BadRequest(format!(
                "期间 {t:?} 无效：应为 YYYY-MM（月）或 YYYY（年） / period {t:?} is not valid: YYYY-MM (a month) or YYYY (a year)"
            ))
        };
        if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) {
            let year: i32 = t.parse().map_err(|_| bad())?;
            return Month::new(year, 1).map(|_| Period::Year(year)).ok_or_else(bad);
        }
        Month::parse(t).map(Period::Month).ok_or_else(bad)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month(m) => write!(f, "{m}"),
            Period::Year(y) => write!(f, "{y:04}"),
        }
    }
}

impl Period {
    /// The current month (local date).
    pub fn this_month() -> Period {
        let d = today();
        Month::new(d.year, d.month).map_or(Period::Year(d.year), Period::Month)
    }

    /// The period before this one (the previous month or year); itself at the lower end.
    pub fn previous(self) -> Period {
        match self {
            Period::Month(m) => {
                let (y, mo) = if m.month() == 1 { (m.year() - 1, 12) } else { (m.year(), m.month() - 1) };
                Month::new(y, mo).map_or(self, Period::Month)
            }
            Period::Year(y) => Month::new(y - 1, 1).map_or(self, |_| Period::Year(y - 1)),
        }
    }

    /// The period after this one; itself at the upper end.
    pub fn next(self) -> Period {
        match self {
            Period::Month(m) => {
                let (y, mo) = if m.month() == 12 { (m.year() + 1, 1) } else { (m.year(), m.month() + 1) };
                Month::new(y, mo).map_or(self, Period::Month)
            }
            Period::Year(y) => Month::new(y + 1, 1).map_or(self, |_| Period::Year(y + 1)),
        }
    }

    /// The year the period lies in.
    pub fn year(self) -> i32 {
        match self {
            Period::Month(m) => m.year(),
            Period::Year(y) => y,
        }
    }

    fn is_year(self) -> bool {
        matches!(self, Period::Year(_))
    }
}

/// A period from a query or form value; absent or empty is the current month.
pub fn parse_period(text: Option<&str>) -> Result<Period, ServerError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(Period::this_month()),
        Some(t) => t.parse(),
    }
}

// ---- configuration ------------------------------------------------------------------------

/// Relative weights of the measures in the composite score (only ratios matter; the score
/// renormalises over the measures a person has data for).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct KpiWeights {
    /// Customer satisfaction (客户满意度).
    pub satisfaction: f64,
    /// Response timeliness (响应及时率).
    pub response_timeliness: f64,
    /// Resolution rate (问题解决率).
    pub resolution: f64,
    /// Complaint handling (投诉处理).
    pub complaint_handling: f64,
    /// Callback completion (回访完成率).
    pub callback_completion: f64,
    /// Attendance (考勤).
    pub attendance: f64,
    /// Appearance (仪容仪表).
    pub appearance: f64,
}

impl Default for KpiWeights {
    fn default() -> Self {
        KpiWeights::from(&Weights::default())
    }
}

impl From<&Weights> for KpiWeights {
    fn from(w: &Weights) -> Self {
        KpiWeights {
            satisfaction: w.satisfaction,
            response_timeliness: w.response_timeliness,
            resolution: w.resolution,
            complaint_handling: w.complaint_handling,
            callback_completion: w.callback_completion,
            attendance: w.attendance,
            appearance: w.appearance,
        }
    }
}

impl From<&KpiWeights> for Weights {
    fn from(w: &KpiWeights) -> Self {
        Weights {
            satisfaction: w.satisfaction,
            response_timeliness: w.response_timeliness,
            resolution: w.resolution,
            complaint_handling: w.complaint_handling,
            callback_completion: w.callback_completion,
            attendance: w.attendance,
            appearance: w.appearance,
        }
    }
}

/// Penalty points, each per occurrence per month (a year divides them by 12).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct KpiPenalties {
    /// Points off complaint handling per reopened complaint.
    pub complaint_reopened: f64,
    /// Points off attendance per late arrival (迟到).
    pub late_arrival: f64,
    /// Points off attendance per early leave (早退).
    pub early_leave: f64,
    /// Points off attendance per absence without approved leave (旷工).
    pub absence: f64,
}

impl Default for KpiPenalties {
    fn default() -> Self {
        KpiPenalties::from(&Penalties::default())
    }
}

impl From<&Penalties> for KpiPenalties {
    fn from(p: &Penalties) -> Self {
        KpiPenalties {
            complaint_reopened: p.complaint_reopened,
            late_arrival: p.late_arrival,
            early_leave: p.early_leave,
            absence: p.absence,
        }
    }
}

impl From<&KpiPenalties> for Penalties {
    fn from(p: &KpiPenalties) -> Self {
        Penalties {
            complaint_reopened: p.complaint_reopened,
            late_arrival: p.late_arrival,
            early_leave: p.early_leave,
            absence: p.absence,
        }
    }
}

/// A team's KPI configuration to set (the input of [`set_weights`]; also what table
/// `kpi_weights` stores as JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct KpiSettingsInput {
    /// Weights of the measures.
    pub weights: KpiWeights,
    /// Penalty points.
    pub penalties: KpiPenalties,
}

impl KpiSettingsInput {
    /// Checks the weights (finite, non-negative, not all zero) and penalties (finite,
    /// non-negative); the message names the problem.
    pub fn validate(&self) -> Result<(), ServerError> {
        Weights::from(&self.weights)
            .validate()
            .map_err(|e| ServerError::BadRequest(format!("权重无效 / invalid weights: {e}")))?;
        Penalties::from(&self.penalties)
            .validate()
            .map_err(|e| ServerError::BadRequest(format!("扣分无效 / invalid penalties: {e}")))
    }
}

/// The KPI configuration a team's reports use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KpiSettings {
    /// Weights of the measures.
    pub weights: KpiWeights,
    /// Penalty points.
    pub penalties: KpiPenalties,
    /// Who last changed them (user id); absent while the defaults apply.
    pub updated_by: Option<String>,
    /// When, Unix ms; absent while the defaults apply.
    pub updated_at: Option<i64>,
}

/// The KPI configuration of `team` (the defaults when none was saved).
pub fn kpi_settings(conn: &Connection, team: &str) -> Result<KpiSettings, ServerError> {
    let row: Option<(String, String, i64)> = conn
        .query_row("SELECT json, updated_by, updated_at FROM kpi_weights WHERE team = ?1", [team], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((json, by, at)) = row else { return Ok(KpiSettings::default()) };
    let saved: KpiSettingsInput = serde_json::from_str(&json)
        .map_err(|e| ServerError::Internal(format!("stored KPI weights of team {team} do not read: {e}")))?;
    Ok(KpiSettings {
        weights: saved.weights,
        penalties: saved.penalties,
        updated_by: Some(by),
        updated_at: Some(at),
    })
}

/// Validates and saves the KPI configuration of `team`.
pub fn store_settings(
    conn: &Connection,
    team: &str,
    input: &KpiSettingsInput,
    by: &str,
    now: i64,
) -> Result<(), ServerError> {
    input.validate()?;
    let json =
        serde_json::to_string(input).map_err(|e| ServerError::Internal(format!("weights json: {e}")))?;
    conn.execute(
        "INSERT INTO kpi_weights (team, json, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (team) DO UPDATE SET json = excluded.json, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        params![team, json, by, now],
    )?;
    Ok(())
}

/// Sets the weights and penalties of the supervisor's own team (`POST /kpi/weights`).
pub fn set_weights(st: &AppState, p: &Principal, input: &KpiSettingsInput) -> Result<String, ServerError> {
    let team = match (&p.role, &p.team) {
        (Role::Supervisor, Some(t)) => t.clone(),
        _ => {
            return Err(ServerError::Forbidden(
                "只有客服主管可以设置本组的绩效权重 / only a supervisor can set the team's KPI weights"
                    .into(),
            ))
        }
    };
    store_settings(&st.db.lock(), &team, input, &p.user_id, now_ms())?;
    Ok(format!("已保存 {team} 的绩效权重 / KPI weights of {team} saved"))
}

// ---- records and reports ------------------------------------------------------------------

/// The records of one team that KPI facts are collected from.
#[derive(Debug, Default)]
pub struct LoadedRecords {
    /// Customer files.
    pub customers: Vec<CustomerFile>,
    /// Attendance months.
    pub attendance: Vec<AttendanceMonth>,
    /// Appearance sheets.
    pub checks: Vec<AppearanceCheck>,
    /// Rosters.
    pub rosters: Vec<Roster>,
}

impl LoadedRecords {
    /// As the collector's view.
    pub fn team_records(&self) -> TeamRecords<'_> {
        TeamRecords {
            customers: &self.customers,
            attendance: &self.attendance,
            checks: &self.checks,
            rosters: &self.rosters,
        }
    }
}

fn load_kind<R: Record>(conn: &Connection, team: &str, kind: DocKind) -> Result<Vec<R>, ServerError> {
    let ids: Vec<String> = conn
        .prepare_cached("SELECT doc_id FROM documents WHERE team = ?1 AND kind = ?2 ORDER BY doc_id")?
        .query_map(params![team, kind.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(stored) = crate::accept::load(conn, &id)? else { continue };
        match KefuDoc::from_automerge(stored.doc).read::<R>() {
            Ok(r) => out.push(r),
            // A record that does not read is left out of the figures, not the whole report.
            Err(e) => tracing::warn!(doc = %id, error = %e, "record left out of the KPIs"),
        }
    }
    Ok(out)
}

/// Loads the customer files, attendance, appearance sheets and rosters of `team`.
pub fn load_records(conn: &Connection, team: &str) -> Result<LoadedRecords, ServerError> {
    Ok(LoadedRecords {
        customers: load_kind(conn, team, DocKind::Customer)?,
        attendance: load_kind(conn, team, DocKind::Attendance)?,
        checks: load_kind(conn, team, DocKind::AppearanceCheck)?,
        rosters: load_kind(conn, team, DocKind::Roster)?,
    })
}

/// The figures of one person and period: the measures (0–100, absent without data), the
/// composite score, the grade band and its allowance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KpiScores {
    /// Customer satisfaction, 0–100 ((mean rating − 1) ÷ 4 × 100).
    pub satisfaction: Option<f64>,
    /// Response timeliness, 0–100 (on time ÷ responses).
    pub response_timeliness: Option<f64>,
    /// Resolution rate, 0–100 (resolved ÷ handled complaints and visits).
    pub resolution: Option<f64>,
    /// Complaint handling, 0–100 (confirmed satisfied ÷ complaints − reopen penalty).
    pub complaint_handling: Option<f64>,
    /// Callback completion, 0–100 (callbacks done, first contacts within a week).
    pub callback_completion: Option<f64>,
    /// Attendance, 0–100 (100 − lateness, early-leave and absence penalties).
    pub attendance: Option<f64>,
    /// Appearance pass rate, 0–100.
    pub appearance: Option<f64>,
    /// Composite score 0–100, one decimal; absent when no weighted measure has data.
    pub score: Option<f64>,
    /// Grade band the score earns: `basic` (基本, ≤ 70), `intermediate` (中级, 70–90),
    /// `senior` (高级, ≥ 90).
    pub grade: Option<String>,
    /// Monthly allowance of that band in yuan: 0, 100 or 200.
    pub allowance_yuan: Option<u32>,
}

fn grade_code(g: Grade) -> &'static str {
    match g {
        Grade::Basic => "basic",
        Grade::Intermediate => "intermediate",
        Grade::Senior => "senior",
    }
}

fn grade_of(code: &str) -> Option<Grade> {
    Grade::ALL.into_iter().find(|g| grade_code(*g) == code)
}

impl From<&KpiReport> for KpiScores {
    fn from(r: &KpiReport) -> Self {
        let m = &r.measures;
        KpiScores {
            satisfaction: m.satisfaction,
            response_timeliness: m.response_timeliness,
            resolution: m.resolution,
            complaint_handling: m.complaint_handling,
            callback_completion: m.callback_completion,
            attendance: m.attendance,
            appearance: m.appearance,
            score: r.score,
            grade: r.grade.map(|g| grade_code(g).to_string()),
            allowance_yuan: r.allowance_yuan,
        }
    }
}

impl KpiScores {
    /// The value of one measure.
    pub fn measure(&self, m: Measure) -> Option<f64> {
        match m {
            Measure::Satisfaction => self.satisfaction,
            Measure::ResponseTimeliness => self.response_timeliness,
            Measure::Resolution => self.resolution,
            Measure::ComplaintHandling => self.complaint_handling,
            Measure::CallbackCompletion => self.callback_completion,
            Measure::Attendance => self.attendance,
            Measure::Appearance => self.appearance,
        }
    }
}

/// One person in the team's ranking.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KpiRow {
    /// Place (1 = best; equal scores share a place); absent without a score.
    pub place: Option<u32>,
    /// User id.
    pub user_id: String,
    /// Name.
    pub name: String,
    /// Role: `agent` or `field`.
    pub role: String,
    /// The account is disabled (listed while the period has their data).
    pub disabled: bool,
    /// Mean satisfaction rating on the 1–5 scale.
    pub mean_satisfaction: Option<f64>,
    /// Measures, score, grade and allowance.
    #[serde(flatten)]
    pub scores: KpiScores,
}

/// A team member whose KPIs are reported.
struct Staff {
    id: String,
    name: String,
    role: String,
    disabled: bool,
}

/// The agents and field staff of `team` (the people KPIs grade).
fn team_staff(conn: &Connection, team: &str) -> Result<Vec<Staff>, ServerError> {
    let mut s = conn.prepare_cached(
        "SELECT id, display_name, role, disabled_at IS NOT NULL FROM users \
         WHERE team = ?1 AND role IN ('agent', 'field') ORDER BY display_name, id",
    )?;
    let rows = s.query_map([team], |r| {
        Ok(Staff { id: r.get(0)?, name: r.get(1)?, role: r.get(2)?, disabled: r.get(3)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn collect(records: &LoadedRecords, staff: &str, period: Period) -> PersonPeriodFacts {
    let rules = CollectRules::default();
    let tr = records.team_records();
    match period {
        Period::Month(m) => collect_month(&tr, staff, m, &rules),
        Period::Year(y) => collect_year(&tr, staff, y, &rules),
    }
}

fn has_data(f: &PersonPeriodFacts) -> bool {
    f != &PersonPeriodFacts { months: f.months, ..PersonPeriodFacts::default() }
}

/// The ranking of `team` for `period` from already loaded records, with `settings`.
pub fn rank_team(
    conn: &Connection,
    team: &str,
    period: Period,
    records: &LoadedRecords,
    settings: &KpiSettings,
) -> Result<Vec<KpiRow>, ServerError> {
    let (weights, penalties) = (Weights::from(&settings.weights), Penalties::from(&settings.penalties));
    let staff = team_staff(conn, team)?;
    let mut reports: Vec<((String, String), KpiReport)> = Vec::with_capacity(staff.len());
    let mut who: BTreeMap<String, &Staff> = BTreeMap::new();
    for s in &staff {
        let facts = collect(records, &s.id, period);
        // A disabled account is listed only for periods that hold their work.
        if s.disabled && !has_data(&facts) {
            continue;
        }
        reports.push(((s.name.clone(), s.id.clone()), evaluate(&facts, &weights, &penalties)));
        who.insert(s.id.clone(), s);
    }
    let places = rank(&mut reports);
    Ok(reports
        .iter()
        .zip(places)
        .map(|(((name, id), report), place)| KpiRow {
            place: place.and_then(|p| u32::try_from(p).ok()),
            user_id: id.clone(),
            name: name.clone(),
            role: who.get(id).map_or_else(String::new, |s| s.role.clone()),
            disabled: who.get(id).is_some_and(|s| s.disabled),
            mean_satisfaction: report.mean_satisfaction,
            scores: KpiScores::from(report),
        })
        .collect())
}

/// The KPI ranking of `team` for `period`: best score first, people without data last
/// (`GET /kpi`).
pub fn kpi_team(conn: &Connection, team: &str, period: Period) -> Result<Vec<KpiRow>, ServerError> {
    let settings = kpi_settings(conn, team)?;
    let records = load_records(conn, team)?;
    rank_team(conn, team, period, &records, &settings)
}

/// The counts a person's measures are computed from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KpiFacts {
    /// Months covered (1 or 12).
    pub months: u32,
    /// Satisfaction ratings (1–5) from callbacks and visits.
    pub satisfaction_ratings_count: u64,
    /// Their sum.
    pub satisfaction_ratings_sum: u64,
    /// Complaint rounds and visits with a target time.
    pub responses_total: u64,
    /// Of those, answered within the target or arrived inside the window.
    pub responses_on_time: u64,
    /// Complaint rounds and visits handled.
    pub handled: u64,
    /// Of those, resolved.
    pub resolved: u64,
    /// Complaints handled (each reopening counts again).
    pub complaints_handled: u64,
    /// Of those, confirmed satisfied by the customer.
    pub complaints_confirmed_satisfied: u64,
    /// Complaints reopened.
    pub complaints_reopened: u64,
    /// Callbacks due in the period (not cancelled).
    pub callbacks_scheduled: u64,
    /// Of those, done.
    pub callbacks_done: u64,
    /// Customers newly assigned to them.
    pub new_assignments: u64,
    /// Of those, contacted within a week.
    pub new_assignments_contacted_within_week: u64,
    /// Rostered or clocked working shifts.
    pub shifts_rostered: u64,
    /// Late arrivals (迟到).
    pub late_count: u64,
    /// Minutes late in total.
    pub late_minutes: u64,
    /// Early leaves (早退).
    pub early_leave_count: u64,
    /// Absences without approved leave (旷工).
    pub absences: u64,
    /// Approved leave, days.
    pub leave_days: f64,
    /// Appearance checks they were checked in.
    pub appearance_checks: u64,
    /// Of those, passed.
    pub appearance_passed: u64,
}

impl From<&PersonPeriodFacts> for KpiFacts {
    fn from(f: &PersonPeriodFacts) -> Self {
        KpiFacts {
            months: f.months,
            satisfaction_ratings_count: f.satisfaction_ratings_count,
            satisfaction_ratings_sum: f.satisfaction_ratings_sum,
            responses_total: f.responses_total,
            responses_on_time: f.responses_on_time,
            handled: f.handled,
            resolved: f.resolved,
            complaints_handled: f.complaints_handled,
            complaints_confirmed_satisfied: f.complaints_confirmed_satisfied,
            complaints_reopened: f.complaints_reopened,
            callbacks_scheduled: f.callbacks_scheduled,
            callbacks_done: f.callbacks_done,
            new_assignments: f.new_assignments,
            new_assignments_contacted_within_week: f.new_assignments_contacted_within_week,
            shifts_rostered: f.shifts_rostered,
            late_count: f.late_count,
            late_minutes: f.late_minutes,
            early_leave_count: f.early_leave_count,
            absences: f.absences,
            leave_days: f.leave_days(),
            appearance_checks: f.appearance_checks,
            appearance_passed: f.appearance_passed,
        }
    }
}

/// One month of a person's year.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KpiMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Measures, score, grade and allowance of that month.
    #[serde(flatten)]
    pub scores: KpiScores,
}

/// One person's KPI report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KpiPerson {
    /// User id.
    pub user_id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// `YYYY-MM` or `YYYY`.
    pub period: String,
    /// The configuration used.
    pub settings: KpiSettings,
    /// The counts.
    pub facts: KpiFacts,
    /// Mean satisfaction rating on the 1–5 scale.
    pub mean_satisfaction: Option<f64>,
    /// Callbacks done ÷ due × 100 (one half of callback completion).
    pub callbacks_done_percent: Option<f64>,
    /// New assignments contacted within a week ÷ new assignments × 100 (the other half).
    pub contacted_within_week_percent: Option<f64>,
    /// Measures, score, grade and allowance of the period.
    #[serde(flatten)]
    pub scores: KpiScores,
    /// For a year: each of its twelve months. Empty for a month.
    pub months: Vec<KpiMonth>,
}

/// One person's KPI report for `period` (`GET /kpi/{user}`). Not found unless `user_id` is an
/// agent, field staff member or supervisor of `team`.
pub fn kpi_person(
    conn: &Connection,
    team: &str,
    user_id: &str,
    period: Period,
) -> Result<KpiPerson, ServerError> {
    let found: Option<(String, String)> = conn
        .query_row(
            "SELECT display_name, role FROM users WHERE id = ?1 AND team = ?2 AND role != 'admin'",
            params![user_id, team],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (name, role) = found
        .ok_or_else(|| ServerError::NotFound(format!("本组没有此人 / no person {user_id} in this team")))?;
    let settings = kpi_settings(conn, team)?;
    let records = load_records(conn, team)?;
    let (weights, penalties) = (Weights::from(&settings.weights), Penalties::from(&settings.penalties));
    let facts = collect(&records, user_id, period);
    let report = evaluate(&facts, &weights, &penalties);
    let months = match period {
        Period::Month(_) => Vec::new(),
        Period::Year(y) => (1..=12)
            .filter_map(|m| Month::new(y, m))
            .map(|m| {
                let f = collect(&records, user_id, Period::Month(m));
                KpiMonth {
                    month: m.to_string(),
                    scores: KpiScores::from(&evaluate(&f, &weights, &penalties)),
                }
            })
            .collect(),
    };
    Ok(KpiPerson {
        user_id: user_id.to_string(),
        name,
        role,
        period: period.to_string(),
        settings,
        facts: KpiFacts::from(&facts),
        mean_satisfaction: report.mean_satisfaction,
        callbacks_done_percent: report.callbacks_done_percent,
        contacted_within_week_percent: report.contacted_within_week_percent,
        scores: KpiScores::from(&report),
        months,
    })
}

// ---- pages ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct KpiQuery {
    period: Option<String>,
    format: Option<String>,
    table: Option<String>,
}

fn measure_label(lang: Lang, m: Measure) -> String {
    match lang {
        Lang::Zh => m.label_zh().to_string(),
        Lang::En => {
            let en = m.label_en();
            let mut c = en.chars();
            c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
        }
    }
}

fn grade_label(lang: Lang, code: Option<&str>) -> Cell {
    code.and_then(grade_of).map_or(Cell::Empty, |g| lang.t(g.label_zh(), g.label_en()).into())
}

fn role_label(lang: Lang, role: &str) -> String {
    role.parse::<Role>().map_or_else(|_| role.to_string(), |r| label(lang, r.label_zh(), r.as_str()))
}

fn num(x: Option<f64>) -> Cell {
    x.map_or(Cell::Empty, Cell::Num)
}

fn fmt_weight(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e12 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// "Weights: …; penalties: …" as stated under every report.
fn settings_note(ctx: &Ctx, s: &KpiSettings, people: &BTreeMap<String, String>) -> Markup {
    let w = Weights::from(&s.weights);
    let p = &s.penalties;
    html! {
        p.muted.weights {
            (ctx.t("所用权重：", "Weights used: "))
            @for (i, m) in Measure::ALL.iter().enumerate() {
                @if i > 0 { " · " }
                (measure_label(ctx.lang, *m)) " " (fmt_weight(w.get(*m)))
            }
            br;
            (ctx.t("扣分（每次每月）：投诉重开 ", "Penalties (per occurrence per month): reopened complaint "))
            (fmt_weight(p.complaint_reopened))
            (ctx.t("，迟到 ", ", late arrival ")) (fmt_weight(p.late_arrival))
            (ctx.t("，早退 ", ", early leave ")) (fmt_weight(p.early_leave))
            (ctx.t("，旷工 ", ", absence ")) (fmt_weight(p.absence))
            br;
            @match (&s.updated_by, s.updated_at) {
                (Some(by), Some(at)) => {
                    (ctx.t("由 ", "Set by ")) (people.get(by).cloned().unwrap_or_else(|| by.clone()))
                    (ctx.t(" 于 ", " on ")) (fmt_time(at)) (ctx.t(" 设置", ""))
                }
                _ => (ctx.t("默认权重（尚未调整）", "Default weights (never changed)")),
            }
            " · " a href="/kpi/weights" { (ctx.t("调整权重", "Change the weights")) }
        }
    }
}

fn names(conn: &Connection) -> Result<BTreeMap<String, String>, ServerError> {
    let mut s = conn.prepare_cached("SELECT id, display_name FROM users")?;
    let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn period_name(ctx: &Ctx, p: Period) -> String {
    match p {
        Period::Month(m) => match ctx.lang {
            Lang::Zh => format!("{} 年 {} 月", m.year(), m.month()),
            Lang::En => m.to_string(),
        },
        Period::Year(y) => match ctx.lang {
            Lang::Zh => format!("{y} 年全年"),
            Lang::En => format!("the year {y}"),
        },
    }
}

/// The period chooser: a form, and links to the neighbouring periods.
fn period_bar(ctx: &Ctx, action: &str, period: Option<Period>) -> Markup {
    let now = Period::this_month();
    let link = |p: Period| format!("{action}?period={p}");
    html! {
        form.bar method="get" action=(action) {
            label { (ctx.t("期间（月 YYYY-MM 或年 YYYY）", "Period (month YYYY-MM or year YYYY)"))
                input name="period" value=(period.map(|p| p.to_string()).unwrap_or_default()) placeholder="2026-11"; }
            button.primary type="submit" { (ctx.t("查看", "Show")) }
            span {
                @if let Some(p) = period {
                    a href=(link(p.previous())) { "← " (ctx.t("上一期", "previous")) } " · "
                    a href=(link(p.next())) { (ctx.t("下一期", "next")) " →" } " · "
                    @if let Period::Month(_) = p { a href=(link(Period::Year(p.year()))) { (ctx.t("全年", "whole year")) } " · " }
                }
                a href=(link(now)) { (ctx.t("本月", "this month")) } " · "
                a href=(link(now.previous())) { (ctx.t("上月", "last month")) } " · "
                a href=(link(Period::Year(now.year()))) { (ctx.t("今年", "this year")) }
            }
        }
    }
}

fn measure_columns(lang: Lang) -> Vec<String> {
    Measure::ALL.iter().map(|m| measure_label(lang, *m)).collect()
}

/// The team ranking as a table.
pub fn team_table(ctx: &Ctx, period: Period, rows: &[KpiRow]) -> Table {
    let lang = ctx.lang;
    let measures = measure_columns(lang);
    let mut cols = vec![ctx.t("名次", "Place"), ctx.t("姓名", "Name"), ctx.t("岗位", "Role")];
    cols.extend(measures.iter().map(String::as_str));
    cols.extend([
        ctx.t("综合得分", "Score"),
        ctx.t("等级", "Grade"),
        ctx.t("津贴（元）", "Allowance (¥)"),
        ctx.t("平均满意度（1–5）", "Mean rating (1–5)"),
    ]);
    let mut t = Table::new(&format!("kpi-{period}"), &format!("{} {period}", ctx.t("绩效", "KPI")), &cols);
    for r in rows {
        let mut row: Vec<Cell> = vec![
            r.place.map_or(Cell::Empty, |p| Cell::Int(i64::from(p))),
            Cell::Link(
                if r.disabled {
                    format!("{} ({})", r.name, ctx.t("已停用", "disabled"))
                } else {
                    r.name.clone()
                },
                format!("/kpi/{}?period={period}", r.user_id),
            ),
            role_label(lang, &r.role).into(),
        ];
        row.extend(Measure::ALL.iter().map(|m| num(r.scores.measure(*m))));
        row.push(num(r.scores.score));
        row.push(grade_label(lang, r.scores.grade.as_deref()));
        row.push(r.scores.allowance_yuan.map_or(Cell::Empty, |a| Cell::Int(i64::from(a))));
        row.push(r.mean_satisfaction.map_or(Cell::Empty, |m| Cell::Text(format!("{m:.2}"))));
        t.push_warn(row, r.scores.score.is_none());
    }
    t
}

fn export_label(ctx: &Ctx) -> (&str, &str) {
    (ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel"))
}

fn provisional_note(ctx: &Ctx, period: Period) -> Markup {
    let t = today();
    let open = match period {
        Period::Month(m) => m.last_day() >= t,
        Period::Year(y) => y >= t.year,
    };
    html! {
        @if open {
            p.muted { (ctx.t("本期尚未结束：未到期的回访、投诉时限和首次联系期限仍计为未完成，数字会变化。",
                "This period is not over yet: callbacks, complaint targets and first-contact weeks not yet due count as not done, so the figures will change.")) }
        }
    }
}

async fn team_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<KpiQuery>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let period = match parse_period(q.period.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            if q.format.is_some() {
                return Err(ctx.error(e));
            }
            let body = html! {
                (period_bar(&ctx, "/kpi", None))
                div.flash.err role="alert" { (e.to_string()) }
            };
            let mut r = layout::page(&ctx, ctx.t("绩效考核", "KPIs"), body);
            *r.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            return Ok(r);
        }
    };
    let db = state.db.clone();
    let t = team.clone();
    let (rows, settings, people) = blocking(ctx.lang, move || {
        let conn = db.lock();
        let settings = kpi_settings(&conn, &t)?;
        let records = load_records(&conn, &t)?;
        Ok((rank_team(&conn, &t, period, &records, &settings)?, settings, names(&conn)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let table = team_table(&ctx, period, &rows);
    if let Some(fmt) = q.format.as_deref() {
        return table.download(fmt).map_err(|e| ctx.error(e));
    }
    let (csv, excel) = export_label(&ctx);
    let graded = rows.iter().filter(|r| r.scores.score.is_some()).count();
    let count = |code: &str| rows.iter().filter(|r| r.scores.grade.as_deref() == Some(code)).count();
    let allowance: u32 = rows.iter().filter_map(|r| r.scores.allowance_yuan).sum();
    let body = html! {
        (period_bar(&ctx, "/kpi", Some(period)))
        h2 { (team) " · " (period_name(&ctx, period)) }
        (provisional_note(&ctx, period))
        div.cards {
            div.card { div.n { (graded) } (ctx.t("人有得分", "people scored")) }
            div.card { div.n { (count("senior")) } (ctx.t("高级（≥ 90，¥200）", "senior (≥ 90, ¥200)")) }
            div.card { div.n { (count("intermediate")) } (ctx.t("中级（70–90，¥100）", "intermediate (70–90, ¥100)")) }
            div.card { div.n { (count("basic")) } (ctx.t("基本（≤ 70，无津贴）", "basic (≤ 70, none)")) }
            @if !period.is_year() { div.card { div.n { "¥" (allowance) } (ctx.t("本月津贴合计", "allowances this month")) } }
        }
        (export_links(&ctx.here, csv, excel))
        (table.html(ctx.t("本组没有客服专员或售后人员", "The team has no agents or field staff")))
        p.muted { (ctx.t("各项 0–100；空白表示本期没有可计算的数据，该项不计入综合得分（其余各项按权重重新归一）。名次相同表示得分相同。",
            "Each measure is 0–100; blank means no data in the period, and the measure then does not count (the others are reweighted). Equal places mean equal scores.")) }
        @if period.is_year() {
            p.muted { (ctx.t("年度按 12 个月合计计算，扣分按月平均；等级为本年得分对应的等级（晋升逐级进行）。",
                "A year adds up its 12 months, with penalties per month; the grade is the band the year's score earns (promotion goes one band at a time).")) }
        }
        (settings_note(&ctx, &settings, &people))
    };
    Ok(layout::page(&ctx, ctx.t("绩效考核", "KPIs"), body))
}

/// The measures of one report: value, weight and what it was computed from.
fn measures_table(ctx: &Ctx, r: &KpiPerson) -> Table {
    let f = &r.facts;
    let w = Weights::from(&r.settings.weights);
    let pct = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| format!("{v:.1}%"));
    let basis = |m: Measure| -> String {
        match (m, ctx.lang) {
            (Measure::Satisfaction, Lang::Zh) => match r.mean_satisfaction {
                Some(mean) => format!("平均 {mean:.2} 分（{} 条评价）", f.satisfaction_ratings_count),
                None => "没有评价".into(),
            },
            (Measure::Satisfaction, Lang::En) => match r.mean_satisfaction {
                Some(mean) => format!("mean {mean:.2} of 5 ({} ratings)", f.satisfaction_ratings_count),
                None => "no ratings".into(),
            },
            (Measure::ResponseTimeliness, Lang::Zh) => {
                format!("按时 {} / {}（投诉与上门）", f.responses_on_time, f.responses_total)
            }
            (Measure::ResponseTimeliness, Lang::En) => {
                format!("{} of {} on time (complaints and visits)", f.responses_on_time, f.responses_total)
            }
            (Measure::Resolution, Lang::Zh) => format!("解决 {} / 处理 {}", f.resolved, f.handled),
            (Measure::Resolution, Lang::En) => format!("{} resolved of {} handled", f.resolved, f.handled),
            (Measure::ComplaintHandling, Lang::Zh) => format!(
                "确认满意 {} / 投诉 {}，重开 {} 次",
                f.complaints_confirmed_satisfied, f.complaints_handled, f.complaints_reopened
            ),
            (Measure::ComplaintHandling, Lang::En) => format!(
                "{} confirmed satisfied of {} complaints, {} reopened",
                f.complaints_confirmed_satisfied, f.complaints_handled, f.complaints_reopened
            ),
            (Measure::CallbackCompletion, Lang::Zh) => format!(
                "回访完成 {} / {}（{}）；一周内首次联系 {} / {}（{}）",
                f.callbacks_done,
                f.callbacks_scheduled,
                pct(r.callbacks_done_percent),
                f.new_assignments_contacted_within_week,
                f.new_assignments,
                pct(r.contacted_within_week_percent)
            ),
            (Measure::CallbackCompletion, Lang::En) => format!(
                "callbacks done {} of {} ({}); new customers contacted within a week {} of {} ({})",
                f.callbacks_done,
                f.callbacks_scheduled,
                pct(r.callbacks_done_percent),
                f.new_assignments_contacted_within_week,
                f.new_assignments,
                pct(r.contacted_within_week_percent)
            ),
            (Measure::Attendance, Lang::Zh) => format!(
                "排班 {} 天；迟到 {} 次（{} 分钟），早退 {} 次，旷工 {} 次，请假 {} 天",
                f.shifts_rostered,
                f.late_count,
                f.late_minutes,
                f.early_leave_count,
                f.absences,
                f.leave_days
            ),
            (Measure::Attendance, Lang::En) => format!(
                "{} shifts; late {} times ({} min), left early {}, absent {}, leave {} days",
                f.shifts_rostered,
                f.late_count,
                f.late_minutes,
                f.early_leave_count,
                f.absences,
                f.leave_days
            ),
            (Measure::Appearance, Lang::Zh) => {
                format!("通过 {} / {} 次检查", f.appearance_passed, f.appearance_checks)
            }
            (Measure::Appearance, Lang::En) => {
                format!("passed {} of {} checks", f.appearance_passed, f.appearance_checks)
            }
        }
    };
    let mut t = Table::new(
        &format!("kpi-{}-{}", r.user_id, r.period),
        &format!("{} {}", r.name, r.period),
        &[
            ctx.t("指标", "Measure"),
            ctx.t("得分（0–100）", "Value (0–100)"),
            ctx.t("权重", "Weight"),
            ctx.t("依据", "Computed from"),
        ],
    );
    for m in Measure::ALL {
        t.push(vec![
            measure_label(ctx.lang, m).into(),
            num(r.scores.measure(m)),
            Cell::Num(w.get(m)),
            basis(m).into(),
        ]);
    }
    t.push(vec![ctx.t("综合得分", "Composite score").into(), num(r.scores.score), Cell::Empty, Cell::Empty]);
    t.push(vec![
        ctx.t("等级", "Grade").into(),
        grade_label(ctx.lang, r.scores.grade.as_deref()),
        Cell::Empty,
        Cell::Empty,
    ]);
    t.push(vec![
        ctx.t("津贴（元/月）", "Allowance (¥ a month)").into(),
        r.scores.allowance_yuan.map_or(Cell::Empty, |a| Cell::Int(i64::from(a))),
        Cell::Empty,
        Cell::Empty,
    ]);
    t
}

/// The counts of one report.
fn facts_table(ctx: &Ctx, r: &KpiPerson) -> Table {
    let f = &r.facts;
    let mut t = Table::new(
        &format!("kpi-facts-{}-{}", r.user_id, r.period),
        &format!("{} {}", r.name, r.period),
        &[ctx.t("项目", "Count"), ctx.t("数值", "Value")],
    );
    let rows: [(&str, &str, u64); 21] = [
        ("月数", "months", u64::from(f.months)),
        ("满意度评价条数", "satisfaction ratings", f.satisfaction_ratings_count),
        ("评价分数合计", "sum of ratings", f.satisfaction_ratings_sum),
        (
            "有时限的响应（投诉轮次与上门）",
            "responses with a target (complaint rounds, visits)",
            f.responses_total,
        ),
        ("按时响应", "on time", f.responses_on_time),
        ("处理（投诉与上门）", "handled (complaints, visits)", f.handled),
        ("已解决", "resolved", f.resolved),
        ("处理投诉", "complaints handled", f.complaints_handled),
        ("确认满意", "confirmed satisfied", f.complaints_confirmed_satisfied),
        ("投诉重开", "complaints reopened", f.complaints_reopened),
        ("到期回访", "callbacks due", f.callbacks_scheduled),
        ("完成回访", "callbacks done", f.callbacks_done),
        ("新分配客户", "new assignments", f.new_assignments),
        ("一周内首次联系", "contacted within a week", f.new_assignments_contacted_within_week),
        ("排班天数", "shifts", f.shifts_rostered),
        ("迟到次数", "late arrivals", f.late_count),
        ("迟到分钟", "minutes late", f.late_minutes),
        ("早退次数", "early leaves", f.early_leave_count),
        ("旷工次数", "absences", f.absences),
        ("仪容仪表检查", "appearance checks", f.appearance_checks),
        ("仪容仪表通过", "appearance passed", f.appearance_passed),
    ];
    for (zh, en, n) in rows {
        t.push(vec![ctx.t(zh, en).into(), Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))]);
    }
    t.push(vec![ctx.t("请假天数", "leave days").into(), Cell::Num(f.leave_days)]);
    t
}

/// The twelve months of a year's report.
fn months_table(ctx: &Ctx, r: &KpiPerson) -> Table {
    let measures = measure_columns(ctx.lang);
    let mut cols = vec![ctx.t("月份", "Month")];
    cols.extend(measures.iter().map(String::as_str));
    cols.extend([ctx.t("综合得分", "Score"), ctx.t("等级", "Grade"), ctx.t("津贴（元）", "Allowance (¥)")]);
    let mut t = Table::new(
        &format!("kpi-months-{}-{}", r.user_id, r.period),
        &format!("{} {}", r.name, r.period),
        &cols,
    );
    let today = today();
    for m in &r.months {
        // A month not yet begun has only work that is not yet due: say so.
        let future = Month::parse(&m.month).is_some_and(|x| x.first_day() > today);
        let text = if future {
            format!("{}{}", m.month, ctx.t("（未开始）", " (not yet begun)"))
        } else {
            m.month.clone()
        };
        let mut row: Vec<Cell> = vec![Cell::Link(text, format!("/kpi/{}?period={}", r.user_id, m.month))];
        row.extend(Measure::ALL.iter().map(|x| num(m.scores.measure(*x))));
        row.push(num(m.scores.score));
        row.push(grade_label(ctx.lang, m.scores.grade.as_deref()));
        row.push(m.scores.allowance_yuan.map_or(Cell::Empty, |a| Cell::Int(i64::from(a))));
        t.push_warn(row, m.scores.score.is_none());
    }
    t
}

async fn person_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(user): Path<String>,
    Query(q): Query<KpiQuery>,
) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let period = parse_period(q.period.as_deref()).map_err(|e| ctx.error(e))?;
    let db = state.db.clone();
    let u = user.clone();
    let (r, people) = blocking(ctx.lang, move || {
        let conn = db.lock();
        Ok((kpi_person(&conn, &team, &u, period)?, names(&conn)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let measures = measures_table(&ctx, &r);
    let facts = facts_table(&ctx, &r);
    let months = months_table(&ctx, &r);
    if let Some(fmt) = q.format.as_deref() {
        let t = match q.table.as_deref() {
            Some("facts") => &facts,
            Some("months") if period.is_year() => &months,
            _ => &measures,
        };
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let base = format!("/kpi/{}?period={period}", r.user_id);
    let (csv, excel) = export_label(&ctx);
    let score = r.scores.score.map_or_else(|| "—".to_string(), |s| format!("{s:.1}"));
    let grade = r.scores.grade.as_deref().and_then(grade_of);
    let body = html! {
        (period_bar(&ctx, &format!("/kpi/{}", r.user_id), Some(period)))
        p { a href={ "/kpi?period=" (period) } { "← " (ctx.t("本组排名", "team ranking")) } }
        h2 { (r.name) " · " (role_label(ctx.lang, &r.role)) " · " (period_name(&ctx, period)) }
        (provisional_note(&ctx, period))
        div.cards {
            div.card { div.n { (score) } (ctx.t("综合得分", "composite score")) }
            div.card { div.n { (grade.map_or("—", |g| ctx.t(g.label_zh(), g.label_en()))) } (ctx.t("等级", "grade band")) }
            div.card { div.n { "¥" (r.scores.allowance_yuan.unwrap_or(0)) } (ctx.t("每月津贴", "allowance a month")) }
        }
        h2 { (ctx.t("各项指标", "Measures")) }
        (export_links(&base, csv, excel))
        (measures.html(""))
        @if period.is_year() {
            h2 { (ctx.t("逐月", "Month by month")) }
            (export_links(&format!("{base}&table=months"), csv, excel))
            (months.html(""))
        }
        h2 { (ctx.t("计数", "Counts")) }
        (export_links(&format!("{base}&table=facts"), csv, excel))
        (facts.html(""))
        (settings_note(&ctx, &r.settings, &people))
    };
    Ok(layout::page(&ctx, &format!("{} · {}", ctx.t("绩效报告", "KPI report"), r.name), body))
}

async fn weights_page(State(state): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    let team = ctx.team()?;
    let db = state.db.clone();
    let (s, people) = blocking(ctx.lang, move || {
        let conn = db.lock();
        Ok((kpi_settings(&conn, &team)?, names(&conn)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let w = Weights::from(&s.weights);
    let d = Weights::default();
    let dp = Penalties::default();
    let penalties: [(&str, &str, &str, f64, f64); 4] = [
        (
            "penalty_complaint_reopened",
            "投诉重开（扣投诉处理分）",
            "reopened complaint (off complaint handling)",
            s.penalties.complaint_reopened,
            dp.complaint_reopened,
        ),
        (
            "penalty_late_arrival",
            "迟到（扣考勤分）",
            "late arrival (off attendance)",
            s.penalties.late_arrival,
            dp.late_arrival,
        ),
        (
            "penalty_early_leave",
            "早退（扣考勤分）",
            "early leave (off attendance)",
            s.penalties.early_leave,
            dp.early_leave,
        ),
        ("penalty_absence", "旷工（扣考勤分）", "absence (off attendance)", s.penalties.absence, dp.absence),
    ];
    let body = html! {
        p { a href="/kpi" { "← " (ctx.t("绩效考核", "KPIs")) } }
        p.muted { (ctx.t("权重只看比例：综合得分是有数据的各项的加权平均，不必合计为 100。权重须为非负数，且不能全为 0。扣分为每次每月的分数，年度按月平均。",
            "Only the ratios of the weights matter: the score is the weighted mean of the measures with data, so they need not add up to 100. Weights must be non-negative and not all zero. Penalties are points per occurrence per month; a year averages them per month.")) }
        form.stack method="post" action="/kpi/weights" {
            (form_fields(&ctx))
            h2 { (ctx.t("权重", "Weights")) }
            @for m in Measure::ALL {
                label { (measure_label(ctx.lang, m)) " (" (ctx.t("默认 ", "default ")) (fmt_weight(d.get(m))) ")"
                    input type="number" step="any" min="0" name=(measure_key(m)) value=(fmt_weight(w.get(m))) required; }
            }
            h2 { (ctx.t("扣分", "Penalties")) }
            @for (name, zh, en, v, def) in penalties {
                label { (ctx.t(zh, en)) " (" (ctx.t("默认 ", "default ")) (fmt_weight(def)) ")"
                    input type="number" step="any" min="0" name=(name) value=(fmt_weight(v)) required; }
            }
            div {
                button.primary type="submit" { (ctx.t("保存", "Save")) } " "
                button type="submit" name="reset" value="1" formnovalidate { (ctx.t("恢复默认值", "Restore the defaults")) }
            }
        }
        (settings_note(&ctx, &s, &people))
    };
    Ok(layout::page(&ctx, ctx.t("绩效权重", "KPI weights"), body))
}

fn measure_key(m: Measure) -> &'static str {
    match m {
        Measure::Satisfaction => "satisfaction",
        Measure::ResponseTimeliness => "response_timeliness",
        Measure::Resolution => "resolution",
        Measure::ComplaintHandling => "complaint_handling",
        Measure::CallbackCompletion => "callback_completion",
        Measure::Attendance => "attendance",
        Measure::Appearance => "appearance",
    }
}

/// Reads the weights form (every field required, numbers).
pub fn settings_from_form(form: &FormData) -> Result<KpiSettingsInput, ServerError> {
    if form.checked("reset") {
        return Ok(KpiSettingsInput::default());
    }
    let n = |name: &str, label: &str| form.parsed::<f64>(name, label);
    let m = |x: Measure| n(measure_key(x), x.label_zh());
    Ok(KpiSettingsInput {
        weights: KpiWeights {
            satisfaction: m(Measure::Satisfaction)?,
            response_timeliness: m(Measure::ResponseTimeliness)?,
            resolution: m(Measure::Resolution)?,
            complaint_handling: m(Measure::ComplaintHandling)?,
            callback_completion: m(Measure::CallbackCompletion)?,
            attendance: m(Measure::Attendance)?,
            appearance: m(Measure::Appearance)?,
        },
        penalties: KpiPenalties {
            complaint_reopened: n("penalty_complaint_reopened", "投诉重开扣分")?,
            late_arrival: n("penalty_late_arrival", "迟到扣分")?,
            early_leave: n("penalty_early_leave", "早退扣分")?,
            absence: n("penalty_absence", "旷工扣分")?,
        },
    })
}

async fn save_weights(State(state): State<AppState>, posted: Posted) -> Response {
    let ctx = &posted.ctx;
    if let Err(e) = ctx.team() {
        return e.into_response();
    }
    let result = match settings_from_form(&posted.form) {
        Err(e) => Err(e),
        Ok(input) => {
            let st = state.clone();
            let p = ctx.p.clone();
            tokio::task::spawn_blocking(move || set_weights(&st, &p, &input))
                .await
                .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string())))
        }
    };
    after_action(ctx.lang, &posted.back, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_model::automerge::ActorId;
    use kefu_model::enums::{CallbackOutcome, ContactChannel, SourceChannel};
    use kefu_model::records::customer::Profile;
    use kefu_model::verbs::{Actor, CallbackResult, NewCallback};
    use kefu_model::Author;

    use crate::auth::{add_user, NewUser};

    fn db() -> (tempfile::TempDir, crate::db::Db) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, db)
    }

    fn user(conn: &Connection, username: &str, name: &str, role: Role, team: &str) -> String {
        let u = NewUser {
            username: username.into(),
            role,
            team: Some(team.into()),
            display_name: Some(name.into()),
        };
        add_user(conn, &u, "password-1").unwrap_or_else(|e| panic!("{e}"))
    }

    /// 2026-11-10 10:00 in Beijing.
    const AT: i64 = 1_794_276_000_000;

    /// A customer of team A with callbacks of `agent` due on 2026-11-05: one done with each
    /// rating, and `open` more not done.
    fn customer_with_callbacks(conn: &Connection, doc_id: &str, agent: &str, ratings: &[i64], open: usize) {
        let profile = Profile {
            name: "王女士".into(),
            phones: vec!["13800000000".into()],
            email: None,
            wechat: None,
            address: None,
            district: None,
            source: SourceChannel::Phone,
        };
        let mut c = CustomerFile::new("A", profile, "sup", AT);
        let by = Actor { user: agent.into(), at: AT };
        let new = NewCallback {
            agent: agent.into(),
            date: "2026-11-05".into(),
            method: ContactChannel::Phone,
            campaign: None,
            visit: None,
        };
        for (i, r) in ratings.iter().enumerate() {
            let id = format!("cb{i}");
            c.schedule_callback(id.clone(), &by, &new);
            let result = CallbackResult {
                method: ContactChannel::Phone,
                outcome: CallbackOutcome::Satisfied,
                satisfaction: Some(*r),
                evaluation: None,
                suggestions: None,
                issue: None,
                follow_up_on: None,
                note: None,
            };
            c.record_callback(&id, format!("a{i}"), &by, &result).unwrap_or_else(|e| panic!("{e}"));
        }
        for i in 0..open {
            c.schedule_callback(format!("open{i}"), &by, &new);
        }
        let mut doc = KefuDoc::create(
            &c,
            ActorId::random(),
            &Author { user: "sup".into(), device: "sup-web".into() },
            AT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let p = Principal {
            user_id: "sup".into(),
            device_id: "sup-web".into(),
            role: Role::Supervisor,
            team: Some("A".into()),
        };
        let changes = doc.automerge().get_changes(&[]);
        crate::accept::accept(conn, &p, doc_id, changes, AT).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn periods_parse_as_months_or_years() {
        let nov = Month::new(2026, 11).unwrap_or_else(|| panic!("month"));
        assert_eq!("2026-11".parse::<Period>().ok(), Some(Period::Month(nov)));
        assert_eq!(" 2026 ".parse::<Period>().ok(), Some(Period::Year(2026)));
        for bad in ["2026-13", "2026-1", "26", "20261", "1969", "abcd", "2026-11-01", "", "2026-00"] {
            assert!(
                matches!(bad.parse::<Period>(), Err(ServerError::BadRequest(_))),
                "{bad:?} should be refused"
            );
        }
        assert_eq!(Period::Month(nov).to_string(), "2026-11");
        assert_eq!(Period::Year(2026).to_string(), "2026");
        let jan = Month::new(2027, 1).unwrap_or_else(|| panic!("month"));
        assert_eq!(Period::Month(nov).next().next(), Period::Month(jan));
        assert_eq!(Period::Month(jan).previous().previous(), Period::Month(nov));
        assert_eq!(Period::Year(2026).previous(), Period::Year(2025));
        assert_eq!(parse_period(None).ok(), Some(Period::this_month()));
        assert_eq!(parse_period(Some("  ")).ok(), Some(Period::this_month()));
    }

    #[test]
    fn the_team_is_ranked_from_its_records() {
        let (_d, db) = db();
        let conn = db.lock();
        let li = user(&conn, "li", "李娜", Role::Agent, "A");
        let wang = user(&conn, "wang", "王芳", Role::Agent, "A");
        let zhang = user(&conn, "zhang", "张伟", Role::Field, "A");
        let other = user(&conn, "other", "外组", Role::Agent, "B");
        // 李娜: two fives, all done → satisfaction 100, callbacks 100.
        customer_with_callbacks(&conn, "c1", &li, &[5, 5], 0);
        // 王芳: a three and one open callback → satisfaction 50, callbacks 50.
        customer_with_callbacks(&conn, "c2", &wang, &[3], 1);
        let nov = Period::Month(Month::new(2026, 11).unwrap_or_else(|| panic!("month")));
        let rows = kpi_team(&conn, "A", nov).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
        assert_eq!(ids, vec![li.as_str(), wang.as_str(), zhang.as_str()], "other teams are left out");
        assert!(!ids.contains(&other.as_str()));
        let first = &rows[0];
        assert_eq!(first.place, Some(1));
        assert_eq!(first.scores.satisfaction, Some(100.0));
        assert_eq!(first.scores.callback_completion, Some(100.0));
        assert_eq!(first.scores.score, Some(100.0));
        assert_eq!(first.scores.grade.as_deref(), Some("senior"));
        assert_eq!(first.scores.allowance_yuan, Some(200));
        assert_eq!(first.mean_satisfaction, Some(5.0));
        let second = &rows[1];
        assert_eq!(second.place, Some(2));
        assert_eq!(second.scores.satisfaction, Some(50.0));
        assert_eq!(second.scores.callback_completion, Some(50.0));
        // (25 × 50 + 15 × 50) ÷ 40 = 50 → basic.
        assert_eq!(second.scores.score, Some(50.0));
        assert_eq!(second.scores.grade.as_deref(), Some("basic"));
        assert_eq!(second.scores.allowance_yuan, Some(0));
        // 张伟 has no records: listed last, without place or score.
        assert_eq!((rows[2].place, rows[2].scores.score), (None, None));
        // The year holds November's work; December has none.
        let year = kpi_team(&conn, "A", Period::Year(2026)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(year[0].scores.score, Some(100.0));
        let dec = Period::Month(Month::new(2026, 12).unwrap_or_else(|| panic!("month")));
        let empty = kpi_team(&conn, "A", dec).unwrap_or_else(|e| panic!("{e}"));
        assert!(empty.iter().all(|r| r.scores.score.is_none()));

        // One person's year: the counts, and November among the twelve months.
        let p = kpi_person(&conn, "A", &wang, Period::Year(2026)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.facts.callbacks_scheduled, 2);
        assert_eq!(p.facts.callbacks_done, 1);
        assert_eq!(p.facts.months, 12);
        assert_eq!(p.months.len(), 12);
        assert_eq!(p.months[10].month, "2026-11");
        assert_eq!(p.months[10].scores.score, Some(50.0));
        assert_eq!(p.months[9].scores.score, None);
        assert_eq!(p.settings, KpiSettings::default());
        // Someone of another team is not found.
        assert!(matches!(kpi_person(&conn, "A", &other, nov), Err(ServerError::NotFound(_))));
    }

    #[test]
    fn weights_are_validated_stored_and_used() {
        let (_d, db) = db();
        let conn = db.lock();
        let li = user(&conn, "li", "李娜", Role::Agent, "A");
        customer_with_callbacks(&conn, "c1", &li, &[3], 1);
        assert_eq!(kpi_settings(&conn, "A").unwrap_or_else(|e| panic!("{e}")), KpiSettings::default());

        // Bad configurations are refused with a message and nothing is stored.
        let mut bad = KpiSettingsInput::default();
        bad.weights.resolution = -1.0;
        assert!(
            matches!(store_settings(&conn, "A", &bad, "sup", 1), Err(ServerError::BadRequest(m)) if m.contains("negative"))
        );
        let zero = KpiSettingsInput {
            weights: KpiWeights {
                satisfaction: 0.0,
                response_timeliness: 0.0,
                resolution: 0.0,
                complaint_handling: 0.0,
                callback_completion: 0.0,
                attendance: 0.0,
                appearance: 0.0,
            },
            penalties: KpiPenalties::default(),
        };
        assert!(matches!(store_settings(&conn, "A", &zero, "sup", 1), Err(ServerError::BadRequest(_))));
        let mut nan = KpiSettingsInput::default();
        nan.penalties.absence = f64::NAN;
        assert!(matches!(store_settings(&conn, "A", &nan, "sup", 1), Err(ServerError::BadRequest(_))));
        assert_eq!(kpi_settings(&conn, "A").unwrap_or_else(|e| panic!("{e}")).updated_by, None);

        // Only satisfaction counts: the score is the satisfaction measure.
        let mut only = zero.clone();
        only.weights.satisfaction = 1.0;
        store_settings(&conn, "A", &only, "sup", 42).unwrap_or_else(|e| panic!("{e}"));
        let s = kpi_settings(&conn, "A").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.updated_by.as_deref(), s.updated_at), (Some("sup"), Some(42)));
        assert_eq!(s.weights, only.weights);
        let nov = Period::Month(Month::new(2026, 11).unwrap_or_else(|| panic!("month")));
        let rows = kpi_team(&conn, "A", nov).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows[0].scores.score, Some(50.0));
        // Another team keeps the defaults; saving again replaces.
        assert_eq!(kpi_settings(&conn, "B").unwrap_or_else(|e| panic!("{e}")), KpiSettings::default());
        store_settings(&conn, "A", &KpiSettingsInput::default(), "sup2", 43)
            .unwrap_or_else(|e| panic!("{e}"));
        let s = kpi_settings(&conn, "A").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.weights, s.updated_by.as_deref()), (KpiWeights::default(), Some("sup2")));
    }

    #[test]
    fn the_weights_form_is_read_and_checked() {
        let form = |s: &str| FormData::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let full = "satisfaction=30&response_timeliness=10&resolution=10&complaint_handling=10&callback_completion=20\
                    &attendance=10&appearance=10&penalty_complaint_reopened=5&penalty_late_arrival=1\
                    &penalty_early_leave=1&penalty_absence=8";
        let input = settings_from_form(&form(full)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input.weights.satisfaction, 30.0);
        assert_eq!(input.penalties.absence, 8.0);
        assert!(input.validate().is_ok());
        let missing = settings_from_form(&form("satisfaction=30"));
        assert!(matches!(missing, Err(ServerError::BadRequest(_))));
        let words = settings_from_form(&form(&full.replace("satisfaction=30", "satisfaction=abc")));
        assert!(matches!(words, Err(ServerError::BadRequest(m)) if m.contains("abc")));
        let reset = settings_from_form(&form("reset=1&satisfaction=-5")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reset, KpiSettingsInput::default());
    }
}
