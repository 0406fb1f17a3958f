//! The server's SQLite database: WAL, `synchronous=FULL` (a change is durable before anyone
//! is told it was accepted), one writer connection, numbered migrations.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

use crate::error::ServerError;

/// Migrations in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] =
    &[include_str!("../migrations/001_accounts.sql"), include_str!("../migrations/002_documents.sql")];

/// The one writer connection, shared behind a mutex and used from blocking threads only.
#[derive(Debug, Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating) `DIR/kefu.db` and migrates it.
    pub fn open(dir: &Path) -> Result<Db, ServerError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            ServerError::Config(format!("cannot create data directory {}: {e}", dir.display()))
        })?;
        let path = dir.join("kefu.db");
        let conn = Connection::open(&path)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| {
            ServerError::Config(format!(
                "{} is not a Kefu server database (left untouched): {e}",
                path.display()
            ))
        })?;
        if version > MIGRATIONS.len() as i64 {
            return Err(ServerError::Config(format!(
                "{} has schema version {version}; this build knows up to {}",
                path.display(),
                MIGRATIONS.len()
            )));
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(Db { conn: Arc::new(Mutex::new(conn)) })
    }

    /// The connection. Call from a blocking thread (`spawn_blocking`), never an async task.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back), so
        // a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}
