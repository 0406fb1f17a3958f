-- Kefu server, schema version 1: accounts, devices and access tokens.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('field', 'agent', 'supervisor', 'admin')),
    team           TEXT,
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    disabled_at    INTEGER
) STRICT;

CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    revoked_at    INTEGER
) STRICT;
CREATE INDEX devices_by_user ON devices (user_id);

-- Tokens are stored only as SHA-256 hashes: a copy of the database does not hand out sessions.
CREATE TABLE tokens (
    hash        TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    device_id   TEXT NOT NULL REFERENCES devices(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX tokens_by_device ON tokens (device_id);
