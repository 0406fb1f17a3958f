//! Backup and restore: a backup restores into a new directory with working accounts; files
//! that are not Kefu backups are refused without touching the target; nothing is overwritten
//! or deleted.

use std::path::Path;
use std::process::Command;

use kefu_model::enums::Role;
use kefu_server::auth::{self, NewUser};
use kefu_server::backup::{backup, restore, DB_FILE};
use kefu_server::db::Db;

fn db_with_user(dir: &Path, username: &str, password: &str) -> Db {
    let db = Db::open(dir).unwrap_or_else(|e| panic!("{e}"));
    let user = NewUser {
        username: username.into(),
        role: Role::Agent,
        team: Some("一组".into()),
        display_name: Some("李娜".into()),
    };
    auth::add_user(&db.lock(), &user, password).unwrap_or_else(|e| panic!("{e}"));
    db
}

fn can_log_in(dir: &Path, username: &str, password: &str) -> bool {
    let db = Db::open(dir).unwrap_or_else(|e| panic!("{e}"));
    let found = auth::find_login(&db.lock(), username).unwrap_or_else(|e| panic!("{e}"));
    found.is_some_and(|(_, _, hash)| auth::password_matches(&hash, password))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")).file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

#[test]
fn a_backup_taken_while_open_restores_into_a_new_directory() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (live, fresh) = (tmp.path().join("live"), tmp.path().join("fresh"));
    // The server's connection stays open (and its WAL unmerged) while the backup runs.
    let db = db_with_user(&live, "li.na", "correct horse battery");
    let out = tmp.path().join("kefu-backup.db");
    let b = backup(&live, &out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((b.facts.users, b.facts.documents), (1, 0));
    assert!(b.bytes > 0 && out.is_file());
    drop(db);

    let r = restore(&fresh, &out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.path, fresh.join(DB_FILE));
    assert!(r.moved_aside.is_empty(), "nothing to move aside in a new directory");
    assert_eq!(names(&fresh), [DB_FILE], "no temporary files left behind");
    assert!(can_log_in(&fresh, "li.na", "correct horse battery"));
    assert!(!can_log_in(&fresh, "li.na", "wrong password"));
}

#[test]
fn restore_moves_the_current_database_aside_instead_of_deleting_it() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    drop(db_with_user(&a, "old.user", "old password 1"));
    drop(db_with_user(&b, "new.user", "new password 1"));
    let out = tmp.path().join("b.backup");
    backup(&b, &out).unwrap_or_else(|e| panic!("{e}"));

    let r = restore(&a, &out).unwrap_or_else(|e| panic!("{e}"));
    let (old_name, aside) = r.moved_aside.first().cloned().unwrap_or_else(|| panic!("moved aside"));
    assert_eq!(old_name, DB_FILE);
    let aside_name = aside.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    assert!(aside_name.starts_with("kefu.db.before-restore-"), "{aside_name}");
    assert!(can_log_in(&a, "new.user", "new password 1"));
    assert!(!can_log_in(&a, "old.user", "old password 1"));
    // The old database still opens where it was moved, with its account.
    let conn = rusqlite::Connection::open(&aside).unwrap_or_else(|e| panic!("{e}"));
    assert!(auth::find_login(&conn, "old.user").unwrap_or_else(|e| panic!("{e}")).is_some());
}

#[test]
fn files_that_are_not_kefu_backups_are_refused_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = tmp.path().join("data");
    drop(db_with_user(&data, "li.na", "correct horse battery"));
    let before = (names(&data), read(&data.join(DB_FILE)));

    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "这不是数据库 — not a database").unwrap_or_else(|e| panic!("{e}"));
    let err = restore(&data, &text).err().unwrap_or_else(|| panic!("a text file is refused")).to_string();
    assert!(err.contains("not a SQLite database"), "{err}");

    // A SQLite database, but not ours.
    let other = tmp.path().join("other.db");
    let conn = rusqlite::Connection::open(&other).unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
        .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    let err =
        restore(&data, &other).err().unwrap_or_else(|| panic!("a foreign database is refused")).to_string();
    assert!(err.contains("not a Kefu server database") && err.contains("schema version 0"), "{err}");
    let missing =
        restore(&data, &tmp.path().join("missing.db")).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(missing.contains("cannot open"), "{missing}");

    assert_eq!((names(&data), read(&data.join(DB_FILE))), before, "the target is untouched");
    assert!(can_log_in(&data, "li.na", "correct horse battery"));
    // Nor is a directory created for a refused restore.
    let nowhere = tmp.path().join("nowhere");
    assert!(restore(&nowhere, &other).is_err());
    assert!(!nowhere.exists());
}

#[test]
fn an_existing_output_file_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = tmp.path().join("data");
    drop(db_with_user(&data, "li.na", "correct horse battery"));
    let out = tmp.path().join("keep.db");
    std::fs::write(&out, "yesterday's backup").unwrap_or_else(|e| panic!("{e}"));
    let err = backup(&data, &out).err().unwrap_or_else(|| panic!("refused")).to_string();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(read(&out), b"yesterday's backup");
    // No database to back up is an error too.
    let err = backup(&tmp.path().join("empty"), &tmp.path().join("x.db")).err().map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("no Kefu database")));
}

#[test]
fn the_command_line_backs_up_and_restores() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (data, other) = (tmp.path().join("data"), tmp.path().join("other"));
    drop(db_with_user(&data, "li.na", "correct horse battery"));
    drop(db_with_user(&other, "wang", "another password"));
    let out = tmp.path().join("nightly.db");
    let run = |args: &[&std::ffi::OsStr]| {
        let o = Command::new(env!("CARGO_BIN_EXE_kefu-server"))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) =
        run(&["backup".as_ref(), "--data".as_ref(), data.as_os_str(), "--out".as_ref(), out.as_os_str()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("backed up") && stdout.contains("1 users"), "{stdout}");
    let (ok, _, stderr) =
        run(&["backup".as_ref(), "--data".as_ref(), data.as_os_str(), "--out".as_ref(), out.as_os_str()]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");

    let (ok, stdout, stderr) =
        run(&["restore".as_ref(), "--data".as_ref(), other.as_os_str(), "--from".as_ref(), out.as_os_str()]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("moved the previous kefu.db aside to") && stdout.contains("restored"),
        "{stdout}"
    );
    assert!(can_log_in(&other, "li.na", "correct horse battery"));

    let (_, help, _) = run(&["restore".as_ref(), "--help".as_ref()]);
    assert!(help.contains("Stop the server first"), "{help}");
}
