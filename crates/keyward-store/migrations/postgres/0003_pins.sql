-- Keyward store, PostgreSQL: PIN distribution. Times are Unix seconds (BIGINT).
-- The store never sees a PIN in clear: `sealed` is the envelope made by the KRA, opaque here.
-- Keep in step with ../sqlite/0003_pins.sql: same tables, columns and index names.
-- procedures.kind (0001) now also takes 'pin': PIN procedures.

-- PIN/PUK letters made in advance; an issuance uses one, chosen by letter ID.
CREATE TABLE pin_letters (
    letter_id BIGINT PRIMARY KEY CHECK (letter_id > 0), -- printed on the letter
    pin_procedure TEXT NOT NULL,   -- the PIN procedure it may be used with
    batch TEXT NOT NULL,           -- shared by the letters created together
    kek_id TEXT NOT NULL,          -- the KEK that wrapped the PIN and PUK
    sealed BYTEA NOT NULL,         -- the KRA's envelope of the PIN and PUK
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,      -- officer name
    used_at BIGINT,                -- set, with the three below, when an issuance uses it
    used_by TEXT,                  -- officer name
    used_request TEXT,             -- issuance request ID
    used_certificates TEXT         -- Certificate IDs, joined by ','
);

-- The PIN mail queue: one PIN per issuance, for the Secure Printer to deliver.
CREATE TABLE pin_mail (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id TEXT NOT NULL,      -- issuance request ID
    recipient TEXT NOT NULL,       -- e-mail address, or postal text for print
    delivery TEXT NOT NULL,        -- 'smtp' | 'print'
    subject TEXT NOT NULL,         -- token subject DN, for the letter text
    token_procedure TEXT NOT NULL,
    certificate_ids TEXT NOT NULL, -- Certificate IDs, joined by ','
    officer TEXT NOT NULL,         -- issuing officer
    kek_id TEXT NOT NULL,          -- the KEK that wrapped the PIN
    sealed BYTEA,                  -- the KRA's envelope of the PIN; NULL once delivered
    state TEXT NOT NULL,           -- 'queued' | 'delivered' | 'failed'
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    queued_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    delivered_at BIGINT
);
CREATE UNIQUE INDEX pin_mail_request_id ON pin_mail (request_id);
-- The mailer's "queued, oldest first".
CREATE INDEX pin_mail_state ON pin_mail (state, id);
