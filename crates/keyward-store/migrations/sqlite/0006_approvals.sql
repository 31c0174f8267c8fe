-- Keyward store, SQLite: M-of-N approval of key recoveries. Keep in step with ../postgres/0006.
-- A request names what may be recovered (token procedure, subject, the Certificate IDs of the
-- keys); officers vote; an approved request is used by exactly one issuance.

CREATE TABLE approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requester TEXT NOT NULL,
    token_procedure TEXT NOT NULL,
    subject TEXT NOT NULL,
    key_certificate_ids TEXT NOT NULL,   -- sorted, comma-separated
    required INTEGER NOT NULL,
    state TEXT NOT NULL,                 -- 'pending' | 'approved' | 'rejected' | 'used'
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    used_request TEXT
);
CREATE INDEX approvals_state ON approvals (state, id);

CREATE TABLE approval_votes (
    approval_id INTEGER NOT NULL REFERENCES approvals (id),
    officer TEXT NOT NULL,
    approve INTEGER NOT NULL,            -- 1 approve, 0 reject
    voted_at INTEGER NOT NULL,
    PRIMARY KEY (approval_id, officer)
);
