-- Keyward store, PostgreSQL: which archived key a recovered key's new certificate certifies
-- (issue 17, item 9). Keep in step with ../sqlite/0016.
--
-- A recovery with a new certificate certifies the archived key of an older certificate; until
-- now nothing but the audit log tied the two. `ra certificates --id N --details` names the
-- archived key a certificate came with: its own (key origin 'archived', archived_keys), or the
-- one recorded here. Certificates recovered before this migration keep NULL: the link was not
-- recorded.
ALTER TABLE certificates ADD COLUMN recovered_from BIGINT REFERENCES certificates (id);
