//! The live connections: who is connected, which documents each follows, and how to reach
//! them. Connections are plain tasks; the hub only holds a channel to each, so a slow or dead
//! connection never blocks another.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use kefu_protocol::Message;
use tokio::sync::mpsc;

/// What the hub asks a connection to do.
#[derive(Debug, Clone)]
pub enum Control {
    /// The document changed on the server: send this peer what it lacks.
    DocChanged(String),
    /// Relay an ephemeral message from another peer of the document.
    Ephemeral(Message),
    /// Close the connection (revoked device, disabled user, replaced by a newer connection).
    Close(String),
}

#[derive(Debug)]
struct Entry {
    tx: mpsc::UnboundedSender<Control>,
    user_id: String,
    device_id: String,
    peer_id: Option<String>,
    docs: HashSet<String>,
    /// Wants every document of its team it may read pushed, not only those it synced
    /// (`?follow=all`).
    follow_all: bool,
    team: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    conns: HashMap<u64, Entry>,
    by_doc: HashMap<String, HashSet<u64>>,
}

/// The registry of live sync connections.
#[derive(Debug, Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    next: AtomicU64,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection; returns its id and the channel it listens on.
    pub fn register(
        &self,
        user_id: &str,
        device_id: &str,
        team: Option<&str>,
        follow_all: bool,
    ) -> (u64, mpsc::UnboundedReceiver<Control>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().conns.insert(
            id,
            Entry {
                tx,
                user_id: user_id.to_string(),
                device_id: device_id.to_string(),
                peer_id: None,
                docs: HashSet::new(),
                follow_all,
                team: team.map(str::to_string),
            },
        );
        (id, rx)
    }

    /// Records the peer id a connection joined with. An older connection with the same peer id
    /// of the same user is told to close: a second `join` from the same sender replaces the old
    /// socket.
    pub fn set_peer(&self, conn: u64, peer_id: &str) {
        let mut inner = self.lock();
        let user = inner.conns.get(&conn).map(|e| e.user_id.clone());
        for (id, e) in &inner.conns {
            // Only the same user's older socket: nobody can close another user's connection
            // by guessing its peer id.
            if *id != conn && e.peer_id.as_deref() == Some(peer_id) && Some(&e.user_id) == user.as_ref() {
                let _ = e.tx.send(Control::Close("replaced by a newer connection of the same peer".into()));
            }
        }
        if let Some(e) = inner.conns.get_mut(&conn) {
            e.peer_id = Some(peer_id.to_string());
        }
    }

    /// The connection follows a document (gets its changes live).
    pub fn subscribe(&self, conn: u64, doc: &str) {
        let mut inner = self.lock();
        if let Some(e) = inner.conns.get_mut(&conn) {
            if e.docs.insert(doc.to_string()) {
                inner.by_doc.entry(doc.to_string()).or_default().insert(conn);
            }
        }
    }

    /// The connection stops following a document.
    pub fn unsubscribe(&self, conn: u64, doc: &str) {
        let mut inner = self.lock();
        if let Some(e) = inner.conns.get_mut(&conn) {
            e.docs.remove(doc);
        }
        if let Some(set) = inner.by_doc.get_mut(doc) {
            set.remove(&conn);
            if set.is_empty() {
                inner.by_doc.remove(doc);
            }
        }
    }

    /// Forgets a connection.
    pub fn unregister(&self, conn: u64) {
        let mut inner = self.lock();
        if let Some(e) = inner.conns.remove(&conn) {
            for d in e.docs {
                if let Some(set) = inner.by_doc.get_mut(&d) {
                    set.remove(&conn);
                    if set.is_empty() {
                        inner.by_doc.remove(&d);
                    }
                }
            }
        }
    }

    /// Tells every follower of `doc` except `from` about it.
    /// Connections that follow all their documents hear of every change too; each decides by
    /// its own access whether to pass it on.
    /// `team` is the document's team (`None`: followers only).
    pub fn notify(&self, doc: &str, team: Option<&str>, from: u64, what: &Control) {
        let inner = self.lock();
        let followers = inner.by_doc.get(doc);
        for (id, e) in &inner.conns {
            let follows = followers.is_some_and(|s| s.contains(id))
                || (e.follow_all
                    && team.is_some()
                    && e.team.as_deref() == team
                    && matches!(what, Control::DocChanged(_)));
            if *id != from && follows {
                let _ = e.tx.send(what.clone());
            }
        }
    }

    /// Closes every connection of a device; returns how many.
    pub fn close_device(&self, device_id: &str, reason: &str) -> usize {
        self.close_where(|e| e.device_id == device_id, reason)
    }

    /// Closes every connection of a user; returns how many.
    pub fn close_user(&self, user_id: &str, reason: &str) -> usize {
        self.close_where(|e| e.user_id == user_id, reason)
    }

    /// Closes every connection (shutdown).
    pub fn close_all(&self, reason: &str) -> usize {
        self.close_where(|_| true, reason)
    }

    fn close_where(&self, f: impl Fn(&Entry) -> bool, reason: &str) -> usize {
        let inner = self.lock();
        let mut n = 0;
        for e in inner.conns.values().filter(|e| f(e)) {
            let _ = e.tx.send(Control::Close(reason.to_string()));
            n += 1;
        }
        n
    }

    /// Live connections.
    pub fn connections(&self) -> usize {
        self.lock().conns.len()
    }
}
