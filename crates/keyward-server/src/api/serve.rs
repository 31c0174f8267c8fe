//! The accept loop: TCP, the TLS handshake, and HTTP/1.1 or HTTP/2 per connection, within
//! the connection limits of cm.conf (`server.header-timeout`, `-body-timeout`, `-idle-timeout`,
//! `-max-connections`).

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::Extension;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::stats::{ConnectionStats, Throttled};
use super::{router, PeerCertificate};
use crate::config::ConnectionLimits;
use crate::metrics::{HandshakeFailure, Metrics};
use crate::service::Services;

/// What the accept loop shares with every connection it serves: the limits and the counters.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    /// The limits (cm.conf `server.*`).
    pub limits: ConnectionLimits,
    /// The counters, for whoever reports them.
    pub stats: Arc<ConnectionStats>,
    warnings: Arc<Throttled>,
    /// Where failed handshakes are also counted, by cause, when there are metrics.
    metrics: Option<Arc<Metrics>>,
}

impl Connections {
    /// Connections within `limits`, with fresh counters.
    pub fn new(limits: ConnectionLimits) -> Connections {
        Connections {
            limits,
            ..Default::default()
        }
    }

    /// Also counts failed handshakes in `metrics`.
    pub fn with_metrics(self, metrics: Option<Arc<Metrics>>) -> Connections {
        Connections { metrics, ..self }
    }

    /// Counts a refusal under `counter` and warns about it, at most once an interval per cause.
    pub(crate) fn refused(
        &self,
        counter: fn(&ConnectionStats) -> &AtomicU64,
        cause: &'static str,
        line: impl FnOnce() -> String,
    ) {
        ConnectionStats::count(counter(&self.stats));
        self.warnings.warn(cause, line);
    }

    /// Counts a failed handshake in the metrics, if there are any.
    fn handshake_failed(&self, cause: HandshakeFailure) {
        if let Some(m) = &self.metrics {
            m.handshake_failed(cause);
        }
    }
}

/// How long an idle connection being closed gets to say goodbye.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The longest pause after failed accepts (they fail in a loop when file descriptors run out).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    services: Arc<Services>,
    connections: Connections,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let app = router(services);
    let slots = Arc::new(Semaphore::new(connections.limits.max_connections));
    let mut backoff = Duration::ZERO;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Growing pauses: the loop would otherwise spin (and log) as fast as accept
                // fails, starving the connections being served.
                backoff = (backoff * 2).clamp(Duration::from_millis(10), MAX_ACCEPT_BACKOFF);
                connections.refused(
                    |s| &s.accept_errors,
                    "accept failures",
                    || format!("accept failed: {e}; pausing {} ms", backoff.as_millis()),
                );
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(backoff) => continue,
                }
            }
        };
        backoff = Duration::ZERO;
        ConnectionStats::count(&connections.stats.accepted);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Closed at once (dropping it) rather than left waiting: a waiting connection
            // still holds a file descriptor, and its client learns nothing.
            drop(tcp);
            let max = connections.limits.max_connections;
            connections.refused(
                |s| &s.over_capacity,
                "connections over the cap",
                || format!("connection from {remote} closed: {max} connections open (server.max-connections)"),
            );
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let connections = connections.clone();
        tokio::spawn(async move {
            connections.stats.open.fetch_add(1, Ordering::Relaxed);
            serve_connection(tcp, remote, acceptor, app, &connections).await;
            connections.stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
        });
    }
}

/// One connection: the TLS handshake within the header timeout, then HTTP (HTTP/2 when the
/// client chose `h2` by ALPN, else HTTP/1.1) until the client closes, a timeout closes it, or
/// it idles for the idle timeout.
async fn serve_connection(
    tcp: TcpStream,
    remote: std::net::SocketAddr,
    acceptor: TlsAcceptor,
    app: axum::Router,
    connections: &Connections,
) {
    let limits = connections.limits;
    let tls = match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            handshake_refused(connections, remote, &e);
            return;
        }
        Err(_) => {
            connections.handshake_failed(HandshakeFailure::Timeout);
            connections.refused(
                |s| &s.handshake_timeouts,
                "handshake timeouts",
                || format!("TLS handshake with {remote} timed out"),
            );
            return;
        }
    };
    let peer = PeerCertificate::from_connection(tls.get_ref().1);
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let activity = Arc::new(Activity::new());
    let app = app
        .layer(Extension(peer))
        .layer(Extension(connections.clone()));
    let tracked = activity.clone();
    let service = tower::service_fn(move |request: Request<hyper::body::Incoming>| {
        let busy = tracked.begin();
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(axum::body::Body::new)).await;
            drop(busy);
            response
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle_timeout)
        .keep_alive_timeout(limits.header_timeout);
    let builder = if h2 {
        builder.http2_only()
    } else {
        builder.http1_only()
    };
    let conn = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = activity.idle(limits.idle_timeout) => {
            ConnectionStats::count(&connections.stats.idle_closed);
            tracing::debug!("closing idle connection with {remote}");
            conn.as_mut().graceful_shutdown();
            // The last answer left more than the idle timeout ago: a moment for the GOAWAY
            // (or to finish writing to a client that does not read), then it is dropped. An
            // HTTP/2 connection still waiting for its preface would otherwise wait for ever.
            tokio::time::timeout(IDLE_CLOSE_GRACE, conn.as_mut())
                .await
                .unwrap_or(Ok(()))
        }
    };
    if let Err(e) = ended {
        let timed_out = e
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout);
        if timed_out {
            connections.refused(
                |s| &s.header_timeouts,
                "header timeouts",
                || format!("connection with {remote} closed: request headers not received within {} s (server.header-timeout)", limits.header_timeout.as_secs()),
            );
        } else {
            tracing::debug!("connection with {remote} ended: {e}");
        }
    }
}

/// Counts and warns about a refused TLS handshake, by cause.
fn handshake_refused(connections: &Connections, remote: std::net::SocketAddr, e: &std::io::Error) {
    let tls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let not_an_officer = tls_error.is_some_and(crate::tls::is_not_an_officer);
    type Counter = fn(&ConnectionStats) -> &AtomicU64;
    let (counter, cause, failure): (Counter, &'static str, _) = match tls_error {
        _ if not_an_officer => (
            |s| &s.not_an_officer,
            "refusals of non-officer certificates",
            HandshakeFailure::NotAnOfficer,
        ),
        Some(rustls::Error::NoCertificatesPresented) => (
            |s| &s.no_certificate,
            "handshakes without a certificate",
            HandshakeFailure::NoCertificate,
        ),
        Some(rustls::Error::InvalidCertificate(_)) => (
            |s| &s.bad_certificate,
            "refusals of bad certificates",
            HandshakeFailure::BadCertificate,
        ),
        _ => (
            |s| &s.tls_other,
            "failed handshakes",
            HandshakeFailure::Other,
        ),
    };
    connections.handshake_failed(failure);
    connections.refused(counter, cause, || {
        if not_an_officer {
            let reason = crate::tls::NotAnOfficerCertificate;
            format!("TLS handshake with {remote} refused: {reason}")
        } else {
            format!("TLS handshake with {remote} refused: {e}")
        }
    });
}

/// Whether a connection has a request in progress, and since when it has had none.
struct Activity {
    started: Instant,
    in_progress: AtomicUsize,
    /// Milliseconds from `started` to the end of the last request (0: none yet).
    last_done_ms: AtomicU64,
}

/// A request in progress; its drop marks the end.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let ms = self.0.started.elapsed().as_millis();
        self.0
            .last_done_ms
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.0.in_progress.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Activity {
    fn new() -> Activity {
        Activity {
            started: Instant::now(),
            in_progress: AtomicUsize::new(0),
            last_done_ms: AtomicU64::new(0),
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_progress.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// Completes once the connection has had no request in progress for `limit`. Bytes that
    /// make no complete request (a slow trickle of headers, on HTTP/2 too) do not count as
    /// activity.
    async fn idle(&self, limit: Duration) {
        loop {
            let quiet_since =
                self.started + Duration::from_millis(self.last_done_ms.load(Ordering::Relaxed));
            let quiet_for = quiet_since.elapsed();
            if self.in_progress.load(Ordering::Relaxed) > 0 {
                tokio::time::sleep(limit).await;
            } else if quiet_for >= limit {
                return;
            } else {
                tokio::time::sleep(limit - quiet_for).await;
            }
        }
    }
}
