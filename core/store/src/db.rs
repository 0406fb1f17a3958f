//! Opening the SQLite database: WAL, one writer connection, numbered migrations.
//!
//! Migrations are `.sql` files applied in order, each in its own transaction with
//! `PRAGMA user_version` bumped inside it, so a crash mid-migration leaves the previous
//! version intact. A file that is not a SQLite database, or not ours, is reported and never
//! modified.

use std::path::Path;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StoreError};

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
/// Migration 1 is the store's own tables followed by the shared index tables.
pub const MIGRATIONS: &[&str] = &[
    concat!(include_str!("../migrations/001_init.sql"), include_str!("../migrations/index_tables.sql")),
    include_str!("../migrations/002_heads.sql"),
    include_str!("../migrations/003_set_aside.sql"),
    include_str!("../migrations/004_attachments.sql"),
];

/// The index tables' DDL, shared with the server (which projects the same tables).
pub const INDEX_TABLES_SQL: &str = include_str!("../migrations/index_tables.sql");

/// The schema version this build writes.
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

fn not_a_db(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::NotADatabase { path: path.to_path_buf(), detail: e.to_string() }
}

/// Opens (creating if absent) the database at `path` and brings it to the current schema.
pub fn open(path: &Path) -> Result<Connection> {
    let exists = path.exists();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Reading the header first: on a file that is not SQLite this fails before anything is
    // written, so the file is left as it was.
    let version: i64 =
        conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| not_a_db(path, e))?;
    if exists && version == 0 {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| not_a_db(path, e))?;
        if tables > 0 {
            return Err(not_a_db(path, "a SQLite database of another program"));
        }
    }
    if version > schema_version() {
        return Err(StoreError::NewerSchema { found: version, known: schema_version() });
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL in WAL mode: a committed transaction survives the app being killed; only an OS
    // crash or power loss can lose the last transactions. The server uses FULL.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Every statement the store runs stays prepared (about 70 of them) instead of being
    // parsed again on each call.
    conn.set_prepared_statement_cache_capacity(128);
    stable_plans(&conn)?;
    migrate(&conn, version)?;
    Ok(conn)
}

/// An in-memory database at the current schema (tests, benchmarks).
pub fn open_in_memory() -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    stable_plans(&conn)?;
    migrate(&conn, 0)?;
    Ok(conn)
}

/// Query plans that do not depend on the values bound (SQLite's query planner stability
/// guarantee). Without it a cached statement that reads the (doc_id, seq) key in order (the
/// chunk append's `max(seq)`, the load's `ORDER BY seq`) is re-prepared each time `?1` is bound
/// to another document, which is every edit of a phone working through its files. The store
/// runs no ANALYZE, so the bound values have nothing to offer the planner.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

fn migrate(conn: &Connection, from: i64) -> Result<()> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// The schema as SQL text, for comparing an upgraded database with a fresh one.
pub fn schema_dump(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")?;
    let rows = stmt.query_map([], |r| {
        Ok(format!(
            "{}|{}|{}|{}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?.unwrap_or_default()
        ))
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Checkpoints the WAL into the database file from a background thread with its own
/// connection, so no edit ever pays for a checkpoint (measured: with SQLite's automatic
/// checkpoint inside commits, the p99 of logging a visit was 7 ms; without, 1.7 ms).
/// Edits call [`Checkpointer::dirty`]; while there were commits the thread checkpoints every
/// [`CHECKPOINT_EVERY`], or at its next look (every 500 ms) once the WAL file has grown past
/// [`WAL_KEEP_BYTES`], and once more when the client closes. A checkpoint costs two or three
/// fsyncs (the WAL, the database, the WAL header at its restart): with one every 500 ms they
/// were about a sixth of the phones' CPU in the 1,000-phone benchmark. Durability does not depend
/// on it: committed transactions are in the WAL.
/// How often a store with commits is checkpointed.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// A WAL file larger than this is checkpointed at once, and truncated to it when reset.
pub const WAL_KEEP_BYTES: u64 = 4 << 20;

#[derive(Debug)]
pub struct Checkpointer {
    dirty: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Turns off automatic checkpoints on `writer` and starts the thread for the file `path`.
    pub fn start(writer: &Connection, path: &Path) -> Result<Checkpointer> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::mpsc::{channel, RecvTimeoutError};
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        writer.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES as i64)?;
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let wal = {
            let mut p = path.as_os_str().to_owned();
            p.push("-wal");
            std::path::PathBuf::from(p)
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let dirty = std::sync::Arc::new(AtomicBool::new(true));
        let flag = dirty.clone();
        let (stop, stopped) = channel::<()>();
        let checkpoint = move |conn: &Connection, mode: &str| {
            // A failed checkpoint is retried on the next round; the WAL keeps the data safe.
            let _ = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()));
        };
        let mut last = std::time::Instant::now();
        let handle = std::thread::Builder::new().name("kefu-checkpoint".into()).spawn(move || loop {
            match stopped.recv_timeout(std::time::Duration::from_millis(500)) {
                Err(RecvTimeoutError::Timeout) => {
                    let due = last.elapsed() >= CHECKPOINT_EVERY
                        || std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_KEEP_BYTES);
                    // Cleared before the checkpoint: a commit made during it marks it again.
                    if due && flag.swap(false, Ordering::AcqRel) {
                        checkpoint(&conn, "PASSIVE");
                        last = std::time::Instant::now();
                    }
                }
                Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                    checkpoint(&conn, "TRUNCATE");
                    return;
                }
            }
        });
        let handle =
            handle.map_err(|e| StoreError::Document(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { dirty, stop: Some(stop), handle: Some(handle) })
    }

    /// Notes that a transaction was committed.
    pub fn dirty(&self) {
        self.dirty.store(true, std::sync::atomic::Ordering::Release);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{params, StatementStatus};

    #[test]
    fn appending_chunks_to_one_document_after_another_is_not_re_prepared() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for conn in [open(&dir.path().join("phone.db")), open_in_memory()] {
            let conn = conn.unwrap_or_else(|e| panic!("{e}"));
            conn.execute_batch(
                "CREATE TEMP TABLE c (doc_id TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, \
                 PRIMARY KEY (doc_id, seq));",
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let append = "INSERT INTO c (doc_id, seq, data) \
                 VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM c WHERE doc_id = ?1), ?2)";
            for i in 0..6 {
                let mut stmt = conn.prepare_cached(append).unwrap_or_else(|e| panic!("{e}"));
                stmt.execute(params![format!("doc{}", i % 3), vec![1u8; 4]])
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            let stmt = conn.prepare_cached(append).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(stmt.get_status(StatementStatus::Run), 6);
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
        }
    }
}
