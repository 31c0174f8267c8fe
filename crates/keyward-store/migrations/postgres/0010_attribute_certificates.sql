-- Keyward store, PostgreSQL: attribute certificates (RFC 5755) issued with a token, bound to the
-- public-key certificate that is their holder. Times are Unix seconds (BIGINT).
-- Keep in step with ../sqlite/0010_attribute_certificates.sql.

CREATE TABLE attribute_certificates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    holder_certificate_id BIGINT NOT NULL REFERENCES certificates (id),
    serial_hex TEXT NOT NULL UNIQUE,
    procedure TEXT NOT NULL,       -- the attribute-certificate procedure
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    der BYTEA NOT NULL,
    issued_at BIGINT NOT NULL
);
CREATE INDEX attribute_certificates_holder ON attribute_certificates (holder_certificate_id);
