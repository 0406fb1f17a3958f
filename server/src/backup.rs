//! Backup and restore of the server database (`DIR/kefu.db`).
//!
//! A backup is SQLite's `VACUUM INTO` run on a connection of its own: it reads one consistent
//! snapshot (a read transaction, so a running server keeps writing meanwhile) and writes it to
//! a new, compact, self-contained file. An existing file is never overwritten.
//!
//! Restore is for a stopped server. It checks that the file is a SQLite database with the Kefu
//! server schema (`PRAGMA user_version` 1..=[`MIGRATIONS`] length, a `users` table, a clean
//! `quick_check`) on a private copy in the data directory, and only then moves the current
//! database and its `-wal`/`-shm` aside to `kefu.db.before-restore-<unix seconds>` (never
//! deleted: they stay openable together) and renames the copy into place. Anything that is not
//! a Kefu backup is refused without touching the data directory.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::db::MIGRATIONS;
use crate::error::ServerError;

/// The database file inside the data directory.
pub const DB_FILE: &str = "kefu.db";

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What a checked database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbFacts {
    /// `PRAGMA user_version`: the number of migrations applied.
    pub schema_version: i64,
    /// Accounts.
    pub users: i64,
    /// Documents (0 before schema version 2).
    pub documents: i64,
}

/// A backup that was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The file written.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// What it holds.
    pub facts: DbFacts,
}

/// A restore that was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    /// The database file now in place (`DIR/kefu.db`).
    pub path: PathBuf,
    /// What it holds.
    pub facts: DbFacts,
    /// Files moved aside: (old name, where it went).
    pub moved_aside: Vec<(String, PathBuf)>,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ServerError {
    ServerError::Config(format!("{what} {}: {e}", path.display()))
}

/// Checks that `conn` is a Kefu server database this build can open, and counts what it holds.
pub fn check_schema(conn: &Connection, path: &Path) -> Result<DbFacts, ServerError> {
    let not_ours =
        |why: String| ServerError::Config(format!("{} is not a Kefu server database: {why}", path.display()));
    let version: i64 =
        conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| not_ours(e.to_string()))?;
    let known = MIGRATIONS.len() as i64;
    if !(1..=known).contains(&version) {
        return Err(not_ours(format!("schema version {version}, expected 1 to {known}")));
    }
    let table = |name: &str| -> Result<bool, ServerError> {
        Ok(conn
            .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |_| Ok(()))
            .optional()
            .map_err(|e| not_ours(e.to_string()))?
            .is_some())
    };
    if !table("users")? {
        return Err(not_ours("it has no users table".into()));
    }
    let check: String =
        conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| not_ours(e.to_string()))?;
    if check != "ok" {
        return Err(not_ours(format!("it is damaged ({check})")));
    }
    let count =
        |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map_err(|e| not_ours(e.to_string()));
    let users = count("SELECT count(*) FROM users")?;
    let documents = if table("documents")? { count("SELECT count(*) FROM documents")? } else { 0 };
    Ok(DbFacts { schema_version: version, users, documents })
}

fn open_existing(path: &Path, flags: OpenFlags) -> Result<Connection, ServerError> {
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// Writes a consistent copy of `DATA/kefu.db` to `out`, which must not exist. Safe while the
/// server runs.
pub fn backup(data: &Path, out: &Path) -> Result<Backup, ServerError> {
    let src = data.join(DB_FILE);
    if !src.is_file() {
        return Err(ServerError::Config(format!("there is no Kefu database at {}", src.display())));
    }
    if out.symlink_metadata().is_ok() {
        return Err(ServerError::Config(format!(
            "{} already exists; refusing to overwrite it (choose a new file name)",
            out.display()
        )));
    }
    let out_text =
        out.to_str().ok_or_else(|| ServerError::Config(format!("{} is not a UTF-8 path", out.display())))?;
    let conn = open_existing(&src, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    check_schema(&conn, &src)?;
    if let Err(e) = conn.execute("VACUUM INTO ?1", [out_text]) {
        // The file did not exist before: whatever VACUUM left there is ours to remove.
        let _ = std::fs::remove_file(out);
        return Err(ServerError::Config(format!("backup to {} failed: {e}", out.display())));
    }
    drop(conn);
    let copy = open_existing(out, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let facts = check_schema(&copy, out)?;
    drop(copy);
    let bytes = std::fs::metadata(out).map_err(|e| io("cannot read", out, e))?.len();
    Ok(Backup { path: out.to_path_buf(), bytes, facts })
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn remove_with_sidecars(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}

/// Replaces `DATA/kefu.db` with the backup `from` (see the module docs). The server must not
/// be running.
pub fn restore(data: &Path, from: &Path) -> Result<Restore, ServerError> {
    // 1. Refuse what is plainly not a SQLite database before touching anything.
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(from).map_err(|e| io("cannot open", from, e))?;
    if !file.metadata().map_err(|e| io("cannot read", from, e))?.is_file()
        || file.read_exact(&mut head).is_err()
        || &head != SQLITE_MAGIC
    {
        return Err(ServerError::Config(format!(
            "{} is not a SQLite database; nothing was changed",
            from.display()
        )));
    }
    drop(file);

    // 2. Check the schema on a private copy next to the target (never opening the backup
    //    itself, which might create files beside it).
    let created_dir = !data.exists();
    std::fs::create_dir_all(data).map_err(|e| io("cannot create data directory", data, e))?;
    let stamp = unix_seconds();
    let tmp = data.join(format!("{DB_FILE}.restoring-{stamp}-{}", std::process::id()));
    let checked = std::fs::copy(from, &tmp).map_err(|e| io("cannot copy", from, e)).and_then(|_| {
        let conn = open_existing(&tmp, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        let facts = check_schema(&conn, from);
        drop(conn);
        facts
    });
    let facts = match checked {
        Ok(f) => f,
        Err(e) => {
            remove_with_sidecars(&tmp);
            if created_dir {
                let _ = std::fs::remove_dir(data);
            }
            return Err(match e {
                ServerError::Config(m) => ServerError::Config(format!("{m}; nothing was changed")),
                other => other,
            });
        }
    };
    // Opening the copy may have left a -wal/-shm beside it; it was checkpointed on close.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(&tmp, suffix));
    }

    // 3. Move the current database aside (with its WAL, so the pair stays openable).
    let target = data.join(DB_FILE);
    let aside = data.join(format!("{DB_FILE}.before-restore-{stamp}"));
    let mut moved_aside = Vec::new();
    if target.exists() {
        if aside.exists() {
            remove_with_sidecars(&tmp);
            return Err(ServerError::Config(format!(
                "{} already exists; try again in a second",
                aside.display()
            )));
        }
        for suffix in ["", "-wal", "-shm"] {
            let from_path = with_suffix(&target, suffix);
            if from_path.exists() {
                let to = with_suffix(&aside, suffix);
                std::fs::rename(&from_path, &to).map_err(|e| io("cannot move aside", &from_path, e))?;
                moved_aside.push((format!("{DB_FILE}{suffix}"), to));
            }
        }
    }

    // 4. Put the checked copy in place.
    std::fs::rename(&tmp, &target).map_err(|e| io("cannot move the restored database to", &target, e))?;
    Ok(Restore { path: target, facts, moved_aside })
}
