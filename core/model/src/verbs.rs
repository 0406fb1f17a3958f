//! Domain verbs: the edits people make, as pure functions on records.
//!
//! Each verb checks its own preconditions (a lifecycle step that is legal now, the record it
//! names exists) and edits the record in memory; `KefuDoc::update` then validates the whole
//! record and commits. The phone client and the server's dashboard call the same verbs, so a
//! rule is written once. Ids of new nested records and times are passed in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::document::DocError;
use crate::enums::*;
use crate::lifecycle::{self, CallbackStep, ComplaintStep, StepMark, VisitStep};
use crate::records::appearance::{AppearanceCheck, ItemResult, SheetTemplate, StaffCheck};
use crate::records::attendance::*;
use crate::records::customer::*;

fn missing(what: &str, id: &str) -> DocError {
    DocError::NotFound(format!("{what} {id}"))
}

/// Who does something and when (device time, Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// User id.
    pub user: String,
    /// Device time, Unix ms.
    pub at: i64,
}

impl Actor {
    fn mark(&self) -> StepMark {
        StepMark::new(&self.user, self.at)
    }
}

/// A new visit to dispatch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewVisit {
    /// Work order number.
    pub work_order: String,
    /// Why.
    pub reason: VisitReason,
    /// Field staff user id.
    pub staff: String,
    /// Arrival window start, Unix ms.
    pub window_start: i64,
    /// Arrival window end, Unix ms.
    pub window_end: i64,
}

/// What the field staff records when completing a visit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VisitCompletion {
    /// Work done.
    pub work_done: String,
    /// Parts used (part, quantity).
    pub parts: Vec<(String, i64)>,
    /// The customer's rating 1–5.
    pub rating: Option<i64>,
    /// Follow-up callback date, YYYY-MM-DD.
    pub follow_up_on: Option<String>,
}

/// A callback to schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCallback {
    /// The agent's user id.
    pub agent: String,
    /// Due date, YYYY-MM-DD.
    pub date: String,
    /// Planned method.
    pub method: ContactChannel,
    /// Campaign document id.
    pub campaign: Option<String>,
    /// The visit it follows up.
    pub visit: Option<String>,
}

/// A leave request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLeave {
    /// Kind of leave.
    pub kind: LeaveKind,
    /// First day, YYYY-MM-DD.
    pub start: String,
    /// Last day, YYYY-MM-DD.
    pub end: String,
    /// Why.
    pub reason: String,
    /// Asked in person (required for personal leave).
    pub asked_in_person: bool,
}

/// A shift swap request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSwap {
    /// The requester's date given away.
    pub date: String,
    /// The requester's shift that day.
    pub my_shift: Shift,
    /// The colleague's user id.
    pub with_staff: String,
    /// The colleague's date taken in return.
    pub their_date: String,
    /// The colleague's shift that day.
    pub their_shift: Shift,
}

/// The result of a callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackResult {
    /// How it was made.
    pub method: ContactChannel,
    /// What came of it.
    pub outcome: CallbackOutcome,
    /// Satisfaction 1–5 (when reached).
    pub satisfaction: Option<i64>,
    /// The customer's evaluation.
    pub evaluation: Option<String>,
    /// Suggestions.
    pub suggestions: Option<String>,
    /// Issue raised.
    pub issue: Option<String>,
    /// Follow-up date.
    pub follow_up_on: Option<String>,
    /// Note.
    pub note: Option<String>,
}

/// A new complaint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewComplaint {
    /// Channel.
    pub channel: ContactChannel,
    /// What the customer said.
    pub content: String,
    /// Category.
    pub category: ComplaintCategory,
    /// Severity.
    pub severity: Severity,
    /// Handler user id.
    pub handler: String,
}

fn parts_map(parts: &[(String, i64)]) -> BTreeMap<String, PartUsed> {
    parts
        .iter()
        .enumerate()
        .map(|(i, (part, quantity))| (format!("p{i}"), PartUsed { part: part.clone(), quantity: *quantity }))
        .collect()
}

impl CustomerFile {
    /// Logs a consultation (咨询记录).
    pub fn log_contact(&mut self, id: String, by: &Actor, channel: ContactChannel, summary: &str) {
        self.contacts
            .insert(id, Contact { at: by.at, channel, summary: summary.to_string(), by: by.user.clone() });
    }

    /// Assigns the responsible agent and/or field staff; the first-contact week starts now
    /// when the agent changes, and the callbacks the previous agent had not finished (待回访,
    /// 回访中) go to the new agent's queue with the file (finished and cancelled ones keep who
    /// did them; callbacks a campaign gave to someone else stay theirs).
    pub fn assign(&mut self, by: &Actor, agent: Option<String>, field_staff: Option<String>) {
        let a = &mut self.assignment;
        if agent.is_some() && agent != a.agent {
            a.assigned_at = Some(by.at);
            if let (Some(old), Some(new)) = (&a.agent, &agent) {
                for cb in self.callbacks.values_mut() {
                    let open = matches!(
                        cb.status(),
                        None | Some(CallbackStep::Scheduled | CallbackStep::Attempting)
                    );
                    if open && &cb.agent == old {
                        cb.agent = new.clone();
                    }
                }
            }
        }
        if let Some(agent) = agent {
            a.agent = Some(agent);
        }
        if let Some(f) = field_staff {
            a.field_staff = Some(f);
        }
        if a.assigned_at.is_none() {
            a.assigned_at = Some(by.at);
        }
        a.assigned_by = Some(by.user.clone());
    }

    /// Adds an order or project.
    pub fn add_order(&mut self, id: String, order: Order) {
        self.orders.insert(id, order);
    }

    /// Schedules a callback.
    pub fn schedule_callback(&mut self, id: String, by: &Actor, new: &NewCallback) {
        let mut steps = lifecycle::Steps::new();
        steps.insert(CallbackStep::Scheduled.as_str().into(), by.mark());
        self.callbacks.insert(
            id,
            Callback {
                scheduled_for: new.date.clone(),
                campaign: new.campaign.clone(),
                agent: new.agent.clone(),
                method: new.method,
                steps,
                attempts: BTreeMap::new(),
                outcome: None,
                satisfaction: None,
                evaluation: None,
                suggestions: None,
                issue: None,
                follow_up_on: None,
                visit: new.visit.clone(),
            },
        );
    }

    /// Records an attempt. A reached outcome finishes the callback with the result; an
    /// unreached one (no answer, wrong number) leaves it open for another attempt.
    pub fn record_callback(
        &mut self,
        id: &str,
        attempt_id: String,
        by: &Actor,
        result: &CallbackResult,
    ) -> Result<(), DocError> {
        let cb = self.callbacks.get_mut(id).ok_or_else(|| missing("callback", id))?;
        let finish = result.outcome.reached();
        let to = if finish { CallbackStep::Done } else { CallbackStep::Attempting };
        lifecycle::check_callback_step(&cb.steps, to)?;
        cb.attempts.insert(
            attempt_id,
            CallbackAttempt {
                at: by.at,
                method: result.method,
                outcome: result.outcome,
                note: result.note.clone(),
                by: by.user.clone(),
            },
        );
        cb.steps.entry(to.as_str().into()).or_insert_with(|| by.mark());
        if finish {
            cb.outcome = Some(result.outcome);
            cb.satisfaction = result.satisfaction;
            cb.evaluation = result.evaluation.clone();
            cb.suggestions = result.suggestions.clone();
            cb.issue = result.issue.clone();
            cb.follow_up_on = result.follow_up_on.clone();
        }
        Ok(())
    }

    /// Cancels a callback that was not made.
    pub fn cancel_callback(&mut self, id: &str, by: &Actor, reason: &str) -> Result<(), DocError> {
        let cb = self.callbacks.get_mut(id).ok_or_else(|| missing("callback", id))?;
        lifecycle::check_callback_step(&cb.steps, CallbackStep::Cancelled)?;
        cb.steps.insert(
            CallbackStep::Cancelled.as_str().into(),
            StepMark { note: Some(reason.into()), ..by.mark() },
        );
        Ok(())
    }

    /// Dispatches a visit (派单).
    pub fn dispatch_visit(&mut self, id: String, by: &Actor, v: &NewVisit) {
        let mut steps = lifecycle::Steps::new();
        steps.insert(VisitStep::Dispatched.as_str().into(), by.mark());
        self.visits.insert(
            id,
            Visit {
                work_order: v.work_order.clone(),
                reason: v.reason,
                staff: v.staff.clone(),
                window_start: v.window_start,
                window_end: v.window_end,
                steps,
                work_done: None,
                parts: BTreeMap::new(),
                photos: BTreeMap::new(),
                signature: None,
                rating: None,
                follow_up_on: None,
            },
        );
    }

    /// Moves a visit to en route, on site, reviewed or cancelled.
    pub fn advance_visit(
        &mut self,
        id: &str,
        by: &Actor,
        to: VisitStep,
        note: Option<String>,
    ) -> Result<(), DocError> {
        let v = self.visits.get_mut(id).ok_or_else(|| missing("visit", id))?;
        lifecycle::check_visit_step(&v.steps, to)?;
        v.steps.insert(to.as_str().into(), StepMark { note, ..by.mark() });
        Ok(())
    }

    /// Completes a visit with what was done.
    pub fn complete_visit(&mut self, id: &str, by: &Actor, done: &VisitCompletion) -> Result<(), DocError> {
        let v = self.visits.get_mut(id).ok_or_else(|| missing("visit", id))?;
        lifecycle::check_visit_step(&v.steps, VisitStep::Completed)?;
        v.steps.insert(VisitStep::Completed.as_str().into(), by.mark());
        v.work_done = Some(done.work_done.clone());
        v.parts = parts_map(&done.parts);
        v.rating = done.rating;
        v.follow_up_on = done.follow_up_on.clone();
        Ok(())
    }

    /// Adds a photo of the work to a visit (kept by its hash; the same photo twice is one).
    pub fn attach_visit_photo(
        &mut self,
        id: &str,
        photo: crate::records::AttachmentRef,
    ) -> Result<(), DocError> {
        let v = self.visits.get_mut(id).ok_or_else(|| missing("visit", id))?;
        if v.steps.contains_key(VisitStep::Cancelled.as_str()) {
            return Err(DocError::IllegalStep(lifecycle::IllegalStep {
                from: VisitStep::Cancelled.to_string(),
                to: "photo".into(),
                why: "a cancelled visit takes no evidence",
            }));
        }
        v.photos.insert(photo.sha256.clone(), photo);
        Ok(())
    }

    /// Sets the customer's signature on a visit (a new signature replaces the earlier one; the
    /// history keeps both).
    pub fn sign_visit(&mut self, id: &str, signature: crate::records::AttachmentRef) -> Result<(), DocError> {
        let v = self.visits.get_mut(id).ok_or_else(|| missing("visit", id))?;
        if v.steps.contains_key(VisitStep::Cancelled.as_str()) {
            return Err(DocError::IllegalStep(lifecycle::IllegalStep {
                from: VisitStep::Cancelled.to_string(),
                to: "signature".into(),
                why: "a cancelled visit takes no evidence",
            }));
        }
        v.signature = Some(signature);
        Ok(())
    }

    /// Takes a complaint (受理).
    pub fn take_complaint(&mut self, id: String, by: &Actor, c: &NewComplaint) {
        let mut steps = lifecycle::Steps::new();
        steps.insert(lifecycle::complaint_key(0, ComplaintStep::Received), by.mark());
        self.complaints.insert(
            id,
            Complaint {
                received_at: by.at,
                channel: c.channel,
                content: c.content.clone(),
                category: c.category,
                severity: c.severity,
                department: None,
                handler: c.handler.clone(),
                steps,
                resolution: None,
                apology_made: None,
                analysis: None,
            },
        );
    }

    /// Moves a complaint on: forward (to a department), process, resolve (with the resolution),
    /// confirm (the customer is satisfied) or reopen (the customer is not).
    pub fn complaint_step(
        &mut self,
        id: &str,
        by: &Actor,
        to: ComplaintStep,
        text: Option<String>,
    ) -> Result<(), DocError> {
        let c = self.complaints.get_mut(id).ok_or_else(|| missing("complaint", id))?;
        let key = lifecycle::check_complaint_step(&c.steps, to)?;
        match to {
            ComplaintStep::Forwarded => c.department = text.clone().or(c.department.take()),
            ComplaintStep::Resolved => c.resolution = text.clone().or(c.resolution.take()),
            _ => {}
        }
        c.steps.insert(key, StepMark { note: text, ..by.mark() });
        Ok(())
    }
}

impl AttendanceMonth {
    /// Clocks in or out.
    pub fn clock(
        &mut self,
        id: String,
        by: &Actor,
        date: &str,
        clock: ClockKind,
        shift: Shift,
        location: Option<String>,
    ) {
        self.clock_events.insert(
            id,
            ClockEvent {
                date: date.to_string(),
                clock,
                shift,
                device_time: by.at,
                location,
                by: by.user.clone(),
            },
        );
    }

    /// Asks for leave.
    pub fn request_leave(&mut self, id: String, by: &Actor, new: &NewLeave) {
        self.leave.insert(
            id,
            LeaveRequest {
                leave_kind: new.kind,
                start_date: new.start.clone(),
                end_date: new.end.clone(),
                reason: new.reason.clone(),
                requested_at: by.at,
                asked_in_person: new.asked_in_person,
                certificate: None,
                certificate_ref: None,
                approvals: BTreeMap::new(),
                cancelled: None,
            },
        );
    }

    /// An approver answers a leave request; the chain's order is enforced.
    pub fn decide_leave(
        &mut self,
        id: &str,
        by: &Actor,
        role: Approver,
        decision: Decision,
        note: Option<String>,
    ) -> Result<(), DocError> {
        let l = self.leave.get_mut(id).ok_or_else(|| missing("leave request", id))?;
        let illegal = |why: &'static str| {
            DocError::IllegalStep(lifecycle::IllegalStep {
                from: "pending".into(),
                to: role.to_string(),
                why,
            })
        };
        match l.status() {
            LeaveStatus::Pending { next, .. } if next == role => {}
            LeaveStatus::Pending { .. } => return Err(illegal("it is another approver's turn")),
            _ => return Err(illegal("the request is already decided")),
        }
        l.approvals.insert(role.as_str().into(), Approval { decision, by: by.user.clone(), at: by.at, note });
        Ok(())
    }

    /// Attaches the medical certificate (a scan, or a paper reference number).
    pub fn attach_certificate(
        &mut self,
        id: &str,
        certificate: Option<crate::records::AttachmentRef>,
        reference: Option<String>,
    ) -> Result<(), DocError> {
        let l = self.leave.get_mut(id).ok_or_else(|| missing("leave request", id))?;
        if certificate.is_some() {
            l.certificate = certificate;
        }
        if reference.is_some() {
            l.certificate_ref = reference;
        }
        Ok(())
    }

    /// Withdraws a leave request.
    pub fn cancel_leave(&mut self, id: &str, by: &Actor) -> Result<(), DocError> {
        let l = self.leave.get_mut(id).ok_or_else(|| missing("leave request", id))?;
        l.cancelled = Some(by.mark());
        Ok(())
    }

    /// Asks a colleague for a shift swap.
    pub fn request_swap(&mut self, id: String, by: &Actor, new: &NewSwap) {
        self.swaps.insert(
            id,
            ShiftSwap {
                date: new.date.clone(),
                my_shift: new.my_shift,
                with_staff: new.with_staff.clone(),
                their_date: new.their_date.clone(),
                their_shift: new.their_shift,
                requested_at: by.at,
                colleague_agreed: None,
                manager: None,
            },
        );
    }

    /// The colleague agrees.
    pub fn agree_swap(&mut self, id: &str, by: &Actor) -> Result<(), DocError> {
        let s = self.swaps.get_mut(id).ok_or_else(|| missing("shift swap", id))?;
        s.colleague_agreed = Some(by.mark());
        Ok(())
    }

    /// The manager answers a swap.
    pub fn decide_swap(
        &mut self,
        id: &str,
        by: &Actor,
        decision: Decision,
        note: Option<String>,
    ) -> Result<(), DocError> {
        let s = self.swaps.get_mut(id).ok_or_else(|| missing("shift swap", id))?;
        if s.status() != SwapStatus::AwaitingManager {
            return Err(DocError::IllegalStep(lifecycle::IllegalStep {
                from: format!("{:?}", s.status()),
                to: decision.to_string(),
                why: "the manager answers after both staff agreed, once",
            }));
        }
        s.manager = Some(Approval { decision, by: by.user.clone(), at: by.at, note });
        Ok(())
    }

    /// Marks a day absent.
    pub fn mark_absent(&mut self, by: &Actor, date: &str, note: Option<String>) {
        self.absences.insert(date.to_string(), StepMark { note, ..by.mark() });
    }

    /// Records overtime.
    pub fn add_overtime(&mut self, id: String, by: &Actor, date: &str, minutes: i64, note: Option<String>) {
        self.overtime.insert(id, Overtime { date: date.into(), minutes, note, by: by.user.clone() });
    }

    /// Writes a handover note.
    pub fn add_handover(&mut self, id: String, by: &Actor, date: &str, shift: Shift, note: &str) {
        self.handovers.insert(
            id,
            Handover { date: date.into(), shift, note: note.into(), at: by.at, by: by.user.clone() },
        );
    }
}

impl AppearanceCheck {
    /// Puts a photo on one item of a person's recorded check.
    pub fn attach_item_photo(
        &mut self,
        staff: &str,
        code: &str,
        photo: crate::records::AttachmentRef,
    ) -> Result<(), DocError> {
        let check = self.checks.get_mut(staff).ok_or_else(|| missing("appearance check of", staff))?;
        let item = check.items.get_mut(code).ok_or_else(|| missing("checklist item", code))?;
        item.photo = Some(photo);
        Ok(())
    }

    /// Records one person's check against the sheet's template (set from `template` if the
    /// sheet has none yet); items not listed are recorded as passed.
    pub fn record(
        &mut self,
        by: &Actor,
        staff: &str,
        template: &SheetTemplate,
        mut results: BTreeMap<String, ItemResult>,
    ) -> Result<(), DocError> {
        let tpl = self.template.get_or_insert_with(|| template.clone());
        for code in results.keys() {
            if !tpl.items.contains_key(code) {
                return Err(DocError::NotFound(format!("checklist item {code}")));
            }
        }
        for code in tpl.items.keys() {
            results.entry(code.clone()).or_insert(ItemResult {
                result: CheckResult::Pass,
                note: None,
                photo: None,
            });
        }
        // Recording a person again keeps the photos already on their items.
        if let Some(prev) = self.checks.get(staff) {
            for (code, r) in results.iter_mut() {
                if r.photo.is_none() {
                    r.photo = prev.items.get(code).and_then(|p| p.photo.clone());
                }
            }
        }
        self.checks.insert(
            staff.to_string(),
            StaffCheck { items: results, checked_at: by.at, checked_by: by.user.clone() },
        );
        Ok(())
    }
}
