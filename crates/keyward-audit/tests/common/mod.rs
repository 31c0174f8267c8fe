//! The store tests' harness (included by path) and raw-SQL helpers for tampering.
#![allow(dead_code)]

pub mod chain;

#[macro_use]
#[path = "../../../keyward-store/tests/store/testdb.rs"]
mod testdb;

pub use testdb::{fresh, TestDb};

use keyward_store::Engine;

impl TestDb {
    /// A connection pool of its own, for raw SQL (the tamperer's).
    pub async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.url).await.unwrap()
    }

    /// Runs one raw SQL statement.
    pub async fn sql(&self, sql: &str) {
        let raw = self.raw().await;
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&raw)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        raw.close().await;
    }

    /// Uses up one record ID without a record, as a rolled-back append does.
    pub async fn skip_id(&self) {
        self.sql(match self.engine {
            Engine::Sqlite => "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'audit'",
            Engine::Postgres => "SELECT nextval(pg_get_serial_sequence('audit', 'id'))",
        })
        .await;
    }

    /// `OVERRIDING SYSTEM VALUE` where PostgreSQL needs it to insert an explicit ID.
    pub fn overriding(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => "",
            Engine::Postgres => "OVERRIDING SYSTEM VALUE",
        }
    }

    /// A blob literal of `bytes` for raw SQL.
    pub fn blob(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self.engine {
            Engine::Sqlite => format!("X'{hex}'"),
            Engine::Postgres => format!("decode('{hex}', 'hex')"),
        }
    }
}
