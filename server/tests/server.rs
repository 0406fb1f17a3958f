//! The server as a real process on 127.0.0.1: accounts from the command line, sign-in over
//! HTTP, graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kefu-server");

/// Kills the server if a test fails half-way.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &std::path::Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap_or_else(|e| panic!("read: {e}"));
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .to_string();
    assert!(!url.ends_with(":0"), "the real port is printed: {url}");
    Server { child, url }
}

fn add_user(data: &std::path::Path, args: &[&str], password: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(["user", "add", "--password-stdin", "--data"])
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    child.stdin.take().unwrap_or_else(|| panic!("stdin")).write_all(password.as_bytes()).unwrap_or_default();
    child.wait_with_output().unwrap_or_else(|e| panic!("wait: {e}"))
}

fn login(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let res = ureq::post(&format!("{url}/api/v1/login")).send_json(body);
    match res {
        Ok(r) => (r.status(), r.into_json().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or_default()),
        Err(e) => panic!("transport: {e}"),
    }
}

#[test]
fn accounts_sign_in_and_graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");

    // Step 1: an admin adds users from the command line; bad input is refused with a reason.
    let ok = add_user(
        &data,
        &["--username", "li.na", "--role", "agent", "--team", "浦东一组", "--display-name", "李娜"],
        "correct horse battery\n",
    );
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let again = add_user(
        &data,
        &["--username", "li.na", "--role", "agent", "--team", "浦东一组"],
        "another password",
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let short = add_user(&data, &["--username", "wang", "--role", "field", "--team", "浦东一组"], "short");
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8"));
    let no_team = add_user(&data, &["--username", "zhao", "--role", "supervisor"], "long enough password");
    assert!(String::from_utf8_lossy(&no_team.stderr).contains("needs a team"));
    let bad_role =
        add_user(&data, &["--username", "qian", "--role", "boss", "--team", "x"], "long enough password");
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("allowed: field, agent, supervisor, admin"));

    // Step 2: the server starts on a free port and answers health checks.
    let server = start(&data);
    let health = ureq::get(&format!("{}/healthz", server.url)).call().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(health.into_string().unwrap_or_default(), "ok");

    // Step 3: sign-in gives a token bound to a new device; bad credentials give 401 without
    // saying which part was wrong; malformed bodies give 400 with a message.
    let (status, body) = login(
        &server.url,
        serde_json::json!({"username": "li.na", "password": "correct horse battery", "device_name": "李娜的手机"}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].as_str().is_some_and(|t| t.starts_with("kefu_") && t.len() > 60));
    assert_eq!(body["role"], "agent");
    assert!(body["device_id"].as_str().is_some_and(|d| d.starts_with("d-")));
    assert!(body["expires_at"].as_i64().is_some_and(|t| t > 1_700_000_000_000));
    let (status, wrong) =
        login(&server.url, serde_json::json!({"username": "li.na", "password": "wrong", "device_name": "x"}));
    let (status2, unknown) = login(
        &server.url,
        serde_json::json!({"username": "nobody", "password": "wrong", "device_name": "x"}),
    );
    assert_eq!((status, status2), (401, 401));
    assert_eq!(wrong, unknown, "no hint whether the user exists");
    let (status, body) = login(&server.url, serde_json::json!({"username": "li.na"}));
    assert_eq!(status, 400);
    assert!(body["error"].as_str().is_some_and(|e| e.contains("password")), "{body}");

    // Step 4: SIGTERM stops it cleanly (exit 0).
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let mut server = server;
    let status = server.child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "exit status {status:?}");

    // Step 5: a restart keeps the accounts.
    let server = start(&data);
    let (status, _) = login(
        &server.url,
        serde_json::json!({"username": "li.na", "password": "correct horse battery", "device_name": "平板"}),
    );
    assert_eq!(status, 200);
}
