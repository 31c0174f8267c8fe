//! The crate's one error type.

use crate::asn1::ResponseStatus;

/// What went wrong, naming the field at fault. [`OcspError::status`] tells which OCSP error
/// response answers it.
#[derive(Debug, thiserror::Error)]
pub enum OcspError {
    /// The request is not one we answer: bad DER, a wrong version, a limit exceeded, bad base64.
    #[error("malformed OCSP request: {field}: {reason}")]
    Malformed {
        /// The part of the request at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The status source could not answer (its database is down, say): try again later.
    #[error("certificate status unavailable: {0}")]
    Unavailable(String),
    /// Our side failed: signing, encoding, a responder certificate that does not fit its key.
    #[error("OCSP responder: {field}: {reason}")]
    Responder {
        /// What failed.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl OcspError {
    /// A malformed-request error.
    pub fn malformed(field: &'static str, reason: impl Into<String>) -> Self {
        OcspError::Malformed {
            field,
            reason: reason.into(),
        }
    }

    /// A responder-side error.
    pub fn responder(field: &'static str, reason: impl ToString) -> Self {
        OcspError::Responder {
            field,
            reason: reason.to_string(),
        }
    }

    /// The OCSP response status that answers this error: bad input is never `internalError`.
    pub fn status(&self) -> ResponseStatus {
        match self {
            OcspError::Malformed { .. } => ResponseStatus::MalformedRequest,
            OcspError::Unavailable(_) => ResponseStatus::TryLater,
            OcspError::Responder { .. } => ResponseStatus::InternalError,
        }
    }
}
