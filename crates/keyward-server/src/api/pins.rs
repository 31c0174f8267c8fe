//! PIN letters and the PIN mail queue (role `manage-pin-letters`, checked by the service).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use keyward_proto::{
    ApiError, CreatePinLetters, DeliverPinMail, PinMailIds, VoidPinLetter, PIN_LETTERS_PATH,
};
use keyward_store::{AuditCategory, PinLetterQuery, PinMailQuery, PinMailState};

use super::{
    answered, auth, signed, signed_idempotent, ApiFailure, Params, PeerCertificate, Shared,
};
use crate::service::Refusal;

const CATEGORY: AuditCategory = AuditCategory::PinDistribution;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LetterQuery {
    /// The first letter ID listed (decimal, or as printed with its check digits).
    first: Option<String>,
    /// Only used (`true`) or unused (`false`) letters.
    used: Option<bool>,
    /// Only voided (`true`) or not voided (`false`) letters.
    voided: Option<bool>,
    /// Only letters of this PIN procedure.
    procedure: Option<String>,
    /// Most letters listed.
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/pin-letters", tag = "pin-letters", params(LetterQuery),
    responses(
        (status = 200, description = "PIN/PUK letters, without their secrets", body = Vec<keyward_proto::PinLetterInfo>),
        (status = 400, description = "`invalid`: a malformed criterion (field named)", body = ApiError),
        (status = 403, description = "`forbidden`: the officer lacks role `manage-pin-letters`", body = ApiError)))]
pub(super) async fn list_letters(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Params(q): Params<LetterQuery>,
) -> Result<Response, ApiFailure> {
    let officer = auth::officer(&s.gate, &peer).await?;
    // A criterion, not a choice: a bare number or a checked ID both say where to start.
    let first_id = match q.first {
        Some(text) => Some(
            keyward_policy::letter_id::parse(&text)
                .map_err(|e| Refusal::invalid("first", e.to_string()))?
                .number,
        ),
        None => None,
    };
    check_procedure_criterion(q.procedure.as_deref())?;
    let query = PinLetterQuery {
        first_id,
        used: q.used,
        voided: q.voided,
        pin_procedure: q.procedure,
        limit: q.limit,
    };
    Ok(Json(s.pins.pin_letters(&officer, &query).await?).into_response())
}

/// The `procedure` criterion of a letter listing: at most 64 characters, none a control
/// character (no procedure name has one, and PostgreSQL refuses a NUL byte in a parameter:
/// the listing failed with 500, found by Schemathesis).
fn check_procedure_criterion(procedure: Option<&str>) -> Result<(), Refusal> {
    match procedure {
        Some(p) if p.len() > 64 => Err(Refusal::invalid("procedure", "longer than 64 characters")),
        Some(p) if p.chars().any(char::is_control) => {
            Err(Refusal::invalid("procedure", "contains control characters"))
        }
        _ => Ok(()),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct MailQuery {
    /// `queued`, `delivered` or `failed`.
    state: Option<String>,
    /// Most mails listed.
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/pin-mail", tag = "pin-mail", params(MailQuery),
    responses(
        (status = 200, description = "Queued PIN mail, without PINs", body = Vec<keyward_proto::PinMailInfo>),
        (status = 400, description = "`invalid` (field `state`)", body = ApiError),
        (status = 403, description = "`forbidden`: the officer lacks role `manage-pin-letters`", body = ApiError)))]
pub(super) async fn list_mail(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Params(q): Params<MailQuery>,
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
    ($(#[$attr:meta])* $name:ident, $request:ty, $path:literal, $action:literal, $method:ident) => {
        $(#[$attr])*
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
#[utoipa::path(post, path = "/v1/pin-letters", tag = "pin-letters", request_body = CreatePinLetters,
    responses(
        (status = 200, description = "The batch; PINs and PUKs sealed to the transport key", body = keyward_proto::PinLetterBatch),
        (status = 403, description = "`forbidden`: the officer lacks role `manage-pin-letters`", body = ApiError),
        (status = 404, description = "`not-found` (field `pin_procedure`)", body = ApiError),
        (status = 409, description = "`conflict`: a replay, a request ID reused with other bytes, or letter IDs that exist already", body = ApiError),
        (status = 501, description = "`unsupported`: the PIN procedure is not of method `letter`", body = ApiError)))]
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
    #[utoipa::path(post, path = "/v1/pin-letters/void", tag = "pin-letters", request_body = VoidPinLetter,
        responses(
            (status = 200, description = "The letter as voided", body = keyward_proto::PinLetterInfo),
            (status = 400, description = "`invalid`: a malformed letter ID, wrong or missing check digits (field `letter_id`), or no reason (field `reason`)", body = ApiError),
            (status = 403, description = "`forbidden`: the officer lacks role `manage-pin-letters`", body = ApiError),
            (status = 404, description = "`not-found` (field `letter_id`): no such letter", body = ApiError),
            (status = 409, description = "`conflict` (field `letter_id`): the letter is used or voided already; or a replay", body = ApiError)))]
    void_letter,
    VoidPinLetter,
    "/v1/pin-letters/void",
    "void-pin-letter",
    void_pin_letter
);
signed_post!(
    #[utoipa::path(post, path = "/v1/pin-mail/deliver", tag = "pin-mail", request_body = DeliverPinMail,
        responses(
            (status = 200, description = "Mail sent, failed, and to print (PINs sealed to the transport key)", body = keyward_proto::PinMailDelivery),
            (status = 403, description = "`forbidden`: the officer lacks role `manage-pin-letters`", body = ApiError)))]
    deliver,
    DeliverPinMail,
    "/v1/pin-mail/deliver",
    "deliver-pin-mail",
    deliver_pin_mail
);
signed_post!(
    #[utoipa::path(post, path = "/v1/pin-mail/printed", tag = "pin-mail", request_body = PinMailIds,
        responses(
            (status = 200, description = "The mails whose PINs were deleted", body = Vec<keyward_proto::PinMailInfo>),
            (status = 403, description = "`forbidden`: the officer lacks role `manage-pin-letters`", body = ApiError),
            (status = 404, description = "`not-found` (field `ids`): no such queued mail to print", body = ApiError)))]
    printed,
    PinMailIds,
    "/v1/pin-mail/printed",
    "print-pin-mail",
    pin_mail_printed
);
signed_post!(
    #[utoipa::path(post, path = "/v1/pin-mail/requeue", tag = "pin-mail", request_body = PinMailIds,
        responses(
            (status = 200, description = "The IDs queued again", body = Vec<String>),
            (status = 403, description = "`forbidden`: the officer lacks role `manage-pin-letters`", body = ApiError),
            (status = 404, description = "`not-found` (field `ids`): no such failed mail", body = ApiError)))]
    requeue,
    PinMailIds,
    "/v1/pin-mail/requeue",
    "requeue-pin-mail",
    requeue_pin_mail
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by Schemathesis on PostgreSQL: `GET /v1/pin-letters?procedure=` with a NUL byte
    /// answered 500.
    #[test]
    fn a_procedure_criterion_with_control_characters_is_refused() {
        for bad in ["a\0b", "\0", "letter\n", &"x".repeat(65)] {
            let refusal = check_procedure_criterion(Some(bad)).unwrap_err();
            assert_eq!(refusal.field.as_deref(), Some("procedure"), "{bad:?}");
        }
        for good in [None, Some("letter"), Some("pin_2-b")] {
            assert!(check_procedure_criterion(good).is_ok(), "{good:?}");
        }
    }
}
