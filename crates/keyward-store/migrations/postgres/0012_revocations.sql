-- Keyward store, PostgreSQL: revocation state (issue 16). Keep in step with ../sqlite/0012.
--
-- A revocation is one row and an audit record, never a rebuild: revoking and releasing a hold
-- each write this row once. `change_seq` comes from the `revocation-change` counter row, updated
-- (and so locked) in the same transaction, so changes are numbered in commit order on every
-- node; a delta CRL asks for the rows of its issuer changed since the sequence number its base
-- CRL recorded (`crl_numbers`).

CREATE TABLE revocations (
    certificate_id BIGINT PRIMARY KEY REFERENCES certificates (id),
    issuer TEXT NOT NULL,            -- the certificate's issuer, for per-CA CRL streams
    serial_norm TEXT NOT NULL,       -- the certificate's serial_norm
    reason BIGINT NOT NULL,          -- RFC 5280 CRLReason code
    revoked_at BIGINT NOT NULL,
    invalidity_date BIGINT,          -- when the key is known or suspected to be compromised
    released_at BIGINT,              -- a certificateHold released (unhold); NULL while in force
    change_seq BIGINT NOT NULL,      -- the revocation-change counter at the last change
    officer TEXT NOT NULL            -- who made the last change
);
CREATE INDEX revocations_issuer_change ON revocations (issuer, change_seq);
CREATE UNIQUE INDEX revocations_change_seq ON revocations (change_seq);

-- Counters updated inside transactions: `revocation-change` (above).
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('revocation-change', 0);

-- CRL numbers for every CA, shared by every node: a sequence never hands out a number twice,
-- not even after a rollback (RFC 5280 §5.2.3 asks for increasing numbers, not contiguous ones).
CREATE SEQUENCE crl_number_seq;

-- The CRL numbers handed out, with the revocation-change counter when each was taken: what the
-- CRL covers, and where a delta CRL based on it starts.
CREATE TABLE crl_numbers (
    ca TEXT NOT NULL,
    number BIGINT NOT NULL,
    changes_upto BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    PRIMARY KEY (ca, number)
);
