//! Seeds a Kefu data directory with N customer files for the benchmark suite's 100,000-document
//! store (issue 7, `tests/bench/run.py --scenarios store-100k`), and exports the same documents
//! so the reference server's storage can hold exactly them.
//!
//! ```sh
//! kefu-server user add --data DIR --username bench-agent-000 --role agent --team bench --password-stdin
//! cargo run --release -p kefu-server --example bench-seed -- --data DIR --docs 100000 \
//!     --agent bench-agent-000 --export docs.bin
//! ```
//!
//! Every file is built as a phone builds it (`KefuDoc::create` of a valid customer file with
//! one consultation, by the agent, at a device time) and stored only through the acceptance
//! pipeline (`accept::accept`: validation, access, provenance, projection), like the demo
//! seeding. The server must not be running. Writes go with `synchronous=NORMAL` and a final
//! checkpoint (a bulk load; the server itself commits with `FULL`).
//!
//! `--export FILE` writes every document as `u32 id length, id (UTF-8), u32 bytes length,
//! bytes (automerge save)`, little-endian, one after the other. Progress goes to stderr every
//! 10,000 documents; the last stdout line is a JSON summary.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use kefu_model::automerge::ActorId;
use kefu_model::enums::{ContactChannel, IntentLevel, PurchaseStage, Role, SourceChannel};
use kefu_model::ids::DocumentId;
use kefu_model::records::customer::{Classification, CustomerFile, Profile};
use kefu_model::verbs::Actor;
use kefu_model::{Author, KefuDoc};
use kefu_server::accept::{accept, Outcome};
use kefu_server::auth::Principal;
use kefu_server::db::Db;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    data: PathBuf,
    docs: usize,
    agent: String,
    export: Option<PathBuf>,
}

fn args() -> Res<Args> {
    let (mut data, mut docs, mut agent, mut export) = (None, 100_000usize, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--data" => data = Some(PathBuf::from(value()?)),
            "--docs" => docs = value()?.parse().map_err(|_| "--docs must be a whole number")?,
            "--agent" => agent = Some(value()?),
            "--export" => export = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(Args {
        data: data.ok_or("--data DIR is required")?,
        docs,
        agent: agent.ok_or("--agent USERNAME is required (an agent of the team)")?,
        export,
    })
}

fn customer(team: &str, agent: &str, n: usize, at: i64) -> CustomerFile {
    let profile = Profile {
        name: format!("压测客户 {n}"),
        phones: vec![format!("139{:08}", n % 100_000_000)],
        email: None,
        wechat: None,
        address: Some(format!("上海市浦东新区锦绣路 {} 弄 {} 号", 1 + n % 2000, 1 + n % 97)),
        district: Some("浦东新区".into()),
        source: SourceChannel::Phone,
    };
    let mut c = CustomerFile::new(team, profile, agent, at);
    c.classification = Classification {
        category: Some("整体橱柜".into()),
        intent: IntentLevel::Unknown,
        stage: PurchaseStage::Lead,
        tags: vec!["bench".into()],
        notes: None,
    };
    c.assignment.agent = Some(agent.into());
    c.assignment.assigned_at = Some(at);
    c.log_contact(
        kefu_model::ids::record_id({
            let mut b = [0u8; 12];
            b[..8].copy_from_slice(&(n as u64).to_le_bytes());
            b[8..].copy_from_slice(&(at as u32).to_le_bytes());
            b
        }),
        &Actor { user: agent.into(), at },
        ContactChannel::Phone,
        "客户来电咨询整体橱柜（压测）",
    );
    c
}

fn main() -> Res<()> {
    let a = args()?;
    let db = Db::open(&a.data)?;
    let conn = db.lock();
    let (user_id, team): (String, Option<String>) = conn
        .query_row("SELECT id, team FROM users WHERE username = ?1 AND role = 'agent'", [&a.agent], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(|_| format!("no agent {:?} in {}", a.agent, a.data.display()))?;
    let team = team.ok_or("the agent has no team")?;
    let p = Principal {
        user_id: user_id.clone(),
        device_id: "bench-seed".into(),
        role: Role::Agent,
        team: Some(team.clone()),
    };
    let author = Author { user: user_id.clone(), device: "bench-seed".into() };
    let mut out = match &a.export {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let t = Instant::now();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let actor = ActorId::random();
    let mut bytes_total = 0usize;
    for n in 0..a.docs {
        let at = now - (a.docs - n) as i64 * 1000;
        let mut doc = KefuDoc::create(&customer(&team, &user_id, n, at), actor.clone(), &author, at)?;
        let id = {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&(n as u64).to_le_bytes());
            b[8..].copy_from_slice(&now.to_le_bytes());
            DocumentId::from_bytes(b).to_string()
        };
        let changes = doc.automerge().get_changes(&[]);
        match accept(&conn, &p, &id, changes, at)? {
            Outcome::Accepted { .. } => {}
            other => return Err(format!("document {n} ({id}) was not accepted: {other:?}").into()),
        }
        if let Some(w) = out.as_mut() {
            let bytes = doc.save();
            bytes_total += bytes.len();
            w.write_all(&(id.len() as u32).to_le_bytes())?;
            w.write_all(id.as_bytes())?;
            w.write_all(&(bytes.len() as u32).to_le_bytes())?;
            w.write_all(&bytes)?;
        }
        if (n + 1) % 10_000 == 0 {
            eprintln!("bench-seed: {} of {} documents, {:.1} s", n + 1, a.docs, t.elapsed().as_secs_f64());
        }
    }
    if let Some(mut w) = out {
        w.flush()?;
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    println!(
        "{}",
        serde_json::json!({"documents": a.docs, "seconds": t.elapsed().as_secs_f64(), "export_bytes": bytes_total,
                           "team": team, "agent_id": user_id})
    );
    Ok(())
}
