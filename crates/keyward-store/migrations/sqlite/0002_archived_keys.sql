-- Keyward store, SQLite: the key archive. Times are Unix seconds (INTEGER).
-- The store never sees a key in clear: `sealed` is the envelope made by the KRA, opaque here.
-- Keep in step with ../postgres/0002_archived_keys.sql: same tables, columns and index names.

CREATE TABLE archived_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    certificate_id INTEGER NOT NULL REFERENCES certificates (id), -- issued when the key was created
    key_procedure TEXT NOT NULL,   -- the archive key procedure
    key_spec TEXT NOT NULL,        -- e.g. 'RSA:2048'
    key_usage TEXT NOT NULL,       -- same text as certificates.key_usage
    kek_id TEXT NOT NULL,          -- the archive key (KEK) that wrapped it
    sealed BLOB NOT NULL,          -- the KRA's envelope
    archived_at INTEGER NOT NULL
);
-- One key per certificate. Also the join index for "archived keys of a subject (with a key
-- usage), newest first": certificates_subject_lower finds the certificates, this their keys.
CREATE UNIQUE INDEX archived_keys_certificate_id ON archived_keys (certificate_id);
