//! The customer file (客户档案): one document per customer, holding everything the department
//! knows and did for them: profile, classification, assignment, orders, consultations
//! (咨询记录), callbacks (回访记录), field visits (售后上门) and complaints (投诉).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{check_header, fixed, kept, AttachmentRef, Record};
use crate::enums::*;
use crate::lifecycle::{self, Steps};
use crate::validate::{plausible_phone, rec, Problems};

/// A customer file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerFile {
    /// Always `customer`.
    pub kind: DocKind,
    /// Schema version, currently 1.
    pub schema_version: i64,
    /// The team (客服组) that owns this customer; decides who may see it.
    pub team: String,
    /// Identity and contact details.
    pub profile: Profile,
    /// Needs, intent, stage, tags.
    pub classification: Classification,
    /// Responsible agent and field staff.
    pub assignment: Assignment,
    /// Orders and projects by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub orders: BTreeMap<String, Order>,
    /// Consultation log (咨询记录) by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub contacts: BTreeMap<String, Contact>,
    /// Callbacks (回访) by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub callbacks: BTreeMap<String, Callback>,
    /// Field visits (售后上门) by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub visits: BTreeMap<String, Visit>,
    /// Complaints (投诉) by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub complaints: BTreeMap<String, Complaint>,
    /// Device time of creation, Unix ms.
    pub created_at: i64,
    /// User id of the creator.
    pub created_by: String,
}

/// Identity and contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Full name.
    pub name: String,
    /// Phone numbers, most used first.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub phones: Vec<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// WeChat id.
    #[serde(default)]
    pub wechat: Option<String>,
    /// Street address.
    #[serde(default)]
    pub address: Option<String>,
    /// District (区).
    #[serde(default)]
    pub district: Option<String>,
    /// Where the customer came from.
    pub source: SourceChannel,
}

/// Classification (seed 001 §七).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Needs or product category.
    #[serde(default)]
    pub category: Option<String>,
    /// 意向程度.
    pub intent: IntentLevel,
    /// 购买阶段.
    pub stage: PurchaseStage,
    /// Free tags.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub tags: Vec<String>,
    /// Free notes.
    #[serde(default)]
    pub notes: Option<String>,
}

impl Default for Classification {
    fn default() -> Self {
        Classification {
            category: None,
            intent: IntentLevel::Unknown,
            stage: PurchaseStage::Lead,
            tags: Vec::new(),
            notes: None,
        }
    }
}

/// Who is responsible (seed 004 客户资料管理).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Assignment {
    /// Responsible callback agent's user id.
    #[serde(default)]
    pub agent: Option<String>,
    /// Responsible field staff's user id.
    #[serde(default)]
    pub field_staff: Option<String>,
    /// When the agent was (last) assigned, Unix ms; the one-week first-contact clock starts here.
    #[serde(default)]
    pub assigned_at: Option<i64>,
    /// Who assigned.
    #[serde(default)]
    pub assigned_by: Option<String>,
}

/// An order or project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Order or contract number.
    pub number: String,
    /// What was bought or contracted.
    pub item: String,
    /// Amount in fen (1/100 yuan).
    pub amount_fen: i64,
    /// Date ordered, YYYY-MM-DD.
    pub ordered_on: String,
    /// Date delivered or completed, YYYY-MM-DD.
    #[serde(default)]
    pub completed_on: Option<String>,
    /// State.
    pub status: OrderStatus,
}

/// One consultation (咨询记录).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Device time, Unix ms.
    pub at: i64,
    /// Channel.
    pub channel: ContactChannel,
    /// What was said.
    pub summary: String,
    /// User id.
    pub by: String,
}

/// One attempt to reach the customer for a callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackAttempt {
    /// Device time, Unix ms.
    pub at: i64,
    /// How.
    pub method: ContactChannel,
    /// What came of it.
    pub outcome: CallbackOutcome,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
    /// User id.
    pub by: String,
}

/// A callback (回访记录表, seed 004 回访流程).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Callback {
    /// Date it is due, YYYY-MM-DD.
    pub scheduled_for: String,
    /// The campaign document id it belongs to, if any.
    #[serde(default)]
    pub campaign: Option<String>,
    /// The agent's user id.
    pub agent: String,
    /// Planned method.
    pub method: ContactChannel,
    /// Steps reached (scheduled, attempting, done, cancelled); see `crate::lifecycle`.
    pub steps: Steps,
    /// Attempts by id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub attempts: BTreeMap<String, CallbackAttempt>,
    /// Final outcome (set when done).
    #[serde(default)]
    pub outcome: Option<CallbackOutcome>,
    /// Satisfaction 1–5.
    #[serde(default)]
    pub satisfaction: Option<i64>,
    /// The customer's evaluation of the company.
    #[serde(default)]
    pub evaluation: Option<String>,
    /// The customer's suggestions.
    #[serde(default)]
    pub suggestions: Option<String>,
    /// Issue the customer raised.
    #[serde(default)]
    pub issue: Option<String>,
    /// Follow-up date, YYYY-MM-DD.
    #[serde(default)]
    pub follow_up_on: Option<String>,
    /// The visit this callback follows up, if any.
    #[serde(default)]
    pub visit: Option<String>,
}

impl Callback {
    /// Derived status.
    pub fn status(&self) -> Option<lifecycle::CallbackStep> {
        lifecycle::callback_status(&self.steps)
    }
}

/// A part used on a visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartUsed {
    /// Part name or number.
    pub part: String,
    /// Quantity.
    pub quantity: i64,
}

/// A field visit (售后上门, seed 001 §二(三)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// Work-order number (工单号).
    pub work_order: String,
    /// Why.
    pub reason: VisitReason,
    /// Field staff user id.
    pub staff: String,
    /// Promised arrival window start, Unix ms.
    pub window_start: i64,
    /// Promised arrival window end, Unix ms.
    pub window_end: i64,
    /// Steps reached; see `crate::lifecycle`.
    pub steps: Steps,
    /// Work done.
    #[serde(default)]
    pub work_done: Option<String>,
    /// Parts used, by part line id.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub parts: BTreeMap<String, PartUsed>,
    /// Photos by SHA-256.
    #[serde(default, deserialize_with = "crate::records::nullable")]
    pub photos: BTreeMap<String, AttachmentRef>,
    /// The customer's signature.
    #[serde(default)]
    pub signature: Option<AttachmentRef>,
    /// The customer's rating 1–5.
    #[serde(default)]
    pub rating: Option<i64>,
    /// Date a follow-up callback is due, YYYY-MM-DD.
    #[serde(default)]
    pub follow_up_on: Option<String>,
}

impl Visit {
    /// Derived status.
    pub fn status(&self) -> Option<lifecycle::VisitStep> {
        lifecycle::visit_status(&self.steps)
    }
}

/// A complaint (投诉, seed 001 §三(二)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Complaint {
    /// When received, device time Unix ms.
    pub received_at: i64,
    /// Channel.
    pub channel: ContactChannel,
    /// What the customer said.
    pub content: String,
    /// Category.
    pub category: ComplaintCategory,
    /// Severity.
    pub severity: Severity,
    /// Responsible department.
    #[serde(default)]
    pub department: Option<String>,
    /// Handler's user id.
    pub handler: String,
    /// Steps reached, keyed `<round>.<step>`; see `crate::lifecycle`.
    pub steps: Steps,
    /// How it was resolved.
    #[serde(default)]
    pub resolution: Option<String>,
    /// Whether an apology was made.
    #[serde(default)]
    pub apology_made: Option<bool>,
    /// Analysis and improvement note.
    #[serde(default)]
    pub analysis: Option<String>,
}

impl Complaint {
    /// Derived status.
    pub fn status(&self) -> Option<lifecycle::ComplaintStatus> {
        lifecycle::complaint_status(&self.steps)
    }
}

fn opt_text(p: &mut Problems, r: &str, f: &str, v: &Option<String>, max: usize) {
    if let Some(v) = v {
        p.max_len(r, f, v, max);
    }
}

fn check_steps(p: &mut Problems, r: &str, steps: &Steps, problems: Vec<String>) {
    for (key, mark) in steps {
        p.time(r, &format!("steps.{key}.at"), mark.at);
        if mark.by.trim().is_empty() {
            p.push(r, &format!("steps.{key}.by"), "is required");
        }
    }
    for why in problems {
        p.push(r, "steps", why);
    }
}

impl Record for CustomerFile {
    const KIND: DocKind = DocKind::Customer;

    fn transition_problems(&self, before: &Self) -> Problems {
        self.transition(before)
    }

    fn problems(&self) -> Problems {
        let mut p = Problems::default();
        check_header(&mut p, Self::KIND, self.kind, self.schema_version);
        let c = "customer";
        p.text(c, "team", &self.team, 64);
        p.text(c, "profile.name", &self.profile.name, 100);
        for (i, phone) in self.profile.phones.iter().enumerate() {
            if !plausible_phone(phone) {
                p.push(c, &format!("profile.phones[{i}]"), format!("{phone:?} is not a phone number"));
            }
        }
        if let Some(e) = &self.profile.email {
            if !e.contains('@') || e.len() > 254 {
                p.push(c, "profile.email", format!("{e:?} is not an e-mail address"));
            }
        }
        opt_text(&mut p, c, "profile.wechat", &self.profile.wechat, 64);
        opt_text(&mut p, c, "profile.address", &self.profile.address, 300);
        opt_text(&mut p, c, "profile.district", &self.profile.district, 64);
        opt_text(&mut p, c, "classification.category", &self.classification.category, 100);
        opt_text(&mut p, c, "classification.notes", &self.classification.notes, 5000);
        for (i, t) in self.classification.tags.iter().enumerate() {
            p.text(c, &format!("classification.tags[{i}]"), t, 32);
        }
        let a = &self.assignment;
        if (a.agent.is_some() || a.field_staff.is_some()) && a.assigned_at.is_none() {
            p.push(c, "assignment.assigned_at", "is required when someone is assigned");
        }
        if let Some(t) = a.assigned_at {
            p.time(c, "assignment.assigned_at", t);
        }
        p.time(c, "created_at", self.created_at);
        p.text(c, "created_by", &self.created_by, 64);

        for (id, o) in &self.orders {
            let r = rec("order", id);
            p.text(&r, "number", &o.number, 64);
            p.text(&r, "item", &o.item, 200);
            if o.amount_fen < 0 {
                p.push(&r, "amount_fen", "cannot be negative");
            }
            let ordered = p.date(&r, "ordered_on", &o.ordered_on);
            if let Some(done) = &o.completed_on {
                if let (Some(a), Some(b)) = (ordered, p.date(&r, "completed_on", done)) {
                    if b < a {
                        p.push(&r, "completed_on", "cannot be before ordered_on");
                    }
                }
            }
        }
        for (id, x) in &self.contacts {
            let r = rec("contact", id);
            p.time(&r, "at", x.at);
            p.text(&r, "summary", &x.summary, 2000);
            p.text(&r, "by", &x.by, 64);
        }
        for (id, cb) in &self.callbacks {
            let r = rec("callback", id);
            p.date(&r, "scheduled_for", &cb.scheduled_for);
            p.text(&r, "agent", &cb.agent, 64);
            check_steps(&mut p, &r, &cb.steps, lifecycle::callback_steps_problems(&cb.steps));
            if let Some(s) = cb.satisfaction {
                p.rating(&r, "satisfaction", s);
            }
            if cb.status() == Some(lifecycle::CallbackStep::Done) && cb.outcome.is_none() {
                p.push(&r, "outcome", "is required when the callback is done");
            }
            if let Some(f) = &cb.follow_up_on {
                p.date(&r, "follow_up_on", f);
            }
            opt_text(&mut p, &r, "evaluation", &cb.evaluation, 2000);
            opt_text(&mut p, &r, "suggestions", &cb.suggestions, 2000);
            opt_text(&mut p, &r, "issue", &cb.issue, 2000);
            if let Some(v) = &cb.visit {
                if !self.visits.contains_key(v) {
                    p.push(&r, "visit", "names a visit this customer does not have");
                }
            }
            for (aid, at) in &cb.attempts {
                let ar = format!("{r} attempt {aid}");
                p.time(&ar, "at", at.at);
                p.text(&ar, "by", &at.by, 64);
                opt_text(&mut p, &ar, "note", &at.note, 2000);
            }
        }
        for (id, v) in &self.visits {
            let r = rec("visit", id);
            p.text(&r, "work_order", &v.work_order, 64);
            p.text(&r, "staff", &v.staff, 64);
            p.time(&r, "window_start", v.window_start);
            p.time(&r, "window_end", v.window_end);
            if v.window_end < v.window_start {
                p.push(&r, "window_end", "the arrival window ends before it starts");
            }
            check_steps(&mut p, &r, &v.steps, lifecycle::visit_steps_problems(&v.steps));
            if let (Some(a), Some(b)) = (v.steps.get("on_site"), v.steps.get("completed")) {
                if a.by == b.by && b.at < a.at {
                    p.push(&r, "steps.completed.at", "completed before arriving on site");
                }
            }
            if matches!(v.status(), Some(lifecycle::VisitStep::Completed | lifecycle::VisitStep::Reviewed))
                && v.work_done.as_deref().is_none_or(|w| w.trim().is_empty())
            {
                p.push(&r, "work_done", "is required when the visit is completed");
            }
            opt_text(&mut p, &r, "work_done", &v.work_done, 5000);
            if let Some(x) = v.rating {
                p.rating(&r, "rating", x);
            }
            for (pid, part) in &v.parts {
                p.text(&r, &format!("parts.{pid}.part"), &part.part, 100);
                if part.quantity <= 0 {
                    p.push(&r, &format!("parts.{pid}.quantity"), "must be at least 1");
                }
            }
            for (hash, photo) in &v.photos {
                photo.check(&mut p, &r, &format!("photos.{hash}"));
                if *hash != photo.sha256 {
                    p.push(&r, &format!("photos.{hash}"), "key must equal the photo's sha256");
                }
            }
            if let Some(s) = &v.signature {
                s.check(&mut p, &r, "signature");
            }
            if let Some(f) = &v.follow_up_on {
                p.date(&r, "follow_up_on", f);
            }
        }
        for (id, x) in &self.complaints {
            let r = rec("complaint", id);
            p.time(&r, "received_at", x.received_at);
            p.text(&r, "content", &x.content, 5000);
            p.text(&r, "handler", &x.handler, 64);
            opt_text(&mut p, &r, "department", &x.department, 64);
            check_steps(&mut p, &r, &x.steps, lifecycle::complaint_steps_problems(&x.steps));
            if let Some(s) = x.status() {
                if !s.is_open() && x.resolution.as_deref().is_none_or(|t| t.trim().is_empty()) {
                    p.push(&r, "resolution", "is required once the complaint is resolved");
                }
            }
            opt_text(&mut p, &r, "resolution", &x.resolution, 5000);
            opt_text(&mut p, &r, "analysis", &x.analysis, 5000);
        }
        p
    }
}

impl CustomerFile {
    fn transition(&self, before: &Self) -> Problems {
        let mut p = Problems::default();
        let c = "customer";
        fixed(&mut p, c, "created_at", &before.created_at, &self.created_at);
        fixed(&mut p, c, "created_by", &before.created_by, &self.created_by);
        kept(&mut p, c, "orders", &before.orders, &self.orders);
        kept(&mut p, c, "contacts", &before.contacts, &self.contacts);
        kept(&mut p, c, "callbacks", &before.callbacks, &self.callbacks);
        kept(&mut p, c, "visits", &before.visits, &self.visits);
        kept(&mut p, c, "complaints", &before.complaints, &self.complaints);
        for (id, b) in &before.callbacks {
            if let Some(a) = self.callbacks.get(id) {
                let r = rec("callback", id);
                kept(&mut p, &r, "steps", &b.steps, &a.steps);
                kept(&mut p, &r, "attempts", &b.attempts, &a.attempts);
            }
        }
        for (id, b) in &before.visits {
            if let Some(a) = self.visits.get(id) {
                let r = rec("visit", id);
                kept(&mut p, &r, "steps", &b.steps, &a.steps);
                kept(&mut p, &r, "photos", &b.photos, &a.photos);
                fixed(&mut p, &r, "work_order", &b.work_order, &a.work_order);
            }
        }
        for (id, b) in &before.complaints {
            if let Some(a) = self.complaints.get(id) {
                let r = rec("complaint", id);
                kept(&mut p, &r, "steps", &b.steps, &a.steps);
                fixed(&mut p, &r, "received_at", &b.received_at, &a.received_at);
            }
        }
        p
    }

    /// A new, empty customer file.
    pub fn new(team: &str, profile: Profile, created_by: &str, now: i64) -> Self {
        CustomerFile {
            kind: DocKind::Customer,
            schema_version: super::SCHEMA_VERSION,
            team: team.to_string(),
            profile,
            classification: Classification::default(),
            assignment: Assignment::default(),
            orders: BTreeMap::new(),
            contacts: BTreeMap::new(),
            callbacks: BTreeMap::new(),
            visits: BTreeMap::new(),
            complaints: BTreeMap::new(),
            created_at: now,
            created_by: created_by.to_string(),
        }
    }

    /// Time of the first consultation or callback attempt after the current assignment, if any.
    pub fn first_contact_after_assignment(&self) -> Option<i64> {
        let since = self.assignment.assigned_at?;
        let contacts = self.contacts.values().map(|c| c.at);
        let attempts = self.callbacks.values().flat_map(|cb| cb.attempts.values().map(|a| a.at));
        contacts.chain(attempts).filter(|t| *t >= since).min()
    }
}
