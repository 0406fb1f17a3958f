//! Attendance (考勤): one document per staff member per month (seed 002 第三条).
//!
//! Clock events, leave requests and shift swaps are maps keyed by id: a phone clocking in while
//! the supervisor marks the day on the dashboard can never hide either entry. Daily figures
//! (late minutes, early leave, absence) are derived from the events and the shift, not stored,
//! so they cannot disagree with what was recorded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{check_header, fixed, kept, AttachmentRef, Record};
use crate::dates::{is_month, Date};
use crate::enums::*;
use crate::lifecycle::StepMark;
use crate::validate::{rec, Problems};

/// One staff member's attendance for one month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendanceMonth {
    /// Always `attendance`.
    pub kind: DocKind,
    /// Schema version.
    pub schema_version: i64,
    /// The staff member's user id.
    pub staff: String,
    /// Their team.
    pub team: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Clock-ins and clock-outs by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub clock_events: BTreeMap<String, ClockEvent>,
    /// Days marked absent by a supervisor, by date.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub absences: BTreeMap<String, StepMark>,
    /// Overtime entries by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub overtime: BTreeMap<String, Overtime>,
    /// Handover notes (交接) by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub handovers: BTreeMap<String, Handover>,
    /// Leave requests (请假) by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub leave: BTreeMap<String, LeaveRequest>,
    /// Shift swaps (换班) this person asked for, by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub swaps: BTreeMap<String, ShiftSwap>,
}

/// One clock-in or clock-out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockEvent {
    /// Local date of the shift, YYYY-MM-DD (a late shift's clock-out after midnight belongs to
    /// the day the shift started).
    pub date: String,
    /// In or out.
    pub clock: ClockKind,
    /// The rostered shift, copied from the roster when clocking.
    pub shift: Shift,
    /// Device time, Unix ms. The server's receipt time is kept as provenance.
    pub device_time: i64,
    /// Optional location text or coordinates.
    #[serde(default)]
    pub location: Option<String>,
    /// Who clocked (the staff member, or a supervisor correcting).
    pub by: String,
}

/// Overtime worked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overtime {
    /// Date, YYYY-MM-DD.
    pub date: String,
    /// Minutes.
    pub minutes: i64,
    /// Why (e.g. a customer still being served after 24:00).
    #[serde(default)]
    pub note: Option<String>,
    /// Who recorded it.
    pub by: String,
}

/// A handover note between shifts (交接).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handover {
    /// Date, YYYY-MM-DD.
    pub date: String,
    /// The shift handing over.
    pub shift: Shift,
    /// What the next shift must know.
    pub note: String,
    /// Device time, Unix ms.
    pub at: i64,
    /// Who wrote it.
    pub by: String,
}

/// An approver's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Approve or reject.
    pub decision: Decision,
    /// Who answered.
    pub by: String,
    /// Device time, Unix ms.
    pub at: i64,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

/// A leave request (请假).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaveRequest {
    /// Kind of leave.
    pub leave_kind: LeaveKind,
    /// First day, YYYY-MM-DD.
    pub start_date: String,
    /// Last day, YYYY-MM-DD (inclusive).
    pub end_date: String,
    /// Why.
    pub reason: String,
    /// When asked, device time Unix ms.
    pub requested_at: i64,
    /// Personal leave must be asked in person; the manager confirms it was.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub asked_in_person: bool,
    /// Medical certificate (sick leave of 2+ days), handed in on the first day back.
    #[serde(default)]
    pub certificate: Option<AttachmentRef>,
    /// A paper certificate's reference number, when there is no scan.
    #[serde(default)]
    pub certificate_ref: Option<String>,
    /// Answers by approver (`manager`, `hr`, `general_manager`).
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub approvals: BTreeMap<String, Approval>,
    /// Withdrawn by the requester.
    #[serde(default)]
    pub cancelled: Option<StepMark>,
}

/// Where a leave request stands (derived).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LeaveStatus {
    /// Waiting for this approver.
    Pending {
        /// Next approver in the chain.
        next: Approver,
        /// A sick leave of 2+ days whose medical certificate is not in yet: the final
        /// approval waits for it.
        certificate_missing: bool,
    },
    /// Approved.
    Approved,
    /// Someone rejected it.
    Rejected {
        /// Who.
        by: Approver,
    },
    /// Withdrawn.
    Cancelled,
}

impl LeaveRequest {
    /// Calendar days requested (inclusive); 0 when the dates are invalid.
    pub fn days(&self) -> i64 {
        match (Date::parse(&self.start_date), Date::parse(&self.end_date)) {
            (Some(a), Some(b)) if b >= a => a.days_until(&b) + 1,
            _ => 0,
        }
    }

    /// The approval chain this request needs: 3 days or more go manager → HR → general
    /// manager, in that order; shorter leave only the manager.
    pub fn chain(&self) -> &'static [Approver] {
        if self.days() >= 3 {
            &[Approver::Manager, Approver::Hr, Approver::GeneralManager]
        } else {
            &[Approver::Manager]
        }
    }

    /// Whether a medical certificate is required (sick leave of 2 days or more).
    pub fn needs_certificate(&self) -> bool {
        self.leave_kind == LeaveKind::Sick && self.days() >= 2
    }

    /// Whether a certificate (scan or paper reference) is on file.
    pub fn has_certificate(&self) -> bool {
        self.certificate.is_some() || self.certificate_ref.as_deref().is_some_and(|r| !r.trim().is_empty())
    }

    /// Derived status.
    pub fn status(&self) -> LeaveStatus {
        if self.cancelled.is_some() {
            return LeaveStatus::Cancelled;
        }
        for step in self.chain() {
            match self.approvals.get(step.as_str()) {
                Some(a) if a.decision == Decision::Reject => return LeaveStatus::Rejected { by: *step },
                Some(_) => {}
                None => {
                    return LeaveStatus::Pending {
                        next: *step,
                        certificate_missing: self.needs_certificate() && !self.has_certificate(),
                    }
                }
            }
        }
        LeaveStatus::Approved
    }
}

/// A shift swap (换班): both staff agree, the manager approves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftSwap {
    /// The requester's date given away, YYYY-MM-DD.
    pub date: String,
    /// The requester's rostered shift that day.
    pub my_shift: Shift,
    /// The colleague's user id.
    pub with_staff: String,
    /// The colleague's date taken in return, YYYY-MM-DD.
    pub their_date: String,
    /// The colleague's rostered shift that day.
    pub their_shift: Shift,
    /// When asked, Unix ms.
    pub requested_at: i64,
    /// The colleague's agreement; `by` must be the colleague.
    #[serde(default)]
    pub colleague_agreed: Option<StepMark>,
    /// The manager's answer.
    #[serde(default)]
    pub manager: Option<Approval>,
}

/// Where a shift swap stands (derived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwapStatus {
    /// Waiting for the colleague.
    AwaitingColleague,
    /// Waiting for the manager.
    AwaitingManager,
    /// Approved.
    Approved,
    /// Rejected by the manager.
    Rejected,
}

impl ShiftSwap {
    /// Derived status.
    pub fn status(&self) -> SwapStatus {
        match (&self.colleague_agreed, &self.manager) {
            (_, Some(m)) if m.decision == Decision::Reject => SwapStatus::Rejected,
            (None, _) => SwapStatus::AwaitingColleague,
            (Some(_), None) => SwapStatus::AwaitingManager,
            (Some(_), Some(_)) => SwapStatus::Approved,
        }
    }
}

/// A day's attendance figures, derived from the events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DaySummary {
    /// The date.
    pub date: String,
    /// The shift worked (from the clock events).
    pub shift: Option<Shift>,
    /// Earliest clock-in, Unix ms.
    pub clock_in: Option<i64>,
    /// Latest clock-out, Unix ms.
    pub clock_out: Option<i64>,
    /// Minutes late (0 when on time).
    pub late_minutes: i64,
    /// Minutes left early.
    pub early_leave_minutes: i64,
    /// Marked absent.
    pub absent: bool,
    /// On approved leave.
    pub on_leave: bool,
    /// Overtime minutes.
    pub overtime_minutes: i64,
}

impl AttendanceMonth {
    /// An empty month.
    pub fn new(staff: &str, team: &str, month: &str) -> Self {
        AttendanceMonth {
            kind: DocKind::Attendance,
            schema_version: super::SCHEMA_VERSION,
            staff: staff.to_string(),
            team: team.to_string(),
            month: month.to_string(),
            clock_events: BTreeMap::new(),
            absences: BTreeMap::new(),
            overtime: BTreeMap::new(),
            handovers: BTreeMap::new(),
            leave: BTreeMap::new(),
            swaps: BTreeMap::new(),
        }
    }

    /// Figures for one date, in a zone `offset_min` east of UTC.
    pub fn day(&self, date: &str, offset_min: i32) -> DaySummary {
        let mut s = DaySummary { date: date.to_string(), ..Default::default() };
        let events = self.clock_events.values().filter(|e| e.date == date);
        for e in events {
            s.shift.get_or_insert(e.shift);
            match e.clock {
                ClockKind::In => {
                    s.clock_in = Some(s.clock_in.map_or(e.device_time, |t| t.min(e.device_time)))
                }
                ClockKind::Out => {
                    s.clock_out = Some(s.clock_out.map_or(e.device_time, |t| t.max(e.device_time)))
                }
            }
        }
        let day_start = Date::parse(date).map(|d| d.start_ms(offset_min));
        if let (Some((start, end)), Some(day_start)) = (s.shift.and_then(|sh| sh.hours()), day_start) {
            if let Some(t) = s.clock_in {
                let minute = (t - day_start).div_euclid(60_000);
                s.late_minutes = (minute - start).max(0);
            }
            if let Some(t) = s.clock_out {
                let minute = (t - day_start).div_euclid(60_000);
                s.early_leave_minutes = (end - minute).max(0);
            }
        }
        s.absent = self.absences.contains_key(date);
        s.on_leave = self.leave.values().any(|l| {
            l.status() == LeaveStatus::Approved
                && l.start_date.as_str() <= date
                && date <= l.end_date.as_str()
        });
        s.overtime_minutes = self.overtime.values().filter(|o| o.date == date).map(|o| o.minutes).sum();
        s
    }

    /// Every date of the month that has any entry, in order.
    pub fn dates(&self) -> Vec<String> {
        let mut d: Vec<String> = self
            .clock_events
            .values()
            .map(|e| e.date.clone())
            .chain(self.absences.keys().cloned())
            .chain(self.overtime.values().map(|o| o.date.clone()))
            .collect();
        d.sort();
        d.dedup();
        d
    }
}

fn check_approval(p: &mut Problems, r: &str, field: &str, a: &Approval) {
    p.text(r, &format!("{field}.by"), &a.by, 64);
    p.time(r, &format!("{field}.at"), a.at);
}

impl Record for AttendanceMonth {
    const KIND: DocKind = DocKind::Attendance;

    fn transition_problems(&self, before: &Self) -> Problems {
        let mut p = Problems::default();
        let a = "attendance";
        fixed(&mut p, a, "staff", &before.staff, &self.staff);
        fixed(&mut p, a, "team", &before.team, &self.team);
        fixed(&mut p, a, "month", &before.month, &self.month);
        kept(&mut p, a, "clock_events", &before.clock_events, &self.clock_events);
        kept(&mut p, a, "overtime", &before.overtime, &self.overtime);
        kept(&mut p, a, "handovers", &before.handovers, &self.handovers);
        kept(&mut p, a, "leave", &before.leave, &self.leave);
        kept(&mut p, a, "swaps", &before.swaps, &self.swaps);
        for (id, b) in &before.clock_events {
            if let Some(x) = self.clock_events.get(id) {
                fixed(&mut p, &rec("clock event", id), "device_time", &b.device_time, &x.device_time);
            }
        }
        for (id, b) in &before.leave {
            if let Some(x) = self.leave.get(id) {
                let r = rec("leave", id);
                kept(&mut p, &r, "approvals", &b.approvals, &x.approvals);
                for (role, ap) in &b.approvals {
                    if let Some(now) = x.approvals.get(role) {
                        fixed(&mut p, &r, &format!("approvals.{role}"), ap, now);
                    }
                }
                if b.cancelled.is_some() && x.cancelled.is_none() {
                    p.push(&r, "cancelled", "a withdrawn request stays withdrawn");
                }
            }
        }
        for (id, b) in &before.swaps {
            if let Some(x) = self.swaps.get(id) {
                let r = rec("shift swap", id);
                if b.manager.is_some() {
                    fixed(&mut p, &r, "manager", &b.manager, &x.manager);
                }
                if b.colleague_agreed.is_some() {
                    fixed(&mut p, &r, "colleague_agreed", &b.colleague_agreed, &x.colleague_agreed);
                }
            }
        }
        p
    }

    fn problems(&self) -> Problems {
        let mut p = Problems::default();
        check_header(&mut p, Self::KIND, self.kind, self.schema_version);
        let a = "attendance";
        p.text(a, "staff", &self.staff, 64);
        p.text(a, "team", &self.team, 64);
        if !is_month(&self.month) {
            p.push(a, "month", format!("{:?} is not a month (YYYY-MM)", self.month));
        }
        let in_month = |d: &str| d.starts_with(&self.month);
        for (id, e) in &self.clock_events {
            let r = rec("clock event", id);
            if p.date(&r, "date", &e.date).is_some() && !in_month(&e.date) {
                p.push(&r, "date", "is not in this document's month");
            }
            p.time(&r, "device_time", e.device_time);
            p.text(&r, "by", &e.by, 64);
            if e.shift == Shift::Rest && e.clock == ClockKind::In {
                // Working a rostered rest day is allowed, but it is not given back as rest
                // (seed 002): nothing to reject here, the KPI report shows it as overtime.
            }
        }
        for (date, mark) in &self.absences {
            let r = format!("absence {date}");
            if p.date(&r, "date", date).is_some() && !in_month(date) {
                p.push(&r, "date", "is not in this document's month");
            }
            p.time(&r, "at", mark.at);
        }
        for (id, o) in &self.overtime {
            let r = rec("overtime", id);
            if p.date(&r, "date", &o.date).is_some() && !in_month(&o.date) {
                p.push(&r, "date", "is not in this document's month");
            }
            if !(1..=24 * 60).contains(&o.minutes) {
                p.push(&r, "minutes", "must be 1–1440");
            }
        }
        for (id, h) in &self.handovers {
            let r = rec("handover", id);
            if p.date(&r, "date", &h.date).is_some() && !in_month(&h.date) {
                p.push(&r, "date", "is not in this document's month");
            }
            p.text(&r, "note", &h.note, 2000);
            p.time(&r, "at", h.at);
        }
        for (id, l) in &self.leave {
            let r = rec("leave", id);
            p.text(&r, "reason", &l.reason, 1000);
            p.time(&r, "requested_at", l.requested_at);
            let start = p.date(&r, "start_date", &l.start_date);
            let end = p.date(&r, "end_date", &l.end_date);
            if let (Some(s), Some(e)) = (start, end) {
                if e < s {
                    p.push(&r, "end_date", "is before start_date");
                }
                if !in_month(&l.start_date) {
                    p.push(&r, "start_date", "belongs to the month the leave starts in");
                }
                // Dates are compared in China time: requests are local-day rules.
                let asked = Date::of_time(l.requested_at, crate::dates::CHINA_UTC_OFFSET_MIN);
                match l.leave_kind {
                    LeaveKind::Personal => {
                        if asked.days_until(&s) < 1 {
                            p.push(&r, "start_date", "personal leave must be asked at least one day ahead");
                        }
                        if !l.asked_in_person {
                            p.push(&r, "asked_in_person", "personal leave must be asked in person");
                        }
                    }
                    LeaveKind::Sick => {
                        if asked.days_until(&s) < -1 {
                            p.push(&r, "requested_at", "sick leave is reported on the day (by phone) or earlier, at the latest the next day");
                        }
                    }
                    LeaveKind::Annual | LeaveKind::Other => {}
                }
            }
            if let Some(c) = &l.certificate {
                c.check(&mut p, &r, "certificate");
            }
            let chain = l.chain();
            for (key, ap) in &l.approvals {
                let field = format!("approvals.{key}");
                check_approval(&mut p, &r, &field, ap);
                match key.parse::<Approver>() {
                    Err(e) => p.push(&r, &field, e.to_string()),
                    Ok(who) => match chain.iter().position(|s| *s == who) {
                        None => p.push(
                            &r,
                            &field,
                            format!("leave of {} day(s) is approved by the manager alone", l.days()),
                        ),
                        Some(i) => {
                            for prev in &chain[..i] {
                                match l.approvals.get(prev.as_str()) {
                                    Some(pa) if pa.decision == Decision::Approve => {}
                                    _ => p.push(&r, &field, format!("{who} answers only after {prev} approved (order: manager → HR → general manager)")),
                                }
                            }
                            let last = i + 1 == chain.len();
                            if last
                                && ap.decision == Decision::Approve
                                && l.needs_certificate()
                                && !l.has_certificate()
                            {
                                p.push(&r, "certificate", "sick leave of 2 days or more needs a medical certificate before the final approval");
                            }
                        }
                    },
                }
            }
        }
        for (id, s) in &self.swaps {
            let r = rec("shift swap", id);
            p.date(&r, "date", &s.date);
            p.date(&r, "their_date", &s.their_date);
            p.text(&r, "with_staff", &s.with_staff, 64);
            p.time(&r, "requested_at", s.requested_at);
            if s.with_staff == self.staff {
                p.push(&r, "with_staff", "cannot swap with oneself");
            }
            if let Some(agreed) = &s.colleague_agreed {
                if agreed.by != s.with_staff {
                    p.push(&r, "colleague_agreed.by", "only the colleague can agree");
                }
            }
            if let Some(m) = &s.manager {
                check_approval(&mut p, &r, "manager", m);
                if m.decision == Decision::Approve && s.colleague_agreed.is_none() {
                    p.push(&r, "manager", "the manager approves only after both staff agreed");
                }
            }
        }
        p
    }
}
