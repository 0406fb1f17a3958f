//! Attendance (考勤): the month grid per person, the team's roster (排班表), leave requests
//! (请假) and shift swaps (换班) waiting for a decision, and the supervisor's own marks
//! (absence, overtime, a leave request asked in person).
//!
//! Figures are derived from the records the way the phones derive them
//! ([`AttendanceMonth::day`]); nothing here stores a computed number. Every change goes through
//! [`edit::edit`] (or, for a month or roster that does not exist yet, its keyed genesis and
//! [`edit::store`]) as the signed-in supervisor, so the model's rules apply: the approval chain
//! of a leave request (3 days or more: manager → HR → general manager, in that order; otherwise
//! the manager alone), the medical certificate before the final approval of sick leave of 2 days
//! or more, the colleague's agreement before the manager answers a swap.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use kefu_model::dates::{is_month, Date, CHINA_UTC_OFFSET_MIN};
use kefu_model::enums::{Approver, Decision, LeaveKind, Role, Shift};
use kefu_model::records::attendance::{AttendanceMonth, LeaveRequest, LeaveStatus, ShiftSwap, SwapStatus};
use kefu_model::records::roster::Roster;
use kefu_model::records::Record;
use kefu_model::verbs::{Actor, NewLeave};
use kefu_model::{DocError, KefuDoc};
use maud::{html, Markup};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::layout::{self, form_fields};
use super::table::{export_links, Cell, Table};
use super::{after_action, blocking, fmt_time, label, today, Ctx, Lang, PageResult, Posted};
use crate::api::blocking as run;
use crate::auth::{now_ms, Principal};
use crate::edit;
use crate::error::ServerError;
use crate::http::AppState;

/// Attendance pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/attendance", get(month_page))
        .route("/attendance/roster", get(roster_page).post(roster_post))
        .route("/attendance/requests", get(requests_page))
        .route("/attendance/leave", post(leave_new_post))
        .route("/attendance/leave/decide", post(leave_decide_post))
        .route("/attendance/leave/certificate", post(certificate_post))
        .route("/attendance/leave/{doc}/{id}", get(leave_page))
        .route("/attendance/swap/decide", post(swap_decide_post))
        .route("/attendance/swap/{doc}/{id}", get(swap_page))
        .route("/attendance/absent", post(absent_post))
        .route("/attendance/overtime", post(overtime_post))
}

/// Months back that the request lists look through (older undecided requests are stale).
const REQUEST_MONTHS_BACK: i64 = 12;

/// A message in both languages (actions are shared with the JSON API, which has no language).
fn say(zh: &str, en: &str) -> String {
    format!("{zh} / {en}")
}

fn bad(zh: &str, en: &str) -> ServerError {
    ServerError::BadRequest(say(zh, en))
}

fn shift_label(lang: Lang, s: Shift) -> String {
    label(lang, s.label_zh(), s.as_str())
}

/// One-character shift for the grids: 早 / 晚 / 休.
fn shift_short(lang: Lang, s: &str) -> &'static str {
    match (s, lang) {
        ("early", Lang::Zh) => "早",
        ("late", Lang::Zh) => "晚",
        ("rest", Lang::Zh) => "休",
        ("early", Lang::En) => "E",
        ("late", Lang::En) => "L",
        ("rest", Lang::En) => "R",
        _ => "?",
    }
}

fn approver_label(lang: Lang, a: &str) -> String {
    a.parse::<Approver>().map_or_else(|_| a.to_string(), |v| lang.t(v.label_zh(), approver_en(v)).to_string())
}

fn month_first(month: &str) -> Option<Date> {
    if is_month(month) {
        Date::parse(&format!("{month}-01"))
    } else {
        None
    }
}

/// Every date of a month, in order (empty for a bad month).
pub fn month_days(month: &str) -> Vec<String> {
    let Some(first) = month_first(month) else { return Vec::new() };
    let mut out = Vec::new();
    let mut d = first;
    while d.month_key() == month {
        out.push(d.to_string());
        d = d.add_days(1);
    }
    out
}

fn prev_month(month: &str) -> Option<String> {
    month_first(month).map(|d| d.add_days(-1).month_key())
}

fn next_month(month: &str) -> Option<String> {
    month_first(month).map(|d| d.add_days(31).month_key())
}

/// Monday = 0 … Sunday = 6.
fn weekday(d: &Date) -> i64 {
    (d.days_since_epoch() + 3).rem_euclid(7)
}

fn weekday_short(lang: Lang, date: &str) -> &'static str {
    let Some(d) = Date::parse(date) else { return "" };
    let i = weekday(&d) as usize;
    match lang {
        Lang::Zh => ["一", "二", "三", "四", "五", "六", "日"][i],
        Lang::En => ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"][i],
    }
}

/// The month asked for, or this month with a message when it is not a month.
fn pick_month(asked: Option<&str>, lang: Lang) -> (String, Option<String>) {
    let this = today().month_key();
    match asked.map(str::trim).filter(|m| !m.is_empty()) {
        None => (this, None),
        Some(m) if is_month(m) => (m.to_string(), None),
        Some(m) => (
            this,
            Some(format!(
                "{} {m:?}",
                lang.t(
                    "月份格式应为 YYYY-MM，已显示本月；收到：",
                    "A month is YYYY-MM; showing this month. Got:"
                )
            )),
        ),
    }
}

// ---- people -----------------------------------------------------------------------------------

/// A member of the team shown on the grids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StaffInfo {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role (`agent`, `field`, `supervisor`).
    pub role: String,
}

/// Names of everyone of the team (and admins), for showing who decided.
fn names(conn: &Connection, team: &str) -> Result<BTreeMap<String, String>, ServerError> {
    let mut s =
        conn.prepare_cached("SELECT id, display_name FROM users WHERE team = ?1 OR role = 'admin'")?;
    let rows = s.query_map([team], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn name_in(names: &BTreeMap<String, String>, id: &str) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_string())
}

/// The people of the month grid: the team's agents and field staff (those disabled only when
/// they have attendance that month), agents first.
pub fn grid_staff(conn: &Connection, team: &str, month: &str) -> Result<Vec<StaffInfo>, ServerError> {
    let mut s = conn.prepare_cached(
        "SELECT id, display_name, role FROM users u WHERE team = ?1 AND role IN ('agent', 'field') \
         AND (disabled_at IS NULL OR EXISTS (SELECT 1 FROM idx_attendance a WHERE a.team = ?1 AND a.staff = u.id AND a.month = ?2)) \
         ORDER BY role, username",
    )?;
    let rows = s.query_map(params![team, month], |r| {
        Ok(StaffInfo { id: r.get(0)?, name: r.get(1)?, role: r.get(2)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The people of the roster: every active member of the team who works shifts (supervisors,
/// agents, field staff), then anyone else the roster already names.
pub fn roster_staff(
    conn: &Connection,
    team: &str,
    roster: Option<&Roster>,
) -> Result<Vec<StaffInfo>, ServerError> {
    let mut s = conn.prepare_cached(
        "SELECT id, display_name, role FROM users WHERE team = ?1 AND role IN ('supervisor', 'agent', 'field') \
         AND disabled_at IS NULL ORDER BY CASE role WHEN 'supervisor' THEN 0 WHEN 'agent' THEN 1 ELSE 2 END, username",
    )?;
    let rows = s.query_map([team], |r| Ok(StaffInfo { id: r.get(0)?, name: r.get(1)?, role: r.get(2)? }))?;
    let mut out: Vec<StaffInfo> = rows.collect::<rusqlite::Result<_>>()?;
    if let Some(r) = roster {
        let named: BTreeSet<&str> =
            r.shifts.keys().filter_map(|k| k.split_once('/')).map(|(_, s)| s).collect();
        let all = names(conn, team)?;
        for id in named {
            if !out.iter().any(|p| p.id == id) {
                out.push(StaffInfo { id: id.to_string(), name: name_in(&all, id), role: String::new() });
            }
        }
    }
    Ok(out)
}

/// Whether `staff` is a member of `team` who can have attendance (not an admin).
fn is_team_member(conn: &Connection, team: &str, staff: &str) -> Result<bool, ServerError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM users WHERE id = ?1 AND team = ?2 AND role IN ('supervisor', 'agent', 'field')",
        params![staff, team],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

// ---- loading records --------------------------------------------------------------------------

/// Reads a stored attendance month of `team`; not found for another team or another kind.
fn load_month_doc(conn: &Connection, team: &str, doc_id: &str) -> Result<AttendanceMonth, ServerError> {
    let missing =
        || ServerError::NotFound(say("没有这条考勤记录", &format!("no attendance record {doc_id}")));
    let stored = crate::accept::load(conn, doc_id)?.ok_or_else(missing)?;
    if stored.meta.team != team || stored.meta.kind != kefu_model::enums::DocKind::Attendance {
        return Err(missing());
    }
    KefuDoc::from_automerge(stored.doc)
        .read::<AttendanceMonth>()
        .map_err(|e| ServerError::Internal(format!("attendance {doc_id} does not read: {e}")))
}

/// The attendance months of `team` from `since` to `until` (inclusive), as (doc id, record).
/// Unreadable documents are skipped (they are reported by the review queue, not here).
fn load_months(
    conn: &Connection,
    team: &str,
    since: &str,
    until: Option<&str>,
) -> Result<Vec<(String, AttendanceMonth)>, ServerError> {
    let mut s = conn.prepare_cached(
        "SELECT doc_id FROM idx_attendance WHERE team = ?1 AND month >= ?2 AND month <= ?3 ORDER BY month, staff, doc_id",
    )?;
    let ids: Vec<String> = s
        .query_map(params![team, since, until.unwrap_or("9999-12")], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match load_month_doc(conn, team, &id) {
            Ok(a) => out.push((id, a)),
            Err(ServerError::NotFound(_)) => {}
            Err(e) => tracing::warn!(doc = %id, error = %e, "attendance month skipped"),
        }
    }
    Ok(out)
}

/// The roster of `team` for `month`, when there is one: (doc id, roster).
pub fn find_roster(
    conn: &Connection,
    team: &str,
    month: &str,
) -> Result<Option<(String, Roster)>, ServerError> {
    let Some(id) = roster_id(conn, team, month)? else { return Ok(None) };
    let Some(stored) = crate::accept::load(conn, &id)? else { return Ok(None) };
    if stored.meta.team != team {
        return Ok(None);
    }
    let r = KefuDoc::from_automerge(stored.doc)
        .read::<Roster>()
        .map_err(|e| ServerError::Internal(format!("roster {id} does not read: {e}")))?;
    Ok(Some((id, r)))
}

fn doc_exists(conn: &Connection, doc_id: &str) -> Result<bool, ServerError> {
    let n: i64 =
        conn.query_row("SELECT count(*) FROM documents WHERE doc_id = ?1", [doc_id], |r| r.get(0))?;
    Ok(n > 0)
}

/// Applies `f` to the keyed document `key` (an attendance month, a roster): edits it when the
/// server has it (under its genesis id, or `existing` found in the projection), else creates it
/// from its genesis with `f` applied, exactly as a phone creating it offline would, so a phone's
/// own genesis of the same key merges with it. Returns the document id and `f`'s output.
fn edit_keyed<R: Record, T>(
    st: &AppState,
    p: &Principal,
    key: &str,
    genesis: &R,
    existing: impl FnOnce(&Connection) -> Result<Option<String>, ServerError>,
    f: impl FnOnce(&mut R) -> Result<T, DocError>,
) -> Result<(String, T), ServerError> {
    let conn = st.db.lock();
    let (gid, mut doc) = KefuDoc::genesis(key, genesis, edit::fresh_actor()?).map_err(edit::doc_error)?;
    let gid = gid.to_string();
    let found = if doc_exists(&conn, &gid)? { Some(gid.clone()) } else { existing(&conn)? };
    let (id, out, team) = match found {
        Some(id) => {
            let (out, team) = edit::edit_locked(&conn, p, &id, f)?;
            (id, out, team)
        }
        None => {
            let (out, hash) = doc.update::<R, T>(&edit::author(p), now_ms(), f).map_err(edit::doc_error)?;
            if hash.is_none() {
                return Ok((gid, out));
            }
            let mut after = doc.automerge().clone();
            let team = edit::store(&conn, p, &gid, None, &mut after)?;
            (gid, out, Some(team))
        }
    };
    drop(conn);
    if let Some(team) = team {
        edit::notify(st, &id, &team);
    }
    Ok((id, out))
}

/// Applies `f` to `staff`'s attendance month `month` of `p`'s team (created when missing).
fn edit_month<T>(
    st: &AppState,
    p: &Principal,
    staff: &str,
    month: &str,
    f: impl FnOnce(&mut AttendanceMonth) -> Result<T, DocError>,
) -> Result<(String, T), ServerError> {
    let team = supervisor_team(p)?;
    {
        let conn = st.db.lock();
        if !is_team_member(&conn, &team, staff)? {
            return Err(ServerError::NotFound(say(
                "本组没有这位员工",
                &format!("no staff member {staff} in your team"),
            )));
        }
    }
    let key = format!("attendance/{team}/{staff}/{month}");
    let (s, m, t) = (staff.to_string(), month.to_string(), team.clone());
    edit_keyed(
        st,
        p,
        &key,
        &AttendanceMonth::new(staff, &team, month),
        move |conn| {
            Ok(conn
                .query_row(
                    "SELECT doc_id FROM idx_attendance WHERE team = ?1 AND staff = ?2 AND month = ?3 ORDER BY doc_id LIMIT 1",
                    params![t, s, m],
                    |r| r.get(0),
                )
                .optional()?)
        },
        f,
    )
}

fn supervisor_team(p: &Principal) -> Result<String, ServerError> {
    match (&p.role, &p.team) {
        (Role::Supervisor, Some(t)) => Ok(t.clone()),
        _ => Err(ServerError::Forbidden(say(
            "只有客服主管可以处理考勤",
            "Only a supervisor can act on attendance",
        ))),
    }
}

fn actor(p: &Principal) -> Actor {
    Actor { user: p.user_id.clone(), at: now_ms() }
}

fn new_record_id() -> Result<String, ServerError> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|e| ServerError::Internal(format!("no randomness: {e}")))?;
    Ok(kefu_model::ids::record_id(b))
}

fn parse_date(text: &str, field_zh: &str, field_en: &str) -> Result<Date, ServerError> {
    Date::parse(text.trim()).ok_or_else(|| {
        bad(
            &format!("{field_zh}：{text:?} 不是日期（YYYY-MM-DD）"),
            &format!("{field_en}: {text:?} is not a date (YYYY-MM-DD)"),
        )
    })
}

// ---- the month grid ---------------------------------------------------------------------------

/// One person's day on the grid.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct DayCell {
    /// The date, YYYY-MM-DD.
    pub date: String,
    /// The rostered shift (`early`, `late`, `rest`), when the roster says.
    pub rostered: Option<String>,
    /// The shift clocked (from the clock events).
    pub worked: Option<String>,
    /// Earliest clock-in, Unix ms.
    pub clock_in: Option<i64>,
    /// Latest clock-out, Unix ms.
    pub clock_out: Option<i64>,
    /// Minutes late (0 when on time).
    pub late_minutes: i64,
    /// Minutes left early (0 when not).
    pub early_leave_minutes: i64,
    /// Marked absent (旷工) by a supervisor.
    pub absent: bool,
    /// On approved leave.
    pub on_leave: bool,
    /// A leave request covering the day waits for a decision.
    pub leave_pending: bool,
    /// Overtime minutes.
    pub overtime_minutes: i64,
    /// A past rostered working day without both a clock-in and a clock-out, and neither on
    /// leave nor marked absent (缺卡).
    pub missing_clock: bool,
    /// Clocked in on a rostered rest day (not given back as rest).
    pub worked_rest_day: bool,
}

/// One person's totals for the month.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct MonthTotals {
    /// Days late.
    pub late_count: i64,
    /// Minutes late, summed.
    pub late_minutes: i64,
    /// Days left early.
    pub early_leave_count: i64,
    /// Minutes left early, summed.
    pub early_leave_minutes: i64,
    /// Days marked absent.
    pub absences: i64,
    /// Days on approved leave in this month.
    pub leave_days: i64,
    /// Overtime minutes, summed.
    pub overtime_minutes: i64,
    /// Past working days with a missing clock-in or clock-out.
    pub missing_clocks: i64,
    /// Rostered rest days worked.
    pub rest_days_worked: i64,
}

/// One person's month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StaffMonth {
    /// Who.
    pub staff: StaffInfo,
    /// Their attendance document(s) for the month.
    pub doc_ids: Vec<String>,
    /// Every day of the month, in order.
    pub days: Vec<DayCell>,
    /// Totals.
    pub totals: MonthTotals,
}

/// The month grid of a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MonthGrid {
    /// `YYYY-MM`.
    pub month: String,
    /// The roster document of the month, when there is one.
    pub roster_doc: Option<String>,
    /// The dates of the month.
    pub dates: Vec<String>,
    /// One row per person.
    pub people: Vec<StaffMonth>,
}

/// Computes the grid of `month` (pure): `docs` are the team's attendance documents of this
/// month and the one before (leave that started last month may run into this one); `today`
/// decides which days are past (missing clock-ins are flagged only for those).
pub fn compute_grid(
    month: &str,
    staff: &[StaffInfo],
    docs: &[(String, AttendanceMonth)],
    roster: Option<&Roster>,
    today: &str,
) -> Vec<StaffMonth> {
    let dates = month_days(month);
    staff
        .iter()
        .map(|person| {
            // One record of everything this person has for the month; the previous month
            // contributes its leave only. Entries are maps keyed by random ids, so a second
            // document for the same month (a client that did not use the keyed genesis) adds
            // to it without overwriting anything.
            let mut m = AttendanceMonth::new(&person.id, "", month);
            let mut doc_ids = Vec::new();
            for (id, a) in docs.iter().filter(|(_, a)| a.staff == person.id) {
                if a.month == month {
                    doc_ids.push(id.clone());
                    m.clock_events.extend(a.clock_events.clone());
                    m.absences.extend(a.absences.clone());
                    m.overtime.extend(a.overtime.clone());
                    m.leave.extend(a.leave.clone());
                } else if a.month.as_str() < month {
                    m.leave.extend(a.leave.clone());
                }
            }
            let mut totals = MonthTotals::default();
            let days = dates
                .iter()
                .map(|date| {
                    let s = m.day(date, CHINA_UTC_OFFSET_MIN);
                    let rostered = roster.and_then(|r| r.shift(date, &person.id));
                    let leave_pending = m.leave.values().any(|l| {
                        matches!(l.status(), LeaveStatus::Pending { .. })
                            && l.start_date.as_str() <= date.as_str()
                            && date.as_str() <= l.end_date.as_str()
                    });
                    let working = matches!(rostered, Some(Shift::Early | Shift::Late));
                    let missing_clock = working
                        && date.as_str() < today
                        && !s.on_leave
                        && !s.absent
                        && (s.clock_in.is_none() || s.clock_out.is_none());
                    let worked_rest_day = rostered == Some(Shift::Rest) && s.clock_in.is_some();
                    let cell = DayCell {
                        date: date.clone(),
                        rostered: rostered.map(|r| r.as_str().to_string()),
                        worked: s.shift.map(|r| r.as_str().to_string()),
                        clock_in: s.clock_in,
                        clock_out: s.clock_out,
                        late_minutes: s.late_minutes,
                        early_leave_minutes: s.early_leave_minutes,
                        absent: s.absent,
                        on_leave: s.on_leave,
                        leave_pending,
                        overtime_minutes: s.overtime_minutes,
                        missing_clock,
                        worked_rest_day,
                    };
                    if cell.late_minutes > 0 {
                        totals.late_count += 1;
                        totals.late_minutes += cell.late_minutes;
                    }
                    if cell.early_leave_minutes > 0 {
                        totals.early_leave_count += 1;
                        totals.early_leave_minutes += cell.early_leave_minutes;
                    }
                    totals.absences += i64::from(cell.absent);
                    totals.leave_days += i64::from(cell.on_leave);
                    totals.overtime_minutes += cell.overtime_minutes;
                    totals.missing_clocks += i64::from(cell.missing_clock);
                    totals.rest_days_worked += i64::from(cell.worked_rest_day);
                    cell
                })
                .collect();
            StaffMonth { staff: person.clone(), doc_ids, days, totals }
        })
        .collect()
}

/// The month grid of `team` for `month` (`today` as YYYY-MM-DD).
pub fn month_grid(conn: &Connection, team: &str, month: &str, today: &str) -> Result<MonthGrid, ServerError> {
    let prev = prev_month(month).ok_or_else(|| bad("月份格式应为 YYYY-MM", "a month is YYYY-MM"))?;
    let staff = grid_staff(conn, team, month)?;
    let docs = load_months(conn, team, &prev, Some(month))?;
    let roster = find_roster(conn, team, month)?;
    let people = compute_grid(month, &staff, &docs, roster.as_ref().map(|(_, r)| r), today);
    Ok(MonthGrid {
        month: month.to_string(),
        roster_doc: roster.map(|(id, _)| id),
        dates: month_days(month),
        people,
    })
}

/// The grid cell as text: the shift, then what happened.
fn cell_text(lang: Lang, c: &DayCell) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(s) = c.rostered.as_deref().or(c.worked.as_deref()) {
        parts.push(shift_short(lang, s).to_string());
    }
    if c.worked_rest_day {
        parts.push(lang.t("出勤", "worked").into());
    }
    if c.late_minutes > 0 {
        parts.push(format!("{}{}", lang.t("迟", "late "), c.late_minutes));
    }
    if c.early_leave_minutes > 0 {
        parts.push(format!("{}{}", lang.t("退", "early "), c.early_leave_minutes));
    }
    if c.absent {
        parts.push(lang.t("旷", "absent").into());
    }
    if c.on_leave {
        parts.push(lang.t("假", "leave").into());
    } else if c.leave_pending {
        parts.push(lang.t("假?", "leave?").into());
    }
    if c.overtime_minutes > 0 {
        parts.push(format!("{}{}", lang.t("加", "OT "), c.overtime_minutes));
    }
    if c.missing_clock {
        parts.push(lang.t("缺卡", "no clock").into());
    }
    parts.join(" ")
}

fn grid_table(lang: Lang, g: &MonthGrid) -> Table {
    let mut cols: Vec<String> = vec![lang.t("姓名", "Name").into(), lang.t("岗位", "Role").into()];
    for d in &g.dates {
        cols.push(format!("{} {}", d.get(8..).unwrap_or(d).trim_start_matches('0'), weekday_short(lang, d)));
    }
    for c in [
        lang.t("迟到次数", "Late (days)"),
        lang.t("迟到分钟", "Late (min)"),
        lang.t("早退次数", "Early leave (days)"),
        lang.t("早退分钟", "Early leave (min)"),
        lang.t("旷工天数", "Absent (days)"),
        lang.t("请假天数", "Leave (days)"),
        lang.t("加班分钟", "Overtime (min)"),
        lang.t("缺卡", "Missing clock"),
        lang.t("休息日出勤", "Rest days worked"),
    ] {
        cols.push(c.into());
    }
    let col_refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    let mut t = Table::new(
        &format!("attendance-{}", g.month),
        &format!("{} {}", lang.t("考勤", "Attendance"), g.month),
        &col_refs,
    );
    for p in &g.people {
        let role = p
            .staff
            .role
            .parse::<Role>()
            .map_or_else(|_| p.staff.role.clone(), |r| label(lang, r.label_zh(), r.as_str()));
        let mut row: Vec<Cell> = vec![p.staff.name.clone().into(), role.into()];
        row.extend(p.days.iter().map(|c| Cell::Text(cell_text(lang, c))));
        let x = &p.totals;
        for n in [
            x.late_count,
            x.late_minutes,
            x.early_leave_count,
            x.early_leave_minutes,
            x.absences,
            x.leave_days,
            x.overtime_minutes,
            x.missing_clocks,
            x.rest_days_worked,
        ] {
            row.push(Cell::Int(n));
        }
        t.push_warn(row, x.absences > 0 || x.missing_clocks > 0);
    }
    t
}

/// Query of the month pages.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
pub struct MonthQuery {
    /// `YYYY-MM` (this month when absent).
    pub month: Option<String>,
    /// `csv` or `xlsx` to download (pages only).
    pub format: Option<String>,
}

fn month_nav(ctx: &Ctx, path: &str, month: &str) -> Markup {
    html! {
        form.bar method="get" action=(path) {
            @if let Some(p) = prev_month(month) { a href={ (path) "?month=" (p) } { "← " (p) } }
            label { (ctx.t("月份", "Month")) input type="month" name="month" value=(month); }
            button type="submit" { (ctx.t("查看", "Show")) }
            @if let Some(n) = next_month(month) { a href={ (path) "?month=" (n) } { (n) " →" } }
            span { " · " a href="/attendance" { (ctx.t("本月", "This month")) } }
        }
    }
}

fn sub_nav(ctx: &Ctx, month: &str) -> Markup {
    html! {
        p {
            a href={ "/attendance?month=" (month) } { (ctx.t("考勤表", "Attendance grid")) } " · "
            a href={ "/attendance/roster?month=" (month) } { (ctx.t("排班表", "Roster")) } " · "
            a href="/attendance/requests" { (ctx.t("请假与换班审批", "Leave and swap approvals")) }
        }
    }
}

fn staff_select(ctx: &Ctx, people: &[StaffInfo]) -> Markup {
    html! {
        select name="staff" required {
            option value="" { (ctx.t("请选择", "choose")) }
            @for p in people { option value=(p.id) { (p.name) } }
        }
    }
}

async fn month_page(State(state): State<AppState>, ctx: Ctx, Query(q): Query<MonthQuery>) -> PageResult {
    let team = ctx.team()?;
    let lang = ctx.lang;
    let (month, bad_month) = pick_month(q.month.as_deref(), lang);
    let db = state.db.clone();
    let m = month.clone();
    let grid = blocking(lang, move || {
        let conn = db.lock();
        month_grid(&conn, &team, &m, &today().to_string())
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let t = grid_table(lang, &grid);
    if let Some(fmt) = q.format.as_deref() {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let people: Vec<StaffInfo> = grid.people.iter().map(|p| p.staff.clone()).collect();
    let today = today().to_string();
    let body = html! {
        (sub_nav(&ctx, &month))
        (month_nav(&ctx, "/attendance", &month))
        @if let Some(m) = bad_month { div.flash.err role="alert" { (m) } }
        @if grid.roster_doc.is_none() {
            p.muted { (ctx.t("本月还没有排班表：", "No roster for this month yet: "))
                a href={ "/attendance/roster?month=" (month) } { (ctx.t("编排", "write it")) } }
        }
        p.muted { (ctx.t(
            "每格：班次（早/晚/休，来自排班表）；迟N = 迟到N分钟，退N = 早退N分钟，旷 = 旷工，假 = 已批准请假，假? = 请假待审批，加N = 加班N分钟，缺卡 = 过去的上班日缺少上班或下班打卡，出勤 = 休息日出勤。",
            "Each cell: the shift (E early, L late, R rest, from the roster); late N = N minutes late, early N = left N minutes early, absent, leave = approved leave, leave? = leave waiting for approval, OT N = N minutes overtime, no clock = a past working day without a clock-in or clock-out, worked = worked a rest day.")) }
        (export_links(&ctx.here, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        div style="overflow-x:auto" { (t.html(ctx.t("本组没有客服专员或售后人员", "No agents or field staff in this team"))) }
        h2 { (ctx.t("主管操作", "Supervisor actions")) }
        div.cards {
            form.stack method="post" action="/attendance/absent" {
                (form_fields(&ctx))
                b { (ctx.t("记旷工", "Mark absent")) }
                label { (ctx.t("员工", "Staff member")) (staff_select(&ctx, &people)) }
                label { (ctx.t("日期", "Date")) input type="date" name="date" required value=(today); }
                label { (ctx.t("说明", "Note")) input name="note" maxlength="500"; }
                button.primary type="submit" { (ctx.t("记旷工", "Mark absent")) }
            }
            form.stack method="post" action="/attendance/overtime" {
                (form_fields(&ctx))
                b { (ctx.t("记加班", "Add overtime")) }
                label { (ctx.t("员工", "Staff member")) (staff_select(&ctx, &people)) }
                label { (ctx.t("日期", "Date")) input type="date" name="date" required value=(today); }
                label { (ctx.t("分钟", "Minutes")) input type="number" name="minutes" min="1" max="1440" required; }
                label { (ctx.t("原因", "Reason")) input name="note" maxlength="500"; }
                button.primary type="submit" { (ctx.t("记加班", "Add overtime")) }
            }
            form.stack method="post" action="/attendance/leave" {
                (form_fields(&ctx))
                b { (ctx.t("登记请假（当面申请）", "Record a leave request (asked in person)")) }
                label { (ctx.t("员工", "Staff member")) (staff_select(&ctx, &people)) }
                label { (ctx.t("类型", "Kind"))
                    select name="kind" { @for k in LeaveKind::ALL { option value=(k.as_str()) { (label(lang, k.label_zh(), k.as_str())) } } } }
                label { (ctx.t("开始日期", "First day")) input type="date" name="start" required; }
                label { (ctx.t("结束日期（含）", "Last day (inclusive)")) input type="date" name="end" required; }
                label { (ctx.t("事由", "Reason")) input name="reason" required maxlength="1000"; }
                label { span { input type="checkbox" name="asked_in_person" value="1" checked; (ctx.t(" 本人当面申请（事假必须）", " asked in person (required for personal leave)")) } }
                button.primary type="submit" { (ctx.t("登记", "Record")) }
            }
        }
    };
    Ok(layout::page(&ctx, &format!("{} {month}", ctx.t("考勤", "Attendance")), body))
}

// ---- supervisor marks -------------------------------------------------------------------------

/// Marking a day absent (旷工).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AbsenceInput {
    /// Staff member (user id) of the supervisor's team.
    pub staff: String,
    /// The day, YYYY-MM-DD (today or earlier).
    pub date: String,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

/// Marks `staff` absent on a day (in their month's attendance, created when missing). Refused
/// for a future day, a rostered rest day, a day already marked, a day they clocked in, or a day
/// of approved leave.
pub fn do_mark_absent(st: &AppState, p: &Principal, input: &AbsenceInput) -> Result<String, ServerError> {
    let date = parse_date(&input.date, "日期", "date")?;
    if date > today() {
        return Err(bad("不能给未来的日期记旷工", "a day in the future cannot be marked absent"));
    }
    let ds = date.to_string();
    let team = supervisor_team(p)?;
    let staff = input.staff.trim();
    // The day as the grid shows it (leave that began last month counts too).
    let cell = {
        let conn = st.db.lock();
        let month = date.month_key();
        let prev = prev_month(&month).unwrap_or_default();
        let docs: Vec<(String, AttendanceMonth)> = load_months(&conn, &team, &prev, Some(&month))?
            .into_iter()
            .filter(|(_, a)| a.staff == staff)
            .collect();
        let roster = find_roster(&conn, &team, &month)?;
        let who = StaffInfo { id: staff.into(), name: String::new(), role: String::new() };
        compute_grid(&month, &[who], &docs, roster.as_ref().map(|(_, r)| r), &today().to_string())
            .into_iter()
            .next()
            .and_then(|m| m.days.into_iter().find(|c| c.date == ds))
            .unwrap_or_default()
    };
    if cell.absent {
        return Err(bad("这一天已记为旷工", "that day is already marked absent"));
    }
    if cell.clock_in.is_some() {
        return Err(bad("这一天有上班打卡，不能记旷工", "they clocked in that day: not absent"));
    }
    if cell.on_leave {
        return Err(bad("这一天是已批准的请假，不能记旷工", "that day is approved leave: not absent"));
    }
    if cell.rostered.as_deref() == Some("rest") {
        return Err(bad("这一天排班为休息，不能记旷工", "that day is a rostered rest day: not absent"));
    }
    let note =
        input.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(|n| n.chars().take(500).collect());
    let by = actor(p);
    let (_, outcome) = edit_month(st, p, staff, &date.month_key(), |a| {
        if a.absences.contains_key(&ds) {
            return Ok(Err(bad("这一天已记为旷工", "that day is already marked absent")));
        }
        a.mark_absent(&by, &ds, note);
        Ok(Ok(()))
    })?;
    outcome?;
    Ok(say(&format!("已记 {ds} 旷工"), &format!("marked absent on {ds}")))
}

/// Recording overtime.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct OvertimeInput {
    /// Staff member (user id) of the supervisor's team.
    pub staff: String,
    /// The day, YYYY-MM-DD (today or earlier).
    pub date: String,
    /// Minutes, 1–1440.
    pub minutes: i64,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

/// Records overtime for `staff` on a day.
pub fn do_add_overtime(st: &AppState, p: &Principal, input: &OvertimeInput) -> Result<String, ServerError> {
    let date = parse_date(&input.date, "日期", "date")?;
    if date > today() {
        return Err(bad("不能给未来的日期记加班", "overtime cannot be recorded for a day in the future"));
    }
    if !(1..=24 * 60).contains(&input.minutes) {
        return Err(bad("加班分钟数应为 1–1440", "overtime minutes must be 1–1440"));
    }
    let ds = date.to_string();
    let note =
        input.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(|n| n.chars().take(500).collect());
    let (id, by, minutes) = (new_record_id()?, actor(p), input.minutes);
    edit_month(st, p, input.staff.trim(), &date.month_key(), |a| {
        a.add_overtime(id, &by, &ds, minutes, note);
        Ok(())
    })?;
    Ok(say(
        &format!("已记 {ds} 加班 {minutes} 分钟"),
        &format!("{minutes} minutes of overtime recorded on {ds}"),
    ))
}

async fn absent_post(State(state): State<AppState>, posted: Posted) -> Response {
    let ctx = &posted.ctx;
    let f = &posted.form;
    let input = (|| {
        Ok::<_, ServerError>(AbsenceInput {
            staff: f.required("staff", ctx.t("员工", "Staff member"))?.to_string(),
            date: f.required("date", ctx.t("日期", "Date"))?.to_string(),
            note: f.get("note").map(str::to_string),
        })
    })();
    let st = state.clone();
    let p = ctx.p.clone();
    let result = match input {
        Ok(i) => run(move || do_mark_absent(&st, &p, &i)).await,
        Err(e) => Err(e),
    };
    after_action(ctx.lang, &posted.back, result)
}

async fn overtime_post(State(state): State<AppState>, posted: Posted) -> Response {
    let ctx = &posted.ctx;
    let f = &posted.form;
    let input = (|| {
        Ok::<_, ServerError>(OvertimeInput {
            staff: f.required("staff", ctx.t("员工", "Staff member"))?.to_string(),
            date: f.required("date", ctx.t("日期", "Date"))?.to_string(),
            minutes: f.parsed("minutes", ctx.t("分钟", "Minutes"))?,
            note: f.get("note").map(str::to_string),
        })
    })();
    let st = state.clone();
    let p = ctx.p.clone();
    let result = match input {
        Ok(i) => run(move || do_add_overtime(&st, &p, &i)).await,
        Err(e) => Err(e),
    };
    after_action(ctx.lang, &posted.back, result)
}

// ---- the roster -------------------------------------------------------------------------------

/// One roster entry to set or clear.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct RosterChange {
    /// The date, YYYY-MM-DD, in the roster's month.
    pub date: String,
    /// Staff member (user id) of the team.
    pub staff: String,
    /// `early`, `late` or `rest`; absent to clear the entry (the roster says nothing).
    #[serde(default)]
    pub shift: Option<String>,
}

/// Changes to a team's roster for a month.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RosterInput {
    /// `YYYY-MM`.
    pub month: String,
    /// The entries to change (entries not named are left as they are).
    pub changes: Vec<RosterChange>,
}

/// Applies roster changes as the supervisor (the month's roster is created when missing).
pub fn do_save_roster(st: &AppState, p: &Principal, input: &RosterInput) -> Result<String, ServerError> {
    let team = supervisor_team(p)?;
    let month = input.month.trim();
    if !is_month(month) {
        return Err(bad("月份格式应为 YYYY-MM", "a month is YYYY-MM"));
    }
    let mut set: Vec<(String, Option<Shift>)> = Vec::with_capacity(input.changes.len());
    {
        let conn = st.db.lock();
        let mut known = BTreeSet::new();
        for c in &input.changes {
            let d = parse_date(&c.date, "日期", "date")?;
            if d.month_key() != month {
                return Err(bad(
                    &format!("{} 不在 {month} 月", c.date),
                    &format!("{} is not in {month}", c.date),
                ));
            }
            let staff = c.staff.trim();
            if !known.contains(staff) {
                if !is_team_member(&conn, &team, staff)? {
                    return Err(bad(
                        &format!("本组没有员工 {staff}"),
                        &format!("no staff member {staff} in your team"),
                    ));
                }
                known.insert(staff.to_string());
            }
            let shift = match c.shift.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => {
                    Some(s.parse::<Shift>().map_err(|e| bad("班次只能是 早班/晚班/休息", &e.to_string()))?)
                }
            };
            set.push((Roster::key(&d.to_string(), staff), shift));
        }
    }
    if set.is_empty() {
        return Ok(say("排班表没有改动", "nothing changed in the roster"));
    }
    let (t, m) = (team.clone(), month.to_string());
    let (_, n) = edit_keyed(
        st,
        p,
        &format!("roster/{team}/{month}"),
        &Roster::new(&team, month),
        move |conn| roster_id(conn, &t, &m),
        |r: &mut Roster| {
            let mut n = 0;
            for (key, shift) in set {
                let changed = match shift {
                    Some(s) => r.shifts.insert(key, s) != Some(s),
                    None => r.shifts.remove(&key).is_some(),
                };
                n += i64::from(changed);
            }
            Ok(n)
        },
    )?;
    if n == 0 {
        return Ok(say("排班表没有改动", "nothing changed in the roster"));
    }
    Ok(say(&format!("排班表已保存（{n} 处改动）"), &format!("roster saved ({n} changes)")))
}

fn roster_table(lang: Lang, month: &str, staff: &[StaffInfo], roster: Option<&Roster>) -> Table {
    let dates = month_days(month);
    let mut cols: Vec<String> = vec![lang.t("姓名", "Name").into()];
    for d in &dates {
        cols.push(format!("{} {}", d.get(8..).unwrap_or(d).trim_start_matches('0'), weekday_short(lang, d)));
    }
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    let mut t =
        Table::new(&format!("roster-{month}"), &format!("{} {month}", lang.t("排班表", "Roster")), &refs);
    for p in staff {
        let mut row: Vec<Cell> = vec![p.name.clone().into()];
        for d in &dates {
            row.push(
                roster
                    .and_then(|r| r.shift(d, &p.id))
                    .map_or(Cell::Empty, |s| Cell::Text(shift_short(lang, s.as_str()).into())),
            );
        }
        t.push(row);
    }
    t
}

async fn roster_page(State(state): State<AppState>, ctx: Ctx, Query(q): Query<MonthQuery>) -> PageResult {
    let team = ctx.team()?;
    let lang = ctx.lang;
    let (month, bad_month) = pick_month(q.month.as_deref(), lang);
    let db = state.db.clone();
    let m = month.clone();
    let (roster, staff) = blocking(lang, move || {
        let conn = db.lock();
        let roster = find_roster(&conn, &team, &m)?;
        let staff = roster_staff(&conn, &team, roster.as_ref().map(|(_, r)| r))?;
        Ok((roster, staff))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let r = roster.as_ref().map(|(_, r)| r);
    let t = roster_table(lang, &month, &staff, r);
    if let Some(fmt) = q.format.as_deref() {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let dates = month_days(&month);
    let body = html! {
        (sub_nav(&ctx, &month))
        (month_nav(&ctx, "/attendance/roster", &month))
        @if let Some(m) = bad_month { div.flash.err role="alert" { (m) } }
        p.muted {
            @match &roster {
                Some((id, _)) => { (ctx.t("排班表在手机上只读；保存后同步到本组手机。", "The roster is read-only on phones; saving sends it to the team's phones."))
                    " " a href={ "/records/" (id) "/history" } { (ctx.t("修改历史", "History of changes")) } },
                None => (ctx.t("本月还没有排班表；保存即创建。", "There is no roster for this month yet; saving creates it.")),
            }
        }
        p.muted { (ctx.t("早班 08:30–17:30，晚班 15:00–24:00；只保存改动过的格子。", "Early 08:30–17:30, late 15:00–24:00; only the cells you change are saved.")) }
        (export_links(&ctx.here, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        @if staff.is_empty() {
            p.muted { (ctx.t("本组没有员工", "No staff in this team")) }
        } @else {
            form method="post" action="/attendance/roster" {
                (form_fields(&ctx))
                input type="hidden" name="month" value=(month);
                div style="overflow-x:auto" {
                    table {
                        thead { tr {
                            th { (ctx.t("姓名", "Name")) }
                            @for d in &dates {
                                @let wd = weekday_short(lang, d);
                                th title=(d) { (d.get(8..).unwrap_or(d)) br; span.muted { (wd) } }
                            }
                        } }
                        tbody {
                            @for p in &staff {
                                tr {
                                    th { (p.name) }
                                    @for d in &dates {
                                        @let key = Roster::key(d, &p.id);
                                        @let cur = r.and_then(|r| r.shift(d, &p.id));
                                        td {
                                            input type="hidden" name={ "o:" (key) } value=(cur.map(|s| s.as_str()).unwrap_or(""));
                                            select name={ "r:" (key) } aria-label={ (p.name) " " (d) } {
                                                option value="" selected[cur.is_none()] { "—" }
                                                @for s in Shift::ALL {
                                                    option value=(s.as_str()) selected[cur == Some(*s)] { (shift_short(lang, s.as_str())) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                p { button.primary type="submit" { (ctx.t("保存排班表", "Save the roster")) } }
            }
            h2 { (ctx.t("班次", "Shifts")) }
            p.muted { @for s in Shift::ALL { span.tag { (shift_short(lang, s.as_str())) " = " (shift_label(lang, *s)) } } }
        }
    };
    Ok(layout::page(&ctx, &format!("{} {month}", ctx.t("排班表", "Roster")), body))
}

/// The roster changes of a posted grid: cells whose value differs from the value shown
/// (`r:<date>/<staff>` against the hidden `o:<date>/<staff>`), so a stale page does not undo
/// another supervisor's change to a cell this one did not touch.
fn roster_changes(form: &super::form::FormData) -> Vec<RosterChange> {
    let mut out = Vec::new();
    for (k, v) in &form.0 {
        let Some(key) = k.strip_prefix("r:") else { continue };
        let new = Some(v.trim()).filter(|v| !v.is_empty());
        let old = form.get(&format!("o:{key}"));
        if new == old {
            continue;
        }
        // A key without a staff part is passed on as a date, so it is refused with a message.
        let (date, staff) = key.split_once('/').unwrap_or((key, ""));
        out.push(RosterChange { date: date.into(), staff: staff.into(), shift: new.map(Into::into) });
    }
    out
}

async fn roster_post(State(state): State<AppState>, posted: Posted) -> Response {
    let ctx = &posted.ctx;
    let input = RosterInput {
        month: posted.form.get("month").unwrap_or_default().to_string(),
        changes: roster_changes(&posted.form),
    };
    let st = state.clone();
    let p = ctx.p.clone();
    let result = run(move || do_save_roster(&st, &p, &input)).await;
    after_action(ctx.lang, &posted.back, result)
}

// ---- leave requests and swaps -----------------------------------------------------------------

/// One step of a leave request's approval chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApprovalStep {
    /// `manager`, `hr` or `general_manager`.
    pub step: String,
    /// `approve` or `reject` once answered.
    pub decision: Option<String>,
    /// Who recorded the answer (user id).
    pub by: Option<String>,
    /// Their name.
    pub by_name: Option<String>,
    /// When, Unix ms.
    pub at: Option<i64>,
    /// The approver's note.
    pub note: Option<String>,
    /// This is the step whose answer is awaited now.
    pub next: bool,
}

/// A leave request (请假) with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LeaveRow {
    /// The attendance document holding it.
    pub doc_id: String,
    /// The request's id in that document.
    pub leave_id: String,
    /// Who asks (user id).
    pub staff: String,
    /// Their name.
    pub staff_name: String,
    /// `personal`, `sick`, `annual`, `other`.
    pub kind: String,
    /// First day, YYYY-MM-DD.
    pub start_date: String,
    /// Last day, YYYY-MM-DD (inclusive).
    pub end_date: String,
    /// Calendar days.
    pub days: i64,
    /// Why.
    pub reason: String,
    /// When asked, Unix ms.
    pub requested_at: i64,
    /// Asked in person (required for personal leave).
    pub asked_in_person: bool,
    /// Sick leave of 2 days or more: a medical certificate is required.
    pub needs_certificate: bool,
    /// A certificate (scan or paper reference) is on file.
    pub has_certificate: bool,
    /// The paper certificate's reference.
    pub certificate_ref: Option<String>,
    /// The certificate's scan, attached on the phone.
    pub certificate: Option<super::evidence::Evidence>,
    /// `pending`, `approved`, `rejected`, `cancelled`.
    pub status: String,
    /// The approver whose answer is awaited (pending only).
    pub next_step: Option<String>,
    /// The approval chain, in order, with the answers so far.
    pub chain: Vec<ApprovalStep>,
}

/// A shift swap (换班) with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SwapRow {
    /// The requester's attendance document holding it.
    pub doc_id: String,
    /// The swap's id in that document.
    pub swap_id: String,
    /// The requester (user id).
    pub staff: String,
    /// Their name.
    pub staff_name: String,
    /// The requester's date given away.
    pub date: String,
    /// The requester's shift that day.
    pub my_shift: String,
    /// The colleague (user id).
    pub with_staff: String,
    /// The colleague's name.
    pub with_name: String,
    /// The colleague's date taken in return.
    pub their_date: String,
    /// The colleague's shift that day.
    pub their_shift: String,
    /// When asked, Unix ms.
    pub requested_at: i64,
    /// When the colleague agreed, Unix ms (none yet: the manager cannot answer).
    pub colleague_agreed_at: Option<i64>,
    /// `awaiting_colleague`, `awaiting_manager`, `approved`, `rejected`.
    pub status: String,
    /// The manager's answer.
    pub manager_decision: Option<String>,
    /// Who answered as manager.
    pub manager_by: Option<String>,
    /// When, Unix ms.
    pub manager_at: Option<i64>,
    /// The manager's note.
    pub manager_note: Option<String>,
}

fn leave_status_str(s: &LeaveStatus) -> &'static str {
    match s {
        LeaveStatus::Pending { .. } => "pending",
        LeaveStatus::Approved => "approved",
        LeaveStatus::Rejected { .. } => "rejected",
        LeaveStatus::Cancelled => "cancelled",
    }
}

fn swap_status_str(s: SwapStatus) -> &'static str {
    match s {
        SwapStatus::AwaitingColleague => "awaiting_colleague",
        SwapStatus::AwaitingManager => "awaiting_manager",
        SwapStatus::Approved => "approved",
        SwapStatus::Rejected => "rejected",
    }
}

/// A leave request as a row (pure).
pub fn leave_row(
    doc_id: &str,
    id: &str,
    staff: &str,
    l: &LeaveRequest,
    names: &BTreeMap<String, String>,
    held: &std::collections::HashSet<String>,
) -> LeaveRow {
    let status = l.status();
    let next = match &status {
        LeaveStatus::Pending { next, .. } => Some(*next),
        _ => None,
    };
    let chain = l
        .chain()
        .iter()
        .map(|step| {
            let a = l.approvals.get(step.as_str());
            ApprovalStep {
                step: step.as_str().into(),
                decision: a.map(|a| a.decision.as_str().into()),
                by: a.map(|a| a.by.clone()),
                by_name: a.map(|a| name_in(names, &a.by)),
                at: a.map(|a| a.at),
                note: a.and_then(|a| a.note.clone()),
                next: next == Some(*step),
            }
        })
        .collect();
    LeaveRow {
        doc_id: doc_id.into(),
        leave_id: id.into(),
        staff: staff.into(),
        staff_name: name_in(names, staff),
        kind: l.leave_kind.as_str().into(),
        start_date: l.start_date.clone(),
        end_date: l.end_date.clone(),
        days: l.days(),
        reason: l.reason.clone(),
        requested_at: l.requested_at,
        asked_in_person: l.asked_in_person,
        needs_certificate: l.needs_certificate(),
        has_certificate: l.has_certificate(),
        certificate_ref: l.certificate_ref.clone(),
        certificate: l.certificate.as_ref().map(|c| super::evidence::Evidence::of(c, held)),
        status: leave_status_str(&status).into(),
        next_step: next.map(|n| n.as_str().into()),
        chain,
    }
}

/// A shift swap as a row (pure).
pub fn swap_row(
    doc_id: &str,
    id: &str,
    staff: &str,
    s: &ShiftSwap,
    names: &BTreeMap<String, String>,
) -> SwapRow {
    SwapRow {
        doc_id: doc_id.into(),
        swap_id: id.into(),
        staff: staff.into(),
        staff_name: name_in(names, staff),
        date: s.date.clone(),
        my_shift: s.my_shift.as_str().into(),
        with_staff: s.with_staff.clone(),
        with_name: name_in(names, &s.with_staff),
        their_date: s.their_date.clone(),
        their_shift: s.their_shift.as_str().into(),
        requested_at: s.requested_at,
        colleague_agreed_at: s.colleague_agreed.as_ref().map(|m| m.at),
        status: swap_status_str(s.status()).into(),
        manager_decision: s.manager.as_ref().map(|m| m.decision.as_str().into()),
        manager_by: s.manager.as_ref().map(|m| name_in(names, &m.by)),
        manager_at: s.manager.as_ref().map(|m| m.at),
        manager_note: s.manager.as_ref().and_then(|m| m.note.clone()),
    }
}

fn request_window_start() -> String {
    let t = today();
    let mut d = Date { year: t.year, month: t.month, day: 1 };
    for _ in 0..REQUEST_MONTHS_BACK {
        d = d.add_days(-1);
        d = Date { day: 1, ..d };
    }
    d.month_key()
}

/// Leave requests of `team` (in attendance months of the last 12 months and later): only those
/// waiting for a decision unless `all`; pending first, then by first day.
pub fn leave_requests(conn: &Connection, team: &str, all: bool) -> Result<Vec<LeaveRow>, ServerError> {
    let names = names(conn, team)?;
    let mut out: Vec<LeaveRow> = Vec::new();
    for (doc_id, a) in load_months(conn, team, &request_window_start(), None)? {
        for (id, l) in &a.leave {
            let pending = matches!(l.status(), LeaveStatus::Pending { .. });
            if all || pending {
                let held = super::evidence::uploaded(conn, l.certificate.iter().map(|c| c.sha256.as_str()))?;
                out.push(leave_row(&doc_id, id, &a.staff, l, &names, &held));
            }
        }
    }
    out.sort_by(|a, b| (a.status != "pending", &a.start_date).cmp(&(b.status != "pending", &b.start_date)));
    Ok(out)
}

/// Shift swaps of `team`: those not yet decided unless `all`; undecided first, then by date.
pub fn shift_swaps(conn: &Connection, team: &str, all: bool) -> Result<Vec<SwapRow>, ServerError> {
    let names = names(conn, team)?;
    let mut out: Vec<SwapRow> = Vec::new();
    for (doc_id, a) in load_months(conn, team, &request_window_start(), None)? {
        for (id, s) in &a.swaps {
            let open = matches!(s.status(), SwapStatus::AwaitingColleague | SwapStatus::AwaitingManager);
            if all || open {
                out.push(swap_row(&doc_id, id, &a.staff, s, &names));
            }
        }
    }
    let open = |r: &SwapRow| r.status.starts_with("awaiting");
    out.sort_by(|a, b| (!open(a), &a.date).cmp(&(!open(b), &b.date)));
    Ok(out)
}

/// One leave request of `team`.
pub fn leave_detail(
    conn: &Connection,
    team: &str,
    doc_id: &str,
    leave_id: &str,
) -> Result<LeaveRow, ServerError> {
    let a = load_month_doc(conn, team, doc_id)?;
    let l = a.leave.get(leave_id).ok_or_else(|| {
        ServerError::NotFound(say("没有这条请假申请", &format!("no leave request {leave_id}")))
    })?;
    let held = super::evidence::uploaded(conn, l.certificate.iter().map(|c| c.sha256.as_str()))?;
    Ok(leave_row(doc_id, leave_id, &a.staff, l, &names(conn, team)?, &held))
}

/// One shift swap of `team`.
pub fn swap_detail(
    conn: &Connection,
    team: &str,
    doc_id: &str,
    swap_id: &str,
) -> Result<SwapRow, ServerError> {
    let a = load_month_doc(conn, team, doc_id)?;
    let s = a
        .swaps
        .get(swap_id)
        .ok_or_else(|| ServerError::NotFound(say("没有这条换班申请", &format!("no shift swap {swap_id}"))))?;
    Ok(swap_row(doc_id, swap_id, &a.staff, s, &names(conn, team)?))
}

/// An approver's answer to a leave request, recorded by the supervisor.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LeaveDecisionInput {
    /// The attendance document.
    pub doc_id: String,
    /// The leave request's id.
    pub leave_id: String,
    /// The approver step being recorded: `manager`, `hr` or `general_manager` (the chain's
    /// order is enforced: the answer of a step out of turn is refused).
    pub step: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// The approver's note.
    #[serde(default)]
    pub note: Option<String>,
}

/// An approver in English words.
fn approver_en(a: Approver) -> &'static str {
    match a {
        Approver::Manager => "manager",
        Approver::Hr => "HR",
        Approver::GeneralManager => "general manager",
    }
}

fn chain_words(chain: &[Approver]) -> (String, String) {
    let zh: Vec<&str> = chain.iter().map(|a| a.label_zh()).collect();
    let en: Vec<&str> = chain.iter().map(|a| approver_en(*a)).collect();
    (zh.join(" → "), en.join(" → "))
}

/// Records one approver's answer to a leave request (the supervisor acts for each approver in
/// turn). Refused, with a message, when it is another step's turn, the step is not in this
/// request's chain, the request is already decided, or a sick leave's certificate is missing
/// for the final approval.
pub fn do_decide_leave(
    st: &AppState,
    p: &Principal,
    input: &LeaveDecisionInput,
) -> Result<String, ServerError> {
    let team = supervisor_team(p)?;
    let step: Approver =
        input.step.trim().parse().map_err(|e| bad("审批环节只能是 主管/人事/总经理", &format!("{e}")))?;
    let decision: Decision =
        input.decision.trim().parse().map_err(|e| bad("审批结果只能是 批准/驳回", &format!("{e}")))?;
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(1000).collect());
    // Explain in the person's words before the verb enforces the same rules.
    let current = {
        let conn = st.db.lock();
        let a = load_month_doc(&conn, &team, &input.doc_id)?;
        a.leave.get(&input.leave_id).cloned().ok_or_else(|| {
            ServerError::NotFound(say("没有这条请假申请", &format!("no leave request {}", input.leave_id)))
        })?
    };
    let chain = current.chain();
    let (zh_chain, en_chain) = chain_words(chain);
    let next = match current.status() {
        LeaveStatus::Pending { next, .. } => next,
        s => {
            return Err(bad(
                &format!("这条请假已经处理（{}）", leave_status_str(&s)),
                &format!("this leave request is already decided ({})", leave_status_str(&s)),
            ))
        }
    };
    if !chain.contains(&step) {
        return Err(bad(
            &format!("{} 天的请假只需主管审批，不经过{}", current.days(), step.label_zh()),
            &format!(
                "leave of {} day(s) is approved by the manager alone, not by {}",
                current.days(),
                approver_en(step)
            ),
        ));
    }
    if step != next {
        return Err(bad(
            &format!("现在应由{}审批，不能先记{}（顺序：{zh_chain}）", next.label_zh(), step.label_zh()),
            &format!(
                "the {} answers next, not the {} (order: {en_chain})",
                approver_en(next),
                approver_en(step)
            ),
        ));
    }
    let last = chain.last() == Some(&step);
    if last && decision == Decision::Approve && current.needs_certificate() && !current.has_certificate() {
        return Err(bad(
            "病假 2 天及以上须先交病历/医院证明，才能最终批准；请先登记证明",
            "sick leave of 2 days or more needs the medical certificate before the final approval; record it first",
        ));
    }
    let by = actor(p);
    let lid = input.leave_id.clone();
    edit::edit::<AttendanceMonth, _>(st, p, &input.doc_id, |a| {
        a.decide_leave(&lid, &by, step, decision, note)
    })?;
    let (zh_done, en_done) = match decision {
        Decision::Approve => ("批准", "approved"),
        Decision::Reject => ("驳回", "rejected"),
    };
    let after = chain.iter().position(|s| *s == step).and_then(|i| chain.get(i + 1));
    Ok(match (decision, after) {
        (Decision::Approve, Some(n)) => say(
            &format!("已记录{}{zh_done}；下一步：{}", step.label_zh(), n.label_zh()),
            &format!("{} {en_done}; next: {}", approver_en(step), approver_en(*n)),
        ),
        (Decision::Approve, None) => say(
            &format!("已记录{}{zh_done}；请假已批准", step.label_zh()),
            &format!("{} {en_done}; the leave is approved", approver_en(step)),
        ),
        (Decision::Reject, _) => say(
            &format!("已记录{}{zh_done}；请假未获批准", step.label_zh()),
            &format!("{} {en_done}; the leave is refused", approver_en(step)),
        ),
    })
}

/// A paper medical certificate handed in for a sick leave.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CertificateInput {
    /// The attendance document.
    pub doc_id: String,
    /// The leave request's id.
    pub leave_id: String,
    /// The certificate's reference (hospital, record number).
    pub reference: String,
}

/// Records the medical certificate's reference on a leave request.
pub fn do_record_certificate(
    st: &AppState,
    p: &Principal,
    input: &CertificateInput,
) -> Result<String, ServerError> {
    let team = supervisor_team(p)?;
    let reference = input.reference.trim();
    if reference.is_empty() || reference.chars().count() > 200 {
        return Err(bad("证明编号应为 1–200 个字符", "the certificate reference must be 1–200 characters"));
    }
    {
        let conn = st.db.lock();
        load_month_doc(&conn, &team, &input.doc_id)?;
    }
    let (lid, r) = (input.leave_id.clone(), reference.to_string());
    edit::edit::<AttendanceMonth, _>(st, p, &input.doc_id, |a| a.attach_certificate(&lid, None, Some(r)))?;
    Ok(say("已登记医院证明", "medical certificate recorded"))
}

/// A leave request the supervisor records for a staff member who asked in person.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LeaveRequestInput {
    /// Staff member (user id) of the team.
    pub staff: String,
    /// `personal`, `sick`, `annual`, `other`.
    pub kind: String,
    /// First day, YYYY-MM-DD.
    pub start: String,
    /// Last day, YYYY-MM-DD (inclusive).
    pub end: String,
    /// Why.
    pub reason: String,
    /// Asked in person (required for personal leave).
    #[serde(default)]
    pub asked_in_person: bool,
}

/// Records a leave request; returns (document id, request id, message).
pub fn request_leave(
    st: &AppState,
    p: &Principal,
    input: &LeaveRequestInput,
) -> Result<(String, String, String), ServerError> {
    let kind: LeaveKind = input.kind.trim().parse().map_err(|e| bad("请假类型无效", &format!("{e}")))?;
    let start = parse_date(&input.start, "开始日期", "first day")?;
    let end = parse_date(&input.end, "结束日期", "last day")?;
    if end < start {
        return Err(bad("结束日期早于开始日期", "the last day is before the first day"));
    }
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(bad("请填写事由（最多 1000 字）", "give a reason (at most 1000 characters)"));
    }
    let asked = today();
    match kind {
        LeaveKind::Personal if asked.days_until(&start) < 1 => {
            return Err(bad("事假须至少提前一天申请", "personal leave must be asked at least one day ahead"))
        }
        LeaveKind::Personal if !input.asked_in_person => {
            return Err(bad("事假须本人当面申请", "personal leave must be asked in person"))
        }
        LeaveKind::Sick if asked.days_until(&start) < -1 => {
            return Err(bad(
                "病假须当天（可电话）或之前报告，最迟第二天",
                "sick leave is reported on the day (by phone) or earlier, at the latest the next day",
            ))
        }
        _ => {}
    }
    let new = NewLeave {
        kind,
        start: start.to_string(),
        end: end.to_string(),
        reason: reason.to_string(),
        asked_in_person: input.asked_in_person,
    };
    let (lid, by) = (new_record_id()?, actor(p));
    let l = lid.clone();
    let (doc, ()) = edit_month(st, p, input.staff.trim(), &start.month_key(), move |a| {
        a.request_leave(l, &by, &new);
        Ok(())
    })?;
    let days = start.days_until(&end) + 1;
    let (zh_chain, en_chain) = chain_words(if days >= 3 {
        &[Approver::Manager, Approver::Hr, Approver::GeneralManager]
    } else {
        &[Approver::Manager]
    });
    let msg = say(
        &format!("已登记 {days} 天请假，等待主管审批（{zh_chain}）"),
        &format!("{days} day(s) of leave recorded, waiting for the manager ({en_chain})"),
    );
    Ok((doc, lid, msg))
}

/// Records a leave request a staff member asked for in person (the supervisor writes it).
pub fn do_request_leave(
    st: &AppState,
    p: &Principal,
    input: &LeaveRequestInput,
) -> Result<String, ServerError> {
    request_leave(st, p, input).map(|(_, _, m)| m)
}

/// The manager's answer to a shift swap.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SwapDecisionInput {
    /// The requester's attendance document.
    pub doc_id: String,
    /// The swap's id.
    pub swap_id: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// The manager's note.
    #[serde(default)]
    pub note: Option<String>,
    /// On approval, also exchange the two people's roster entries on both dates.
    #[serde(default)]
    pub update_roster: bool,
}

/// Answers a shift swap as the manager (only after the colleague agreed); on approval with
/// `update_roster`, the two people's roster entries are exchanged on both dates.
pub fn do_decide_swap(
    st: &AppState,
    p: &Principal,
    input: &SwapDecisionInput,
) -> Result<String, ServerError> {
    let team = supervisor_team(p)?;
    let decision: Decision =
        input.decision.trim().parse().map_err(|e| bad("审批结果只能是 批准/驳回", &format!("{e}")))?;
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(1000).collect());
    let (swap, requester) = {
        let conn = st.db.lock();
        let a = load_month_doc(&conn, &team, &input.doc_id)?;
        let s = a.swaps.get(&input.swap_id).cloned().ok_or_else(|| {
            ServerError::NotFound(say("没有这条换班申请", &format!("no shift swap {}", input.swap_id)))
        })?;
        (s, a.staff)
    };
    match swap.status() {
        SwapStatus::AwaitingManager => {}
        SwapStatus::AwaitingColleague => {
            return Err(bad(
                "同事还没有同意换班，主管暂不能审批",
                "the colleague has not agreed yet; the manager answers after both agreed",
            ))
        }
        SwapStatus::Approved | SwapStatus::Rejected => {
            return Err(bad("这条换班已经处理", "this shift swap is already decided"))
        }
    }
    let by = actor(p);
    let sid = input.swap_id.clone();
    edit::edit::<AttendanceMonth, _>(st, p, &input.doc_id, |a| a.decide_swap(&sid, &by, decision, note))?;
    if decision == Decision::Reject {
        return Ok(say("已驳回换班", "shift swap rejected"));
    }
    if !input.update_roster {
        return Ok(say("已批准换班（排班表未改）", "shift swap approved (roster unchanged)"));
    }
    match exchange_in_roster(st, p, &team, &requester, &swap) {
        Ok(()) => {
            Ok(say("已批准换班，排班表已对调", "shift swap approved; the roster entries are exchanged"))
        }
        Err(e) => Err(bad(
            &format!("已批准换班，但排班表未能更新：{e}；请在排班表中手动调整"),
            &format!("shift swap approved, but the roster could not be updated: {e}; adjust it by hand"),
        )),
    }
}

/// A date of a swap: (date, the requester's shift when the roster is silent, the colleague's).
type SwapDay = (String, Option<Shift>, Option<Shift>);

/// Exchanges the requester's and the colleague's roster entries on the swap's dates. When the
/// roster is silent, the requester's shift on their date and the colleague's on theirs are the
/// ones recorded in the swap.
fn exchange_in_roster(
    st: &AppState,
    p: &Principal,
    team: &str,
    requester: &str,
    s: &ShiftSwap,
) -> Result<(), ServerError> {
    // (date, requester's fallback, colleague's fallback), grouped by month.
    let mut by_month: BTreeMap<String, Vec<SwapDay>> = BTreeMap::new();
    let mut dates = vec![s.date.clone()];
    if s.their_date != s.date {
        dates.push(s.their_date.clone());
    }
    for date in dates {
        let d = parse_date(&date, "日期", "date")?;
        let mine = (date == s.date).then_some(s.my_shift);
        let theirs = (date == s.their_date).then_some(s.their_shift);
        by_month.entry(d.month_key()).or_default().push((date, mine, theirs));
    }
    for (month, entries) in by_month {
        let (t, m) = (team.to_string(), month.clone());
        let (a, b) = (requester.to_string(), s.with_staff.clone());
        edit_keyed(
            st,
            p,
            &format!("roster/{team}/{month}"),
            &Roster::new(team, &month),
            move |conn| roster_id(conn, &t, &m),
            move |r: &mut Roster| {
                for (date, mine, theirs) in entries {
                    let (ka, kb) = (Roster::key(&date, &a), Roster::key(&date, &b));
                    let va = r.shifts.get(&ka).copied().or(mine);
                    let vb = r.shifts.get(&kb).copied().or(theirs);
                    match vb {
                        Some(v) => r.shifts.insert(ka, v),
                        None => r.shifts.remove(&ka),
                    };
                    match va {
                        Some(v) => r.shifts.insert(kb, v),
                        None => r.shifts.remove(&kb),
                    };
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

fn roster_id(conn: &Connection, team: &str, month: &str) -> Result<Option<String>, ServerError> {
    Ok(conn
        .query_row(
            "SELECT doc_id FROM idx_keyed WHERE kind = 'roster' AND team = ?1 AND key = ?2 ORDER BY doc_id LIMIT 1",
            params![team, month],
            |r| r.get(0),
        )
        .optional()?)
}

// ---- request pages ----------------------------------------------------------------------------

/// Query of the request list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
pub struct RequestsQuery {
    /// `1` to include decided requests of the last 12 months.
    pub all: Option<String>,
    /// Which list a download is of: `leave` (default) or `swaps`.
    pub list: Option<String>,
    /// `csv` or `xlsx` to download (pages only).
    pub format: Option<String>,
}

fn leave_kind_label(lang: Lang, k: &str) -> String {
    k.parse::<LeaveKind>().map_or_else(|_| k.to_string(), |v| label(lang, v.label_zh(), v.as_str()))
}

fn shift_text(lang: Lang, s: &str) -> String {
    s.parse::<Shift>().map_or_else(|_| s.to_string(), |v| shift_label(lang, v))
}

fn chain_text(lang: Lang, r: &LeaveRow) -> String {
    r.chain
        .iter()
        .map(|s| {
            let mark = match (s.decision.as_deref(), s.next) {
                (Some("approve"), _) => " ✓",
                (Some(_), _) => " ✗",
                (None, true) => lang.t("（待审）", " (next)"),
                (None, false) => "",
            };
            format!("{}{mark}", approver_label(lang, &s.step))
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

fn leave_status_text(lang: Lang, r: &LeaveRow) -> String {
    match (r.status.as_str(), r.next_step.as_deref()) {
        ("pending", Some(n)) => match lang {
            Lang::Zh => format!("待{}审批", approver_label(lang, n)),
            Lang::En => format!("waiting for {}", approver_label(lang, n)),
        },
        ("approved", _) => lang.t("已批准", "approved").into(),
        ("rejected", _) => lang.t("已驳回", "rejected").into(),
        ("cancelled", _) => lang.t("已撤回", "withdrawn").into(),
        (other, _) => other.into(),
    }
}

fn certificate_text(lang: Lang, r: &LeaveRow) -> String {
    match (r.needs_certificate, r.has_certificate) {
        (false, _) => lang.t("不需要", "not needed").into(),
        (true, true) => {
            let scan = r.certificate.as_ref().map(|_| lang.t("（扫描件）", " (scan)")).unwrap_or_default();
            format!("{} {}{scan}", lang.t("已交", "handed in"), r.certificate_ref.clone().unwrap_or_default())
        }
        (true, false) => {
            lang.t("未交（病假 2 天及以上须交）", "missing (required for 2+ days of sick leave)").into()
        }
    }
}

fn swap_status_text(lang: Lang, s: &str) -> String {
    match s {
        "awaiting_colleague" => lang.t("等待同事同意", "waiting for the colleague").into(),
        "awaiting_manager" => {
            lang.t("同事已同意，待主管审批", "colleague agreed; waiting for the manager").into()
        }
        "approved" => lang.t("已批准", "approved").into(),
        "rejected" => lang.t("已驳回", "rejected").into(),
        other => other.into(),
    }
}

fn leave_table(lang: Lang, rows: &[LeaveRow]) -> Table {
    let mut t = Table::new(
        "leave-requests",
        lang.t("请假申请", "Leave requests"),
        &[
            lang.t("员工", "Staff member"),
            lang.t("类型", "Kind"),
            lang.t("开始", "First day"),
            lang.t("结束", "Last day"),
            lang.t("天数", "Days"),
            lang.t("事由", "Reason"),
            lang.t("申请时间", "Asked"),
            lang.t("当面申请", "In person"),
            lang.t("医院证明", "Certificate"),
            lang.t("审批链", "Approval chain"),
            lang.t("状态", "Status"),
        ],
    );
    for r in rows {
        let href = format!("/attendance/leave/{}/{}", r.doc_id, r.leave_id);
        t.push_warn(
            vec![
                Cell::Link(r.staff_name.clone(), href.clone()),
                leave_kind_label(lang, &r.kind).into(),
                r.start_date.clone().into(),
                r.end_date.clone().into(),
                Cell::Int(r.days),
                r.reason.clone().into(),
                fmt_time(r.requested_at).into(),
                (if r.asked_in_person { lang.t("是", "yes") } else { lang.t("否", "no") }).into(),
                certificate_text(lang, r).into(),
                chain_text(lang, r).into(),
                Cell::Link(leave_status_text(lang, r), href),
            ],
            r.needs_certificate && !r.has_certificate,
        );
    }
    t
}

fn swap_table(lang: Lang, rows: &[SwapRow]) -> Table {
    let mut t = Table::new(
        "shift-swaps",
        lang.t("换班申请", "Shift swaps"),
        &[
            lang.t("申请人", "Requester"),
            lang.t("让出日期", "Date given"),
            lang.t("班次", "Shift"),
            lang.t("换班同事", "Colleague"),
            lang.t("换入日期", "Date taken"),
            lang.t("同事班次", "Colleague's shift"),
            lang.t("申请时间", "Asked"),
            lang.t("同事同意", "Colleague agreed"),
            lang.t("状态", "Status"),
        ],
    );
    for r in rows {
        let href = format!("/attendance/swap/{}/{}", r.doc_id, r.swap_id);
        t.push(vec![
            Cell::Link(r.staff_name.clone(), href.clone()),
            r.date.clone().into(),
            shift_text(lang, &r.my_shift).into(),
            r.with_name.clone().into(),
            r.their_date.clone().into(),
            shift_text(lang, &r.their_shift).into(),
            fmt_time(r.requested_at).into(),
            r.colleague_agreed_at.map_or_else(|| lang.t("尚未同意", "not yet").to_string(), fmt_time).into(),
            Cell::Link(swap_status_text(lang, &r.status), href),
        ]);
    }
    t
}

fn with_param(here: &str, kv: &str) -> String {
    let sep = if here.contains('?') { '&' } else { '?' };
    format!("{here}{sep}{kv}")
}

async fn requests_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<RequestsQuery>,
) -> PageResult {
    let team = ctx.team()?;
    let lang = ctx.lang;
    let all = q.all.as_deref().is_some_and(|a| a == "1" || a == "true");
    let db = state.db.clone();
    let (leave, swaps) = blocking(lang, move || {
        let conn = db.lock();
        Ok((leave_requests(&conn, &team, all)?, shift_swaps(&conn, &team, all)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let lt = leave_table(lang, &leave);
    let st = swap_table(lang, &swaps);
    if let Some(fmt) = q.format.as_deref() {
        let t = if q.list.as_deref() == Some("swaps") { &st } else { &lt };
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let here_leave = with_param(&ctx.here, "list=leave");
    let here_swaps = with_param(&ctx.here, "list=swaps");
    let body = html! {
        (sub_nav(&ctx, &today().month_key()))
        form.bar method="get" action="/attendance/requests" {
            label { span { input type="checkbox" name="all" value="1" checked[all];
                (ctx.t(" 包括已处理的（近 12 个月）", " include decided ones (last 12 months)")) } }
            button type="submit" { (ctx.t("显示", "Show")) }
        }
        p.muted { (ctx.t(
            "请假 3 天及以上须依次经主管、人事、总经理批准；其余只需主管批准。病假 2 天及以上须交医院证明后才能最终批准。换班须先由同事同意，再由主管批准。点姓名或状态进入审批。",
            "Leave of 3 days or more needs the manager, HR and the general manager, in that order; shorter leave the manager alone. Sick leave of 2 days or more needs the medical certificate before the final approval. A swap needs the colleague's agreement, then the manager's. Open a request by its name or status.")) }
        h2 { (ctx.t("请假", "Leave")) " (" (leave.len()) ")" }
        (export_links(&here_leave, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        (lt.html(ctx.t("没有待审批的请假", "No leave request waits for a decision")))
        h2 { (ctx.t("换班", "Shift swaps")) " (" (swaps.len()) ")" }
        (export_links(&here_swaps, ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel")))
        (st.html(ctx.t("没有待处理的换班", "No shift swap waits for a decision")))
    };
    Ok(layout::page(&ctx, ctx.t("请假与换班审批", "Leave and swap approvals"), body))
}

async fn leave_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((doc, id)): Path<(String, String)>,
) -> PageResult {
    let team = ctx.team()?;
    let lang = ctx.lang;
    let db = state.db.clone();
    let r = blocking(lang, move || {
        let conn = db.lock();
        leave_detail(&conn, &team, &doc, &id)
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let pending = r.status == "pending";
    let body = html! {
        p { a href="/attendance/requests" { "← " (ctx.t("请假与换班审批", "Leave and swap approvals")) } }
        div.grid2 {
            div.card {
                p { b { (r.staff_name) } " · " (leave_kind_label(lang, &r.kind)) }
                p { (r.start_date) " – " (r.end_date) " · " (r.days) (ctx.t(" 天", " day(s)")) }
                p { (ctx.t("事由：", "Reason: ")) (r.reason) }
                p.muted { (ctx.t("申请于 ", "Asked ")) (fmt_time(r.requested_at))
                    " · " @if r.asked_in_person { (ctx.t("本人当面申请", "asked in person")) } @else { (ctx.t("非当面申请", "not asked in person")) } }
                p { (ctx.t("医院证明：", "Medical certificate: ")) (certificate_text(lang, &r)) }
                @if let Some(c) = &r.certificate {
                    div.thumbs { (super::evidence::thumb(&ctx, c, ctx.t("医院证明扫描件", "certificate scan"))) }
                }
            }
            div.card {
                p { (ctx.t("状态：", "Status: ")) b.status { (leave_status_text(lang, &r)) } }
                p.muted { (ctx.t("审批链：", "Approval chain: ")) (chain_text(lang, &r)) }
                p { a href={ "/records/" (r.doc_id) "/history" } { (ctx.t("修改历史", "History of changes")) } }
            }
        }
        h2 { (ctx.t("审批链", "Approval chain")) }
        table {
            thead { tr { th { "#" } th { (ctx.t("环节", "Step")) } th { (ctx.t("结果", "Answer")) } th { (ctx.t("记录人", "Recorded by")) } th { (ctx.t("时间", "When")) } th { (ctx.t("意见", "Note")) } } }
            tbody {
                @for (i, s) in r.chain.iter().enumerate() {
                    tr.warn[s.next] {
                        td.num { (i + 1) }
                        td { (approver_label(lang, &s.step)) }
                        td { @match s.decision.as_deref() {
                            Some(d) => (d.parse::<Decision>().map_or_else(|_| d.to_string(), |v| label(lang, v.label_zh(), v.as_str()))),
                            None => @if s.next { b { (ctx.t("下一步：待审批", "next: waiting")) } } @else { span.muted { (ctx.t("等待前一步", "after the previous step")) } },
                        } }
                        td { (s.by_name.clone().unwrap_or_default()) }
                        td { (s.at.map(fmt_time).unwrap_or_default()) }
                        td { (s.note.clone().unwrap_or_default()) }
                    }
                }
            }
        }
        @if pending {
            h2 { (ctx.t("记录审批", "Record an answer")) }
            p.muted { (ctx.t("主管代各审批人依次记录；顺序由系统检查，不按顺序会被拒绝。",
                "The supervisor records each approver's answer in turn; the order is checked and an answer out of turn is refused.")) }
            form.stack method="post" action="/attendance/leave/decide" {
                (form_fields(&ctx))
                input type="hidden" name="doc_id" value=(r.doc_id);
                input type="hidden" name="leave_id" value=(r.leave_id);
                label { (ctx.t("审批环节", "Approver step"))
                    select name="step" {
                        @for s in &r.chain {
                            option value=(s.step) selected[s.next] disabled[s.decision.is_some()] {
                                (approver_label(lang, &s.step))
                                @if s.next { (ctx.t("（下一步）", " (next)")) }
                                @if s.decision.is_some() { (ctx.t("（已记录）", " (recorded)")) }
                            }
                        }
                    }
                }
                label { (ctx.t("意见", "Note")) textarea name="note" rows="2" maxlength="1000" {} }
                div {
                    button.primary type="submit" name="decision" value="approve" { (ctx.t("批准", "Approve")) }
                    " "
                    button type="submit" name="decision" value="reject" { (ctx.t("驳回", "Reject")) }
                }
            }
        }
        @if r.needs_certificate && !r.has_certificate {
            h2 { (ctx.t("登记医院证明", "Record the medical certificate")) }
            form.stack method="post" action="/attendance/leave/certificate" {
                (form_fields(&ctx))
                input type="hidden" name="doc_id" value=(r.doc_id);
                input type="hidden" name="leave_id" value=(r.leave_id);
                label { (ctx.t("证明（医院、病历编号）", "Certificate (hospital, record number)")) input name="reference" required maxlength="200"; }
                button.primary type="submit" { (ctx.t("登记", "Record")) }
            }
        }
    };
    Ok(layout::page(&ctx, ctx.t("请假申请", "Leave request"), body))
}

async fn swap_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((doc, id)): Path<(String, String)>,
) -> PageResult {
    let team = ctx.team()?;
    let lang = ctx.lang;
    let db = state.db.clone();
    let r = blocking(lang, move || {
        let conn = db.lock();
        swap_detail(&conn, &team, &doc, &id)
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let body = html! {
        p { a href="/attendance/requests" { "← " (ctx.t("请假与换班审批", "Leave and swap approvals")) } }
        div.grid2 {
            div.card {
                p { b { (r.staff_name) } " ⇄ " b { (r.with_name) } }
                p { (r.staff_name) (ctx.t(" 让出 ", " gives away ")) (r.date) " (" (shift_text(lang, &r.my_shift)) ")" }
                p { (r.staff_name) (ctx.t(" 换入 ", " takes ")) (r.their_date) " (" (r.with_name) (ctx.t(" 的", "'s")) " " (shift_text(lang, &r.their_shift)) ")" }
                p.muted { (ctx.t("申请于 ", "Asked ")) (fmt_time(r.requested_at)) }
            }
            div.card {
                p { (ctx.t("同事同意：", "Colleague's agreement: "))
                    @match r.colleague_agreed_at { Some(t) => span.tag.good { (fmt_time(t)) }, None => span.tag.bad { (ctx.t("尚未同意", "not yet")) } } }
                p { (ctx.t("状态：", "Status: ")) b.status { (swap_status_text(lang, &r.status)) } }
                @if let Some(d) = &r.manager_decision {
                    p { (ctx.t("主管：", "Manager: ")) (d.parse::<Decision>().map_or_else(|_| d.clone(), |v| label(lang, v.label_zh(), v.as_str())))
                        " · " (r.manager_by.clone().unwrap_or_default()) " · " (r.manager_at.map(fmt_time).unwrap_or_default()) }
                    @if let Some(n) = &r.manager_note { p.muted { (n) } }
                }
                p { a href={ "/records/" (r.doc_id) "/history" } { (ctx.t("修改历史", "History of changes")) } }
            }
        }
        @match r.status.as_str() {
            "awaiting_manager" => {
                h2 { (ctx.t("主管审批", "Manager's answer")) }
                form.stack method="post" action="/attendance/swap/decide" {
                    (form_fields(&ctx))
                    input type="hidden" name="doc_id" value=(r.doc_id);
                    input type="hidden" name="swap_id" value=(r.swap_id);
                    label { (ctx.t("意见", "Note")) textarea name="note" rows="2" maxlength="1000" {} }
                    label { span { input type="checkbox" name="update_roster" value="1" checked;
                        (ctx.t(" 批准时同时对调两人在这两天的排班", " on approval, exchange the two people's roster entries on both days")) } }
                    div {
                        button.primary type="submit" name="decision" value="approve" { (ctx.t("批准", "Approve")) }
                        " "
                        button type="submit" name="decision" value="reject" { (ctx.t("驳回", "Reject")) }
                    }
                }
            },
            "awaiting_colleague" => {
                p.flash.err { (ctx.t("同事尚未在手机上同意；同意后主管才能审批。", "The colleague has not agreed on their phone yet; the manager answers after that.")) }
            },
            _ => {},
        }
    };
    Ok(layout::page(&ctx, ctx.t("换班申请", "Shift swap"), body))
}

async fn leave_decide_post(State(state): State<AppState>, posted: Posted) -> Response {
    let ctx = &posted.ctx;
    let f = &posted.form;
    let input = (|| {
        Ok::<_, ServerError>(LeaveDecisionInput {
            doc_id: f.required("doc_id", "doc_id")?.to_string(),
            leave_id: f.required("leave_id", "leave_id")?.to_string(),
            step: f.required("step", ctx.t("审批环节", "Approver step"))?.to_string(),
            decision: f.required("decision", ctx.t("审批结果", "Decision"))?.to_string(),
            note: f.get("note").map(str::to_string),
        })
    })();
    let st = state.clone();
    let p = ctx.p.clone();
    let result = match input {
        Ok(i) => run(move || do_decide_leave(&st, &p, &i)).await,
        Err(e) => Err(e),
    };
    after_action(ctx.lang, &posted.back, result)
}

async fn certificate_post(State(state): State<AppState>, posted: Posted) -> Response {
    let ctx = &posted.ctx;
    let f = &posted.form;
    let input = (|| {
        Ok::<_, ServerError>(CertificateInput {
            doc_id: f.required("doc_id", "doc_id")?.to_string(),
            leave_id: f.required("leave_id", "leave_id")?.to_string(),
            reference: f.required("reference", ctx.t("证明", "Certificate"))?.to_string(),
        })
    })();
    let st = state.clone();
    let p = ctx.p.clone();
    let result = match input {
        Ok(i) => run(move || do_record_certificate(&st, &p, &i)).await,
        Err(e) => Err(e),
    };
    after_action(ctx.lang, &posted.back, result)
}

async fn leave_new_post(State(state): State<AppState>, posted: Posted) -> Response {
    let ctx = &posted.ctx;
    let f = &posted.form;
    let input = (|| {
        Ok::<_, ServerError>(LeaveRequestInput {
            staff: f.required("staff", ctx.t("员工", "Staff member"))?.to_string(),
            kind: f.required("kind", ctx.t("类型", "Kind"))?.to_string(),
            start: f.required("start", ctx.t("开始日期", "First day"))?.to_string(),
            end: f.required("end", ctx.t("结束日期", "Last day"))?.to_string(),
            reason: f.required("reason", ctx.t("事由", "Reason"))?.to_string(),
            asked_in_person: f.checked("asked_in_person"),
        })
    })();
    let st = state.clone();
    let p = ctx.p.clone();
    let result = match input {
        Ok(i) => run(move || request_leave(&st, &p, &i)).await,
        Err(e) => Err(e),
    };
    match result {
        // Straight to the new request, where its approval chain starts.
        Ok((doc, id, msg)) => after_action(ctx.lang, &format!("/attendance/leave/{doc}/{id}"), Ok(msg)),
        Err(e) => after_action(ctx.lang, &posted.back, Err(e)),
    }
}

async fn swap_decide_post(State(state): State<AppState>, posted: Posted) -> Response {
    let ctx = &posted.ctx;
    let f = &posted.form;
    let input = (|| {
        Ok::<_, ServerError>(SwapDecisionInput {
            doc_id: f.required("doc_id", "doc_id")?.to_string(),
            swap_id: f.required("swap_id", "swap_id")?.to_string(),
            decision: f.required("decision", ctx.t("审批结果", "Decision"))?.to_string(),
            note: f.get("note").map(str::to_string),
            update_roster: f.checked("update_roster"),
        })
    })();
    let st = state.clone();
    let p = ctx.p.clone();
    let result = match input {
        Ok(i) => run(move || do_decide_swap(&st, &p, &i)).await,
        Err(e) => Err(e),
    };
    after_action(ctx.lang, &posted.back, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_model::enums::ClockKind;
    use kefu_model::verbs::NewSwap;

    const TZ: i32 = CHINA_UTC_OFFSET_MIN;

    fn at(date: &str, minute: i64) -> i64 {
        Date::parse(date).unwrap_or_else(|| panic!("{date}")).start_ms(TZ) + minute * 60_000
    }

    fn person(id: &str, role: &str) -> StaffInfo {
        StaffInfo { id: id.into(), name: format!("{id}-name"), role: role.into() }
    }

    #[test]
    fn month_days_and_navigation() {
        assert_eq!(month_days("2028-02").len(), 29);
        assert_eq!(month_days("2027-02").len(), 28);
        assert_eq!(month_days("2027-13"), Vec::<String>::new());
        assert_eq!(prev_month("2027-01").as_deref(), Some("2026-12"));
        assert_eq!(next_month("2027-01").as_deref(), Some("2027-02"));
        assert_eq!(next_month("2027-12").as_deref(), Some("2028-01"));
        assert_eq!(weekday_short(Lang::Zh, "2026-06-01"), "一");
        assert_eq!(weekday_short(Lang::En, "2026-06-07"), "Su");
    }

    #[test]
    fn the_grid_derives_each_day_and_the_totals() {
        let li = Actor { user: "li".into(), at: at("2026-06-01", 8 * 60) };
        let sup = Actor { user: "sup".into(), at: at("2026-06-01", 9 * 60) };
        let mut june = AttendanceMonth::new("li", "A", "2026-06");
        let clock =
            |a: &mut AttendanceMonth, id: &str, date: &str, kind: ClockKind, shift: Shift, minute: i64| {
                let by = Actor { user: "li".into(), at: at(date, minute) };
                a.clock(id.into(), &by, date, kind, shift, None);
            };
        // 06-01 early shift: 12 minutes late, left 20 minutes early.
        clock(&mut june, "c1", "2026-06-01", ClockKind::In, Shift::Early, 8 * 60 + 42);
        clock(&mut june, "c2", "2026-06-01", ClockKind::Out, Shift::Early, 17 * 60 + 10);
        // 06-02 late shift on time, 50 minutes of overtime after midnight.
        clock(&mut june, "c3", "2026-06-02", ClockKind::In, Shift::Late, 14 * 60 + 50);
        clock(&mut june, "c4", "2026-06-02", ClockKind::Out, Shift::Late, 24 * 60 + 50);
        june.add_overtime("o1".into(), &li, "2026-06-02", 50, None);
        // 06-03 clocked in only: missing clock-out. 06-04 nothing at all: missing too.
        clock(&mut june, "c5", "2026-06-03", ClockKind::In, Shift::Early, 8 * 60 + 20);
        // 06-05 marked absent.
        june.mark_absent(&sup, "2026-06-05", None);
        // 06-06 a rostered rest day worked.
        clock(&mut june, "c6", "2026-06-06", ClockKind::In, Shift::Rest, 9 * 60);
        clock(&mut june, "c7", "2026-06-06", ClockKind::Out, Shift::Rest, 15 * 60);
        // 06-10..11 a pending leave request.
        let pending = NewLeave {
            kind: LeaveKind::Annual,
            start: "2026-06-10".into(),
            end: "2026-06-11".into(),
            reason: "x".into(),
            asked_in_person: true,
        };
        june.request_leave("l2".into(), &li, &pending);
        // Approved leave asked in May running 05-30 .. 06-02 lives in May's document.
        let mut may = AttendanceMonth::new("li", "A", "2026-05");
        let long = NewLeave {
            kind: LeaveKind::Annual,
            start: "2026-05-30".into(),
            end: "2026-06-02".into(),
            reason: "探亲".into(),
            asked_in_person: true,
        };
        may.request_leave("l1".into(), &li, &long);
        for step in [Approver::Manager, Approver::Hr, Approver::GeneralManager] {
            may.decide_leave("l1", &sup, step, Decision::Approve, None).unwrap_or_else(|e| panic!("{e}"));
        }
        // Someone else's month does not leak into li's row.
        let mut other = AttendanceMonth::new("wang", "A", "2026-06");
        other.mark_absent(&sup, "2026-06-01", None);

        let mut roster = Roster::new("A", "2026-06");
        for (d, s) in [
            ("2026-06-01", Shift::Early),
            ("2026-06-02", Shift::Late),
            ("2026-06-03", Shift::Early),
            ("2026-06-04", Shift::Early),
            ("2026-06-05", Shift::Early),
            ("2026-06-06", Shift::Rest),
            ("2026-06-20", Shift::Early),
        ] {
            roster.shifts.insert(Roster::key(d, "li"), s);
        }
        let docs = vec![("may".to_string(), may), ("june".to_string(), june), ("w".to_string(), other)];
        let grid = compute_grid("2026-06", &[person("li", "agent")], &docs, Some(&roster), "2026-06-15");
        assert_eq!(grid.len(), 1);
        let li = &grid[0];
        assert_eq!(li.doc_ids, vec!["june".to_string()]);
        assert_eq!(li.days.len(), 30);
        let d = |n: usize| &li.days[n - 1];
        assert_eq!((d(1).late_minutes, d(1).early_leave_minutes), (12, 20));
        assert!(d(1).on_leave && d(2).on_leave && !d(3).on_leave, "May's leave runs into June");
        assert_eq!(d(2).rostered.as_deref(), Some("late"));
        assert_eq!((d(2).late_minutes, d(2).early_leave_minutes, d(2).overtime_minutes), (0, 0, 50));
        assert!(d(3).missing_clock && d(4).missing_clock);
        assert!(!d(1).missing_clock && !d(2).missing_clock);
        assert!(d(5).absent && !d(5).missing_clock, "an absence is not also a missing clock");
        assert!(d(6).worked_rest_day && !d(6).missing_clock);
        assert!(d(10).leave_pending && d(11).leave_pending && !d(10).on_leave);
        assert!(!d(20).missing_clock, "future days are not flagged");
        assert_eq!(
            li.totals,
            MonthTotals {
                late_count: 1,
                late_minutes: 12,
                early_leave_count: 1,
                early_leave_minutes: 20,
                absences: 1,
                leave_days: 2,
                overtime_minutes: 50,
                missing_clocks: 2,
                rest_days_worked: 1,
            }
        );
        assert_eq!(cell_text(Lang::Zh, d(1)), "早 迟12 退20 假");
        assert_eq!(cell_text(Lang::Zh, d(2)), "晚 假 加50");
        assert_eq!(cell_text(Lang::En, d(5)), "E absent");
        assert_eq!(cell_text(Lang::Zh, d(6)), "休 出勤");
        assert_eq!(cell_text(Lang::Zh, d(10)), "假?");
        let g = MonthGrid {
            month: "2026-06".into(),
            roster_doc: None,
            dates: month_days("2026-06"),
            people: grid,
        };
        let t = grid_table(Lang::Zh, &g);
        assert_eq!(t.columns.len(), 2 + 30 + 9);
        assert_eq!(t.warn, vec![true]);
    }

    #[test]
    fn a_posted_roster_sends_only_changed_cells() {
        let f = super::super::form::FormData::parse(
            "month=2026-06&o:2026-06-01/li=early&r:2026-06-01/li=early&o:2026-06-02/li=early&r:2026-06-02/li=rest\
             &o:2026-06-03/li=&r:2026-06-03/li=late&o:2026-06-04/li=late&r:2026-06-04/li="
                .as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let c = roster_changes(&f);
        assert_eq!(
            c,
            vec![
                RosterChange { date: "2026-06-02".into(), staff: "li".into(), shift: Some("rest".into()) },
                RosterChange { date: "2026-06-03".into(), staff: "li".into(), shift: Some("late".into()) },
                RosterChange { date: "2026-06-04".into(), staff: "li".into(), shift: None },
            ]
        );
    }

    // ---- against a temporary database ----

    fn setup() -> (tempfile::TempDir, AppState, Principal) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        {
            let conn = db.lock();
            for (id, role, team) in [
                ("sup", "supervisor", "A"),
                ("li", "agent", "A"),
                ("wang", "agent", "A"),
                ("zhang", "field", "A"),
                ("sup2", "supervisor", "B"),
            ] {
                conn.execute(
                    "INSERT INTO users (id, username, display_name, role, team, password_hash, created_at) VALUES (?1, ?1, ?1, ?2, ?3, 'x', 0)",
                    params![id, role, team],
                )
                .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let st = AppState::new(db, crate::sync::Limits::default());
        let sup = Principal {
            user_id: "sup".into(),
            device_id: "web".into(),
            role: Role::Supervisor,
            team: Some("A".into()),
        };
        (dir, st, sup)
    }

    fn decide(
        st: &AppState,
        p: &Principal,
        doc: &str,
        id: &str,
        step: &str,
        decision: &str,
    ) -> Result<String, ServerError> {
        let input = LeaveDecisionInput {
            doc_id: doc.into(),
            leave_id: id.into(),
            step: step.into(),
            decision: decision.into(),
            note: Some("ok".into()),
        };
        do_decide_leave(st, p, &input)
    }

    fn refused(r: Result<String, ServerError>, words: &[&str]) {
        match r {
            Err(ServerError::BadRequest(m)) => {
                for w in words {
                    assert!(m.contains(w), "{m:?} lacks {w:?}");
                }
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_three_day_leave_walks_the_chain_in_order() {
        let (_d, st, sup) = setup();
        let start = today().add_days(5);
        let input = LeaveRequestInput {
            staff: "zhang".into(),
            kind: "annual".into(),
            start: start.to_string(),
            end: start.add_days(2).to_string(),
            reason: "回老家探亲".into(),
            asked_in_person: true,
        };
        let (doc, id, msg) = request_leave(&st, &sup, &input).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg.contains("3 day"), "{msg}");
        // The month document was created under the keyed genesis id, as a phone would.
        let key = format!("attendance/A/zhang/{}", start.month_key());
        let (gid, _) = KefuDoc::genesis(
            &key,
            &AttendanceMonth::new("zhang", "A", &start.month_key()),
            edit::fresh_actor().unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc, gid.to_string());
        let pending = {
            let conn = st.db.lock();
            leave_requests(&conn, "A", false).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].days, 3);
        assert_eq!(pending[0].next_step.as_deref(), Some("manager"));
        assert_eq!(pending[0].chain.len(), 3);

        // Out of order: HR and the general manager before the manager.
        refused(
            decide(&st, &sup, &doc, &id, "hr", "approve"),
            &["主管", "the manager answers next, not the HR"],
        );
        refused(
            decide(&st, &sup, &doc, &id, "general_manager", "approve"),
            &["the manager answers next", "manager → HR → general manager"],
        );
        refused(decide(&st, &sup, &doc, &id, "boss", "approve"), &["审批环节"]);
        let m = decide(&st, &sup, &doc, &id, "manager", "approve").unwrap_or_else(|e| panic!("{e}"));
        assert!(m.contains("next: HR"), "{m}");
        refused(decide(&st, &sup, &doc, &id, "general_manager", "approve"), &["the HR answers next"]);
        refused(decide(&st, &sup, &doc, &id, "manager", "approve"), &["the HR answers next"]);
        let m = decide(&st, &sup, &doc, &id, "hr", "approve").unwrap_or_else(|e| panic!("{e}"));
        assert!(m.contains("next: general manager"), "{m}");
        let m = decide(&st, &sup, &doc, &id, "general_manager", "approve").unwrap_or_else(|e| panic!("{e}"));
        assert!(m.contains("approved"), "{m}");
        refused(decide(&st, &sup, &doc, &id, "general_manager", "approve"), &["already decided"]);

        let conn = st.db.lock();
        let row = leave_detail(&conn, "A", &doc, &id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(row.status, "approved");
        assert!(row
            .chain
            .iter()
            .all(|s| s.decision.as_deref() == Some("approve") && s.by.as_deref() == Some("sup")));
        assert!(leave_requests(&conn, "A", false).unwrap_or_else(|e| panic!("{e}")).is_empty());
        assert_eq!(leave_requests(&conn, "A", true).unwrap_or_else(|e| panic!("{e}")).len(), 1);
        // Another team's supervisor does not see it.
        assert!(matches!(leave_detail(&conn, "B", &doc, &id), Err(ServerError::NotFound(_))));
        // Every answer was stored as its own change by the supervisor.
        let n: i64 = conn
            .query_row("SELECT count(*) FROM provenance WHERE doc_id = ?1 AND user_id = 'sup'", [&doc], |r| {
                r.get(0)
            })
            .unwrap_or(0);
        assert!(n >= 4, "{n}");
        drop(conn);
        let sup2 = Principal { user_id: "sup2".into(), team: Some("B".into()), ..sup.clone() };
        assert!(matches!(decide(&st, &sup2, &doc, &id, "manager", "reject"), Err(ServerError::NotFound(_))));
    }

    #[test]
    fn short_leave_is_the_managers_and_sick_leave_needs_its_certificate() {
        let (_d, st, sup) = setup();
        let start = today();
        let input = LeaveRequestInput {
            staff: "li".into(),
            kind: "sick".into(),
            start: start.to_string(),
            end: start.add_days(1).to_string(),
            reason: "发烧".into(),
            asked_in_person: false,
        };
        let (doc, id, _) = request_leave(&st, &sup, &input).unwrap_or_else(|e| panic!("{e}"));
        refused(decide(&st, &sup, &doc, &id, "hr", "approve"), &["manager alone"]);
        refused(decide(&st, &sup, &doc, &id, "manager", "approve"), &["certificate"]);
        let cert =
            CertificateInput { doc_id: doc.clone(), leave_id: id.clone(), reference: "病历 No.1".into() };
        do_record_certificate(&st, &sup, &cert).unwrap_or_else(|e| panic!("{e}"));
        let m = decide(&st, &sup, &doc, &id, "manager", "approve").unwrap_or_else(|e| panic!("{e}"));
        assert!(m.contains("the leave is approved"), "{m}");
        // Bad input comes back as a message.
        let personal_today =
            LeaveRequestInput { kind: "personal".into(), asked_in_person: true, ..input.clone() };
        assert!(matches!(request_leave(&st, &sup, &personal_today), Err(ServerError::BadRequest(_))));
        let backwards = LeaveRequestInput { end: start.add_days(-1).to_string(), ..input.clone() };
        assert!(matches!(request_leave(&st, &sup, &backwards), Err(ServerError::BadRequest(_))));
        let stranger = LeaveRequestInput { staff: "sup2".into(), ..input };
        assert!(matches!(request_leave(&st, &sup, &stranger), Err(ServerError::NotFound(_))));
    }

    #[test]
    fn absences_overtime_and_the_roster_are_saved() {
        let (_d, st, sup) = setup();
        let day = today().add_days(-1).to_string();
        let absent = AbsenceInput { staff: "wang".into(), date: day.clone(), note: Some("未到岗".into()) };
        do_mark_absent(&st, &sup, &absent).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(do_mark_absent(&st, &sup, &absent), Err(ServerError::BadRequest(_))), "twice");
        let future = AbsenceInput { date: today().add_days(3).to_string(), ..absent.clone() };
        assert!(matches!(do_mark_absent(&st, &sup, &future), Err(ServerError::BadRequest(_))));
        let garbage = AbsenceInput { date: "2026-02-30".into(), ..absent };
        assert!(matches!(do_mark_absent(&st, &sup, &garbage), Err(ServerError::BadRequest(_))));
        let ot = OvertimeInput { staff: "wang".into(), date: day.clone(), minutes: 45, note: None };
        do_add_overtime(&st, &sup, &ot).unwrap_or_else(|e| panic!("{e}"));
        let too_long = OvertimeInput { minutes: 2000, ..ot };
        assert!(matches!(do_add_overtime(&st, &sup, &too_long), Err(ServerError::BadRequest(_))));

        let month = today().add_days(-1).month_key();
        let input = RosterInput {
            month: month.clone(),
            changes: vec![
                RosterChange { date: day.clone(), staff: "wang".into(), shift: Some("early".into()) },
                RosterChange { date: day.clone(), staff: "li".into(), shift: Some("late".into()) },
            ],
        };
        let m = do_save_roster(&st, &sup, &input).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.contains("2 changes"), "{m}");
        let m = do_save_roster(&st, &sup, &input).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.contains("nothing changed"), "{m}");
        let rest = RosterInput {
            month: month.clone(),
            changes: vec![RosterChange {
                date: day.clone(),
                staff: "zhang".into(),
                shift: Some("rest".into()),
            }],
        };
        do_save_roster(&st, &sup, &rest).unwrap_or_else(|e| panic!("{e}"));
        let on_rest = AbsenceInput { staff: "zhang".into(), date: day.clone(), note: None };
        let r = do_mark_absent(&st, &sup, &on_rest);
        assert!(matches!(&r, Err(ServerError::BadRequest(m)) if m.contains("rest day")), "{r:?}");
        let bad_shift = RosterInput {
            month: month.clone(),
            changes: vec![RosterChange {
                date: day.clone(),
                staff: "li".into(),
                shift: Some("night".into()),
            }],
        };
        assert!(matches!(do_save_roster(&st, &sup, &bad_shift), Err(ServerError::BadRequest(_))));
        let stranger = RosterInput {
            month: month.clone(),
            changes: vec![RosterChange { date: day.clone(), staff: "sup2".into(), shift: None }],
        };
        assert!(matches!(do_save_roster(&st, &sup, &stranger), Err(ServerError::BadRequest(_))));

        let conn = st.db.lock();
        let grid = month_grid(&conn, "A", &month, &today().to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            grid.people.iter().map(|p| p.staff.id.as_str()).collect::<Vec<_>>(),
            vec!["li", "wang", "zhang"],
            "agents then field staff; no supervisors"
        );
        let wang = &grid.people[1];
        let cell = wang.days.iter().find(|c| c.date == day).unwrap_or_else(|| panic!("day"));
        assert!(cell.absent);
        assert_eq!(cell.overtime_minutes, 45);
        assert_eq!(cell.rostered.as_deref(), Some("early"));
        assert!(grid.roster_doc.is_some());
        let (_, roster) = find_roster(&conn, "A", &month)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("roster"));
        assert_eq!(roster.shift(&day, "li"), Some(Shift::Late));
        assert!(find_roster(&conn, "B", &month).unwrap_or_else(|e| panic!("{e}")).is_none());
    }

    #[test]
    fn a_swap_waits_for_the_colleague_then_exchanges_the_roster() {
        let (_d, st, sup) = setup();
        let (d1, d2) = (today().add_days(3), today().add_days(4));
        let (d1s, d2s) = (d1.to_string(), d2.to_string());
        let roster = |month: String, changes: Vec<RosterChange>| {
            do_save_roster(&st, &sup, &RosterInput { month, changes }).unwrap_or_else(|e| panic!("{e}"));
        };
        for (d, li, wang) in [(&d1s, "early", "rest"), (&d2s, "rest", "late")] {
            let month = d[..7].to_string();
            roster(
                month,
                vec![
                    RosterChange { date: d.clone(), staff: "li".into(), shift: Some(li.into()) },
                    RosterChange { date: d.clone(), staff: "wang".into(), shift: Some(wang.into()) },
                ],
            );
        }
        let new = NewSwap {
            date: d1s.clone(),
            my_shift: Shift::Early,
            with_staff: "wang".into(),
            their_date: d2s.clone(),
            their_shift: Shift::Late,
        };
        let li = Actor { user: "li".into(), at: now_ms() };
        let (doc, ()) = edit_month(&st, &sup, "li", &d1.month_key(), |a| {
            a.request_swap("s1".into(), &li, &new);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let input = SwapDecisionInput {
            doc_id: doc.clone(),
            swap_id: "s1".into(),
            decision: "approve".into(),
            note: None,
            update_roster: true,
        };
        let r = do_decide_swap(&st, &sup, &input);
        assert!(matches!(&r, Err(ServerError::BadRequest(m)) if m.contains("colleague")), "{r:?}");
        let wang = Actor { user: "wang".into(), at: now_ms() };
        edit::edit::<AttendanceMonth, _>(&st, &sup, &doc, |a| a.agree_swap("s1", &wang))
            .unwrap_or_else(|e| panic!("{e}"));
        {
            let conn = st.db.lock();
            let open = shift_swaps(&conn, "A", false).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(open.len(), 1);
            assert_eq!(open[0].status, "awaiting_manager");
            assert!(open[0].colleague_agreed_at.is_some());
        }
        let m = do_decide_swap(&st, &sup, &input).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.contains("exchanged"), "{m}");
        assert!(matches!(do_decide_swap(&st, &sup, &input), Err(ServerError::BadRequest(_))), "once");
        let conn = st.db.lock();
        let shift = |d: &Date, who: &str| {
            find_roster(&conn, "A", &d.month_key())
                .unwrap_or_else(|e| panic!("{e}"))
                .and_then(|(_, r)| r.shift(&d.to_string(), who))
        };
        assert_eq!((shift(&d1, "li"), shift(&d1, "wang")), (Some(Shift::Rest), Some(Shift::Early)));
        assert_eq!((shift(&d2, "li"), shift(&d2, "wang")), (Some(Shift::Late), Some(Shift::Rest)));
        assert!(shift_swaps(&conn, "A", false).unwrap_or_else(|e| panic!("{e}")).is_empty());
    }
}
