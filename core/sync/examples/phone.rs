//! A phone against a running server: signs in, pulls everything it may hold, makes one
//! change, and syncs again — printing what each round did and how long it took.
//!
//! ```sh
//! cargo run --release -p kefu-server -- demo            # in one terminal
//! cargo run --release -p kefu-sync --example phone -- http://127.0.0.1:8080 agent1 kefu-demo-1
//! ```

use std::sync::{Arc, Mutex};
use std::time::Instant;

use kefu_model::enums::ContactChannel;
use kefu_store::Client;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let server = args.next().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let user = args.next().unwrap_or_else(|| "agent1".into());
    let password = args.next().unwrap_or_else(|| "kefu-demo-1".into());
    let dir = tempfile_dir()?;
    let path = dir.join(format!("{user}.db"));
    let mut client = Client::open(&path)?;
    let t = Instant::now();
    let session = kefu_sync::login(&mut client, &server, &user, &password, "example phone")?;
    println!(
        "signed in as {} ({}) in {} ms; store at {}",
        session.display_name,
        session.role,
        t.elapsed().as_millis(),
        path.display()
    );
    let store = Arc::new(Mutex::new(client));

    let t = Instant::now();
    let r = kefu_sync::sync_blocking(store.clone())?;
    println!("first sync (cold pull): {} ms, {r:?}", t.elapsed().as_millis());

    let t = Instant::now();
    let r = kefu_sync::sync_blocking(store.clone())?;
    println!("reconnect with nothing new: {} ms, {r:?}", t.elapsed().as_millis());

    let first = {
        let mut c = store.lock().map_err(|e| e.to_string())?;
        let customers = c.customers_assigned_to(&session.user_id)?;
        match customers.first() {
            Some(row) => {
                let id = row.doc_id.parse()?;
                c.log_contact(&id, ContactChannel::Phone, "示例：电话回访")?;
                Some(row.name.clone())
            }
            None => None,
        }
    };
    let t = Instant::now();
    let r = kefu_sync::sync_blocking(store.clone())?;
    println!("one edit ({:?}) uploaded: {} ms, {r:?}", first, t.elapsed().as_millis());
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("kefu-phone-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
