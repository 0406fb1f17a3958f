//! The typed records. Each top-level struct is one automerge document; nested records are
//! maps keyed by their id (see `crate::ids`). Field names in documents are the Rust field names
//! (snake_case); `docs/schema.md` describes the JSON shape for other languages.

use serde::{Deserialize, Serialize};

use crate::enums::DocKind;
use crate::validate::{Problems, ValidationError};

pub mod appearance;
pub mod attendance;
pub mod campaign;
pub mod customer;
pub mod roster;

/// The schema version this build writes. Documents with a greater version are read but not
/// written (a newer app wrote them).
pub const SCHEMA_VERSION: i64 = 1;

/// A reference to a content-addressed attachment (photo, signature, certificate). The bytes
/// live outside the document; the record holds their SHA-256 so record and evidence never drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Media type, e.g. `image/jpeg`.
    pub media_type: String,
    /// User id of who attached it.
    pub attached_by: String,
    /// Device time in Unix milliseconds.
    pub attached_at: i64,
}

impl AttachmentRef {
    pub(crate) fn check(&self, p: &mut Problems, record: &str, field: &str) {
        if self.sha256.len() != 64 || !self.sha256.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
            p.push(record, field, "sha256 must be 64 lowercase hex digits");
        }
        if self.size < 0 {
            p.push(record, field, "size cannot be negative");
        }
        if !self.media_type.contains('/') {
            p.push(record, field, "media_type must look like type/subtype");
        }
    }
}

/// Reads `null` as the type's default (an empty map or list, `false`): other clients write
/// `null` where Rust has an empty collection.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A top-level record kind: its document kind and its whole-state validation.
pub trait Record: Serialize + serde::de::DeserializeOwned + Clone + Sized + 'static {
    /// The `kind` at the document's root.
    const KIND: DocKind;

    /// Every problem with this state; empty when valid.
    fn problems(&self) -> Problems;

    /// Every problem with going from `before` to `self`: what was recorded is never removed,
    /// lifecycle steps are only added, identifying fields never change. The whole-state rules
    /// of [`Record::problems`] cannot see these; a merge of valid concurrent edits never breaks
    /// them (it only adds), but a buggy or malicious client could.
    fn transition_problems(&self, before: &Self) -> Problems;

    /// Validates, returning every problem at once.
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        self.problems().into_result().map_err(|p| p.0)
    }
}

/// The SHA-256 of every attachment a record refers to (visit photos and signatures, check
/// item photos, medical certificates), found by shape anywhere in the record's JSON: an
/// object with `sha256`, `size` and `media_type`. The server gives access to an attachment
/// through the records that refer to it; the phone uploads what its records refer to.
pub fn attachment_hashes(record: &serde_json::Value) -> std::collections::BTreeSet<String> {
    fn walk(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let (Some(serde_json::Value::String(h)), true, true) =
                    (m.get("sha256"), m.contains_key("size"), m.contains_key("media_type"))
                {
                    out.insert(h.clone());
                }
                m.values().for_each(|c| walk(c, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(record, &mut out);
    out
}

/// Validates a new state and the step from `before` to it: what the server checks for every
/// incoming change before accepting it.
pub fn validate_transition<R: Record>(before: &R, after: &R) -> Result<(), Problems> {
    let mut p = after.problems();
    p.0.extend(after.transition_problems(before).0);
    p.into_result()
}

/// Reports keys of `before` that are missing from `after` (records must not be deleted).
pub(crate) fn kept<V>(
    p: &mut Problems,
    record: &str,
    field: &str,
    before: &std::collections::BTreeMap<String, V>,
    after: &std::collections::BTreeMap<String, V>,
) {
    for key in before.keys() {
        if !after.contains_key(key) {
            p.push(record, &format!("{field}.{key}"), "was recorded and cannot be removed");
        }
    }
}

/// Reports a field that changed although it identifies the record.
pub(crate) fn fixed<T: PartialEq>(p: &mut Problems, record: &str, field: &str, before: &T, after: &T) {
    if before != after {
        p.push(record, field, "cannot be changed once set");
    }
}

/// Checks the `kind` and `schema_version` fields every document has at its root.
pub(crate) fn check_header(p: &mut Problems, kind: DocKind, found: DocKind, version: i64) {
    if found != kind {
        p.push("document", "kind", format!("must be {kind}, is {found}"));
    }
    if !(1..=SCHEMA_VERSION).contains(&version) {
        p.push(
            "document",
            "schema_version",
            format!("must be 1..={SCHEMA_VERSION}, is {version} (a newer app may have written it)"),
        );
    }
}
