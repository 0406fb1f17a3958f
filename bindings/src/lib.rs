//! The Kefu phone core for Kotlin (Android), Swift (iOS) and Python, through uniffi.
//!
//! A thin layer: every exported method is one call into `kefu-store` or `kefu-sync` plus
//! conversions; the rules live in the core. The app holds one [`Kefu`] per store file.
//!
//! - Methods that touch the store or the network are `async` (`suspend` in Kotlin, `async` in
//!   Swift and Python). Their work runs on the library's one background runtime — SQLite on
//!   its blocking pool — never on the caller's thread.
//! - Background sync ([`Kefu::start_sync`]) runs as a task on that same runtime and reports
//!   [`SyncState`]s to a [`SyncListener`] from a runtime thread; the returned [`SyncHandle`]
//!   pushes now or stops it.
//! - Errors are the few kinds of [`KefuError`] an app can act on. A panic in the core becomes
//!   `KefuError::Other`; the library is never built with `panic = "abort"`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use kefu_model::enums::*;
use kefu_model::lifecycle::{CallbackStep, ComplaintStep, VisitStep};
use kefu_model::records::appearance::ItemResult;
use kefu_model::records::customer::CustomerFile;
use kefu_model::DocumentId;
use kefu_store::{Client, NewCustomer};
use kefu_sync::SharedStore;

mod error;
mod types;

pub use error::KefuError;
pub use types::*;

uniffi::setup_scaffolding!();

/// The library's one background runtime: sync tasks, and the blocking pool where store work
/// of async calls runs.
fn runtime() -> Result<&'static tokio::runtime::Runtime, KefuError> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .thread_name("kefu")
        .enable_all()
        .build()
        .map_err(|e| KefuError::other(format!("cannot start the background runtime: {e}")))?;
    // Another thread may have won the race; its runtime is used and this one dropped here
    // (not on a runtime thread, so dropping it is allowed).
    Ok(RUNTIME.get_or_init(|| rt))
}

fn parse_id(id: &str) -> Result<DocumentId, KefuError> {
    id.parse().map_err(|_| KefuError::invalid("doc_id", format!("{id:?} is not a record id")))
}

/// Receives the background sync's status. Called from a library thread: hand it to the UI
/// thread before touching views.
#[uniffi::export(callback_interface)]
pub trait SyncListener: Send + Sync {
    /// The sync's new status.
    fn on_status(&self, state: SyncState);
    /// The attachment upload queue moved: a chunk confirmed, an upload finished or refused.
    fn on_upload(&self, progress: UploadProgress);
}

/// The running background sync.
#[derive(Debug, uniffi::Object)]
pub struct SyncHandle {
    inner: Mutex<Option<kefu_sync::SyncHandle>>,
}

#[uniffi::export]
impl SyncHandle {
    /// Push local changes now (the server's list is re-read on connecting and every minute;
    /// offline, retries connecting at once). Returns at once.
    pub fn sync_now(&self) {
        if let Some(h) = self.inner.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            h.sync_now();
        }
    }

    /// Stops syncing and waits (briefly) for the sync task to end; the listener then hears
    /// `Stopped`. Calling it again does nothing.
    pub fn stop(&self) {
        let handle = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            h.stop();
        }
    }

    /// Whether sync is still running (not stopped).
    pub fn is_running(&self) -> bool {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

/// One value of every closed set the records use, with Chinese labels, for pickers. `kind` is
/// one of `source_channel`, `intent_level`, `purchase_stage`, `order_status`,
/// `contact_channel`, `callback_outcome`, `visit_reason`, `severity`, `complaint_category`,
/// `shift`, `clock_kind`, `leave_kind`, `approver`, `decision`, `check_result`, `visit_step`,
/// `callback_step`, `complaint_step`, `role`.
#[uniffi::export]
pub fn choices(kind: String) -> Result<Vec<Choice>, KefuError> {
    macro_rules! list {
        ($t:ty) => {
            <$t>::ALL.iter().map(|v| Choice { code: v.as_str().into(), label: v.label_zh().into() }).collect()
        };
    }
    Ok(match kind.as_str() {
        "source_channel" => list!(SourceChannel),
        "intent_level" => list!(IntentLevel),
        "purchase_stage" => list!(PurchaseStage),
        "order_status" => list!(OrderStatus),
        "contact_channel" => list!(ContactChannel),
        "callback_outcome" => list!(CallbackOutcome),
        "visit_reason" => list!(VisitReason),
        "severity" => list!(Severity),
        "complaint_category" => list!(ComplaintCategory),
        "shift" => list!(Shift),
        "clock_kind" => list!(ClockKind),
        "leave_kind" => list!(LeaveKind),
        "approver" => list!(Approver),
        "decision" => list!(Decision),
        "check_result" => list!(CheckResult),
        "visit_step" => list!(VisitStep),
        "callback_step" => list!(CallbackStep),
        "complaint_step" => list!(ComplaintStep),
        "role" => list!(Role),
        other => return Err(KefuError::invalid("kind", format!("{other:?} is not a list of choices"))),
    })
}

/// The version of the library (the workspace version).
#[uniffi::export]
pub fn library_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// A phone's Kefu: its store (one SQLite file) and its sync with the server.
#[derive(uniffi::Object)]
pub struct Kefu {
    store: SharedStore,
}

impl std::fmt::Debug for Kefu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kefu").finish_non_exhaustive()
    }
}

impl Kefu {
    /// Runs `f` with the store on the runtime's blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, KefuError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Client) -> Result<T, KefuError> + Send + 'static,
    {
        let store = self.store.clone();
        runtime()?
            .spawn_blocking(move || {
                let mut client = store.lock().unwrap_or_else(|p| p.into_inner());
                f(&mut client)
            })
            .await
            .map_err(|e| KefuError::other(format!("the store call failed: {e}")))?
    }

    /// Runs a verb on one record.
    async fn on_record<T, F>(&self, doc: String, f: F) -> Result<T, KefuError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Client, &DocumentId) -> Result<T, kefu_store::StoreError> + Send + 'static,
    {
        let id = parse_id(&doc)?;
        self.run(move |c| Ok(f(c, &id)?)).await
    }
}

#[uniffi::export]
impl Kefu {
    /// Opens (or creates) the store at `path`. A file that is not a Kefu store is left
    /// untouched and reported as `Storage`. Does disk work: call it off the UI thread.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Self>, KefuError> {
        let client = Client::open(Path::new(&path))?;
        Ok(Arc::new(Kefu { store: Arc::new(Mutex::new(client)) }))
    }

    // ---- session ---------------------------------------------------------------------------

    /// Signs in to the server at `server` (e.g. `http://192.168.1.10:8080`), registers this
    /// phone as a device and keeps the session in the store.
    pub async fn sign_in(
        &self,
        server: String,
        username: String,
        password: String,
        device_name: String,
    ) -> Result<SessionInfo, KefuError> {
        self.run(move |c| Ok(kefu_sync::login(c, &server, &username, &password, &device_name)?.into())).await
    }

    /// The saved session, if signed in.
    pub async fn session(&self) -> Result<Option<SessionInfo>, KefuError> {
        self.run(|c| Ok(kefu_sync::session(c)?.map(Into::into))).await
    }

    /// Forgets the session. The records and unsynced changes stay.
    pub async fn sign_out(&self) -> Result<(), KefuError> {
        self.run(|c| Ok(kefu_sync::logout(c)?)).await
    }

    /// Today's date on this phone (China time), YYYY-MM-DD.
    pub async fn today(&self) -> Result<String, KefuError> {
        self.run(|c| Ok(c.today())).await
    }

    // ---- customers -------------------------------------------------------------------------

    /// Creates a customer file in the user's team; returns its id.
    pub async fn create_customer(
        &self,
        profile: Profile,
        classification: Option<Classification>,
    ) -> Result<String, KefuError> {
        let new = NewCustomer {
            profile: profile.into_core()?,
            classification: classification.map(Classification::into_core).transpose()?,
        };
        self.run(move |c| Ok(c.create_customer(new)?.to_string())).await
    }

    /// Replaces a customer's profile.
    pub async fn update_profile(&self, doc_id: String, profile: Profile) -> Result<(), KefuError> {
        let p = profile.into_core()?;
        self.on_record(doc_id, move |c, id| c.update_profile(id, p)).await
    }

    /// Replaces a customer's classification.
    pub async fn update_classification(
        &self,
        doc_id: String,
        classification: Classification,
    ) -> Result<(), KefuError> {
        let cl = classification.into_core()?;
        self.on_record(doc_id, move |c, id| c.update_classification(id, cl)).await
    }

    /// Assigns the agent and/or field staff (supervisors).
    pub async fn assign_customer(
        &self,
        doc_id: String,
        agent: Option<String>,
        field_staff: Option<String>,
    ) -> Result<(), KefuError> {
        self.on_record(doc_id, move |c, id| c.assign_customer(id, agent, field_staff)).await
    }

    /// Adds an order; returns its id.
    pub async fn add_order(&self, doc_id: String, order: Order) -> Result<String, KefuError> {
        let o = order.into_core()?;
        self.on_record(doc_id, move |c, id| c.add_order(id, o)).await
    }

    /// Logs a consultation (咨询记录); returns its id.
    pub async fn log_contact(
        &self,
        doc_id: String,
        channel: String,
        summary: String,
    ) -> Result<String, KefuError> {
        let ch: ContactChannel = parse("channel", &channel)?;
        self.on_record(doc_id, move |c, id| c.log_contact(id, ch, &summary)).await
    }

    /// The whole customer file.
    pub async fn customer(&self, doc_id: String) -> Result<CustomerFileView, KefuError> {
        self.on_record(doc_id, |c, id| Ok(CustomerFileView::new(id.to_string(), c.read::<CustomerFile>(id)?)))
            .await
    }

    /// Any record as JSON (the document schema of `docs/schema.md`), for screens the typed
    /// views do not cover.
    pub async fn record_json(&self, doc_id: String) -> Result<String, KefuError> {
        let id = parse_id(&doc_id)?;
        self.run(move |c| {
            let json = c.record_json(&id)?;
            Ok(json.to_string())
        })
        .await
    }

    // ---- callbacks -------------------------------------------------------------------------

    /// Schedules a callback; returns its id.
    pub async fn schedule_callback(
        &self,
        doc_id: String,
        callback: NewCallback,
    ) -> Result<String, KefuError> {
        let new = callback.into_core()?;
        self.on_record(doc_id, move |c, id| c.schedule_callback(id, &new)).await
    }

    /// Records a callback attempt and its outcome (回访结果).
    pub async fn record_callback(
        &self,
        doc_id: String,
        callback_id: String,
        result: CallbackResult,
    ) -> Result<(), KefuError> {
        let r = result.into_core()?;
        self.on_record(doc_id, move |c, id| c.record_callback(id, &callback_id, &r)).await
    }

    /// Cancels a callback.
    pub async fn cancel_callback(
        &self,
        doc_id: String,
        callback_id: String,
        reason: String,
    ) -> Result<(), KefuError> {
        self.on_record(doc_id, move |c, id| c.cancel_callback(id, &callback_id, &reason)).await
    }

    // ---- visits ----------------------------------------------------------------------------

    /// Dispatches a field visit; returns its id.
    pub async fn dispatch_visit(&self, doc_id: String, visit: NewVisit) -> Result<String, KefuError> {
        let v = visit.into_core()?;
        self.on_record(doc_id, move |c, id| c.dispatch_visit(id, &v)).await
    }

    /// Moves a visit on: `en_route`, `on_site` (arrived), `reviewed`, `cancelled`.
    pub async fn advance_visit(
        &self,
        doc_id: String,
        visit_id: String,
        to: String,
        note: Option<String>,
    ) -> Result<(), KefuError> {
        let step: VisitStep = parse("to", &to)?;
        self.on_record(doc_id, move |c, id| c.advance_visit(id, &visit_id, step, note)).await
    }

    /// Completes a visit with the work done, parts and the customer's rating.
    pub async fn complete_visit(
        &self,
        doc_id: String,
        visit_id: String,
        completion: VisitCompletion,
    ) -> Result<(), KefuError> {
        let done = completion.into_core();
        self.on_record(doc_id, move |c, id| c.complete_visit(id, &visit_id, &done)).await
    }

    // ---- complaints ------------------------------------------------------------------------

    /// Takes a complaint; returns its id.
    pub async fn take_complaint(&self, doc_id: String, complaint: NewComplaint) -> Result<String, KefuError> {
        let k = complaint.into_core()?;
        self.on_record(doc_id, move |c, id| c.take_complaint(id, &k)).await
    }

    /// Moves a complaint on: `forwarded` (text = department), `processing`, `resolved`
    /// (text = resolution), `confirmed`, `reopened` (text = why).
    pub async fn complaint_step(
        &self,
        doc_id: String,
        complaint_id: String,
        to: String,
        text: Option<String>,
    ) -> Result<(), KefuError> {
        let step: ComplaintStep = parse("to", &to)?;
        self.on_record(doc_id, move |c, id| c.complaint_step(id, &complaint_id, step, text)).await
    }

    // ---- appearance, attendance, roster ------------------------------------------------------

    /// Records a person's appearance check on today's sheet of the user's team; items not
    /// listed passed. Returns the sheet's id.
    pub async fn fill_appearance_check(
        &self,
        staff: String,
        items: Vec<CheckItem>,
    ) -> Result<String, KefuError> {
        let mut results = BTreeMap::new();
        for i in items {
            let result: CheckResult = parse("result", &i.result)?;
            results.insert(i.item, ItemResult { result, note: i.note, photo: None });
        }
        self.run(move |c| Ok(c.fill_appearance_check(&staff, results)?.to_string())).await
    }

    /// Clocks the user in or out now (`clock` is `in` or `out`); returns the attendance
    /// month's id.
    pub async fn clock(&self, clock: String, location: Option<String>) -> Result<String, KefuError> {
        let kind: ClockKind = parse("clock", &clock)?;
        self.run(move |c| Ok(c.clock(kind, location)?.to_string())).await
    }

    /// The user's attendance on a date.
    pub async fn my_day(&self, date: String) -> Result<Day, KefuError> {
        self.run(move |c| Ok(c.my_day(&date)?.into())).await
    }

    /// Asks for leave.
    pub async fn request_leave(&self, leave: NewLeave) -> Result<Filed, KefuError> {
        let new = leave.into_core()?;
        self.run(move |c| {
            let (doc, id) = c.request_leave(&new)?;
            Ok(Filed { doc_id: doc.to_string(), id })
        })
        .await
    }

    /// An approver answers a leave request (`role`: `choices("approver")`, `decision`:
    /// `choices("decision")`).
    pub async fn decide_leave(
        &self,
        doc_id: String,
        leave_id: String,
        role: String,
        decision: String,
        note: Option<String>,
    ) -> Result<(), KefuError> {
        let role: Approver = parse("role", &role)?;
        let decision: Decision = parse("decision", &decision)?;
        self.on_record(doc_id, move |c, id| c.decide_leave(id, &leave_id, role, decision, note)).await
    }

    /// Attaches a medical certificate reference to a leave request.
    pub async fn attach_certificate_ref(
        &self,
        doc_id: String,
        leave_id: String,
        reference: String,
    ) -> Result<(), KefuError> {
        self.on_record(doc_id, move |c, id| c.attach_certificate_ref(id, &leave_id, &reference)).await
    }

    /// Asks a colleague to swap shifts.
    pub async fn request_swap(
        &self,
        date: String,
        with: String,
        their_date: String,
    ) -> Result<Filed, KefuError> {
        self.run(move |c| {
            let (doc, id) = c.request_swap(&date, &with, &their_date)?;
            Ok(Filed { doc_id: doc.to_string(), id })
        })
        .await
    }

    /// The colleague agrees to a swap.
    pub async fn agree_swap(&self, doc_id: String, swap_id: String) -> Result<(), KefuError> {
        self.on_record(doc_id, move |c, id| c.agree_swap(id, &swap_id)).await
    }

    /// The manager answers a swap.
    pub async fn decide_swap(
        &self,
        doc_id: String,
        swap_id: String,
        decision: String,
        note: Option<String>,
    ) -> Result<(), KefuError> {
        let decision: Decision = parse("decision", &decision)?;
        self.on_record(doc_id, move |c, id| c.decide_swap(id, &swap_id, decision, note)).await
    }

    /// Sets shifts on the team's roster for a month (supervisors); returns the roster's id.
    pub async fn set_shifts(
        &self,
        team: String,
        month: String,
        shifts: Vec<ShiftEntry>,
    ) -> Result<String, KefuError> {
        let mut entries = Vec::with_capacity(shifts.len());
        for s in shifts {
            let shift: Shift = parse("shift", &s.shift)?;
            entries.push((s.date, s.staff, shift));
        }
        self.run(move |c| {
            let roster = c.roster(&team, &month)?;
            c.set_shifts(&roster, &entries)?;
            Ok(roster.to_string())
        })
        .await
    }

    // ---- lists -----------------------------------------------------------------------------

    /// Customers whose name, phone, address or notes contain `query` (any fragment, two
    /// Chinese characters included); all by name when blank.
    pub async fn search_customers(&self, query: String, limit: u32) -> Result<Vec<CustomerRow>, KefuError> {
        self.run(move |c| {
            Ok(c.search_customers(&query, limit as usize)?.into_iter().map(Into::into).collect())
        })
        .await
    }

    /// Customers assigned to a user as agent or field staff.
    pub async fn customers_assigned_to(&self, user: String) -> Result<Vec<CustomerRow>, KefuError> {
        self.run(move |c| Ok(c.customers_assigned_to(&user)?.into_iter().map(Into::into).collect())).await
    }

    /// Customers assigned over seven days ago and never contacted since.
    pub async fn overdue_first_contacts(&self) -> Result<Vec<CustomerRow>, KefuError> {
        self.run(|c| Ok(c.overdue_first_contacts()?.into_iter().map(Into::into).collect())).await
    }

    /// Callbacks due by `until` (YYYY-MM-DD), of one agent or all.
    pub async fn due_callbacks(
        &self,
        agent: Option<String>,
        until: String,
    ) -> Result<Vec<CallbackRow>, KefuError> {
        self.run(move |c| {
            Ok(c.due_callbacks(agent.as_deref(), &until)?.into_iter().map(Into::into).collect())
        })
        .await
    }

    /// Open visits (dispatched, en route, on site), of one field staff member or all.
    pub async fn open_visits(&self, staff: Option<String>) -> Result<Vec<VisitRow>, KefuError> {
        self.run(move |c| Ok(c.open_visits(staff.as_deref())?.into_iter().map(Into::into).collect())).await
    }

    /// Open complaints, of one handler or all.
    pub async fn open_complaints(&self, handler: Option<String>) -> Result<Vec<ComplaintRow>, KefuError> {
        self.run(move |c| Ok(c.open_complaints(handler.as_deref())?.into_iter().map(Into::into).collect()))
            .await
    }

    /// A team's appearance sheet for a date, if any.
    pub async fn appearance_check_on(
        &self,
        team: String,
        date: String,
    ) -> Result<Option<CheckRow>, KefuError> {
        self.run(move |c| Ok(c.appearance_check_on(&team, &date)?.map(Into::into))).await
    }

    /// Attendance months of a month (YYYY-MM), of one person or all.
    pub async fn attendance_for_month(
        &self,
        month: String,
        staff: Option<String>,
    ) -> Result<Vec<AttendanceRow>, KefuError> {
        self.run(move |c| {
            Ok(c.attendance_for_month(&month, staff.as_deref())?.into_iter().map(Into::into).collect())
        })
        .await
    }

    // ---- sync state, conflicts, history ------------------------------------------------------

    /// Where a record's changes stand with the server, with the reason when refused.
    pub async fn record_status(&self, doc_id: String) -> Result<RecordStatus, KefuError> {
        let id = parse_id(&doc_id)?;
        self.run(move |c| Ok(c.sync_status(&id)?.into())).await
    }

    /// Changes made here that the server has not accepted yet, oldest first.
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, KefuError> {
        self.run(|c| Ok(c.outbox()?.into_iter().map(Into::into).collect())).await
    }

    /// Takes a record's refused changes (and what was built on them) out of it, so it goes on
    /// from the server's version; they are kept (see `set_aside`). Returns how many.
    pub async fn set_aside_rejected(&self, doc_id: String) -> Result<u32, KefuError> {
        let id = parse_id(&doc_id)?;
        self.run(move |c| Ok(c.set_aside_rejected(&id.to_string())? as u32)).await
    }

    /// Refused changes set aside, of one record or all, with the server's reasons.
    pub async fn set_aside(&self, doc_id: Option<String>) -> Result<Vec<SetAsideChange>, KefuError> {
        self.run(move |c| Ok(c.set_aside(doc_id.as_deref())?.into_iter().map(Into::into).collect())).await
    }

    /// Fields of a record with concurrent values, each with who wrote it.
    pub async fn conflicts(&self, doc_id: String) -> Result<Vec<ConflictInfo>, KefuError> {
        let id = parse_id(&doc_id)?;
        self.run(move |c| Ok(c.conflicts(&id)?.into_iter().map(Into::into).collect())).await
    }

    /// Settles a conflict by keeping one value (an ordinary change, synced like any other).
    pub async fn resolve_conflict(
        &self,
        doc_id: String,
        path: Vec<String>,
        value_id: String,
    ) -> Result<(), KefuError> {
        let id = parse_id(&doc_id)?;
        self.run(move |c| Ok(c.resolve_conflict(&id, &path, &value_id)?)).await
    }

    /// Who changed what and when; `prefix` narrows to a nested record (`["visits", id]`).
    pub async fn history(&self, doc_id: String, prefix: Vec<String>) -> Result<Vec<HistoryItem>, KefuError> {
        let id = parse_id(&doc_id)?;
        self.run(move |c| Ok(c.history(&id, &prefix)?.into_iter().map(Into::into).collect())).await
    }

    // ---- attachments -----------------------------------------------------------------------

    /// Adds a photo of the work to a visit, offline; it waits in the upload queue.
    /// `media_type` like `image/jpeg`.
    pub async fn attach_visit_photo(
        &self,
        doc_id: String,
        visit_id: String,
        source: AttachmentSource,
        media_type: String,
    ) -> Result<Attachment, KefuError> {
        let src = source.into_core();
        self.on_record(doc_id, move |c, id| c.attach_visit_photo(id, &visit_id, src, &media_type))
            .await
            .map(Into::into)
    }

    /// Sets the customer's signature (an image) on a visit, offline.
    pub async fn sign_visit(
        &self,
        doc_id: String,
        visit_id: String,
        source: AttachmentSource,
        media_type: String,
    ) -> Result<Attachment, KefuError> {
        let src = source.into_core();
        self.on_record(doc_id, move |c, id| c.sign_visit(id, &visit_id, src, &media_type))
            .await
            .map(Into::into)
    }

    /// Puts a photo on one item of a person's recorded appearance check (`sheet_id` as
    /// returned by `fill_appearance_check`).
    pub async fn attach_check_photo(
        &self,
        sheet_id: String,
        staff: String,
        item: String,
        source: AttachmentSource,
        media_type: String,
    ) -> Result<Attachment, KefuError> {
        let src = source.into_core();
        self.on_record(sheet_id, move |c, id| c.attach_check_photo(id, &staff, &item, src, &media_type))
            .await
            .map(Into::into)
    }

    /// Attaches a scan of the medical certificate to a leave request.
    pub async fn attach_certificate(
        &self,
        doc_id: String,
        leave_id: String,
        source: AttachmentSource,
        media_type: String,
    ) -> Result<Attachment, KefuError> {
        let src = source.into_core();
        self.on_record(doc_id, move |c, id| c.attach_certificate(id, &leave_id, src, &media_type))
            .await
            .map(Into::into)
    }

    /// The upload queue, oldest first: every attachment made here with its state
    /// (`waiting`, `uploading` with `percent`, `uploaded`, `failed` with `error`).
    pub async fn uploads(&self) -> Result<Vec<UploadInfo>, KefuError> {
        self.run(|c| Ok(c.uploads()?.into_iter().map(Into::into).collect())).await
    }

    /// Puts a failed upload back in the queue.
    pub async fn retry_upload(&self, sha256: String) -> Result<(), KefuError> {
        self.run(move |c| Ok(c.retry_upload(&sha256)?)).await
    }

    /// The bytes of an attachment held on this phone, or null when it is not here (use
    /// `download_attachment`).
    pub async fn attachment_bytes(&self, sha256: String) -> Result<Option<Vec<u8>>, KefuError> {
        self.run(move |c| Ok(c.attachment_bytes(&sha256)?)).await
    }

    /// The bytes of an attachment: from this phone when held, else downloaded from the server
    /// (resuming a partial download) and kept. Fails with `Network` when offline.
    pub async fn download_attachment(&self, sha256: String) -> Result<Vec<u8>, KefuError> {
        let store = self.store.clone();
        runtime()?
            .spawn_blocking(move || {
                let session = {
                    let c = store.lock().unwrap_or_else(|p| p.into_inner());
                    kefu_sync::session(&c)?.ok_or(kefu_sync::SyncError::Unauthorized)?
                };
                kefu_sync::download(&store, &session, &sha256, &mut |_, _| true)
            })
            .await
            .map_err(|e| KefuError::other(format!("the download task failed: {e}")))?
            .map_err(Into::into)
    }

    // ---- sync ------------------------------------------------------------------------------

    /// One sync round now: pushes local changes, receives the server's, and returns what it
    /// did. Fails with `Network` when the server cannot be reached (nothing is lost).
    pub async fn sync_once(&self) -> Result<SyncReport, KefuError> {
        let store = self.store.clone();
        runtime()?
            .spawn(async move { kefu_sync::sync_once(store, Arc::new(|_| {})).await })
            .await
            .map_err(|e| KefuError::other(format!("the sync task failed: {e}")))?
            .map(Into::into)
            .map_err(Into::into)
    }

    /// Starts background sync: connects, stays connected for live changes, reconnects with
    /// backoff. `listener` hears every status from a library thread.
    pub fn start_sync(&self, listener: Box<dyn SyncListener>) -> Result<Arc<SyncHandle>, KefuError> {
        let rt = runtime()?;
        let listener: Arc<dyn SyncListener> = Arc::from(listener);
        let handle = kefu_sync::start_on(
            rt.handle(),
            self.store.clone(),
            Arc::new(move |s: kefu_sync::Status| match sync_state(s) {
                Ok(state) => listener.on_status(state),
                Err(progress) => listener.on_upload(progress),
            }),
        );
        Ok(Arc::new(SyncHandle { inner: Mutex::new(Some(handle)) }))
    }
}
