//! PIN letters and the PIN mail queue (role `manage-pin-letters`, checked by the service).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use keyward_proto::{CreatePinLetters, DeliverPinMail, PinMailIds, PIN_LETTERS_PATH};
use keyward_store::{AuditCategory, PinLetterQuery, PinMailQuery, PinMailState};

use super::{answered, auth, signed, signed_idempotent, ApiFailure, PeerCertificate, Shared};
use crate::service::Refusal;

const CATEGORY: AuditCategory = AuditCategory::PinDistribution;

#[derive(Deserialize)]
pub(super) struct LetterQuery {
    first: Option<String>,
    used: Option<bool>,
    procedure: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list_letters(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Query(q): Query<LetterQuery>,
) -> Result<Response, ApiFailure> {
    let officer = auth::officer(&s.gate, &peer).await?;
    let first_id = match q.first {
        Some(text) => Some(text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Refusal::invalid("first", "a PIN letter ID is a positive decimal number")
        })?),
        None => None,
    };
    if q.procedure.as_ref().is_some_and(|p| p.len() > 64) {
        return Err(Refusal::invalid("procedure", "longer than 64 characters").into());
    }
    let query = PinLetterQuery {
        first_id,
        used: q.used,
        pin_procedure: q.procedure,
        limit: q.limit,
    };
    Ok(Json(s.pins.pin_letters(&officer, &query).await?).into_response())
}

#[derive(Deserialize)]
pub(super) struct MailQuery {
    state: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list_mail(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Query(q): Query<MailQuery>,
) -> Result<Response, ApiFailure> {
    let officer = auth::officer(&s.gate, &peer).await?;
    let state = match q.state {
        Some(text) => Some(
            text.parse::<PinMailState>()
                .map_err(|_| Refusal::invalid("state", "expected queued, delivered or failed"))?,
        ),
        None => None,
    };
    let query = PinMailQuery {
        state,
        limit: q.limit,
    };
    Ok(Json(s.pins.pin_mail(&officer, &query).await?).into_response())
}

/// A signed POST handler: verify, parse, audit refusals under `action`, call the service.
macro_rules! signed_post {
    ($name:ident, $request:ty, $path:literal, $action:literal, $method:ident) => {
        pub(super) async fn $name(
            State(s): Shared,
            peer: Extension<PeerCertificate>,
            headers: HeaderMap,
            body: Bytes,
        ) -> Result<Response, ApiFailure> {
            let (officer, req) =
                signed::<$request>(&s.gate, &peer, &headers, $path, &body, CATEGORY, $action)
                    .await?;
            Ok(Json(s.pins.$method(&officer, req).await?).into_response())
        }
    };
}

/// PIN letter creation is idempotent: a retry of the very same signed request gets the
/// recorded answer of its first attempt (see [`crate::service::PinDesk::create_pin_letters_request`]).
pub(super) async fn create_letters(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let (officer, request, key) = signed_idempotent::<CreatePinLetters>(
        &s.gate,
        &peer,
        &headers,
        PIN_LETTERS_PATH,
        &body,
        CATEGORY,
        "create-pin-letters",
    )
    .await?;
    Ok(answered(
        s.pins
            .create_pin_letters_request(&officer, request, &key)
            .await?,
    ))
}

signed_post!(
    deliver,
    DeliverPinMail,
    "/v1/pin-mail/deliver",
    "deliver-pin-mail",
    deliver_pin_mail
);
signed_post!(
    printed,
    PinMailIds,
    "/v1/pin-mail/printed",
    "print-pin-mail",
    pin_mail_printed
);
signed_post!(
    requeue,
    PinMailIds,
    "/v1/pin-mail/requeue",
    "requeue-pin-mail",
    requeue_pin_mail
);
