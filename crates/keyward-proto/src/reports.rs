//! Reports from the RA about tokens it could not deliver: the server issued the certificates,
//! but the RA could not write the PKCS#12 or certificate files. The report goes to the audit
//! log, so that the orphan certificates are on record with the reason and the officer.

use serde::{Deserialize, Serialize};

/// Where [`UndeliveredToken`] is posted.
pub const UNDELIVERED_PATH: &str = "/v1/tokens/undelivered";
/// Most Certificate IDs one report names (a token holds a handful).
pub const MAX_UNDELIVERED_IDS: usize = 64;
/// Longest reason, in characters.
pub const MAX_UNDELIVERED_REASON_CHARS: usize = 2048;

/// `POST /v1/tokens/undelivered`: the certificates of an issued token whose files could not be
/// written (role `issue-certificate`; only the officer who issued them may report them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UndeliveredToken {
    /// Random ID chosen by the client (of this report): 1 to 64 printable ASCII characters.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub request_id: String,
    /// Unix seconds at the client when signing.
    pub timestamp: i64,
    /// Random per request: 16 to 64 printable ASCII characters, used once.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{16,64}$"))]
    pub nonce: String,
    /// The request ID of the issuance whose token was not delivered.
    pub issue_request_id: String,
    /// The Certificate IDs the server issued for it (decimal).
    pub certificate_ids: Vec<String>,
    /// Why the token could not be written (the file and the OS error; never a key or PIN).
    pub reason: String,
}

/// Response to [`UndeliveredToken`]: the audit record that holds the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UndeliveredRecorded {
    /// The audit record's ID (decimal).
    pub audit_id: String,
    /// The Certificate IDs recorded as undelivered.
    pub certificate_ids: Vec<String>,
}
