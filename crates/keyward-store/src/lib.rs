//! The store component: certificates, archived keys, officers, procedures, PIN distribution
//! (PIN letters and the PIN mail queue), revocation state (for CRLs and OCSP) and the audit log.
//!
//! One code path over two engines through `sqlx::any`: a SQLite file by default (nothing to
//! install) and PostgreSQL when several server nodes share one database. Each engine has its
//! own migration directory (`migrations/sqlite`, `migrations/postgres`), chosen at run time from
//! the URL scheme. Queries use `$1, $2, …` placeholders on both engines. Times are Unix seconds.
//!
//! Every state change is written together with its audit record in one transaction.

#![forbid(unsafe_code)]

mod approvals;
mod archived_keys;
mod attribute_certs;
mod audit;
mod audit_chain;
mod audit_search;
mod by_procedure;
mod certificates;
mod crash;
mod crls;
mod error;
mod files;
mod nonces;
mod officers;
mod old_revocations;
mod pin_letters;
mod pin_mail;
mod pins;
mod procedure_versions;
mod procedures;
mod request_results;
mod revocation_types;
mod revocations;
mod rows;
mod search;
mod types;

use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Connection, Executor, Transaction};

pub use approvals::{Approval, ApprovalState, ApprovalUse, NewApproval, Vote};
pub use audit_chain::{
    audit_hash, AuditHashInput, AuditSeal, ChainedRecord, NewAuditSeal, AUDIT_HASH_LABEL,
    GENESIS_HASH,
};
pub use audit_search::AuditQuery;
pub use by_procedure::MAX_UNEXPIRED;
pub use certificates::{Recorded, TokenRecord};
pub use crash::{crash_point, CRASH_ENV};
pub use crls::{CrlFacts, CrlKind, NewCrl, StoredCrl};
pub use error::{ConflictOn, StoreError, UsedItem};
pub use nonces::NonceSight;
pub use old_revocations::{OldRevocation, RevokedOld};
pub use pin_letters::{
    NewPinLetter, PinLetter, PinLetterQuery, PinLetterUse, PinLetterVoid, VoidRefused,
};
pub use pin_mail::{NewPinMail, PinDelivery, PinMail, PinMailQuery, PinMailState};
pub use pins::PinRecord;
pub use procedure_versions::{NewProcedureVersion, ProcedureVersion};
pub use request_results::{Answered, RequestAnswer, RequestKey, RequestResult};
pub use revocations::{
    CertificateStatus, CrlNumber, NewRevocation, Revocation, RevokedEntry, SerialStatus,
    StatusFilter, Unhold,
};
pub use types::{
    ArchivedKey, ArchivedKeyQuery, AuditCategory, AuditRecord, CertificateQuery, NewArchivedKey,
    NewAttributeCertificate, NewAudit, NewCertificate, NewOfficer, Officer, Outcome,
    StoredAttributeCertificate, StoredCertificate,
};

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A handle on the database (a connection pool); cheap to clone and share between tasks.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    /// SQLite allows one writer at a time. Writers of this process queue here, asleep on a
    /// future, instead of in SQLite's busy handler, which polls with sleeps of 1 to 100 ms and
    /// left the cores idle under concurrent issuance. Other processes on the same file still
    /// wait through `busy_timeout`. Unused on PostgreSQL (row locks, several nodes).
    writer: Arc<tokio::sync::Mutex<()>>,
    /// When this process last forgot old request nonces (Unix seconds).
    nonces_pruned_at: Arc<AtomicI64>,
}

/// A transaction that writes (see [`Store::write_tx`]); on SQLite it holds this process's
/// writer turn until it is committed or dropped.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits, then gives the writer turn to the next writer.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back, then gives the writer turn to the next writer.
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Per-connection SQLite settings: wait up to 5 s for a lock, enforce foreign keys, and flush
/// every commit to disk (an issued certificate must never be forgotten).
const SQLITE_CONNECTION_PRAGMAS: &str =
    "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";

/// Tells the engine from the URL scheme and returns the URL sqlx should connect to.
fn parse_url(url: &str) -> Result<(Engine, String), StoreError> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        // Create the file if missing, unless the caller chose a mode (or an in-memory database).
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let memory = path.trim_start_matches("//") == ":memory:";
        let has_mode = query.split('&').any(|kv| kv.starts_with("mode="));
        let url = if memory || has_mode {
            url.to_string()
        } else if query.is_empty() {
            format!("{url}?mode=rwc")
        } else {
            format!("{url}&mode=rwc")
        };
        Ok((Engine::Sqlite, url))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((Engine::Postgres, url.to_string()))
    } else {
        let scheme = url
            .split_once(':')
            .map(|(s, _)| s)
            .filter(|s| s.len() <= 16 && s.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or("");
        Err(StoreError::UnsupportedUrl(scheme.to_string()))
    }
}

impl Store {
    /// Opens the database at `url` and applies any pending migrations.
    ///
    /// URL forms: `sqlite:///abs/path/keyward.db` (absolute), `sqlite://rel/keyward.db`
    /// (relative to the working directory), `postgres://user@host:port/db` (or `postgresql://`,
    /// with any libpq-style parameters sqlx accepts). A SQLite file is created if missing and
    /// switched to WAL journaling; the PostgreSQL database must exist
    /// ([`StoreError::MissingDatabase`] otherwise).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (engine, url) = parse_url(url)?;
        if engine == Engine::Sqlite {
            files::create_sqlite_file(&url)?;
        }
        let opened = |e: sqlx::Error| match &e {
            // invalid_catalog_name: the URL names a database the server does not have.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000") => {
                StoreError::MissingDatabase(db.message().to_string())
            }
            _ => StoreError::Database(e),
        };
        if engine == Engine::Postgres {
            // One connection first: the pool would retry an unreachable server until its
            // acquire timeout and then report only the timeout.
            let probe = sqlx::AnyConnection::connect(&url).await.map_err(opened)?;
            probe.close().await?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(match engine {
                Engine::Sqlite => 4,
                Engine::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        conn.execute(SQLITE_CONNECTION_PRAGMAS).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(opened)?;
        let store = Store {
            pool,
            engine,
            writer: Arc::new(tokio::sync::Mutex::new(())),
            nonces_pruned_at: Arc::new(AtomicI64::new(0)),
        };
        store.migrate().await?;
        store.chain_legacy_audit().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.engine {
            Engine::Sqlite => {
                // WAL is a property of the file: set it once, before anyone else writes.
                self.pool.execute("PRAGMA journal_mode = WAL").await?;
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?;
            }
            Engine::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Checks that the database takes writes: a write (of no row) in a transaction that is
    /// rolled back. Both engines refuse it on a read-only database before looking for rows, so
    /// a server can refuse to start instead of failing every issuance.
    /// [`StoreError::ReadOnly`] when it is read-only.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let read_only = |e: sqlx::Error| match &e {
            // PostgreSQL read_only_sql_transaction and insufficient_privilege; SQLite
            // SQLITE_READONLY (8) and its extended codes (8 + n * 256).
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("25006" | "42501"))
                    || db
                        .code()
                        .and_then(|c| c.parse::<i32>().ok())
                        .is_some_and(|c| c & 0xff == 8) =>
            {
                StoreError::ReadOnly(db.message().to_string())
            }
            _ => StoreError::Database(e),
        };
        let mut tx = match self.engine {
            Engine::Sqlite => WriteTx {
                _turn: self.writer_turn().await,
                tx: self
                    .pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(read_only)?,
            },
            Engine::Postgres => self.write_tx().await?,
        };
        sqlx::query("UPDATE audit_seals SET upto_id = upto_id WHERE id < 0")
            .execute(&mut *tx)
            .await
            .map_err(read_only)?;
        tx.rollback().await?;
        Ok(())
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Closes every connection; later calls on any clone of this store fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that concurrent writers wait for each other (up to the busy
    /// timeout) instead of failing when a read inside the transaction turns into a write.
    pub(crate) async fn write_tx(&self) -> Result<WriteTx, StoreError> {
        Ok(match self.engine {
            Engine::Sqlite => {
                let turn = self.writer_turn().await;
                WriteTx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: turn,
                }
            }
            Engine::Postgres => WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
            },
        })
    }

    /// This process's turn to write, on SQLite (see [`Store::writer`]); hold it across a
    /// statement that writes outside [`Store::write_tx`].
    pub(crate) async fn writer_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.engine {
            Engine::Sqlite => Some(self.writer.clone().lock_owned().await),
            Engine::Postgres => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let sqlite = |u: &str| parse_url(u).unwrap();
        assert_eq!(
            sqlite("sqlite:///var/lib/keyward.db"),
            (
                Engine::Sqlite,
                "sqlite:///var/lib/keyward.db?mode=rwc".into()
            )
        );
        assert_eq!(
            sqlite("sqlite://rel.db?cache=shared"),
            (
                Engine::Sqlite,
                "sqlite://rel.db?cache=shared&mode=rwc".into()
            )
        );
        assert_eq!(sqlite("sqlite://x.db?mode=ro").1, "sqlite://x.db?mode=ro");
        assert_eq!(sqlite("sqlite::memory:").1, "sqlite::memory:");
        assert_eq!(sqlite("postgres://u@h:5432/db").0, Engine::Postgres);
        assert_eq!(sqlite("postgresql://u@h/db").0, Engine::Postgres);
        let err = parse_url("mysql://root:hunter2@db/x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"mysql\"") && !err.contains("hunter2"),
            "{err}"
        );
        let err = parse_url("/var/lib/keyward.db").unwrap_err().to_string();
        assert!(err.contains("\"\""), "{err}");
    }
}
