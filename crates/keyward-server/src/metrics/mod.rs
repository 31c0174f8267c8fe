//! Prometheus metrics of `keyward server --metrics-listen` (cm.conf `metrics.listen`): one
//! [`Metrics`] value with typed families, created once at start and shared (`Arc`) with the
//! places where things happen: the API router (requests), the accept loop (handshakes), the
//! issuance service (tokens, latency, database time) and the audit sealer. Gauges of state
//! kept elsewhere (open connections, key pools, the PIN mail queue) are read when scraped
//! ([`listener::Scraper`]). Every label is bounded (see [`families`]); without the setting no
//! `Metrics` exists and nothing is counted.

use std::future::Future;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

mod families;
pub mod listener;
pub(crate) mod requests;

use families::{
    refusal_reason, CauseLabels, KindLabels, OperationLabels, ProcedureLabels, RefusalLabels,
    RequestLabels, SpecLabels, DB_BUCKETS, ISSUANCE_BUCKETS,
};
pub use families::{DbOperation, HandshakeFailure, REFUSAL_REASONS, UNKNOWN_PROCEDURE, UNMATCHED};

/// The content type of [`Metrics::encode`]'s text: the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type Timings<L> = Family<L, Histogram, fn() -> Histogram>;

/// The server's metric families, registered under the `keyward_` prefix.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    issuance: Histogram,
    issued: Family<ProcedureLabels, Counter>,
    refused: Family<RefusalLabels, Counter>,
    handshake_failures: Family<CauseLabels, Counter>,
    open_connections: Gauge,
    pool_ready: Family<SpecLabels, Gauge>,
    pool_target: Family<SpecLabels, Gauge>,
    db: Timings<OperationLabels>,
    seals: Counter,
    seal_failures: Counter,
    pin_mail_queued: Gauge,
    crls: Family<KindLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every family, registered with its help text; the fixed label sets (handshake causes,
    /// database operations) start at zero so that they are listed before the first event.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("keyward");
        let m = Metrics {
            requests: Family::default(),
            issuance: Histogram::new(ISSUANCE_BUCKETS),
            issued: Family::default(),
            refused: Family::default(),
            handshake_failures: Family::default(),
            open_connections: Gauge::default(),
            pool_ready: Family::default(),
            pool_target: Family::default(),
            db: Family::new_with_constructor(|| Histogram::new(DB_BUCKETS)),
            seals: Counter::default(),
            seal_failures: Counter::default(),
            pin_mail_queued: Gauge::default(),
            crls: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "API requests answered, by route template (unmatched: no route) and HTTP status",
            m.requests.clone(),
        );
        registry.register_with_unit(
            "token_issuance",
            "Time to issue a token, from the verified request to the recorded answer",
            Unit::Seconds,
            m.issuance.clone(),
        );
        registry.register(
            "tokens_issued",
            "Tokens issued, by token procedure",
            m.issued.clone(),
        );
        registry.register(
            "tokens_refused",
            "Token requests refused, by token procedure (unknown: none of the loaded set) and API error code",
            m.refused.clone(),
        );
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes on the API listener that failed, by cause",
            m.handshake_failures.clone(),
        );
        registry.register(
            "open_connections",
            "API connections being served now",
            m.open_connections.clone(),
        );
        registry.register(
            "key_pool_ready_keys",
            "Keys the KRA's key pool holds ready, by key spec",
            m.pool_ready.clone(),
        );
        registry.register(
            "key_pool_target_keys",
            "Keys the KRA's key pool keeps ready when full (cm.conf kra.key-pool), by key spec",
            m.pool_target.clone(),
        );
        registry.register_with_unit(
            "db_transaction",
            "Time of the server's database transactions, by operation",
            Unit::Seconds,
            m.db.clone(),
        );
        registry.register(
            "audit_seals",
            "Seals of the audit log made by this server",
            m.seals.clone(),
        );
        registry.register(
            "audit_seal_failures",
            "Attempts to seal the audit log that failed",
            m.seal_failures.clone(),
        );
        registry.register(
            "pin_mail_queued",
            "PIN mails queued and not yet sent",
            m.pin_mail_queued.clone(),
        );
        registry.register(
            "crls_published",
            "CRLs this server signed and recorded, by kind (full, delta)",
            m.crls.clone(),
        );
        for kind in ["full", "delta"] {
            let _ = m.crls.get_or_create(&KindLabels { kind });
        }
        for cause in HandshakeFailure::ALL {
            let _ = m.handshake_failures.get_or_create(&CauseLabels {
                cause: cause.label(),
            });
        }
        for op in [
            DbOperation::ReadProcedures,
            DbOperation::RecordIssuance,
            DbOperation::CheckNonce,
            DbOperation::AuditRefusal,
        ] {
            let _ = m.db.get_or_create(&OperationLabels {
                operation: op.label(),
            });
        }
        Metrics { registry, ..m }
    }

    /// Counts an answered request: `route` is the router's path template, `None` when no
    /// route matched.
    pub fn request(&self, route: Option<&str>, status: u16) {
        let labels = RequestLabels {
            route: route.unwrap_or(UNMATCHED).to_string(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
    }

    /// Counts a token issued with the token procedure `procedure` (a name of the loaded set)
    /// and records how long it took.
    pub fn token_issued(&self, procedure: &str, took: Duration) {
        let labels = ProcedureLabels {
            procedure: procedure.to_string(),
        };
        self.issued.get_or_create(&labels).inc();
        self.issuance.observe(took.as_secs_f64());
    }

    /// Counts a refused token request: `procedure` is the resolved token procedure (`None`
    /// before one was), `code` the API error code answered.
    pub fn token_refused(&self, procedure: Option<&str>, code: &str) {
        let labels = RefusalLabels {
            procedure: procedure.unwrap_or(UNKNOWN_PROCEDURE).to_string(),
            reason: refusal_reason(code),
        };
        self.refused.get_or_create(&labels).inc();
    }

    /// Counts a failed TLS handshake.
    pub fn handshake_failed(&self, cause: HandshakeFailure) {
        let labels = CauseLabels {
            cause: cause.label(),
        };
        self.handshake_failures.get_or_create(&labels).inc();
    }

    /// Records how long a database operation took.
    pub fn db_time(&self, operation: DbOperation, took: Duration) {
        let labels = OperationLabels {
            operation: operation.label(),
        };
        self.db.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// Counts one attempt to seal the audit log: `Some(true)` sealed, `Some(false)` failed,
    /// `None` nothing new to seal (not counted).
    pub fn audit_seal(&self, sealed: Option<bool>) {
        match sealed {
            Some(true) => {
                self.seals.inc();
            }
            Some(false) => {
                self.seal_failures.inc();
            }
            None => {}
        }
    }

    /// Counts a CRL signed and recorded: `kind` is `full` or `delta`.
    pub fn crl_published(&self, kind: &'static str) {
        self.crls.get_or_create(&KindLabels { kind }).inc();
    }

    /// Sets the open connections gauge.
    pub fn set_open_connections(&self, open: u64) {
        self.open_connections
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// Sets the key pool gauges from a snapshot of the pool.
    pub fn set_key_pool(&self, stats: &keyward_crypto::KeyPoolStats) {
        for s in &stats.specs {
            let labels = SpecLabels {
                spec: s.spec.to_string(),
            };
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            self.pool_ready.get_or_create(&labels).set(count(s.ready));
            self.pool_target.get_or_create(&labels).set(count(s.target));
        }
    }

    /// Sets the PIN mail queue gauge.
    pub fn set_pin_mail_queued(&self, queued: i64) {
        self.pin_mail_queued.set(queued);
    }

    /// Every family in the Prometheus text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; an encoder error would leave a partial text,
        // which a scraper rejects as a whole.
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            tracing::error!("encoding the metrics failed: {e}");
        }
        text
    }
}

/// Runs `operation` and records its time under `what`, when there are metrics.
pub(crate) async fn timed<T>(
    metrics: Option<&Metrics>,
    what: DbOperation,
    operation: impl Future<Output = T>,
) -> T {
    let Some(metrics) = metrics else {
        return operation.await;
    };
    let started = Instant::now();
    let result = operation.await;
    metrics.db_time(what, started.elapsed());
    result
}

#[cfg(test)]
mod tests;
