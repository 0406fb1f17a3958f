//! A typed record inside an automerge document: creating, reading, changing (validated),
//! conflicts and history.
//!
//! Every change is committed with the device's actor, the device time (seconds, as automerge
//! stores it) and a message `{"user":…,"device":…}` naming who made it. Those are claims made
//! by the device; the server records its own provenance for every change it accepts.
//!
//! Reading takes one pass over the document (automerge's `hydrate`) into JSON and deserializes
//! it with serde, naming the field when something does not fit. Text objects (what current
//! JavaScript automerge writes for a plain string) read as strings. Changing a record applies
//! the edit to the Rust value and writes only the paths whose values differ, so concurrent
//! edits of other fields survive, fields unknown to this build are left alone, and an
//! unchanged value creates no operation (ADR 0004).

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, PatchAction, Prop, ReadDoc, ScalarValue, Value, ROOT,
};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::enums::DocKind;
use crate::lifecycle::IllegalStep;
use crate::records::Record;
use crate::validate::Problems;

/// Who makes a change: the signed-in user and the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// User id.
    pub user: String,
    /// Device id.
    pub device: String,
}

impl Author {
    /// The commit message recorded with each change.
    pub fn message(&self) -> String {
        serde_json::json!({ "user": self.user, "device": self.device }).to_string()
    }

    /// Reads a commit message written by [`Author::message`]; `None` for any other text.
    pub fn from_message(message: Option<&str>) -> Option<Author> {
        serde_json::from_str(message?).ok()
    }
}

/// What can go wrong with a document.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// The edit would leave the record invalid; nothing was written.
    #[error("invalid: {0}")]
    Invalid(Problems),
    /// The edit is a lifecycle step that is not allowed now; nothing was written.
    #[error(transparent)]
    IllegalStep(#[from] IllegalStep),
    /// A nested record or path does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The document is not of the kind asked for.
    #[error("document is a {found}, not a {expected}")]
    WrongKind {
        /// Kind asked for.
        expected: DocKind,
        /// Kind found (or the raw text).
        found: String,
    },
    /// The document's content does not fit the record type (written by a buggy or newer
    /// client).
    #[error("unreadable record: {0}")]
    Unreadable(String),
    /// The bytes are not an automerge document, or automerge refused an operation.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

/// A record document.
#[derive(Debug, Clone)]
pub struct KefuDoc {
    doc: AutoCommit,
}

fn commit_options(author: &Author, now_ms: i64) -> CommitOptions {
    CommitOptions::default().with_message(author.message()).with_time(now_ms.div_euclid(1000))
}

/// The values of one property with their op ids.
type ValuesAt = Vec<(Json, ObjId)>;

/// One value of a field in conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictValue {
    /// Opaque id of this value, to pass to [`KefuDoc::resolve_conflict`].
    pub value_id: String,
    /// The value as JSON.
    pub value: Json,
    /// Who wrote it, from the change message.
    pub author: Option<Author>,
    /// Device time of the change, Unix seconds.
    pub time: i64,
    /// The change that wrote it (hex).
    pub change: String,
}

/// A field that two people changed concurrently: every value is kept until someone picks one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// Path from the document root, e.g. `["visits", "7Hq…", "work_done"]`.
    pub path: Vec<String>,
    /// The value shown now (automerge's deterministic winner) first, then the others.
    pub values: Vec<ConflictValue>,
}

/// One field changed by a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Path from the document root.
    pub path: Vec<String>,
    /// Value before (None: did not exist).
    pub old: Option<Json>,
    /// Value after (None: removed).
    pub new: Option<Json>,
}

/// One change in a document's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Change hash (hex); pass it to [`KefuDoc::read_at`] to see the record as it was.
    pub hash: String,
    /// Heads after this change alone (its hash); with `deps` it names a version.
    pub deps: Vec<String>,
    /// Who, from the change message.
    pub author: Option<Author>,
    /// Automerge actor (hex).
    pub actor: String,
    /// Device time, Unix seconds.
    pub time: i64,
    /// Fields it changed.
    pub fields: Vec<FieldChange>,
}

fn prop_text(p: &Prop) -> String {
    match p {
        Prop::Map(k) => k.to_string(),
        Prop::Seq(i) => i.to_string(),
    }
}

fn scalar_json(s: &ScalarValue) -> Json {
    match s {
        ScalarValue::Str(t) => Json::String(t.to_string()),
        ScalarValue::Int(i) => Json::from(*i),
        ScalarValue::Uint(u) => Json::from(*u),
        ScalarValue::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        ScalarValue::Counter(c) => Json::from(i64::from(c)),
        ScalarValue::Timestamp(t) => Json::from(*t),
        ScalarValue::Boolean(b) => Json::Bool(*b),
        ScalarValue::Null => Json::Null,
        ScalarValue::Bytes(b) => Json::String(format!("<{} bytes>", b.len())),
        ScalarValue::Unknown { .. } => Json::String("<unknown>".into()),
    }
}

/// Renders any automerge value (at `heads`, or now) as JSON.
fn value_json<D: ReadDoc>(doc: &D, value: &Value<'_>, id: &ObjId, heads: Option<&[ChangeHash]>) -> Json {
    match value {
        Value::Scalar(s) => scalar_json(s),
        Value::Object(ObjType::Map | ObjType::Table) => {
            let mut m = serde_json::Map::new();
            let keys: Vec<String> = match heads {
                Some(h) => doc.keys_at(id, h).collect(),
                None => doc.keys(id).collect(),
            };
            for k in keys {
                let got = match heads {
                    Some(h) => doc.get_at(id, k.as_str(), h),
                    None => doc.get(id, k.as_str()),
                };
                if let Ok(Some((v, vid))) = got {
                    m.insert(k, value_json(doc, &v, &vid, heads));
                }
            }
            Json::Object(m)
        }
        Value::Object(ObjType::List) => {
            let len = match heads {
                Some(h) => doc.length_at(id, h),
                None => doc.length(id),
            };
            (0..len)
                .filter_map(|i| {
                    let got = match heads {
                        Some(h) => doc.get_at(id, i, h),
                        None => doc.get(id, i),
                    };
                    got.ok().flatten().map(|(v, vid)| value_json(doc, &v, &vid, heads))
                })
                .collect()
        }
        Value::Object(ObjType::Text) => Json::String(
            match heads {
                Some(h) => doc.text_at(id, h),
                None => doc.text(id),
            }
            .unwrap_or_default(),
        ),
    }
}

/// The document (or the part under `obj`) as JSON in one pass; text objects become strings.
fn hydrated_json(v: &automerge::hydrate::Value) -> Json {
    use automerge::hydrate::Value as H;
    match v {
        H::Scalar(s) => scalar_json(s),
        H::Map(m) => Json::Object(m.iter().map(|(k, mv)| (k.clone(), hydrated_json(&mv.value))).collect()),
        H::List(l) => Json::Array(l.iter().map(|lv| hydrated_json(&lv.value)).collect()),
        H::Text(t) => Json::String(t.to_string()),
    }
}

/// Writes the difference between `old` and `new` under `obj`, touching only changed paths.
fn write_diff<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    old: &serde_json::Map<String, Json>,
    new: &serde_json::Map<String, Json>,
) -> Result<(), automerge::AutomergeError> {
    for (key, nv) in new {
        match (old.get(key), nv) {
            (Some(ov), _) if ov == nv => {}
            (Some(Json::Object(om)), Json::Object(nm)) => match tx.get(obj, key.as_str())? {
                Some((Value::Object(ObjType::Map | ObjType::Table), child)) => {
                    write_diff(tx, &child, om, nm)?
                }
                _ => put_json(tx, obj, Prop::Map(key.clone()), nv)?,
            },
            (Some(Json::Array(oa)), Json::Array(na)) => match tx.get(obj, key.as_str())? {
                Some((Value::Object(ObjType::List), list)) if tx.length(&list) == oa.len() => {
                    write_list_diff(tx, &list, oa, na)?
                }
                _ => put_json(tx, obj, Prop::Map(key.clone()), nv)?,
            },
            _ => put_json(tx, obj, Prop::Map(key.clone()), nv)?,
        }
    }
    for key in old.keys() {
        if !new.contains_key(key) && tx.get(obj, key.as_str())?.is_some() {
            tx.delete(obj, key.as_str())?;
        }
    }
    Ok(())
}

/// Minimal list edit: keep the common prefix and suffix, replace what lies between.
fn write_list_diff<T: Transactable>(
    tx: &mut T,
    list: &ObjId,
    old: &[Json],
    new: &[Json],
) -> Result<(), automerge::AutomergeError> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old.iter().rev().zip(new.iter().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
    for _ in prefix..old.len() - suffix {
        tx.delete(list, prefix)?;
    }
    for (i, v) in new[prefix..new.len() - suffix].iter().enumerate() {
        tx.insert(list, prefix + i, ScalarValue::Null)?;
        put_json(tx, list, Prop::Seq(prefix + i), v)?;
    }
    Ok(())
}

fn to_json<R: Serialize>(record: &R) -> Result<serde_json::Map<String, Json>, DocError> {
    match serde_json::to_value(record) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err(DocError::Unreadable("a record must serialize to an object".into())),
        Err(e) => Err(DocError::Unreadable(e.to_string())),
    }
}

/// Writes a JSON value at `obj[prop]`, creating objects as needed.
fn put_json<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    prop: Prop,
    value: &Json,
) -> Result<(), automerge::AutomergeError> {
    let scalar: Option<ScalarValue> = match value {
        Json::Null => Some(ScalarValue::Null),
        Json::Bool(b) => Some((*b).into()),
        Json::Number(n) => Some(match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into(),
            (None, Some(u)) => u.into(),
            _ => n.as_f64().unwrap_or(0.0).into(),
        }),
        Json::String(s) => Some(s.as_str().into()),
        _ => None,
    };
    if let Some(s) = scalar {
        match prop {
            Prop::Map(k) => tx.put(obj, k.as_str(), s)?,
            Prop::Seq(i) => tx.put(obj, i, s)?,
        }
        return Ok(());
    }
    let ty = if value.is_array() { ObjType::List } else { ObjType::Map };
    let new = match prop {
        Prop::Map(k) => tx.put_object(obj, k.as_str(), ty)?,
        Prop::Seq(i) => tx.put_object(obj, i, ty)?,
    };
    match value {
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                tx.insert(&new, i, ScalarValue::Null)?;
                put_json(tx, &new, Prop::Seq(i), v)?;
            }
        }
        Json::Object(map) => {
            for (k, v) in map {
                put_json(tx, &new, Prop::Map(k.clone()), v)?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl KefuDoc {
    /// A new document holding `record`, validated first. `actor` must be unique to this
    /// device's store (never reused after a reinstall).
    pub fn create<R: Record>(
        record: &R,
        actor: ActorId,
        author: &Author,
        now_ms: i64,
    ) -> Result<Self, DocError> {
        record.problems().into_result().map_err(DocError::Invalid)?;
        let mut doc = AutoCommit::new().with_actor(actor);
        write_diff(&mut doc, &ROOT, &serde_json::Map::new(), &to_json(record)?)?;
        doc.commit_with(commit_options(author, now_ms));
        Ok(KefuDoc { doc })
    }

    /// The genesis of a document that exists once per key (an attendance month, a team's
    /// appearance sheet for a day, a roster): its id and its first change are derived from the
    /// key alone (actor = first 16 bytes of SHA-256 of the key, time 0, no message), so two
    /// devices creating it offline produce the *same* change, automerge stores it once, and
    /// their later edits land in the same maps. `record` must contain only what the key
    /// determines (kind, key fields, empty maps). Later edits use `actor`.
    pub fn genesis<R: Record>(
        key: &str,
        record: &R,
        actor: ActorId,
    ) -> Result<(crate::DocumentId, Self), DocError> {
        let digest = sha2_16(key);
        let mut doc = AutoCommit::new().with_actor(ActorId::from(digest.as_slice()));
        // serde_json maps are ordered by key, so every device writes the same operations.
        write_diff(&mut doc, &ROOT, &serde_json::Map::new(), &to_json(record)?)?;
        doc.commit_with(CommitOptions::default().with_time(0));
        doc.set_actor(actor);
        let mut id = digest;
        id[0] ^= 0x4b; // keep document ids distinct from the genesis actor bytes
        Ok((crate::DocumentId::from_bytes(id), KefuDoc { doc }))
    }

    /// A new document built from plain JSON, the way a JavaScript client writing the shape of
    /// `docs/schema.md` would (objects become maps, arrays lists, whole numbers signed
    /// integers). Nothing is validated here: call [`KefuDoc::read`] and
    /// [`Record::problems`] on the result, as the server does.
    pub fn from_json(json: &Json, actor: ActorId, author: &Author, now_ms: i64) -> Result<Self, DocError> {
        let Json::Object(map) = json else {
            return Err(DocError::Unreadable("a document must be a JSON object".into()));
        };
        let mut doc = AutoCommit::new().with_actor(actor);
        for (k, v) in map {
            put_json(&mut doc, &ROOT, Prop::Map(k.clone()), v)?;
        }
        doc.commit_with(commit_options(author, now_ms));
        Ok(KefuDoc { doc })
    }

    /// Loads saved bytes (a snapshot, optionally followed by incremental chunks).
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<Self, DocError> {
        let doc = AutoCommit::load(bytes)?.with_actor(actor);
        Ok(KefuDoc { doc })
    }

    /// Wraps an automerge document (for instance one received by sync).
    pub fn from_automerge(doc: AutoCommit) -> Self {
        KefuDoc { doc }
    }

    /// The automerge document.
    pub fn automerge(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// The kind at the root (a scalar string, or a text object as JavaScript writes).
    pub fn kind(&self) -> Result<DocKind, DocError> {
        let text = match self.doc.get(ROOT, "kind")? {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(t) => t.to_string(),
                other => return Err(DocError::Unreadable(format!("kind is {other:?}, not a string"))),
            },
            Some((Value::Object(ObjType::Text), id)) => self.doc.text(&id)?,
            _ => return Err(DocError::Unreadable("the document has no kind".into())),
        };
        text.parse().map_err(|e: crate::enums::UnknownValue| DocError::Unreadable(e.to_string()))
    }

    /// Reads the record.
    pub fn read<R: Record>(&self) -> Result<R, DocError> {
        let kind = self.kind()?;
        if kind != R::KIND {
            return Err(DocError::WrongKind { expected: R::KIND, found: kind.to_string() });
        }
        read_json(self.json_fast())
    }

    /// The document as JSON in one pass (text objects as strings).
    pub fn json_fast(&self) -> Json {
        json_of(&self.doc)
    }

    /// The automerge document, taken out.
    pub fn into_automerge(self) -> AutoCommit {
        self.doc
    }

    /// Applies `edit` to the current record, validates the result and commits it as one change.
    /// When `edit` fails or the result is invalid nothing is written. Returns the edit's output
    /// and the new change's hash (`None` when nothing actually changed).
    pub fn update<R: Record, T>(
        &mut self,
        author: &Author,
        now_ms: i64,
        edit: impl FnOnce(&mut R) -> Result<T, DocError>,
    ) -> Result<(T, Option<ChangeHash>), DocError> {
        let (out, hash, _) = self.update_returning(author, now_ms, edit)?;
        Ok((out, hash))
    }

    /// Like [`KefuDoc::update`], also returning the record as committed.
    pub fn update_returning<R: Record, T>(
        &mut self,
        author: &Author,
        now_ms: i64,
        edit: impl FnOnce(&mut R) -> Result<T, DocError>,
    ) -> Result<(T, Option<ChangeHash>, R), DocError> {
        let mut record: R = self.read()?;
        let before = record.clone();
        let old = to_json(&record)?;
        let out = edit(&mut record)?;
        let mut problems = record.problems();
        problems.0.extend(record.transition_problems(&before).0);
        problems.into_result().map_err(DocError::Invalid)?;
        let new = to_json(&record)?;
        if let Err(e) = write_diff(&mut self.doc, &ROOT, &old, &new) {
            self.doc.rollback();
            return Err(e.into());
        }
        let hash = self.doc.commit_with(commit_options(author, now_ms));
        Ok((out, hash, record))
    }

    /// Current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Changes since the last `save` or `save_incremental`.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.doc.save_incremental()
    }

    /// Merges another replica of the same document.
    pub fn merge(&mut self, other: &mut KefuDoc) -> Result<Vec<ChangeHash>, DocError> {
        let heads = self.doc.merge(&mut other.doc)?;
        forget_patches(&mut self.doc);
        Ok(heads)
    }

    /// The record as it was at `heads`.
    pub fn read_at<R: Record>(&mut self, heads: &[ChangeHash]) -> Result<R, DocError> {
        let past = self.doc.fork_at(heads)?;
        KefuDoc { doc: past }.read()
    }

    /// The document as JSON (for debugging and generic clients).
    pub fn to_json(&self) -> Json {
        value_json(&self.doc, &Value::Object(ObjType::Map), &ROOT, None)
    }

    fn describe(&mut self, id: &ObjId) -> (Option<Author>, i64, String) {
        match self.doc.hash_for_opid(id) {
            Some(hash) => {
                let meta = self.doc.get_change_meta_by_hash(&hash);
                let author = meta.as_ref().and_then(|m| Author::from_message(m.message.as_deref()));
                let time = meta.as_ref().map_or(0, |m| m.timestamp);
                (author, time, hash.to_string())
            }
            None => (None, 0, String::new()),
        }
    }

    /// Every field with concurrent values, with who wrote each and when.
    pub fn conflicts(&mut self) -> Vec<Conflict> {
        let mut found: Vec<(Vec<String>, ValuesAt)> = Vec::new();
        let mut stack: Vec<(ObjId, Vec<String>)> = vec![(ROOT, Vec::new())];
        while let Some((obj, path)) = stack.pop() {
            let props: Vec<Prop> = match self.doc.object_type(&obj) {
                Ok(ObjType::Map | ObjType::Table) => self.doc.keys(&obj).map(Prop::Map).collect(),
                Ok(ObjType::List) => (0..self.doc.length(&obj)).map(Prop::Seq).collect(),
                _ => Vec::new(),
            };
            for prop in props {
                let all = self.doc.get_all(&obj, prop.clone()).unwrap_or_default();
                let mut sub = path.clone();
                sub.push(prop_text(&prop));
                if all.len() > 1 {
                    let values =
                        all.iter().map(|(v, id)| (value_json(&self.doc, v, id, None), id.clone())).collect();
                    found.push((sub.clone(), values));
                }
                for (v, id) in all {
                    if let Value::Object(ObjType::Map | ObjType::Table | ObjType::List) = v {
                        stack.push((id, sub.clone()));
                    }
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
            .into_iter()
            .map(|(path, values)| {
                // get_all lists values in op order; the visible winner is the last one.
                let mut vals: Vec<ConflictValue> = values
                    .into_iter()
                    .rev()
                    .map(|(value, id)| {
                        let (author, time, change) = self.describe(&id);
                        ConflictValue { value_id: id.to_string(), value, author, time, change }
                    })
                    .collect();
                vals.dedup_by(|a, b| a.value_id == b.value_id);
                Conflict { path, values: vals }
            })
            .collect()
    }

    fn navigate(&self, path: &[String]) -> Result<(ObjId, Prop), DocError> {
        let (last, parents) = path.split_last().ok_or_else(|| DocError::NotFound("empty path".into()))?;
        let mut obj = ROOT;
        let as_prop = |obj: &ObjId, seg: &str| -> Prop {
            match self.doc.object_type(obj) {
                Ok(ObjType::List) => seg.parse().map(Prop::Seq).unwrap_or_else(|_| Prop::Map(seg.into())),
                _ => Prop::Map(seg.into()),
            }
        };
        for seg in parents {
            let prop = as_prop(&obj, seg);
            match self.doc.get(&obj, prop)? {
                Some((Value::Object(_), id)) => obj = id,
                _ => return Err(DocError::NotFound(path.join("."))),
            }
        }
        let prop = as_prop(&obj, last);
        Ok((obj, prop))
    }

    /// Settles a conflict by choosing one of its values (by `value_id`). The choice is an
    /// ordinary change by `author`, validated like any other, and reaches every replica.
    pub fn resolve_conflict<R: Record>(
        &mut self,
        path: &[String],
        value_id: &str,
        author: &Author,
        now_ms: i64,
    ) -> Result<ChangeHash, DocError> {
        let (obj, prop) = self.navigate(path)?;
        let all = self.doc.get_all(&obj, prop.clone())?;
        let (value, id) = all
            .iter()
            .find(|(_, id)| id.to_string() == value_id)
            .ok_or_else(|| DocError::NotFound(format!("value {value_id} at {}", path.join("."))))?;
        let json = value_json(&self.doc, value, id, None);
        put_json(&mut self.doc, &obj, prop, &json)?;
        let after: Result<R, DocError> = read_json(self.json_fast());
        match after.and_then(|r| r.problems().into_result().map_err(DocError::Invalid)) {
            Ok(()) => {}
            Err(e) => {
                self.doc.rollback();
                return Err(e);
            }
        }
        self.doc
            .commit_with(commit_options(author, now_ms))
            .ok_or_else(|| DocError::NotFound("nothing to change".into()))
    }

    /// Every change, oldest first, with who made it and which fields it changed. With a
    /// non-empty `prefix` (e.g. `["visits", id]`), only changes touching that record are
    /// listed, with only their fields under it.
    pub fn history(&mut self, prefix: &[String]) -> Vec<HistoryEntry> {
        let changes = self.doc.get_changes(&[]);
        let mut out = Vec::new();
        for change in changes {
            let hash = change.hash();
            let deps: Vec<ChangeHash> = change.deps().to_vec();
            let patches = self.doc.diff(&deps, &[hash]);
            let doc = &self.doc;
            // The value a map key had just before this change.
            let old_at = |obj: &ObjId, key: &str| {
                doc.get_at(obj, key, &deps)
                    .ok()
                    .flatten()
                    .map(|(v, id)| value_json(doc, &v, &id, Some(&deps)))
            };
            let mut fields = Vec::new();
            for patch in patches {
                let mut path: Vec<String> = patch.path.iter().map(|(_, p)| prop_text(p)).collect();
                let (old, new) = match &patch.action {
                    PatchAction::PutMap { key, value, .. } => {
                        path.push(key.clone());
                        (old_at(&patch.obj, key), Some(value_json(doc, &value.0, &value.1, Some(&[hash]))))
                    }
                    PatchAction::PutSeq { index, value, .. } => {
                        path.push(index.to_string());
                        (None, Some(value_json(&self.doc, &value.0, &value.1, Some(&[hash]))))
                    }
                    PatchAction::Insert { index, values } => {
                        path.push(index.to_string());
                        let vals: Vec<Json> = values
                            .iter()
                            .map(|(v, id, _)| value_json(&self.doc, v, id, Some(&[hash])))
                            .collect();
                        (None, Some(Json::Array(vals)))
                    }
                    PatchAction::DeleteMap { key } => {
                        path.push(key.clone());
                        (old_at(&patch.obj, key), None)
                    }
                    PatchAction::DeleteSeq { index, length } => {
                        path.push(index.to_string());
                        (Some(Json::String(format!("{length} item(s)"))), None)
                    }
                    PatchAction::SpliceText { index, value, .. } => {
                        path.push(index.to_string());
                        (None, Some(Json::String(value.make_string())))
                    }
                    PatchAction::Increment { prop, value } => {
                        path.push(prop_text(prop));
                        (None, Some(Json::from(*value)))
                    }
                    PatchAction::Conflict { .. } | PatchAction::Mark { .. } => continue,
                };
                if path.starts_with(prefix) {
                    fields.push(FieldChange { path, old, new });
                }
            }
            if !prefix.is_empty() && fields.is_empty() {
                continue;
            }
            out.push(HistoryEntry {
                hash: hash.to_string(),
                deps: deps.iter().map(|d| d.to_string()).collect(),
                author: Author::from_message(change.message()),
                actor: change.actor_id().to_hex_string(),
                time: change.timestamp(),
                fields,
            });
        }
        out
    }
}

/// Deserializes a record from JSON, naming the path of whatever does not fit.
/// Drops what automerge logged while applying changes. automerge 0.12's batch apply (sync
/// receive, `apply_changes`, `merge`, `load_incremental`) records patch events even in an
/// inactive patch log, so a document kept in memory grew by every change it ever received, and
/// every clone copied that log (docs/performance.md). Call after each of those.
pub fn forget_patches(doc: &mut AutoCommit) {
    doc.reset_diff_cursor();
}

/// The document as JSON in one pass (text objects as strings), without taking ownership: the
/// server reads each incoming version once this way and derives everything from it.
pub fn json_of(doc: &AutoCommit) -> Json {
    match doc.hydrate(&ROOT, None) {
        Ok(v) => hydrated_json(&v),
        Err(_) => Json::Null,
    }
}

/// The kind named at the root of a document's JSON (see [`json_of`]).
pub fn kind_of_json(json: &Json) -> Result<DocKind, DocError> {
    match json.get("kind") {
        Some(Json::String(k)) => {
            k.parse().map_err(|e: crate::enums::UnknownValue| DocError::Unreadable(e.to_string()))
        }
        Some(other) => Err(DocError::Unreadable(format!("kind is {other}, not a string"))),
        None => Err(DocError::Unreadable("the document has no kind".into())),
    }
}

/// Reads a record from a document's JSON (see [`json_of`]) without consuming it.
pub fn record_of_json<R: Record>(json: &Json) -> Result<R, DocError> {
    let kind = kind_of_json(json)?;
    if kind != R::KIND {
        return Err(DocError::WrongKind { expected: R::KIND, found: kind.to_string() });
    }
    serde_path_to_error::deserialize(json).map_err(unreadable_at)
}

/// The JSON text of a document (see [`json_of`]): what the server keeps of the version before
/// the next change, in less memory than the [`Json`] tree it serialises.
pub fn json_text_of(doc: &AutoCommit) -> Box<str> {
    json_text(&json_of(doc))
}

/// `json` as compact text.
pub fn json_text(json: &Json) -> Box<str> {
    json.to_string().into_boxed_str()
}

/// Reads a record of kind `kind` from JSON text (see [`json_text`]) directly, without building a
/// [`Json`] tree first.
pub fn record_of_json_text<R: Record>(kind: DocKind, text: &str) -> Result<R, DocError> {
    if kind != R::KIND {
        return Err(DocError::WrongKind { expected: R::KIND, found: kind.to_string() });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(unreadable_at)
}

/// A deserialisation error as [`DocError::Unreadable`], naming the path where it failed.
fn unreadable_at(e: serde_path_to_error::Error<serde_json::Error>) -> DocError {
    let path = e.path().to_string();
    DocError::Unreadable(format!("{path}: {}", e.into_inner()))
}

fn read_json<R: Record>(json: Json) -> Result<R, DocError> {
    serde_path_to_error::deserialize(json).map_err(unreadable_at)
}

fn sha2_16(key: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("kefu-genesis:{key}").as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// Parses hex change hashes.
pub fn parse_heads(heads: &[String]) -> Result<Vec<ChangeHash>, DocError> {
    heads.iter().map(|h| h.parse().map_err(|_| DocError::NotFound(format!("version {h}")))).collect()
}
