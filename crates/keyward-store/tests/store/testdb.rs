//! A store on a database of its own for each test, on SQLite or PostgreSQL, and a macro that
//! runs one test body on both engines. Shared by the store's and the audit crate's tests (the
//! latter include this file by path).
//!
//! PostgreSQL: `postgres://postgres@127.0.0.1:5432/postgres` (override with
//! `KEYWARD_TEST_PG_URL`) must be reachable: each test creates `keyward_test_<random hex>` and
//! drops it afterwards, even when the test fails. Set `KEYWARD_SKIP_PG=1` to run SQLite only.

#![allow(dead_code, unused_macros)]

use std::hash::{BuildHasher, Hasher};

use keyward_store::{Engine, Store};
use sqlx::Connection;

/// A store on a database of its own, removed when dropped.
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// The URL it was opened with (for raw SQL).
    pub url: String,
    /// The engine.
    pub engine: Engine,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

/// A PostgreSQL database of its own (`keyward_test_<random hex>`, empty), dropped — with its
/// connections — when this is dropped. Also used by the binary's end-to-end tests (through
/// `#[path]`), whose server processes open it by [`PgDatabase::url`].
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

/// A fresh store on `engine`; `None` when PostgreSQL is skipped on request.
pub async fn fresh(engine: Engine) -> Option<TestDb> {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
            let store = Store::open(&url).await.unwrap();
            Some(TestDb {
                store,
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
            let url = db.url.clone();
            let store = Store::open(&url).await.unwrap();
            Some(TestDb {
                store,
                url,
                engine,
                _dir: None,
                _pg: Some(db),
            })
        }
    }
}

/// For each `async fn name(db: TestDb)`, generates `name::sqlite` and `name::postgres` tests.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                if let Some(db) = $crate::common::fresh(keyward_store::Engine::Sqlite).await {
                    super::$name(db).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = $crate::common::fresh(keyward_store::Engine::Postgres).await {
                    super::$name(db).await;
                }
            }
        }
    )*};
}
