//! The metrics listener: plain HTTP/1.1 on its own socket (cm.conf `metrics.listen`), `GET
//! /metrics` only (404 otherwise), one request per connection, a few connections at a time,
//! headers within a short timeout: a scraper's endpoint, not a second API.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::{Metrics, CONTENT_TYPE};
use crate::api::ConnectionStats;
use crate::service::Services;

/// The path served.
pub const METRICS_PATH: &str = "/metrics";

/// Time for a request's headers to arrive.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for a whole connection, scrape included.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections served at once; more are closed when accepted.
const MAX_CONNECTIONS: usize = 8;
/// The read buffer, and so the largest request head (hyper's smallest allowed).
const MAX_REQUEST_BYTES: usize = 8192;
/// Pause after a failed accept (file descriptors run out), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a scrape reads besides the counters: the state kept elsewhere, turned into gauges.
pub struct Scraper {
    metrics: Arc<Metrics>,
    connections: Arc<ConnectionStats>,
    services: Arc<Services>,
}

impl Scraper {
    /// A scraper of `metrics`, reading the API listener's `connections`, and the key pool
    /// and PIN mail queue of `services`.
    pub fn new(
        metrics: Arc<Metrics>,
        connections: Arc<ConnectionStats>,
        services: Arc<Services>,
    ) -> Scraper {
        Scraper {
            metrics,
            connections,
            services,
        }
    }

    /// Sets the gauges from their sources, then encodes every family.
    pub async fn scrape(&self) -> String {
        use std::sync::atomic::Ordering;
        self.metrics
            .set_open_connections(self.connections.open.load(Ordering::Relaxed));
        if let Some(pool) = self.services.issuance.key_pool() {
            self.metrics.set_key_pool(&pool.stats());
        }
        match self.services.pins.queued_mail_count().await {
            Ok(n) => self.metrics.set_pin_mail_queued(n),
            // The gauge keeps its last value; the scrape still answers.
            Err(e) => tracing::warn!("metrics: counting the PIN mail queue failed: {e}"),
        }
        self.metrics.encode()
    }
}

/// Serves [`METRICS_PATH`] on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    scraper: Arc<Scraper>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                tracing::debug!("metrics listener: accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // dropped: closed at once
        };
        let scraper = scraper.clone();
        tokio::spawn(async move {
            let service = tower::service_fn(move |request: Request<hyper::body::Incoming>| {
                let scraper = scraper.clone();
                async move { Ok::<_, Infallible>(answer(&scraper, &request).await) }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_REQUEST_BYTES)
                .keep_alive(false);
            let builder = builder.http1_only();
            let conn =
                builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
            if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await {
                tracing::debug!("metrics listener: connection ended: {e}");
            }
            drop(slot);
        });
    }
}

/// The answer to one request: the metrics for `GET /metrics`, 404 for anything else. The
/// request's body is never read.
async fn answer<B>(scraper: &Scraper, request: &Request<B>) -> Response<Body> {
    if request.method() != Method::GET || request.uri().path() != METRICS_PATH {
        return plain(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n".into(),
        );
    }
    let text = scraper.scrape().await;
    plain(StatusCode::OK, CONTENT_TYPE, text.into())
}

fn plain(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}
