-- Kefu phone store, schema version 3: changes the server refused, taken out of their
-- document so the record can move on, but kept (bytes, reason, when) for the supervisor and
-- the user: nothing entered on the phone is ever deleted.
CREATE TABLE set_aside (
    hash          TEXT PRIMARY KEY,
    doc_id        TEXT NOT NULL,
    change        BLOB NOT NULL,
    reason        TEXT,
    set_aside_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX set_aside_by_doc ON set_aside (doc_id);
