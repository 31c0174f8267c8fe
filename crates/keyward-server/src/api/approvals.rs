//! Approval requests of M-of-N recoveries (role `recover-key`, checked by the service).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use keyward_proto::{ApprovalVote, APPROVAL_VOTE_PATH};
use keyward_store::AuditCategory;

use super::{answered, auth, signed_idempotent, ApiFailure, PeerCertificate, Shared};

#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    all: bool,
}

pub(super) async fn list(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiFailure> {
    let officer = auth::officer(&s.gate, &peer).await?;
    Ok(Json(s.approvals.approvals(&officer, q.all).await?).into_response())
}

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
