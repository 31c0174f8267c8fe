//! A store on a database of its own for each test (the kit's [`fresh_database`]), and
//! raw-SQL helpers for tampering.

pub(crate) mod chain;

use keyward_store::{Engine, Store};
use keyward_testkit::{fresh_database, TestDatabase};

/// A store on a database of its own, removed when dropped.
pub(crate) struct TestDb {
    /// The store under test.
    pub store: Store,
    /// The URL it was opened with (for raw SQL).
    pub url: String,
    /// The engine.
    pub engine: Engine,
    // Dropped after the store: the database goes once nothing uses it.
    _db: TestDatabase,
}

/// A fresh store on `engine`; `None` when PostgreSQL is skipped on request.
pub(crate) async fn fresh(engine: keyward_testkit::Engine) -> Option<TestDb> {
    let db = fresh_database(engine).await?;
    let store = Store::open(&db.url).await.unwrap();
    Some(TestDb {
        url: db.url.clone(),
        engine: store.engine(),
        store,
        _db: db,
    })
}

impl TestDb {
    /// A connection pool of its own, for raw SQL (the tamperer's).
    pub(crate) async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.url).await.unwrap()
    }

    /// Runs one raw SQL statement.
    pub(crate) async fn sql(&self, sql: &str) {
        let raw = self.raw().await;
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&raw)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        raw.close().await;
    }

    /// Uses up one record ID without a record, as a rolled-back append does.
    pub(crate) async fn skip_id(&self) {
        self.sql(match self.engine {
            Engine::Sqlite => "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'audit'",
            Engine::Postgres => "SELECT nextval(pg_get_serial_sequence('audit', 'id'))",
        })
        .await;
    }

    /// `OVERRIDING SYSTEM VALUE` where PostgreSQL needs it to insert an explicit ID.
    pub(crate) fn overriding(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => "",
            Engine::Postgres => "OVERRIDING SYSTEM VALUE",
        }
    }

    /// A blob literal of `bytes` for raw SQL.
    pub(crate) fn blob(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self.engine {
            Engine::Sqlite => format!("X'{hex}'"),
            Engine::Postgres => format!("decode('{hex}', 'hex')"),
        }
    }
}
