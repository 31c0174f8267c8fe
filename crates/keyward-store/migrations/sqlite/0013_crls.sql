-- Keyward store, SQLite: published CRLs and node leases (issue 16). Keep in step with
-- ../postgres/0013.
--
-- Every CRL a node signs is kept (with its audit record, in one transaction), so that any node
-- serves the latest one and a delta names a base that exists. `base_number` is NULL for a full
-- CRL, else the number of the full CRL the delta is based on.

CREATE TABLE crls (
    ca TEXT NOT NULL,                -- the issuer name, as certificates record it
    number INTEGER NOT NULL,         -- cRLNumber (from crl_numbers)
    base_number INTEGER,             -- NULL: a full CRL; else the delta's base CRL number
    this_update INTEGER NOT NULL,
    next_update INTEGER NOT NULL,
    changes_upto INTEGER NOT NULL,   -- the last revocation change it covers
    der BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (ca, number)
);
CREATE INDEX crls_latest ON crls (ca, base_number, number);

-- Leases: a named job (the CRL publisher) done by one node at a time. A holder keeps its
-- lease by taking it again before `expires_at`; anyone may take an expired one.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
