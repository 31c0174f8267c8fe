-- Keyward store, PostgreSQL: substring search on subjects at size. A search by subject text is
-- `subject_lower LIKE '%text%'`, which no B-tree index can serve: with a million certificates it
-- scanned the whole table. A trigram GIN index (pg_trgm) serves LIKE '%text%' for any text of
-- three characters or more. The SQLite counterpart (../sqlite/0008) is an FTS5 trigram index.
--
-- pg_trgm ships with PostgreSQL and is a trusted extension (PostgreSQL 13+): the owner of the
-- database may create it. Where it cannot be created, this migration still succeeds (with a
-- notice) and subject search scans as before; create the extension and the index by hand later:
--   CREATE EXTENSION pg_trgm;
--   CREATE INDEX certificates_subject_trgm ON certificates USING gin (subject_lower gin_trgm_ops);

DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%); subject substring search will scan', SQLERRM;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX certificates_subject_trgm ON certificates
            USING gin (subject_lower gin_trgm_ops);
    END IF;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'no trigram index on certificates.subject_lower (%); subject substring search will scan', SQLERRM;
END
$$;
