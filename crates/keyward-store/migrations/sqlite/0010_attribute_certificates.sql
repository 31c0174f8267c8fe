-- Keyward store, SQLite: attribute certificates (RFC 5755) issued with a token, bound to the
-- public-key certificate that is their holder. Times are Unix seconds (INTEGER).
-- Keep in step with ../postgres/0010_attribute_certificates.sql.

CREATE TABLE attribute_certificates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    holder_certificate_id INTEGER NOT NULL REFERENCES certificates (id),
    serial_hex TEXT NOT NULL UNIQUE,
    procedure TEXT NOT NULL,       -- the attribute-certificate procedure
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    der BLOB NOT NULL,
    issued_at INTEGER NOT NULL
);
CREATE INDEX attribute_certificates_holder ON attribute_certificates (holder_certificate_id);
