//! What the API itself looks up and records before any service sees a request: the officer
//! behind a client certificate, the nonce of a signed request, and the refusals it makes.

use keyward_store::{AuditCategory, NonceSight, Officer};

use super::{audit_refusal, unix_now, Gate, Refusal};
use crate::metrics::{timed, DbOperation};

impl Gate {
    /// The officer (revoked or not) whose certificate has this SHA-256 fingerprint.
    pub async fn officer(&self, fingerprint: &str) -> Result<Option<Officer>, Refusal> {
        self.store
            .officer_by_fingerprint(fingerprint)
            .await
            .map_err(Refusal::internal)
    }

    /// Remembers a signed request's nonce with the hash of its body for `keep_secs` (see
    /// [`keyward_store::Store::check_nonce`]) and says whether it was seen before.
    pub async fn check_nonce(
        &self,
        nonce: &str,
        officer: &str,
        body_sha256: Option<&str>,
        keep_secs: i64,
    ) -> Result<NonceSight, Refusal> {
        let check = self
            .store
            .check_nonce(nonce, officer, body_sha256, keep_secs);
        timed(self.metrics.as_deref(), DbOperation::CheckNonce, check)
            .await
            .map_err(Refusal::internal)
    }

    /// Clears recorded answers older than `keep_secs` (see
    /// [`keyward_store::Store::prune_request_answers`]), at most once a minute per process.
    pub async fn prune_answers_if_due(&self, keep_secs: i64) {
        use std::sync::atomic::Ordering;
        let now = unix_now();
        let last = self.answers_pruned_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < 60
            || self
                .answers_pruned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Err(e) = self.store.prune_request_answers(keep_secs).await {
            tracing::warn!("could not clear old recorded answers: {e}");
        }
    }

    /// Writes a failure audit record; if even that fails, the refusal still stands and the
    /// failure is logged.
    pub async fn audit_refusal(
        &self,
        category: AuditCategory,
        action: &str,
        officer: Option<&str>,
        refusal: &Refusal,
        detail: serde_json::Value,
    ) {
        let audit = audit_refusal(&self.store, category, action, officer, refusal, detail);
        timed(self.metrics.as_deref(), DbOperation::AuditRefusal, audit).await;
    }
}
