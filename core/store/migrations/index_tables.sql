-- Index tables: projections of documents that list screens and reports read. Shared by the
-- phone store (part of its migration 1) and the server (its projection migration), and
-- written by `kefu_store::project` in the same transaction as the document bytes.

CREATE TABLE idx_customers (
    doc_id            TEXT PRIMARY KEY,
    team              TEXT NOT NULL,
    name              TEXT NOT NULL,
    phones            TEXT NOT NULL,
    district          TEXT,
    stage             TEXT NOT NULL,
    intent            TEXT NOT NULL,
    agent             TEXT,
    field_staff       TEXT,
    assigned_at       INTEGER,
    first_contact_at  INTEGER,
    created_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_customers_agent ON idx_customers (agent, name);
CREATE INDEX idx_customers_field ON idx_customers (field_staff, name);
CREATE INDEX idx_customers_name ON idx_customers (name);

-- Chinese-capable substring search: trigram tokens match any fragment of 3+ characters;
-- shorter fragments fall back to LIKE on idx_customers. The FTS rowid is idx_customers'
-- rowid, so replacing one customer's row is an indexed lookup, not a scan.
CREATE VIRTUAL TABLE customers_fts USING fts5 (
    name, phones, address, notes,
    tokenize = 'trigram'
);

CREATE TABLE idx_callbacks (
    doc_id         TEXT NOT NULL,
    callback_id    TEXT NOT NULL,
    agent          TEXT NOT NULL,
    scheduled_for  TEXT NOT NULL,
    status         TEXT NOT NULL,
    campaign       TEXT,
    customer_name  TEXT NOT NULL,
    PRIMARY KEY (doc_id, callback_id)
) STRICT;
CREATE INDEX idx_callbacks_due ON idx_callbacks (status, agent, scheduled_for);

CREATE TABLE idx_visits (
    doc_id         TEXT NOT NULL,
    visit_id       TEXT NOT NULL,
    staff          TEXT NOT NULL,
    status         TEXT NOT NULL,
    work_order     TEXT NOT NULL,
    window_start   INTEGER NOT NULL,
    window_end     INTEGER NOT NULL,
    customer_name  TEXT NOT NULL,
    PRIMARY KEY (doc_id, visit_id)
) STRICT;
CREATE INDEX idx_visits_open ON idx_visits (status, staff, window_start);

CREATE TABLE idx_complaints (
    doc_id         TEXT NOT NULL,
    complaint_id   TEXT NOT NULL,
    handler        TEXT NOT NULL,
    status         TEXT NOT NULL,
    round          INTEGER NOT NULL,
    severity       TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    customer_name  TEXT NOT NULL,
    PRIMARY KEY (doc_id, complaint_id)
) STRICT;
CREATE INDEX idx_complaints_open ON idx_complaints (status, handler, received_at);

CREATE TABLE idx_checks (
    doc_id   TEXT PRIMARY KEY,
    team     TEXT NOT NULL,
    date     TEXT NOT NULL,
    checked  INTEGER NOT NULL,
    passed   INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_checks_day ON idx_checks (team, date);

CREATE TABLE idx_attendance (
    doc_id  TEXT PRIMARY KEY,
    staff   TEXT NOT NULL,
    team    TEXT NOT NULL,
    month   TEXT NOT NULL
) STRICT;
CREATE INDEX idx_attendance_month ON idx_attendance (month, staff);

-- Rosters, templates and campaigns: found by kind and key.
CREATE TABLE idx_keyed (
    doc_id  TEXT PRIMARY KEY,
    kind    TEXT NOT NULL,
    team    TEXT NOT NULL,
    key     TEXT NOT NULL
) STRICT;
CREATE INDEX idx_keyed_lookup ON idx_keyed (kind, team, key);
