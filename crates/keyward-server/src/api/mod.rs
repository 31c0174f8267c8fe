//! The HTTPS API: TLS with client certificates, officer lookup, request signatures, JSON.
//! No policy here: decisions are the service's.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use keyward_proto::{ApiError, IssueRequest, WhoAmI, MAX_CLOCK_SKEW_SECS, TOKENS_PATH};
use keyward_store::{AuditCategory, NonceSight, RequestKey};

use crate::service::{unix_now, Answer, Gate, Refusal, RefusalKind, Services};

mod approvals;
mod auth;
mod body;
mod body_limit;
mod openapi;
mod pins;
mod query;
mod reports;
mod revoke;
mod routes;
mod search;
mod serve;
mod stats;
pub use auth::{check_signature, Peer, PeerCertificate};
use query::Params;
pub use routes::router;
pub use serve::{serve, Connections};
pub use stats::ConnectionStats;

/// A refusal as the API returns it.
#[derive(Debug)]
pub struct ApiFailure {
    status: StatusCode,
    body: ApiError,
}

impl ApiFailure {
    fn new(
        status: StatusCode,
        code: &str,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiFailure {
            status,
            body: ApiError {
                code: code.into(),
                field,
                message: message.into(),
            },
        }
    }
}

impl From<Refusal> for ApiFailure {
    fn from(r: Refusal) -> Self {
        let status = match r.kind {
            RefusalKind::Invalid => StatusCode::BAD_REQUEST,
            RefusalKind::Forbidden => StatusCode::FORBIDDEN,
            RefusalKind::NotFound => StatusCode::NOT_FOUND,
            RefusalKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
            RefusalKind::Conflict => StatusCode::CONFLICT,
            RefusalKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            RefusalKind::ApprovalRequired => StatusCode::CONFLICT,
        };
        ApiFailure::new(status, r.kind.code(), r.field, r.message)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type Shared = State<Arc<Services>>;

#[utoipa::path(get, path = "/v1/config", tag = "officer",
    responses((status = 200, description = "What the server tells the RA", body = keyward_proto::RaConfig)))]
async fn config(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
) -> Result<Response, ApiFailure> {
    auth::officer(&s.gate, &peer).await?;
    Ok(Json(s.queries.ra_config()).into_response())
}

#[utoipa::path(get, path = "/v1/whoami", tag = "officer",
    responses((status = 200, description = "The authenticated officer", body = WhoAmI)))]
async fn whoami(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
) -> Result<Response, ApiFailure> {
    let officer = auth::officer(&s.gate, &peer).await?;
    Ok(Json(WhoAmI {
        name: officer.name,
        roles: officer.roles.iter().map(|r| r.name().to_string()).collect(),
    })
    .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ProcedureQuery {
    /// Only token procedures whose name contains this (case-insensitive).
    filter: Option<String>,
}

#[utoipa::path(get, path = "/v1/procedures", tag = "officer", params(ProcedureQuery),
    responses((status = 200, description = "Token procedures with everything they name", body = keyward_proto::ProcedureList)))]
async fn procedures(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Params(q): Params<ProcedureQuery>,
) -> Result<Response, ApiFailure> {
    auth::officer(&s.gate, &peer).await?;
    Ok(Json(s.queries.procedures(q.filter.as_deref()).await?).into_response())
}

/// A signed POST body: what every state-changing request carries.
trait SignedRequest: serde::de::DeserializeOwned {
    fn request_id(&self) -> &str;
    fn timestamp(&self) -> i64;
    fn nonce(&self) -> &str;
}

macro_rules! signed_request {
    ($($t:ty),*) => {$(
        impl SignedRequest for $t {
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
    )*};
}
signed_request!(
    IssueRequest,
    keyward_proto::CreatePinLetters,
    keyward_proto::DeliverPinMail,
    keyward_proto::PinMailIds,
    keyward_proto::VoidPinLetter,
    keyward_proto::ApprovalVote,
    keyward_proto::RevokeRequest,
    keyward_proto::UnholdRequest
);

/// Authenticates the officer, verifies the signature over the body, parses it and checks its
/// time and nonce; refusals after authentication are audited under `category` and `action`. A
/// resend of the very same bytes is refused as a replay: the endpoint is not idempotent.
async fn signed<T: SignedRequest>(
    s: &Gate,
    peer: &PeerCertificate,
    headers: &HeaderMap,
    path: &str,
    body: &Bytes,
    category: AuditCategory,
    action: &str,
) -> Result<(keyward_store::Officer, T), ApiFailure> {
    let arrived = Arrived {
        peer,
        headers,
        path,
        body,
        category,
        action,
    };
    let (officer, request, _) = verify::<T>(s, &arrived, false).await?;
    Ok((officer, request))
}

/// [`signed`] for an idempotent endpoint: a resend of the very same signed bytes (same
/// officer, same nonce, same body hash) passes the nonce check, for the service to answer with
/// the recorded result of the first attempt (or to finish it, if it never completed). Also
/// returns the request's [`RequestKey`].
async fn signed_idempotent<T: SignedRequest>(
    s: &Gate,
    peer: &PeerCertificate,
    headers: &HeaderMap,
    path: &str,
    body: &Bytes,
    category: AuditCategory,
    action: &str,
) -> Result<(keyward_store::Officer, T, RequestKey), ApiFailure> {
    let arrived = Arrived {
        peer,
        headers,
        path,
        body,
        category,
        action,
    };
    verify::<T>(s, &arrived, true).await
}

/// A signed POST as it arrived: its connection's certificate, headers, path and exact bytes,
/// and where a refusal of it is audited.
struct Arrived<'a> {
    peer: &'a PeerCertificate,
    headers: &'a HeaderMap,
    path: &'a str,
    body: &'a Bytes,
    category: AuditCategory,
    action: &'a str,
}

/// The checks of every signed request, in this order: the officer (TLS client certificate,
/// registered, not revoked), the signature over the exact bytes, the Content-Type (415 unless
/// `application/json`), the JSON (no unknown field; a refusal names the field), the timestamp,
/// and the nonce. Only then is a request ID looked up (by the service, for idempotent endpoints):
/// a stored answer is never given for bytes the officer did not sign, nor after the freshness
/// window.
async fn verify<T: SignedRequest>(
    s: &Gate,
    arrived: &Arrived<'_>,
    idempotent: bool,
) -> Result<(keyward_store::Officer, T, RequestKey), ApiFailure> {
    let Arrived {
        peer,
        headers,
        path,
        body,
        category,
        action,
    } = *arrived;
    let officer = auth::officer(s, peer).await?;
    auth::verify_signature(s, &officer, peer, headers, path, body).await?;
    let refuse = |refusal: Refusal, detail: serde_json::Value| async {
        s.audit_refusal(category, action, Some(&officer.name), &refusal, detail)
            .await;
        ApiFailure::from(refusal)
    };
    if let Err(reason) = body::check_content_type(headers) {
        let refusal = Refusal::invalid(body::CONTENT_TYPE_FIELD, reason);
        let mut failure = refuse(refusal, serde_json::json!({ "path": path })).await;
        failure.status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        failure.body.code = "unsupported-media-type".into();
        return Err(failure);
    }
    let request: T = match body::parse(body) {
        Ok(r) => r,
        Err(refusal) => return Err(refuse(refusal, serde_json::json!({})).await),
    };
    if !body::is_fresh(request.timestamp(), unix_now()) {
        let refusal = Refusal::invalid(
            "timestamp",
            format!("request time is more than {MAX_CLOCK_SKEW_SECS} s from the server clock"),
        );
        let detail =
            serde_json::json!({ "request_id": crate::service::shorten(request.request_id()) });
        return Err(refuse(refusal, detail).await);
    }
    let body_sha256 = keyward_crypto::sha256_hex(body);
    if let Some(refusal) = replay(s, &officer.name, request.nonce(), &body_sha256, idempotent).await
    {
        let detail = serde_json::json!({
            "request_id": crate::service::shorten(request.request_id()),
            "nonce": crate::service::shorten(request.nonce()),
        });
        return Err(refuse(refusal, detail).await);
    }
    let key = RequestKey {
        officer: officer.name.clone(),
        request_id: request.request_id().to_string(),
        endpoint: path.to_string(),
        body_sha256,
    };
    Ok((officer, request, key))
}

/// Remembers the request's nonce with the hash of its body; a refusal when it is malformed or
/// was seen already. Nonces are kept for twice the clock skew allowed: an older request fails
/// its timestamp check.
///
/// On an idempotent endpoint a nonce seen before with the same officer and the same body hash
/// is let through: those are the very bytes the officer signed, sent again. Either the RA is
/// retrying (its answer was lost, or the server died mid-request), or someone replays what
/// they captured. The service answers both the same way: the recorded answer of the first
/// attempt if it completed — certificates are public, and every key and PIN in it is sealed to
/// the one-time transport key only the officer's RA holds — or, if it never completed, it
/// carries out what the officer signed, once: the request ID is claimed in the issuance
/// transaction, so one request ID never issues twice. A replay thus yields nothing an attacker
/// can open and no second certificate; refusing it instead would make a request whose first
/// attempt died with the server impossible to finish.
async fn replay(
    s: &Gate,
    officer: &str,
    nonce: &str,
    body_sha256: &str,
    idempotent: bool,
) -> Option<Refusal> {
    if !(16..=64).contains(&nonce.len()) || !nonce.bytes().all(|b| b.is_ascii_graphic()) {
        return Some(Refusal::invalid(
            "nonce",
            "must be 16 to 64 printable ASCII characters",
        ));
    }
    match s
        .check_nonce(nonce, officer, Some(body_sha256), 2 * MAX_CLOCK_SKEW_SECS)
        .await
    {
        Ok(NonceSight::New) => {
            if idempotent {
                // Answers older than the nonce window can never be asked for again.
                s.prune_answers_if_due(2 * MAX_CLOCK_SKEW_SECS).await;
            }
            None
        }
        Ok(NonceSight::SameRequest) if idempotent => None,
        Ok(_) => Some(Refusal::conflict(
            "nonce",
            "replayed request: a request with this nonce was received already",
        )),
        Err(refusal) => Some(refusal),
    }
}

/// Issues one soft token (idempotent: a resend of the same signed bytes gets the first answer).
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens",
    request_body = IssueRequest,
    responses(
        (status = 200, description = "The token's certificates, keys sealed to the transport key", body = keyward_proto::IssueResponse),
        (status = 403, description = "`forbidden`: the officer may not issue with this token procedure", body = ApiError),
        (status = 404, description = "`not-found`: a procedure, letter, approval or archived key named does not exist", body = ApiError),
        (status = 409, description = "`conflict` (a replay, a request ID reused with other bytes, a letter used) or `approval-required`", body = ApiError),
        (status = 501, description = "`unsupported`: the token plan needs what this server cannot do", body = ApiError)))]
async fn issue(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let verified = signed_idempotent::<IssueRequest>(
        &s.gate,
        &peer,
        &headers,
        TOKENS_PATH,
        &body,
        AuditCategory::CertificatesIssued,
        "issue-token",
    )
    .await;
    let (officer, request, key) = verified.inspect_err(|failure| {
        // Refused before the service read any token procedure: counted here, the service
        // counts its own refusals.
        if let Some(m) = &s.metrics {
            m.token_refused(None, &failure.body.code);
        }
    })?;
    Ok(answered(
        s.issuance.issue_request(&officer, request, &key).await?,
    ))
}

/// The response of an idempotent request: the new answer, or the recorded one byte for byte.
fn answered<T: serde::Serialize>(answer: Answer<T>) -> Response {
    match answer {
        Answer::New(value) => Json(value).into_response(),
        Answer::Again(json) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
    }
}
