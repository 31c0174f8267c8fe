//! Searches of issued certificates, archived keys and attribute certificates (GETs).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use keyward_proto::ApiError;
use keyward_store::{ArchivedKeyQuery, CertificateQuery, StatusFilter};

use super::{auth, ApiFailure, Params, PeerCertificate, Shared};
use crate::service::Refusal;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CertQuery {
    /// Certificate ID (decimal).
    id: Option<String>,
    /// Serial number (hex).
    serial: Option<String>,
    /// Text the subject contains (at most 1024 characters, no control characters).
    subject: Option<String>,
    /// Only certificates with this status now: `valid`, `revoked`, `on-hold` or `expired`.
    status: Option<String>,
}

/// The criteria of a certificate search, and whether the certificates themselves come along.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CertificatesQuery {
    /// Certificate ID (decimal).
    id: Option<String>,
    /// Serial number (hex).
    serial: Option<String>,
    /// Text the subject contains (at most 1024 characters, no control characters).
    subject: Option<String>,
    /// The whole subject, compared case-insensitively (at most 1024 characters, no control
    /// characters): what `ra issue` asks before submitting, to name the valid certificates the
    /// subject already holds.
    subject_exact: Option<String>,
    /// Only certificates with this status now: `valid`, `revoked`, `on-hold` or `expired`.
    status: Option<String>,
    /// `true`: each certificate found also carries itself, DER (`der`, base64), e.g. to save it
    /// again (`ra certificates --id N --out FILE`); searches leave it out by default.
    der: Option<bool>,
}

#[utoipa::path(get, path = "/v1/certificates", tag = "search", params(CertificatesQuery),
    responses(
        (status = 200, description = "Certificates found (at most 100, by Certificate ID), each naming the archived key its key is, if any; with `der=true` each with its DER", body = Vec<keyward_proto::CertificateInfo>),
        (status = 400, description = "`invalid`: a malformed criterion (field named)", body = ApiError)))]
pub(super) async fn certificates(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Params(q): Params<CertificatesQuery>,
) -> Result<Response, ApiFailure> {
    auth::officer(&s.gate, &peer).await?;
    let with_der = q.der.unwrap_or(false);
    if let Some(subject) = &q.subject_exact {
        check_subject_text(subject, "subject_exact")?;
    }
    let c = search_criteria(CertQuery {
        id: q.id,
        serial: q.serial,
        subject: q.subject,
        status: q.status,
    })?;
    let query = CertificateQuery {
        id: c.id,
        serial_hex: c.serial,
        subject: c.subject,
        subject_exact: q.subject_exact,
        status: c.status,
        limit: None,
    };
    Ok(Json(s.queries.certificates(&query, with_der).await?).into_response())
}

/// Checked search criteria shared by certificate and archived-key searches.
struct Criteria {
    id: Option<i64>,
    serial: Option<String>,
    subject: Option<String>,
    status: Option<StatusFilter>,
}

/// Refuses a subject criterion (`field`) over 1024 characters or with a control character.
fn check_subject_text(subject: &str, field: &str) -> Result<(), ApiFailure> {
    if subject.chars().count() > 1024 {
        return Err(Refusal::invalid(field, "longer than 1024 characters").into());
    }
    // No issued subject holds one (subjects are refused with them), and PostgreSQL refuses a
    // NUL byte in a parameter: the search would fail (500) instead.
    if subject.chars().any(char::is_control) {
        return Err(Refusal::invalid(field, "contains control characters").into());
    }
    Ok(())
}

/// Reads the shared search criteria: a decimal Certificate ID, a hex serial, a subject text, a
/// status.
fn search_criteria(q: CertQuery) -> Result<Criteria, ApiFailure> {
    let id = match q.id {
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiFailure::from(Refusal::invalid(
                "id",
                "a Certificate ID is a decimal number",
            ))
        })?),
        None => None,
    };
    let serial = match &q.serial {
        Some(text) => Some(
            keyward_policy::serial::normalize(text)
                .map_err(|why| ApiFailure::from(Refusal::invalid("serial", why)))?,
        ),
        None => None,
    };
    if let Some(subject) = &q.subject {
        check_subject_text(subject, "subject")?;
    }
    let status = match q.status.as_deref() {
        Some(text) => Some(
            text.parse::<StatusFilter>()
                .map_err(|e| ApiFailure::from(Refusal::invalid("status", e)))?,
        ),
        None => None,
    };
    Ok(Criteria {
        id,
        serial,
        subject: q.subject,
        status,
    })
}

#[utoipa::path(get, path = "/v1/archived-keys", tag = "search", params(CertQuery),
    responses(
        (status = 200, description = "Archived keys found", body = Vec<keyward_proto::ArchivedKeyInfo>),
        (status = 400, description = "`invalid`: a malformed criterion (field named)", body = ApiError),
        (status = 403, description = "`forbidden`: the officer may not search archived keys", body = ApiError)))]
pub(super) async fn archived_keys(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Params(q): Params<CertQuery>,
) -> Result<Response, ApiFailure> {
    let officer = auth::officer(&s.gate, &peer).await?;
    let c = search_criteria(q)?;
    let query = ArchivedKeyQuery {
        certificate_id: c.id,
        serial_hex: c.serial,
        subject: c.subject,
        status: c.status,
        ..Default::default()
    };
    Ok(Json(s.queries.archived_keys(&officer, &query).await?).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct HolderQuery {
    /// The holder's Certificate ID (decimal).
    holder: String,
}

/// The attribute certificates held by a certificate (`?holder=CERTIFICATE-ID`).
#[utoipa::path(get, path = "/v1/attribute-certificates", tag = "search", params(HolderQuery),
    responses(
        (status = 200, description = "Attribute certificates of the holder", body = Vec<keyward_proto::IssuedAttributeCertificate>),
        (status = 400, description = "`invalid` (field `holder`): not a Certificate ID", body = ApiError)))]
pub(super) async fn attribute_certificates(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Params(q): Params<HolderQuery>,
) -> Result<Response, ApiFailure> {
    auth::officer(&s.gate, &peer).await?;
    let holder = q.holder.parse::<i64>().map_err(|_| {
        ApiFailure::from(Refusal::invalid(
            "holder",
            "a Certificate ID is a decimal number",
        ))
    })?;
    Ok(Json(s.queries.attribute_certificates(holder).await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criteria(subject: &str) -> Result<Criteria, ApiFailure> {
        search_criteria(CertQuery {
            id: None,
            serial: None,
            subject: Some(subject.into()),
            status: None,
        })
    }

    /// Found by hand on PostgreSQL (Schemathesis sends such values): a subject text with a NUL
    /// byte failed the search (500); any control character is refused, naming the criterion.
    #[test]
    fn a_subject_text_with_control_characters_is_refused() {
        for text in ["a\0b", "\0", "CN=a\nb", "\u{7f}"] {
            let failure = criteria(text).err().unwrap();
            assert_eq!(
                (failure.status, failure.body.field.as_deref()),
                (axum::http::StatusCode::BAD_REQUEST, Some("subject")),
                "{text:?}"
            );
        }
        for text in ["", "CN=Alice", "Ålice Émile", &"x".repeat(1024)] {
            assert_eq!(criteria(text).ok().unwrap().subject.as_deref(), Some(text));
        }
        assert!(criteria(&"x".repeat(1025)).is_err());
    }
}
