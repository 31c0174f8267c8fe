//! The RA client's error type.

use std::path::PathBuf;

use keyward_proto::ApiError;

/// The server's code for a request that waits for other officers' approvals (an M-of-N
/// recovery): the request opened an approval request, or the one named is still pending.
pub const APPROVAL_REQUIRED: &str = "approval-required";

/// Exit code of a request that waits for approvals: nothing was issued, and the message says
/// which approval request to wait for and how to repeat the request.
pub const EXIT_AWAITING_APPROVAL: i32 = 13;

/// Everything that can go wrong on the RA side. Messages never carry keys or PINs.
#[derive(Debug, thiserror::Error)]
pub enum RaError {
    /// client.conf is missing or wrong.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the setting.
        reason: String,
    },
    /// The officer credential could not be opened.
    #[error("officer credential {credential}: {reason}")]
    Officer {
        /// The PKCS#12 file, or the PKCS#11 token and key.
        credential: String,
        /// What is wrong.
        reason: String,
    },
    /// The Signature PIN does not open the officer credential (the PKCS#12, or the smart
    /// card: `CKR_PIN_INCORRECT`).
    #[error("wrong Signature PIN for {0}")]
    WrongSignaturePin(String),
    /// The server could not be reached or spoke nonsense.
    #[error("server {url}: {reason}")]
    Transport {
        /// Server URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The server's TLS certificate is not from the CA in `server.ca` (exit code 12): the
    /// message names what was presented and what was expected.
    #[error("server {url}: {reason}")]
    Untrusted {
        /// Server URL.
        url: String,
        /// What was presented, what was expected, and what to check.
        reason: String,
    },
    /// The server refused the request.
    #[error("refused by the server ({status}{}): {}", .error.field.as_ref().map(|f| format!(", field {f}")).unwrap_or_default(), .error.message)]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's explanation.
        error: ApiError,
    },
    /// The officer's input is wrong (names the field).
    #[error("{field}: {reason}")]
    Input {
        /// The field or option.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Key generation, CSR or PKCS#12 failure.
    #[error("crypto: {0}")]
    Crypto(#[from] keyward_crypto::CryptoError),
    /// A failure no input causes: the random generator failed, or a worker task died (the
    /// text says which; never a key or PIN).
    #[error("internal error: {0}")]
    Internal(String),
    /// The server issued the token's certificates but its files could not be written (exit
    /// code 11).
    #[error("{0}")]
    Undelivered(Box<Undelivered>),
    /// A file could not be written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error: in the message, and not also given as the source, so that a chain
        /// printed whole (`{:#}`) names it once.
        error: std::io::Error,
    },
}

/// A token issued but not written: the Certificate IDs, what to do about them, and whether the
/// server recorded the report.
#[derive(Debug, thiserror::Error)]
#[error(
    "the server issued Certificate ID(s) {} (request {request_id}), but the token could not be written: {reason}. {advice}. {}",
    .certificate_ids.join(", "),
    match .recorded {
        Ok(id) => format!("The server recorded this in the audit log (audit record {id})."),
        Err(e) => format!("The report to the server failed too ({e}): tell an administrator."),
    }
)]
pub struct Undelivered {
    /// The certificates issued.
    pub certificate_ids: Vec<String>,
    /// The issuance's request ID.
    pub request_id: String,
    /// The write failure (file and OS error).
    pub reason: String,
    /// What the officer can do.
    pub advice: String,
    /// The audit record of the report, or why the report failed.
    pub recorded: Result<String, String>,
}

impl RaError {
    /// Bad officer input in `field`.
    pub fn input(field: &str, reason: impl Into<String>) -> RaError {
        RaError::Input {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A failure of this side that is no fault of the input (exit code 1, not 2).
    pub fn internal(reason: impl Into<String>) -> RaError {
        RaError::Internal(reason.into())
    }

    /// The process exit code that goes with this error (see the README's table).
    pub fn exit_code(&self) -> i32 {
        match self {
            RaError::Input { .. } => 2,
            RaError::Config { .. } => 3,
            RaError::Officer { .. } | RaError::WrongSignaturePin(_) => 4,
            RaError::Refused { status, .. } if *status == 401 || *status == 403 => 5,
            RaError::Refused { error, .. } if error.code == APPROVAL_REQUIRED => {
                EXIT_AWAITING_APPROVAL
            }
            RaError::Refused { .. } => 6,
            RaError::Transport { .. } => 7,
            RaError::Undelivered(_) => 11,
            RaError::Untrusted { .. } => 12,
            RaError::Crypto(_) | RaError::Io { .. } | RaError::Internal(_) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_error_names_the_os_error_once() {
        let e = RaError::Io {
            path: PathBuf::from("/x/a.p12"),
            error: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert_eq!(e.to_string(), "/x/a.p12: permission denied");
        // `{:#}` (the CLI) appends each source: there is none to repeat it.
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn internal_failures_are_not_input_errors() {
        assert_eq!(
            RaError::internal("the random generator failed").exit_code(),
            1
        );
        assert_eq!(RaError::input("key-spec", "unknown").exit_code(), 2);
        assert_eq!(
            RaError::internal("key generation was interrupted").to_string(),
            "internal error: key generation was interrupted"
        );
    }
}
