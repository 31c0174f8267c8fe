//! Request bodies are read whole, here, before any handler runs: at most
//! [`MAX_BODY_BYTES`](keyward_proto::MAX_BODY_BYTES), within `server.body-timeout`. Over the
//! limit is 413 `too-large` (audited), too slow is 408 `timeout`, both as JSON
//! ([`keyward_proto::ApiError`]) on HTTP/1.1 and HTTP/2 alike.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode, Version};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::json;

use keyward_proto::MAX_BODY_BYTES;
use keyward_store::AuditCategory;

use super::serve::Connections;
use super::stats::ConnectionStats;
use super::{ApiFailure, PeerCertificate};
use crate::config::ConnectionLimits;
use crate::service::{Refusal, Services};

/// Why a body was not read.
enum Unread {
    /// Over [`MAX_BODY_BYTES`]: declared so (`Some(Content-Length)`) or found so while reading.
    TooLarge(Option<u64>),
    /// Not all there within the body timeout.
    TooSlow,
    /// The client broke off or sent malformed framing.
    Broken(String),
}

/// The middleware: reads the body, then hands the request on with the bytes in place.
pub(super) async fn read_whole(
    State(services): State<Arc<Services>>,
    request: Request,
    next: Next,
) -> Response {
    let connections = request.extensions().get::<Connections>().cloned();
    let timeout = connections
        .as_ref()
        .map_or(ConnectionLimits::default().body_timeout, |c| {
            c.limits.body_timeout
        });
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = Some(body);
    let read = match (declared, body.as_mut()) {
        (Some(n), _) if n > MAX_BODY_BYTES as u64 => Err(Unread::TooLarge(Some(n))),
        (_, Some(body)) => match tokio::time::timeout(timeout, collect(body)).await {
            Ok(read) => read,
            Err(_) => Err(Unread::TooSlow),
        },
        (_, None) => Ok(Bytes::new()),
    };
    let too_large = matches!(read, Err(Unread::TooLarge(_)));
    let failure = match read {
        Ok(bytes) => {
            drop(body);
            return next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
        }
        Err(Unread::TooLarge(declared)) => {
            let message = format!("the request body is larger than {MAX_BODY_BYTES} bytes");
            if let Some(c) = &connections {
                ConnectionStats::count(&c.stats.too_large);
            }
            let peer = parts.extensions.get::<PeerCertificate>();
            audit_too_large(&services, peer, parts.uri.path(), declared, &message).await;
            ApiFailure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                Some("body".into()),
                message,
            )
        }
        Err(Unread::TooSlow) => {
            if let Some(c) = &connections {
                ConnectionStats::count(&c.stats.body_timeouts);
            }
            ApiFailure::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                Some("body".into()),
                format!(
                    "the request body did not arrive within {} s",
                    timeout.as_secs()
                ),
            )
        }
        Err(Unread::Broken(reason)) => ApiFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            Some("body".into()),
            format!("the request body could not be read: {reason}"),
        ),
    };
    let mut response = failure.into_response();
    if parts.version <= Version::HTTP_11 {
        // The rest of the body is left unread: the connection cannot carry another request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    } else {
        // HTTP/2: dropping the unread request body resets the stream at once, and clients
        // (curl) then drop the answer too. Kept until the answer has been sent, the reset
        // comes after it (RFC 9113 8.1: a complete response, then RST_STREAM).
        // Better still, the rest is read and dropped first (up to DRAIN_BYTES, within the
        // body timeout): the stream then ends as the client meant it to, and the answer is
        // read by every client.
        if let (Some(rest), true) = (body.as_mut(), too_large) {
            let _ = tokio::time::timeout(timeout, drain(rest)).await;
        }
        let (parts, answer) = response.into_parts();
        let held = Held {
            answer,
            _request: body,
        };
        Response::from_parts(parts, Body::new(held))
    }
}

/// How much of an oversized HTTP/2 body is read (and dropped) before the 413 is sent.
const DRAIN_BYTES: usize = 64 * MAX_BODY_BYTES;

/// Reads and drops the rest of a body, up to [`DRAIN_BYTES`].
async fn drain(body: &mut Body) {
    let mut seen = 0;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, Bytes::len);
        if seen > DRAIN_BYTES {
            return;
        }
    }
}

/// A response body that holds the request's unread body until the response is sent.
struct Held {
    answer: Body,
    _request: Option<Body>,
}

impl hyper::body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        std::pin::Pin::new(&mut self.answer).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.answer.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.answer.size_hint()
    }
}

/// Reads the body's data frames, refusing as soon as they pass [`MAX_BODY_BYTES`].
async fn collect(body: &mut Body) -> Result<Bytes, Unread> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Unread::Broken(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > MAX_BODY_BYTES {
                return Err(Unread::TooLarge(None));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(bytes))
}

/// Audits a refused oversized body under the officer the TLS certificate names (if it is one).
async fn audit_too_large(
    services: &Services,
    peer: Option<&PeerCertificate>,
    path: &str,
    declared: Option<u64>,
    message: &str,
) {
    let fingerprint = peer.and_then(|p| p.0.as_ref()).map(|p| p.fingerprint());
    let officer = match fingerprint {
        Some(fp) => services.gate.officer(fp).await.ok().flatten(),
        None => None,
    };
    services
        .gate
        .audit_refusal(
            AuditCategory::Authentication,
            "read-body",
            officer.as_ref().map(|o| o.name.as_str()),
            &Refusal::invalid("body", message),
            json!({
                "path": path.chars().take(200).collect::<String>(),
                "declared_bytes": declared,
                "limit_bytes": MAX_BODY_BYTES,
                "certificate_sha256": fingerprint,
            }),
        )
        .await;
}
