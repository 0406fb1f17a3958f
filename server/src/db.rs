//! The server's SQLite database: WAL, `synchronous=FULL` (a change is durable before anyone
//! is told it was accepted), one writer connection, numbered migrations.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension};

use crate::error::ServerError;

/// Migrations in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
/// Version 3 is the projection: the same index tables the phone store keeps, written by the
/// same code (`kefu_store::project`), so supervisor pages and reports are SQL queries.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_accounts.sql"),
    include_str!("../migrations/002_documents.sql"),
    kefu_store::db::INDEX_TABLES_SQL,
    include_str!("../migrations/004_server_meta.sql"),
    include_str!("../migrations/005_peer_sync_state.sql"),
    include_str!("../migrations/006_review.sql"),
    include_str!("../migrations/007_kpi_weights.sql"),
    include_str!("../migrations/008_attachments.sql"),
    include_str!("../migrations/009_attachment_thumbnails.sql"),
];

/// The one writer connection, shared behind a mutex and used from blocking threads only.
#[derive(Debug, Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    storage_id: String,
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
        // Every statement of acceptance, projection and the dashboard stays prepared (rusqlite's
        // default keeps 16, fewer than one acceptance uses).
        conn.set_prepared_statement_cache_capacity(128);
        // Plans that do not depend on the values bound (SQLite's query planner stability
        // guarantee). Without it a cached statement that reads the (doc_id, seq) key in order
        // (the chunk append's `max(seq)`, the load's `ORDER BY seq`) was re-prepared each time
        // `?1` was bound to another document: 3 % of the server's CPU with 1,000 phones editing.
        // Kefu runs no ANALYZE, so the bound values had nothing to offer the planner.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        let storage_id: Option<String> = conn
            .query_row("SELECT value FROM server_meta WHERE key = 'storage_id'", [], |r| r.get(0))
            .optional()?;
        let storage_id = match storage_id {
            Some(s) => s,
            None => {
                let mut b = [0u8; 16];
                getrandom::fill(&mut b).map_err(|e| ServerError::Internal(format!("no randomness: {e}")))?;
                let s: String = b.iter().map(|x| format!("{x:02x}")).collect();
                conn.execute("INSERT INTO server_meta (key, value) VALUES ('storage_id', ?1)", [&s])?;
                s
            }
        };
        count_conflicts(&conn)?;
        crate::attachments::index_unindexed(&conn)?;
        Ok(Db { conn: Arc::new(Mutex::new(conn)), path, storage_id })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This server's stable storage id (announced to automerge-repo peers).
    pub fn storage_id(&self) -> &str {
        &self.storage_id
    }

    /// Bytes on disk: the database and its write-ahead log.
    pub fn storage_bytes(&self) -> u64 {
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        size(&self.path) + size(Path::new(&wal))
    }

    /// The connection. Call from a blocking thread (`spawn_blocking`), never an async task.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back), so
        // a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counts the conflicting fields of documents stored before conflicts were counted at
/// acceptance (schema version 6).
fn count_conflicts(conn: &Connection) -> Result<(), ServerError> {
    let ids: Vec<String> = conn
        .prepare("SELECT doc_id FROM documents WHERE conflicts = -1")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in ids {
        if let Some(stored) = crate::accept::load(conn, &id)? {
            let n = kefu_model::KefuDoc::from_automerge(stored.doc).conflicts().len() as i64;
            conn.execute("UPDATE documents SET conflicts = ?2 WHERE doc_id = ?1", rusqlite::params![id, n])?;
        }
    }
    Ok(())
}
