//! The API's OpenAPI 3.1 description, generated from the handlers' `#[utoipa::path]` attributes
//! and the wire types of keyward-proto; served at [`OPENAPI_PATH`] and committed as
//! `docs/openapi.json` (a test keeps the two equal).
//!
//! The refusals of the checks every request goes through (officer authentication; for POSTs
//! the signature, Content-Type, body and nonce checks of `verify`) are added here to every
//! operation, once, as the code raises them once; a handler lists only its own.

use std::sync::LazyLock;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use keyward_proto::{ApiError, MAX_BODY_BYTES, SIGNATURE_HEADER};

use super::{auth, ApiFailure, PeerCertificate, Shared};

/// Where the description is served.
pub(super) const OPENAPI_PATH: &str = "/v1/openapi.json";

/// Name of the mutual-TLS security scheme (every request).
const TLS_SCHEME: &str = "officer_certificate";
/// Name of the signature-header security scheme (every POST, with [`TLS_SCHEME`]).
const SIGNATURE_SCHEME: &str = "officer_signature";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keyward API",
        description = "The CM host's HTTPS API for the RA client and the Secure Printer. \
            Officers only: every request is made over TLS with the officer's client certificate; \
            every POST also carries the officer's signature over its exact body (see the \
            `officer_signature` security scheme). Refusals are `ApiError`s unless a response says otherwise."
    ),
    paths(
        super::config,
        super::whoami,
        super::procedures,
        super::search::certificates,
        super::search::archived_keys,
        super::search::attribute_certificates,
        super::issue,
        super::reports::undelivered,
        super::revoke::revoke,
        super::revoke::unhold,
        super::pins::list_letters,
        super::pins::create_letters,
        super::pins::void_letter,
        super::pins::list_mail,
        super::pins::deliver,
        super::pins::printed,
        super::pins::requeue,
        super::approvals::list,
        super::approvals::vote,
        openapi_json,
    ),
    modifiers(&SharedChecks)
)]
struct ApiDoc;

/// The description as JSON, made once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .map(|text| text + "\n")
        .unwrap_or_else(|e| format!("{{\"error\":\"OpenAPI description: {e}\"}}\n"))
});

/// The description as served and committed (pretty JSON, one trailing newline).
pub(super) fn document() -> &'static str {
    &DOCUMENT
}

/// The description as a structure (for tests that read its paths).
#[cfg(test)]
pub(super) fn description() -> Document {
    ApiDoc::openapi()
}

/// `GET /v1/openapi.json`, for officers like every other request: the contract is no secret
/// (it is `docs/openapi.json`), but the API answers nobody it does not know.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "contract",
    responses((status = 200, description = "This OpenAPI 3.1 description", content_type = "application/json", body = OpenApiDocument))
)]
pub(super) async fn openapi_json(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
) -> Result<Response, ApiFailure> {
    auth::officer(&s.gate, &peer).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        document(),
    )
        .into_response())
}

/// The schema of the answer of [`openapi_json`]: an OpenAPI 3.1 document. Its full schema is
/// the OpenAPI Specification's own (too large to repeat here, and the validator of
/// `an_independent_validator_accepts_the_description` checks against it); this names the
/// version and the members every such document has.
struct OpenApiDocument;

impl utoipa::PartialSchema for OpenApiDocument {
    fn schema() -> RefOr<Schema> {
        let object = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(description))
        };
        object("An OpenAPI 3.1 document: this API's description")
            .property(
                "openapi",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^3\.1\.[0-9]+$")),
            )
            .property("info", object("Title, description and version of the API"))
            .property("paths", object("The operations, by path and method"))
            .property(
                "components",
                object("Schemas of the bodies and the security schemes"),
            )
            .required("openapi")
            .required("info")
            .required("paths")
            .into()
    }
}

impl utoipa::ToSchema for OpenApiDocument {}

/// Adds the security schemes and the refusals of the shared checks to every operation.
struct SharedChecks;

impl Modify for SharedChecks {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.schemas.insert(
            "ApiError".into(),
            <ApiError as utoipa::PartialSchema>::schema(),
        );
        components.add_security_scheme(
            TLS_SCHEME,
            SecurityScheme::MutualTls {
                description: Some(
                    "TLS client certificate of a registered, unrevoked officer (looked up by \
                     the SHA-256 of its DER)."
                        .into(),
                ),
                extensions: None,
            },
        );
        components.add_security_scheme(
            SIGNATURE_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                SIGNATURE_HEADER.to_string(),
                format!(
                    "Base64 signature, with the key of the TLS client certificate, over the \
                     bytes \"keyward-request-v1\\n\" + request path + \"\\n\" + exact body. \
                     Bodies are JSON with request_id, timestamp (within {} s of the server \
                     clock) and a nonce used once.",
                    keyward_proto::MAX_CLOCK_SKEW_SECS
                ),
            ))),
        );
        for item in doc.paths.paths.values_mut() {
            if let Some(op) = item.get.as_mut() {
                op.security = Some(vec![SecurityRequirement::new::<_, [&str; 0], &str>(
                    TLS_SCHEME,
                    [],
                )]);
                if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                    add_refusals(op, QUERY_REFUSALS);
                }
                add_refusals(op, READ_REFUSALS);
            }
            if let Some(op) = item.post.as_mut() {
                op.security = Some(vec![SecurityRequirement::new::<_, [&str; 0], &str>(
                    TLS_SCHEME,
                    [],
                )
                .add::<_, [&str; 0], &str>(SIGNATURE_SCHEME, [])]);
                add_refusals(op, SIGNED_REFUSALS);
            }
        }
    }
}

/// Refusals of every request, as (status, description), each an `ApiError` (a role refusal,
/// 403, is listed by the handlers that check one).
const READ_REFUSALS: &[(u16, &str)] = &[
    (
        401,
        "`unauthenticated`: no client certificate, or not a registered, unrevoked officer",
    ),
    (
        500,
        "`internal`: the server failed (details are in its log, not here)",
    ),
];

/// Refusals of every GET that takes parameters, when the handler does not describe its own.
const QUERY_REFUSALS: &[(u16, &str)] = &[(
    400,
    "`invalid`: a query parameter of the wrong type, or a required one missing (field named)",
)];

/// Refusals of every signed POST (those of [`READ_REFUSALS`] included).
const SIGNED_REFUSALS: &[(u16, &str)] = &[
    (401, "`unauthenticated`, or `bad-signature` (field `signature`): no, a malformed or a wrong officer signature"),
    (403, "`forbidden`: the officer lacks the role this needs"),
    (400, "`invalid`: a body that is not JSON of this request (field named), a stale timestamp, a malformed nonce"),
    (409, "`conflict` (field `nonce`): a replayed request"),
    (408, "`timeout` (field `body`): the body did not arrive within the server's body timeout"),
    (413, "`too-large` (field `body`, audited): the body is larger than the server reads"),
    (415, "`unsupported-media-type` (field `Content-Type`): the body is not sent as application/json"),
    (500, "`internal`: the server failed (details are in its log, not here)"),
];

/// Adds each refusal the handler did not describe itself.
fn add_refusals(op: &mut utoipa::openapi::path::Operation, refusals: &[(u16, &str)]) {
    for &(status, text) in refusals {
        let text = if status == 413 {
            format!("{text}: at most {MAX_BODY_BYTES} bytes")
        } else {
            text.to_string()
        };
        let response = ResponseBuilder::new().description(text).content(
            "application/json",
            Content::new(Some(RefOr::Ref(Ref::from_schema_name("ApiError")))),
        );
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(response.build()));
    }
}

#[cfg(test)]
mod tests;
