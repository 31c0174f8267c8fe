-- Keyward store, SQLite: substring search on subjects at size. A search by subject text is
-- `subject_lower LIKE '%text%'`, which no B-tree index can serve: with a million certificates it
-- scanned the whole table (hundreds of milliseconds). An FTS5 trigram index over subject_lower
-- finds the candidate rows of any text of three characters or more; the LIKE still decides.
-- Kept in step with the certificates table by triggers (certificates are never updated or
-- deleted today; the triggers keep the index right if that changes).
-- The PostgreSQL counterpart (../postgres/0008) is a pg_trgm GIN index on the same column.

CREATE VIRTUAL TABLE certificates_subject_fts USING fts5(
    subject_lower,
    content = 'certificates',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1'
);

INSERT INTO certificates_subject_fts (rowid, subject_lower)
    SELECT id, subject_lower FROM certificates;

CREATE TRIGGER certificates_subject_fts_insert AFTER INSERT ON certificates BEGIN
    INSERT INTO certificates_subject_fts (rowid, subject_lower)
        VALUES (new.id, new.subject_lower);
END;

CREATE TRIGGER certificates_subject_fts_delete AFTER DELETE ON certificates BEGIN
    INSERT INTO certificates_subject_fts (certificates_subject_fts, rowid, subject_lower)
        VALUES ('delete', old.id, old.subject_lower);
END;

CREATE TRIGGER certificates_subject_fts_update AFTER UPDATE OF subject_lower ON certificates BEGIN
    INSERT INTO certificates_subject_fts (certificates_subject_fts, rowid, subject_lower)
        VALUES ('delete', old.id, old.subject_lower);
    INSERT INTO certificates_subject_fts (rowid, subject_lower)
        VALUES (new.id, new.subject_lower);
END;
