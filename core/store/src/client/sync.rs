//! What the sync client needs from the store: heads of every document without opening any,
//! automerge sync messages to and from a peer, and the status of every local change.
//!
//! The network side lives in `kefu-sync`; everything here is synchronous and offline.

use std::collections::{HashMap, HashSet};

use kefu_model::automerge::sync::{self, SyncDoc};
use kefu_model::automerge::{AutoCommit, ChangeHash};
use kefu_model::document::forget_patches;
use kefu_model::KefuDoc;
use rusqlite::{params, OptionalExtension};

use super::Client;
use crate::error::{Result, StoreError};
use crate::project;

/// Heads as stored in the `heads` column: sorted hex hashes joined by commas.
pub(super) fn heads_text(heads: &[ChangeHash]) -> String {
    let mut v: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    v.sort();
    v.join(",")
}

fn split_heads(text: &str) -> Vec<String> {
    text.split(',').filter(|h| !h.is_empty()).map(str::to_string).collect()
}

/// What receiving one sync message did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReceived {
    /// New changes arrived (the record changed on this device).
    pub changed: bool,
    /// Local changes the peer now holds (moved to `accepted`).
    pub accepted: Vec<String>,
    /// Both sides have the same heads: nothing left to exchange for this document.
    pub in_sync: bool,
}

impl Client {
    /// The heads of every stored document (sorted hex), by document id. Documents written
    /// before heads were recorded are opened once to fill them in.
    pub fn local_heads(&mut self) -> Result<HashMap<String, Vec<String>>> {
        let mut missing = Vec::new();
        let mut out = HashMap::new();
        {
            let mut stmt = self.conn.prepare_cached("SELECT doc_id, heads FROM documents")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?;
            for row in rows {
                match row? {
                    (id, Some(h)) => {
                        out.insert(id, split_heads(&h));
                    }
                    (id, None) => missing.push(id),
                }
            }
        }
        for id in missing {
            let mut doc = self.load(&id)?;
            let text = heads_text(&doc.heads());
            self.conn
                .prepare_cached("UPDATE documents SET heads = ?2 WHERE doc_id = ?1")?
                .execute(params![id, text])?;
            self.cache.put(&id, doc);
            out.insert(id, split_heads(&text));
        }
        Ok(out)
    }

    /// Documents with changes made here that the server has not accepted yet.
    pub fn unsynced_documents(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT doc_id FROM changes WHERE status IN ('local', 'sent') ORDER BY doc_id",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn sync_state_for(&mut self, id: &str, peer: &str) -> Result<sync::State> {
        if let Some(s) = self.sync_states.remove(&(id.to_string(), peer.to_string())) {
            return Ok(s);
        }
        let saved: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT state FROM sync_state WHERE doc_id = ?1 AND peer = ?2")?
            .query_row(params![id, peer], |r| r.get(0))
            .optional()?;
        // A saved state that does not decode is only an optimisation lost: start afresh.
        Ok(saved.and_then(|b| sync::State::decode(&b).ok()).unwrap_or_default())
    }

    /// Whether this device holds the document.
    pub fn has_document(&self, id: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM documents WHERE doc_id = ?1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The next automerge sync message for document `id` to `peer`, or `None` when there is
    /// nothing to say. For a document this device does not have, the message asks for it.
    /// Local changes the message carries move from `local` to `sent`.
    pub fn sync_generate(&mut self, id: &str, peer: &str) -> Result<Option<Vec<u8>>> {
        let mut state = self.sync_state_for(id, peer)?;
        let message = if self.has_document(id)? {
            let mut doc = self.load(id)?;
            let m = doc.automerge().sync().generate_sync_message(&mut state);
            self.cache.put(id, doc);
            m
        } else {
            let actor = self.actor.clone();
            let doc =
                self.incoming.entry(id.to_string()).or_insert_with(|| AutoCommit::new().with_actor(actor));
            doc.sync().generate_sync_message(&mut state)
        };
        self.sync_states.insert((id.to_string(), peer.to_string()), state);
        let Some(m) = message else { return Ok(None) };
        if !m.changes.is_empty() {
            let now = self.now();
            self.conn.prepare_cached("UPDATE changes SET status = 'sent', updated_at = ?2 WHERE doc_id = ?1 AND status = 'local'")?.execute(params![id, now],
            )?;
        }
        Ok(Some(m.encode()))
    }

    /// Receives an automerge sync message for document `id` from `peer`: merges what it
    /// carries (creating the document if this device did not have it), stores the result with
    /// its index rows in one transaction, and marks the local changes the peer now holds as
    /// accepted. Bytes that are not a sync message, or changes that do not load, are an error
    /// and leave the stored document as it was.
    pub fn sync_receive(&mut self, id: &str, peer: &str, message: &[u8]) -> Result<SyncReceived> {
        let m = sync::Message::decode(message)
            .map_err(|e| StoreError::Document(format!("not a sync message for {id}: {e}")))?;
        let mut state = self.sync_state_for(id, peer)?;
        let mut out = SyncReceived::default();
        let mut doc = if self.has_document(id)? {
            self.load(id)?
        } else {
            let actor = self.actor.clone();
            let mut fresh =
                self.incoming.remove(id).unwrap_or_else(|| AutoCommit::new().with_actor(actor.clone()));
            let received = fresh.sync().receive_sync_message(&mut state, m);
            forget_patches(&mut fresh);
            if let Err(e) = received {
                self.sync_states.insert((id.to_string(), peer.to_string()), state);
                return Err(StoreError::Document(format!("changes for {id} do not load: {e}")));
            }
            if fresh.get_heads().is_empty() || !fresh.get_missing_deps(&[]).is_empty() {
                self.incoming.insert(id.to_string(), fresh);
                self.sync_states.insert((id.to_string(), peer.to_string()), state);
                return Ok(out);
            }
            let mut doc = KefuDoc::from_automerge(fresh);
            self.persist(id, &mut doc, None, &[])?;
            out.changed = true;
            return self.after_receive(id, peer, doc, state, out);
        };
        let before = doc.heads();
        let received = doc.automerge().sync().receive_sync_message(&mut state, m);
        forget_patches(doc.automerge());
        if let Err(e) = received {
            // The copy in memory may hold part of the bad changes: drop it, the disk is intact.
            drop(doc);
            self.sync_states.insert((id.to_string(), peer.to_string()), state);
            return Err(StoreError::Document(format!("changes for {id} do not load: {e}")));
        }
        if doc.heads() != before {
            self.persist(id, &mut doc, Some(&before), &[])?;
            out.changed = true;
        }
        self.after_receive(id, peer, doc, state, out)
    }

    fn after_receive(
        &mut self,
        id: &str,
        peer: &str,
        mut doc: KefuDoc,
        state: sync::State,
        mut out: SyncReceived,
    ) -> Result<SyncReceived> {
        let ours = doc.heads();
        if let Some(theirs) = &state.their_heads {
            let am = doc.automerge();
            if theirs.iter().all(|h| am.get_change_by_hash(h).is_some()) {
                // Everything we hold that the peer lacks; our other changes it has.
                let lacking: HashSet<String> =
                    am.get_changes(theirs).iter().map(|c| c.hash().to_string()).collect();
                let pending: Vec<String> = {
                    let mut stmt = self.conn.prepare_cached(
                        "SELECT hash FROM changes WHERE doc_id = ?1 AND status IN ('local', 'sent')",
                    )?;
                    let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
                    rows.collect::<rusqlite::Result<_>>()?
                };
                out.accepted = pending.into_iter().filter(|h| !lacking.contains(h)).collect();
                if !out.accepted.is_empty() {
                    self.set_change_status(&out.accepted.clone(), "accepted", None)?;
                }
                let mut t = theirs.clone();
                t.sort();
                let mut o = ours.clone();
                o.sort();
                out.in_sync = t == o;
            }
        }
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO sync_state (doc_id, peer, state) VALUES (?1, ?2, ?3)")?
            .execute(params![id, peer, state.encode()])?;
        self.sync_states.insert((id.to_string(), peer.to_string()), state);
        self.cache.put(id, doc);
        Ok(out)
    }

    /// The peer refused changes to `id`: the listed ones, and every change of this document
    /// still waiting for acceptance (they were sent together or build on the refused ones),
    /// become `rejected` with the reason. They stay in the document and the outbox history;
    /// nothing is deleted.
    pub fn mark_rejected(&mut self, id: &str, hashes: &[String], reason: &str) -> Result<Vec<String>> {
        let mut all: Vec<String> = hashes.to_vec();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT hash FROM changes WHERE doc_id = ?1 AND status IN ('local', 'sent')",
            )?;
            for h in stmt.query_map([id], |r| r.get::<_, String>(0))? {
                let h = h?;
                if !all.contains(&h) {
                    all.push(h);
                }
            }
        }
        self.set_change_status(&all, "rejected", Some(reason))?;
        Ok(all)
    }

    /// Forgets this session's sync states with `peer` (after a disconnect); what both sides
    /// were known to share stays saved, so the next session starts from there.
    pub fn sync_disconnected(&mut self, peer: &str) {
        self.sync_states.retain(|(_, p), _| p != peer);
        self.incoming.clear();
    }

    /// Removes a document the server no longer lists for this user — only when nothing made
    /// here is waiting or was refused (those stay, for upload or for the supervisor). Returns
    /// whether it was removed.
    pub fn remove_if_settled(&mut self, id: &str) -> Result<bool> {
        let unsettled: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM changes WHERE doc_id = ?1 AND status IN ('local', 'sent', 'rejected')",
            )?
            .query_row([id], |r| r.get(0))?;
        if unsettled > 0 {
            return Ok(false);
        }
        self.cache.take(id);
        let tx = self.conn.transaction()?;
        project::clear(&tx, id)?;
        tx.prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?.execute([id])?;
        tx.prepare_cached("DELETE FROM documents WHERE doc_id = ?1")?.execute([id])?;
        tx.prepare_cached("DELETE FROM sync_state WHERE doc_id = ?1")?.execute([id])?;
        tx.prepare_cached("DELETE FROM changes WHERE doc_id = ?1")?.execute([id])?;
        tx.commit()?;
        Ok(true)
    }
}

impl Client {
    /// The server lists the document with exactly our heads: every change made here is
    /// there, so all waiting ones are accepted. Returns how many moved.
    pub fn mark_all_accepted(&mut self, id: &str) -> Result<usize> {
        let now = self.now();
        Ok(self.conn.prepare_cached("UPDATE changes SET status = 'accepted', reason = NULL, updated_at = ?2 WHERE doc_id = ?1 AND status IN ('local', 'sent')")?.execute(params![id, now],
        )?)
    }
}

/// A change taken out of its document after the server refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// Change hash (hex).
    pub hash: String,
    /// Document.
    pub doc_id: String,
    /// The server's reason (for changes that only built on a refused one: that reason too).
    pub reason: Option<String>,
    /// When it was set aside, Unix ms.
    pub at: i64,
}

impl Client {
    /// Takes the refused changes of a document — and the changes made here on top of them —
    /// out of it, so the record continues from what the server accepted. They are kept in
    /// the `set_aside` table with the reason, never deleted. Returns how many were set aside.
    pub fn set_aside_rejected(&mut self, id: &str) -> Result<usize> {
        let rejected: Vec<(String, Option<String>)> = {
            let mut stmt = self
                .conn
                .prepare("SELECT hash, reason FROM changes WHERE doc_id = ?1 AND status = 'rejected'")?;
            let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if rejected.is_empty() {
            return Ok(0);
        }
        let reason = rejected.iter().find_map(|(_, r)| r.clone());
        let mut doc = self.load(id)?;
        let all = doc.automerge().get_changes(&[]);
        let mut out: HashSet<ChangeHash> = HashSet::new();
        for (h, _) in &rejected {
            if let Ok(hash) = h.parse::<ChangeHash>() {
                out.insert(hash);
            }
        }
        // Changes come in causal order: one that depends on a set-aside change goes too.
        let mut keep = Vec::new();
        let mut gone = Vec::new();
        for c in all {
            if out.contains(&c.hash()) || c.deps().iter().any(|d| out.contains(d)) {
                out.insert(c.hash());
                gone.push(c);
            } else {
                keep.push(c);
            }
        }
        let mut fresh = AutoCommit::new().with_actor(self.actor.clone());
        fresh
            .apply_changes(keep)
            .map_err(|e| StoreError::Document(format!("rebuilding {id} without refused changes: {e}")))?;
        forget_patches(&mut fresh);
        let mut rebuilt = KefuDoc::from_automerge(fresh);
        let now = self.now();
        {
            let tx = self.conn.transaction()?;
            for c in &gone {
                let h = c.hash().to_string();
                tx.prepare_cached("INSERT OR IGNORE INTO set_aside (hash, doc_id, change, reason, set_aside_at) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(params![h, id, c.raw_bytes(), reason, now],
                )?;
                tx.prepare_cached("DELETE FROM changes WHERE hash = ?1")?.execute([&h])?;
            }
            tx.prepare_cached("DELETE FROM sync_state WHERE doc_id = ?1")?.execute([id])?;
            tx.commit()?;
        }
        self.sync_states.retain(|(d, _), _| d != id);
        drop(doc);
        self.persist(id, &mut rebuilt, None, &[])?;
        self.cache.put(id, rebuilt);
        Ok(gone.len())
    }

    /// Changes set aside from a document (or from all, with `None`), newest first.
    pub fn set_aside(&self, id: Option<&str>) -> Result<Vec<SetAside>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT hash, doc_id, reason, set_aside_at FROM set_aside WHERE ?1 IS NULL OR doc_id = ?1 ORDER BY set_aside_at DESC, hash",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(SetAside { hash: r.get(0)?, doc_id: r.get(1)?, reason: r.get(2)?, at: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
