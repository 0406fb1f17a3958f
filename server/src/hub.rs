//! The live connections: who is connected, which documents each follows, and how to reach
//! them. Connections are plain tasks; the hub only holds a channel to each, so a slow or dead
//! connection never blocks another.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use kefu_protocol::Message;
use tokio::sync::mpsc;

use crate::access::{access, Access, DocMeta};
use crate::auth::Principal;

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

/// Who besides a document's followers hears that it changed.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    /// Its followers only.
    Followers,
    /// And every follow-all connection of this team (each decides by its own access); for the
    /// dashboard's occasional edits.
    Team(&'a str),
    /// And the follow-all connections that may read it as it now is: decided here, so a change
    /// wakes the few phones it concerns, not every phone of the team.
    Readers(&'a DocMeta),
}

#[derive(Debug)]
struct Entry {
    tx: mpsc::UnboundedSender<Control>,
    /// Who the connection is signed in as (to decide follow-all pushes here).
    who: Principal,
    peer_id: Option<String>,
    docs: HashSet<String>,
    /// Wants every document of its team it may read pushed, not only those it synced
    /// (`?follow=all`).
    follow_all: bool,
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

impl Entry {
    fn may_read(&self, meta: &DocMeta) -> bool {
        access(&self.who, meta) != Access::None
    }
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection; returns its id and the channel it listens on.
    pub fn register(&self, p: &Principal, follow_all: bool) -> (u64, mpsc::UnboundedReceiver<Control>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock()
            .conns
            .insert(id, Entry { tx, who: p.clone(), peer_id: None, docs: HashSet::new(), follow_all });
        (id, rx)
    }

    /// Records the peer id a connection joined with. An older connection with the same peer id
    /// of the same user is told to close: a second `join` from the same sender replaces the old
    /// socket.
    pub fn set_peer(&self, conn: u64, peer_id: &str) {
        let mut inner = self.lock();
        let user = inner.conns.get(&conn).map(|e| e.who.user_id.clone());
        for (id, e) in &inner.conns {
            // Only the same user's older socket: nobody can close another user's connection
            // by guessing its peer id.
            if *id != conn && e.peer_id.as_deref() == Some(peer_id) && Some(&e.who.user_id) == user.as_ref() {
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

    /// Tells every follower of `doc` except `from` about it, and the follow-all connections
    /// `audience` names (document changes only).
    pub fn notify(&self, doc: &str, audience: Audience<'_>, from: u64, what: &Control) {
        let inner = self.lock();
        let followers = inner.by_doc.get(doc);
        let changed = matches!(what, Control::DocChanged(_));
        for (id, e) in &inner.conns {
            let follows = followers.is_some_and(|s| s.contains(id))
                || (e.follow_all
                    && changed
                    && match audience {
                        Audience::Followers => false,
                        Audience::Team(team) => e.who.team.as_deref() == Some(team),
                        Audience::Readers(meta) => e.may_read(meta),
                    });
            if *id != from && follows {
                let _ = e.tx.send(what.clone());
            }
        }
    }

    /// Closes every connection of a device; returns how many.
    pub fn close_device(&self, device_id: &str, reason: &str) -> usize {
        self.close_where(|e| e.who.device_id == device_id, reason)
    }

    /// Closes every connection of a user; returns how many.
    pub fn close_user(&self, user_id: &str, reason: &str) -> usize {
        self.close_where(|e| e.who.user_id == user_id, reason)
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

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_model::enums::{DocKind, Role};

    fn who(user: &str, role: Role, team: &str) -> Principal {
        Principal { user_id: user.into(), device_id: format!("{user}-phone"), role, team: Some(team.into()) }
    }

    #[test]
    fn a_change_wakes_its_followers_and_only_the_follow_all_phones_that_may_read_it() {
        let hub = Hub::default();
        let (sup, mut sup_rx) = hub.register(&who("sup", Role::Supervisor, "A"), true);
        let (li, mut li_rx) = hub.register(&who("li", Role::Agent, "A"), true);
        let (_wu, mut wu_rx) = hub.register(&who("wu", Role::Agent, "A"), true);
        let (_other, mut other_rx) = hub.register(&who("sup_b", Role::Supervisor, "B"), true);
        // zhao follows the document (reassigned away from him: he must hear of it).
        let (zhao, mut zhao_rx) = hub.register(&who("zhao", Role::Agent, "A"), false);
        hub.subscribe(zhao, "doc-1");
        let meta = DocMeta {
            kind: DocKind::Customer,
            team: "A".into(),
            agent: Some("li".into()),
            field_staff: None,
            staff: None,
        };
        let changed = Control::DocChanged("doc-1".into());
        let heard = |rx: &mut mpsc::UnboundedReceiver<Control>| {
            let mut n = 0;
            while rx.try_recv().is_ok() {
                n += 1;
            }
            n
        };

        hub.notify("doc-1", Audience::Readers(&meta), li, &changed);
        assert_eq!(heard(&mut sup_rx), 1, "the team's supervisor");
        assert_eq!(heard(&mut li_rx), 0, "not the sender");
        assert_eq!(heard(&mut wu_rx), 0, "another agent's phone is not woken");
        assert_eq!(heard(&mut other_rx), 0, "nor another team's");
        assert_eq!(heard(&mut zhao_rx), 1, "a follower always");

        hub.notify("doc-1", Audience::Team("A"), sup, &changed);
        assert_eq!(
            (heard(&mut li_rx), heard(&mut wu_rx), heard(&mut other_rx), heard(&mut zhao_rx)),
            (1, 1, 0, 1)
        );
        hub.notify("doc-1", Audience::Followers, sup, &changed);
        assert_eq!((heard(&mut li_rx), heard(&mut zhao_rx)), (0, 1));
    }
}
