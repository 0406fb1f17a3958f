//! The protocol codec against the shapes JavaScript clients really send.

use std::collections::BTreeMap;

use ciborium::value::Value;
use kefu_protocol::{decode, encode, DecodeError, Message, PeerMetadata, RemoteHeads};
use proptest::prelude::*;

fn cbor(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap_or_default();
    out
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn every_message_round_trips() {
    let mut heads = BTreeMap::new();
    heads.insert(
        "storage-1".to_string(),
        RemoteHeads { heads: vec!["aGVhZA==".into()], timestamp: 1_795_000_000_000 },
    );
    let all = vec![
        Message::Join {
            sender_id: "phone-1".into(),
            supported_protocol_versions: vec!["1".into()],
            metadata: Some(PeerMetadata { storage_id: Some("s1".into()), is_ephemeral: false }),
        },
        Message::Peer {
            sender_id: "kefu".into(),
            selected_protocol_version: "1".into(),
            target_id: "phone-1".into(),
            metadata: None,
        },
        Message::Leave { sender_id: "phone-1".into() },
        Message::Request {
            document_id: "2Pa7Cd3NUg7em62joAxraCA5qoUj".into(),
            sender_id: "a".into(),
            target_id: "b".into(),
            data: vec![0x42, 1, 2],
        },
        Message::Sync {
            document_id: "2Pa7Cd3NUg7em62joAxraCA5qoUj".into(),
            sender_id: "a".into(),
            target_id: "b".into(),
            data: vec![],
        },
        Message::DocUnavailable { sender_id: "kefu".into(), target_id: "a".into(), document_id: "d".into() },
        Message::Ephemeral {
            sender_id: "a".into(),
            target_id: "b".into(),
            count: 7,
            session_id: "s".into(),
            document_id: "d".into(),
            data: vec![9],
        },
        Message::Error { message: "unsupported protocol version".into() },
        Message::RemoteSubscriptionChange {
            sender_id: "a".into(),
            target_id: "b".into(),
            add: vec!["s2".into()],
            remove: vec![],
        },
        Message::RemoteHeadsChanged {
            sender_id: "a".into(),
            target_id: "b".into(),
            document_id: "d".into(),
            new_heads: heads,
        },
    ];
    for m in all {
        assert_eq!(decode(&encode(&m)), Ok(m.clone()), "{}", m.type_name());
    }
}

#[test]
fn accepts_what_cbor_x_sends() {
    // count as a float, an undefined optional field (0xf7), versions as a single string, and
    // the data bytes wrapped in the typed-array tag 64.
    let msg = Value::Map(vec![
        (t("type"), t("ephemeral")),
        (t("senderId"), t("a")),
        (t("targetId"), t("b")),
        (t("count"), Value::Float(3.0)),
        (t("sessionId"), t("s")),
        (t("documentId"), t("d")),
        (t("data"), Value::Tag(64, Box::new(Value::Bytes(vec![1, 2])))),
    ]);
    assert_eq!(
        decode(&cbor(&msg)),
        Ok(Message::Ephemeral {
            sender_id: "a".into(),
            target_id: "b".into(),
            count: 3,
            session_id: "s".into(),
            document_id: "d".into(),
            data: vec![1, 2]
        })
    );
    // A join whose metadata is `undefined`: a map with 3 pairs written by hand.
    let mut join = vec![0xa3];
    join.extend(cbor(&t("type")));
    join.extend(cbor(&t("join")));
    join.extend(cbor(&t("senderId")));
    join.extend(cbor(&t("js-peer")));
    join.extend(cbor(&t("metadata")));
    join.push(0xf7); // undefined
    assert_eq!(
        decode(&join),
        Ok(Message::Join {
            sender_id: "js-peer".into(),
            supported_protocol_versions: vec![],
            metadata: None
        })
    );
    let single = Value::Map(vec![
        (t("type"), t("join")),
        (t("senderId"), t("x")),
        (t("supportedProtocolVersions"), t("1")),
    ]);
    assert!(
        matches!(decode(&cbor(&single)), Ok(Message::Join { supported_protocol_versions, .. }) if supported_protocol_versions == ["1"])
    );
}

#[test]
fn malformed_input_is_an_error_naming_the_problem() {
    assert!(matches!(decode(&[0xff, 0x00, 0x13]), Err(DecodeError::NotCbor(_))));
    assert!(matches!(decode(&[]), Err(DecodeError::NotCbor(_))));
    assert_eq!(decode(&cbor(&Value::Array(vec![]))), Err(DecodeError::NotAMessage));
    assert_eq!(
        decode(&cbor(&Value::Map(vec![(t("type"), t("teleport"))]))),
        Err(DecodeError::UnknownType("teleport".into()))
    );
    let no_data = Value::Map(vec![
        (t("type"), t("sync")),
        (t("documentId"), t("d")),
        (t("senderId"), t("a")),
        (t("targetId"), t("b")),
    ]);
    assert_eq!(decode(&cbor(&no_data)), Err(DecodeError::Missing { message: "sync", field: "data" }));
    let bad_count = Value::Map(vec![
        (t("type"), t("ephemeral")),
        (t("senderId"), t("a")),
        (t("targetId"), t("b")),
        (t("count"), Value::Float(1.5)),
        (t("sessionId"), t("s")),
        (t("documentId"), t("d")),
        (t("data"), Value::Bytes(vec![])),
    ]);
    assert!(matches!(decode(&cbor(&bad_count)), Err(DecodeError::WrongType { field: "count", .. })));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn sync_messages_round_trip(doc in "[1-9A-HJ-NP-Za-km-z]{20,30}", sender in "[a-z0-9-]{1,40}", data in prop::collection::vec(any::<u8>(), 0..2048)) {
        let m = Message::Sync { document_id: doc, sender_id: sender, target_id: "kefu".into(), data };
        prop_assert_eq!(decode(&encode(&m)), Ok(m));
    }
}

#[test]
fn notices_round_trip_and_other_ephemeral_data_is_not_a_notice() {
    use kefu_protocol::Notice;
    let n = Notice {
        kefu: "rejected".into(),
        reason: "客户档案: profile.name: must not be empty".into(),
        hashes: vec!["ab".into()],
    };
    assert_eq!(Notice::decode(&n.encode()), Some(n));
    assert_eq!(Notice::decode(b"\xa1\x61x\x01"), None, "a map without kefu");
    assert_eq!(Notice::decode(b"garbage"), None);
}
