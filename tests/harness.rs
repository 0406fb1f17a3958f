//! Harness for the end-to-end tests: a real `kefu-server` process on 127.0.0.1 (started and
//! killed by the test), users made with its command line, and phones that are real
//! `kefu-store` databases synced by `kefu-sync`.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kefu_model::enums::SourceChannel;
use kefu_model::records::customer::Profile;
use kefu_store::{Client, NewCustomer};
use kefu_sync::SharedStore;

/// The server binary, built by `cargo test --workspace` beside this test's executable.
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join(format!("kefu-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p kefu-server` (or cargo test --workspace)",
        bin.display()
    );
    bin
}

/// A free port on 127.0.0.1 (so a restarted server comes back at the same address).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A running server; killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Data directory.
    pub data: PathBuf,
    port: u16,
    env: Vec<(String, String)>,
    log: PathBuf,
    command: &'static str,
}

impl Server {
    /// Starts `kefu-server serve` on a free port with `data`.
    pub fn start(data: &Path) -> Server {
        Server::start_with_env(data, &[])
    }

    /// Starts with extra environment (limits).
    pub fn start_with_env(data: &Path, env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            child: None,
            url: String::new(),
            data: data.to_path_buf(),
            port: free_port(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            log: data.with_extension("log"),
            command: "serve",
        };
        s.spawn();
        s
    }

    /// Starts `kefu-server demo`: the demo department is seeded into `data` (users
    /// supervisor, agent1-3, field1-3, admin with the password [`DEMO_PASSWORD`]).
    pub fn start_demo(data: &Path) -> Server {
        let mut s = Server {
            child: None,
            url: String::new(),
            data: data.to_path_buf(),
            port: free_port(),
            env: Vec::new(),
            log: data.with_extension("log"),
            command: "demo",
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.data).unwrap();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut child = Command::new(server_binary())
            .args([self.command, "--listen", &format!("127.0.0.1:{}", self.port), "--data"])
            .arg(&self.data)
            .envs(self.env.iter().cloned())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // `demo` prints what it seeded first; the address is on the "listening on" line.
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        for _ in 0..20 {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 || line.starts_with("listening on ") {
                break;
            }
        }
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| {
            panic!(
                "server did not start: {line:?}; log: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            )
        });
        self.url = url.to_string();
        self.child = Some(child);
    }

    /// SIGKILL: no drain, no flush.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again at the same address after [`Server::kill`].
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Adds a user with the command line; returns the user id.
    pub fn add_user(&self, username: &str, role: &str, team: Option<&str>) -> String {
        let mut cmd = Command::new(server_binary());
        cmd.args(["user", "add", "--password-stdin", "--username", username, "--role", role, "--data"])
            .arg(&self.data);
        if let Some(t) = team {
            cmd.args(["--team", t]);
        }
        let mut child =
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(password(username).as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "user add failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace().last().unwrap().to_string()
    }

    /// Signs in over HTTP; returns the login JSON.
    pub fn login(&self, username: &str) -> serde_json::Value {
        ureq::post(&format!("{}/api/v1/login", self.url))
            .send_json(serde_json::json!({"username": username, "password": password(username), "device_name": "test"}))
            .unwrap()
            .into_json()
            .unwrap()
    }

    /// GET with a bearer token: (status, JSON body).
    pub fn get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        match ureq::get(&format!("{}{path}", self.url))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
        {
            Ok(r) => (r.status(), r.into_json().unwrap_or_default()),
            Err(ureq::Error::Status(c, r)) => (c, r.into_json().unwrap_or_default()),
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// Text of `GET /metrics`.
    pub fn metrics(&self) -> String {
        ureq::get(&format!("{}/metrics", self.url)).call().unwrap().into_string().unwrap()
    }

    /// Opens the server database read-only (to check what was stored and projected).
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.data.join("kefu.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// One number from the server database.
    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The password of the demo accounts.
pub const DEMO_PASSWORD: &str = "kefu-demo-1";

/// The test password of a user.
pub fn password(username: &str) -> String {
    format!("pw-{username}-0123456789")
}

/// A phone: its own store file, signed in to the server.
pub fn phone(dir: &Path, server: &Server, username: &str) -> SharedStore {
    phone_with_password(dir, server, username, &password(username))
}

/// A phone signed in with this password (the demo accounts' is [`DEMO_PASSWORD`]).
pub fn phone_with_password(dir: &Path, server: &Server, username: &str, password: &str) -> SharedStore {
    let mut c = Client::open(&dir.join(format!("{username}.db"))).unwrap();
    kefu_sync::login(&mut c, &server.url, username, password, &format!("{username}'s phone")).unwrap();
    Arc::new(Mutex::new(c))
}

/// Runs a sync round and returns its report.
pub fn sync(phone: &SharedStore) -> kefu_sync::Report {
    kefu_sync::sync_blocking(phone.clone()).unwrap_or_else(|e| panic!("sync failed: {e}"))
}

/// Locks a phone's store.
pub fn with<T>(phone: &SharedStore, f: impl FnOnce(&mut Client) -> T) -> T {
    let mut c = phone.lock().unwrap();
    f(&mut c)
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A customer profile taken by phone, with an address in 浦东新区.
pub fn profile(name: &str, phone_no: &str) -> Profile {
    Profile {
        name: name.into(),
        phones: vec![phone_no.into()],
        email: None,
        wechat: None,
        address: Some("上海市浦东新区张杨路 500 号".into()),
        district: Some("浦东新区".into()),
        source: SourceChannel::Phone,
    }
}

/// A new customer file with [`profile`].
pub fn new_customer(name: &str, phone_no: &str) -> NewCustomer {
    NewCustomer { profile: profile(name, phone_no), classification: None }
}

/// Raw automerge-repo protocol over a WebSocket, for tests that check what the server sends.
pub mod raw {
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use kefu_protocol::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message as Ws;

    use crate::Server;

    pub type Socket =
        tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

    pub fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    pub fn ws_url(server: &Server) -> String {
        format!("{}/sync", server.url.replace("http://", "ws://"))
    }

    /// Opens a raw socket with `token` (if any): the HTTP status when refused.
    pub async fn open(server: &Server, token: Option<&str>) -> Result<Socket, u16> {
        let mut req = ws_url(server).into_client_request().unwrap();
        if let Some(t) = token {
            req.headers_mut().insert("Authorization", format!("Bearer {t}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((s, _)) => Ok(s),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("connect: {e}"),
        }
    }

    pub async fn send(s: &mut Socket, m: &Message) {
        s.send(Ws::Binary(kefu_protocol::encode(m).into())).await.unwrap();
    }

    /// The next protocol message, or `None` when the server closed the connection.
    pub async fn recv(s: &mut Socket) -> Option<Message> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), s.next()).await.expect("the server answers") {
                Some(Ok(Ws::Binary(b))) => return Some(kefu_protocol::decode(&b).unwrap()),
                Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    pub async fn joined(server: &Server, token: &str, me: &str) -> Socket {
        let mut s = open(server, Some(token)).await.unwrap();
        let join = Message::Join {
            sender_id: me.into(),
            supported_protocol_versions: vec!["1".into()],
            metadata: None,
        };
        send(&mut s, &join).await;
        assert!(matches!(recv(&mut s).await, Some(Message::Peer { .. })));
        s
    }

    /// A `request` for `document_id` from peer `me`, carrying the sync message `data`.
    pub fn request(document_id: &str, me: &str, data: Vec<u8>) -> Message {
        Message::Request {
            document_id: document_id.into(),
            sender_id: me.into(),
            target_id: "server".into(),
            data,
        }
    }

    /// A `sync` for `document_id` from peer `me`, carrying the sync message `data`.
    pub fn sync(document_id: &str, me: &str, data: Vec<u8>) -> Message {
        Message::Sync {
            document_id: document_id.into(),
            sender_id: me.into(),
            target_id: "server".into(),
            data,
        }
    }

    /// The next protocol message if one comes within `wait`; `Some(None)` when the server
    /// closed the connection.
    pub async fn recv_within(s: &mut Socket, wait: Duration) -> Option<Option<Message>> {
        tokio::time::timeout(wait, recv(s)).await.ok()
    }
}
