//! The same store tests on SQLite and PostgreSQL (see `common` for the set-up): each
//! `async fn name(db: TestDb)` listed in an `on_both_engines!` runs as `name::sqlite` and
//! `name::postgres`.

#[macro_use]
mod common;

mod archived_keys;
mod audit;
mod certificates;
mod officers;
mod procedures;
