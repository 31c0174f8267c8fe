-- Keyward store, SQLite. Times are Unix seconds (INTEGER).
-- AUTOINCREMENT: a Certificate ID is never reused, even after a delete (the ID of a rolled-back
-- insert was never visible and may be handed out again).
-- Keep in step with ../postgres/0001_initial.sql: same tables, columns and index names.

CREATE TABLE procedures (
    kind TEXT NOT NULL,            -- 'certificate' | 'key' | 'token'
    name TEXT NOT NULL,
    position INTEGER NOT NULL,     -- order within its kind, as the administrator wrote it
    definition TEXT NOT NULL,      -- JSON of the keyward_policy struct
    PRIMARY KEY (kind, name)
);

CREATE TABLE officers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    cert_fingerprint TEXT NOT NULL, -- SHA-256 of the officer certificate, lowercase hex
    cert_der BLOB NOT NULL,
    roles TEXT NOT NULL,            -- 'issue-certificate,recover-key'
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX officers_name ON officers (name);
CREATE UNIQUE INDEX officers_cert_fingerprint ON officers (cert_fingerprint);

CREATE TABLE certificates (
    id INTEGER PRIMARY KEY AUTOINCREMENT, -- the Certificate ID
    serial_hex TEXT NOT NULL,             -- as given
    serial_norm TEXT NOT NULL,            -- lowercase hex without leading zeros
    subject TEXT NOT NULL,
    subject_lower TEXT NOT NULL,          -- lowercased by Keyward (Unicode), for search
    issuer TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    der BLOB NOT NULL,
    certificate_procedure TEXT NOT NULL,
    token_procedure TEXT NOT NULL,
    key_origin TEXT NOT NULL,             -- 'local' | 'server' | 'archived' | 'recovered'
    key_usage TEXT NOT NULL,
    officer TEXT NOT NULL,
    email TEXT,
    issued_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX certificates_serial_norm ON certificates (serial_norm);
CREATE INDEX certificates_subject_lower ON certificates (subject_lower);

-- Append-only. Hash chaining and signatures come in a later migration.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    category TEXT NOT NULL,        -- kebab-case AuditCategory
    action TEXT NOT NULL,
    officer TEXT,
    outcome TEXT NOT NULL,         -- 'success' | 'failure'
    object TEXT,
    detail TEXT NOT NULL           -- JSON
);
CREATE INDEX audit_at ON audit (at);
