//! Counters of the API listener's connections and refusals, and warnings about them at most
//! once per interval per cause: a flood of bad connections costs a counter increment each, not
//! a log line each.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the API listener has seen since it started, per cause of refusal. Plain counters, read
/// with `load(Ordering::Relaxed)` (by tests; `open` by the metrics scrape too); `open` goes up
/// and down, everything else only up.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// TCP connections accepted (including those then closed over the cap).
    pub accepted: AtomicU64,
    /// Connections being served now (past the cap check, not yet closed).
    pub open: AtomicU64,
    /// Connections closed at once because `server.max-connections` were open.
    pub over_capacity: AtomicU64,
    /// Failed `accept` calls (e.g. EMFILE: too many open files).
    pub accept_errors: AtomicU64,
    /// TLS handshakes not finished within `server.header-timeout`.
    pub handshake_timeouts: AtomicU64,
    /// Handshakes refused: the client sent no certificate.
    pub no_certificate: AtomicU64,
    /// Handshakes refused: the client certificate does not verify (unknown issuer, expired,
    /// no clientAuth, bad signature, unparsable).
    pub bad_certificate: AtomicU64,
    /// Handshakes refused: the certificate verifies but is not an officer's (an end user's).
    pub not_an_officer: AtomicU64,
    /// Handshakes that failed otherwise (not TLS, no shared version or cipher suite, closed
    /// half-way).
    pub tls_other: AtomicU64,
    /// Connections closed because a request's headers did not arrive within
    /// `server.header-timeout`.
    pub header_timeouts: AtomicU64,
    /// Requests answered 408 because their body did not arrive within `server.body-timeout`.
    pub body_timeouts: AtomicU64,
    /// Requests answered 413: a body over the limit.
    pub too_large: AtomicU64,
    /// Connections closed after `server.idle-timeout` without a request in progress.
    pub idle_closed: AtomicU64,
}

impl ConnectionStats {
    /// Adds one to `counter`.
    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// How often at most one cause is warned about.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Warnings at most once per [`WARN_INTERVAL`] per cause; the next line says how many were
/// left out in between.
#[derive(Debug, Default)]
pub(crate) struct Throttled {
    last: Mutex<HashMap<&'static str, (Instant, u64)>>,
}

impl Throttled {
    /// Logs `line()` at WARN unless `cause` was logged less than an interval ago (then only
    /// counts it). `line` is only called when the line is written.
    pub(crate) fn warn(&self, cause: &'static str, line: impl FnOnce() -> String) {
        if let Some(left_out) = self.due(cause, Instant::now()) {
            let line = line();
            if left_out == 0 {
                tracing::warn!("{line}");
            } else {
                tracing::warn!(
                    "{line} ({left_out} more {cause} in the last {} s not logged)",
                    WARN_INTERVAL.as_secs()
                );
            }
        }
    }

    /// `Some(left out since the last line)` when a line about `cause` is due at `now`.
    fn due(&self, cause: &'static str, now: Instant) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match last.get_mut(cause) {
            Some((at, left_out)) if now.duration_since(*at) < WARN_INTERVAL => {
                *left_out += 1;
                None
            }
            Some((at, left_out)) => {
                let n = *left_out;
                (*at, *left_out) = (now, 0);
                Some(n)
            }
            None => {
                last.insert(cause, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_per_cause_with_the_count() {
        let t = Throttled::default();
        let start = Instant::now();
        assert_eq!(t.due("a", start), Some(0));
        for _ in 0..1730 {
            assert_eq!(t.due("a", start + Duration::from_secs(1)), None);
        }
        assert_eq!(t.due("b", start), Some(0), "causes are throttled apart");
        assert_eq!(t.due("a", start + WARN_INTERVAL), Some(1730));
        assert_eq!(t.due("a", start + WARN_INTERVAL), None);
    }
}
