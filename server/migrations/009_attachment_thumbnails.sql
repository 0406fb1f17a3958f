-- Thumbnails of image attachments for the dashboard (JPEG, at most 320 px on a side), made on
-- first request and kept; deleted with their attachment.
CREATE TABLE attachment_thumbnails (
    sha256     TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
