//! Why a batch could not start, or stopped.

use crate::RaError;

/// What went wrong in a batch. The messages are those the CLI prints; none carries a PIN.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Bad input (an option, the CSV, a row): names the option, row and column at fault.
    #[error("{0}")]
    Input(String),
    /// The RA client failed (configuration, officer, server, a row's request).
    #[error(transparent)]
    Ra(#[from] RaError),
    /// A file of the batch could not be read, written or parsed; `what` names it ("reading
    /// FILE", "FILE is damaged").
    #[error("{what}")]
    File {
        /// What was being done to which file.
        what: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An I/O error on no file of its own (a directory entry, a temporary file).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Encoding the batch state or a results record failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Encoding a CSV record failed.
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// The random generator failed (the batch ID).
    #[error("the random generator failed")]
    Random(#[source] openssl::error::ErrorStack),
    /// A worker task ended abnormally.
    #[error("a batch worker failed: {0}")]
    Worker(String),
    /// Anything else, as a message.
    #[error("{0}")]
    Other(String),
}

/// An [`BatchError::Input`].
pub(super) fn input_error(message: impl Into<String>) -> BatchError {
    BatchError::Input(message.into())
}

/// Wraps an error as a [`BatchError::File`] saying what was done to which file.
pub(super) fn file_error<E>(what: impl FnOnce() -> String) -> impl FnOnce(E) -> BatchError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |source| BatchError::File {
        what: what(),
        source: Box::new(source),
    }
}
