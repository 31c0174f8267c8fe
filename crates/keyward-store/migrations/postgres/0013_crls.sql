-- Keyward store, PostgreSQL: published CRLs and node leases (issue 16). Keep in step with
-- ../sqlite/0013.
--
-- Every CRL a node signs is kept (with its audit record, in one transaction), so that any node
-- serves the latest one and a delta names a base that exists. `base_number` is NULL for a full
-- CRL, else the number of the full CRL the delta is based on.

CREATE TABLE crls (
    ca TEXT NOT NULL,                -- the issuer name, as certificates record it
    number BIGINT NOT NULL,          -- cRLNumber (from crl_numbers)
    base_number BIGINT,              -- NULL: a full CRL; else the delta's base CRL number
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    changes_upto BIGINT NOT NULL,    -- the last revocation change it covers
    der BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (ca, number)
);
CREATE INDEX crls_latest ON crls (ca, base_number, number);

-- Leases: a named job (the CRL publisher) done by one node at a time. A holder keeps its
-- lease by taking it again before `expires_at`; anyone may take an expired one. Several nodes
-- race on one row: the upsert below is one statement, and PostgreSQL's row lock makes exactly
-- one of them win.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
