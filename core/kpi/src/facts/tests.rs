//! Records built with the model's verbs, as the apps build them, and the counts expected by
//! hand from the rules in the module docs. Times are Beijing local times unless a test says
//! otherwise; every fixture record is validated so the tests describe records that can exist.

use std::collections::BTreeMap;

use kefu_model::dates::{Date, CHINA_UTC_OFFSET_MIN};
use kefu_model::enums::{
    Approver, CallbackOutcome, CheckResult, ClockKind, ComplaintCategory, ContactChannel, Decision,
    LeaveKind, Severity, Shift, SourceChannel, VisitReason,
};
use kefu_model::lifecycle::{ComplaintStep, StepMark, VisitStep};
use kefu_model::records::appearance::{default_template_items, AppearanceCheck, ItemResult, SheetTemplate};
use kefu_model::records::attendance::AttendanceMonth;
use kefu_model::records::customer::{CustomerFile, Profile};
use kefu_model::records::roster::Roster;
use kefu_model::records::Record;
use kefu_model::verbs::{
    Actor, CallbackResult, NewCallback, NewComplaint, NewLeave, NewVisit, VisitCompletion,
};

use super::*;
use crate::{evaluate, Penalties, Weights};

const TEAM: &str = "team-1";
const AGENT: &str = "agent-li";
const OTHER: &str = "agent-zhao";
const FIELD: &str = "field-wang";
const BOSS: &str = "sup-chen";
const NOBODY: &str = "new-hire";
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn date(text: &str) -> Date {
    Date::parse(text).expect("test dates are valid")
}

/// Unix ms of a Beijing local time.
fn at(day: &str, hour: i64, minute: i64) -> i64 {
    date(day).start_ms(CHINA_UTC_OFFSET_MIN) + hour * HOUR + minute * MIN
}

fn by(user: &str, time: i64) -> Actor {
    Actor { user: user.to_string(), at: time }
}

fn month(text: &str) -> Month {
    Month::parse(text).expect("test months are valid")
}

fn valid<R: Record>(record: &R) {
    if let Err(problems) = record.validate() {
        panic!("fixture record is invalid: {problems:?}");
    }
}

/// Collects with the default rules and checks the counts are consistent.
fn collect(records: &TeamRecords<'_>, staff: &str, m: &str) -> PersonPeriodFacts {
    let facts = collect_month(records, staff, month(m), &CollectRules::default());
    facts.validate().expect("collected facts are consistent");
    facts
}

fn customer(name: &str) -> CustomerFile {
    let profile = Profile {
        name: name.to_string(),
        phones: vec!["13800138000".to_string()],
        email: None,
        wechat: None,
        address: None,
        district: None,
        source: SourceChannel::Phone,
    };
    CustomerFile::new(TEAM, profile, BOSS, at("2026-01-05", 9, 0))
}

fn customers_only(customers: &[CustomerFile]) -> TeamRecords<'_> {
    TeamRecords { customers, ..TeamRecords::default() }
}

fn facts(months: u32) -> PersonPeriodFacts {
    PersonPeriodFacts { months, ..PersonPeriodFacts::default() }
}

// ---------------------------------------------------------------------------------------------
// Callbacks

fn new_callback(agent: &str, due: &str) -> NewCallback {
    NewCallback {
        agent: agent.to_string(),
        date: due.to_string(),
        method: ContactChannel::Phone,
        campaign: None,
        visit: None,
    }
}

fn result(outcome: CallbackOutcome, satisfaction: Option<i64>) -> CallbackResult {
    CallbackResult {
        method: ContactChannel::Phone,
        outcome,
        satisfaction,
        evaluation: None,
        suggestions: None,
        issue: None,
        follow_up_on: None,
        note: None,
    }
}

fn callbacks_customer() -> CustomerFile {
    let mut c = customer("张三");
    let plan = by(BOSS, at("2026-10-25", 9, 0));
    let done = |s| result(CallbackOutcome::Satisfied, Some(s));
    // Due on the first of the month, done that day, 5.
    c.schedule_callback("cb1".into(), &plan, &new_callback(AGENT, "2026-11-01"));
    c.record_callback("cb1", "a1".into(), &by(AGENT, at("2026-11-01", 10, 0)), &done(5)).expect("cb1");
    // Due on the last day, only a no-answer attempt: scheduled, not done.
    c.schedule_callback("cb2".into(), &plan, &new_callback(AGENT, "2026-11-30"));
    let no_answer = result(CallbackOutcome::NoAnswer, None);
    c.record_callback("cb2", "a2".into(), &by(AGENT, at("2026-11-30", 16, 0)), &no_answer).expect("cb2");
    // Cancelled: not owed.
    c.schedule_callback("cb3".into(), &plan, &new_callback(AGENT, "2026-11-15"));
    c.cancel_callback("cb3", &by(BOSS, at("2026-11-14", 9, 0)), "customer moved").expect("cb3");
    // Due in December, done early in November: a December callback.
    c.schedule_callback("cb4".into(), &plan, &new_callback(AGENT, "2026-12-01"));
    c.record_callback("cb4", "a4".into(), &by(AGENT, at("2026-11-30", 11, 0)), &done(1)).expect("cb4");
    // Someone else's.
    c.schedule_callback("cb5".into(), &plan, &new_callback(OTHER, "2026-11-20"));
    c.record_callback("cb5", "a5".into(), &by(OTHER, at("2026-11-20", 11, 0)), &done(2)).expect("cb5");
    // Due in November, done late in December: counts done (and rated) in November.
    c.schedule_callback("cb6".into(), &plan, &new_callback(AGENT, "2026-11-10"));
    c.record_callback("cb6", "a6".into(), &by(AGENT, at("2026-12-03", 9, 0)), &done(4)).expect("cb6");
    // Reached but refused, no rating: done without a rating.
    c.schedule_callback("cb7".into(), &plan, &new_callback(AGENT, "2026-11-12"));
    let refused = result(CallbackOutcome::Refused, None);
    c.record_callback("cb7", "a7".into(), &by(AGENT, at("2026-11-12", 9, 0)), &refused).expect("cb7");
    valid(&c);
    c
}

#[test]
fn callbacks_count_in_the_month_they_are_due() {
    let customers = [callbacks_customer()];
    let records = customers_only(&customers);

    let nov = collect(&records, AGENT, "2026-11");
    let expected = PersonPeriodFacts {
        callbacks_scheduled: 4, // cb1, cb2, cb6, cb7 (cb3 cancelled, cb4 December)
        callbacks_done: 3,      // cb1, cb6, cb7
        satisfaction_ratings_sum: 9,
        satisfaction_ratings_count: 2,
        ..facts(1)
    };
    assert_eq!(nov, expected);

    let dec = collect(&records, AGENT, "2026-12");
    let expected = PersonPeriodFacts {
        callbacks_scheduled: 1,
        callbacks_done: 1,
        satisfaction_ratings_sum: 1,
        satisfaction_ratings_count: 1,
        ..facts(1)
    };
    assert_eq!(dec, expected);

    let other = collect(&records, OTHER, "2026-11");
    let expected = PersonPeriodFacts {
        callbacks_scheduled: 1,
        callbacks_done: 1,
        satisfaction_ratings_sum: 2,
        satisfaction_ratings_count: 1,
        ..facts(1)
    };
    assert_eq!(other, expected);
    assert_eq!(collect(&records, AGENT, "2026-10"), facts(1));
}

// ---------------------------------------------------------------------------------------------
// Visits

fn dispatch(c: &mut CustomerFile, id: &str, staff: &str, start: i64, end: i64) {
    let new = NewVisit {
        work_order: format!("WO-{id}"),
        reason: VisitReason::Repair,
        staff: staff.to_string(),
        window_start: start,
        window_end: end,
    };
    c.dispatch_visit(id.to_string(), &by(BOSS, start - 24 * HOUR), &new);
}

fn arrive(c: &mut CustomerFile, id: &str, time: i64) {
    let staff = c.visits[id].staff.clone();
    c.advance_visit(id, &by(&staff, time), VisitStep::OnSite, None).expect("arrive");
}

fn complete(c: &mut CustomerFile, id: &str, time: i64, rating: Option<i64>) {
    let staff = c.visits[id].staff.clone();
    let done = VisitCompletion { work_done: "replaced the hinge".into(), rating, ..Default::default() };
    c.complete_visit(id, &by(&staff, time), &done).expect("complete");
}

fn visits_customer() -> CustomerFile {
    let mut c = customer("李四");
    // Inside the window, completed, rated 5.
    dispatch(&mut c, "v1", FIELD, at("2026-11-03", 9, 0), at("2026-11-03", 11, 0));
    arrive(&mut c, "v1", at("2026-11-03", 10, 0));
    complete(&mut c, "v1", at("2026-11-03", 11, 30), Some(5));
    // Due on the last day, arrived after the window, completed after midnight, rated 3.
    dispatch(&mut c, "v2", FIELD, at("2026-11-30", 14, 0), at("2026-11-30", 16, 0));
    arrive(&mut c, "v2", at("2026-11-30", 17, 30));
    complete(&mut c, "v2", at("2026-12-01", 0, 30), Some(3));
    // Arrived before the window opened, still open.
    dispatch(&mut c, "v3", FIELD, at("2026-11-12", 9, 0), at("2026-11-12", 11, 0));
    arrive(&mut c, "v3", at("2026-11-12", 8, 40));
    // Cancelled before anyone went: not counted.
    dispatch(&mut c, "v4", FIELD, at("2026-11-20", 9, 0), at("2026-11-20", 11, 0));
    c.advance_visit(
        "v4",
        &by(BOSS, at("2026-11-19", 9, 0)),
        VisitStep::Cancelled,
        Some("rescheduled".into()),
    )
    .expect("cancel");
    // Never arrived at (not cancelled either): handled, late, unresolved.
    dispatch(&mut c, "v5", FIELD, at("2026-11-25", 9, 0), at("2026-11-25", 11, 0));
    // 07:00 on 1 December in Beijing is still 30 November in UTC: a December visit.
    dispatch(&mut c, "v6", FIELD, at("2026-12-01", 7, 0), at("2026-12-01", 9, 0));
    arrive(&mut c, "v6", at("2026-12-01", 8, 0));
    complete(&mut c, "v6", at("2026-12-01", 9, 0), Some(4));
    // Someone else's.
    dispatch(&mut c, "v7", OTHER, at("2026-11-10", 9, 0), at("2026-11-10", 11, 0));
    arrive(&mut c, "v7", at("2026-11-10", 9, 30));
    // Arrived exactly at the end of the window (on time), completed and reviewed, no rating.
    dispatch(&mut c, "v8", FIELD, at("2026-11-05", 9, 0), at("2026-11-05", 11, 0));
    arrive(&mut c, "v8", at("2026-11-05", 11, 0));
    complete(&mut c, "v8", at("2026-11-05", 12, 0), None);
    c.advance_visit("v8", &by(BOSS, at("2026-11-06", 9, 0)), VisitStep::Reviewed, None).expect("review");
    valid(&c);
    c
}

#[test]
fn visits_count_in_the_month_of_their_window() {
    let customers = [visits_customer()];
    let records = customers_only(&customers);

    let nov = collect(&records, FIELD, "2026-11");
    let expected = PersonPeriodFacts {
        responses_total: 5,   // v1, v2, v3, v5, v8
        responses_on_time: 2, // v1, v8
        handled: 5,
        resolved: 3, // v1, v2, v8
        satisfaction_ratings_sum: 8,
        satisfaction_ratings_count: 2,
        ..facts(1)
    };
    assert_eq!(nov, expected);

    let dec = collect(&records, FIELD, "2026-12");
    let expected = PersonPeriodFacts {
        responses_total: 1,
        responses_on_time: 1,
        handled: 1,
        resolved: 1,
        satisfaction_ratings_sum: 4,
        satisfaction_ratings_count: 1,
        ..facts(1)
    };
    assert_eq!(dec, expected);

    let other = collect(&records, OTHER, "2026-11");
    assert_eq!((other.responses_total, other.responses_on_time, other.handled, other.resolved), (1, 1, 1, 0));
}

#[test]
fn visit_arrival_beats_a_concurrent_cancellation() {
    // A merge of "on site" (phone, offline) and "cancelled" (office): the visit happened.
    let mut c = customer("王五");
    dispatch(&mut c, "v", FIELD, at("2026-11-03", 9, 0), at("2026-11-03", 11, 0));
    c.visits
        .get_mut("v")
        .expect("v")
        .steps
        .insert("cancelled".into(), StepMark::new(BOSS, at("2026-11-03", 9, 5)));
    c.visits
        .get_mut("v")
        .expect("v")
        .steps
        .insert("on_site".into(), StepMark::new(FIELD, at("2026-11-03", 9, 10)));
    valid(&c);
    let customers = [c];
    let nov = collect(&customers_only(&customers), FIELD, "2026-11");
    assert_eq!((nov.responses_total, nov.responses_on_time, nov.handled, nov.resolved), (1, 1, 1, 0));
}

// ---------------------------------------------------------------------------------------------
// Complaints

fn take(c: &mut CustomerFile, id: &str, handler: &str, time: i64) {
    let new = NewComplaint {
        channel: ContactChannel::Phone,
        content: "the door does not close".into(),
        category: ComplaintCategory::ProductQuality,
        severity: Severity::Medium,
        handler: handler.to_string(),
    };
    c.take_complaint(id.to_string(), &by(handler, time), &new);
}

fn step(c: &mut CustomerFile, id: &str, to: ComplaintStep, time: i64) {
    let handler = c.complaints[id].handler.clone();
    let text = match to {
        ComplaintStep::Forwarded => Some("installation department".to_string()),
        ComplaintStep::Resolved => Some("door realigned".to_string()),
        _ => None,
    };
    c.complaint_step(id, &by(&handler, time), to, text).expect("complaint step");
}

fn complaints_customer() -> CustomerFile {
    use ComplaintStep::*;
    let mut c = customer("赵六");
    // Answered in 5 h, resolved, confirmed.
    take(&mut c, "k1", AGENT, at("2026-11-02", 10, 0));
    step(&mut c, "k1", Processing, at("2026-11-02", 15, 0));
    step(&mut c, "k1", Resolved, at("2026-11-04", 10, 0));
    step(&mut c, "k1", Confirmed, at("2026-11-05", 10, 0));
    // Forwarded exactly at 24 h (on time), resolved, reopened; the reopening answered after
    // 48 h (late), resolved and confirmed.
    take(&mut c, "k2", AGENT, at("2026-11-10", 9, 0));
    step(&mut c, "k2", Forwarded, at("2026-11-11", 9, 0));
    step(&mut c, "k2", Resolved, at("2026-11-12", 9, 0));
    step(&mut c, "k2", Reopened, at("2026-11-20", 10, 0));
    step(&mut c, "k2", Processing, at("2026-11-22", 10, 0));
    step(&mut c, "k2", Resolved, at("2026-11-23", 10, 0));
    step(&mut c, "k2", Confirmed, at("2026-11-24", 10, 0));
    // 23:30 on 30 November in Beijing (15:30 UTC), never answered.
    take(&mut c, "k3", AGENT, at("2026-11-30", 23, 30));
    // 00:10 on 1 December in Beijing (still 30 November in UTC): December.
    take(&mut c, "k4", AGENT, at("2026-12-01", 0, 10));
    // An October complaint reopened in November and resolved directly within 3 h.
    take(&mut c, "k5", AGENT, at("2026-10-20", 9, 0));
    step(&mut c, "k5", Resolved, at("2026-10-21", 9, 0));
    step(&mut c, "k5", Reopened, at("2026-11-03", 9, 0));
    step(&mut c, "k5", Resolved, at("2026-11-03", 12, 0));
    // Someone else's.
    take(&mut c, "k6", OTHER, at("2026-11-06", 9, 0));
    step(&mut c, "k6", Processing, at("2026-11-06", 10, 0));
    // Forwarded one minute past 24 h: late, then resolved.
    take(&mut c, "k7", AGENT, at("2026-11-15", 9, 0));
    step(&mut c, "k7", Forwarded, at("2026-11-16", 9, 1));
    step(&mut c, "k7", Processing, at("2026-11-16", 10, 0));
    step(&mut c, "k7", Resolved, at("2026-11-17", 10, 0));
    valid(&c);
    c
}

#[test]
fn complaint_rounds_count_in_the_month_they_start() {
    let customers = [complaints_customer()];
    let records = customers_only(&customers);

    let nov = collect(&records, AGENT, "2026-11");
    let expected = PersonPeriodFacts {
        // Rounds: k1, k2 (twice: received and reopened), k3, k5's reopening, k7.
        complaints_handled: 6,
        handled: 6,
        responses_total: 6,
        responses_on_time: 3,              // k1, k2's first round, k5's reopening
        resolved: 5,                       // all but k3
        complaints_confirmed_satisfied: 2, // k1, k2's second round
        complaints_reopened: 2,            // k2, k5
        ..facts(1)
    };
    assert_eq!(nov, expected);

    let oct = collect(&records, AGENT, "2026-10");
    let expected = PersonPeriodFacts {
        complaints_handled: 1,
        handled: 1,
        responses_total: 1,
        responses_on_time: 1,
        resolved: 1,
        ..facts(1)
    };
    assert_eq!(oct, expected);

    let dec = collect(&records, AGENT, "2026-12");
    let expected = PersonPeriodFacts { complaints_handled: 1, handled: 1, responses_total: 1, ..facts(1) };
    assert_eq!(dec, expected);

    let other = collect(&records, OTHER, "2026-11");
    let expected = PersonPeriodFacts {
        complaints_handled: 1,
        handled: 1,
        responses_total: 1,
        responses_on_time: 1,
        ..facts(1)
    };
    assert_eq!(other, expected);
}

#[test]
fn rules_set_the_response_target_and_the_time_zone() {
    let customers = [complaints_customer()];
    let records = customers_only(&customers);

    // With a 48-hour target, k2's reopening and k7 are on time too.
    let relaxed = CollectRules { complaint_response_target_ms: 48 * HOUR, ..CollectRules::default() };
    let nov = collect_month(&records, AGENT, month("2026-11"), &relaxed);
    assert_eq!((nov.responses_total, nov.responses_on_time), (6, 5));

    // In UTC, k4 (30 November 16:10 UTC) is a November complaint.
    let utc = CollectRules { utc_offset_min: 0, ..CollectRules::default() };
    let nov = collect_month(&records, AGENT, month("2026-11"), &utc);
    assert_eq!(nov.complaints_handled, 7);
    assert_eq!(collect_month(&records, AGENT, month("2026-12"), &utc).complaints_handled, 0);
}

// ---------------------------------------------------------------------------------------------
// New assignments

fn assigned(name: &str, agent: &str, time: i64) -> CustomerFile {
    let mut c = customer(name);
    c.assign(&by(BOSS, time), Some(agent.to_string()), None);
    c
}

fn assignment_customers() -> Vec<CustomerFile> {
    let phone = ContactChannel::Phone;
    // Contacted after 6 days.
    let mut a1 = assigned("a1", AGENT, at("2026-11-03", 10, 0));
    a1.log_contact("c1".into(), &by(AGENT, at("2026-11-09", 10, 0)), phone, "introduced myself");
    // Assigned at the end of November; a no-answer callback attempt exactly 7 days later.
    let mut a2 = assigned("a2", AGENT, at("2026-11-28", 9, 0));
    a2.schedule_callback("cb".into(), &by(BOSS, at("2026-11-28", 9, 0)), &new_callback(AGENT, "2026-12-05"));
    let no_answer = result(CallbackOutcome::NoAnswer, None);
    a2.record_callback("cb", "x".into(), &by(AGENT, at("2026-12-05", 9, 0)), &no_answer).expect("attempt");
    // Contacted one minute too late.
    let mut a3 = assigned("a3", AGENT, at("2026-11-10", 10, 0));
    a3.log_contact("c1".into(), &by(AGENT, at("2026-11-17", 10, 1)), phone, "first call");
    // Never contacted.
    let a4 = assigned("a4", AGENT, at("2026-11-12", 10, 0));
    // Assigned late on 31 October: an October assignment.
    let a5 = assigned("a5", AGENT, at("2026-10-31", 23, 0));
    // Someone else's.
    let a6 = assigned("a6", OTHER, at("2026-11-05", 10, 0));
    // Only a contact from before the assignment.
    let mut a7 = customer("a7");
    a7.log_contact("c1".into(), &by(AGENT, at("2026-11-01", 10, 0)), phone, "enquiry");
    a7.assign(&by(BOSS, at("2026-11-02", 10, 0)), Some(AGENT.to_string()), None);
    // First OTHER's, reassigned to AGENT (the week starts again) and contacted the next day.
    let mut a8 = assigned("a8", OTHER, at("2026-11-01", 10, 0));
    a8.assign(&by(BOSS, at("2026-11-20", 10, 0)), Some(AGENT.to_string()), None);
    a8.log_contact("c1".into(), &by(AGENT, at("2026-11-21", 10, 0)), phone, "first call");
    // A customer whose field staff is AGENT's colleague: no agent assignment for FIELD.
    let mut a9 = customer("a9");
    a9.assign(&by(BOSS, at("2026-11-04", 10, 0)), None, Some(FIELD.to_string()));
    let all = vec![a1, a2, a3, a4, a5, a6, a7, a8, a9];
    all.iter().for_each(valid);
    all
}

#[test]
fn new_assignments_and_first_contact_within_a_week() {
    let customers = assignment_customers();
    let records = customers_only(&customers);

    let nov = collect(&records, AGENT, "2026-11");
    // a1, a2, a3, a4, a7, a8; contacted in time a1, a2 (exactly at 7 days), a8.
    assert_eq!((nov.new_assignments, nov.new_assignments_contacted_within_week), (6, 3));
    // a2's callback is due in December and still open.
    assert_eq!((nov.callbacks_scheduled, nov.callbacks_done), (0, 0));

    let oct = collect(&records, AGENT, "2026-10");
    assert_eq!((oct.new_assignments, oct.new_assignments_contacted_within_week), (1, 0));

    let dec = collect(&records, AGENT, "2026-12");
    assert_eq!((dec.new_assignments, dec.callbacks_scheduled, dec.callbacks_done), (0, 1, 0));

    let other = collect(&records, OTHER, "2026-11");
    assert_eq!((other.new_assignments, other.new_assignments_contacted_within_week), (1, 0));
    assert_eq!(collect(&records, FIELD, "2026-11"), facts(1));
}

// ---------------------------------------------------------------------------------------------
// Attendance

fn clock(a: &mut AttendanceMonth, id: &str, day: &str, kind: ClockKind, shift: Shift, time: i64) {
    let who = a.staff.clone();
    a.clock(id.to_string(), &by(&who, time), day, kind, shift, None);
}

fn leave(a: &mut AttendanceMonth, id: &str, kind: LeaveKind, start: &str, end: &str, asked: i64) {
    let who = a.staff.clone();
    let new = NewLeave {
        kind,
        start: start.to_string(),
        end: end.to_string(),
        reason: "family".into(),
        asked_in_person: true,
    };
    a.request_leave(id.to_string(), &by(&who, asked), &new);
}

fn decide(a: &mut AttendanceMonth, id: &str, roles: &[Approver], decision: Decision, time: i64) {
    for role in roles {
        a.decide_leave(id, &by(BOSS, time), *role, decision, None).expect("decision in order");
    }
}

const FULL_CHAIN: [Approver; 3] = [Approver::Manager, Approver::Hr, Approver::GeneralManager];

fn attendance_records() -> (Vec<AttendanceMonth>, Vec<Roster>) {
    use ClockKind::{In, Out};
    use Shift::{Early, Late};

    let mut oct = AttendanceMonth::new(AGENT, TEAM, "2026-10");
    // Three days of annual leave across the month boundary, fully approved: stored in October.
    leave(&mut oct, "l1", LeaveKind::Annual, "2026-10-30", "2026-11-01", at("2026-10-20", 9, 0));
    decide(&mut oct, "l1", &FULL_CHAIN, Decision::Approve, at("2026-10-21", 9, 0));

    let mut nov = AttendanceMonth::new(AGENT, TEAM, "2026-11");
    // 2nd: on time.
    clock(&mut nov, "e01", "2026-11-02", In, Early, at("2026-11-02", 8, 30));
    clock(&mut nov, "e02", "2026-11-02", Out, Early, at("2026-11-02", 17, 30));
    // 3rd: 15 minutes late.
    clock(&mut nov, "e03", "2026-11-03", In, Early, at("2026-11-03", 8, 45));
    clock(&mut nov, "e04", "2026-11-03", Out, Early, at("2026-11-03", 17, 30));
    // 4th: 40 minutes late and 30 minutes early.
    clock(&mut nov, "e05", "2026-11-04", In, Early, at("2026-11-04", 9, 10));
    clock(&mut nov, "e06", "2026-11-04", Out, Early, at("2026-11-04", 17, 0));
    // 5th: marked absent.
    nov.mark_absent(&by(BOSS, at("2026-11-05", 12, 0)), "2026-11-05", Some("no show".into()));
    // 6th: approved leave (asked twice, both approved); the late clock-in and the absence
    // mark of that day count nothing.
    leave(&mut nov, "l2", LeaveKind::Annual, "2026-11-06", "2026-11-06", at("2026-11-01", 9, 0));
    decide(&mut nov, "l2", &[Approver::Manager], Decision::Approve, at("2026-11-01", 10, 0));
    leave(&mut nov, "l3", LeaveKind::Annual, "2026-11-06", "2026-11-06", at("2026-11-02", 9, 0));
    decide(&mut nov, "l3", &[Approver::Manager], Decision::Approve, at("2026-11-02", 10, 0));
    clock(&mut nov, "e07", "2026-11-06", In, Early, at("2026-11-06", 10, 0));
    nov.mark_absent(&by(BOSS, at("2026-11-06", 12, 0)), "2026-11-06", None);
    // 9th: late shift running past midnight: neither late nor early.
    clock(&mut nov, "e08", "2026-11-09", In, Late, at("2026-11-09", 15, 0));
    clock(&mut nov, "e09", "2026-11-09", Out, Late, at("2026-11-10", 0, 20));
    // 10th: late shift, 5 minutes late, left an hour early.
    clock(&mut nov, "e10", "2026-11-10", In, Late, at("2026-11-10", 15, 5));
    clock(&mut nov, "e11", "2026-11-10", Out, Late, at("2026-11-10", 23, 0));
    // 14th: a shift the roster does not show, on time.
    clock(&mut nov, "e12", "2026-11-14", In, Early, at("2026-11-14", 8, 25));
    clock(&mut nov, "e13", "2026-11-14", Out, Early, at("2026-11-14", 17, 35));
    // Not approved: rejected, withdrawn after approval, and a 4-day sick leave still waiting
    // for the general manager.
    leave(&mut nov, "l4", LeaveKind::Annual, "2026-11-18", "2026-11-18", at("2026-11-10", 9, 0));
    decide(&mut nov, "l4", &[Approver::Manager], Decision::Reject, at("2026-11-10", 10, 0));
    leave(&mut nov, "l5", LeaveKind::Annual, "2026-11-19", "2026-11-19", at("2026-11-10", 9, 0));
    decide(&mut nov, "l5", &[Approver::Manager], Decision::Approve, at("2026-11-10", 10, 0));
    nov.cancel_leave("l5", &by(AGENT, at("2026-11-11", 9, 0))).expect("withdraw");
    leave(&mut nov, "l6", LeaveKind::Sick, "2026-11-24", "2026-11-27", at("2026-11-24", 7, 0));
    decide(&mut nov, "l6", &[Approver::Manager, Approver::Hr], Decision::Approve, at("2026-11-24", 9, 0));

    // Someone else's month: nothing of it is AGENT's.
    let mut other = AttendanceMonth::new(OTHER, TEAM, "2026-11");
    clock(&mut other, "e1", "2026-11-02", In, Early, at("2026-11-02", 9, 30));
    other.mark_absent(&by(BOSS, at("2026-11-03", 12, 0)), "2026-11-03", None);

    let mut roster = Roster::new(TEAM, "2026-11");
    for (day, shift) in [
        ("2026-11-02", Early),
        ("2026-11-03", Early),
        ("2026-11-04", Early),
        ("2026-11-05", Early),
        ("2026-11-06", Early),
        ("2026-11-07", Shift::Rest),
        ("2026-11-09", Late),
        ("2026-11-10", Late),
    ] {
        roster.shifts.insert(Roster::key(day, AGENT), shift);
    }
    roster.shifts.insert(Roster::key("2026-11-02", OTHER), Early);
    let mut december = Roster::new(TEAM, "2026-12");
    december.shifts.insert(Roster::key("2026-12-01", AGENT), Early);

    let docs = vec![oct, nov, other];
    docs.iter().for_each(valid);
    let rosters = vec![roster, december];
    rosters.iter().for_each(valid);
    (docs, rosters)
}

#[test]
fn attendance_reuses_the_day_summaries_and_counts_approved_leave() {
    let (attendance, rosters) = attendance_records();
    let records = TeamRecords { attendance: &attendance, rosters: &rosters, ..TeamRecords::default() };

    let nov = collect(&records, AGENT, "2026-11");
    let expected = PersonPeriodFacts {
        shifts_rostered: 8, // roster 2–6, 9, 10 and the clocked 14th
        late_count: 3,      // 3rd, 4th, 10th
        late_minutes: 60,   // 15 + 40 + 5
        early_leave_count: 2,
        absences: 1,
        leave_half_days: 4, // 1 November (October's request) and 6 November
        ..facts(1)
    };
    assert_eq!(nov, expected);

    // The same late minutes as the model's own day summary.
    let doc = &attendance[1];
    assert_eq!(doc.day("2026-11-04", CHINA_UTC_OFFSET_MIN).late_minutes, 40);

    let oct = collect(&records, AGENT, "2026-10");
    assert_eq!(oct, PersonPeriodFacts { leave_half_days: 4, ..facts(1) });
    assert!(oct.has_attendance_record());

    let dec = collect(&records, AGENT, "2026-12");
    assert_eq!(dec, PersonPeriodFacts { shifts_rostered: 1, ..facts(1) });

    let other = collect(&records, OTHER, "2026-11");
    let expected =
        PersonPeriodFacts { shifts_rostered: 1, late_count: 1, late_minutes: 60, absences: 1, ..facts(1) };
    assert_eq!(other, expected);
}

// ---------------------------------------------------------------------------------------------
// Appearance

fn template() -> SheetTemplate {
    SheetTemplate { template_id: "tpl".into(), version: 1, items: default_template_items() }
}

fn sheet(day: &str, results: &[(&str, bool)]) -> AppearanceCheck {
    let mut s = AppearanceCheck::new(TEAM, day);
    for (staff, pass) in results {
        let mut items = BTreeMap::new();
        if !pass {
            items.insert(
                "dress.badge".to_string(),
                ItemResult { result: CheckResult::Fail, note: Some("badge missing".into()), photo: None },
            );
        }
        s.record(&by(BOSS, at(day, 8, 20)), staff, &template(), items).expect("check");
    }
    valid(&s);
    s
}

#[test]
fn appearance_checks_pass_only_when_every_item_passes() {
    let checks = [
        sheet("2026-11-02", &[(AGENT, true), (FIELD, false)]),
        sheet("2026-11-15", &[(FIELD, true)]),
        sheet("2026-11-30", &[(AGENT, false)]),
        sheet("2026-12-01", &[(AGENT, true)]),
        sheet("2026-10-31", &[(AGENT, false)]),
    ];
    let records = TeamRecords { checks: &checks, ..TeamRecords::default() };
    let pair = |f: PersonPeriodFacts| (f.appearance_checks, f.appearance_passed);
    assert_eq!(pair(collect(&records, AGENT, "2026-11")), (2, 1));
    assert_eq!(pair(collect(&records, FIELD, "2026-11")), (2, 1));
    assert_eq!(pair(collect(&records, AGENT, "2026-12")), (1, 1));
    assert_eq!(pair(collect(&records, AGENT, "2026-10")), (1, 0));
    assert_eq!(collect(&records, OTHER, "2026-11"), facts(1));
}

// ---------------------------------------------------------------------------------------------
// Everything together: a person with nothing, a year, the report

struct Team {
    customers: Vec<CustomerFile>,
    attendance: Vec<AttendanceMonth>,
    rosters: Vec<Roster>,
    checks: Vec<AppearanceCheck>,
}

impl Team {
    fn new() -> Team {
        let mut customers = vec![callbacks_customer(), visits_customer(), complaints_customer()];
        customers.extend(assignment_customers());
        let (attendance, rosters) = attendance_records();
        let checks = vec![
            sheet("2026-11-02", &[(AGENT, true), (FIELD, false)]),
            sheet("2026-12-01", &[(AGENT, true)]),
        ];
        Team { customers, attendance, rosters, checks }
    }

    fn records(&self) -> TeamRecords<'_> {
        TeamRecords {
            customers: &self.customers,
            attendance: &self.attendance,
            checks: &self.checks,
            rosters: &self.rosters,
        }
    }
}

#[test]
fn a_person_with_nothing_gets_zeros_and_no_score() {
    let team = Team::new();
    let records = team.records();
    let rules = CollectRules::default();

    let month_facts = collect(&records, NOBODY, "2026-11");
    assert_eq!(month_facts, facts(1));
    let report = evaluate(&month_facts, &Weights::default(), &Penalties::default());
    assert_eq!((report.score, report.grade), (None, None));

    assert_eq!(collect_year(&records, NOBODY, 2026, &rules), facts(12));
    assert_eq!(collect_month(&TeamRecords::default(), AGENT, month("2026-11"), &rules), facts(1));
    assert_eq!(collect_year(&TeamRecords::default(), AGENT, 2026, &rules), facts(12));
}

#[test]
fn one_record_set_gives_each_person_their_own_counts() {
    let team = Team::new();
    let records = team.records();
    let nov = collect(&records, AGENT, "2026-11");
    let expected = PersonPeriodFacts {
        months: 1,
        // callbacks cb1 (5), cb6 (4)
        satisfaction_ratings_sum: 9,
        satisfaction_ratings_count: 2,
        // complaints only (the agent makes no visits)
        responses_total: 6,
        responses_on_time: 3,
        handled: 6,
        resolved: 5,
        complaints_handled: 6,
        complaints_confirmed_satisfied: 2,
        complaints_reopened: 2,
        callbacks_scheduled: 4,
        callbacks_done: 3,
        new_assignments: 6,
        new_assignments_contacted_within_week: 3,
        shifts_rostered: 8,
        late_count: 3,
        late_minutes: 60,
        early_leave_count: 2,
        absences: 1,
        leave_half_days: 4,
        appearance_checks: 1,
        appearance_passed: 1,
    };
    assert_eq!(nov, expected);

    let report = evaluate(&nov, &Weights::default(), &Penalties::default());
    let m = &report.measures;
    assert_eq!(m.satisfaction, Some(87.5)); // mean 4.5
    assert_eq!(m.response_timeliness, Some(50.0));
    // 2 of 6 confirmed = 33.3…, minus 2 reopens × 10.
    let complaint = m.complaint_handling.expect("complaints were handled");
    assert!((complaint - (100.0 / 3.0 - 20.0)).abs() < 1e-9);
    // mean of 3/4 done and 3/6 contacted in time
    assert_eq!(m.callback_completion, Some(62.5));
    // 100 − 3 late × 2 − 2 early × 2 − 1 absence × 10
    assert_eq!(m.attendance, Some(80.0));
    assert_eq!(m.appearance, Some(100.0));
    assert!(report.score.is_some());

    let field = collect(&records, FIELD, "2026-11");
    assert_eq!((field.responses_total, field.appearance_checks, field.appearance_passed), (5, 1, 0));
    assert_eq!(field.callbacks_scheduled + field.complaints_handled + field.new_assignments, 0);
}

#[test]
fn a_year_is_the_sum_of_its_months() {
    let team = Team::new();
    let records = team.records();
    let rules = CollectRules::default();
    for staff in [AGENT, OTHER, FIELD] {
        let year = collect_year(&records, staff, 2026, &rules);
        year.validate().expect("consistent");
        let months: PersonPeriodFacts = (1..=12)
            .map(|m| collect_month(&records, staff, Month::new(2026, m).expect("month"), &rules))
            .sum();
        assert_eq!(year, months);
        assert_eq!(year.months, 12);
    }
    let year = collect_year(&records, AGENT, 2026, &rules);
    // Complaint rounds: October 1, November 6, December 1.
    assert_eq!(year.complaints_handled, 8);
    // Leave: 30 and 31 October, 1 and 6 November.
    assert_eq!(year.leave_half_days, 8);
    // Callbacks due October–December: November 4, December 1 (cb4) + 1 (a2's).
    assert_eq!((year.callbacks_scheduled, year.callbacks_done), (6, 4));
    // Nothing falls in 2025 or 2027.
    assert_eq!(collect_year(&records, AGENT, 2025, &rules), facts(12));
    assert_eq!(collect_year(&records, AGENT, 2027, &rules), facts(12));
    // A year no record can be in.
    assert_eq!(collect_year(&records, AGENT, 1969, &rules), facts(12));
}

#[test]
fn new_year_in_beijing_is_still_the_old_year_in_utc() {
    let mut c = customer("钱七");
    take(&mut c, "last", AGENT, at("2026-12-31", 23, 59));
    take(&mut c, "first", AGENT, at("2027-01-01", 0, 1));
    valid(&c);
    let customers = [c];
    let records = customers_only(&customers);
    let rules = CollectRules::default();
    assert_eq!(collect_year(&records, AGENT, 2026, &rules).complaints_handled, 1);
    assert_eq!(collect_year(&records, AGENT, 2027, &rules).complaints_handled, 1);
    assert_eq!(collect(&records, AGENT, "2027-01").complaints_handled, 1);
    let utc = CollectRules { utc_offset_min: 0, ..rules };
    assert_eq!(collect_year(&records, AGENT, 2026, &utc).complaints_handled, 2);
}

#[test]
fn malformed_records_are_skipped_without_panicking() {
    // Records the server would refuse (a bad date, a rating of 9, unknown and orphan steps,
    // times at i64's ends) must still not break collecting or the facts' consistency.
    let mut c = customer("坏数据");
    c.schedule_callback(
        "bad-date".into(),
        &by(BOSS, at("2026-11-01", 9, 0)),
        &new_callback(AGENT, "2026-11-31"),
    );
    c.schedule_callback(
        "rating".into(),
        &by(BOSS, at("2026-11-01", 9, 0)),
        &new_callback(AGENT, "2026-11-02"),
    );
    c.record_callback(
        "rating",
        "x".into(),
        &by(AGENT, at("2026-11-02", 9, 0)),
        &result(CallbackOutcome::Satisfied, Some(9)),
    )
    .expect("attempt");
    take(&mut c, "k", AGENT, at("2026-11-02", 9, 0));
    let k = c.complaints.get_mut("k").expect("k");
    k.steps.insert("junk".into(), StepMark::new(AGENT, 0));
    k.steps.insert("3.processing".into(), StepMark::new(AGENT, at("2026-11-03", 9, 0)));
    k.steps.insert("0.reopened".into(), StepMark::new(AGENT, at("2026-11-03", 9, 0)));
    k.steps.insert("0.processing".into(), StepMark::new(AGENT, i64::MIN));
    take(&mut c, "far", AGENT, i64::MAX);
    dispatch(&mut c, "v", FIELD, at("2026-11-03", 9, 0), at("2026-11-03", 11, 0));
    c.visits.get_mut("v").expect("v").steps.clear();
    c.visits.get_mut("v").expect("v").rating = Some(0);
    c.assign(&by(BOSS, i64::MAX), Some(AGENT.to_string()), None);
    assert!(c.validate().is_err());

    let customers = [c];
    let records = customers_only(&customers);
    let nov = collect(&records, AGENT, "2026-11");
    assert_eq!((nov.callbacks_scheduled, nov.callbacks_done), (1, 1));
    assert_eq!(nov.satisfaction_ratings_count, 0);
    // Round 0 only: the orphan round 3 has no reopening to start it.
    assert_eq!((nov.complaints_handled, nov.responses_on_time, nov.complaints_reopened), (1, 1, 0));
    assert_eq!(collect(&records, FIELD, "2026-11"), facts(1));
}

// ---------------------------------------------------------------------------------------------
// Month

#[test]
fn months_parse_and_bound_their_days() {
    assert_eq!(month("2026-11").to_string(), "2026-11");
    assert_eq!((month("2026-11").year(), month("2026-11").month()), (2026, 11));
    for bad in ["2026-13", "2026-00", "2026-1", "2026-11-01", "26-11", "", "1969-12", "２０２６-11"] {
        assert_eq!(Month::parse(bad), None, "{bad}");
    }
    assert_eq!(Month::new(2026, 0), None);
    assert_eq!(Month::new(2026, 13), None);
    assert_eq!(Month::new(10_000, 1), None);
    assert_eq!(Month::new(2026, 2), Some(month("2026-02")));

    assert_eq!(month("2028-02").days().count(), 29);
    assert_eq!(month("2026-02").days().count(), 28);
    assert_eq!(month("2026-12").last_day().to_string(), "2026-12-31");
    assert_eq!(month("9999-12").days().count(), 31);
    let days: Vec<String> = month("2026-11").days().map(|d| d.to_string()).collect();
    assert_eq!((days.len(), days[0].as_str(), days[29].as_str()), (30, "2026-11-01", "2026-11-30"));

    let nov = month("2026-11");
    assert!(nov.contains_date_text("2026-11-30"));
    assert!(!nov.contains_date_text("2026-12-01"));
    assert!(!nov.contains_date_text("2026-11-31"));
    assert!(nov.contains_time(at("2026-11-30", 23, 59), CHINA_UTC_OFFSET_MIN));
    assert!(!nov.contains_time(at("2026-12-01", 0, 0), CHINA_UTC_OFFSET_MIN));
    assert!(nov.contains_time(at("2026-12-01", 0, 0), 0));
    assert!(!nov.contains_time(i64::MAX, CHINA_UTC_OFFSET_MIN));
    assert!(!nov.contains_time(i64::MIN, -CHINA_UTC_OFFSET_MIN));
}
