//! Request nonces: each signed request's nonce is remembered for the freshness window, in the
//! database, so that a replay is refused whichever server node it reaches. The SHA-256 of the
//! request body is kept beside it, so that a byte-identical resend (a retry of the same signed
//! request) can be told from a nonce reused with other bytes.

use std::sync::atomic::Ordering;

use sqlx::Row;

use crate::{now, Store, StoreError};

/// How often (seconds) a process forgets nonces older than the freshness window (more often
/// when the window is shorter).
const PRUNE_EVERY_SECS: i64 = 60;

/// What [`Store::check_nonce`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceSight {
    /// Not seen before; now remembered.
    New,
    /// Seen before with the same officer and the same body hash: the very same signed bytes
    /// sent again (a retry, or a replay of them).
    SameRequest,
    /// Seen before with another officer or other bytes (or without a body hash).
    Replayed,
}

impl Store {
    /// Remembers `nonce` (sent by `officer`); `false` if it was seen already, i.e. a replay.
    /// Nonces older than `keep_secs` are forgotten (by each process at most once a minute, or
    /// every `keep_secs` if shorter): requests that old are refused for their timestamp anyway.
    pub async fn remember_nonce(
        &self,
        nonce: &str,
        officer: &str,
        keep_secs: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.check_nonce(nonce, officer, None, keep_secs).await? == NonceSight::New)
    }

    /// Remembers `nonce` with the SHA-256 (hex) of the request body it came with, and tells
    /// whether it is new, the same signed request again, or a replay. Nonces older than
    /// `keep_secs` are forgotten as in [`Store::remember_nonce`].
    pub async fn check_nonce(
        &self,
        nonce: &str,
        officer: &str,
        body_sha256: Option<&str>,
        keep_secs: i64,
    ) -> Result<NonceSight, StoreError> {
        let now = now();
        let turn = self.writer_turn().await;
        // Forgetting old nonces is housekeeping: at most once a minute per process, not per
        // request (a nonce kept longer only makes a too-old request a replay, not a stale one).
        let every = PRUNE_EVERY_SECS.min(keep_secs.max(0));
        let last = self.nonces_pruned_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= every
            && self
                .nonces_pruned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            sqlx::query("DELETE FROM request_nonces WHERE seen_at < $1")
                .bind(now.saturating_sub(keep_secs))
                .execute(&self.pool)
                .await?;
        }
        let hash = body_sha256.map(str::to_ascii_lowercase);
        // One statement, no explicit transaction: on PostgreSQL a unique violation would
        // abort a surrounding transaction.
        let inserted = sqlx::query(
            "INSERT INTO request_nonces (nonce, officer, seen_at, body_sha256) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(nonce)
        .bind(officer)
        .bind(now)
        .bind(hash.as_deref())
        .execute(&self.pool)
        .await;
        drop(turn);
        match inserted {
            Ok(_) => Ok(NonceSight::New),
            Err(e) if StoreError::is_unique_violation(&e) => {
                let Some(hash) = hash else {
                    return Ok(NonceSight::Replayed);
                };
                let seen =
                    sqlx::query("SELECT officer, body_sha256 FROM request_nonces WHERE nonce = $1")
                        .bind(nonce)
                        .fetch_optional(&self.pool)
                        .await?;
                let same = match seen {
                    Some(row) => {
                        let by: String = row.try_get("officer")?;
                        let body: Option<String> = row.try_get("body_sha256")?;
                        by == officer && body.as_deref() == Some(hash.as_str())
                    }
                    None => false,
                };
                Ok(if same {
                    NonceSight::SameRequest
                } else {
                    NonceSight::Replayed
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}
