//! `POST /ocsp` and `GET /ocsp/{base64}` (RFC 6960 appendix A.1, RFC 5019 §5): plain HTTP, for
//! the public listener. Every OCSP answer, error responses included, is `200` with an
//! `application/ocsp-response` body; HTTP errors only for what is not an OCSP request at all.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use keyward_ocsp::{decode_get_path, error_response, Reply};

use super::OcspService;

/// Largest POST body read (RFC 5019 requests are a few hundred bytes).
pub const MAX_POST_BYTES: usize = 64 * 1024;

const REQUEST_TYPE: &str = "application/ocsp-request";
const RESPONSE_TYPE: &str = "application/ocsp-response";

/// The OCSP routes, to merge into the public listener's router.
pub fn ocsp_router(service: Arc<OcspService>) -> Router {
    Router::new()
        .route("/ocsp", post(by_post))
        .route("/ocsp/{*request}", get(by_get))
        .layer(DefaultBodyLimit::max(MAX_POST_BYTES))
        .with_state(service)
}

async fn by_post(
    State(service): State<Arc<OcspService>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if content_type.as_deref() != Some(REQUEST_TYPE) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be {REQUEST_TYPE}\n"),
        )
            .into_response();
    }
    let reply = service.respond(&body, SystemTime::now()).await;
    // POST answers are not cacheable by HTTP caches (RFC 5019 §5): no cache headers.
    ocsp_response(reply, false)
}

async fn by_get(State(service): State<Arc<OcspService>>, uri: Uri) -> Response {
    // The raw segment (percent-encoded as sent): decode_get_path decodes it within its bounds.
    let segment = uri.path().strip_prefix("/ocsp/").unwrap_or_default();
    let reply = match decode_get_path(segment) {
        Ok(der) => service.respond(&der, SystemTime::now()).await,
        Err(e) => Reply {
            der: error_response(e.status()),
            status: e.status(),
            cache: None,
            from_cache: false,
        },
    };
    ocsp_response(reply, true)
}

fn ocsp_response(reply: Reply, cache_headers: bool) -> Response {
    let mut response = (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(RESPONSE_TYPE),
        )],
        reply.der,
    )
        .into_response();
    if let (true, Some(facts)) = (cache_headers, reply.cache) {
        let headers = response.headers_mut();
        for (name, value) in facts.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
    response
}
