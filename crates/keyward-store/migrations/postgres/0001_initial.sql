-- Keyward store, PostgreSQL. Times are Unix seconds (BIGINT).
-- GENERATED ALWAYS AS IDENTITY: a Certificate ID is never reused, even after a delete (a
-- rolled-back insert leaves a gap).
-- Keep in step with ../sqlite/0001_initial.sql: same tables, columns and index names.

CREATE TABLE procedures (
    kind TEXT NOT NULL,            -- 'certificate' | 'key' | 'token'
    name TEXT NOT NULL,
    position BIGINT NOT NULL,      -- order within its kind, as the administrator wrote it
    definition TEXT NOT NULL,      -- JSON of the keyward_policy struct
    PRIMARY KEY (kind, name)
);

CREATE TABLE officers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    cert_fingerprint TEXT NOT NULL, -- SHA-256 of the officer certificate, lowercase hex
    cert_der BYTEA NOT NULL,
    roles TEXT NOT NULL,            -- 'issue-certificate,recover-key'
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX officers_name ON officers (name);
CREATE UNIQUE INDEX officers_cert_fingerprint ON officers (cert_fingerprint);

CREATE TABLE certificates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- the Certificate ID
    serial_hex TEXT NOT NULL,             -- as given
    serial_norm TEXT NOT NULL,            -- lowercase hex without leading zeros
    subject TEXT NOT NULL,
    subject_lower TEXT NOT NULL,          -- lowercased by Keyward (Unicode), for search
    issuer TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    der BYTEA NOT NULL,
    certificate_procedure TEXT NOT NULL,
    token_procedure TEXT NOT NULL,
    key_origin TEXT NOT NULL,             -- 'local' | 'server' | 'archived' | 'recovered'
    key_usage TEXT NOT NULL,
    officer TEXT NOT NULL,
    email TEXT,
    issued_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX certificates_serial_norm ON certificates (serial_norm);
CREATE INDEX certificates_subject_lower ON certificates (subject_lower);

-- Append-only. Hash chaining and signatures come in a later migration.
CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    category TEXT NOT NULL,        -- kebab-case AuditCategory
    action TEXT NOT NULL,
    officer TEXT,
    outcome TEXT NOT NULL,         -- 'success' | 'failure'
    object TEXT,
    detail TEXT NOT NULL           -- JSON
);
CREATE INDEX audit_at ON audit (at);
