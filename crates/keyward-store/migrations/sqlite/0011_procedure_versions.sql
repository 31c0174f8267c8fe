-- Keyward store, SQLite: the versions of procedures.toml loaded into `procedures` (0001), by
-- `keyward init` (version 1) and `keyward procedures load`. Times are Unix seconds (INTEGER).
-- Keep in step with ../postgres/0011_procedure_versions.sql.

CREATE TABLE procedure_versions (
    version INTEGER PRIMARY KEY CHECK (version > 0), -- 1, 2, …: the highest is in force
    sha256 TEXT NOT NULL,          -- SHA-256 of `source`, lowercase hex
    source TEXT NOT NULL,          -- the text of procedures.toml as loaded
    loaded_by TEXT NOT NULL,       -- who loaded it (`keyward-admin` on the CM host)
    loaded_at INTEGER NOT NULL
);
