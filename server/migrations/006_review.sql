-- Kefu server, schema version 6: what the supervisor's review queue reads.

-- Number of fields with concurrent values in each document, counted at acceptance (-1: not
-- yet counted; the server counts those at start-up), so the conflict list is an indexed query.
ALTER TABLE documents ADD COLUMN conflicts INTEGER NOT NULL DEFAULT -1;
CREATE INDEX documents_with_conflicts ON documents (team, conflicts) WHERE conflicts != 0;

-- How a quarantine entry was settled: by whom, when, and the supervisor's note.
ALTER TABLE quarantine ADD COLUMN settled_by TEXT;
ALTER TABLE quarantine ADD COLUMN settled_at INTEGER;
ALTER TABLE quarantine ADD COLUMN settled_note TEXT;
