//! When CRLs are published: a task on every node tries the `crl-publisher` lease once a
//! second; the node holding it publishes a full CRL when none exists or the latest is older
//! than `crl.full-interval` (a delta with it), a delta when `crl.delta-interval` has passed
//! (or its base is not the latest full CRL), and with `crl.on-revoke` a delta as soon as a
//! revocation committed after the latest CRL (a burst of revocations makes one a second) and a
//! full CRL with it once `crl.full-min-gap` has passed since the last full one.

use std::sync::Arc;
use std::time::Duration;

use keyward_store::{CrlFacts, CrlKind};

use super::{CrlError, CrlPublisher};
use crate::config::CrlConfig;

/// The lease every node competes for.
pub const LEASE: &str = "crl-publisher";
/// How long a lease lasts without renewal: a node that dies is replaced after this.
pub const LEASE_TTL: Duration = Duration::from_secs(30);
/// How often the schedule is checked.
const TICK: Duration = Duration::from_secs(1);
/// Ticks to wait after a failure before trying again (errors are logged once per try).
const RETRY_TICKS: u32 = 10;

/// What is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Due {
    /// A full CRL.
    pub full: bool,
    /// A delta CRL.
    pub delta: bool,
}

/// What is due at `now` by `config`, given the latest full and delta CRLs and the last
/// committed revocation change.
pub fn due(
    config: &CrlConfig,
    now: i64,
    full: Option<&CrlFacts>,
    delta: Option<&CrlFacts>,
    change: i64,
) -> Due {
    let older_than = |c: &CrlFacts, d: Duration| {
        now.saturating_sub(c.this_update) >= i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
    };
    let deltas = config.delta_url.is_some();
    let Some(full) = full else {
        return Due {
            full: true,
            delta: deltas,
        };
    };
    let covered = match delta {
        Some(d) if deltas => d.changes_upto.max(full.changes_upto),
        _ => full.changes_upto,
    };
    let revoked = config.on_revoke && change > covered;
    // A revocation the full CRL lacks brings one, but not within the gap after the last
    // (the deltas carry it meanwhile): full CRLs are the costly ones.
    let full_lacks = config.on_revoke && change > full.changes_upto;
    let full_due = older_than(full, config.full_interval)
        || (full_lacks && older_than(full, config.full_min_gap));
    let delta_due = deltas
        && (full_due
            || revoked
            || match delta {
                None => true,
                Some(d) => {
                    d.base_number != Some(full.number) || older_than(d, config.delta_interval)
                }
            });
    Due {
        full: full_due,
        delta: delta_due,
    }
}

/// One check: when this node holds the lease, publishes what is due. Returns what was
/// published (nothing without the lease).
pub async fn tick(publisher: &CrlPublisher, holder: &str, now: i64) -> Result<Due, CrlError> {
    let store = publisher.store();
    if !store.try_lease(LEASE, holder, LEASE_TTL).await? {
        return Ok(Due::default());
    }
    let issuer = publisher.issuer();
    let full = store.latest_crl_facts(issuer, CrlKind::Full).await?;
    let delta = store.latest_crl_facts(issuer, CrlKind::Delta).await?;
    let change = store.revocation_change_number().await?;
    let due = due(
        publisher.config(),
        now,
        full.as_ref(),
        delta.as_ref(),
        change,
    );
    if due.full {
        let p = publisher.publish_full(now).await?;
        tracing::info!(
            "crl: published full CRL {} ({} entries, {} bytes)",
            p.number,
            p.entries,
            p.size
        );
    }
    if due.delta {
        if let Some(p) = publisher.publish_delta(now).await? {
            tracing::info!(
                "crl: published delta CRL {} on {} ({} entries, {} bytes)",
                p.number,
                p.base_number.unwrap_or_default(),
                p.entries,
                p.size
            );
        }
    }
    Ok(due)
}

/// A holder name for this process: random, so that two processes never share a lease.
pub fn random_holder() -> String {
    let mut bytes = [0u8; 12];
    match openssl::rand::rand_bytes(&mut bytes) {
        Ok(()) => format!("node-{}", hex::encode(bytes)),
        // Without randomness the process ID and start time still tell processes apart.
        Err(_) => format!("node-{}-{}", std::process::id(), crate::service::unix_now()),
    }
}

/// Runs the schedule as `holder` (see [`random_holder`]) until dropped (aborted): a tick a
/// second, errors logged and retried after a pause, never ending the server.
pub async fn run(publisher: Arc<CrlPublisher>, holder: String) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pause = 0u32;
    loop {
        interval.tick().await;
        if pause > 0 {
            pause -= 1;
            continue;
        }
        if let Err(e) = tick(&publisher, &holder, crate::service::unix_now()).await {
            tracing::warn!("{e}; trying again in {RETRY_TICKS} s");
            pause = RETRY_TICKS;
        }
    }
}

/// Gives up the lease when this node stops, so that another takes over at once.
pub async fn release(publisher: &CrlPublisher, holder: &str) {
    if let Err(e) = publisher.store().release_lease(LEASE, holder).await {
        tracing::warn!("crl: releasing the {LEASE} lease: {e}");
    }
}
