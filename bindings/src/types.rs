//! The records that cross the boundary, and their conversions from and to the core's types.
//!
//! Closed sets of values (channel, outcome, reason, …) cross as the strings stored in the
//! documents (`"phone"`, `"satisfied"`); [`crate::choices`] lists each set with its Chinese
//! label for pickers, and an unknown string is an `InvalidInput` naming the field.

use std::fmt::Display;
use std::str::FromStr;

use kefu_model::document::{Conflict, HistoryEntry};
use kefu_model::records::attendance::DaySummary;
use kefu_model::records::customer::CustomerFile;
use kefu_model::records::AttachmentRef;
use kefu_model::{records, verbs};
use kefu_store::client as store;

use crate::error::KefuError;

/// Parses a stored string of a closed set, naming the field when it is not one of them.
pub(crate) fn parse<T>(field: &str, value: &str) -> Result<T, KefuError>
where
    T: FromStr,
    T::Err: Display,
{
    value.parse().map_err(|e: T::Err| KefuError::invalid(field, e.to_string()))
}

// ---- session -------------------------------------------------------------------------------

/// The signed-in user of this phone.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionInfo {
    /// Server base URL.
    pub server: String,
    /// User id.
    pub user_id: String,
    /// Device id the server gave this phone.
    pub device_id: String,
    /// `field`, `agent`, `supervisor` or `admin`.
    pub role: String,
    /// Team.
    pub team: Option<String>,
    /// Name shown in the UI.
    pub display_name: String,
    /// When the sign-in expires, Unix ms.
    pub expires_at: i64,
}

impl From<kefu_sync::Session> for SessionInfo {
    fn from(s: kefu_sync::Session) -> Self {
        SessionInfo {
            server: s.server,
            user_id: s.user_id,
            device_id: s.device_id,
            role: s.role,
            team: s.team,
            display_name: s.display_name,
            expires_at: s.expires_at,
        }
    }
}

/// One value of a closed set, for a picker.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Choice {
    /// The value to pass back (`"phone"`).
    pub code: String,
    /// The Chinese label to show (`"电话"`).
    pub label: String,
}

// ---- customer file -------------------------------------------------------------------------

/// Who the customer is (客户基本信息).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Profile {
    /// Name.
    pub name: String,
    /// Phone numbers.
    pub phones: Vec<String>,
    /// Email.
    pub email: Option<String>,
    /// WeChat id.
    pub wechat: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// District.
    pub district: Option<String>,
    /// Where the customer came from (`choices("source_channel")`).
    pub source: String,
}

impl Profile {
    pub(crate) fn into_core(self) -> Result<records::customer::Profile, KefuError> {
        Ok(records::customer::Profile {
            name: self.name,
            phones: self.phones,
            email: self.email,
            wechat: self.wechat,
            address: self.address,
            district: self.district,
            source: parse("source", &self.source)?,
        })
    }

    fn from_core(p: records::customer::Profile) -> Self {
        Profile {
            name: p.name,
            phones: p.phones,
            email: p.email,
            wechat: p.wechat,
            address: p.address,
            district: p.district,
            source: p.source.to_string(),
        }
    }
}

/// How the department sees the customer (客户分类).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Classification {
    /// Product category.
    pub category: Option<String>,
    /// Intent (`choices("intent_level")`).
    pub intent: String,
    /// Purchase stage (`choices("purchase_stage")`).
    pub stage: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Notes.
    pub notes: Option<String>,
}

impl Classification {
    pub(crate) fn into_core(self) -> Result<records::customer::Classification, KefuError> {
        Ok(records::customer::Classification {
            category: self.category,
            intent: parse("intent", &self.intent)?,
            stage: parse("stage", &self.stage)?,
            tags: self.tags,
            notes: self.notes,
        })
    }

    fn from_core(c: records::customer::Classification) -> Self {
        Classification {
            category: c.category,
            intent: c.intent.to_string(),
            stage: c.stage.to_string(),
            tags: c.tags,
            notes: c.notes,
        }
    }
}

/// An order (订单).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Order {
    /// Order number.
    pub number: String,
    /// What was bought.
    pub item: String,
    /// Amount in fen (分).
    pub amount_fen: i64,
    /// Date ordered, YYYY-MM-DD.
    pub ordered_on: String,
    /// Date completed.
    pub completed_on: Option<String>,
    /// `choices("order_status")`.
    pub status: String,
}

impl Order {
    pub(crate) fn into_core(self) -> Result<records::customer::Order, KefuError> {
        Ok(records::customer::Order {
            number: self.number,
            item: self.item,
            amount_fen: self.amount_fen,
            ordered_on: self.ordered_on,
            completed_on: self.completed_on,
            status: parse("status", &self.status)?,
        })
    }

    fn from_core(o: records::customer::Order) -> Self {
        Order {
            number: o.number,
            item: o.item,
            amount_fen: o.amount_fen,
            ordered_on: o.ordered_on,
            completed_on: o.completed_on,
            status: o.status.to_string(),
        }
    }
}

/// A callback to schedule (回访).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewCallback {
    /// Agent who will call.
    pub agent: String,
    /// Due date, YYYY-MM-DD.
    pub date: String,
    /// How (`choices("contact_channel")`).
    pub method: String,
    /// Campaign document id, when part of one.
    pub campaign: Option<String>,
    /// The visit it follows up, when any.
    pub visit: Option<String>,
}

impl NewCallback {
    pub(crate) fn into_core(self) -> Result<verbs::NewCallback, KefuError> {
        Ok(verbs::NewCallback {
            agent: self.agent,
            date: self.date,
            method: parse("method", &self.method)?,
            campaign: self.campaign,
            visit: self.visit,
        })
    }
}

/// What a callback attempt found (回访结果).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CallbackResult {
    /// How the customer was reached (`choices("contact_channel")`).
    pub method: String,
    /// Outcome (`choices("callback_outcome")`).
    pub outcome: String,
    /// Satisfaction 1–5, when the customer was reached.
    pub satisfaction: Option<i64>,
    /// The customer's evaluation.
    pub evaluation: Option<String>,
    /// The customer's suggestions.
    pub suggestions: Option<String>,
    /// An issue the customer raised.
    pub issue: Option<String>,
    /// Follow up on this date, YYYY-MM-DD.
    pub follow_up_on: Option<String>,
    /// Note.
    pub note: Option<String>,
}

impl CallbackResult {
    pub(crate) fn into_core(self) -> Result<verbs::CallbackResult, KefuError> {
        Ok(verbs::CallbackResult {
            method: parse("method", &self.method)?,
            outcome: parse("outcome", &self.outcome)?,
            satisfaction: self.satisfaction,
            evaluation: self.evaluation,
            suggestions: self.suggestions,
            issue: self.issue,
            follow_up_on: self.follow_up_on,
            note: self.note,
        })
    }
}

/// A field visit to dispatch (售后上门).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewVisit {
    /// Work order number.
    pub work_order: String,
    /// Why (`choices("visit_reason")`).
    pub reason: String,
    /// Field staff user id.
    pub staff: String,
    /// Agreed window start, Unix ms.
    pub window_start: i64,
    /// Agreed window end, Unix ms.
    pub window_end: i64,
}

impl NewVisit {
    pub(crate) fn into_core(self) -> Result<verbs::NewVisit, KefuError> {
        Ok(verbs::NewVisit {
            work_order: self.work_order,
            reason: parse("reason", &self.reason)?,
            staff: self.staff,
            window_start: self.window_start,
            window_end: self.window_end,
        })
    }
}

/// A part used on a visit.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PartUsed {
    /// Part name or number.
    pub part: String,
    /// How many.
    pub quantity: i64,
}

/// How a visit ended (完工).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitCompletion {
    /// The work done.
    pub work_done: String,
    /// Parts used.
    pub parts: Vec<PartUsed>,
    /// The customer's rating 1–5.
    pub rating: Option<i64>,
    /// Follow up on this date, YYYY-MM-DD.
    pub follow_up_on: Option<String>,
}

impl VisitCompletion {
    pub(crate) fn into_core(self) -> verbs::VisitCompletion {
        verbs::VisitCompletion {
            work_done: self.work_done,
            parts: self.parts.into_iter().map(|p| (p.part, p.quantity)).collect(),
            rating: self.rating,
            follow_up_on: self.follow_up_on,
        }
    }
}

/// A complaint to take (投诉).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewComplaint {
    /// How it came in (`choices("contact_channel")`).
    pub channel: String,
    /// What the customer said.
    pub content: String,
    /// `choices("complaint_category")`.
    pub category: String,
    /// `choices("severity")`.
    pub severity: String,
    /// Who handles it (user id).
    pub handler: String,
}

impl NewComplaint {
    pub(crate) fn into_core(self) -> Result<verbs::NewComplaint, KefuError> {
        Ok(verbs::NewComplaint {
            channel: parse("channel", &self.channel)?,
            content: self.content,
            category: parse("category", &self.category)?,
            severity: parse("severity", &self.severity)?,
            handler: self.handler,
        })
    }
}

// ---- attendance ----------------------------------------------------------------------------

/// A leave request (请假).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewLeave {
    /// `choices("leave_kind")`.
    pub kind: String,
    /// First day, YYYY-MM-DD.
    pub start: String,
    /// Last day, YYYY-MM-DD.
    pub end: String,
    /// Why.
    pub reason: String,
    /// Asked in person (required by policy for some kinds).
    pub asked_in_person: bool,
}

impl NewLeave {
    pub(crate) fn into_core(self) -> Result<verbs::NewLeave, KefuError> {
        Ok(verbs::NewLeave {
            kind: parse("kind", &self.kind)?,
            start: self.start,
            end: self.end,
            reason: self.reason,
            asked_in_person: self.asked_in_person,
        })
    }
}

/// Where a leave request or swap was filed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Filed {
    /// The attendance document.
    pub doc_id: String,
    /// The request's id in it.
    pub id: String,
}

/// One shift on a roster.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ShiftEntry {
    /// Date, YYYY-MM-DD.
    pub date: String,
    /// Staff user id.
    pub staff: String,
    /// `choices("shift")`.
    pub shift: String,
}

/// One item of an appearance check that did not simply pass (items not listed passed).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CheckItem {
    /// Item id of the template.
    pub item: String,
    /// `choices("check_result")`.
    pub result: String,
    /// What was wrong.
    pub note: Option<String>,
}

/// A person's attendance on one day, derived from the clock events and the roster.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Day {
    /// Date.
    pub date: String,
    /// Rostered shift.
    pub shift: Option<String>,
    /// Clock-in, Unix ms.
    pub clock_in: Option<i64>,
    /// Clock-out, Unix ms.
    pub clock_out: Option<i64>,
    /// Minutes late.
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

impl From<DaySummary> for Day {
    fn from(d: DaySummary) -> Self {
        Day {
            date: d.date,
            shift: d.shift.map(|s| s.to_string()),
            clock_in: d.clock_in,
            clock_out: d.clock_out,
            late_minutes: d.late_minutes,
            early_leave_minutes: d.early_leave_minutes,
            absent: d.absent,
            on_leave: d.on_leave,
            overtime_minutes: d.overtime_minutes,
        }
    }
}

// ---- lists ---------------------------------------------------------------------------------

/// A customer in a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CustomerRow {
    /// Document id.
    pub doc_id: String,
    /// Name.
    pub name: String,
    /// Phones, space separated.
    pub phones: String,
    /// District.
    pub district: Option<String>,
    /// Purchase stage.
    pub stage: String,
    /// Agent.
    pub agent: Option<String>,
    /// Field staff.
    pub field_staff: Option<String>,
}

impl From<store::CustomerRow> for CustomerRow {
    fn from(r: store::CustomerRow) -> Self {
        CustomerRow {
            doc_id: r.doc_id,
            name: r.name,
            phones: r.phones,
            district: r.district,
            stage: r.stage,
            agent: r.agent,
            field_staff: r.field_staff,
        }
    }
}

/// A callback in a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CallbackRow {
    /// Customer document id.
    pub doc_id: String,
    /// Callback id.
    pub callback_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Agent.
    pub agent: String,
    /// Due date.
    pub scheduled_for: String,
    /// Status.
    pub status: String,
}

impl From<store::CallbackRow> for CallbackRow {
    fn from(r: store::CallbackRow) -> Self {
        CallbackRow {
            doc_id: r.doc_id,
            callback_id: r.callback_id,
            customer_name: r.customer_name,
            agent: r.agent,
            scheduled_for: r.scheduled_for,
            status: r.status,
        }
    }
}

/// A visit in a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitRow {
    /// Customer document id.
    pub doc_id: String,
    /// Visit id.
    pub visit_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Field staff.
    pub staff: String,
    /// Status.
    pub status: String,
    /// Work order.
    pub work_order: String,
    /// Window start, Unix ms.
    pub window_start: i64,
    /// Window end, Unix ms.
    pub window_end: i64,
}

impl From<store::VisitRow> for VisitRow {
    fn from(r: store::VisitRow) -> Self {
        VisitRow {
            doc_id: r.doc_id,
            visit_id: r.visit_id,
            customer_name: r.customer_name,
            staff: r.staff,
            status: r.status,
            work_order: r.work_order,
            window_start: r.window_start,
            window_end: r.window_end,
        }
    }
}

/// A complaint in a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ComplaintRow {
    /// Customer document id.
    pub doc_id: String,
    /// Complaint id.
    pub complaint_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Handler.
    pub handler: String,
    /// Status.
    pub status: String,
    /// Times reopened.
    pub round: i64,
    /// Severity.
    pub severity: String,
    /// Unix ms.
    pub received_at: i64,
}

impl From<store::ComplaintRow> for ComplaintRow {
    fn from(r: store::ComplaintRow) -> Self {
        ComplaintRow {
            doc_id: r.doc_id,
            complaint_id: r.complaint_id,
            customer_name: r.customer_name,
            handler: r.handler,
            status: r.status,
            round: r.round,
            severity: r.severity,
            received_at: r.received_at,
        }
    }
}

/// A team's appearance sheet for a day.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CheckRow {
    /// Document id.
    pub doc_id: String,
    /// Date.
    pub date: String,
    /// People checked.
    pub checked: i64,
    /// People who passed every item.
    pub passed: i64,
}

impl From<store::CheckRow> for CheckRow {
    fn from(r: store::CheckRow) -> Self {
        CheckRow { doc_id: r.doc_id, date: r.date, checked: r.checked, passed: r.passed }
    }
}

/// An attendance month in a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttendanceRow {
    /// Document id.
    pub doc_id: String,
    /// Staff user id.
    pub staff: String,
    /// Month.
    pub month: String,
}

impl From<store::AttendanceRow> for AttendanceRow {
    fn from(r: store::AttendanceRow) -> Self {
        AttendanceRow { doc_id: r.doc_id, staff: r.staff, month: r.month }
    }
}

// ---- the customer file in full ----------------------------------------------------------------

/// A photo or signature attached to a record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Attachment {
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Media type.
    pub media_type: String,
    /// Who attached it.
    pub attached_by: String,
    /// Device time, Unix ms.
    pub attached_at: i64,
}

impl From<AttachmentRef> for Attachment {
    fn from(a: AttachmentRef) -> Self {
        Attachment {
            sha256: a.sha256,
            size: a.size,
            media_type: a.media_type,
            attached_by: a.attached_by,
            attached_at: a.attached_at,
        }
    }
}

/// An order with its id.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OrderInfo {
    /// Order id within the file.
    pub id: String,
    /// The order.
    pub order: Order,
}

/// A logged consultation (咨询记录).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContactInfo {
    /// Id.
    pub id: String,
    /// Unix ms.
    pub at: i64,
    /// Channel.
    pub channel: String,
    /// Summary.
    pub summary: String,
    /// User id.
    pub by: String,
}

/// A callback with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CallbackInfo {
    /// Id.
    pub id: String,
    /// Due date.
    pub scheduled_for: String,
    /// Agent.
    pub agent: String,
    /// Method.
    pub method: String,
    /// Status (`scheduled`, `attempting`, `done`, `cancelled`).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// Outcome of the last attempt.
    pub outcome: Option<String>,
    /// Satisfaction 1–5.
    pub satisfaction: Option<i64>,
    /// Campaign document id.
    pub campaign: Option<String>,
    /// The visit it follows up.
    pub visit: Option<String>,
}

/// A field visit with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitInfo {
    /// Id.
    pub id: String,
    /// Work order.
    pub work_order: String,
    /// Reason.
    pub reason: String,
    /// Field staff.
    pub staff: String,
    /// Window start, Unix ms.
    pub window_start: i64,
    /// Window end, Unix ms.
    pub window_end: i64,
    /// Status (`dispatched`, `en_route`, `on_site`, `completed`, `reviewed`, `cancelled`).
    pub status: String,
    /// Work done.
    pub work_done: Option<String>,
    /// Parts used.
    pub parts: Vec<PartUsed>,
    /// The customer's rating.
    pub rating: Option<i64>,
    /// Photos.
    pub photos: Vec<Attachment>,
    /// The customer's signature.
    pub signature: Option<Attachment>,
}

/// A complaint with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ComplaintInfo {
    /// Id.
    pub id: String,
    /// Unix ms.
    pub received_at: i64,
    /// Channel.
    pub channel: String,
    /// What the customer said.
    pub content: String,
    /// Category.
    pub category: String,
    /// Severity.
    pub severity: String,
    /// Department it was forwarded to.
    pub department: Option<String>,
    /// Handler.
    pub handler: String,
    /// Status (`received`, `forwarded`, `resolved`, `confirmed`, `reopened`).
    pub status: String,
    /// Times reopened.
    pub round: u32,
    /// How it was resolved.
    pub resolution: Option<String>,
}

/// A customer file (客户档案) as the phone holds it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CustomerFileView {
    /// Document id.
    pub doc_id: String,
    /// Team.
    pub team: String,
    /// Profile.
    pub profile: Profile,
    /// Classification.
    pub classification: Classification,
    /// Agent.
    pub agent: Option<String>,
    /// Field staff.
    pub field_staff: Option<String>,
    /// Orders.
    pub orders: Vec<OrderInfo>,
    /// Consultations.
    pub contacts: Vec<ContactInfo>,
    /// Callbacks.
    pub callbacks: Vec<CallbackInfo>,
    /// Visits.
    pub visits: Vec<VisitInfo>,
    /// Complaints.
    pub complaints: Vec<ComplaintInfo>,
    /// Unix ms.
    pub created_at: i64,
    /// User id.
    pub created_by: String,
}

impl CustomerFileView {
    pub(crate) fn new(doc_id: String, c: CustomerFile) -> Self {
        let status_text = |s: Option<String>| s.unwrap_or_else(|| "new".into());
        CustomerFileView {
            doc_id,
            team: c.team,
            profile: Profile::from_core(c.profile),
            classification: Classification::from_core(c.classification),
            agent: c.assignment.agent,
            field_staff: c.assignment.field_staff,
            orders: c
                .orders
                .into_iter()
                .map(|(id, o)| OrderInfo { id, order: Order::from_core(o) })
                .collect(),
            contacts: c
                .contacts
                .into_iter()
                .map(|(id, k)| ContactInfo {
                    id,
                    at: k.at,
                    channel: k.channel.to_string(),
                    summary: k.summary,
                    by: k.by,
                })
                .collect(),
            callbacks: c
                .callbacks
                .into_iter()
                .map(|(id, cb)| CallbackInfo {
                    status: status_text(cb.status().map(|s| s.to_string())),
                    id,
                    scheduled_for: cb.scheduled_for,
                    agent: cb.agent,
                    method: cb.method.to_string(),
                    attempts: cb.attempts.len() as u32,
                    outcome: cb.outcome.map(|o| o.to_string()),
                    satisfaction: cb.satisfaction,
                    campaign: cb.campaign,
                    visit: cb.visit,
                })
                .collect(),
            visits: c
                .visits
                .into_iter()
                .map(|(id, v)| VisitInfo {
                    status: status_text(v.status().map(|s| s.to_string())),
                    id,
                    work_order: v.work_order,
                    reason: v.reason.to_string(),
                    staff: v.staff,
                    window_start: v.window_start,
                    window_end: v.window_end,
                    work_done: v.work_done,
                    parts: v
                        .parts
                        .into_values()
                        .map(|p| PartUsed { part: p.part, quantity: p.quantity })
                        .collect(),
                    rating: v.rating,
                    photos: v.photos.into_values().map(Attachment::from).collect(),
                    signature: v.signature.map(Attachment::from),
                })
                .collect(),
            complaints: c
                .complaints
                .into_iter()
                .map(|(id, k)| {
                    let status = k.status();
                    ComplaintInfo {
                        id,
                        received_at: k.received_at,
                        channel: k.channel.to_string(),
                        content: k.content,
                        category: k.category.to_string(),
                        severity: k.severity.to_string(),
                        department: k.department,
                        handler: k.handler,
                        status: status_text(status.as_ref().map(|s| s.step.to_string())),
                        round: status.map_or(0, |s| s.round),
                        resolution: k.resolution,
                    }
                })
                .collect(),
            created_at: c.created_at,
            created_by: c.created_by,
        }
    }
}

// ---- sync state of records -----------------------------------------------------------------

/// Where a record's changes stand with the server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum RecordStatus {
    /// Edited here, not yet sent.
    Local,
    /// Sent, not yet confirmed.
    Sent,
    /// Every change confirmed by the server (or received from it).
    Accepted,
    /// The server refused a change; `reason` says why.
    Rejected {
        /// The server's reason.
        reason: String,
    },
}

impl From<store::SyncStatus> for RecordStatus {
    fn from(s: store::SyncStatus) -> Self {
        match s {
            store::SyncStatus::Local => RecordStatus::Local,
            store::SyncStatus::Sent => RecordStatus::Sent,
            store::SyncStatus::Accepted => RecordStatus::Accepted,
            store::SyncStatus::Rejected { reason } => RecordStatus::Rejected { reason },
        }
    }
}

/// A change made here that the server has not accepted yet.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OutboxEntry {
    /// Change hash.
    pub hash: String,
    /// Document.
    pub doc_id: String,
    /// `local` (not sent yet) or `sent`.
    pub status: String,
    /// Unix ms.
    pub created_at: i64,
}

impl From<store::OutboxEntry> for OutboxEntry {
    fn from(e: store::OutboxEntry) -> Self {
        OutboxEntry { hash: e.hash, doc_id: e.doc_id, status: e.status, created_at: e.created_at }
    }
}

/// A refused change, set aside (kept, never deleted) so the record goes on from the server's
/// version.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SetAsideChange {
    /// Change hash.
    pub hash: String,
    /// Document.
    pub doc_id: String,
    /// The server's reason.
    pub reason: Option<String>,
    /// When it was set aside, Unix ms.
    pub at: i64,
}

impl From<store::SetAside> for SetAsideChange {
    fn from(s: store::SetAside) -> Self {
        SetAsideChange { hash: s.hash, doc_id: s.doc_id, reason: s.reason, at: s.at }
    }
}

// ---- conflicts and history -----------------------------------------------------------------

/// One of the concurrent values of a field.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictValue {
    /// Pass to `resolve_conflict` to keep this value.
    pub value_id: String,
    /// The value as JSON.
    pub value_json: String,
    /// Who wrote it (user id), when known.
    pub user: Option<String>,
    /// From which device.
    pub device: Option<String>,
    /// Device time of the change, Unix ms.
    pub time: i64,
}

/// A field with concurrent values (two people changed it at once).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictInfo {
    /// Path of the field in the record.
    pub path: Vec<String>,
    /// Every value, each with who wrote it.
    pub values: Vec<ConflictValue>,
}

impl From<Conflict> for ConflictInfo {
    fn from(c: Conflict) -> Self {
        ConflictInfo {
            path: c.path,
            values: c
                .values
                .into_iter()
                .map(|v| ConflictValue {
                    value_id: v.value_id,
                    value_json: v.value.to_string(),
                    user: v.author.as_ref().map(|a| a.user.clone()),
                    device: v.author.map(|a| a.device),
                    time: v.time,
                })
                .collect(),
        }
    }
}

/// One changed field of a change.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldChange {
    /// Path of the field.
    pub path: Vec<String>,
    /// Old value as JSON, absent when the field was new.
    pub old_json: Option<String>,
    /// New value as JSON, absent when the field was removed.
    pub new_json: Option<String>,
}

/// One change in a record's history: who, when, which fields.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryItem {
    /// Change hash (a version to read the record at).
    pub hash: String,
    /// User id, when known.
    pub user: Option<String>,
    /// Device id, when known.
    pub device: Option<String>,
    /// Device time, Unix ms.
    pub time: i64,
    /// The fields it changed.
    pub fields: Vec<FieldChange>,
}

impl From<HistoryEntry> for HistoryItem {
    fn from(h: HistoryEntry) -> Self {
        HistoryItem {
            hash: h.hash,
            user: h.author.as_ref().map(|a| a.user.clone()),
            device: h.author.map(|a| a.device),
            time: h.time,
            fields: h
                .fields
                .into_iter()
                .map(|f| FieldChange {
                    path: f.path,
                    old_json: f.old.map(|v| v.to_string()),
                    new_json: f.new.map(|v| v.to_string()),
                })
                .collect(),
        }
    }
}

// ---- sync ----------------------------------------------------------------------------------

/// Where the background sync stands (given to a [`crate::SyncListener`]).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncState {
    /// Reaching the server.
    Connecting,
    /// Exchanging records: `done` of `total`.
    Syncing {
        /// Records finished.
        done: u32,
        /// Records to exchange.
        total: u32,
    },
    /// Connected and up to date; changes are pushed as they are made. Also said each time a
    /// change pushed from another device has been taken in, so screens can refresh.
    Idle,
    /// Offline or failed; the next attempt is in `retry_in_ms`.
    Error {
        /// What went wrong.
        message: String,
        /// Milliseconds to the next attempt.
        retry_in_ms: u64,
    },
    /// The server refused the sign-in: sign in again. Sync waits.
    Unauthorized,
    /// Stopped.
    Stopped,
}

/// The record sync's state, or the upload queue's progress (told to the listener apart).
pub(crate) fn sync_state(s: kefu_sync::Status) -> Result<SyncState, UploadProgress> {
    use kefu_sync::Status;
    Ok(match s {
        Status::Connecting => SyncState::Connecting,
        Status::Syncing { done, total } => SyncState::Syncing { done: done as u32, total: total as u32 },
        Status::Idle => SyncState::Idle,
        Status::Error { message, retry_in_ms } => SyncState::Error { message, retry_in_ms },
        Status::Unauthorized => SyncState::Unauthorized,
        Status::Stopped => SyncState::Stopped,
        Status::Upload(p) => {
            return Err(UploadProgress {
                percent: percent(p.sent, p.size, p.state),
                sha256: p.sha256,
                label: p.label,
                sent: p.sent,
                size: p.size,
                state: p.state.as_str().into(),
                error: p.error,
                remaining: p.remaining as u32,
            })
        }
    })
}

fn percent(sent: u64, size: u64, state: kefu_store::UploadState) -> u8 {
    match state {
        kefu_store::UploadState::Uploaded => 100,
        _ if size == 0 => 0,
        _ => ((sent.min(size) * 100) / size) as u8,
    }
}

// ---- attachments ---------------------------------------------------------------------------

/// Where the bytes of a new attachment come from.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum AttachmentSource {
    /// Bytes in memory (a camera frame, a drawn signature).
    Bytes {
        /// The bytes.
        data: Vec<u8>,
    },
    /// A file on the device, read in pieces (never whole in memory).
    File {
        /// Its path.
        path: String,
    },
}

impl AttachmentSource {
    pub(crate) fn into_core(self) -> kefu_store::AttachmentSource {
        match self {
            AttachmentSource::Bytes { data } => kefu_store::AttachmentSource::Bytes(data),
            AttachmentSource::File { path } => kefu_store::AttachmentSource::File(path.into()),
        }
    }
}

/// One entry of the upload queue.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadInfo {
    /// The attachment's SHA-256.
    pub sha256: String,
    /// What it is (`visit photo`, `signature`, `check photo`, `certificate`).
    pub label: String,
    /// The record it was attached to.
    pub doc_id: String,
    /// Media type.
    pub media_type: String,
    /// Size, bytes.
    pub size: u64,
    /// Bytes the server confirmed.
    pub sent: u64,
    /// Percent confirmed, 0–100.
    pub percent: u8,
    /// `waiting`, `uploading`, `uploaded` or `failed`.
    pub state: String,
    /// The server's reason when failed; the last network error while it waits.
    pub error: Option<String>,
    /// When attached, Unix ms.
    pub queued_at: i64,
    /// Last progress, Unix ms.
    pub updated_at: i64,
}

impl From<kefu_store::Upload> for UploadInfo {
    fn from(u: kefu_store::Upload) -> Self {
        UploadInfo {
            percent: u.percent(),
            sha256: u.sha256,
            label: u.label,
            doc_id: u.doc_id,
            media_type: u.media_type,
            size: u.size,
            sent: u.sent,
            state: u.state.as_str().into(),
            error: u.error,
            queued_at: u.queued_at,
            updated_at: u.updated_at,
        }
    }
}

/// Progress of the upload queue, told to a [`crate::SyncListener`].
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadProgress {
    /// The attachment.
    pub sha256: String,
    /// What it is.
    pub label: String,
    /// Bytes the server confirmed.
    pub sent: u64,
    /// Size, bytes.
    pub size: u64,
    /// Percent confirmed, 0–100.
    pub percent: u8,
    /// `uploading`, `uploaded` or `failed`.
    pub state: String,
    /// The server's reason when failed.
    pub error: Option<String>,
    /// Entries still waiting after this one.
    pub remaining: u32,
}

/// What one sync round did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Records the server lists for this user.
    pub manifest: u32,
    /// Records exchanged.
    pub exchanged: u32,
    /// Changes made here that the server accepted.
    pub accepted: u32,
    /// Changes made here that the server refused (see `record_status`).
    pub rejected: u32,
    /// Records that received changes from the server.
    pub received: u32,
    /// Local copies removed (no longer this user's, nothing unsettled).
    pub removed: u32,
    /// Attachments now complete on the server.
    pub uploaded: u32,
    /// Attachments the server refused (see `uploads`).
    pub upload_failed: u32,
    /// Attachments still waiting.
    pub uploads_pending: u32,
    /// Why the uploads stopped early (offline), when they did; the records synced anyway.
    pub upload_error: Option<String>,
}

impl From<kefu_sync::Report> for SyncReport {
    fn from(r: kefu_sync::Report) -> Self {
        SyncReport {
            manifest: r.manifest as u32,
            exchanged: r.exchanged as u32,
            accepted: r.accepted as u32,
            rejected: r.rejected as u32,
            received: r.received as u32,
            removed: r.removed as u32,
            uploaded: r.uploads.uploaded as u32,
            upload_failed: r.uploads.failed as u32,
            uploads_pending: r.uploads.pending as u32,
            upload_error: r.upload_error,
        }
    }
}
