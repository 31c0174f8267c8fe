//! The same store tests on SQLite and PostgreSQL (see `common` for the set-up): each
//! `async fn name(db: TestDb)` listed in an
//! `keyward_testkit::on_both_engines!(async crate::common::fresh => …)` runs as `name::sqlite`
//! and `name::postgres`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

mod approvals;
mod archived_keys;
mod audit;
mod by_procedure;
mod certificates;
mod crls;
mod nonces;
mod officers;
mod pin_letters;
mod pin_mail;
mod procedures;
mod recover_revocations;
mod request_results;
mod revocations;
