//! Start-up errors of the server (request errors are [`crate::api::ApiFailure`]).

use std::path::PathBuf;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// cm.conf is missing, unreadable or wrong.
    #[error("{path}: {reason}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong, naming the setting.
        reason: String,
    },
    /// A file named by cm.conf could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The database could not be opened.
    #[error("database: {0}")]
    Store(#[from] keyward_store::StoreError),
    /// TLS set-up failed.
    #[error("tls: {0}")]
    Tls(String),
    /// Listening failed.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}
