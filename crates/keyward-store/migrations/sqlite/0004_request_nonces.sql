-- Keyward store, SQLite: nonces of signed requests, remembered for the freshness window so that a
-- replayed request is refused by every server node. Keep in step with ../postgres/0004.

CREATE TABLE request_nonces (
    nonce TEXT PRIMARY KEY,
    officer TEXT NOT NULL,
    seen_at INTEGER NOT NULL
);
CREATE INDEX request_nonces_seen_at ON request_nonces (seen_at);
