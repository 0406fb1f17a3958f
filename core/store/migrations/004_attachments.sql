-- Kefu phone store, schema version 4: attachments (photos, signatures, certificates) held on
-- this phone, and the queue that uploads the ones attached here. Bytes are kept in pieces of
-- at most 256 KiB so that writing, uploading and downloading never need a whole file in
-- memory, and a partial download is simply the pieces received so far.
CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,     -- lowercase hex SHA-256 of the bytes
    size        INTEGER NOT NULL,     -- bytes of the whole file
    media_type  TEXT NOT NULL,
    have        INTEGER NOT NULL,     -- bytes held, from the start (= size when complete)
    added_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE blob_pieces (
    sha256  TEXT NOT NULL,            -- a blob, or 'staging:<random>' while a file is read in
    pos     INTEGER NOT NULL,         -- byte offset of the piece
    data    BLOB NOT NULL,
    PRIMARY KEY (sha256, pos)
) STRICT;

-- One row per attachment made on this phone. state: waiting → uploading → uploaded, or
-- failed (the server refused it; `error` says why; retried only when the user asks).
CREATE TABLE uploads (
    sha256      TEXT PRIMARY KEY REFERENCES blobs (sha256),
    state       TEXT NOT NULL CHECK (state IN ('waiting', 'uploading', 'uploaded', 'failed')),
    sent        INTEGER NOT NULL DEFAULT 0,   -- bytes the server confirmed
    error       TEXT,                         -- the last failure (also a network one)
    doc_id      TEXT NOT NULL,                -- the record it was attached to first
    label       TEXT NOT NULL,                -- what it is: visit photo, signature, …
    queued_at   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX uploads_by_state ON uploads (state, queued_at);
