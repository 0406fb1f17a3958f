-- Attachments (photos, signatures, certificates): content-addressed by the SHA-256 of their
-- bytes, kept in this database (so backups hold them), uploaded in chunks that can resume.
CREATE TABLE attachments (
    sha256       TEXT PRIMARY KEY,       -- lowercase hex of the whole file's SHA-256
    size         INTEGER NOT NULL,       -- declared at the first chunk
    media_type   TEXT NOT NULL,
    received     INTEGER NOT NULL DEFAULT 0,  -- bytes stored so far, from offset 0
    complete     INTEGER NOT NULL DEFAULT 0,  -- 1 once every byte arrived and the hash matched
    uploaded_by  TEXT NOT NULL,          -- user id of the first uploader
    created_at   INTEGER NOT NULL,       -- Unix ms of the first chunk
    completed_at INTEGER
);

-- The bytes, in the chunks they arrived in (`pos` = offset of the chunk's first byte).
CREATE TABLE attachment_chunks (
    sha256 TEXT NOT NULL,
    pos    INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (sha256, pos)
) WITHOUT ROWID;

-- Which records refer to which attachments (written at acceptance): access to an attachment
-- follows the records that refer to it, and an attachment no record refers to is deleted
-- after the retention period.
CREATE TABLE attachment_refs (
    doc_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (doc_id, sha256)
) WITHOUT ROWID;
CREATE INDEX attachment_refs_by_hash ON attachment_refs (sha256);

-- Documents stored before this version get their references indexed when the server opens.
ALTER TABLE documents ADD COLUMN attachments_indexed INTEGER NOT NULL DEFAULT 0;
