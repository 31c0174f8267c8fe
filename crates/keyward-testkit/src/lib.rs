//! Keyward's test kit, for the workspace's tests and benches only (`publish = false`, used as a
//! dev-dependency): a database of its own per test on SQLite or PostgreSQL ([`fresh_database`]),
//! a real SMTP server ([`smtp::SmtpServer`]), process helpers ([`run`], [`text`],
//! [`block_on`]), the foreign tools the tests run ([`tool`], [`python`]: a missing one fails
//! with one line naming its package) and [`on_both_engines!`], which runs one test body on both
//! engines.
//!
//! It depends on no Keyward crate, so that any of them — the store first — can use it without
//! a dependency cycle: it hands out database URLs, and each crate's tests open their store on
//! them.

// A kit for tests: a failed set-up panics, as a failed assertion does, and fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod db;
mod process;
pub mod smtp;
mod tools;

pub use db::{
    create_pg_database, fresh_database, pg_dump, skip_pg, Engine, PgDatabase, TestDatabase,
};
pub use process::{block_on, run, text};
pub use tools::{
    find_program, package_of, python, python_imports, python_script, require_tools, tool,
    MissingTool, Package, ESSENTIAL, PROGRAMS, PYTHON_MODULES,
};

/// Runs each listed test body on SQLite and on PostgreSQL, as the tests `name::sqlite` and
/// `name::postgres` (the latter skipped, saying so, with `KEYWARD_SKIP_PG=1`).
///
/// - `on_both_engines!(name, …)`: each `fn name(engine: Engine)` is called with the engine.
/// - `on_both_engines!(async crate::path::to::fresh => name, …)`: each
///   `async fn name(db: Db)` gets what `fresh(engine).await` returns (`Option<Db>`: `None`
///   skips), on a multi-threaded tokio runtime (the calling crate needs `tokio` with `macros`).
#[macro_export]
macro_rules! on_both_engines {
    (async $fresh:path => $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                if let Some(db) = $fresh($crate::Engine::Sqlite).await {
                    super::$name(db).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = $fresh($crate::Engine::Postgres).await {
                    super::$name(db).await;
                }
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::Engine::Sqlite);
            }

            #[test]
            fn postgres() {
                if !$crate::skip_pg() {
                    super::$name($crate::Engine::Postgres);
                }
            }
        }
    )*};
}
