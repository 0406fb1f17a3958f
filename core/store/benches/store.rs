//! Store benchmark (issue: core records and offline store). Release build:
//!
//! `cargo bench -p kefu-store --bench store [-- CUSTOMERS]`
//!
//! Builds a store of CUSTOMERS (default 5,000) realistic customer files in a temporary
//! directory, then measures: logging a visit including the SQLite commit (dispatch and
//! completion, p50/p99 over 1,000 visits on random customers, most of them not cached), the
//! due-callback list, a cold open of the store followed by the first list, and bytes on disk
//! per customer file. Prints a Markdown table for docs/performance.md.

use std::time::{Duration, Instant};

use kefu_model::enums::*;
use kefu_model::lifecycle::VisitStep;
use kefu_model::records::customer::Profile;
use kefu_model::verbs::*;
use kefu_model::DocumentId;
use kefu_store::{Client, Identity, NewCustomer};

const SURNAMES: &[&str] =
    &["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭"];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超",
];
const DISTRICTS: &[&str] =
    &["浦东新区", "徐汇区", "静安区", "黄浦区", "长宁区", "普陀区", "闵行区", "宝山区"];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn identity() -> Identity {
    Identity {
        user_id: "zhang.wei".into(),
        device_id: "bench".into(),
        team: "浦东一组".into(),
        role: Role::Field,
        display_name: "张伟".into(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5000);
    let dir = std::env::temp_dir().join(format!("kefu-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("phone.db");
    let mut c = Client::open(&path)?;
    c.set_identity(identity())?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let agents = ["li.na", "wang.fang", "chen.jie", "zhao.min"];

    let t = Instant::now();
    let mut ids: Vec<DocumentId> = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN));
        let id = c.create_customer(NewCustomer {
            profile: Profile {
                name,
                phones: vec![format!("13{:09}", rng.next() % 1_000_000_000)],
                email: None,
                wechat: None,
                address: Some(format!("上海市{}某路 {} 号", rng.pick(DISTRICTS), i % 300 + 1)),
                district: Some(rng.pick(DISTRICTS).to_string()),
                source: SourceChannel::ALL[i % SourceChannel::ALL.len()],
            },
            classification: None,
        })?;
        let agent = agents[i % agents.len()].to_string();
        let day = 1 + (rng.next() % 28) as u32;
        c.edit(&id, |cf: &mut kefu_model::records::customer::CustomerFile, by| {
            cf.assign(by, Some(agent.clone()), Some("zhang.wei".into()));
            cf.log_contact(format!("c{i}"), by, ContactChannel::Phone, "首次联系，确认地址和需求");
            let nv = NewVisit {
                work_order: format!("WO-{i:06}"),
                reason: VisitReason::Installation,
                staff: "zhang.wei".into(),
                window_start: now,
                window_end: now + 7_200_000,
            };
            cf.dispatch_visit(format!("v{i}"), by, &nv);
            cf.advance_visit(&format!("v{i}"), by, VisitStep::OnSite, None)?;
            let done = VisitCompletion {
                work_done: "安装完成并演示使用".into(),
                parts: vec![("膨胀螺丝".into(), 4)],
                rating: Some(5),
                follow_up_on: None,
            };
            cf.complete_visit(&format!("v{i}"), by, &done)?;
            for (k, month) in ["2026-11", "2026-12"].iter().enumerate() {
                let nb = NewCallback {
                    agent: agent.clone(),
                    date: format!("{month}-{day:02}"),
                    method: ContactChannel::Phone,
                    campaign: None,
                    visit: Some(format!("v{i}")),
                };
                cf.schedule_callback(format!("b{i}-{k}"), by, &nb);
            }
            Ok(())
        })?;
        ids.push(id);
    }
    let build = t.elapsed();

    // Log a visit, including the commit, on random customers (mostly not in the 64-doc cache).
    let mut dispatch = Vec::new();
    let mut complete = Vec::new();
    for k in 0..1000 {
        let id = ids[(rng.next() % n as u64) as usize];
        let t = Instant::now();
        let v = c.dispatch_visit(
            &id,
            &NewVisit {
                work_order: format!("WO-B{k:05}"),
                reason: VisitReason::Repair,
                staff: "zhang.wei".into(),
                window_start: now,
                window_end: now + 3_600_000,
            },
        )?;
        dispatch.push(t.elapsed());
        c.advance_visit(&id, &v, VisitStep::OnSite, None)?;
        let t = Instant::now();
        c.complete_visit(
            &id,
            &v,
            &VisitCompletion {
                work_done: "更换阀芯".into(),
                parts: vec![],
                rating: Some(4),
                follow_up_on: None,
            },
        )?;
        complete.push(t.elapsed());
    }
    dispatch.sort();
    complete.sort();

    // Due-callback list for one agent up to month end, and for everyone.
    let mut due_one = Vec::new();
    let mut due_all = Vec::new();
    let mut rows = (0, 0);
    for _ in 0..200 {
        let t = Instant::now();
        rows.0 = c.due_callbacks(Some("li.na"), "2026-11-30")?.len();
        due_one.push(t.elapsed());
        let t = Instant::now();
        rows.1 = c.due_callbacks(None, "2026-11-30")?.len();
        due_all.push(t.elapsed());
    }
    due_one.sort();
    due_all.sort();

    let storage = c.storage_by_kind()?;
    drop(c);
    let file_bytes = std::fs::metadata(&path)?.len()
        + std::fs::metadata(dir.join("phone.db-wal")).map(|m| m.len()).unwrap_or(0);

    // Cold open: open the file, check the schema, show the first list.
    let mut cold = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let c = Client::open(&path)?;
        let _ = c.due_callbacks(Some("li.na"), "2026-11-30")?;
        cold.push(t.elapsed());
    }
    cold.sort();

    let customer_bytes = storage.iter().find(|(k, _, _)| k == "customer").map_or(0, |(_, _, b)| *b);
    println!("| measure ({n} customers) | p50 | p99 | target |");
    println!("|---|---|---|---|");
    println!(
        "| log a visit: dispatch, incl. commit | {} | {} | p99 ≤ 2 ms |",
        ms(pct(&dispatch, 0.5)),
        ms(pct(&dispatch, 0.99))
    );
    println!(
        "| log a visit: complete, incl. commit | {} | {} | p99 ≤ 2 ms |",
        ms(pct(&complete, 0.5)),
        ms(pct(&complete, 0.99))
    );
    println!(
        "| due callbacks, one agent ({} rows) | {} | {} | ≤ 10 ms |",
        rows.0,
        ms(pct(&due_one, 0.5)),
        ms(pct(&due_one, 0.99))
    );
    println!(
        "| due callbacks, all agents ({} rows) | {} | {} | ≤ 10 ms |",
        rows.1,
        ms(pct(&due_all, 0.5)),
        ms(pct(&due_all, 0.99))
    );
    println!("| cold open + first list | {} | {} | ≤ 100 ms |", ms(pct(&cold, 0.5)), ms(pct(&cold, 0.99)));
    println!();
    println!("document bytes per customer file (snapshot + chunks): {:.0}", customer_bytes as f64 / n as f64);
    println!(
        "database file bytes per customer (incl. index tables, FTS, WAL): {:.0}",
        file_bytes as f64 / n as f64
    );
    println!("store built in {:.1} s ({} customers, 2 edits each)", build.as_secs_f64(), n);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
