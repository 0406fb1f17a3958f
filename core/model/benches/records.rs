//! Cost of reading and changing one customer file in memory (no storage), release build:
//!
//! `cargo bench -p kefu-model --bench records`
//!
//! A customer file with 3 visits and 3 callbacks (a typical file after a few months).

use std::time::{Duration, Instant};

use kefu_model::automerge::{ActorId, ReadDoc, ROOT};
use kefu_model::enums::*;
use kefu_model::records::customer::{CustomerFile, Profile};
use kefu_model::verbs::*;
use kefu_model::{Author, KefuDoc, Record};

fn per_op(n: u32, mut f: impl FnMut(u32)) -> Duration {
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    t.elapsed() / n
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profile = Profile {
        name: "王晓明".into(),
        phones: vec!["13800000000".into()],
        email: None,
        wechat: None,
        address: Some("上海市浦东新区".into()),
        district: None,
        source: SourceChannel::Jd,
    };
    let now = 1_795_000_000_000;
    let mut c = CustomerFile::new("team-a", profile, "sup", now);
    let by = Actor { user: "zhang".into(), at: now };
    for i in 0..3 {
        let nv = NewVisit {
            work_order: format!("WO-{i}"),
            reason: VisitReason::Repair,
            staff: "zhang".into(),
            window_start: now,
            window_end: now + 1,
        };
        c.dispatch_visit(format!("v{i}"), &by, &nv);
        let nb = NewCallback {
            agent: "li".into(),
            date: "2026-11-01".into(),
            method: ContactChannel::Phone,
            campaign: None,
            visit: None,
        };
        c.schedule_callback(format!("b{i}"), &by, &nb);
    }
    let author = Author { user: "zhang".into(), device: "bench".into() };
    let mut doc = KefuDoc::create(&c, ActorId::random(), &author, now)?;
    let n = 2000;
    let read = per_op(n, |_| {
        let _: Option<CustomerFile> = doc.read().ok();
    });
    let record: CustomerFile = doc.read()?;
    let validate = per_op(n, |_| {
        let _ = record.problems();
    });
    let hydrate = per_op(n, |_| {
        let _ = doc.automerge().hydrate(&ROOT, None);
    });
    let update = per_op(n, |i| {
        let _ = doc.update(&author, now + i64::from(i), |c: &mut CustomerFile| {
            c.profile.district = Some(format!("区 {i}"));
            Ok(())
        });
    });
    let bytes = doc.save().len();
    println!("| operation (customer file, 3 visits, 3 callbacks) | mean |");
    println!("|---|---|");
    println!("| automerge one-pass hydrate | {hydrate:?} |");
    println!("| read typed record (hydrate → JSON → serde) | {read:?} |");
    println!("| validate | {validate:?} |");
    println!("| change one field: read, edit, validate, write diff, commit | {update:?} |");
    println!("\nsaved size after {n} edits: {bytes} bytes");
    Ok(())
}
