//! The automerge-repo network protocol, version 1: one CBOR map per WebSocket binary frame.
//!
//! The message set and field names follow the wire-protocol section of the
//! `automerge-repo-network-websocket` README, so stock `@automerge/automerge-repo` clients can
//! talk to Kefu. Decoding is tolerant in the ways JavaScript encoders (cbor-x) need: integers
//! may arrive as floats with an integral value, absent optional fields may arrive as
//! `undefined` or `null`, byte strings may arrive wrapped in the typed-array tag (64), and
//! `supportedProtocolVersions` may be one string or a list. Anything else malformed is a
//! [`DecodeError`] naming the field, never a panic. No I/O happens here.

use std::collections::BTreeMap;

use ciborium::value::Value;

/// The only protocol version there is.
pub const PROTOCOL_VERSION: &str = "1";

/// Metadata a peer sends in `join` and `peer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerMetadata {
    /// The storage id of the sender, when it has persistent storage.
    pub storage_id: Option<String>,
    /// Whether the sender expects never to connect again with this storage id.
    pub is_ephemeral: bool,
}

/// Heads of one storage id in a `remote-heads-changed` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHeads {
    /// Base64 hashes.
    pub heads: Vec<String>,
    /// Unix ms on the node that first sent it.
    pub timestamp: u64,
}

/// One protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Initiating peer's handshake.
    Join {
        /// Sender's peer id.
        sender_id: String,
        /// Versions the sender speaks.
        supported_protocol_versions: Vec<String>,
        /// Optional metadata.
        metadata: Option<PeerMetadata>,
    },
    /// Receiving peer's answer to `join`.
    Peer {
        /// Sender's peer id.
        sender_id: String,
        /// The version chosen.
        selected_protocol_version: String,
        /// The joining peer.
        target_id: String,
        /// Optional metadata.
        metadata: Option<PeerMetadata>,
    },
    /// The sender is about to disconnect.
    Leave {
        /// Sender's peer id.
        sender_id: String,
    },
    /// Begin syncing a document; answer `doc-unavailable` if you do not have it.
    Request {
        /// Document id (base58check).
        document_id: String,
        /// Sender.
        sender_id: String,
        /// Target.
        target_id: String,
        /// An automerge sync message.
        data: Vec<u8>,
    },
    /// An automerge sync message for a document.
    Sync {
        /// Document id (base58check).
        document_id: String,
        /// Sender.
        sender_id: String,
        /// Target.
        target_id: String,
        /// An automerge sync message.
        data: Vec<u8>,
    },
    /// The sender does not have the document (or may not share it).
    DocUnavailable {
        /// Sender.
        sender_id: String,
        /// Target.
        target_id: String,
        /// Document id.
        document_id: String,
    },
    /// Transient data about a document (presence, cursors), relayed, never stored.
    Ephemeral {
        /// Sender.
        sender_id: String,
        /// Target.
        target_id: String,
        /// Sequence number within the session.
        count: u64,
        /// Session id.
        session_id: String,
        /// Document id.
        document_id: String,
        /// Arbitrary bytes.
        data: Vec<u8>,
    },
    /// A protocol error; the connection closes.
    Error {
        /// What went wrong.
        message: String,
    },
    /// Change the storage ids whose heads the sender wants to hear about.
    RemoteSubscriptionChange {
        /// Sender.
        sender_id: String,
        /// Target.
        target_id: String,
        /// Storage ids to add.
        add: Vec<String>,
        /// Storage ids to remove.
        remove: Vec<String>,
    },
    /// Heads of a document at other storage ids.
    RemoteHeadsChanged {
        /// Sender.
        sender_id: String,
        /// Target.
        target_id: String,
        /// Document id.
        document_id: String,
        /// Heads by storage id.
        new_heads: BTreeMap<String, RemoteHeads>,
    },
}

impl Message {
    /// The wire name of the message type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::Join { .. } => "join",
            Message::Peer { .. } => "peer",
            Message::Leave { .. } => "leave",
            Message::Request { .. } => "request",
            Message::Sync { .. } => "sync",
            Message::DocUnavailable { .. } => "doc-unavailable",
            Message::Ephemeral { .. } => "ephemeral",
            Message::Error { .. } => "error",
            Message::RemoteSubscriptionChange { .. } => "remote-subscription-change",
            Message::RemoteHeadsChanged { .. } => "remote-heads-changed",
        }
    }
}

/// Why bytes are not a protocol message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not CBOR at all, or truncated.
    #[error("not CBOR: {0}")]
    NotCbor(String),
    /// CBOR, but not a map with a `type`.
    #[error("a message must be a CBOR map with a text `type`")]
    NotAMessage,
    /// A `type` this implementation does not know.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// A required field is absent.
    #[error("{message}: missing field `{field}`")]
    Missing {
        /// Message type.
        message: &'static str,
        /// Field.
        field: &'static str,
    },
    /// A field has the wrong type.
    #[error("{message}: field `{field}` must be {expected}")]
    WrongType {
        /// Message type.
        message: &'static str,
        /// Field.
        field: &'static str,
        /// What was expected.
        expected: &'static str,
    },
}

struct Fields<'a> {
    message: &'static str,
    map: BTreeMap<&'a str, &'a Value>,
}

fn present(v: &Value) -> bool {
    !matches!(v, Value::Null)
}

impl<'a> Fields<'a> {
    fn get(&self, field: &'static str) -> Option<&'a Value> {
        self.map.get(field).copied().filter(|v| present(v))
    }

    fn wrong(&self, field: &'static str, expected: &'static str) -> DecodeError {
        DecodeError::WrongType { message: self.message, field, expected }
    }

    fn missing(&self, field: &'static str) -> DecodeError {
        DecodeError::Missing { message: self.message, field }
    }

    fn opt_str(&self, field: &'static str) -> Result<Option<String>, DecodeError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Text(t)) => Ok(Some(t.clone())),
            Some(_) => Err(self.wrong(field, "a text string")),
        }
    }

    fn str(&self, field: &'static str) -> Result<String, DecodeError> {
        self.opt_str(field)?.ok_or_else(|| self.missing(field))
    }

    fn bytes(&self, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        match self.get(field) {
            None => Err(self.missing(field)),
            Some(Value::Bytes(b)) => Ok(b.clone()),
            Some(Value::Tag(64, inner)) => match inner.as_ref() {
                Value::Bytes(b) => Ok(b.clone()),
                _ => Err(self.wrong(field, "a byte string")),
            },
            Some(_) => Err(self.wrong(field, "a byte string")),
        }
    }

    fn uint(&self, field: &'static str) -> Result<u64, DecodeError> {
        match self.get(field) {
            None => Err(self.missing(field)),
            Some(v) => as_uint(v).ok_or_else(|| self.wrong(field, "a non-negative integer")),
        }
    }

    fn str_list(&self, field: &'static str) -> Result<Vec<String>, DecodeError> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Text(t)) => Ok(vec![t.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::Text(t) => Ok(t.clone()),
                    _ => Err(self.wrong(field, "a list of text strings")),
                })
                .collect(),
            Some(_) => Err(self.wrong(field, "a list of text strings")),
        }
    }

    fn metadata(&self) -> Result<Option<PeerMetadata>, DecodeError> {
        let Some(v) = self.get("metadata") else { return Ok(None) };
        let Value::Map(entries) = v else { return Err(self.wrong("metadata", "a map")) };
        let mut meta = PeerMetadata::default();
        for (k, v) in entries {
            match (k, v) {
                (Value::Text(k), Value::Text(s)) if k == "storageId" => meta.storage_id = Some(s.clone()),
                (Value::Text(k), Value::Bool(b)) if k == "isEphemeral" => meta.is_ephemeral = *b,
                _ => {}
            }
        }
        Ok(Some(meta))
    }
}

/// An unsigned integer, also from a float with an integral value (as JavaScript may send).
fn as_uint(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => u64::try_from(i128::from(*i)).ok(),
        Value::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64 => Some(*f as u64),
        _ => None,
    }
}

/// Decodes one message.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let value: Value = ciborium::de::from_reader(bytes).map_err(|e| DecodeError::NotCbor(e.to_string()))?;
    let Value::Map(entries) = &value else { return Err(DecodeError::NotAMessage) };
    let mut map = BTreeMap::new();
    for (k, v) in entries {
        if let Value::Text(k) = k {
            map.insert(k.as_str(), v);
        }
    }
    let Some(Value::Text(kind)) = map.get("type").copied() else { return Err(DecodeError::NotAMessage) };
    let f = |message: &'static str| Fields { message, map: map.clone() };
    Ok(match kind.as_str() {
        "join" => {
            let f = f("join");
            Message::Join {
                sender_id: f.str("senderId")?,
                supported_protocol_versions: f.str_list("supportedProtocolVersions")?,
                metadata: f.metadata()?,
            }
        }
        "peer" => {
            let f = f("peer");
            Message::Peer {
                sender_id: f.str("senderId")?,
                selected_protocol_version: f.str("selectedProtocolVersion")?,
                target_id: f.str("targetId")?,
                metadata: f.metadata()?,
            }
        }
        "leave" => Message::Leave { sender_id: f("leave").str("senderId")? },
        "request" | "sync" => {
            let name = if kind == "request" { "request" } else { "sync" };
            let f = f(name);
            let (document_id, sender_id, target_id, data) =
                (f.str("documentId")?, f.str("senderId")?, f.str("targetId")?, f.bytes("data")?);
            if name == "request" {
                Message::Request { document_id, sender_id, target_id, data }
            } else {
                Message::Sync { document_id, sender_id, target_id, data }
            }
        }
        "doc-unavailable" => {
            let f = f("doc-unavailable");
            Message::DocUnavailable {
                sender_id: f.str("senderId")?,
                target_id: f.str("targetId")?,
                document_id: f.str("documentId")?,
            }
        }
        "ephemeral" => {
            let f = f("ephemeral");
            Message::Ephemeral {
                sender_id: f.str("senderId")?,
                target_id: f.str("targetId")?,
                count: f.uint("count")?,
                session_id: f.str("sessionId")?,
                document_id: f.str("documentId")?,
                data: f.bytes("data")?,
            }
        }
        "error" => Message::Error { message: f("error").opt_str("message")?.unwrap_or_default() },
        "remote-subscription-change" => {
            let f = f("remote-subscription-change");
            Message::RemoteSubscriptionChange {
                sender_id: f.str("senderId")?,
                target_id: f.str("targetId")?,
                add: f.str_list("add")?,
                remove: f.str_list("remove")?,
            }
        }
        "remote-heads-changed" => {
            let f = f("remote-heads-changed");
            let mut new_heads = BTreeMap::new();
            match f.get("newHeads") {
                Some(Value::Map(entries)) => {
                    for (k, v) in entries {
                        let (Value::Text(storage), Value::Map(inner)) = (k, v) else {
                            return Err(f.wrong("newHeads", "a map of storage id to {heads, timestamp}"));
                        };
                        let mut heads = Vec::new();
                        let mut timestamp = 0;
                        for (ik, iv) in inner {
                            match (ik, iv) {
                                (Value::Text(n), Value::Array(hs)) if n == "heads" => {
                                    heads =
                                        hs.iter().filter_map(|h| h.as_text().map(str::to_string)).collect()
                                }
                                (Value::Text(n), v) if n == "timestamp" => {
                                    timestamp = as_uint(v).unwrap_or(0)
                                }
                                _ => {}
                            }
                        }
                        new_heads.insert(storage.clone(), RemoteHeads { heads, timestamp });
                    }
                }
                None => {}
                Some(_) => return Err(f.wrong("newHeads", "a map")),
            }
            Message::RemoteHeadsChanged {
                sender_id: f.str("senderId")?,
                target_id: f.str("targetId")?,
                document_id: f.str("documentId")?,
                new_heads,
            }
        }
        other => return Err(DecodeError::UnknownType(other.chars().take(64).collect())),
    })
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn metadata_value(m: &PeerMetadata) -> Value {
    let mut entries = vec![(text("isEphemeral"), Value::Bool(m.is_ephemeral))];
    if let Some(s) = &m.storage_id {
        entries.push((text("storageId"), text(s)));
    }
    Value::Map(entries)
}

/// Encodes one message as a CBOR map.
pub fn encode(message: &Message) -> Vec<u8> {
    let mut e: Vec<(Value, Value)> = vec![(text("type"), text(message.type_name()))];
    let mut put = |k: &str, v: Value| e.push((text(k), v));
    match message {
        Message::Join { sender_id, supported_protocol_versions, metadata } => {
            put("senderId", text(sender_id));
            put(
                "supportedProtocolVersions",
                Value::Array(supported_protocol_versions.iter().map(|v| text(v)).collect()),
            );
            if let Some(m) = metadata {
                put("metadata", metadata_value(m));
            }
        }
        Message::Peer { sender_id, selected_protocol_version, target_id, metadata } => {
            put("senderId", text(sender_id));
            put("selectedProtocolVersion", text(selected_protocol_version));
            put("targetId", text(target_id));
            if let Some(m) = metadata {
                put("metadata", metadata_value(m));
            }
        }
        Message::Leave { sender_id } => put("senderId", text(sender_id)),
        Message::Request { document_id, sender_id, target_id, data }
        | Message::Sync { document_id, sender_id, target_id, data } => {
            put("documentId", text(document_id));
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("data", Value::Bytes(data.clone()));
        }
        Message::DocUnavailable { sender_id, target_id, document_id } => {
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("documentId", text(document_id));
        }
        Message::Ephemeral { sender_id, target_id, count, session_id, document_id, data } => {
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("count", Value::Integer((*count).into()));
            put("sessionId", text(session_id));
            put("documentId", text(document_id));
            put("data", Value::Bytes(data.clone()));
        }
        Message::Error { message } => put("message", text(message)),
        Message::RemoteSubscriptionChange { sender_id, target_id, add, remove } => {
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("add", Value::Array(add.iter().map(|s| text(s)).collect()));
            put("remove", Value::Array(remove.iter().map(|s| text(s)).collect()));
        }
        Message::RemoteHeadsChanged { sender_id, target_id, document_id, new_heads } => {
            put("senderId", text(sender_id));
            put("targetId", text(target_id));
            put("documentId", text(document_id));
            let heads = new_heads
                .iter()
                .map(|(k, h)| {
                    let inner = vec![
                        (text("heads"), Value::Array(h.heads.iter().map(|x| text(x)).collect())),
                        (text("timestamp"), Value::Integer(h.timestamp.into())),
                    ];
                    (text(k), Value::Map(inner))
                })
                .collect();
            put("newHeads", Value::Map(heads));
        }
    }
    let mut out = Vec::new();
    // Writing CBOR into a Vec cannot fail.
    let _ = ciborium::ser::into_writer(&Value::Map(e), &mut out);
    out
}

/// Kefu's own notices to a peer about one document, sent as the `data` of an `ephemeral`
/// message (a CBOR map, so stock automerge-repo clients receive them as ordinary ephemeral
/// messages and may ignore them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `rejected` (the changes were refused and quarantined) or `read-only` (the sender may
    /// read but not write the document; its changes were not applied).
    pub kefu: String,
    /// Why, naming record, field and rule when validation failed.
    pub reason: String,
    /// Hex hashes of the refused changes.
    pub hashes: Vec<String>,
}

impl Notice {
    /// Encodes as a CBOR map `{kefu, reason, hashes}`.
    pub fn encode(&self) -> Vec<u8> {
        let map = Value::Map(vec![
            (text("kefu"), text(&self.kefu)),
            (text("reason"), text(&self.reason)),
            (text("hashes"), Value::Array(self.hashes.iter().map(|h| text(h)).collect())),
        ]);
        let mut out = Vec::new();
        let _ = ciborium::ser::into_writer(&map, &mut out);
        out
    }

    /// Decodes ephemeral data; `None` when it is not a Kefu notice (ordinary ephemeral data).
    pub fn decode(bytes: &[u8]) -> Option<Notice> {
        let Value::Map(entries) = ciborium::de::from_reader::<Value, _>(bytes).ok()? else { return None };
        let get = |k: &str| entries.iter().find(|(key, _)| key.as_text() == Some(k)).map(|(_, v)| v);
        let kefu = get("kefu")?.as_text()?.to_string();
        let reason = get("reason").and_then(Value::as_text).unwrap_or_default().to_string();
        let hashes = match get("hashes") {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_text().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        Some(Notice { kefu, reason, hashes })
    }
}
