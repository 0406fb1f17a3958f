//! A field phone's day, offline: creates a store (default `./kefu-data/phone.db`), records a
//! customer, a visit from dispatch to completion, a callback, a complaint and a clock-in, and
//! prints the lists the phone shows. Run twice and it keeps adding to the same store.
//!
//! `cargo run --release -p kefu-store --example field_day [-- PATH]`

use std::path::PathBuf;

use kefu_model::enums::*;
use kefu_model::lifecycle::VisitStep;
use kefu_model::records::customer::Profile;
use kefu_model::verbs::*;
use kefu_store::{Client, Identity, NewCustomer};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let path =
        std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("kefu-data/phone.db"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut c = Client::open(&path)?;
    c.set_identity(Identity {
        user_id: "zhang.wei".into(),
        device_id: "demo-phone".into(),
        team: "浦东一组".into(),
        role: Role::Field,
        display_name: "张伟".into(),
    })?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let today = c.today();

    println!("Kefu offline store at {}", path.display());
    let customer = c.create_customer(NewCustomer {
        profile: Profile {
            name: "王晓明".into(),
            phones: vec!["138-0013-8000".into()],
            email: None,
            wechat: Some("wxm_2026".into()),
            address: Some("上海市浦东新区世纪大道 100 号 1203 室".into()),
            district: Some("浦东新区".into()),
            source: SourceChannel::Tmall,
        },
        classification: None,
    })?;
    c.assign_customer(&customer, Some("li.na".into()), Some("zhang.wei".into()))?;
    let visit = c.dispatch_visit(
        &customer,
        &NewVisit {
            work_order: format!("WO-{}-{}", today.replace('-', ""), &customer.to_string()[..4]),
            reason: VisitReason::Repair,
            staff: "zhang.wei".into(),
            window_start: now,
            window_end: now + 2 * 3_600_000,
        },
    )?;
    c.advance_visit(&customer, &visit, VisitStep::EnRoute, None)?;
    c.advance_visit(&customer, &visit, VisitStep::OnSite, None)?;
    c.complete_visit(
        &customer,
        &visit,
        &VisitCompletion {
            work_done: "更换厨房水龙头阀芯，试水无渗漏".into(),
            parts: vec![("阀芯 V-22".into(), 1)],
            rating: Some(5),
            follow_up_on: None,
        },
    )?;
    c.schedule_callback(
        &customer,
        &NewCallback {
            agent: "li.na".into(),
            date: today.clone(),
            method: ContactChannel::Phone,
            campaign: None,
            visit: Some(visit.clone()),
        },
    )?;
    c.take_complaint(
        &customer,
        &NewComplaint {
            channel: ContactChannel::Phone,
            content: "上次安装后柜门有划痕".into(),
            category: ComplaintCategory::Installation,
            severity: Severity::Medium,
            handler: "li.na".into(),
        },
    )?;
    c.clock(ClockKind::In, Some("浦东服务点".into()))?;

    println!("\n客户 (customers matching \"晓明\"):");
    for r in c.search_customers("晓明", 20)? {
        println!("  {}  {}  {}", r.name, r.phones, r.doc_id);
    }
    println!("\n待回访 (callbacks due by {today}):");
    for r in c.due_callbacks(None, &today)? {
        println!("  {}  {}  agent {}  {}", r.scheduled_for, r.customer_name, r.agent, r.status);
    }
    println!("\n未结投诉 (open complaints):");
    for r in c.open_complaints(None)? {
        println!("  {}  handler {}  {}  severity {}", r.customer_name, r.handler, r.status, r.severity);
    }
    println!("\n待同步 (outbox): {} change(s) waiting for the server", c.outbox()?.len());
    println!("\nStorage by kind:");
    for (kind, docs, bytes) in c.storage_by_kind()? {
        println!("  {kind:<18} {docs:>5} docs {bytes:>9} bytes");
    }
    Ok(())
}
