//! Approval requests of M-of-N recoveries (role `recover-key`, checked by the service).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use keyward_proto::{ApiError, ApprovalVote, APPROVAL_VOTE_PATH};
use keyward_store::AuditCategory;

use super::{answered, auth, signed_idempotent, ApiFailure, Params, PeerCertificate, Shared};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Every request, not only the pending ones.
    #[serde(default)]
    all: bool,
}

#[utoipa::path(get, path = "/v1/approvals", tag = "approvals", params(ListQuery),
    responses(
        (status = 200, description = "Approval requests", body = Vec<keyward_proto::ApprovalInfo>),
        (status = 403, description = "`forbidden`: the officer lacks role `recover-key`", body = ApiError)))]
pub(super) async fn list(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Params(q): Params<ListQuery>,
) -> Result<Response, ApiFailure> {
    let officer = auth::officer(&s.gate, &peer).await?;
    Ok(Json(s.approvals.approvals(&officer, q.all).await?).into_response())
}

#[utoipa::path(post, path = "/v1/approvals/vote", tag = "approvals", request_body = ApprovalVote,
    responses(
        (status = 200, description = "The approval request after the vote", body = keyward_proto::ApprovalInfo),
        (status = 403, description = "`forbidden`: the officer lacks role `recover-key`", body = ApiError),
        (status = 404, description = "`not-found` (field `approval`)", body = ApiError),
        (status = 409, description = "`conflict`: a replay, a request ID reused with other bytes, a request no longer pending, or a second vote", body = ApiError)))]
pub(super) async fn vote(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let (officer, req, key) = signed_idempotent::<ApprovalVote>(
        &s.gate,
        &peer,
        &headers,
        APPROVAL_VOTE_PATH,
        &body,
        AuditCategory::KeysRecovered,
        "vote-approval",
    )
    .await?;
    Ok(answered(
        s.approvals
            .vote_approval_request(&officer, req, &key)
            .await?,
    ))
}
