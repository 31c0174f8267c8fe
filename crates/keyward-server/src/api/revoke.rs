//! Revoking certificates and releasing holds (role `revoke-certificate`, checked by the
//! service). Signed, idempotent POSTs.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;

use keyward_proto::{ApiError, RevokeRequest, UnholdRequest, REVOKE_PATH, UNHOLD_PATH};
use keyward_store::AuditCategory;

use super::{answered, signed_idempotent, ApiFailure, PeerCertificate, Shared};

/// Revokes a certificate, or puts it on hold (reason `certificateHold`). A resend of the same
/// signed bytes gets the first answer.
#[utoipa::path(post, path = "/v1/certificates/revoke", tag = "revocation", request_body = RevokeRequest,
    responses(
        (status = 200, description = "The certificate and its new status", body = keyward_proto::RevocationInfo),
        (status = 400, description = "`invalid`: neither or both of `certificate_id` and `serial_hex`, a CA certificate (field naming it), a `reason` officers do not give (`removeFromCRL`, `cACompromise`, `aACompromise`), an `invalidity_date` in the future", body = ApiError),
        (status = 403, description = "`forbidden`: the officer lacks role `revoke-certificate`", body = ApiError),
        (status = 404, description = "`not-found` (field `certificate_id` or `serial_hex`): no such certificate", body = ApiError),
        (status = 409, description = "`conflict`: revoked already (the reason and time are named), a replay, or a request ID reused with other bytes", body = ApiError)))]
pub(super) async fn revoke(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let (officer, req, key) = signed_idempotent::<RevokeRequest>(
        &s.gate,
        &peer,
        &headers,
        REVOKE_PATH,
        &body,
        AuditCategory::CertificatesRevoked,
        "revoke-certificate",
    )
    .await?;
    Ok(answered(
        s.revocations.revoke_request(&officer, req, &key).await?,
    ))
}

/// Releases a certificate on hold; the next delta CRL lists it as `removeFromCRL`.
#[utoipa::path(post, path = "/v1/certificates/unhold", tag = "revocation", request_body = UnholdRequest,
    responses(
        (status = 200, description = "The certificate and its new status", body = keyward_proto::RevocationInfo),
        (status = 400, description = "`invalid`: neither or both of `certificate_id` and `serial_hex`, or a CA certificate", body = ApiError),
        (status = 403, description = "`forbidden`: the officer lacks role `revoke-certificate`", body = ApiError),
        (status = 404, description = "`not-found` (field `certificate_id` or `serial_hex`): no such certificate", body = ApiError),
        (status = 409, description = "`conflict`: the certificate is not on hold (its status is named), a replay, or a request ID reused with other bytes", body = ApiError)))]
pub(super) async fn unhold(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let (officer, req, key) = signed_idempotent::<UnholdRequest>(
        &s.gate,
        &peer,
        &headers,
        UNHOLD_PATH,
        &body,
        AuditCategory::CertificatesRevoked,
        "unhold-certificate",
    )
    .await?;
    Ok(answered(
        s.revocations.unhold_request(&officer, req, &key).await?,
    ))
}
