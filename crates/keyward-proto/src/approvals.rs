//! M-of-N approval of key recoveries: requests, listed and voted on by officers with
//! `recover-key`.

use serde::{Deserialize, Serialize};

/// `GET /v1/approvals?all=`: one approval request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalInfo {
    /// Approval ID (decimal).
    pub id: String,
    /// The officer who asked for the recovery.
    pub requester: String,
    /// Token procedure.
    pub token_procedure: String,
    /// Subject.
    pub subject: String,
    /// Certificate IDs of the keys to recover, comma-separated.
    pub key_certificate_ids: String,
    /// Approvals needed.
    pub required: i64,
    /// Officers who approved.
    pub approved_by: Vec<String>,
    /// Officers who rejected.
    pub rejected_by: Vec<String>,
    /// `pending`, `approved`, `rejected`, `used` or `expired`.
    pub state: String,
    /// Created, RFC 3339.
    pub created_at: String,
    /// Expires, RFC 3339.
    pub expires_at: String,
}

/// `POST /v1/approvals/vote`: approve or reject a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalVote {
    /// Random ID chosen by the client: 1 to 64 printable ASCII characters.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub request_id: String,
    /// Unix seconds at the client when signing.
    pub timestamp: i64,
    /// Random per request: 16 to 64 printable ASCII characters, used once.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{16,64}$"))]
    pub nonce: String,
    /// The approval request (decimal).
    pub approval_id: String,
    /// Approve (`true`) or reject.
    pub approve: bool,
}
