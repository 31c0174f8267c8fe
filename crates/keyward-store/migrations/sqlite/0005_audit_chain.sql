-- Keyward store, SQLite: the audit log's hash chain, its seals, and an index of the objects each
-- record names (for search). Keep in step with ../postgres/0005_audit_chain.sql.

-- hash = SHA-256 (lowercase hex) over the record and prev_hash, the hash of the record before it
-- in ID order (64 zeros for the first); see keyward_store::audit_hash. Written by the store in
-- the transaction that appends the record; records from before this migration are chained when
-- the store is next opened.
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;

-- Search: newest first within a category, an officer, or the failures.
CREATE INDEX audit_category_id ON audit (category, id);
CREATE INDEX audit_officer_id ON audit (officer, id);
CREATE INDEX audit_failures ON audit (id) WHERE outcome = 'failure';

-- What each record names, for search by object: 'object:<object>', 'object:<each
-- comma-separated part of it>', 'object:<Certificate ID in detail.certificate_id(s)>' and
-- 'serial:<normalised serial in detail.serial(s)>'. Derived from the record (not part of its
-- hash); a search joins it back to the record.
CREATE TABLE audit_objects (
    object_key TEXT NOT NULL,
    audit_id INTEGER NOT NULL,
    PRIMARY KEY (object_key, audit_id)
);

-- Signed checkpoints: the key `key_id` signed (ECDSA P-256, SHA-256)
-- 'keyward-audit-seal-v1' || upto_id (8 bytes, big-endian) || head_hash, where head_hash is the
-- hash of record upto_id. No foreign key on upto_id on purpose: a sealed record that has gone
-- missing is reported by `keyward audit verify` (truncated), not hidden by a cascade.
CREATE TABLE audit_seals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    upto_id INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature BLOB NOT NULL,
    sealed_at INTEGER NOT NULL
);
CREATE INDEX audit_seals_upto_id ON audit_seals (upto_id);
