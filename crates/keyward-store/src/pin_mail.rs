//! The PIN mail queue: a PIN queued with its issuance (see [`Store::record_token`] and
//! [`PinRecord::QueueMail`](crate::PinRecord::QueueMail)), delivered by the Secure Printer,
//! then deleted (`sealed` set to NULL).
//!
//! `queued` → `delivered`, or → `failed` after too many attempts; an officer may queue a
//! failed mail again. A failed attempt below the limit leaves the mail `queued` (with its
//! attempts counted and `last_error` set) for the next run; delivery clears `last_error` (every
//! attempt's reason stays in the audit log). The store keeps only the KRA's envelope of the
//! PIN, as opaque bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::search::row_limit;
use crate::types::{AuditCategory, NewAudit, Outcome, SealedLen};
use crate::{audit, now, ConflictOn, Store, StoreError};

/// How a PIN mail is delivered, stored as `smtp` / `print`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinDelivery {
    /// Sent over SMTP; the recipient is an e-mail address.
    Smtp,
    /// Printed and posted; the recipient is postal text.
    Print,
}

impl PinDelivery {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PinDelivery::Smtp => "smtp",
            PinDelivery::Print => "print",
        }
    }
}

impl fmt::Display for PinDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PinDelivery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "smtp" => Ok(PinDelivery::Smtp),
            "print" => Ok(PinDelivery::Print),
            _ => Err(format!("unknown PIN delivery {s:?}")),
        }
    }
}

/// Where a PIN mail is, stored as `queued` / `delivered` / `failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinMailState {
    /// Waiting for (another) delivery attempt.
    Queued,
    /// Delivered; the PIN envelope is deleted.
    Delivered,
    /// Given up after too many attempts; an officer may queue it again.
    Failed,
}

impl PinMailState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PinMailState::Queued => "queued",
            PinMailState::Delivered => "delivered",
            PinMailState::Failed => "failed",
        }
    }
}

impl fmt::Display for PinMailState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PinMailState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(PinMailState::Queued),
            "delivered" => Ok(PinMailState::Delivered),
            "failed" => Ok(PinMailState::Failed),
            _ => Err(format!("unknown PIN mail state {s:?}")),
        }
    }
}

/// A PIN mail to queue with an issuance (see [`PinRecord::QueueMail`]); the Certificate IDs
/// come from the issuance.
///
/// `Debug` shows the length of `sealed`, never its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPinMail {
    /// The issuance request ID (unique: one PIN mail per request).
    pub request_id: String,
    /// E-mail address, or postal text for print.
    pub recipient: String,
    /// How it is delivered.
    pub delivery: PinDelivery,
    /// The token subject DN, for the letter text.
    pub subject: String,
    /// The token procedure.
    pub token_procedure: String,
    /// The issuing officer.
    pub officer: String,
    /// Which KEK wrapped the PIN.
    pub kek_id: String,
    /// The KRA's envelope of the PIN (must not be empty).
    pub sealed: Vec<u8>,
}

impl fmt::Debug for NewPinMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewPinMail")
            .field("request_id", &self.request_id)
            .field("recipient", &self.recipient)
            .field("delivery", &self.delivery)
            .field("subject", &self.subject)
            .field("token_procedure", &self.token_procedure)
            .field("officer", &self.officer)
            .field("kek_id", &self.kek_id)
            .field("sealed", &SealedLen(self.sealed.len()))
            .finish()
    }
}

/// A PIN mail in the queue (or delivered, or failed).
///
/// `Debug` shows the length of `sealed`, never its bytes; JSON output leaves `sealed` out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct PinMail {
    /// Row ID.
    pub id: i64,
    /// The issuance request ID.
    pub request_id: String,
    /// E-mail address, or postal text for print.
    pub recipient: String,
    /// How it is delivered.
    pub delivery: PinDelivery,
    /// The token subject DN.
    pub subject: String,
    /// The token procedure.
    pub token_procedure: String,
    /// The Certificate IDs issued, joined by `,`.
    pub certificate_ids: String,
    /// The issuing officer.
    pub officer: String,
    /// Which KEK wrapped the PIN.
    pub kek_id: String,
    /// The KRA's envelope of the PIN; `None` once delivered (the PIN is deleted). Left out of
    /// JSON output.
    #[serde(skip)]
    pub sealed: Option<Vec<u8>>,
    /// Where it is.
    pub state: PinMailState,
    /// Delivery attempts so far (reset when queued again).
    pub attempts: i64,
    /// Why the last attempt failed; `None` before the first failure and once delivered.
    pub last_error: Option<String>,
    /// When queued, Unix seconds.
    pub queued_at: i64,
    /// When last attempted.
    pub last_attempt_at: Option<i64>,
    /// When delivered.
    pub delivered_at: Option<i64>,
}

impl fmt::Debug for PinMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinMail")
            .field("id", &self.id)
            .field("request_id", &self.request_id)
            .field("recipient", &self.recipient)
            .field("delivery", &self.delivery)
            .field("subject", &self.subject)
            .field("token_procedure", &self.token_procedure)
            .field("certificate_ids", &self.certificate_ids)
            .field("officer", &self.officer)
            .field("kek_id", &self.kek_id)
            .field("sealed", &self.sealed.as_ref().map(|s| SealedLen(s.len())))
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("last_error", &self.last_error)
            .field("queued_at", &self.queued_at)
            .field("last_attempt_at", &self.last_attempt_at)
            .field("delivered_at", &self.delivered_at)
            .finish()
    }
}

/// PIN mail search criteria; results come newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinMailQuery {
    /// In this state only.
    pub state: Option<PinMailState>,
    /// At most this many rows: default 100, clamped to 1..=1000.
    pub limit: Option<i64>,
}

const COLUMNS: &str = "id, request_id, recipient, delivery, subject, token_procedure, \
     certificate_ids, officer, kek_id, sealed, state, attempts, last_error, queued_at, \
     last_attempt_at, delivered_at";

/// The longest `last_error` kept, in bytes.
const MAX_ERROR: usize = 500;

/// Refuses a PIN mail the store cannot queue: an empty request ID, recipient, KEK ID or
/// envelope.
pub(crate) fn check(mail: &NewPinMail) -> Result<(), StoreError> {
    for (field, empty) in [
        ("PIN mail request ID", mail.request_id.trim().is_empty()),
        ("PIN mail recipient", mail.recipient.trim().is_empty()),
        ("PIN mail KEK ID", mail.kek_id.is_empty()),
        ("PIN mail sealed envelope", mail.sealed.is_empty()),
    ] {
        if empty {
            return Err(StoreError::Invalid(format!("{field}: empty")));
        }
    }
    Ok(())
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn mail(row: &AnyRow) -> Result<PinMail, StoreError> {
    let id: i64 = row.try_get("id")?;
    let corrupt =
        |what: &str, e: String| StoreError::Corrupt(format!("PIN mail {id}: {what}: {e}"));
    let delivery: String = row.try_get("delivery")?;
    let state: String = row.try_get("state")?;
    Ok(PinMail {
        id,
        request_id: row.try_get("request_id")?,
        recipient: row.try_get("recipient")?,
        delivery: delivery.parse().map_err(|e| corrupt("delivery", e))?,
        subject: row.try_get("subject")?,
        token_procedure: row.try_get("token_procedure")?,
        certificate_ids: row.try_get("certificate_ids")?,
        officer: row.try_get("officer")?,
        kek_id: row.try_get("kek_id")?,
        sealed: row.try_get("sealed")?,
        state: state.parse().map_err(|e| corrupt("state", e))?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        queued_at: row.try_get("queued_at")?,
        last_attempt_at: row.try_get("last_attempt_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

/// Queues `m` for the certificates `certificate_ids` on `conn` (inside the issuance
/// transaction) and returns the `queue-pin-mail` audit record. A request ID queued before is a
/// [`StoreError::Conflict`] naming `PIN mail request`.
pub(crate) async fn queue(
    conn: &mut AnyConnection,
    m: &NewPinMail,
    certificate_ids: &str,
    queued_at: i64,
) -> Result<NewAudit, StoreError> {
    let row = sqlx::query(
        "INSERT INTO pin_mail (request_id, recipient, delivery, subject, token_procedure, \
         certificate_ids, officer, kek_id, sealed, state, attempts, queued_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11) RETURNING id",
    )
    .bind(m.request_id.as_str())
    .bind(m.recipient.as_str())
    .bind(m.delivery.as_str())
    .bind(m.subject.as_str())
    .bind(m.token_procedure.as_str())
    .bind(certificate_ids)
    .bind(m.officer.as_str())
    .bind(m.kek_id.as_str())
    .bind(m.sealed.as_slice())
    .bind(PinMailState::Queued.as_str())
    .bind(queued_at)
    .fetch_one(conn)
    .await
    .map_err(StoreError::unique(ConflictOn::PinMailRequest))?;
    let id: i64 = row.try_get("id")?;
    Ok(NewAudit {
        category: AuditCategory::PinDistribution,
        action: "queue-pin-mail".into(),
        officer: Some(m.officer.clone()),
        outcome: Outcome::Success,
        object: Some(id.to_string()),
        detail: json!({
            "recipient": m.recipient,
            "delivery": m.delivery,
            "certificate_ids": certificate_ids,
        }),
    })
}

impl Store {
    /// Up to `limit` queued PIN mails (none if `limit` < 1, at most 1000), oldest first: the
    /// mailer's work list.
    pub async fn queued_pin_mail(&self, limit: i64) -> Result<Vec<PinMail>, StoreError> {
        if limit < 1 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pin_mail WHERE state = $1 ORDER BY id LIMIT $2"
        )))
        .bind(PinMailState::Queued.as_str())
        .bind(row_limit(Some(limit)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(mail).collect()
    }

    /// How many PIN mails are queued (not yet sent, failed or printed): the queue's depth.
    pub async fn queued_pin_mail_count(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM pin_mail WHERE state = $1")
                .bind(PinMailState::Queued.as_str())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Claims up to `limit` queued PIN mails nobody else holds, oldest first, for `lease_secs`
    /// seconds: a concurrent run (on this or another server node) does not get them until the
    /// claim is released ([`Store::pin_mail_failed`]), the mail is delivered, or the lease ends.
    pub async fn claim_pin_mail(
        &self,
        limit: i64,
        lease_secs: i64,
    ) -> Result<Vec<PinMail>, StoreError> {
        if limit < 1 {
            return Ok(Vec::new());
        }
        let now = now();
        // The claim condition is repeated outside the subquery: PostgreSQL re-checks it on a
        // row another transaction has just claimed, so two runs never both win it.
        // On PostgreSQL, SKIP LOCKED lets a concurrent run take the next free mails instead of
        // waiting for (and then losing) the same ones; SQLite runs writers one at a time.
        let free = "state = $1 AND (claimed_until IS NULL OR claimed_until < $2)";
        let skip_locked = match self.engine {
            crate::Engine::Postgres => "FOR UPDATE SKIP LOCKED",
            crate::Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE pin_mail SET claimed_until = $3 WHERE id IN \
             (SELECT id FROM pin_mail WHERE {free} ORDER BY id LIMIT $4 {skip_locked}) \
             AND {free} RETURNING {COLUMNS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(PinMailState::Queued.as_str())
            .bind(now)
            .bind(now.saturating_add(lease_secs))
            .bind(row_limit(Some(limit)))
            .fetch_all(&self.pool)
            .await?;
        let mut claimed = rows.iter().map(mail).collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    /// PIN mails, newest first, in one state if given. At most `limit` rows (default 100, at
    /// most 1000).
    pub async fn pin_mail(&self, q: &PinMailQuery) -> Result<Vec<PinMail>, StoreError> {
        let rows = match q.state {
            Some(state) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM pin_mail WHERE state = $1 ORDER BY id DESC LIMIT $2"
                )))
                .bind(state.as_str())
                .bind(row_limit(q.limit))
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM pin_mail ORDER BY id DESC LIMIT $1"
                )))
                .bind(row_limit(q.limit))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(mail).collect()
    }

    /// Records PIN mail `id` delivered and deletes its PIN (`sealed` becomes NULL), counting
    /// the attempt and clearing the error of earlier attempts (the audit log keeps them), and
    /// appends `audit` (as given), in one transaction. Only a `queued` or
    /// `failed` mail can be delivered: otherwise (or if there is no such mail) returns `false`
    /// and writes nothing.
    pub async fn pin_mail_delivered(&self, id: i64, audit: &NewAudit) -> Result<bool, StoreError> {
        let at = now();
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE pin_mail SET state = $1, sealed = NULL, delivered_at = $2, \
             last_attempt_at = $2, attempts = attempts + 1, last_error = NULL \
             WHERE id = $3 AND state IN ($4, $5)",
        )
        .bind(PinMailState::Delivered.as_str())
        .bind(at)
        .bind(id)
        .bind(PinMailState::Queued.as_str())
        .bind(PinMailState::Failed.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        audit::insert(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a failed delivery attempt of queued PIN mail `id` and appends `audit` (as
    /// given), in one transaction: counts the attempt and keeps `error` (cut to 500 bytes on a
    /// character boundary). The mail turns `failed` once it has had `max_attempts` attempts,
    /// else stays `queued`. Returns the new state, or `None` (writing nothing) if there is no
    /// queued mail `id`.
    pub async fn pin_mail_failed(
        &self,
        id: i64,
        error: &str,
        max_attempts: i64,
        audit: &NewAudit,
    ) -> Result<Option<PinMailState>, StoreError> {
        let at = now();
        let mut tx = self.write_tx().await?;
        // The right-hand sides all see the old `attempts`.
        let row = sqlx::query(
            "UPDATE pin_mail SET attempts = attempts + 1, last_error = $1, last_attempt_at = $2, \
             claimed_until = NULL, state = CASE WHEN attempts + 1 >= $3 THEN $4 ELSE state END \
             WHERE id = $5 AND state = $6 RETURNING state",
        )
        .bind(truncate(error, MAX_ERROR))
        .bind(at)
        .bind(max_attempts)
        .bind(PinMailState::Failed.as_str())
        .bind(id)
        .bind(PinMailState::Queued.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let state: String = row.try_get("state")?;
        let state = state
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("PIN mail {id}: state: {e}")))?;
        audit::insert(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Some(state))
    }

    /// Queues failed PIN mail `id` again with no attempts and no error, and appends `audit` (as
    /// given), in one transaction. Returns `false` (writing nothing) if there is no failed mail
    /// `id`.
    pub async fn requeue_pin_mail(&self, id: i64, audit: &NewAudit) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE pin_mail SET state = $1, attempts = 0, last_error = NULL \
             WHERE id = $2 AND state = $3",
        )
        .bind(PinMailState::Queued.as_str())
        .bind(id)
        .bind(PinMailState::Failed.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        audit::insert(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation() {
        assert_eq!(truncate("short", 500), "short");
        let long = "x".repeat(600);
        assert_eq!(truncate(&long, 500).len(), 500);
        let wide = "é".repeat(300); // 2 bytes each
        assert_eq!(truncate(&wide, 500).chars().count(), 250);
        let odd = format!("x{}", "é".repeat(300));
        let cut = truncate(&odd, 500);
        assert_eq!(cut.len(), 499, "not inside a character");
    }
}
