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
    /// The PostgreSQL server has no database of the URL's name; the text is the server's
    /// (`database "kw" does not exist`).
    #[error(
        "{0} on the PostgreSQL server: create it first (createdb NAME, or CREATE DATABASE NAME) \
         or name an existing one"
    )]
    MissingDatabase(String),
    /// The database refused or failed (connection, SQL, I/O).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A unique value exists already; the text names the field (`officer name`,
    /// `officer certificate fingerprint`, `certificate serial`, `procedure name`,
    /// `PIN mail request`) or the value (`PIN letter ID 17`).
    #[error("{0} exists already")]
    Conflict(String),
    /// A one-time item (a PIN letter) was used already, or cannot be used as asked; the text
    /// names it (`PIN letter 17`).
    #[error("{0} has been used already")]
    Used(String),
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
