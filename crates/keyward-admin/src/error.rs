//! The error of administration commands.

/// Why an administration command failed. Messages name the option, setting or file at fault
/// and never carry a key, PIN or database password.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad input (names the option: `--dir`, `--database`, `NAME`, …).
    #[error("{0}")]
    Input(String),
    /// cm.conf, a file it names, or its database.
    #[error(transparent)]
    Server(#[from] keyward_server::ServerError),
    /// A PKCS#11 token (wrong PIN, no such token, …).
    #[error(transparent)]
    Token(#[from] keyward_pkcs11::Pkcs11Error),
    /// The database.
    #[error(transparent)]
    Store(#[from] keyward_store::StoreError),
    /// The CA.
    #[error(transparent)]
    Ca(#[from] keyward_ca::CaError),
    /// Key, PIN or PKCS#12 generation.
    #[error(transparent)]
    Crypto(#[from] keyward_crypto::CryptoError),
    /// The key archive.
    #[error(transparent)]
    Kra(#[from] keyward_kra::KraError),
    /// The audit key.
    #[error(transparent)]
    Audit(#[from] keyward_audit::AuditError),
    /// A subject.
    #[error(transparent)]
    Subject(#[from] keyward_policy::SubjectError),
    /// A certificate record.
    #[error(transparent)]
    Record(#[from] keyward_server::service::Refusal),
    /// OpenSSL.
    #[error(transparent)]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// A file or directory.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Procedures that do not parse.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// An error with what was being done (`what`: "reading FILE", "--dir DIR", …).
    #[error("{what}")]
    Context {
        /// What was being done, naming the file or option.
        what: String,
        /// The error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A procedures.toml that does not parse or validate: where (line and column 1-based; 0
    /// when the file could not be read) and what.
    #[error("{}", located(file, *line, *column, table, field, message))]
    ProcedureFile {
        /// The file.
        file: String,
        /// Line of the fault.
        line: usize,
        /// Column of the fault (characters).
        column: usize,
        /// The table at fault (`[[certificate-procedure]] signing`), if known.
        table: Option<String>,
        /// The key at fault, if known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Anything else, as a message.
    #[error("{0}")]
    Other(String),
}

/// `FILE:LINE:COLUMN: in TABLE, field KEY: MESSAGE`, the message of an
/// [`AdminError::ProcedureFile`] (`FILE: MESSAGE` without a position).
fn located(
    file: &str,
    line: usize,
    column: usize,
    table: &Option<String>,
    field: &Option<String>,
    message: &str,
) -> String {
    let at = if line == 0 {
        file.to_string()
    } else {
        format!("{file}:{line}:{column}")
    };
    let what = match (table, field) {
        (Some(t), Some(f)) => format!("in {t}, field {f}: "),
        (Some(t), None) => format!("in {t}: "),
        (None, Some(f)) => format!("field {f}: "),
        (None, None) => String::new(),
    };
    format!("{at}: {what}{message}")
}

/// An [`AdminError::Input`].
pub(crate) fn input_error(message: impl Into<String>) -> AdminError {
    AdminError::Input(message.into())
}

/// Wraps an error as an [`AdminError::Context`] saying what was being done.
pub(crate) fn context<E>(what: impl FnOnce() -> String) -> impl FnOnce(E) -> AdminError
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    move |source| AdminError::Context {
        what: what(),
        source: source.into(),
    }
}

/// `error: cause: cause …`, for a log line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    text
}
