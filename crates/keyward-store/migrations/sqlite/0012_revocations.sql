-- Keyward store, SQLite: revocation state (issue 16). Keep in step with ../postgres/0012.
--
-- A revocation is one row and an audit record, never a rebuild: revoking and releasing a hold
-- each write this row once. `change_seq` comes from the `revocation-change` counter, updated in
-- the same transaction, so changes are numbered in commit order; a delta CRL asks for the rows
-- of its issuer changed since the sequence number its base CRL recorded (`crl_numbers`).

CREATE TABLE revocations (
    certificate_id INTEGER PRIMARY KEY REFERENCES certificates (id),
    issuer TEXT NOT NULL,            -- the certificate's issuer, for per-CA CRL streams
    serial_norm TEXT NOT NULL,       -- the certificate's serial_norm
    reason INTEGER NOT NULL,         -- RFC 5280 CRLReason code
    revoked_at INTEGER NOT NULL,
    invalidity_date INTEGER,         -- when the key is known or suspected to be compromised
    released_at INTEGER,             -- a certificateHold released (unhold); NULL while in force
    change_seq INTEGER NOT NULL,     -- the revocation-change counter at the last change
    officer TEXT NOT NULL            -- who made the last change
);
CREATE INDEX revocations_issuer_change ON revocations (issuer, change_seq);
CREATE UNIQUE INDEX revocations_change_seq ON revocations (change_seq);

-- Counters updated inside transactions: `revocation-change` (above) and, on SQLite only, one
-- `crl:ISSUER` per CA for the CRL numbers (PostgreSQL uses a SEQUENCE for those).
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('revocation-change', 0);

-- The CRL numbers handed out (RFC 5280 §5.2.3: monotonically increasing, never reused), with
-- the revocation-change counter when each was taken: what the CRL covers, and where a delta
-- CRL based on it starts.
CREATE TABLE crl_numbers (
    ca TEXT NOT NULL,
    number INTEGER NOT NULL,
    changes_upto INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    PRIMARY KEY (ca, number)
);
