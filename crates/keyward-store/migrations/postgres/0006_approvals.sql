-- Keyward store, PostgreSQL: M-of-N approval of key recoveries. Keep in step with ../sqlite/0006.
-- A request names what may be recovered (token procedure, subject, the Certificate IDs of the
-- keys); officers vote; an approved request is used by exactly one issuance.

CREATE TABLE approvals (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    requester TEXT NOT NULL,
    token_procedure TEXT NOT NULL,
    subject TEXT NOT NULL,
    key_certificate_ids TEXT NOT NULL,   -- sorted, comma-separated
    required BIGINT NOT NULL,
    state TEXT NOT NULL,                 -- 'pending' | 'approved' | 'rejected' | 'used'
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_request TEXT
);
CREATE INDEX approvals_state ON approvals (state, id);

CREATE TABLE approval_votes (
    approval_id BIGINT NOT NULL REFERENCES approvals (id),
    officer TEXT NOT NULL,
    approve BIGINT NOT NULL,            -- 1 approve, 0 reject
    voted_at BIGINT NOT NULL,
    PRIMARY KEY (approval_id, officer)
);
