//! The store's error type.

/// Why a store operation failed.
///
/// Messages never carry secret data: the store holds none in clear, and a database URL (which
/// may hold a password) is never echoed, only its scheme.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL has a scheme Keyward does not support.
    #[error(
        "unsupported database URL scheme {0:?}: use sqlite:///ABSOLUTE/PATH, sqlite://RELATIVE/PATH \
         or postgres://USER@HOST:PORT/DB"
    )]
    UnsupportedUrl(String),
    /// The database refused or failed (connection, SQL, I/O).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A unique value exists already; the text names the field (`officer name`,
    /// `officer certificate fingerprint`, `certificate serial`, `procedure name`).
    #[error("{0} exists already")]
    Conflict(String),
    /// An argument the store cannot accept; the text names the field and the reason.
    #[error("invalid {0}")]
    Invalid(String),
    /// A stored row that cannot be understood (damaged or written by a newer version).
    #[error("damaged row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`] naming `field`; any other
    /// error to [`StoreError::Database`].
    pub(crate) fn unique(field: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
        move |e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(field.to_string())
            }
            _ => StoreError::Database(e),
        }
    }

    /// Whether this is a unique-constraint violation reported by the database.
    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}
