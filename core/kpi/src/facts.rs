//! Collecting a person's [`PersonPeriodFacts`] from the team's records: the step between the
//! documents of `kefu-model` and the KPI arithmetic of this crate.
//!
//! Everything here is a pure function of its arguments, like the rest of the crate: the records,
//! the staff member's user id, the month (or year) and the [`CollectRules`]. No clock is read.
//! Unix-millisecond times are turned into local dates exactly as `kefu_model::dates` does it
//! ([`Date::of_time`] with the department's offset east of UTC, China +08:00 by default), so a
//! complaint received at 23:30 on 30 November in Beijing (15:30 UTC) is a November complaint.
//!
//! # One principle: each item counts in the month its clock started
//!
//! A callback, a visit and a complaint (round) each count in exactly **one** month: the month
//! the obligation began: the callback's due date, the visit's promised arrival window, the
//! complaint's receipt (or reopening). Everything about that item (on time? resolved? done?
//! rated?) is counted in that month, even when the work was finished in the next month. So a
//! year (the sum of its twelve months, [`collect_year`]) counts every item once, and a ratio
//! such as resolved ÷ handled always compares an item with itself.
//!
//! The consequence: a month's facts are **final only once its deadlines have passed**: the
//! month is over, complaints received at its end are past their response target, new
//! assignments of its last days are past their first week. Computed earlier (a person looking
//! at the current month on the phone), work that is not yet due counts as not yet done (a
//! callback due next week is scheduled and not done; an unanswered complaint is not on time).
//! The records may also change after the month (a late callback marked done, a complaint
//! reopened), and the figures follow the records as they stand; a report that decides an
//! allowance should keep the [`PersonPeriodFacts`] it used (they serialise).
//!
//! # The counting rules (DOMAIN.md "Measures and grades", "Records")
//!
//! Who a record concerns is decided by the user id it names, never by who typed it: the
//! callback's `agent`, the visit's `staff`, the complaint's `handler`, the customer's
//! `assignment.agent`, the attendance document's `staff`, the appearance sheet's key.
//!
//! **Satisfaction** ("mean rating from callbacks and visit ratings that concern them"):
//! * the `satisfaction` (1–5) of every callback counted as done below (agent = them, due in
//!   the month, status done);
//! * the customer's `rating` (1–5) of every visit counted below (staff = them, arrival window
//!   starting in the month). A rating is only given at completion, so these are completed
//!   visits.
//!
//! A callback that follows up a visit rates the callback's agent only, not the visit's field
//! staff: one rating, one person. Ratings outside 1–5 (which validation refuses) are skipped.
//!
//! **Response timeliness** ("share of complaints and consultations answered within the target
//! time, and of visits arriving inside their window"):
//! * every complaint round counted below is one response. It is answered by the first
//!   `forwarded`, `processing` or `resolved` step of that round (the handler passed it to the
//!   responsible department, started on it, or resolved it directly) and on time when that step
//!   is at most [`CollectRules::complaint_response_target_ms`] after the round began (receipt,
//!   or the reopening). The policy names no target; [`COMPLAINT_RESPONSE_TARGET_MS`] (24 h) is
//!   a starting value for the supervisor, not policy. An unanswered round is not on time.
//! * every visit counted below is one response, on time when its `on_site` step lies inside the
//!   promised window, `window_start ≤ arrival ≤ window_end` (DOMAIN.md: "arriving inside their
//!   window", so arriving before the window is not on time either). A visit never arrived at is
//!   not on time.
//! * consultations (咨询记录, the customer's contact log) are **not** counted: a `Contact` holds
//!   only when the consultation took place, not when the customer asked, so there is nothing
//!   to measure an answer against.
//!
//! **Resolution** ("resolved ÷ handled complaints and visits"): handled = the complaint rounds
//! and visits counted below; resolved = complaint rounds that reached `resolved` (or
//! `confirmed`) and visits that reached `completed` (or `reviewed`).
//!
//! **Complaint handling** ("count, share confirmed satisfied, reopen count"): a complaint whose
//! `handler` is them counts once for its first round, in the month of `received_at`, and once
//! more for each reopening (`<n>.reopened`, n ≥ 1), in the month of that step ("until the
//! customer is satisfied": a reopened complaint is handled again, as
//! [`PersonPeriodFacts::complaints_reopened`] expects). Confirmed satisfied = rounds with a
//! `confirmed` step; reopened = the rounds that are reopenings. So the first round of a
//! complaint resolved and then reopened counts as handled and resolved, not confirmed, and the
//! reopening costs the reopen penalty and is handled afresh.
//!
//! **Callback completion** ("done ÷ scheduled; share of new assignments contacted within a
//! week"):
//! * scheduled = callbacks whose `agent` is them and whose `scheduled_for` date is in the
//!   month, unless cancelled (a cancelled callback was not owed; a callback both done and
//!   cancelled is done, as the lifecycle says); done = those whose status is `done`.
//! * new assignments = customers whose `assignment.agent` is them with `assigned_at` in the
//!   month. The record holds only the current assignment, so a customer reassigned to someone
//!   else since no longer counts for the earlier agent. Contacted within a week = the first
//!   contact after the assignment ([`CustomerFile::first_contact_after_assignment`]: a logged
//!   consultation or a callback attempt, by anyone, answered or not) is at most
//!   [`FIRST_CONTACT_WITHIN_MS`] (exactly 7 × 24 h) after `assigned_at`. This is the model's
//!   own definition, the one behind the phone's list of overdue first contacts, so a customer
//!   that never appeared on that list is never counted as missed here.
//!
//! **Attendance** ("late count and minutes, absences, leave days"), from the person's
//! attendance documents and the rosters:
//! * the daily figures are [`AttendanceMonth::day`]'s, not recomputed: for every date of the
//!   month's document that has an entry, a day with `late_minutes > 0` is one late arrival
//!   (and adds its minutes), a day with `early_leave_minutes > 0` is one early leave, a day
//!   marked absent is one absence (旷工) and then not also late or early.
//! * a day covered by approved leave counts none of these: leave is an approved absence.
//! * leave: every calendar day of the month covered by a leave request whose status is
//!   `approved` (the whole chain answered yes, [`LeaveRequest::status`]: manager, and for 3
//!   days or more HR and the general manager) counts 2 half days. The records hold leave as
//!   whole dates, so the half-day unit of [`PersonPeriodFacts::leave_half_days`] is always
//!   even here. A request is stored in the document of the month it starts in, so leave from
//!   30 October to 2 November is found in October's document and counts 2 days in each month;
//!   days covered by two requests count once. (`AttendanceMonth::day` sees only its own
//!   document's leave; the dates of approved leave are taken from all the person's documents.)
//! * shifts: the dates of the month on which any roster of that month gives them a working
//!   shift (early or late, not rest), together with the dates they clocked a working shift
//!   (a clock event copies the rostered shift), counted once each. Approved shift swaps are
//!   not applied: they move a shift rather than add one, and the count is only shown and used
//!   to tell "never late" from "no record".
//! * an absence is only a day a supervisor marked absent: a rostered day without clock events
//!   is not inferred to be one (the day may simply not have come yet).
//!
//! **Appearance** ("appearance pass rate"): every appearance sheet dated in the month with a
//! check of them is one check; passed when every item passed ([`StaffCheck::passed`]).
//!
//! [`StaffCheck::passed`]: kefu_model::records::appearance::StaffCheck::passed
//! [`LeaveRequest::status`]: kefu_model::records::attendance::LeaveRequest::status

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kefu_model::dates::{Date, CHINA_UTC_OFFSET_MIN};
use kefu_model::lifecycle::{self, CallbackStep, ComplaintStep, VisitStep};
use kefu_model::records::appearance::AppearanceCheck;
use kefu_model::records::attendance::{AttendanceMonth, LeaveStatus};
use kefu_model::records::customer::{Callback, Complaint, CustomerFile, Visit};
use kefu_model::records::roster::Roster;

use crate::PersonPeriodFacts;

const MS_PER_HOUR: i64 = 3_600_000;

/// The response target for a complaint (and for each reopening): 24 hours from receipt to the
/// first `forwarded`, `processing` or `resolved` step. A starting value, not policy: the seeds
/// name no target time.
pub const COMPLAINT_RESPONSE_TARGET_MS: i64 = 24 * MS_PER_HOUR;

/// A newly assigned customer must be contacted within one week (DOMAIN.md, customer file,
/// "assignment"): 7 × 24 hours from `assigned_at`, as the phone's overdue list counts it.
pub const FIRST_CONTACT_WITHIN_MS: i64 = 7 * 24 * MS_PER_HOUR;

/// The settings collecting depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectRules {
    /// The department's time zone, minutes east of UTC, used to put a Unix-millisecond time on
    /// a local date (as `kefu_model::dates::Date::of_time`). Default China, +480.
    pub utc_offset_min: i32,
    /// Target time for answering a complaint, in milliseconds. Default
    /// [`COMPLAINT_RESPONSE_TARGET_MS`].
    pub complaint_response_target_ms: i64,
}

impl Default for CollectRules {
    /// China Standard Time and a 24-hour complaint response target.
    fn default() -> Self {
        CollectRules {
            utc_offset_min: CHINA_UTC_OFFSET_MIN,
            complaint_response_target_ms: COMPLAINT_RESPONSE_TARGET_MS,
        }
    }
}

/// The records facts are collected from, typically everything of one team. Records of other
/// people and other months may be included: each function picks what concerns the person and
/// period asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct TeamRecords<'a> {
    /// Customer files (callbacks, visits, complaints, assignments, contact logs).
    pub customers: &'a [CustomerFile],
    /// Attendance documents (one per staff member and month). Leave is found in the document
    /// of the month it starts in, so include the previous month's documents too.
    pub attendance: &'a [AttendanceMonth],
    /// Daily appearance sheets.
    pub checks: &'a [AppearanceCheck],
    /// Monthly rosters.
    pub rosters: &'a [Roster],
}

/// A calendar month (`YYYY-MM`), in the years `kefu_model::dates::Date::parse` accepts
/// (1970–9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month `month` (1–12) of `year`; `None` outside 1–12 or 1970–9999.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        Date::parse(&format!("{year:04}-{month:02}-01")).map(|d| Month { year: d.year, month: d.month })
    }

    /// Parses `YYYY-MM`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Month> {
        if text.len() != 7 {
            return None;
        }
        Date::parse(&format!("{text}-01")).map(|d| Month { year: d.year, month: d.month })
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(&self) -> u32 {
        self.month
    }

    /// The first day of the month.
    pub fn first_day(&self) -> Date {
        Date { year: self.year, month: self.month, day: 1 }
    }

    /// The last day of the month.
    pub fn last_day(&self) -> Date {
        let (year, month) = if self.month == 12 { (self.year + 1, 1) } else { (self.year, self.month + 1) };
        Date { year, month, day: 1 }.add_days(-1)
    }

    /// Every day of the month, in order.
    pub fn days(&self) -> impl Iterator<Item = Date> {
        let first = self.first_day();
        (0..=first.days_until(&self.last_day())).map(move |i| first.add_days(i))
    }

    /// Whether a date lies in this month.
    pub fn contains(&self, date: &Date) -> bool {
        date.year == self.year && date.month == self.month
    }

    /// Whether a `YYYY-MM-DD` text is a date in this month (`false` when it is not a date).
    pub fn contains_date_text(&self, text: &str) -> bool {
        Date::parse(text).is_some_and(|d| self.contains(&d))
    }

    /// Whether a Unix-millisecond time falls on a local date of this month, in a zone
    /// `offset_min` east of UTC (as [`Date::of_time`]).
    pub fn contains_time(&self, ms: i64, offset_min: i32) -> bool {
        // Date::of_time adds the offset unchecked; a time that close to i64's ends is no date.
        ms.checked_add(i64::from(offset_min) * 60_000).is_some()
            && self.contains(&Date::of_time(ms, offset_min))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Collects one staff member's counts for one month (`months` = 1) from the records, by the
/// rules in the module docs. A person the records say nothing about gets all zeros.
pub fn collect_month(
    records: &TeamRecords<'_>,
    staff: &str,
    month: Month,
    rules: &CollectRules,
) -> PersonPeriodFacts {
    let mut facts = PersonPeriodFacts { months: 1, ..PersonPeriodFacts::default() };
    let scope = Scope { staff, month, rules };
    for customer in records.customers {
        scope.customer(&mut facts, customer);
    }
    scope.attendance(&mut facts, records.attendance, records.rosters);
    scope.appearance(&mut facts, records.checks);
    facts
}

/// Collects one staff member's counts for a calendar year: the sum of its twelve months
/// (`months` = 12). A year outside 1970–9999, where no record can be dated, gives zeros.
pub fn collect_year(
    records: &TeamRecords<'_>,
    staff: &str,
    year: i32,
    rules: &CollectRules,
) -> PersonPeriodFacts {
    let mut total: PersonPeriodFacts = (1..=12)
        .filter_map(|m| Month::new(year, m))
        .map(|month| collect_month(records, staff, month, rules))
        .sum();
    total.months = 12;
    total
}

/// Whom and when the counts are for.
struct Scope<'s> {
    staff: &'s str,
    month: Month,
    rules: &'s CollectRules,
}

/// Adds a 1–5 rating; anything else is skipped.
fn add_rating(facts: &mut PersonPeriodFacts, rating: Option<i64>) {
    if let Some(r) = rating.filter(|r| (1..=5).contains(r)).and_then(|r| u64::try_from(r).ok()) {
        facts.satisfaction_ratings_sum += r;
        facts.satisfaction_ratings_count += 1;
    }
}

/// One round of a complaint: the first (round 0) from receipt, each further one from its
/// reopening.
#[derive(Default)]
struct Round {
    /// When the round began: `received_at`, or the `<n>.reopened` step.
    start: Option<i64>,
    /// Earliest `forwarded`, `processing` or `resolved` step of the round.
    answered: Option<i64>,
    /// Reached `resolved` (or `confirmed`, which follows it).
    resolved: bool,
    /// Reached `confirmed`.
    confirmed: bool,
}

fn complaint_rounds(c: &Complaint) -> BTreeMap<u32, Round> {
    let mut rounds: BTreeMap<u32, Round> = BTreeMap::new();
    rounds.entry(0).or_default().start = Some(c.received_at);
    for (key, mark) in &c.steps {
        let Some((n, step)) = lifecycle::parse_complaint_key(key) else { continue };
        let round = rounds.entry(n).or_default();
        match step {
            ComplaintStep::Reopened if n > 0 => round.start = Some(mark.at),
            ComplaintStep::Reopened | ComplaintStep::Received => {}
            ComplaintStep::Forwarded | ComplaintStep::Processing | ComplaintStep::Resolved => {
                round.answered = Some(round.answered.map_or(mark.at, |t| t.min(mark.at)));
            }
            ComplaintStep::Confirmed => {}
        }
        if matches!(step, ComplaintStep::Resolved | ComplaintStep::Confirmed) {
            round.resolved = true;
        }
        if step == ComplaintStep::Confirmed {
            round.confirmed = true;
        }
    }
    rounds
}

impl Scope<'_> {
    fn in_month(&self, ms: i64) -> bool {
        self.month.contains_time(ms, self.rules.utc_offset_min)
    }

    fn customer(&self, facts: &mut PersonPeriodFacts, customer: &CustomerFile) {
        for cb in customer.callbacks.values().filter(|cb| cb.agent == self.staff) {
            self.callback(facts, cb);
        }
        for visit in customer.visits.values().filter(|v| v.staff == self.staff) {
            self.visit(facts, visit);
        }
        for complaint in customer.complaints.values().filter(|c| c.handler == self.staff) {
            self.complaint(facts, complaint);
        }
        self.assignment(facts, customer);
    }

    fn callback(&self, facts: &mut PersonPeriodFacts, cb: &Callback) {
        if !self.month.contains_date_text(&cb.scheduled_for) {
            return;
        }
        match cb.status() {
            None | Some(CallbackStep::Cancelled) => {}
            Some(CallbackStep::Scheduled | CallbackStep::Attempting) => facts.callbacks_scheduled += 1,
            Some(CallbackStep::Done) => {
                facts.callbacks_scheduled += 1;
                facts.callbacks_done += 1;
                add_rating(facts, cb.satisfaction);
            }
        }
    }

    fn visit(&self, facts: &mut PersonPeriodFacts, visit: &Visit) {
        if !self.in_month(visit.window_start) {
            return;
        }
        let Some(status) = visit.status().filter(|s| *s != VisitStep::Cancelled) else { return };
        facts.responses_total += 1;
        facts.handled += 1;
        let arrived = visit.steps.get(VisitStep::OnSite.as_str()).map(|m| m.at);
        if arrived.is_some_and(|t| visit.window_start <= t && t <= visit.window_end) {
            facts.responses_on_time += 1;
        }
        if matches!(status, VisitStep::Completed | VisitStep::Reviewed) {
            facts.resolved += 1;
        }
        add_rating(facts, visit.rating);
    }

    fn complaint(&self, facts: &mut PersonPeriodFacts, complaint: &Complaint) {
        let target = self.rules.complaint_response_target_ms;
        for (n, round) in complaint_rounds(complaint) {
            let Some(start) = round.start.filter(|t| self.in_month(*t)) else { continue };
            facts.complaints_handled += 1;
            facts.handled += 1;
            facts.responses_total += 1;
            if round.answered.is_some_and(|t| t.saturating_sub(start) <= target) {
                facts.responses_on_time += 1;
            }
            if round.resolved {
                facts.resolved += 1;
            }
            if round.confirmed {
                facts.complaints_confirmed_satisfied += 1;
            }
            if n > 0 {
                facts.complaints_reopened += 1;
            }
        }
    }

    fn assignment(&self, facts: &mut PersonPeriodFacts, customer: &CustomerFile) {
        let a = &customer.assignment;
        if a.agent.as_deref() != Some(self.staff) {
            return;
        }
        let Some(assigned_at) = a.assigned_at.filter(|t| self.in_month(*t)) else { return };
        facts.new_assignments += 1;
        let deadline = assigned_at.saturating_add(FIRST_CONTACT_WITHIN_MS);
        if customer.first_contact_after_assignment().is_some_and(|t| t <= deadline) {
            facts.new_assignments_contacted_within_week += 1;
        }
    }

    /// Dates of the month covered by approved leave, from all the person's documents.
    fn leave_dates(&self, attendance: &[AttendanceMonth]) -> BTreeSet<Date> {
        let (first, last) = (self.month.first_day(), self.month.last_day());
        let mut dates = BTreeSet::new();
        let requests = attendance.iter().filter(|a| a.staff == self.staff).flat_map(|a| a.leave.values());
        for leave in requests.filter(|l| l.status() == LeaveStatus::Approved) {
            let (Some(start), Some(end)) = (Date::parse(&leave.start_date), Date::parse(&leave.end_date))
            else {
                continue;
            };
            let (from, to) = (start.max(first), end.min(last));
            if from <= to {
                dates.extend((0..=from.days_until(&to)).map(|i| from.add_days(i)));
            }
        }
        dates
    }

    fn attendance(&self, facts: &mut PersonPeriodFacts, attendance: &[AttendanceMonth], rosters: &[Roster]) {
        let leave = self.leave_dates(attendance);
        facts.leave_half_days = 2 * leave.len() as u64;

        let mut shifts: BTreeSet<Date> = BTreeSet::new();
        for roster in rosters.iter().filter(|r| Month::parse(&r.month) == Some(self.month)) {
            for date in self.month.days() {
                let shift = roster.shift(&date.to_string(), self.staff);
                if shift.is_some_and(|s| s.hours().is_some()) {
                    shifts.insert(date);
                }
            }
        }

        let docs =
            attendance.iter().filter(|a| a.staff == self.staff && Month::parse(&a.month) == Some(self.month));
        for doc in docs {
            for text in doc.dates() {
                let Some(date) = Date::parse(&text).filter(|d| self.month.contains(d)) else { continue };
                let day = doc.day(&text, self.rules.utc_offset_min);
                if day.shift.is_some_and(|s| s.hours().is_some()) {
                    shifts.insert(date);
                }
                if day.on_leave || leave.contains(&date) {
                    continue;
                }
                if day.absent {
                    facts.absences += 1;
                    continue;
                }
                if day.late_minutes > 0 {
                    facts.late_count += 1;
                    facts.late_minutes += u64::try_from(day.late_minutes).unwrap_or(0);
                }
                if day.early_leave_minutes > 0 {
                    facts.early_leave_count += 1;
                }
            }
        }
        facts.shifts_rostered = shifts.len() as u64;
    }

    fn appearance(&self, facts: &mut PersonPeriodFacts, sheets: &[AppearanceCheck]) {
        for sheet in sheets.iter().filter(|s| self.month.contains_date_text(&s.date)) {
            if let Some(check) = sheet.checks.get(self.staff) {
                facts.appearance_checks += 1;
                if check.passed() {
                    facts.appearance_passed += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
