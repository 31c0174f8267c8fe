//! The public listener's socket loop: plain HTTP/1.1 for relying parties (CRL fetchers, OCSP
//! clients), unauthenticated, so every size, time and count is bounded. Keep-alive is allowed
//! (OCSP clients reuse connections), each request's head within a timeout, each connection
//! within a longer one.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::{not_found, plain};

/// The public listener's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicLimits {
    /// Time for each request's head to arrive (and, kept alive, for the next one to start).
    pub header_timeout: Duration,
    /// Time for a whole connection, all its requests included.
    pub connection_timeout: Duration,
    /// Connections served at once; more are closed when accepted.
    pub max_connections: usize,
    /// The read buffer, and so the largest request head (hyper's smallest allowed: 8 KiB).
    pub max_head_bytes: usize,
    /// The largest request body (an OCSP POST); larger ones get 413.
    pub max_body_bytes: usize,
}

impl Default for PublicLimits {
    fn default() -> Self {
        PublicLimits {
            header_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(60),
            max_connections: 256,
            max_head_bytes: 8192,
            max_body_bytes: 64 * 1024,
        }
    }
}

/// hyper's smallest read buffer (it refuses less).
const MIN_BUF: usize = 8192;
/// Pause after a failed accept (file descriptors run out), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` within `limits` until `shutdown` completes. Paths the
/// router does not know get a plain-text 404.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: PublicLimits,
    shutdown: impl Future<Output = ()>,
) {
    let router = router.fallback(not_found);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                tracing::debug!("public listener: accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // dropped: closed at once
        };
        let router = router.clone();
        tokio::spawn(async move {
            let max_body = limits.max_body_bytes;
            let service = tower::service_fn(move |request: Request<hyper::body::Incoming>| {
                let router = router.clone();
                answer(router, request, max_body)
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(limits.max_head_bytes.max(MIN_BUF))
                .keep_alive(true);
            let builder = builder.http1_only();
            let conn =
                builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
            if let Ok(Err(e)) = tokio::time::timeout(limits.connection_timeout, conn).await {
                tracing::debug!("public listener: connection ended: {e}");
            }
            drop(slot);
        });
    }
}

/// Answers `request` with `router`, its body bounded to `max` octets: refused at once (413)
/// by its Content-Length, else cut off while it is read (axum's extractors then answer 413).
async fn answer(
    router: Router,
    request: Request<hyper::body::Incoming>,
    max: usize,
) -> Result<Response<Body>, Infallible> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        // The oversized body is never read.
        return Ok(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        ));
    }
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, max)));
    router.oneshot(request).await
}
