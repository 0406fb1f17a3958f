//! The benchmark driver of the Kefu Rust client (issue 7): the full stack a user gets — each
//! phone a real phone store (SQLite file) and the `kefu-sync` client — driven through the
//! same scenarios as the JavaScript load generator (`tests/bench/js/load.mjs`) and reporting
//! the same JSON (the driver contract in `tests/bench/README.md`).
//!
//! ```sh
//! cargo build --release -p kefu-sync --example bench-driver
//! python3 tests/bench/run.py --driver rust=target/release/examples/bench-driver
//! ```
//!
//! It is run by `tests/bench/run.py` against a fresh kefu-server with accounts made for it:
//!
//! ```text
//! bench-driver --target kefu --url http://127.0.0.1:PORT --scenario S --phones C --docs D
//!     --edits E --timeout SECONDS --credentials FILE [--interval-ms MS] [--live-seconds S]
//! ```
//!
//! Phase boundaries go to stderr as `[bench] phase NAME start` / `[bench] phase NAME end MS`;
//! the last stdout line is one JSON object; exit 1 with `{"error": …}` on failure.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kefu_model::enums::{CallbackOutcome, ContactChannel, IntentLevel, PurchaseStage, SourceChannel};
use kefu_model::records::customer::{Classification, Profile};
use kefu_model::verbs::{CallbackResult, NewCallback};
use kefu_store::{Client, NewCustomer};
use kefu_sync::{SharedStore, Status};
use serde_json::{json, Value};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, Error>;

const SCENARIOS: [&str; 5] = ["field-day", "burst", "reconnect", "concurrent", "live"];
/// Sign-ins at once (each costs the server an argon2id hash).
const LOGIN_CONCURRENCY: usize = 4;
/// How often completion is checked (outboxes, heads).
const POLL: Duration = Duration::from_millis(5);
/// How long a live wait sleeps between looks at the other phone's store when no sync
/// exchange finished there (the wake-up normally comes from its sync listener).
const LIVE_RECHECK: Duration = Duration::from_millis(50);
/// A live edit not seen on the other phone within this counts as lost.
const LIVE_LOST_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Opts {
    url: String,
    scenario: String,
    phones: usize,
    docs: usize,
    edits: usize,
    timeout: Duration,
    credentials: PathBuf,
    interval_ms: u64,
    live_seconds: u64,
}

fn parse_opts() -> Res<Opts> {
    let mut m: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let Some(k) = a.strip_prefix("--") else { return Err(format!("unexpected argument {a}").into()) };
        let v = args.next().ok_or_else(|| format!("--{k} needs a value"))?;
        m.insert(k.to_string(), v);
    }
    let get = |k: &str, d: Option<&str>| -> Res<String> {
        m.get(k).cloned().or(d.map(str::to_string)).ok_or_else(|| format!("--{k} is required").into())
    };
    let num = |k: &str, d: &str| -> Res<u64> {
        let v = get(k, Some(d))?;
        v.parse().map_err(|_| format!("--{k} must be a whole number, not {v:?}").into())
    };
    if get("target", Some("kefu"))? != "kefu" {
        return Err("this driver speaks to kefu-server only (--target kefu)".into());
    }
    let scenario = get("scenario", None)?;
    if !SCENARIOS.contains(&scenario.as_str()) {
        return Err(format!("--scenario must be one of {}", SCENARIOS.join(", ")).into());
    }
    Ok(Opts {
        url: get("url", None)?.trim_end_matches('/').to_string(),
        scenario,
        phones: num("phones", "20")? as usize,
        docs: num("docs", "50")? as usize,
        edits: num("edits", "5")? as usize,
        timeout: Duration::from_secs(num("timeout", "300")?),
        credentials: get("credentials", None)?.into(),
        interval_ms: num("interval-ms", "200")?,
        live_seconds: num("live-seconds", "60")?,
    })
}

#[derive(Debug, Clone)]
struct Account {
    username: String,
    password: String,
}

#[derive(Debug, Clone)]
struct Creds {
    supervisor: Account,
    agents: Vec<Account>,
}

fn read_creds(path: &Path) -> Res<Creds> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let acc = |a: &Value| -> Res<Account> {
        Ok(Account {
            username: a["username"].as_str().ok_or("credentials: username")?.to_string(),
            password: a["password"].as_str().ok_or("credentials: password")?.to_string(),
        })
    };
    let agents =
        v["agents"].as_array().ok_or("credentials: agents")?.iter().map(acc).collect::<Res<Vec<_>>>()?;
    if agents.is_empty() {
        return Err("credentials: no agents".into());
    }
    Ok(Creds { supervisor: acc(&v["supervisor"])?, agents })
}

// ---- phases ---------------------------------------------------------------------------------

#[derive(Default)]
struct Phases {
    ms: serde_json::Map<String, Value>,
    bytes: serde_json::Map<String, Value>,
}

impl Phases {
    async fn run<T, F: std::future::Future<Output = Res<T>>>(&mut self, name: &str, f: F) -> Res<T> {
        eprintln!("[bench] phase {name} start");
        let w0 = kefu_sync::wire_totals();
        let t = Instant::now();
        let r = f.await?;
        let ms = (t.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
        let w1 = kefu_sync::wire_totals();
        eprintln!("[bench] phase {name} end {ms}");
        self.ms.insert(name.into(), json!(ms));
        self.bytes.insert(
            name.into(),
            json!({"sent": w1.ws_bytes_sent - w0.ws_bytes_sent, "received": w1.ws_bytes_received - w0.ws_bytes_received,
                   "http_requests": w1.http_requests - w0.http_requests}),
        );
        Ok(r)
    }

    fn wall(&self, names: &[&str]) -> f64 {
        let s: f64 = names.iter().filter_map(|n| self.ms.get(*n).and_then(Value::as_f64)).sum();
        (s * 10.0).round() / 10.0
    }
}

// ---- phones ---------------------------------------------------------------------------------

struct Phone {
    name: String,
    store: SharedStore,
    user_id: String,
    docs: Vec<kefu_model::DocumentId>,
}

fn lock(store: &SharedStore) -> std::sync::MutexGuard<'_, Client> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// A store op off the async threads.
async fn op<T: Send + 'static>(
    store: &SharedStore,
    f: impl FnOnce(&mut Client) -> Res<T> + Send + 'static,
) -> Res<T> {
    let s = store.clone();
    tokio::task::spawn_blocking(move || f(&mut lock(&s))).await?
}

async fn sign_in(dir: &Path, name: &str, url: &str, acc: &Account) -> Res<Phone> {
    let (path, url, acc, device) =
        (dir.join(format!("{name}.db")), url.to_string(), acc.clone(), format!("bench {name}"));
    let (client, user_id) = tokio::task::spawn_blocking(move || -> Res<(Client, String)> {
        let mut c = Client::open(&path)?;
        let s = kefu_sync::login(&mut c, &url, &acc.username, &acc.password, &device)?;
        Ok((c, s.user_id))
    })
    .await??;
    Ok(Phone { name: name.into(), store: Arc::new(Mutex::new(client)), user_id, docs: Vec::new() })
}

/// Signs in `count` phones, phone i as agent `account(i)`, a few at a time.
async fn make_phones(
    dir: &Path,
    o: &Opts,
    creds: &Creds,
    count: usize,
    account: impl Fn(usize) -> usize,
) -> Res<Vec<Phone>> {
    let mut phones = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(LOGIN_CONCURRENCY) {
        let mut tasks = Vec::new();
        for &i in chunk {
            let (dir, url, acc) =
                (dir.to_path_buf(), o.url.clone(), creds.agents[account(i) % creds.agents.len()].clone());
            tasks.push(tokio::spawn(async move { sign_in(&dir, &format!("phone-{i}"), &url, &acc).await }));
        }
        for t in tasks {
            phones.push(t.await??);
        }
    }
    Ok(phones)
}

fn profile(n: usize) -> Profile {
    Profile {
        name: format!("压测客户 {n}"),
        phones: vec!["138 0013 8000".into()],
        email: Some("bench@example.com".into()),
        wechat: None,
        address: Some("上海市浦东新区锦绣路 1000 弄".into()),
        district: Some("浦东新区".into()),
        source: SourceChannel::Phone,
    }
}

fn tomorrow(c: &Client) -> String {
    let today = c.today();
    kefu_model::dates::Date::parse(&today).map_or(today, |d| d.add_days(1).to_string())
}

/// What the JS generator's customer has: a profile, a classification and a first consultation.
fn create(c: &mut Client, n: usize) -> Res<kefu_model::DocumentId> {
    let id = c.create_customer(NewCustomer {
        profile: profile(n),
        classification: Some(Classification {
            category: Some("整体橱柜".into()),
            intent: IntentLevel::Unknown,
            stage: PurchaseStage::Lead,
            tags: vec!["bench".into()],
            notes: None,
        }),
    })?;
    c.log_contact(&id, ContactChannel::Phone, "客户来电咨询整体橱柜（压测）")?;
    Ok(id)
}

/// Edit number k of a file, as load.mjs: a consultation, a scheduled callback, or the
/// completion of that callback, in turn.
fn edit(
    c: &mut Client,
    id: &kefu_model::DocumentId,
    k: usize,
    open: &mut Option<String>,
    me: &str,
) -> Res<()> {
    match (k % 3, open.take()) {
        (1, _) => {
            let date = tomorrow(c);
            let cb = c.schedule_callback(
                id,
                &NewCallback {
                    agent: me.into(),
                    date,
                    method: ContactChannel::Phone,
                    campaign: None,
                    visit: None,
                },
            )?;
            *open = Some(cb);
        }
        (2, Some(cb)) => c.record_callback(
            id,
            &cb,
            &CallbackResult {
                method: ContactChannel::Phone,
                outcome: CallbackOutcome::Satisfied,
                satisfaction: Some(5),
                evaluation: Some("服务及时".into()),
                suggestions: None,
                issue: None,
                follow_up_on: None,
                note: None,
            },
        )?,
        _ => {
            c.log_contact(id, ContactChannel::Wechat, &format!("第 {} 次跟进：客户询问安装时间", k + 1))?;
        }
    }
    Ok(())
}

/// The phone's work: D new files, then E rounds of edits over them. `after` runs after each
/// change (the app's "sync now" nudge when online).
async fn work(p: &mut Phone, o: &Opts, after: &(dyn Fn() + Send + Sync)) -> Res<()> {
    let base = p.name.len() * 1_000_003;
    for d in 0..o.docs {
        let id = op(&p.store, move |c| create(c, base + d)).await?;
        p.docs.push(id);
        after();
    }
    let mut open: Vec<Option<String>> = vec![None; o.docs];
    for k in 0..o.edits {
        for (d, slot) in open.iter_mut().enumerate() {
            let (id, me, mut state) = (p.docs[d], p.user_id.clone(), slot.take());
            state = op(&p.store, move |c| {
                edit(c, &id, k, &mut state, &me)?;
                Ok(state)
            })
            .await?;
            *slot = state;
            after();
        }
    }
    Ok(())
}

type Handle = Arc<Mutex<kefu_sync::SyncHandle>>;
type WatchRx = tokio::sync::watch::Receiver<u64>;

fn start(store: &SharedStore) -> Handle {
    Arc::new(Mutex::new(kefu_sync::start_on(&tokio::runtime::Handle::current(), store.clone(), listener())))
}

/// A background sync whose every finished exchange ("Idle") bumps a counter, so a waiting
/// task wakes when the phone has taken in something instead of polling its store.
fn start_watched(store: &SharedStore) -> (Handle, tokio::sync::watch::Receiver<u64>) {
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    let on_status: Arc<dyn Fn(Status) + Send + Sync> = Arc::new(move |s| match s {
        Status::Idle => {
            tx.send_modify(|n| *n += 1);
        }
        Status::Error { message, .. } => eprintln!("[bench] sync error: {message}"),
        _ => {}
    });
    (
        Arc::new(Mutex::new(kefu_sync::start_on(
            &tokio::runtime::Handle::current(),
            store.clone(),
            on_status,
        ))),
        rx,
    )
}

fn nudge(h: &Handle) {
    h.lock().unwrap_or_else(|p| p.into_inner()).sync_now();
}

/// Stops background syncs (their stop waits, so off the async threads).
async fn stop_all(handles: Vec<Handle>) -> Res<()> {
    for h in handles {
        let h = Arc::try_unwrap(h).map_err(|_| "a sync handle is still shared")?;
        let h = h.into_inner().unwrap_or_else(|p| p.into_inner());
        tokio::task::spawn_blocking(move || h.stop()).await?;
    }
    Ok(())
}

fn listener() -> Arc<dyn Fn(Status) + Send + Sync> {
    Arc::new(|s| {
        if let Status::Error { message, .. } = s {
            eprintln!("[bench] sync error: {message}");
        }
    })
}

async fn sync_once(store: &SharedStore) -> Res<kefu_sync::Report> {
    let r = kefu_sync::sync_once(store.clone(), listener()).await?;
    if r.rejected > 0 {
        return Err(format!("the server rejected {} changes", r.rejected).into());
    }
    Ok(r)
}

/// Waits until no phone has a change the server has not accepted.
async fn wait_accepted(phones: &[Phone], deadline: Instant, what: &str) -> Res<()> {
    for p in phones {
        loop {
            let n = op(&p.store, |c| Ok(c.outbox()?.len())).await?;
            if n == 0 {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "timed out during {what}: {} still has {n} changes not accepted",
                    p.name
                )
                .into());
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(())
}

async fn heads_of(store: &SharedStore) -> Res<HashMap<String, Vec<String>>> {
    op(store, |c| Ok(c.local_heads()?)).await
}

async fn expected(phones: &[Phone]) -> Res<HashMap<String, Vec<String>>> {
    let mut all = HashMap::new();
    for p in phones {
        let h = heads_of(&p.store).await?;
        for d in &p.docs {
            let id = d.to_string();
            all.insert(
                id.clone(),
                h.get(&id).cloned().ok_or_else(|| format!("{id}: no heads on {}", p.name))?,
            );
        }
    }
    Ok(all)
}

/// A fresh supervisor phone signs in and pulls everything; checks every file arrived whole.
async fn supervisor_pull(sup: &Phone, want: &HashMap<String, Vec<String>>) -> Res<kefu_sync::Report> {
    let r = sync_once(&sup.store).await?;
    let have = heads_of(&sup.store).await?;
    let missing = want.iter().filter(|(id, h)| have.get(*id) != Some(h)).count();
    if missing > 0 {
        return Err(format!(
            "the supervisor's pull lacks {missing} of {} files (or has other heads)",
            want.len()
        )
        .into());
    }
    Ok(r)
}

// ---- scenarios ------------------------------------------------------------------------------

struct Outcome {
    wall: Vec<&'static str>,
    docs: Option<usize>,
    extra: serde_json::Map<String, Value>,
}

async fn field_day(dir: &Path, o: &Opts, creds: &Creds, ph: &mut Phases, deadline: Instant) -> Res<Outcome> {
    let mut phones = ph.run("login", make_phones(dir, o, creds, o.phones, |i| i)).await?;
    let sup = ph.run("login_supervisor", sign_in(dir, "supervisor", &o.url, &creds.supervisor)).await?;
    // Online: background sync on every phone, nudged after every change as the app does.
    let handles =
        ph.run("connect", async { Ok(phones.iter().map(|p| start(&p.store)).collect::<Vec<_>>()) }).await?;
    ph.run("upload", async {
        let mut tasks = Vec::new();
        for (mut p, h) in phones.drain(..).zip(handles.iter().cloned()) {
            let o = o.clone();
            tasks.push(tokio::spawn(async move { work(&mut p, &o, &move || nudge(&h)).await.map(|_| p) }));
        }
        for t in tasks {
            phones.push(t.await??);
        }
        wait_accepted(&phones, deadline, "the upload").await
    })
    .await?;
    let want = expected(&phones).await?;
    stop_all(handles).await?;
    let r = ph.run("pull", supervisor_pull(&sup, &want)).await?;
    let mut extra = serde_json::Map::new();
    extra.insert("pull_report".into(), json!(format!("{r:?}")));
    Ok(Outcome { wall: vec!["connect", "upload", "pull"], docs: Some(o.phones * o.docs), extra })
}

async fn burst(dir: &Path, o: &Opts, creds: &Creds, ph: &mut Phases) -> Res<Outcome> {
    let mut phones = ph.run("login", make_phones(dir, o, creds, o.phones, |i| i)).await?;
    let sup = ph.run("login_supervisor", sign_in(dir, "supervisor", &o.url, &creds.supervisor)).await?;
    ph.run("offline_work", async {
        for p in phones.iter_mut() {
            work(p, o, &|| {}).await?;
        }
        Ok(())
    })
    .await?;
    ph.run("upload", async {
        let tasks: Vec<_> = phones
            .iter()
            .map(|p| {
                let s = p.store.clone();
                tokio::spawn(async move { sync_once(&s).await })
            })
            .collect();
        for t in tasks {
            t.await??;
        }
        Ok(())
    })
    .await?;
    let want = expected(&phones).await?;
    ph.run("pull", supervisor_pull(&sup, &want)).await?;
    Ok(Outcome { wall: vec!["upload", "pull"], docs: Some(o.phones * o.docs), extra: Default::default() })
}

async fn reconnect(dir: &Path, o: &Opts, creds: &Creds, ph: &mut Phases) -> Res<Outcome> {
    let mut phones = ph.run("login", make_phones(dir, o, creds, o.phones, |i| i)).await?;
    ph.run("setup", async {
        for p in phones.iter_mut() {
            work(p, o, &|| {}).await?;
        }
        let tasks: Vec<_> = phones
            .iter()
            .map(|p| {
                let s = p.store.clone();
                tokio::spawn(async move { sync_once(&s).await })
            })
            .collect();
        for t in tasks {
            t.await??;
        }
        Ok(())
    })
    .await?;
    let before = expected(&phones).await?;
    // The app restarts: each phone reopens its store file (no state kept in memory).
    ph.run("restart", async {
        for p in phones.iter_mut() {
            let path = dir.join(format!("{}.db", p.name));
            let fresh = tokio::task::spawn_blocking(move || Client::open(&path)).await??;
            *lock(&p.store) = fresh;
        }
        Ok(())
    })
    .await?;
    let reports = ph
        .run("reconnect", async {
            let tasks: Vec<_> = phones
                .iter()
                .map(|p| {
                    let s = p.store.clone();
                    tokio::spawn(async move { sync_once(&s).await })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await??);
            }
            Ok(out)
        })
        .await?;
    let opened = reports.iter().filter(|r| r.connected).count();
    let exchanged: usize = reports.iter().map(|r| r.exchanged).sum();
    if expected(&phones).await? != before {
        return Err("a file changed during the reconnect".into());
    }
    let requests = ph.bytes.get("reconnect").and_then(|b| b["http_requests"].as_u64()).unwrap_or(0);
    let mut extra = serde_json::Map::new();
    extra.insert("websockets_opened".into(), json!(opened));
    extra.insert("documents_exchanged".into(), json!(exchanged));
    extra.insert("http_requests_per_phone".into(), json!(requests as f64 / o.phones as f64));
    Ok(Outcome { wall: vec!["reconnect"], docs: Some(o.phones * o.docs), extra })
}

async fn concurrent(dir: &Path, o: &Opts, creds: &Creds, ph: &mut Phases, deadline: Instant) -> Res<Outcome> {
    if o.phones != 2 {
        return Err("the concurrent scenario uses exactly 2 phones (--phones 2)".into());
    }
    // Two devices of one agent: only the assigned agent may write a customer file.
    let mut ab = ph.run("login", make_phones(dir, o, creds, 2, |_| 0)).await?;
    let mut b = ab.pop().ok_or("no phone b")?;
    let mut a = ab.pop().ok_or("no phone a")?;
    ph.run("setup", async {
        let no_edits = Opts { edits: 0, ..o.clone() };
        work(&mut a, &no_edits, &|| {}).await?;
        sync_once(&a.store).await?;
        sync_once(&b.store).await?;
        b.docs = a.docs.clone();
        let (ha, hb) = (heads_of(&a.store).await?, heads_of(&b.store).await?);
        if a.docs.iter().any(|d| ha.get(&d.to_string()) != hb.get(&d.to_string())) {
            return Err("phone b did not get phone a's files".into());
        }
        Ok(())
    })
    .await?;
    ph.run("offline_work", async {
        for (p, intent) in [(&a, IntentLevel::High), (&b, IntentLevel::Medium)] {
            for id in p.docs.clone() {
                let (me, e) = (p.user_id.clone(), o.edits);
                op(&p.store, move |c| {
                    let mut open = None;
                    for k in 0..e {
                        edit(c, &id, k, &mut open, &me)?;
                    }
                    // The same field on both phones: a conflict Kefu keeps and shows.
                    let mut cl: kefu_model::records::customer::CustomerFile = c.read(&id)?;
                    cl.classification.intent = intent;
                    c.update_classification(&id, cl.classification)?;
                    Ok(())
                })
                .await?;
            }
        }
        Ok(())
    })
    .await?;
    let rounds = ph
        .run("reconcile", async {
            let mut rounds = 0;
            loop {
                rounds += 1;
                let (sa, sb) = (a.store.clone(), b.store.clone());
                let (ra, rb) = tokio::join!(sync_once(&sa), sync_once(&sb));
                ra?;
                rb?;
                let (ha, hb) = (heads_of(&a.store).await?, heads_of(&b.store).await?);
                if a.docs.iter().all(|d| ha.get(&d.to_string()) == hb.get(&d.to_string())) {
                    return Ok(rounds);
                }
                if Instant::now() > deadline || rounds > 10 {
                    return Err(format!("the phones did not converge in {rounds} rounds").into());
                }
            }
        })
        .await?;
    let conflicts = {
        let id = a.docs[0];
        op(&a.store, move |c| Ok(c.conflicts(&id)?.len())).await?
    };
    if conflicts == 0 {
        return Err("the same-field edit shows no conflict after reconciling".into());
    }
    let mut extra = serde_json::Map::new();
    extra.insert("sync_rounds".into(), json!(rounds));
    Ok(Outcome { wall: vec!["reconcile"], docs: Some(o.docs), extra })
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some((sorted[rank.clamp(1, sorted.len()) - 1] * 10.0).round() / 10.0)
}

async fn live(dir: &Path, o: &Opts, creds: &Creds, ph: &mut Phases) -> Res<Outcome> {
    if o.phones < 2 || !o.phones.is_multiple_of(2) {
        return Err("the live scenario needs an even number of phones, at least 2".into());
    }
    let phones = ph.run("login", make_phones(dir, o, creds, o.phones, |i| i / 2)).await?;
    let mut pairs: Vec<(Phone, Phone)> = Vec::new();
    let mut it = phones.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        pairs.push((a, b));
    }
    ph.run("setup", async {
        for (a, b) in pairs.iter_mut() {
            let one = Opts { docs: 1, edits: 0, ..o.clone() };
            work(a, &one, &|| {}).await?;
            sync_once(&a.store).await?;
            sync_once(&b.store).await?;
            b.docs = a.docs.clone();
        }
        Ok(())
    })
    .await?;
    let handles = ph
        .run("connect", async {
            let hs: Vec<((Handle, WatchRx), (Handle, WatchRx))> =
                pairs.iter().map(|(a, b)| (start_watched(&a.store), start_watched(&b.store))).collect();
            // Connected: each store's sync has said Idle once (its first round done), or 30 s
            // have passed (those that did not are counted).
            let until = Instant::now() + Duration::from_secs(30);
            let mut connected = 0usize;
            for (_, w) in hs.iter().flat_map(|(a, b)| [a, b]) {
                let mut w = w.clone();
                let left = until.saturating_duration_since(Instant::now());
                if tokio::time::timeout(left, w.wait_for(|n| *n > 0)).await.is_ok_and(|r| r.is_ok()) {
                    connected += 1;
                }
            }
            Ok((hs, connected))
        })
        .await?;
    let (handles, connected) = handles;
    let live_end = Instant::now() + Duration::from_secs(o.live_seconds);
    let interval = Duration::from_millis(o.interval_ms);
    let results = ph
        .run("edits", async {
            let mut tasks = Vec::new();
            for (k, ((a, b), (ha, hb))) in pairs.iter().zip(handles.iter()).enumerate() {
                let (sa, sb, ua, ub) =
                    (a.store.clone(), b.store.clone(), a.user_id.clone(), b.user_id.clone());
                let ((ha, wa), (hb, wb)) = ((ha.0.clone(), ha.1.clone()), (hb.0.clone(), hb.1.clone()));
                let id = a.docs[0];
                let edits = o.edits;
                tasks.push(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(
                        (k as u64 * 37) % interval.as_millis().max(1) as u64,
                    ))
                    .await;
                    let mut samples = Vec::new();
                    let mut lost = 0usize;
                    let mut lost_unsent = 0usize;
                    for r in 0..edits {
                        if Instant::now() > live_end {
                            break;
                        }
                        let (from, to, me, h, mut seen) = if r % 2 == 0 {
                            (&sa, &sb, &ua, &ha, wb.clone())
                        } else {
                            (&sb, &sa, &ub, &hb, wa.clone())
                        };
                        seen.mark_unchanged();
                        let t0 = Instant::now();
                        let (i2, me2) = (id, me.clone());
                        let heads = op(from, move |c| {
                            c.log_contact(&i2, ContactChannel::Phone, &format!("实时同步测试 {r} {me2}"))?;
                            Ok(c.heads(&i2)?)
                        })
                        .await?;
                        nudge(h);
                        let want: Vec<String> = {
                            let mut h: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
                            h.sort();
                            h
                        };
                        loop {
                            let i3 = id.to_string();
                            let have = op(to, move |c| Ok(c.local_heads()?.remove(&i3))).await?;
                            if have.as_ref() == Some(&want) {
                                samples.push(t0.elapsed().as_secs_f64() * 1000.0);
                                break;
                            }
                            if t0.elapsed() > LIVE_LOST_AFTER {
                                lost += 1;
                                // Where it is stuck: still waiting on the sender, or accepted
                                // by the server and not on the other phone.
                                let waiting = op(from, |c| Ok(c.unsynced_documents()?.len())).await?;
                                eprintln!(
                                    "[bench] pair {k} edit {r} not seen in {} s (sender's unaccepted files: {waiting})",
                                    LIVE_LOST_AFTER.as_secs()
                                );
                                if waiting > 0 {
                                    lost_unsent += 1;
                                }
                                break;
                            }
                            // Woken by the other phone's next finished exchange (or, should
                            // that be missed, by a slow poll).
                            let _ = tokio::time::timeout(LIVE_RECHECK, seen.changed()).await;
                        }
                        tokio::time::sleep(interval).await;
                    }
                    Ok::<_, Error>((samples, lost, lost_unsent))
                }));
            }
            let mut all = Vec::new();
            let (mut lost, mut unsent) = (0, 0);
            for t in tasks {
                let (s, l, u) = t.await??;
                all.extend(s);
                lost += l;
                unsent += u;
            }
            Ok((all, lost, unsent))
        })
        .await?;
    stop_all(handles.into_iter().flat_map(|((a, _), (b, _))| [a, b]).collect()).await?;
    let (mut samples, lost, lost_unsent) = results;
    samples.sort_by(f64::total_cmp);
    let mut extra = serde_json::Map::new();
    extra.insert("connected".into(), json!(connected));
    extra.insert("pairs".into(), json!(pairs.len()));
    extra.insert("edits_delivered".into(), json!(samples.len()));
    extra.insert("edits_lost".into(), json!(lost));
    extra.insert("edits_lost_unsent".into(), json!(lost_unsent));
    extra.insert("latency_p50_ms".into(), json!(percentile(&samples, 50.0)));
    extra.insert("latency_p99_ms".into(), json!(percentile(&samples, 99.0)));
    extra.insert("latency_max_ms".into(), json!(samples.last().map(|m| (m * 10.0).round() / 10.0)));
    Ok(Outcome { wall: vec!["edits"], docs: None, extra })
}

// ---- main -----------------------------------------------------------------------------------

async fn run(o: &Opts, dir: &Path, ph: &mut Phases) -> Res<Outcome> {
    let creds = read_creds(&o.credentials)?;
    let deadline = Instant::now() + o.timeout;
    match o.scenario.as_str() {
        "field-day" => field_day(dir, o, &creds, ph, deadline).await,
        "burst" => burst(dir, o, &creds, ph).await,
        "reconnect" => reconnect(dir, o, &creds, ph).await,
        "concurrent" => concurrent(dir, o, &creds, ph, deadline).await,
        _ => live(dir, o, &creds, ph).await,
    }
}

fn main() {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            println!("{}", json!({"error": format!("bad arguments: {e}")}));
            std::process::exit(1);
        }
    };
    let dir = std::env::temp_dir().join(format!("kefu-bench-driver-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        println!("{}", json!({"error": format!("cannot make {}: {e}", dir.display())}));
        std::process::exit(1);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            println!("{}", json!({"error": format!("no runtime: {e}")}));
            std::process::exit(1);
        }
    };
    let mut ph = Phases::default();
    let timeout = o.timeout;
    let result = rt.block_on(async {
        match tokio::time::timeout(timeout, run(&o, &dir, &mut ph)).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {} s", timeout.as_secs()).into()),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(out) => {
            let wall_ms = ph.wall(&out.wall);
            let w = kefu_sync::wire_totals();
            let mut v = json!({
                "client": "rust",
                "target": "kefu",
                "scenario": o.scenario,
                "phones": o.phones,
                "docs": if o.scenario == "live" { 1 } else { o.docs },
                "edits": o.edits,
                "wall_ms": wall_ms,
                "wall_phases": out.wall,
                "docs_per_s": out.docs.filter(|_| wall_ms > 0.0).map(|d| (d as f64 / wall_ms * 10_000.0).round() / 10.0),
                "ws_bytes_sent": w.ws_bytes_sent,
                "ws_bytes_received": w.ws_bytes_received,
                "ws_messages_sent": w.ws_messages_sent,
                "ws_messages_received": w.ws_messages_received,
                "http_requests": w.http_requests,
                "latency_p50_ms": Value::Null,
                "latency_p99_ms": Value::Null,
                "phases": Value::Object(ph.ms),
                "phase_bytes": Value::Object(ph.bytes),
            });
            if let Some(m) = v.as_object_mut() {
                m.extend(out.extra);
            }
            println!("{v}");
        }
        Err(e) => {
            eprintln!("[bench] error: {e}");
            println!("{}", json!({"error": e.to_string(), "phases": Value::Object(ph.ms)}));
            std::process::exit(1);
        }
    }
}
