-- Kefu server, schema version 5: what the server and each persistent peer (an automerge-repo
-- storage id, scoped by the signed-in user) are known to share per document, saved when the
-- connection closes, so a returning peer does not start from nothing.
CREATE TABLE peer_sync_state (
    peer        TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    state       BLOB NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (peer, doc_id)
) STRICT;
