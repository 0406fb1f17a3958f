//! `kefu-server demo`: a realistic department to try Kefu with.
//!
//! [`seed_if_empty`] fills a server database that has no users with one team (一组): a
//! supervisor, three callback agents, three field staff and an admin, about 300 customer files
//! with orders, consultations, callbacks, visits and complaints in every lifecycle state, the
//! team's appearance template with the last 20 days of checks, a month of attendance for each
//! staff member (clock events, a late arrival, leave, overtime, a shift swap) and the roster.
//!
//! Everything is built the way the apps build it — `KefuDoc::create`/`genesis` and the domain
//! verbs of `kefu-model`, one change per action by the person who took it, at the device time
//! it happened — and goes into the database only through [`crate::accept::accept`], batched per
//! day as a phone that syncs once a day would send it. So the demo data passes exactly the
//! validation real clients face: a refusal is a bug in this module and fails the seeding,
//! naming the record.
//!
//! The content is deterministic (a fixed-seed xorshift generator, no crate) and relative to
//! `now_ms`: callbacks are due today or overdue, visits are under way today, leave is pending.
//! Only user ids, document ids and actor ids are random. Times are China time (UTC+8).
//!
//! Speed (about 4 s in release): a second thread builds the documents while the calling thread,
//! which holds the database, accepts the finished ones; and seeding writes with
//! `synchronous=NORMAL`, restoring `FULL` (with a checkpoint that makes everything durable)
//! before returning — one fsync per accepted batch would make it slow, and a crash half-way only
//! loses demo data.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kefu_model::automerge::{ActorId, Change};
use kefu_model::dates::{Date, CHINA_UTC_OFFSET_MIN};
use kefu_model::enums::{
    Approver, CallbackOutcome, CheckResult, ClockKind, ComplaintCategory, ContactChannel, Decision, DocKind,
    IntentLevel, LeaveKind, OrderStatus, PurchaseStage, Role, Severity, Shift, SourceChannel, VisitReason,
};
use kefu_model::ids::{record_id, DocumentId};
use kefu_model::lifecycle::{ComplaintStep, StepMark, VisitStep};
use kefu_model::records::appearance::{
    default_template_items, AppearanceCheck, AppearanceTemplate, ItemResult, SheetTemplate, TemplateVersion,
};
use kefu_model::records::attendance::AttendanceMonth;
use kefu_model::records::campaign::{Campaign, Criteria, Target};
use kefu_model::records::customer::{Classification, CustomerFile, Order, Profile};
use kefu_model::records::roster::Roster;
use kefu_model::records::{Record, SCHEMA_VERSION};
use kefu_model::verbs::{
    Actor, CallbackResult, NewCallback, NewComplaint, NewLeave, NewSwap, NewVisit, VisitCompletion,
};
use kefu_model::{Author, DocError, KefuDoc};
use rusqlite::Connection;

use crate::accept::{accept, Outcome};
use crate::auth::{self, NewUser, Principal};
use crate::db::Db;
use crate::error::ServerError;

/// The password of every demo account. It is published here and printed by `demo`: the
/// accounts are for trying Kefu only.
pub const DEMO_PASSWORD: &str = "kefu-demo-1";

/// The demo team (客服组) every staff member and record belongs to.
pub const DEMO_TEAM: &str = "一组";

/// How many customer files the demo has.
pub const DEMO_CUSTOMERS: usize = 300;

const SEED: u64 = 0x4b65_6675_2026_0001;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// One demo account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    /// Sign-in name.
    pub username: String,
    /// Password ([`DEMO_PASSWORD`]).
    pub password: String,
    /// Role.
    pub role: Role,
    /// Team, none for the admin.
    pub team: Option<String>,
    /// Name shown in the UI.
    pub display_name: String,
    /// User id, as records name the person.
    pub user_id: String,
}

/// What [`seed_if_empty`] created.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemoSummary {
    /// The accounts, supervisor first.
    pub logins: Vec<DemoLogin>,
    /// Documents created, by kind.
    pub documents: BTreeMap<DocKind, usize>,
    /// Nested records created, by name (`orders`, `callbacks`, `clock_events`, …).
    pub records: BTreeMap<&'static str, usize>,
    /// Automerge changes accepted.
    pub changes: usize,
    /// Wall-clock time the seeding took, password hashing included.
    pub elapsed: Duration,
}

impl DemoSummary {
    /// One line saying what was created, e.g. for the `demo` command's output.
    pub fn describe(&self) -> String {
        let docs = |k: DocKind| self.documents.get(&k).copied().unwrap_or(0);
        let recs = |k: &str| self.records.get(k).copied().unwrap_or(0);
        format!(
            "{} users; {} customer files ({} orders, {} consultations, {} callbacks, {} visits, {} complaints); \
             {} attendance months ({} clock events, {} leave requests); {} rosters; 1 appearance template and {} \
             daily sheets ({} checks); {} campaign; {} conflict and {} refused change to review; {} changes",
            self.logins.len(),
            docs(DocKind::Customer),
            recs("orders"),
            recs("contacts"),
            recs("callbacks"),
            recs("visits"),
            recs("complaints"),
            docs(DocKind::Attendance),
            recs("clock_events"),
            recs("leave"),
            docs(DocKind::Roster),
            docs(DocKind::AppearanceCheck),
            recs("appearance_checks"),
            docs(DocKind::Campaign),
            recs("conflicts"),
            recs("rejected changes"),
            self.changes,
        )
    }
}

/// Seeds the demo department if the database has no users; `Ok(None)` (and nothing written)
/// when it has any. `now_ms` anchors every date: pass the current time.
pub fn seed_if_empty(db: &Db, now_ms: i64) -> Result<Option<DemoSummary>, ServerError> {
    let started = Instant::now();
    let conn = db.lock();
    let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
    if users > 0 {
        return Ok(None);
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let seeded = seed(&conn, now_ms);
    // Back to the server's setting whatever happened; the checkpoint syncs what was written.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    // Users exist now, so a second run would not seed again: say what to do.
    let mut summary = seeded.map_err(|e| {
        ServerError::Internal(format!(
            "{e} (the data directory now holds a partial demo: remove it and try again)"
        ))
    })?;
    summary.elapsed = started.elapsed();
    Ok(Some(summary))
}

fn seed(conn: &Connection, now_ms: i64) -> Result<DemoSummary, ServerError> {
    let mut people = Vec::new();
    let mut logins = Vec::new();
    for (username, name, role, in_team) in PEOPLE {
        let team = in_team.then(|| DEMO_TEAM.to_string());
        let user = NewUser {
            username: username.to_string(),
            role,
            team: team.clone(),
            display_name: Some(name.to_string()),
        };
        let id = auth::add_user(conn, &user, DEMO_PASSWORD)?;
        logins.push(DemoLogin {
            username: username.to_string(),
            password: DEMO_PASSWORD.to_string(),
            role,
            team,
            display_name: name.to_string(),
            user_id: id.clone(),
        });
        people.push(Person { device: format!("d-demo-{username}"), actor: ActorId::random(), role, id });
    }
    // The seeding is sent from a real (registered) device of the supervisor; its token is
    // thrown away.
    let device =
        auth::issue_token(conn, &people[SUP].id, Role::Supervisor.as_str(), "演示数据导入 (demo seed)")?;
    let sender = Principal {
        user_id: people[SUP].id.clone(),
        device_id: device.device_id,
        role: Role::Supervisor,
        team: Some(DEMO_TEAM.to_string()),
    };
    let today = Date::of_time(now_ms, CHINA_UTC_OFFSET_MIN);
    // Building documents and accepting them each take about half the time: a second thread
    // builds while this one, which holds the database, accepts what is ready.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Parcel>(16);
    std::thread::scope(|scope| {
        let builder = scope.spawn(move || {
            let mut s = Seeder {
                out: tx,
                rng: Rng(SEED),
                t: Clock { now: now_ms, today },
                people,
                summary: DemoSummary { logins, ..DemoSummary::default() },
                off_days: BTreeSet::new(),
                work_orders: BTreeMap::new(),
            };
            s.run().map(|()| s.summary)
        });
        let mut changes = 0;
        let mut failed = None;
        for parcel in rx.iter() {
            match deliver(conn, &sender, parcel) {
                Ok(n) => changes += n,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // Hanging up makes the builder stop at its next document.
        drop(rx);
        let built = builder.join().map_err(|_| ServerError::Internal("the demo builder panicked".into()))?;
        if let Some(e) = failed {
            return Err(e);
        }
        let mut summary = built?;
        summary.changes = changes + review_queue(conn, now_ms)?;
        summary.records.insert("conflicts", 1);
        summary.records.insert("rejected changes", 1);
        Ok(summary)
    })
}

/// Something for the supervisor's review queue, made the way phones make it: an agent and a
/// field staff member change the same customer's address from their own phones (a conflict),
/// and a field phone tries to give a customer to itself (refused: only a supervisor assigns).
fn review_queue(conn: &Connection, now_ms: i64) -> Result<usize, ServerError> {
    let member = |username: &str, role: Role| -> Result<Principal, ServerError> {
        let id: String =
            conn.query_row("SELECT id FROM users WHERE username = ?1", [username], |r| r.get(0))?;
        Ok(Principal {
            user_id: id,
            device_id: format!("d-demo-{username}"),
            role,
            team: Some(DEMO_TEAM.to_string()),
        })
    };
    let agent = member("agent1", Role::Agent)?;
    let field = member("field1", Role::Field)?;
    let doc_id: String = conn.query_row(
        "SELECT doc_id FROM documents WHERE kind = 'customer' AND agent = ?1 AND field_staff = ?2 ORDER BY doc_id DESC LIMIT 1",
        [&agent.user_id, &field.user_id],
        |r| r.get(0),
    )?;
    let mut stored = crate::accept::load(conn, &doc_id)?
        .ok_or_else(|| ServerError::Internal(format!("demo customer {doc_id} vanished")))?;
    let base = stored.doc.get_heads();
    let edit = |p: &Principal, at: i64, f: &dyn Fn(&mut CustomerFile)| -> Result<Vec<Change>, ServerError> {
        let mut doc = KefuDoc::from_automerge(stored.doc.clone().with_actor(ActorId::random()));
        let author = Author { user: p.user_id.clone(), device: p.device_id.clone() };
        doc.update::<CustomerFile, ()>(&author, at, |c| {
            f(c);
            Ok(())
        })
        .map_err(|e| refused("review queue", e))?;
        Ok(doc.automerge().get_changes(&base))
    };
    let an_hour_ago = now_ms - 3_600_000;
    let by_agent =
        edit(&agent, an_hour_ago, &|c| c.profile.address = Some("上海市徐汇区漕溪北路 88 号 3 楼".into()))?;
    let by_field = edit(&field, an_hour_ago + 60_000, &|c| {
        c.profile.address = Some("上海市徐汇区漕溪北路 88 号 5 楼（上门核实）".into())
    })?;
    let grab = edit(&field, an_hour_ago + 120_000, &|c| {
        c.assignment.agent = Some(c.assignment.field_staff.clone().unwrap_or_default())
    })?;
    let mut n = 0;
    for (p, changes, received) in
        [(&agent, by_agent, now_ms - 1_800_000), (&field, by_field, now_ms - 1_700_000)]
    {
        match accept(conn, p, &doc_id, changes, received)? {
            Outcome::Accepted { new } => n += new.len(),
            other => return Err(refused("review queue conflict", format!("{other:?}"))),
        }
    }
    match accept(conn, &field, &doc_id, grab, now_ms - 1_600_000)? {
        Outcome::Rejected { .. } => {}
        other => return Err(refused("review queue refusal", format!("expected a refusal, got {other:?}"))),
    }
    Ok(n)
}

/// A finished document: its changes in batches, each with the time the server receives it.
struct Parcel {
    label: String,
    doc_id: String,
    batches: Vec<(Vec<Change>, i64)>,
}

/// Sends the batches through the acceptance pipeline; returns how many changes were new.
fn deliver(conn: &Connection, sender: &Principal, parcel: Parcel) -> Result<usize, ServerError> {
    let mut n = 0;
    for (batch, received) in parcel.batches {
        match accept(conn, sender, &parcel.doc_id, batch, received)? {
            Outcome::Accepted { new } => n += new.len(),
            Outcome::Rejected { reason, .. } => return Err(refused(&parcel.label, reason)),
            other => return Err(refused(&parcel.label, format!("{other:?}"))),
        }
    }
    Ok(n)
}

// ---- people -------------------------------------------------------------------------------

const SUP: usize = 0;
const AGENTS: [usize; 3] = [1, 2, 3];
const FIELD: [usize; 3] = [4, 5, 6];
/// Everyone with attendance and a roster line (the admin has no team).
const STAFF: [usize; 7] = [0, 1, 2, 3, 4, 5, 6];

const PEOPLE: [(&str, &str, Role, bool); 8] = [
    ("supervisor", "周敏", Role::Supervisor, true),
    ("agent1", "李娜", Role::Agent, true),
    ("agent2", "王芳", Role::Agent, true),
    ("agent3", "陈静", Role::Agent, true),
    ("field1", "张伟", Role::Field, true),
    ("field2", "刘强", Role::Field, true),
    ("field3", "赵磊", Role::Field, true),
    ("admin", "系统管理员", Role::Admin, false),
];

#[derive(Debug)]
struct Person {
    id: String,
    device: String,
    actor: ActorId,
    role: Role,
}

// ---- deterministic randomness ---------------------------------------------------------------

/// xorshift64*: tiny, fast and good enough for demo data.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// `lo..=hi` (`lo` when the range is empty).
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            lo + (self.next() % (hi - lo + 1) as u64) as i64
        }
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// Picks by weight from `(value, weight)` pairs.
    fn weighted<T: Copy>(&mut self, xs: &[(T, u64)]) -> T {
        let total: u64 = xs.iter().map(|(_, w)| w).sum();
        let mut roll = self.next() % total.max(1);
        for (x, w) in xs {
            if roll < *w {
                return *x;
            }
            roll -= w;
        }
        xs[0].0
    }

    /// A nested record id.
    fn id(&mut self) -> String {
        let a = self.next().to_le_bytes();
        let b = self.next().to_le_bytes();
        let mut bytes = [0u8; 12];
        bytes[..8].copy_from_slice(&a);
        bytes[8..].copy_from_slice(&b[..4]);
        record_id(bytes)
    }
}

// ---- building documents ---------------------------------------------------------------------

type EditFn<R> = Box<dyn FnOnce(&mut R, &Actor) -> Result<(), DocError>>;

/// One action on a document: when, by whom, what.
struct Ev<R> {
    at: i64,
    who: usize,
    edit: EditFn<R>,
}

fn ev<R, F>(at: i64, who: usize, f: F) -> Ev<R>
where
    F: FnOnce(&mut R, &Actor) -> Result<(), DocError> + 'static,
{
    Ev { at, who, edit: Box::new(f) }
}

fn refused(label: &str, e: impl std::fmt::Display) -> ServerError {
    ServerError::Internal(format!("demo data for {label} is invalid: {e}"))
}

fn new_doc_id() -> Result<String, ServerError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ServerError::Internal(format!("no randomness: {e}")))?;
    Ok(DocumentId::from_bytes(bytes).to_string())
}

fn compact(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year, d.month, d.day)
}

/// Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
fn weekday(d: Date) -> i64 {
    (d.days_since_epoch() + 3).rem_euclid(7)
}

/// "Now" and the local dates and times around it.
#[derive(Debug, Clone, Copy)]
struct Clock {
    now: i64,
    today: Date,
}

impl Clock {
    fn day(&self, offset: i64) -> Date {
        self.today.add_days(offset)
    }

    /// Unix ms of `minute` minutes after local midnight starting `d`.
    fn at(&self, d: Date, minute: i64) -> i64 {
        d.start_ms(CHINA_UTC_OFFSET_MIN) + minute * MINUTE
    }

    /// The latest time an action can have happened (a minute ago).
    fn latest(&self) -> i64 {
        self.now - MINUTE
    }

    fn clamp(&self, t: i64) -> i64 {
        t.min(self.latest())
    }

    fn happened(&self, t: i64) -> bool {
        t <= self.latest()
    }

    fn offset_of(&self, d: Date) -> i64 {
        self.today.days_until(&d)
    }
}

struct Seeder {
    /// Where finished documents go to be accepted.
    out: std::sync::mpsc::SyncSender<Parcel>,
    rng: Rng,
    t: Clock,
    people: Vec<Person>,
    summary: DemoSummary,
    /// (person, day offset) on leave or absent: no clocking, no appearance check.
    off_days: BTreeSet<(usize, i64)>,
    /// Work orders issued per date, for their numbers.
    work_orders: BTreeMap<String, u32>,
}

impl Seeder {
    fn run(&mut self) -> Result<(), ServerError> {
        let campaign_id = new_doc_id()?;
        let campaign_created = self.t.at(self.t.day(-10), 9 * 60 + 30);
        let plans = self.plan_customers();
        let mut targets = BTreeMap::new();
        for (i, plan) in plans.iter().enumerate() {
            self.customer(i, plan, &campaign_id, campaign_created, &mut targets)?;
        }
        self.campaign(&campaign_id, campaign_created, targets)?;
        // Leave and absences decide who clocks in and who is checked, so attendance first.
        self.attendance()?;
        self.appearance()?;
        Ok(())
    }

    // -- documents --

    fn author(&self, who: usize) -> Author {
        Author { user: self.people[who].id.clone(), device: self.people[who].device.clone() }
    }

    fn id(&self, who: usize) -> String {
        self.people[who].id.clone()
    }

    fn create<R: Record>(
        &self,
        label: &str,
        record: &R,
        who: usize,
        at: i64,
    ) -> Result<(String, KefuDoc), ServerError> {
        let doc = KefuDoc::create(record, self.people[who].actor.clone(), &self.author(who), at)
            .map_err(|e| refused(label, e))?;
        Ok((new_doc_id()?, doc))
    }

    fn keyed<R: Record>(&self, label: &str, key: &str, record: &R) -> Result<(String, KefuDoc), ServerError> {
        let (id, doc) =
            KefuDoc::genesis(key, record, self.people[SUP].actor.clone()).map_err(|e| refused(label, e))?;
        Ok((id.to_string(), doc))
    }

    /// Applies the actions in time order, each as its own change by its author's device.
    fn play<R: Record>(
        &self,
        label: &str,
        doc: &mut KefuDoc,
        mut evs: Vec<Ev<R>>,
    ) -> Result<(), ServerError> {
        evs.sort_by_key(|e| e.at);
        for Ev { at, who, edit } in evs {
            doc.automerge().set_actor(self.people[who].actor.clone());
            let by = Actor { user: self.id(who), at };
            doc.update(&self.author(who), at, |r: &mut R| edit(r, &by)).map_err(|e| refused(label, e))?;
        }
        Ok(())
    }

    /// Hands every change of `doc` to the acceptance pipeline, one batch per local day (as a
    /// phone syncing daily would), received a few minutes after the last change of the batch.
    fn submit(
        &mut self,
        label: &str,
        kind: DocKind,
        doc_id: &str,
        doc: &mut KefuDoc,
    ) -> Result<(), ServerError> {
        let changes = doc.automerge().get_changes(&[]);
        let mut batches = Vec::new();
        let mut batch: Vec<Change> = Vec::new();
        let mut batch_day: Option<Date> = None;
        let mut last = 0;
        for c in changes {
            let t = c.timestamp() * 1000;
            // The genesis of a keyed document has time 0: it travels with the first batch.
            let day = (t > 0).then(|| Date::of_time(t, CHINA_UTC_OFFSET_MIN));
            if day.is_some() && batch_day.is_some() && day != batch_day {
                batches.push((std::mem::take(&mut batch), self.received(last)));
            }
            if day.is_some() {
                batch_day = day;
                last = last.max(t);
            }
            batch.push(c);
        }
        if !batch.is_empty() {
            batches.push((batch, self.received(last)));
        }
        *self.summary.documents.entry(kind).or_default() += 1;
        let parcel = Parcel { label: label.to_string(), doc_id: doc_id.to_string(), batches };
        // A closed channel means the accepting side failed; it reports why.
        self.out.send(parcel).map_err(|_| ServerError::Internal("demo seeding stopped".into()))
    }

    /// When the server receives a batch whose last change was made at `last`.
    fn received(&mut self, last: i64) -> i64 {
        (last + self.rng.between(1, 20) * MINUTE).min(self.t.now).max(last)
    }

    fn count(&mut self, what: &'static str, n: usize) {
        *self.summary.records.entry(what).or_default() += n;
    }

    fn work_order(&mut self, d: Date) -> String {
        let n = self.work_orders.entry(d.to_string()).or_default();
        *n += 1;
        format!("WO{}-{:03}", compact(d), n)
    }

    // -- customers --

    fn plan_customers(&mut self) -> Vec<Plan> {
        let mut plans = Vec::with_capacity(DEMO_CUSTOMERS);
        for i in 0..DEMO_CUSTOMERS {
            let agent = AGENTS[i % 3];
            let (stage, age, fresh) = if i < 12 {
                // Assigned in the last days and not contacted yet: the one-week clock runs.
                (
                    if i % 2 == 0 { PurchaseStage::Lead } else { PurchaseStage::Negotiating },
                    (i % 4) as i64,
                    true,
                )
            } else if i < 15 {
                // Assigned more than a week ago and never contacted: overdue.
                (PurchaseStage::Lead, 8 + (i - 12) as i64, true)
            } else {
                let stage = self.rng.weighted(&[
                    (PurchaseStage::Lead, 17),
                    (PurchaseStage::Negotiating, 13),
                    (PurchaseStage::Signed, 12),
                    (PurchaseStage::InService, 18),
                    (PurchaseStage::AfterSale, 34),
                    (PurchaseStage::Dormant, 6),
                ]);
                let (lo, hi) = match stage {
                    PurchaseStage::Lead => (1, 30),
                    PurchaseStage::Negotiating => (4, 60),
                    PurchaseStage::Signed => (7, 45),
                    PurchaseStage::InService => (20, 90),
                    PurchaseStage::AfterSale => (45, 365),
                    PurchaseStage::Dormant => (200, 540),
                };
                (stage, self.rng.between(lo, hi), false)
            };
            let field = if stage >= PurchaseStage::Signed || self.rng.percent(5) {
                Some(*self.rng.pick(&FIELD))
            } else {
                None
            };
            plans.push(Plan { stage, age, agent, field, fresh, today_visit: None, campaign: false });
        }
        // Each field worker's day: one visit done this morning, one on site, one en route, one
        // later today, one tomorrow.
        for f in FIELD {
            let mut k = 0;
            for p in plans.iter_mut() {
                if k < 5
                    && p.field == Some(f)
                    && matches!(p.stage, PurchaseStage::InService | PurchaseStage::AfterSale)
                {
                    p.today_visit = Some(k);
                    k += 1;
                }
            }
        }
        for p in plans.iter_mut() {
            if p.stage == PurchaseStage::AfterSale && p.today_visit.is_none() && self.rng.percent(20) {
                p.campaign = true;
            }
        }
        plans
    }

    fn profile(&mut self) -> Profile {
        let (sur, sur_py) = *self.rng.pick(SURNAMES);
        let name = if self.rng.percent(7) {
            format!("{sur}{}", if self.rng.percent(55) { "女士" } else { "先生" })
        } else {
            let (given, _) = *self.rng.pick(GIVEN);
            format!("{sur}{given}")
        };
        let given_py = self.rng.pick(GIVEN).1;
        let prefix = *self.rng.pick(&["13", "15", "18"]);
        let mut phones = vec![format!("{prefix}{}{:08}", self.rng.below(10), self.rng.below(100_000_000))];
        if self.rng.percent(10) {
            phones.push(format!("021-{}{:07}", self.rng.between(5, 6), self.rng.below(10_000_000)));
        }
        let email = self.rng.percent(15).then(|| {
            let host = *self.rng.pick(&["163.com", "qq.com", "126.com", "sina.com"]);
            format!("{sur_py}.{given_py}{}@{host}", self.rng.between(70, 99))
        });
        let wechat =
            self.rng.percent(40).then(|| format!("{sur_py}{given_py}_{}", self.rng.between(100, 9999)));
        let (district, roads) = *self.rng.pick(DISTRICTS);
        let road = *self.rng.pick(roads);
        let address = format!(
            "上海市{district}{road}{}弄{}号{}{:02}室",
            self.rng.between(10, 1200),
            self.rng.between(1, 40),
            self.rng.between(1, 28),
            self.rng.between(1, 4)
        );
        let source = self.rng.weighted(&[
            (SourceChannel::Tmall, 20),
            (SourceChannel::Jd, 15),
            (SourceChannel::Taobao, 8),
            (SourceChannel::Phone, 15),
            (SourceChannel::Website, 7),
            (SourceChannel::WalkIn, 15),
            (SourceChannel::Referral, 15),
            (SourceChannel::Other, 5),
        ]);
        Profile {
            name,
            phones,
            email,
            wechat,
            address: Some(address),
            district: Some(district.into()),
            source,
        }
    }

    fn callback_result(&mut self, method: ContactChannel, date: Date) -> CallbackResult {
        let roll = self.rng.below(100);
        let mut r = CallbackResult {
            method,
            outcome: CallbackOutcome::Satisfied,
            satisfaction: None,
            evaluation: None,
            suggestions: None,
            issue: None,
            follow_up_on: None,
            note: None,
        };
        if roll < 68 {
            r.satisfaction = Some(self.rng.weighted(&[(5, 60), (4, 35), (3, 5)]));
            r.evaluation = Some(self.rng.pick(EVALUATIONS).to_string());
            if self.rng.percent(30) {
                r.suggestions = Some(self.rng.pick(SUGGESTIONS).to_string());
            }
        } else if roll < 83 {
            r.outcome = CallbackOutcome::IssueRaised;
            r.satisfaction = Some(self.rng.between(2, 3));
            r.issue = Some(self.rng.pick(ISSUES).to_string());
            r.follow_up_on = Some(date.add_days(3).to_string());
            r.evaluation = Some("对产品本身认可，但问题需要尽快处理".into());
        } else if roll < 92 {
            r.outcome = CallbackOutcome::FollowUpNeeded;
            r.satisfaction = self.rng.percent(50).then_some(4);
            r.follow_up_on = Some(date.add_days(7).to_string());
            r.note = Some("客户正在开车，约下周再详细沟通".into());
        } else {
            r.outcome = CallbackOutcome::Refused;
            r.note = Some("客户表示很忙，不接受回访".into());
        }
        r
    }

    fn no_answer(&mut self, method: ContactChannel) -> CallbackResult {
        let wrong = self.rng.percent(10);
        CallbackResult {
            method,
            outcome: if wrong { CallbackOutcome::WrongNumber } else { CallbackOutcome::NoAnswer },
            satisfaction: None,
            evaluation: None,
            suggestions: None,
            issue: None,
            follow_up_on: None,
            note: Some(if wrong { "号码错误，已改用微信联系" } else { "无人接听，稍后再拨" }.into()),
        }
    }

    /// A callback: scheduled at `scheduled_at` for `date`; when the date is past, usually made
    /// (sometimes after an unanswered attempt); due today it may have had one unanswered try.
    #[allow(clippy::too_many_arguments)]
    fn callback(
        &mut self,
        evs: &mut Vec<Ev<CustomerFile>>,
        agent: usize,
        scheduler: usize,
        scheduled_at: i64,
        date: Date,
        campaign: Option<String>,
        visit: Option<String>,
        course: Course,
    ) -> String {
        let id = self.rng.id();
        let method = self.rng.weighted(&[
            (ContactChannel::Phone, 80),
            (ContactChannel::Wechat, 15),
            (ContactChannel::Sms, 5),
        ]);
        let new = NewCallback { agent: self.id(agent), date: date.to_string(), method, campaign, visit };
        let scheduled_at = self.t.clamp(scheduled_at);
        let cid = id.clone();
        evs.push(ev(scheduled_at, scheduler, move |c: &mut CustomerFile, by| {
            c.schedule_callback(cid, by, &new);
            Ok(())
        }));
        let offset = self.t.offset_of(date);
        if offset < 0 && course == Course::Made {
            let mut t = self.t.at(date, self.rng.between(10 * 60, 17 * 60)).max(scheduled_at + MINUTE);
            if self.rng.percent(20) {
                let miss = self.no_answer(method);
                let (cid, aid) = (id.clone(), self.rng.id());
                evs.push(ev(t, agent, move |c: &mut CustomerFile, by| {
                    c.record_callback(&cid, aid, by, &miss)
                }));
                t += self.rng.between(60, 240) * MINUTE;
            }
            let result = self.callback_result(method, date);
            let (cid, aid) = (id.clone(), self.rng.id());
            evs.push(ev(self.t.clamp(t), agent, move |c: &mut CustomerFile, by| {
                c.record_callback(&cid, aid, by, &result)
            }));
        } else if course == Course::Open && offset <= 0 && self.rng.percent(if offset == 0 { 35 } else { 50 })
        {
            // Tried once today (or on the due day) without reaching the customer.
            let t = if offset == 0 {
                self.t.clamp(self.t.now - self.rng.between(20, 180) * MINUTE)
            } else {
                self.t.at(date, 15 * 60)
            };
            let miss = self.no_answer(method);
            let (cid, aid) = (id.clone(), self.rng.id());
            evs.push(ev(t.max(scheduled_at + MINUTE), agent, move |c: &mut CustomerFile, by| {
                c.record_callback(&cid, aid, by, &miss)
            }));
        }
        id
    }

    /// A visit from dispatch up to `until` (the furthest step it reaches), at the given times.
    #[allow(clippy::too_many_arguments)]
    fn visit(
        &mut self,
        evs: &mut Vec<Ev<CustomerFile>>,
        staff: usize,
        reason: VisitReason,
        window_start: i64,
        dispatched_at: i64,
        until: VisitStep,
        done: VisitCompletion,
    ) -> String {
        let id = self.rng.id();
        let day = Date::of_time(window_start, CHINA_UTC_OFFSET_MIN);
        let nv = NewVisit {
            work_order: self.work_order(day),
            reason,
            staff: self.id(staff),
            window_start,
            window_end: window_start + 2 * HOUR,
        };
        let dispatched_at = self.t.clamp(dispatched_at.min(window_start - HOUR));
        let vid = id.clone();
        evs.push(ev(dispatched_at, SUP, move |c: &mut CustomerFile, by| {
            c.dispatch_visit(vid, by, &nv);
            Ok(())
        }));
        if until == VisitStep::Cancelled {
            let vid = id.clone();
            let t =
                self.t.clamp(dispatched_at + self.rng.between(2, 20) * HOUR).min(window_start - 30 * MINUTE);
            evs.push(ev(t.max(dispatched_at), SUP, move |c: &mut CustomerFile, by| {
                c.advance_visit(&vid, by, VisitStep::Cancelled, Some("客户临时出差，改约下周".into()))
            }));
            return id;
        }
        let en_route = window_start - self.rng.between(20, 45) * MINUTE;
        let on_site = window_start + self.rng.between(-10, 35) * MINUTE;
        let completed = on_site + self.rng.between(80, 200) * MINUTE;
        let reviewed = self.t.at(day.add_days(1), self.rng.between(9 * 60 + 30, 11 * 60));
        let steps = [
            (VisitStep::EnRoute, en_route, staff),
            (VisitStep::OnSite, on_site, staff),
            (VisitStep::Completed, completed, staff),
            (VisitStep::Reviewed, reviewed, SUP),
        ];
        for (step, t, who) in steps {
            if step.rank() > until.rank() || !self.t.happened(t) {
                break;
            }
            let vid = id.clone();
            if step == VisitStep::Completed {
                let done = done.clone();
                evs.push(ev(t, who, move |c: &mut CustomerFile, by| c.complete_visit(&vid, by, &done)));
            } else {
                evs.push(ev(t, who, move |c: &mut CustomerFile, by| c.advance_visit(&vid, by, step, None)));
            }
        }
        id
    }

    fn completion(
        &mut self,
        work_done: String,
        parts: &[(&str, i64)],
        follow_up: Option<Date>,
    ) -> VisitCompletion {
        VisitCompletion {
            work_done,
            parts: parts.iter().map(|(p, q)| (p.to_string(), *q)).collect(),
            rating: Some(self.rng.weighted(&[(5, 60), (4, 30), (3, 8), (2, 2)])),
            follow_up_on: follow_up.map(|d| d.to_string()),
        }
    }

    fn customer(
        &mut self,
        i: usize,
        plan: &Plan,
        campaign_id: &str,
        campaign_created: i64,
        targets: &mut BTreeMap<String, Target>,
    ) -> Result<(), ServerError> {
        let profile = self.profile();
        let label = format!("customer #{i} ({})", profile.name);
        let cat = self.rng.pick(CATEGORIES);
        let created_day = self.t.day(-plan.age);
        let created = self.t.clamp(self.t.at(created_day, self.rng.between(9 * 60, 19 * 60)));
        let creator = if self.rng.percent(65) { plan.agent } else { SUP };
        let mut file = CustomerFile::new(DEMO_TEAM, profile, &self.id(creator), created);
        let intent = match plan.stage {
            PurchaseStage::Lead | PurchaseStage::Negotiating => self.rng.weighted(&[
                (IntentLevel::High, 25),
                (IntentLevel::Medium, 35),
                (IntentLevel::Low, 20),
                (IntentLevel::Unknown, 20),
            ]),
            PurchaseStage::Dormant => IntentLevel::Low,
            _ => self.rng.weighted(&[(IntentLevel::High, 70), (IntentLevel::Medium, 30)]),
        };
        let mut tags = Vec::new();
        for _ in 0..self.rng.below(3) {
            let t = self.rng.pick(TAGS).to_string();
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        file.classification = Classification {
            category: Some(cat.name.into()),
            intent,
            stage: plan.stage,
            tags,
            notes: self.rng.percent(10).then(|| self.rng.pick(NOTES).to_string()),
        };
        let (doc_id, mut doc) = self.create(&label, &file, creator, created)?;
        let mut evs: Vec<Ev<CustomerFile>> = Vec::new();

        // Assignment by the supervisor, balancing agents.
        let assigned = self.t.clamp(created + self.rng.between(5, 150) * MINUTE);
        let (agent_id, field_id) = (self.id(plan.agent), plan.field.map(|f| self.id(f)));
        evs.push(ev(assigned, SUP, move |c: &mut CustomerFile, by| {
            c.assign(by, Some(agent_id), field_id);
            Ok(())
        }));

        // Consultations.
        if !plan.fresh {
            let n = self.rng.between(1, if plan.stage <= PurchaseStage::Negotiating { 3 } else { 4 });
            let mut t = assigned + self.rng.between(30, 3 * 24 * 60) * MINUTE;
            for k in 0..n {
                if !self.t.happened(t) {
                    break;
                }
                let early = k == 0 || plan.stage <= PurchaseStage::Negotiating;
                let summary = if early { self.rng.pick(LEAD_TALK) } else { self.rng.pick(CUSTOMER_TALK) }
                    .replace("{cat}", cat.name);
                let channel = self.rng.weighted(&[
                    (ContactChannel::Phone, 45),
                    (ContactChannel::Wechat, 30),
                    (ContactChannel::InStore, 15),
                    (ContactChannel::Online, 10),
                ]);
                let id = self.rng.id();
                evs.push(ev(t, plan.agent, move |c: &mut CustomerFile, by| {
                    c.log_contact(id, by, channel, &summary);
                    Ok(())
                }));
                t += self.rng.between(1, 20) * 24 * HOUR + self.rng.between(-120, 120) * MINUTE;
            }
        }

        // Orders, installation and later service.
        let mut service_done: Option<Date> = None;
        if plan.stage >= PurchaseStage::Signed {
            let min_gap = match plan.stage {
                PurchaseStage::Signed => 0,
                PurchaseStage::InService => 16,
                _ => 35,
            };
            let span = (plan.age - min_gap).clamp(1, 20);
            let ordered = created_day.add_days(self.rng.between(1, span).min(plan.age));
            let (item, lo, hi) = *self.rng.pick(cat.items);
            let (status, completed_on) = match plan.stage {
                PurchaseStage::Signed => (OrderStatus::Open, None),
                PurchaseStage::InService => {
                    (OrderStatus::Delivered, Some(ordered.add_days(self.rng.between(5, 15))))
                }
                _ => (OrderStatus::Completed, Some(ordered.add_days(self.rng.between(7, 25)))),
            };
            let order = Order {
                number: format!("SO{}{:04}", compact(ordered), self.rng.between(1, 9999)),
                item: item.to_string(),
                amount_fen: self.rng.between(lo / 10, hi / 10) * 1000,
                ordered_on: ordered.to_string(),
                completed_on: completed_on.map(|d| d.to_string()),
                status,
            };
            let order_at =
                self.t.clamp(self.t.at(ordered, self.rng.between(10 * 60, 17 * 60)).max(assigned + MINUTE));
            let oid = self.rng.id();
            evs.push(ev(order_at, plan.agent, move |c: &mut CustomerFile, _| {
                c.add_order(oid, order);
                Ok(())
            }));
            // A thank-you callback two days after signing.
            if self.rng.percent(50) {
                self.callback(
                    &mut evs,
                    plan.agent,
                    plan.agent,
                    order_at + 10 * MINUTE,
                    ordered.add_days(2),
                    None,
                    None,
                    Course::Made,
                );
            }
            // A second, smaller purchase for some long-standing customers.
            if let (Some(done), true) =
                (completed_on, plan.stage >= PurchaseStage::AfterSale && self.rng.percent(20))
            {
                let second = done.add_days(self.rng.between(10, 60));
                if self.t.offset_of(second) < -1 {
                    let (item, lo, hi) = *self.rng.pick(cat.items);
                    let cancelled = self.rng.percent(20);
                    let order = Order {
                        number: format!("SO{}{:04}", compact(second), self.rng.between(1, 9999)),
                        item: item.to_string(),
                        amount_fen: self.rng.between(lo / 20, hi / 20) * 1000,
                        ordered_on: second.to_string(),
                        completed_on: (!cancelled).then(|| second.add_days(1).to_string()),
                        status: if cancelled { OrderStatus::Cancelled } else { OrderStatus::Completed },
                    };
                    let oid = self.rng.id();
                    let at = self.t.at(second, self.rng.between(10 * 60, 17 * 60));
                    evs.push(ev(at, plan.agent, move |c: &mut CustomerFile, _| {
                        c.add_order(oid, order);
                        Ok(())
                    }));
                }
            }
            if let (Some(d), Some(f)) = (completed_on, plan.field) {
                // Installation on the delivery day, followed up by a callback three days later.
                let start = self.t.at(d, *self.rng.pick(&[9 * 60, 9 * 60 + 30, 13 * 60 + 30, 14 * 60]));
                let until = if plan.stage == PurchaseStage::InService && self.rng.percent(50) {
                    VisitStep::Completed
                } else {
                    VisitStep::Reviewed
                };
                let done = self.completion(
                    format!("完成{item}安装调试，讲解使用与日常保养，清理施工垃圾"),
                    &[("安装辅材包", 1)],
                    Some(d.add_days(3)),
                );
                let dispatched = self.t.at(d.add_days(-1), self.rng.between(16 * 60, 17 * 60 + 30));
                let vid = self.visit(&mut evs, f, VisitReason::Installation, start, dispatched, until, done);
                self.callback(
                    &mut evs,
                    plan.agent,
                    SUP,
                    start + 6 * HOUR,
                    d.add_days(3),
                    None,
                    Some(vid),
                    Course::Made,
                );
                service_done = Some(d);
            }
        }

        // Repairs and maintenance after the installation.
        if let (Some(done), Some(f)) = (service_done, plan.field) {
            let p = match plan.stage {
                PurchaseStage::AfterSale => 45,
                PurchaseStage::InService => 15,
                _ => 10,
            };
            let from = self.t.offset_of(done) + 14;
            if from < -1 && self.rng.percent(p) {
                let d = self.t.day(self.rng.between(from, -1));
                let reason = self.rng.weighted(&[
                    (VisitReason::Repair, 60),
                    (VisitReason::Maintenance, 25),
                    (VisitReason::QualityComplaint, 15),
                ]);
                let (work, parts): (String, &[(&str, i64)]) = match reason {
                    VisitReason::Repair => {
                        let (w, p) = *self.rng.pick(cat.repairs);
                        (w.to_string(), p)
                    }
                    VisitReason::Maintenance => (cat.maintenance.to_string(), &[]),
                    _ => (format!("上门核查{}质量问题，拍照取证并提交厂家鉴定", cat.name), &[]),
                };
                let until = if self.rng.percent(10) {
                    VisitStep::Cancelled
                } else if self.t.offset_of(d) < -2 || self.rng.percent(30) {
                    VisitStep::Reviewed
                } else {
                    VisitStep::Completed
                };
                let start = self.t.at(d, *self.rng.pick(&[9 * 60, 10 * 60 + 30, 13 * 60 + 30, 15 * 60]));
                let done = self.completion(work, parts, Some(d.add_days(2)));
                let dispatched =
                    self.t.at(d.add_days(-self.rng.between(1, 3)), self.rng.between(9 * 60, 17 * 60));
                let vid = self.visit(&mut evs, f, reason, start, dispatched, until, done);
                if until != VisitStep::Cancelled {
                    self.callback(
                        &mut evs,
                        plan.agent,
                        SUP,
                        start + 8 * HOUR,
                        d.add_days(2),
                        None,
                        Some(vid),
                        Course::Made,
                    );
                }
            }
        }

        // Today's field work.
        if let (Some(k), Some(f)) = (plan.today_visit, plan.field) {
            let now = self.t.now;
            let yesterday_evening = self.t.at(self.t.day(-1), 17 * 60 + self.rng.between(0, 40));
            let (start, until) = match k {
                0 => (now - 5 * HOUR, VisitStep::Completed),
                1 => (now - HOUR, VisitStep::OnSite),
                2 => (now + 10 * MINUTE, VisitStep::EnRoute),
                3 => (now + 3 * HOUR, VisitStep::Dispatched),
                _ => (self.t.at(self.t.day(1), 9 * 60), VisitStep::Dispatched),
            };
            let reason = if plan.stage == PurchaseStage::InService {
                VisitReason::Maintenance
            } else {
                VisitReason::Repair
            };
            let (work, parts) = *self.rng.pick(cat.repairs);
            let follow = Date::of_time(start, CHINA_UTC_OFFSET_MIN).add_days(3);
            let done = self.completion(work.to_string(), parts, Some(follow));
            // Steps already taken are placed so that the visit sits at `until` now.
            let vid = self.visit_today(&mut evs, f, reason, start, yesterday_evening, until, done);
            if until == VisitStep::Completed {
                self.callback(
                    &mut evs,
                    plan.agent,
                    SUP,
                    now - 2 * HOUR,
                    follow,
                    None,
                    Some(vid),
                    Course::Made,
                );
            }
        }

        // Callbacks the agent works: due today, overdue, coming up, cancelled.
        if !plan.fresh {
            let roll = self.rng.below(100);
            let agent = plan.agent;
            let after_sale = matches!(plan.stage, PurchaseStage::InService | PurchaseStage::AfterSale);
            let scheduled = |s: &mut Self, back: i64| {
                let minute = s.rng.between(9 * 60, 17 * 60);
                s.t.at(s.t.day(-back), minute).max(assigned + MINUTE)
            };
            let lead = plan.stage <= PurchaseStage::Negotiating;
            if (after_sale && roll < 20) || (lead && roll < 8) {
                let back = self.rng.between(1, 10);
                let at = scheduled(self, back);
                self.callback(&mut evs, agent, agent, at, self.t.today, None, None, Course::Open);
            } else if after_sale && roll < 28 {
                let due = self.rng.between(1, 3);
                let back = due + self.rng.between(2, 8);
                let at = scheduled(self, back);
                self.callback(&mut evs, agent, agent, at, self.t.day(-due), None, None, Course::Open);
            } else if roll < 48 && plan.stage != PurchaseStage::Dormant {
                let back = self.rng.between(0, 5);
                let at = scheduled(self, back);
                let date = self.t.day(self.rng.between(1, 14));
                self.callback(&mut evs, agent, agent, at, date, None, None, Course::Open);
            } else if after_sale && roll < 51 && plan.age > 25 {
                let at = scheduled(self, 20);
                let cid =
                    self.callback(&mut evs, agent, agent, at, self.t.day(-15), None, None, Course::Quiet);
                evs.push(ev(self.t.at(self.t.day(-16), 11 * 60), agent, move |c: &mut CustomerFile, by| {
                    c.cancel_callback(&cid, by, "客户表示近期不方便，暂不回访")
                }));
            }
        }

        // The supervisor's satisfaction campaign.
        if plan.campaign {
            let date = self.t.day(self.rng.between(-9, 5));
            let course = if self.rng.percent(90) { Course::Made } else { Course::Open };
            let cid = self.callback(
                &mut evs,
                plan.agent,
                SUP,
                campaign_created + 10 * MINUTE,
                date,
                Some(campaign_id.to_string()),
                None,
                course,
            );
            targets.insert(
                doc_id.clone(),
                Target { agent: self.id(plan.agent), callback: cid, scheduled_for: date.to_string() },
            );
        }

        // Complaints.
        if plan.stage >= PurchaseStage::Signed && self.rng.percent(12) {
            self.complaint(&mut evs, plan, created);
        }

        self.play(&label, &mut doc, evs)?;
        let file: CustomerFile = doc.read().map_err(|e| refused(&label, e))?;
        self.count("orders", file.orders.len());
        self.count("contacts", file.contacts.len());
        self.count("callbacks", file.callbacks.len());
        self.count("visits", file.visits.len());
        self.count("complaints", file.complaints.len());
        self.submit(&label, DocKind::Customer, &doc_id, &mut doc)
    }

    /// A visit under way today: `start` is the promised window start relative to now.
    #[allow(clippy::too_many_arguments)]
    fn visit_today(
        &mut self,
        evs: &mut Vec<Ev<CustomerFile>>,
        staff: usize,
        reason: VisitReason,
        start: i64,
        dispatched_at: i64,
        until: VisitStep,
        done: VisitCompletion,
    ) -> String {
        let id = self.rng.id();
        let day = Date::of_time(start, CHINA_UTC_OFFSET_MIN);
        let nv = NewVisit {
            work_order: self.work_order(day),
            reason,
            staff: self.id(staff),
            window_start: start,
            window_end: start + 2 * HOUR,
        };
        let dispatched = self.t.clamp(dispatched_at.min(start - 2 * HOUR));
        let vid = id.clone();
        evs.push(ev(dispatched, SUP, move |c: &mut CustomerFile, by| {
            c.dispatch_visit(vid, by, &nv);
            Ok(())
        }));
        let now = self.t.now;
        let (en_route, on_site, completed) = match until {
            VisitStep::Completed => (start - 25 * MINUTE, start + 5 * MINUTE, start + 95 * MINUTE),
            VisitStep::OnSite => (now - 70 * MINUTE, now - 35 * MINUTE, i64::MAX),
            _ => (now - 15 * MINUTE, i64::MAX, i64::MAX),
        };
        for (step, t) in [(VisitStep::EnRoute, en_route), (VisitStep::OnSite, on_site)] {
            if step.rank() <= until.rank() && self.t.happened(t) {
                let vid = id.clone();
                evs.push(ev(t.max(dispatched), staff, move |c: &mut CustomerFile, by| {
                    c.advance_visit(&vid, by, step, None)
                }));
            }
        }
        if until == VisitStep::Completed && self.t.happened(completed) {
            let vid = id.clone();
            evs.push(ev(completed, staff, move |c: &mut CustomerFile, by| c.complete_visit(&vid, by, &done)));
        }
        id
    }

    fn complaint(&mut self, evs: &mut Vec<Ev<CustomerFile>>, plan: &Plan, created: i64) {
        let back = self.rng.between(0, plan.age.min(40));
        let received = self
            .t
            .clamp(self.t.at(self.t.day(-back), self.rng.between(9 * 60, 18 * 60)))
            .max(created + HOUR)
            .min(self.t.latest());
        let (category, content, department, resolution, analysis) = *self.rng.pick(COMPLAINTS);
        let handler = if self.rng.percent(60) { plan.agent } else { SUP };
        let severity = self.rng.weighted(&[
            (Severity::Low, 40),
            (Severity::Medium, 35),
            (Severity::High, 20),
            (Severity::Critical, 5),
        ]);
        let channel = self.rng.weighted(&[
            (ContactChannel::Phone, 70),
            (ContactChannel::Wechat, 20),
            (ContactChannel::InStore, 10),
        ]);
        let id = self.rng.id();
        let nc =
            NewComplaint { channel, content: content.into(), category, severity, handler: self.id(handler) };
        let cid = id.clone();
        evs.push(ev(received, handler, move |c: &mut CustomerFile, by| {
            c.take_complaint(cid, by, &nc);
            Ok(())
        }));
        let target = *self.rng.pick(&[
            ComplaintStep::Received,
            ComplaintStep::Forwarded,
            ComplaintStep::Processing,
            ComplaintStep::Resolved,
            ComplaintStep::Confirmed,
            ComplaintStep::Confirmed,
            ComplaintStep::Confirmed,
            ComplaintStep::Reopened,
        ]);
        let forwarded = received + self.rng.between(1, 3) * HOUR;
        let processing = received + 24 * HOUR;
        let resolved = received + self.rng.between(2, 4) * 24 * HOUR;
        let after = resolved + 24 * HOUR;
        let mut steps: Vec<(ComplaintStep, i64, usize, Option<String>)> = vec![
            (ComplaintStep::Forwarded, forwarded, handler, Some(department.into())),
            (ComplaintStep::Processing, processing, SUP, None),
            (ComplaintStep::Resolved, resolved, SUP, Some(resolution.into())),
        ];
        match target {
            ComplaintStep::Confirmed => steps.push((ComplaintStep::Confirmed, after, handler, None)),
            ComplaintStep::Reopened => {
                steps.push((
                    ComplaintStep::Reopened,
                    after,
                    handler,
                    Some("客户反馈问题仍未解决，要求再次处理".into()),
                ));
                steps.push((ComplaintStep::Processing, after + 4 * HOUR, SUP, None));
            }
            _ => {}
        }
        for (step, t, who, text) in steps {
            if (step.rank() > target.rank() && target != ComplaintStep::Reopened) || !self.t.happened(t) {
                break;
            }
            let cid = id.clone();
            let analysis = analysis.to_string();
            evs.push(ev(t, who, move |c: &mut CustomerFile, by| {
                c.complaint_step(&cid, by, step, text)?;
                if let Some(x) = c.complaints.get_mut(&cid) {
                    match step {
                        ComplaintStep::Resolved => x.apology_made = Some(true),
                        ComplaintStep::Confirmed => x.analysis = Some(analysis),
                        _ => {}
                    }
                }
                Ok(())
            }));
        }
    }

    fn campaign(
        &mut self,
        id: &str,
        created: i64,
        targets: BTreeMap<String, Target>,
    ) -> Result<(), ServerError> {
        let label = "the satisfaction campaign";
        let campaign = Campaign {
            kind: DocKind::Campaign,
            schema_version: SCHEMA_VERSION,
            team: DEMO_TEAM.into(),
            name: "售后客户满意度抽样回访".into(),
            criteria: Criteria {
                description: "售后阶段客户随机抽样约 20%，按坐席负载分配".into(),
                min_days_since_service: None,
                visits_completed_within_days: None,
            },
            starts_on: self.t.day(-9).to_string(),
            ends_on: self.t.day(5).to_string(),
            created_by: self.id(SUP),
            created_at: created,
            started: None,
            ended: None,
            targets: BTreeMap::new(),
        };
        let (_, mut doc) = self.create(label, &campaign, SUP, created)?;
        let n = targets.len();
        let start = created + 5 * MINUTE;
        let sup = self.id(SUP);
        let evs = vec![ev(start, SUP, move |c: &mut Campaign, _: &Actor| {
            c.targets = targets;
            c.started = Some(StepMark::new(&sup, start));
            Ok(())
        })];
        self.play(label, &mut doc, evs)?;
        self.count("campaign_targets", n);
        self.submit(label, DocKind::Campaign, id, &mut doc)
    }

    // -- roster and attendance --

    /// The roster's shift: the supervisor works weekdays early; the others rotate early and
    /// late by week with two staggered rest days.
    fn shift(&self, d: Date, p: usize) -> Shift {
        let wd = weekday(d);
        if p == SUP {
            return if wd >= 5 { Shift::Rest } else { Shift::Early };
        }
        if (wd + p as i64) % 7 >= 5 {
            return Shift::Rest;
        }
        let week = d.days_since_epoch().div_euclid(7);
        let late = if self.people[p].role == Role::Agent {
            (week + p as i64) % 3 == 0
        } else {
            (week + p as i64) % 4 == 0
        };
        if late {
            Shift::Late
        } else {
            Shift::Early
        }
    }

    /// The nearest working day of `p` at or before `around` (a day offset).
    fn working_day(&self, p: usize, around: i64, want: Option<Shift>) -> i64 {
        (0..14)
            .map(|k| around - k)
            .find(|d| {
                let s = self.shift(self.t.day(*d), p);
                s != Shift::Rest && want.is_none_or(|w| w == s) && !self.off_days.contains(&(p, *d))
            })
            .unwrap_or(around)
    }

    fn rest_day(&self, p: usize, around: i64) -> Option<i64> {
        (0..10).map(|k| around - k).find(|d| self.shift(self.t.day(*d), p) == Shift::Rest)
    }

    fn attendance(&mut self) -> Result<(), ServerError> {
        let first = self.t.day(-29);
        let last = self.t.day(8);
        // Rosters: every month the month of attendance and the coming week touch.
        let mut months = Vec::new();
        let mut d = first;
        while d <= last {
            if !months.contains(&d.month_key()) {
                months.push(d.month_key());
            }
            d = d.add_days(1);
        }
        for month in &months {
            self.roster(month)?;
        }

        let mut docs: BTreeMap<(usize, String), Vec<Ev<AttendanceMonth>>> = BTreeMap::new();
        let mut push = |p: usize, date: Date, e: Ev<AttendanceMonth>| {
            docs.entry((p, date.month_key())).or_default().push(e);
        };

        // Leave, an absence, a swap.
        let [a1, a2, a3] = AGENTS;
        let [f1, f2, f3] = FIELD;
        {
            // field2: one day of personal leave, asked in person three days ahead, approved.
            let d = self.working_day(f2, -9, None);
            self.off_days.insert((f2, d));
            let asked = self.t.at(self.t.day(d - 3), 17 * 60 + 10);
            let (lid, date) = (self.rng.id(), self.t.day(d));
            let new = NewLeave {
                kind: LeaveKind::Personal,
                start: date.to_string(),
                end: date.to_string(),
                reason: "孩子学校家长会".into(),
                asked_in_person: true,
            };
            let l = lid.clone();
            push(
                f2,
                date,
                ev(asked, f2, move |a: &mut AttendanceMonth, by| {
                    a.request_leave(l, by, &new);
                    Ok(())
                }),
            );
            push(
                f2,
                date,
                ev(asked + 40 * MINUTE, SUP, move |a: &mut AttendanceMonth, by| {
                    a.decide_leave(&lid, by, Approver::Manager, Decision::Approve, None)
                }),
            );
        }
        {
            // agent3: two days of sick leave reported by phone on the morning, certificate
            // handed in on the first day back, then approved.
            let d = self.working_day(a3, -16, None);
            let d = if self.shift(self.t.day(d - 1), a3) != Shift::Rest { d - 1 } else { d };
            self.off_days.insert((a3, d));
            self.off_days.insert((a3, d + 1));
            let start = self.t.day(d);
            let back =
                (d + 2..d + 10).find(|x| self.shift(self.t.day(*x), a3) != Shift::Rest).unwrap_or(d + 2);
            let (lid, asked) = (self.rng.id(), self.t.at(start, 7 * 60 + 40));
            let new = NewLeave {
                kind: LeaveKind::Sick,
                start: start.to_string(),
                end: start.add_days(1).to_string(),
                reason: "发烧，电话请假".into(),
                asked_in_person: false,
            };
            let back_at = self.t.at(self.t.day(back), 9 * 60);
            let (l1, l2) = (lid.clone(), lid.clone());
            push(
                a3,
                start,
                ev(asked, a3, move |a: &mut AttendanceMonth, by| {
                    a.request_leave(l1, by, &new);
                    Ok(())
                }),
            );
            push(
                a3,
                start,
                ev(back_at, a3, move |a: &mut AttendanceMonth, _| {
                    a.attach_certificate(&l2, None, Some("区中心医院门诊病历 No.2391".into()))
                }),
            );
            push(
                a3,
                start,
                ev(back_at + 30 * MINUTE, SUP, move |a: &mut AttendanceMonth, by| {
                    a.decide_leave(&lid, by, Approver::Manager, Decision::Approve, Some("已收病历".into()))
                }),
            );
        }
        {
            // agent3 did not come in one day: marked absent.
            let d = self.working_day(a3, -23, None);
            self.off_days.insert((a3, d));
            let date = self.t.day(d);
            push(
                a3,
                date,
                ev(self.t.at(date, 10 * 60), SUP, move |a: &mut AttendanceMonth, by| {
                    a.mark_absent(by, &date.to_string(), Some("未请假未到岗，电话联系不上".into()));
                    Ok(())
                }),
            );
        }
        {
            // agent1 asks for a day off the day after tomorrow: waiting for the supervisor.
            let date = self.t.day(2);
            let new = NewLeave {
                kind: LeaveKind::Personal,
                start: date.to_string(),
                end: date.to_string(),
                reason: "办理房产过户手续".into(),
                asked_in_person: true,
            };
            let lid = self.rng.id();
            let asked = self.t.clamp(self.t.now - 2 * HOUR);
            push(
                a1,
                date,
                ev(asked, a1, move |a: &mut AttendanceMonth, by| {
                    a.request_leave(lid, by, &new);
                    Ok(())
                }),
            );
        }
        {
            // field1: three days of annual leave next week; the manager approved, HR is next.
            let start = self.t.day(5);
            let new = NewLeave {
                kind: LeaveKind::Annual,
                start: start.to_string(),
                end: start.add_days(2).to_string(),
                reason: "回老家探亲".into(),
                asked_in_person: true,
            };
            let lid = self.rng.id();
            let asked = self.t.at(self.t.day(-1), 10 * 60);
            let l = lid.clone();
            push(
                f1,
                start,
                ev(asked, f1, move |a: &mut AttendanceMonth, by| {
                    a.request_leave(l, by, &new);
                    Ok(())
                }),
            );
            push(
                f1,
                start,
                ev(asked + HOUR, SUP, move |a: &mut AttendanceMonth, by| {
                    a.decide_leave(
                        &lid,
                        by,
                        Approver::Manager,
                        Decision::Approve,
                        Some("同意，请做好工作交接".into()),
                    )
                }),
            );
        }
        {
            // agent1 and agent2 want to swap days; agent2 agreed, the supervisor has to answer.
            let works = |s: &Self, p: usize, d: i64| s.shift(s.t.day(d), p) != Shift::Rest;
            let mine = (3..10).find(|d| works(self, a1, *d)).unwrap_or(3);
            let theirs = (mine + 1..mine + 8)
                .find(|d| works(self, a2, *d) && !works(self, a1, *d))
                .unwrap_or(mine + 1);
            let (mine, theirs) = (self.t.day(mine), self.t.day(theirs));
            let new = NewSwap {
                date: mine.to_string(),
                my_shift: self.shift(mine, a1),
                with_staff: self.id(a2),
                their_date: theirs.to_string(),
                their_shift: self.shift(theirs, a2),
            };
            let sid = self.rng.id();
            let asked = self.t.at(self.t.day(-1), 16 * 60);
            let s = sid.clone();
            push(
                a1,
                mine,
                ev(asked, a1, move |a: &mut AttendanceMonth, by| {
                    a.request_swap(s, by, &new);
                    Ok(())
                }),
            );
            push(
                a1,
                mine,
                ev(asked + 45 * MINUTE, a2, move |a: &mut AttendanceMonth, by| a.agree_swap(&sid, by)),
            );
        }

        // Special days: late arrivals, overtime, a rest day worked.
        let late_a2 = self.working_day(a2, -6, None);
        let late_f3 = self.working_day(f3, -13, None);
        let over_f2 = self.working_day(f2, -4, Some(Shift::Late));
        let over_a1 = self.working_day(a1, -2, Some(Shift::Early));
        let rest_f1 = self.rest_day(f1, -10);

        for p in STAFF {
            for off in -29..=0 {
                let date = self.t.day(off);
                let shift = self.shift(date, p);
                if self.off_days.contains(&(p, off)) {
                    continue;
                }
                let worked_rest = shift == Shift::Rest && p == f1 && Some(off) == rest_f1;
                let (start, end) = match shift.hours() {
                    Some(h) => h,
                    None if worked_rest => (9 * 60, 15 * 60),
                    None => continue,
                };
                let location = if FIELD.contains(&p) {
                    "售后服务站（闵行七莘路）"
                } else {
                    "客服中心（浦东张杨路）"
                };
                let clock_in = if p == a2 && off == late_a2 {
                    start + 12
                } else if p == f3 && off == late_f3 {
                    start + 35
                } else {
                    start - self.rng.between(3, 15)
                };
                let mut clock_out = end + self.rng.between(0, 12);
                let mut overtime = None;
                if p == f2 && off == over_f2 {
                    clock_out = end + 50;
                    overtime = Some((50, "客户家热水器故障，服务至深夜"));
                } else if p == a1 && off == over_a1 {
                    clock_out = end + 60;
                    overtime = Some((60, "处理积压回访"));
                } else if worked_rest {
                    overtime = Some(((end - start), "休息日加班：小区集中报修"));
                }
                for (kind, minute) in [(ClockKind::In, clock_in), (ClockKind::Out, clock_out)] {
                    let t = self.t.at(date, minute);
                    if !self.t.happened(t) {
                        break;
                    }
                    let (id, ds) = (self.rng.id(), date.to_string());
                    push(
                        p,
                        date,
                        ev(t, p, move |a: &mut AttendanceMonth, by| {
                            a.clock(id, by, &ds, kind, shift, Some(location.into()));
                            Ok(())
                        }),
                    );
                    if kind == ClockKind::Out {
                        if let Some((minutes, note)) = overtime {
                            let (id, ds) = (self.rng.id(), date.to_string());
                            push(
                                p,
                                date,
                                ev(t + MINUTE, p, move |a: &mut AttendanceMonth, by| {
                                    a.add_overtime(id, by, &ds, minutes, Some(note.into()));
                                    Ok(())
                                }),
                            );
                        }
                        if shift == Shift::Late && AGENTS.contains(&p) && self.rng.percent(35) {
                            let note = self.rng.pick(HANDOVERS).to_string();
                            let (id, ds) = (self.rng.id(), date.to_string());
                            push(
                                p,
                                date,
                                ev(t - 5 * MINUTE, p, move |a: &mut AttendanceMonth, by| {
                                    a.add_handover(id, by, &ds, shift, &note);
                                    Ok(())
                                }),
                            );
                        }
                    }
                }
            }
        }

        for ((p, month), evs) in docs {
            let staff = self.id(p);
            let label = format!("attendance of {} for {month}", PEOPLE[p].0);
            let key = format!("attendance/{DEMO_TEAM}/{staff}/{month}");
            let (id, mut doc) = self.keyed(&label, &key, &AttendanceMonth::new(&staff, DEMO_TEAM, &month))?;
            self.play(&label, &mut doc, evs)?;
            let a: AttendanceMonth = doc.read().map_err(|e| refused(&label, e))?;
            self.count("clock_events", a.clock_events.len());
            self.count("leave", a.leave.len());
            self.count("overtime", a.overtime.len());
            self.count("swaps", a.swaps.len());
            self.submit(&label, DocKind::Attendance, &id, &mut doc)?;
        }
        Ok(())
    }

    fn roster(&mut self, month: &str) -> Result<(), ServerError> {
        let label = format!("the roster for {month}");
        let (id, mut doc) =
            self.keyed(&label, &format!("roster/{DEMO_TEAM}/{month}"), &Roster::new(DEMO_TEAM, month))?;
        let first = Date::parse(&format!("{month}-01")).ok_or_else(|| refused(&label, "bad month"))?;
        let mut shifts = BTreeMap::new();
        let mut d = first;
        while d.month_key() == month {
            for p in STAFF {
                shifts.insert(Roster::key(&d.to_string(), &self.id(p)), self.shift(d, p));
            }
            d = d.add_days(1);
        }
        let written = self.t.clamp(self.t.at(first.add_days(-6), 10 * 60));
        let evs = vec![ev(written, SUP, move |r: &mut Roster, _: &Actor| {
            r.shifts = shifts;
            Ok(())
        })];
        self.play(&label, &mut doc, evs)?;
        self.submit(&label, DocKind::Roster, &id, &mut doc)
    }

    // -- appearance --

    fn appearance(&mut self) -> Result<(), ServerError> {
        let label = "the appearance template";
        let created = self.t.at(self.t.day(-90), 9 * 60);
        let items = default_template_items();
        let template = AppearanceTemplate {
            kind: DocKind::AppearanceTemplate,
            schema_version: SCHEMA_VERSION,
            team: DEMO_TEAM.into(),
            versions: BTreeMap::from([(
                "1".to_string(),
                TemplateVersion {
                    version: 1,
                    items: items.clone(),
                    created_by: self.id(SUP),
                    created_at: created,
                },
            )]),
        };
        let (template_id, mut doc) = self.create(label, &template, SUP, created)?;
        self.submit(label, DocKind::AppearanceTemplate, &template_id, &mut doc)?;
        let sheet_template = SheetTemplate { template_id, version: 1, items };

        for off in -19..=0 {
            let date = self.t.day(off);
            let label = format!("the appearance sheet of {date}");
            let mut evs = Vec::new();
            for p in STAFF.into_iter().filter(|p| *p != SUP) {
                let Some((start, _)) = self.shift(date, p).hours() else { continue };
                if self.off_days.contains(&(p, off)) {
                    continue;
                }
                let t = self.t.at(date, start + 3 + p as i64);
                if !self.t.happened(t) {
                    continue;
                }
                let mut results = BTreeMap::new();
                if self.rng.percent(8) {
                    let (code, note) = *self.rng.pick(FAILS);
                    results.insert(
                        code.to_string(),
                        ItemResult { result: CheckResult::Fail, note: Some(note.into()), photo: None },
                    );
                }
                let (staff, tpl) = (self.id(p), sheet_template.clone());
                evs.push(ev(t, SUP, move |s: &mut AppearanceCheck, by| s.record(by, &staff, &tpl, results)));
            }
            if evs.is_empty() {
                continue;
            }
            self.count("appearance_checks", evs.len());
            let key = format!("appearance_check/{DEMO_TEAM}/{date}");
            let (id, mut doc) =
                self.keyed(&label, &key, &AppearanceCheck::new(DEMO_TEAM, &date.to_string()))?;
            self.play(&label, &mut doc, evs)?;
            self.submit(&label, DocKind::AppearanceCheck, &id, &mut doc)?;
        }
        Ok(())
    }
}

/// What becomes of a scheduled callback whose date has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Course {
    /// Made on its date (when that is past), sometimes after an unanswered attempt.
    Made,
    /// Still open; maybe one unanswered attempt.
    Open,
    /// Nothing happens (it gets cancelled).
    Quiet,
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    stage: PurchaseStage,
    /// Days since the file was created.
    age: i64,
    agent: usize,
    field: Option<usize>,
    /// Assigned recently (or over a week ago) and not contacted yet.
    fresh: bool,
    /// Which of the field worker's visits today this customer gets (0 = done this morning …).
    today_visit: Option<u8>,
    /// Selected for the satisfaction campaign.
    campaign: bool,
}

// ---- word lists ------------------------------------------------------------------------------

const SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("高", "gao"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("肖", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("潘", "pan"),
    ("袁", "yuan"),
    ("蔡", "cai"),
    ("蒋", "jiang"),
    ("余", "yu"),
    ("杜", "du"),
    ("叶", "ye"),
    ("程", "cheng"),
    ("魏", "wei"),
    ("苏", "su"),
    ("吕", "lv"),
    ("丁", "ding"),
    ("沈", "shen"),
];

const GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("秀英", "xiuying"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀兰", "xiulan"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂英", "guiying"),
    ("建华", "jianhua"),
    ("志强", "zhiqiang"),
    ("海燕", "haiyan"),
    ("晓东", "xiaodong"),
    ("丹", "dan"),
    ("玉兰", "yulan"),
    ("婷", "ting"),
    ("浩", "hao"),
    ("宇", "yu"),
    ("欣怡", "xinyi"),
    ("子涵", "zihan"),
    ("雪梅", "xuemei"),
    ("国庆", "guoqing"),
    ("建国", "jianguo"),
    ("红梅", "hongmei"),
    ("淑珍", "shuzhen"),
    ("文博", "wenbo"),
    ("佳琪", "jiaqi"),
    ("思远", "siyuan"),
    ("俊杰", "junjie"),
    ("美玲", "meiling"),
    ("志明", "zhiming"),
    ("丽华", "lihua"),
    ("春生", "chunsheng"),
    ("晓燕", "xiaoyan"),
    ("亮", "liang"),
    ("斌", "bin"),
    ("慧敏", "huimin"),
    ("雨涵", "yuhan"),
    ("海峰", "haifeng"),
    ("立新", "lixin"),
];

const DISTRICTS: &[(&str, &[&str])] = &[
    ("浦东新区", &["世纪大道", "张杨路", "锦绣路", "川沙路", "金桥路"]),
    ("徐汇区", &["漕溪北路", "龙华中路", "田林路", "宜山路"]),
    ("静安区", &["共和新路", "延长中路", "江宁路"]),
    ("闵行区", &["莘庄路", "七莘路", "虹梅南路", "都市路"]),
    ("长宁区", &["天山路", "虹桥路", "古北路"]),
    ("普陀区", &["真北路", "曹杨路", "武宁路"]),
    ("杨浦区", &["国权路", "控江路", "黄兴路"]),
    ("宝山区", &["牡丹江路", "友谊路", "共康路"]),
    ("嘉定区", &["城中路", "博乐路", "清河路"]),
    ("松江区", &["人民北路", "新松江路", "九亭大街"]),
    ("虹口区", &["四川北路", "曲阳路"]),
    ("青浦区", &["城中东路", "华新路"]),
];

const TAGS: &[&str] =
    &["老客户", "VIP", "价格敏感", "装修中", "新房交付", "二次购买", "需夜间联系", "家有老人"];

const NOTES: &[&str] = &[
    "客户白天上班，请晚上 7 点后联系",
    "小区需提前登记车辆，上门前一天告知物业",
    "家中有宠物，上门前请提前电话告知",
    "对安装时间要求严格，务必准时",
    "客户只接受微信沟通",
];

/// A product line: name, items (name, price range in yuan), repairs (work, parts), maintenance.
#[derive(Debug)]
struct Category {
    name: &'static str,
    items: &'static [(&'static str, i64, i64)],
    repairs: &'static [(&'static str, &'static [(&'static str, i64)])],
    maintenance: &'static str,
}

const CATEGORIES: &[Category] = &[
    Category {
        name: "整体橱柜",
        items: &[("整体橱柜（L 型 3.2 米）", 18_000, 45_000), ("石英石台面更换", 3_000, 8_000)],
        repairs: &[
            ("柜门铰链松动，更换缓冲铰链并调平柜门", &[("缓冲铰链", 2)]),
            ("抽屉滑轨卡顿，更换三节滑轨", &[("三节滑轨 450mm", 1)]),
            ("水槽下方渗水，重新打胶并更换下水软管", &[("下水软管", 1), ("防霉玻璃胶", 1)]),
        ],
        maintenance: "橱柜年度保养：调整铰链、清洁台面、检查水槽密封",
    },
    Category {
        name: "衣柜定制",
        items: &[("主卧衣柜定制（2.4 米移门）", 9_000, 26_000), ("儿童房衣柜书桌组合", 7_000, 15_000)],
        repairs: &[
            ("移门滑轮脱轨，更换滑轮并校正轨道", &[("移门滑轮", 2)]),
            ("柜体层板下沉，加装层板托", &[("层板托", 8)]),
        ],
        maintenance: "衣柜保养：润滑轨道，紧固五金",
    },
    Category {
        name: "木地板",
        items: &[("实木复合地板 85㎡（含铺装）", 16_000, 32_000), ("强化地板 60㎡（含铺装）", 6_000, 12_000)],
        repairs: &[
            ("局部起拱，拆装两排地板并重新预留伸缩缝", &[("踢脚线", 2)]),
            ("地板异响，加固龙骨并更换锁扣地板 3 块", &[("锁扣地板", 3)]),
        ],
        maintenance: "地板保养：打蜡护理，检查伸缩缝",
    },
    Category {
        name: "卫浴",
        items: &[
            ("卫浴套装（智能马桶、浴室柜、花洒）", 8_000, 22_000),
            ("一字型淋浴房 1.2 米", 4_000, 9_000),
        ],
        repairs: &[
            ("马桶水箱进水阀失灵，更换进水阀", &[("进水阀", 1)]),
            ("花洒出水小，清洗滤网并更换花洒软管", &[("花洒软管 1.5m", 1)]),
            ("淋浴房门合页松动，更换合页并重新打胶", &[("玻璃门合页", 2), ("防霉玻璃胶", 1)]),
        ],
        maintenance: "卫浴保养：清洗智能马桶喷嘴，检查角阀与软管",
    },
    Category {
        name: "燃气热水器",
        items: &[("燃气热水器 16L 恒温", 3_500, 6_500)],
        repairs: &[
            ("点火不良，更换点火针并清理燃烧室", &[("点火针", 1)]),
            ("出水忽冷忽热，更换水流量传感器", &[("水流量传感器", 1)]),
        ],
        maintenance: "热水器年度保养：清洗换热器，检测燃气泄漏",
    },
    Category {
        name: "净水器",
        items: &[("厨下式净水器 RO-600G", 2_500, 5_200), ("全屋前置过滤器", 1_200, 3_000)],
        repairs: &[
            ("出水量变小，更换 PP 棉与活性炭滤芯", &[("PP 棉滤芯", 1), ("活性炭滤芯", 1)]),
            ("机器漏水，更换快接头", &[("2 分快接头", 2)]),
        ],
        maintenance: "净水器保养：更换前置滤芯，冲洗 RO 膜",
    },
    Category {
        name: "中央空调",
        items: &[("家用中央空调一拖四", 38_000, 68_000), ("风管机 3 匹", 9_000, 14_000)],
        repairs: &[
            ("内机漏水，疏通冷凝水管并调整排水坡度", &[]),
            ("制冷效果差，检漏并补充冷媒", &[("R410A 冷媒（公斤）", 2)]),
        ],
        maintenance: "空调保养：清洗滤网与蒸发器，检查冷媒压力",
    },
    Category {
        name: "门窗",
        items: &[("断桥铝门窗（全屋 12 樘）", 22_000, 48_000), ("阳台推拉门", 5_000, 9_000)],
        repairs: &[
            ("推拉窗滑轮磨损，更换滑轮", &[("推拉窗滑轮", 4)]),
            ("窗户渗水，重新打外侧密封胶", &[("硅酮耐候胶", 2)]),
        ],
        maintenance: "门窗保养：润滑五金件，检查密封条",
    },
];

const LEAD_TALK: &[&str] = &[
    "咨询{cat}价格与安装周期，已发送报价单",
    "客户到店看样，对{cat}款式比较满意，回去和家人商量",
    "询问{cat}近期优惠活动，约定下周再联系",
    "客户比较了几家品牌，关注售后保修年限",
    "客户发来户型图，已转设计师出方案",
];

const CUSTOMER_TALK: &[&str] = &[
    "确认送货与安装时间，客户要求周末上门",
    "客户询问{cat}保修政策，已说明保修范围与年限",
    "提醒客户验收注意事项，发送使用说明",
    "客户反馈{cat}使用情况良好",
    "客户咨询加购配件，已报价",
];

const EVALUATIONS: &[&str] = &[
    "服务态度好，安装师傅很专业",
    "整体满意，送货稍慢了一点",
    "产品使用正常，师傅走前把现场打扫干净了",
    "响应及时，问题当天就解决了",
    "价格实惠，质量不错，会推荐给朋友",
];

const SUGGESTIONS: &[&str] = &[
    "希望上门前能提前一小时电话确认",
    "建议增加周末和晚上的上门时段",
    "说明书字太小，希望有视频教程",
    "希望保修期能再长一些",
];

const ISSUES: &[&str] =
    &["使用中偶尔有异响", "柜门关闭不严", "安装后墙面有少量划痕", "遥控器失灵", "出水有时偏小"];

const HANDOVERS: &[&str] = &[
    "晚班交接：3 位客户回访未接通，已改约明早 9 点后再拨",
    "晚班交接：一起热水器投诉已转售后服务部，明早跟进处理结果",
    "晚班交接：客户王先生要求明天上午回电确认安装时间",
    "晚班交接：今日回访全部完成，无遗留",
];

const COMPLAINTS: &[(ComplaintCategory, &str, &str, &str, &str)] = &[
    (
        ComplaintCategory::ProductQuality,
        "产品使用不到三个月出现质量问题，要求换新",
        "品质部",
        "经厂家鉴定属质量问题，已免费更换部件并延长保修一年",
        "原因：该批次来料抽检不足。改进：要求供应商增加出厂检验，到货抽检比例提高到 10%",
    ),
    (
        ComplaintCategory::Service,
        "安装师傅迟到两小时且未提前电话通知，态度敷衍",
        "售后服务部",
        "向客户当面致歉，赠送一次免费保养；对相关师傅进行服务规范培训",
        "原因：派单未考虑路程时间。改进：派单时预估路程，预计迟到须提前 30 分钟告知客户",
    ),
    (
        ComplaintCategory::Delivery,
        "约定的送货日期延误一周，多次催问没有明确答复",
        "物流部",
        "协调加急配送，次日送达，并补偿 200 元代金券",
        "原因：仓库缺货未同步给客服。改进：缺货时由客服主动告知客户并给出新日期",
    ),
    (
        ComplaintCategory::Installation,
        "安装位置与约定不符，墙面留下多个多余孔洞",
        "安装部",
        "重新安装并修补墙面，客户现场确认",
        "原因：安装前未与客户复核图纸。改进：安装前增加现场确认签字环节",
    ),
    (
        ComplaintCategory::Billing,
        "安装费用与报价不一致，多收了辅材费 380 元",
        "财务部",
        "核实后退还多收的辅材费 380 元",
        "原因：报价单未列明辅材。改进：报价模板增加辅材明细",
    ),
    (
        ComplaintCategory::Other,
        "客服电话多次无人接听，留言后也没人回电",
        "客服部",
        "主管致电道歉，指定专人跟进客户后续需求",
        "原因：午间时段坐席不足。改进：增加午间值班，留言 2 小时内回电",
    ),
];

const FAILS: &[(&str, &str)] = &[
    ("dress.badge", "工牌未佩戴"),
    ("dress.shoes", "鞋带未系好"),
    ("dress.uniform", "制服袖口有污渍"),
    ("dress.buttons", "外衣敞开未扣扣子"),
    ("grooming.hair", "头发凌乱"),
    ("bearing.no_leaning", "晨会时倚靠柜台"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_in_range() {
        let (mut a, mut b) = (Rng(SEED), Rng(SEED));
        for _ in 0..1000 {
            assert_eq!(a.next(), b.next());
            let x = a.between(-3, 5);
            assert!((-3..=5).contains(&x));
            b.between(-3, 5);
        }
        assert_eq!(a.between(4, 4), 4);
        assert_eq!(a.below(0), 0);
    }
}
