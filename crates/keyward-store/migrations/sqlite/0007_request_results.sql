-- Keyward store, SQLite: results of idempotent signed requests (token issuance), so that a retry
-- of the same request (same officer, request ID and body) is answered with the same result
-- instead of a second certificate. Keep in step with ../postgres/0007.
--
-- A row is written in the transaction that records the issuance, so it exists exactly when the
-- certificates do. `response` is the JSON answer: the certificates, the CA chain, and any
-- server-generated or recovered key and server-chosen PIN sealed to the RA's one-time transport
-- key (never in clear). It is cleared once no retry can be accepted any more (the request's
-- timestamp is out of the freshness window); the row itself stays, so that the request ID can
-- never issue again.

CREATE TABLE request_results (
    officer TEXT NOT NULL,
    request_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,      -- hex SHA-256 of the exact signed request body
    response TEXT,                  -- NULL once pruned
    certificate_ids TEXT,           -- the answer's Certificate IDs, comma-separated
    created_at INTEGER NOT NULL,
    PRIMARY KEY (officer, request_id)
);
CREATE INDEX request_results_answers ON request_results (created_at) WHERE response IS NOT NULL;

-- The body hash of a signed request beside its nonce: a byte-identical resend (a retry) can be
-- told from a replay of the nonce with other bytes.
ALTER TABLE request_nonces ADD COLUMN body_sha256 TEXT;
