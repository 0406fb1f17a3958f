//! Status lifecycles that cannot move backwards under merge.
//!
//! A visit, complaint or callback does not store its status as one field (which a stale
//! concurrent edit could overwrite with an earlier value). It stores a map `steps` with one key
//! per step reached, each holding who reached it and when. Automerge merges concurrent map
//! inserts of different keys by keeping both, so a merge is a union of steps, and the status is
//! derived as the furthest step present. A union can only add steps, so after any merge the
//! status is at least as far as on every replica that took part: "completed" beats a concurrent
//! "on site" by construction, not by a rule someone has to remember.
//!
//! Every prerequisite ("completed needs on site") is about the *presence* of another step, so
//! if two replicas each hold a valid set of steps, their union is valid too: concurrent edits
//! can never merge into an invalid lifecycle.
//!
//! Complaints can be reopened ("until the customer is satisfied"). Reopening is an explicit
//! step that starts a new round: keys are `"<round>.<step>"`, and the status is the greatest
//! (round, step) present. A reopen concurrent with a confirmation therefore wins, which is the
//! careful choice: the customer said they are not satisfied.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::enums::string_enum;

/// The mark left when a record reaches a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMark {
    /// Device time in Unix milliseconds.
    pub at: i64,
    /// The user id of who did it.
    pub by: String,
    /// An optional note, e.g. why a visit was cancelled.
    #[serde(default)]
    pub note: Option<String>,
}

impl StepMark {
    /// A mark by `by` at `at` without a note.
    pub fn new(by: &str, at: i64) -> Self {
        StepMark { at, by: by.to_string(), note: None }
    }
}

/// The steps a record has reached, keyed by step name (or `round.step` for complaints).
pub type Steps = BTreeMap<String, StepMark>;

/// Why a step cannot be taken now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot go from {from} to {to}: {why}")]
pub struct IllegalStep {
    /// The current status.
    pub from: String,
    /// The step asked for.
    pub to: String,
    /// The rule it breaks.
    pub why: &'static str,
}

string_enum!(
    /// The steps of a field visit (售后上门).
    VisitStep {
        Dispatched = "dispatched" / "已派单",
        EnRoute = "en_route" / "在途",
        Cancelled = "cancelled" / "已取消",
        OnSite = "on_site" / "已到达",
        Completed = "completed" / "已完成",
        Reviewed = "reviewed" / "已审核",
    }
);

impl VisitStep {
    /// Position in the lifecycle. A cancellation ranks below arrival: work done on site is
    /// never hidden by a concurrent cancellation from the office.
    pub fn rank(&self) -> u8 {
        match self {
            VisitStep::Dispatched => 10,
            VisitStep::EnRoute => 20,
            VisitStep::Cancelled => 25,
            VisitStep::OnSite => 30,
            VisitStep::Completed => 40,
            VisitStep::Reviewed => 50,
        }
    }

    /// The step that must be present before this one can be.
    pub fn requires(&self) -> Option<VisitStep> {
        match self {
            VisitStep::Dispatched => None,
            VisitStep::EnRoute | VisitStep::OnSite | VisitStep::Cancelled => Some(VisitStep::Dispatched),
            VisitStep::Completed => Some(VisitStep::OnSite),
            VisitStep::Reviewed => Some(VisitStep::Completed),
        }
    }

    /// Whether the visit is still open (not completed, reviewed or cancelled).
    pub fn is_open(&self) -> bool {
        matches!(self, VisitStep::Dispatched | VisitStep::EnRoute | VisitStep::OnSite)
    }
}

string_enum!(
    /// The steps of a callback (回访).
    CallbackStep {
        Scheduled = "scheduled" / "待回访",
        Attempting = "attempting" / "回访中",
        Cancelled = "cancelled" / "已取消",
        Done = "done" / "已完成",
    }
);

impl CallbackStep {
    /// Position in the lifecycle; a finished callback beats a concurrent cancellation.
    pub fn rank(&self) -> u8 {
        match self {
            CallbackStep::Scheduled => 10,
            CallbackStep::Attempting => 20,
            CallbackStep::Cancelled => 25,
            CallbackStep::Done => 30,
        }
    }

    /// The step that must be present before this one can be.
    pub fn requires(&self) -> Option<CallbackStep> {
        match self {
            CallbackStep::Scheduled => None,
            _ => Some(CallbackStep::Scheduled),
        }
    }

    /// Whether the callback still waits to be made.
    pub fn is_open(&self) -> bool {
        matches!(self, CallbackStep::Scheduled | CallbackStep::Attempting)
    }
}

string_enum!(
    /// The steps of a complaint (投诉).
    ComplaintStep {
        Reopened = "reopened" / "重新打开",
        Received = "received" / "已受理",
        Forwarded = "forwarded" / "已转交",
        Processing = "processing" / "处理中",
        Resolved = "resolved" / "已解决",
        Confirmed = "confirmed" / "客户确认满意",
    }
);

impl ComplaintStep {
    /// Position within one round.
    pub fn rank(&self) -> u8 {
        match self {
            ComplaintStep::Reopened => 5,
            ComplaintStep::Received => 10,
            ComplaintStep::Forwarded => 20,
            ComplaintStep::Processing => 30,
            ComplaintStep::Resolved => 40,
            ComplaintStep::Confirmed => 50,
        }
    }
}

/// Where a complaint stands: the round (0 until first reopened) and the step in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ComplaintStatus {
    /// How often it was reopened.
    pub round: u32,
    /// The furthest step of that round.
    pub step: ComplaintStep,
}

impl ComplaintStatus {
    /// Whether the complaint still needs work.
    pub fn is_open(&self) -> bool {
        !matches!(self.step, ComplaintStep::Resolved | ComplaintStep::Confirmed)
    }
}

/// The key of a complaint step in its `steps` map.
pub fn complaint_key(round: u32, step: ComplaintStep) -> String {
    format!("{round}.{step}")
}

/// Parses a complaint step key (`"1.reopened"`).
pub fn parse_complaint_key(key: &str) -> Option<(u32, ComplaintStep)> {
    let (round, step) = key.split_once('.')?;
    let n: u32 = round.parse().ok()?;
    // Only the canonical spelling ("1", not "01" or "+1"), so one step has one key.
    (n.to_string() == round).then_some(())?;
    Some((n, step.parse().ok()?))
}

fn furthest<S: Copy + Ord>(steps: &Steps, parse: impl Fn(&str) -> Option<S>) -> Option<S> {
    steps.keys().filter_map(|k| parse(k)).max()
}

/// The status of a visit: its furthest step. `None` only for a malformed record.
pub fn visit_status(steps: &Steps) -> Option<VisitStep> {
    furthest(steps, |k| k.parse::<VisitStep>().ok().map(|s| (s.rank(), s))).map(|(_, s)| s)
}

/// The status of a callback.
pub fn callback_status(steps: &Steps) -> Option<CallbackStep> {
    furthest(steps, |k| k.parse::<CallbackStep>().ok().map(|s| (s.rank(), s))).map(|(_, s)| s)
}

/// The status of a complaint.
pub fn complaint_status(steps: &Steps) -> Option<ComplaintStatus> {
    furthest(steps, |k| parse_complaint_key(k).map(|(r, s)| (r, s.rank(), s)))
        .map(|(round, _, step)| ComplaintStatus { round, step })
}

/// Checks that a visit may take `to` now, as the verb on a phone does.
pub fn check_visit_step(steps: &Steps, to: VisitStep) -> Result<(), IllegalStep> {
    let from = visit_status(steps);
    let name = |s: Option<VisitStep>| s.map_or("new".to_string(), |s| s.to_string());
    let err = |why| Err(IllegalStep { from: name(from), to: to.to_string(), why });
    if steps.contains_key(to.as_str()) {
        return err("that step was already taken");
    }
    if let Some(req) = to.requires() {
        if !steps.contains_key(req.as_str()) {
            return err(match to {
                VisitStep::Completed => "arrival on site must be recorded first",
                VisitStep::Reviewed => "only a completed visit can be reviewed",
                _ => "the visit was not dispatched",
            });
        }
    }
    match (from, to) {
        (Some(VisitStep::Cancelled), _) => err("the visit was cancelled"),
        (Some(f), t) if f.rank() >= t.rank() => err("a visit never moves backwards"),
        (_, VisitStep::Cancelled) if from.is_some_and(|f| !f.is_open()) => {
            err("only an open visit can be cancelled")
        }
        _ => Ok(()),
    }
}

/// Checks that a callback may take `to` now.
pub fn check_callback_step(steps: &Steps, to: CallbackStep) -> Result<(), IllegalStep> {
    let from = callback_status(steps);
    let name = |s: Option<CallbackStep>| s.map_or("new".to_string(), |s| s.to_string());
    let err = |why| Err(IllegalStep { from: name(from), to: to.to_string(), why });
    match (from, to) {
        (None, CallbackStep::Scheduled) => Ok(()),
        (None, _) => err("the callback was not scheduled"),
        (Some(f), _) if !f.is_open() => err("the callback is finished"),
        (Some(CallbackStep::Attempting), CallbackStep::Attempting) => Ok(()),
        (Some(f), t) if f.rank() >= t.rank() => err("a callback never moves backwards"),
        _ => Ok(()),
    }
}

/// Checks that a complaint may take `to` now and returns the key to write.
pub fn check_complaint_step(steps: &Steps, to: ComplaintStep) -> Result<String, IllegalStep> {
    let from = complaint_status(steps);
    let name = |s: Option<ComplaintStatus>| {
        s.map_or("new".to_string(), |s| format!("{} (round {})", s.step, s.round))
    };
    let err = |why| Err(IllegalStep { from: name(from), to: to.to_string(), why });
    match (from, to) {
        (None, ComplaintStep::Received) => Ok(complaint_key(0, to)),
        (None, _) => err("a complaint starts by being received"),
        (Some(_), ComplaintStep::Received) => err("the complaint was already received"),
        (Some(s), ComplaintStep::Reopened) => {
            if matches!(s.step, ComplaintStep::Resolved | ComplaintStep::Confirmed) {
                Ok(complaint_key(s.round + 1, to))
            } else {
                err("only a resolved or confirmed complaint can be reopened")
            }
        }
        (Some(s), ComplaintStep::Confirmed) if s.step != ComplaintStep::Resolved => {
            err("the customer can only confirm a resolved complaint")
        }
        (Some(s), t) if s.step.rank() >= t.rank() => err("a complaint never moves backwards"),
        (Some(s), t) => Ok(complaint_key(s.round, t)),
    }
}

/// Problems in a set of visit steps as a whole (used after merges and by the server).
pub fn visit_steps_problems(steps: &Steps) -> Vec<String> {
    let mut out = Vec::new();
    for key in steps.keys() {
        match key.parse::<VisitStep>() {
            Err(e) => out.push(e.to_string()),
            Ok(step) => {
                if let Some(req) = step.requires() {
                    if !steps.contains_key(req.as_str()) {
                        out.push(format!("step {step} needs step {req}"));
                    }
                }
            }
        }
    }
    if steps.is_empty() {
        out.push("a visit needs at least the dispatched step".into());
    }
    out
}

/// Problems in a set of callback steps as a whole.
pub fn callback_steps_problems(steps: &Steps) -> Vec<String> {
    let mut out = Vec::new();
    for key in steps.keys() {
        if let Err(e) = key.parse::<CallbackStep>() {
            out.push(e.to_string());
        }
    }
    if !steps.contains_key(CallbackStep::Scheduled.as_str()) {
        out.push("a callback needs the scheduled step".into());
    }
    out
}

/// Problems in a set of complaint steps as a whole.
pub fn complaint_steps_problems(steps: &Steps) -> Vec<String> {
    let mut out = Vec::new();
    let has = |r: u32, s: ComplaintStep| steps.contains_key(&complaint_key(r, s));
    for key in steps.keys() {
        let Some((round, step)) = parse_complaint_key(key) else {
            out.push(format!("{key:?} is not a complaint step (<round>.<step>)"));
            continue;
        };
        let ok = match step {
            ComplaintStep::Received => round == 0,
            ComplaintStep::Reopened => {
                round > 0
                    && (has(round - 1, ComplaintStep::Resolved) || has(round - 1, ComplaintStep::Confirmed))
            }
            ComplaintStep::Confirmed => has(round, ComplaintStep::Resolved),
            _ => {
                if round == 0 {
                    has(0, ComplaintStep::Received)
                } else {
                    has(round, ComplaintStep::Reopened)
                }
            }
        };
        if !ok {
            out.push(format!("step {key} lacks the step it follows"));
        }
    }
    if !has(0, ComplaintStep::Received) {
        out.push("a complaint needs the 0.received step".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(keys: &[&str]) -> Steps {
        keys.iter().map(|k| (k.to_string(), StepMark::new("u", 1))).collect()
    }

    #[test]
    fn completed_beats_on_site_in_a_union() {
        let s = steps(&["dispatched", "on_site", "completed", "en_route"]);
        assert_eq!(visit_status(&s), Some(VisitStep::Completed));
        assert!(visit_steps_problems(&s).is_empty());
    }

    #[test]
    fn arrival_beats_cancellation() {
        let s = steps(&["dispatched", "cancelled", "on_site"]);
        assert_eq!(visit_status(&s), Some(VisitStep::OnSite));
    }

    #[test]
    fn visit_verbs_refuse_backwards_and_skips() {
        let s = steps(&["dispatched", "on_site"]);
        assert!(check_visit_step(&s, VisitStep::EnRoute).is_err());
        assert!(check_visit_step(&s, VisitStep::Completed).is_ok());
        let s = steps(&["dispatched"]);
        let e = check_visit_step(&s, VisitStep::Completed).unwrap_err();
        assert!(e.why.contains("arrival"));
        assert!(check_visit_step(&s, VisitStep::Cancelled).is_ok());
        let s = steps(&["dispatched", "cancelled"]);
        assert!(check_visit_step(&s, VisitStep::OnSite).is_err());
    }

    #[test]
    fn complaint_rounds() {
        let mut s = steps(&["0.received", "0.processing", "0.resolved"]);
        assert_eq!(check_complaint_step(&s, ComplaintStep::Confirmed), Ok("0.confirmed".into()));
        let key = check_complaint_step(&s, ComplaintStep::Reopened).unwrap();
        assert_eq!(key, "1.reopened");
        s.insert(key, StepMark::new("u", 2));
        let st = complaint_status(&s).unwrap();
        assert_eq!((st.round, st.step), (1, ComplaintStep::Reopened));
        assert!(st.is_open());
        assert_eq!(check_complaint_step(&s, ComplaintStep::Processing), Ok("1.processing".into()));
        assert!(check_complaint_step(&s, ComplaintStep::Confirmed).is_err());
        assert!(complaint_steps_problems(&s).is_empty());
        assert!(!complaint_steps_problems(&steps(&["0.received", "1.processing"])).is_empty());
    }

    #[test]
    fn callback_steps() {
        let s = steps(&["scheduled"]);
        assert!(check_callback_step(&s, CallbackStep::Attempting).is_ok());
        assert!(check_callback_step(&s, CallbackStep::Done).is_ok());
        let s = steps(&["scheduled", "attempting"]);
        assert!(check_callback_step(&s, CallbackStep::Attempting).is_ok(), "a second attempt");
        let s = steps(&["scheduled", "done", "cancelled"]);
        assert_eq!(callback_status(&s), Some(CallbackStep::Done));
        assert!(check_callback_step(&s, CallbackStep::Attempting).is_err());
    }
}
