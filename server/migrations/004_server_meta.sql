-- Kefu server, schema version 4 (version 3 is the projection: the index tables shared with
-- the phone store, `kefu_store::db::INDEX_TABLES_SQL`). Server-wide settings, among them the
-- server's stable storage id, announced to automerge-repo peers.
CREATE TABLE server_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;
