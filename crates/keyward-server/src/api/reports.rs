//! Reports from the RA: `POST /v1/tokens/undelivered`, a token issued but not written (the
//! service checks the role and records it in the audit log).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use keyward_proto::{ApiError, UndeliveredToken, UNDELIVERED_PATH};
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
#[utoipa::path(post, path = "/v1/tokens/undelivered", tag = "tokens", request_body = UndeliveredToken,
    responses(
        (status = 200, description = "The audit record that holds the report", body = keyward_proto::UndeliveredRecorded),
        (status = 403, description = "`forbidden`: the officer lacks role `issue-certificate`, or did not issue these certificates", body = ApiError),
        (status = 404, description = "`not-found`: no such certificate", body = ApiError)))]
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
