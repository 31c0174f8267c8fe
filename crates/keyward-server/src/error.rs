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
    #[error("listen on {addr}: {error}")]
    Listen {
        /// The address.
        addr: String,
        /// The OS error: in the message, and not also given as the source, so that a chain
        /// printed whole (`{:#}`) names it once.
        error: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listen_error_names_the_os_error_once() {
        let e = ServerError::Listen {
            addr: "127.0.0.1:8443".into(),
            error: std::io::Error::from_raw_os_error(98),
        };
        let text = e.to_string();
        assert!(text.starts_with("listen on 127.0.0.1:8443: "), "{text}");
        assert!(text.contains("os error 98"), "{text}");
        // The CLI prints each source after the message (`{:#}`): there is none to repeat it.
        assert!(std::error::Error::source(&e).is_none());
    }
}
