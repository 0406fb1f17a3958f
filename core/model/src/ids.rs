//! Identifiers.
//!
//! Top-level documents are named the way automerge-repo names them, so stock JavaScript clients
//! can address them: 16 random bytes written as base58check (base58 of the bytes followed by the
//! first four bytes of their double SHA-256), and as a URL `automerge:<id>`.
//!
//! Nested records (a visit inside a customer file, a clock event inside an attendance month)
//! are keys of maps, never list positions, so two phones adding records at the same time can
//! never interleave or overwrite each other. Their ids are base58 of 12 random bytes: short
//! enough to read in a URL, with a collision chance that is negligible for a department.
//!
//! Randomness is passed in (`[u8; N]`) so that this crate does no I/O and tests are repeatable.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid document id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The text is not base58check (bad character or checksum).
    #[error("not a base58check document id: {0}")]
    NotBase58Check(String),
    /// The decoded id is not 16 bytes long.
    #[error("a document id must be 16 bytes, this one is {0}")]
    WrongLength(usize),
}

/// The id of one top-level document, compatible with automerge-repo's `DocumentId`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId([u8; 16]);

impl DocumentId {
    /// A document id made of the given random bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        DocumentId(bytes)
    }

    /// The raw 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// `automerge:<id>`, the URL form automerge-repo uses.
    pub fn url(&self) -> String {
        format!("automerge:{self}")
    }

    /// Parses either the bare id or the `automerge:` URL form.
    pub fn parse_url_or_id(text: &str) -> Result<Self, IdError> {
        text.strip_prefix("automerge:").unwrap_or(text).parse()
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(&self.0).with_check().into_string())
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

impl FromStr for DocumentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|_| IdError::NotBase58Check(s.chars().take(64).collect()))?;
        let len = bytes.len();
        let arr: [u8; 16] = bytes.try_into().map_err(|_| IdError::WrongLength(len))?;
        Ok(DocumentId(arr))
    }
}

impl Serialize for DocumentId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DocumentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A new id for a nested record (visit, callback, complaint, clock event, …).
pub fn record_id(random: [u8; 12]) -> String {
    bs58::encode(random).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_url() {
        let id = DocumentId::from_bytes([7; 16]);
        let text = id.to_string();
        assert_eq!(text.parse::<DocumentId>(), Ok(id));
        assert_eq!(DocumentId::parse_url_or_id(&id.url()), Ok(id));
    }

    #[test]
    fn matches_automerge_repo_encoding() {
        // bs58check of 16 zero bytes, as automerge-repo's `stringifyAutomergeUrl` would write it:
        // base58 of the payload plus the first four bytes of sha256(sha256(payload)).
        let id = DocumentId::from_bytes([0; 16]);
        let decoded = bs58::decode(id.to_string()).into_vec().unwrap_or_default();
        assert_eq!(decoded.len(), 20, "16 payload bytes + 4 checksum bytes");
        assert_eq!(&decoded[..16], &[0; 16]);
    }

    #[test]
    fn rejects_bad_checksum_and_length() {
        let id = DocumentId::from_bytes([1; 16]).to_string();
        let mut broken = id.clone();
        let last = broken.pop().unwrap_or('1');
        broken.push(if last == '2' { '3' } else { '2' });
        assert!(matches!(broken.parse::<DocumentId>(), Err(IdError::NotBase58Check(_))));
        let short = bs58::encode([1u8; 8]).with_check().into_string();
        assert_eq!(short.parse::<DocumentId>(), Err(IdError::WrongLength(8)));
    }
}
