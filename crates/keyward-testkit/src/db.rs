//! A database of its own for each test, on SQLite or PostgreSQL, handed out as a URL: the kit
//! knows no Keyward type, so the store's own tests can use it (see the crate's Cargo.toml).
//!
//! PostgreSQL: `postgres://postgres@127.0.0.1:5432/postgres` (override with
//! `KEYWARD_TEST_PG_URL`) must be reachable: each test creates `keyward_test_<random hex>` and
//! drops it afterwards, even when the test fails. Set `KEYWARD_SKIP_PG=1` to run SQLite only.

use std::hash::{BuildHasher, Hasher};

use sqlx::{Connection, Row};

/// The database engine a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A database of its own on the test PostgreSQL server.
    Postgres,
}

/// An empty database of its own: a SQLite file (not yet created) in a temporary directory, or
/// a PostgreSQL database; removed when dropped.
pub struct TestDatabase {
    /// `sqlite://…/keyward.db` or `postgres://…/keyward_test_…`.
    pub url: String,
    /// The engine.
    pub engine: Engine,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

/// A fresh database on `engine`; `None` when PostgreSQL is skipped on request.
pub async fn fresh_database(engine: Engine) -> Option<TestDatabase> {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
            Some(TestDatabase {
                url,
                engine,
                _dir: Some(dir),
                _pg: None,
            })
        }
        Engine::Postgres => {
            if skip_pg() {
                return None;
            }
            let db = create_pg_database().await;
            Some(TestDatabase {
                url: db.url.clone(),
                engine,
                _dir: None,
                _pg: Some(db),
            })
        }
    }
}

/// A PostgreSQL database of its own (`keyward_test_<random hex>`, empty), dropped — with its
/// connections — when this is dropped; server processes under test open it by
/// [`PgDatabase::url`].
pub struct PgDatabase {
    /// `postgres://…/keyward_test_…`: the admin URL with the database name replaced.
    pub url: String,
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // On a thread of its own: Drop may run inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

fn random_hex() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// Whether PostgreSQL tests are skipped on request (`KEYWARD_SKIP_PG=1`); says so on stderr.
pub fn skip_pg() -> bool {
    let skip = std::env::var("KEYWARD_SKIP_PG").as_deref() == Ok("1");
    if skip {
        eprintln!("KEYWARD_SKIP_PG=1: PostgreSQL test skipped on request");
    }
    skip
}

/// Creates an empty database of its own on the test PostgreSQL server; panics, saying what to
/// do, when the server is unreachable.
pub async fn create_pg_database() -> PgDatabase {
    let admin_url = std::env::var("KEYWARD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for these tests and is not reachable at \
                 {admin_url} ({e}). Start it, point KEYWARD_TEST_PG_URL at a server \
                 where this user may CREATE DATABASE, or set KEYWARD_SKIP_PG=1."
            )
        });
    let name = format!("keyward_test_{}", random_hex());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let (base, params) = match admin_url.split_once('?') {
        Some((base, params)) => (base, format!("?{params}")),
        None => (admin_url.as_str(), String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    PgDatabase {
        url: format!("{server}/{name}{params}"),
        admin_url,
        name,
    }
}

/// Every value of every column of every table in the `public` schema of the PostgreSQL
/// database at `url`: `bytea` as raw bytes, anything else as `::text`, one value per line (for
/// searches for secrets that must not be stored).
pub async fn pg_dump(url: &str) -> Vec<u8> {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    let columns = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty \
         FROM information_schema.columns WHERE table_schema = 'public' \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list columns");
    let mut dump = Vec::new();
    for column in &columns {
        let (table, name, ty): (String, String, String) =
            (column.get("t"), column.get("c"), column.get("ty"));
        let select = if ty == "bytea" { "" } else { "::text" };
        let sql =
            format!("SELECT \"{name}\"{select} AS v FROM \"{table}\" WHERE \"{name}\" IS NOT NULL");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .expect("dump column");
        for row in rows {
            if ty == "bytea" {
                dump.extend(row.get::<Vec<u8>, _>("v"));
            } else {
                dump.extend(row.get::<String, _>("v").into_bytes());
            }
            dump.push(b'\n');
        }
    }
    conn.close().await.expect("close");
    dump
}
