-- Kefu phone store, schema version 2: each document's heads, kept beside its bytes so the
-- sync client can compare the whole store with the server's manifest without opening a
-- single document. NULL means "not known yet" (filled the next time the document is written).
ALTER TABLE documents ADD COLUMN heads TEXT;
