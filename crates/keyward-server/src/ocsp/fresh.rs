//! Freshness: a revocation committed by any node reaches this node's cache and status index
//! within a second. The store's revocation-change counter is polled; every serial changed since
//! the last poll has its pre-signed responses dropped and its index entry updated.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use keyward_store::StoreError;

use super::OcspService;

/// How often the counter is read: four times a second keeps a revocation out of the cache
/// 250 ms (plus a query) after its commit, for one indexed read each time.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What the poller has seen: the last revocation-change number whose changes it applied.
pub struct Freshness {
    service: Arc<OcspService>,
    seen: i64,
}

impl Freshness {
    /// Starts from the current change number: the cache is empty, nothing to invalidate yet;
    /// the index gets every revocation in force, read after that number (so none falls between).
    pub async fn start(service: Arc<OcspService>) -> Result<Freshness, StoreError> {
        let source = service.source();
        let seen = source.store().revocation_change_number().await?;
        source
            .index()
            .load_revoked(source.store(), source.issuer())
            .await?;
        Ok(Freshness { service, seen })
    }

    /// One poll: invalidates the serials of every change after the last one seen. Returns
    /// how many changes it applied.
    pub async fn poll(&mut self) -> Result<usize, StoreError> {
        let store = self.service.source().store();
        let latest = store.revocation_change_number().await?;
        if latest <= self.seen {
            return Ok(0);
        }
        let mut changes = store.revocation_changes(self.service.source().issuer(), self.seen);
        let mut applied = 0;
        while let Some(entry) = changes.next().await {
            let entry = entry?;
            self.service.source().index().apply(&entry);
            self.service.invalidate(&entry.serial_hex);
            applied += 1;
        }
        // Changes after `latest` that the stream already showed are applied again next time:
        // harmless (an invalidation only drops cached answers).
        self.seen = latest;
        Ok(applied)
    }
}

/// Polls every [`POLL_INTERVAL`] until the task is aborted, and meanwhile fills the status
/// index with the issuer's serials. Start `freshness` before the responder answers its first
/// request, so that no revocation falls between. A database error is logged and retried at the
/// next tick; meanwhile the cache keeps its answers for at most their cache age. A failed fill
/// is logged and not retried: the store answers what the index lacks.
pub async fn keep_fresh(mut freshness: Freshness) {
    let service = freshness.service.clone();
    let fill = async {
        let source = service.source();
        let started = std::time::Instant::now();
        match source.index().fill(source.store(), source.issuer()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "OCSP status index: {n} certificates, {} revoked, loaded in {:.1} s",
                source.index().revoked_len(),
                started.elapsed().as_secs_f64()
            ),
            Err(e) => tracing::warn!("OCSP status index: reading certificates: {e}"),
        }
    };
    let poll = async {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = freshness.poll().await {
                tracing::warn!("OCSP freshness: reading revocation changes: {e}");
            }
        }
    };
    tokio::join!(fill, poll);
}
