-- Kefu phone store, schema version 1.
-- Documents are stored as a compacted snapshot plus incremental chunks; sync metadata and the
-- index tables that list screens read live in the same database and change in the same
-- transaction as the document bytes they describe.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE documents (
    doc_id       TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    team         TEXT,
    snapshot     BLOB NOT NULL,
    chunk_count  INTEGER NOT NULL DEFAULT 0,
    chunk_bytes  INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE chunks (
    doc_id  TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) STRICT;

-- Every local change and where it stands: local -> sent -> accepted | rejected (with reason).
CREATE TABLE changes (
    hash        TEXT PRIMARY KEY,
    doc_id      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('local', 'sent', 'accepted', 'rejected')),
    reason      TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX changes_by_doc ON changes (doc_id, status);

-- Per-document, per-peer automerge sync state.
CREATE TABLE sync_state (
    doc_id  TEXT NOT NULL,
    peer    TEXT NOT NULL,
    state   BLOB NOT NULL,
    PRIMARY KEY (doc_id, peer)
) STRICT;

