-- Keyward store, SQLite: certificates by certificate procedure and expiry (issue 16). Keep in
-- step with ../postgres/0014.
--
-- A CA node and every standalone OCSP responder look once a minute for the unexpired
-- certificates of the `ocsp-signing` procedure (a renewal another node recorded, to adopt):
-- without this index that look-up reads every certificate.
CREATE INDEX certificates_procedure_not_after ON certificates (certificate_procedure, not_after);
