-- Kefu server, schema version 2: documents, provenance of every accepted change, quarantine.

CREATE TABLE documents (
    doc_id       TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    team         TEXT NOT NULL,
    agent        TEXT,
    field_staff  TEXT,
    staff        TEXT,
    snapshot     BLOB NOT NULL,
    chunk_count  INTEGER NOT NULL DEFAULT 0,
    chunk_bytes  INTEGER NOT NULL DEFAULT 0,
    heads        TEXT NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX documents_by_team ON documents (team, kind);

CREATE TABLE chunks (
    doc_id  TEXT NOT NULL REFERENCES documents(doc_id),
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) STRICT;

-- Who really sent each accepted change: the authenticated user and device and the server's
-- receipt time. Automerge's own author and time fields are the device's claims.
CREATE TABLE provenance (
    change_hash  TEXT PRIMARY KEY,
    doc_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    device_time  INTEGER NOT NULL
) STRICT;
CREATE INDEX provenance_by_doc ON provenance (doc_id, received_at);

-- Changes that were refused, kept with who, when and why until a supervisor settles them.
CREATE TABLE quarantine (
    id           INTEGER PRIMARY KEY,
    doc_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    changes      BLOB NOT NULL,
    change_hashes TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'dismissed'))
) STRICT;
CREATE INDEX quarantine_open ON quarantine (status, received_at);
