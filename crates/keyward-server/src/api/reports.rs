//! Reports from the RA: `POST /v1/tokens/undelivered`, a token issued but not written (the
//! service checks the role and records it in the audit log).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use keyward_proto::{UndeliveredToken, UNDELIVERED_PATH};
use keyward_store::AuditCategory;

use super::{signed, ApiFailure, PeerCertificate, Shared, SignedRequest};

impl SignedRequest for UndeliveredToken {
    fn request_id(&self) -> &str {
        &self.request_id
    }
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
    fn nonce(&self) -> &str {
        &self.nonce
    }
}

/// A report is not idempotent: each is its own audit record, so a replay is refused.
pub(super) async fn undelivered(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let (officer, report) = signed::<UndeliveredToken>(
        &s.gate,
        &peer,
        &headers,
        UNDELIVERED_PATH,
        &body,
        AuditCategory::CertificatesIssued,
        "report-undelivered-token",
    )
    .await?;
    Ok(Json(s.issuance.report_undelivered(&officer, report).await?).into_response())
}
