//! Revocation state (migration 0012): one row per revoked certificate, written with its audit
//! record in one transaction (O(1): never a CRL rebuild), looked up by issuer and serial for
//! OCSP, and streamed row by row for full and delta CRLs.
//!
//! Every change takes the next value of the `revocation-change` counter in its transaction. The
//! counter row is updated first, so writers wait for each other there (a row lock on
//! PostgreSQL, the write lock on SQLite): change numbers are handed out in commit order, and a
//! reader that sees counter value `n` sees every change up to `n`.

use futures_util::stream::{BoxStream, StreamExt};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use keyward_policy::RevocationReason;

use crate::request_results::{self, Answered, RequestKey};
use crate::rows::{certificate, certificate_columns};
use crate::types::StoredCertificate;
use crate::{audit, now, Engine, Store, StoreError};

pub use crate::revocation_types::{
    CertificateStatus, CrlNumber, NewRevocation, Revocation, RevokedEntry, SerialStatus,
    StatusFilter, Unhold,
};

/// The revocation columns of a search (see [`revocation`]), from `revocations r`.
pub(crate) const REVOCATION_COLUMNS: &str = "r.reason AS revocation_reason, \
     r.revoked_at AS revocation_revoked_at, r.invalidity_date AS revocation_invalidity_date, \
     r.released_at AS revocation_released_at, r.change_seq AS revocation_change_seq";

/// The join that brings [`REVOCATION_COLUMNS`] to a search of certificates `c`.
pub(crate) const REVOCATION_JOIN: &str = "LEFT JOIN revocations r ON r.certificate_id = c.id";

/// The revocation row of a search result holding [`REVOCATION_COLUMNS`], if there is one.
pub(crate) fn revocation(row: &AnyRow) -> Result<Option<Revocation>, StoreError> {
    let Some(code) = row.try_get::<Option<i64>, _>("revocation_reason")? else {
        return Ok(None);
    };
    Ok(Some(Revocation {
        reason: reason_of(code)?,
        revoked_at: row.try_get("revocation_revoked_at")?,
        invalidity_date: row.try_get("revocation_invalidity_date")?,
        released_at: row.try_get("revocation_released_at")?,
        change_seq: row.try_get("revocation_change_seq")?,
    }))
}

/// A certificate with its revocation, from a row holding the certificate columns and
/// [`REVOCATION_COLUMNS`].
pub(crate) fn certificate_with_status(row: &AnyRow) -> Result<StoredCertificate, StoreError> {
    let mut cert = certificate(row)?;
    cert.revocation = revocation(row)?;
    Ok(cert)
}

fn reason_of(code: i64) -> Result<RevocationReason, StoreError> {
    u8::try_from(code)
        .ok()
        .and_then(RevocationReason::from_code)
        .ok_or_else(|| StoreError::Corrupt(format!("revocation reason code {code}")))
}

/// The SQL condition for `filter` on certificates `c` joined to `revocations r`, and whether
/// it compares with the current time (its `{}`, to bind).
pub(crate) fn status_condition(filter: StatusFilter) -> (&'static str, bool) {
    // 6 is certificateHold (checked by a test).
    match filter {
        StatusFilter::Valid => (
            "(r.certificate_id IS NULL OR r.released_at IS NOT NULL) AND c.not_after >= {}",
            true,
        ),
        StatusFilter::Expired => (
            "(r.certificate_id IS NULL OR r.released_at IS NOT NULL) AND c.not_after < {}",
            true,
        ),
        StatusFilter::Revoked => (
            "r.certificate_id IS NOT NULL AND r.released_at IS NULL AND r.reason <> 6",
            false,
        ),
        StatusFilter::OnHold => (
            "r.certificate_id IS NOT NULL AND r.released_at IS NULL AND r.reason = 6",
            false,
        ),
    }
}

/// Takes the next revocation-change number, in the caller's transaction; the update locks the
/// counter until the transaction ends, which orders revocations by commit.
pub(crate) async fn next_change(tx: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar::<_, i64>(
        "UPDATE counters SET value = value + 1 WHERE name = 'revocation-change' RETURNING value",
    )
    .fetch_one(&mut *tx)
    .await?)
}

/// The certificate with ID `id` and its revocation row, read in the caller's transaction.
pub(crate) async fn load(tx: &mut AnyConnection, id: i64) -> Result<StoredCertificate, StoreError> {
    let sql = format!(
        "SELECT {}, {REVOCATION_COLUMNS} FROM certificates c {REVOCATION_JOIN} \
         WHERE c.id = $1",
        certificate_columns(Some("c"))
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::UnknownCertificate(id))?;
    certificate_with_status(&row)
}

/// Writes the answer of an idempotent request (claimed at the start of the transaction).
async fn answer_with<F>(
    tx: &mut AnyConnection,
    answered: Option<(&RequestKey, F)>,
    cert: &StoredCertificate,
) -> Result<(), StoreError>
where
    F: FnOnce(&StoredCertificate) -> Answered + Send,
{
    if let Some((key, respond)) = answered {
        let answer = respond(cert).map_err(StoreError::Invalid)?;
        request_results::answer(tx, key, &answer).await?;
    }
    Ok(())
}

impl Store {
    /// Revokes a certificate: one row written (or, for a released hold, rewritten) and the
    /// audit record `rev.audit` (its object set to the Certificate ID, the serial and reason
    /// added to its detail), in one transaction. With `answered`, the request ID is claimed
    /// first and the answer `respond` builds is recorded in the same transaction (see
    /// [`Store::record_token_answered`]).
    ///
    /// A certificate that is revoked is refused ([`StoreError::AlreadyRevoked`], naming the
    /// reason and time), except that one on hold may be revoked for good with another reason
    /// (RFC 5280 §5.3.1). An unknown ID is [`StoreError::UnknownCertificate`]. Returns the
    /// certificate with its new revocation.
    pub async fn revoke<F>(
        &self,
        rev: &NewRevocation<'_>,
        answered: Option<(&RequestKey, F)>,
    ) -> Result<StoredCertificate, StoreError>
    where
        F: FnOnce(&StoredCertificate) -> Answered + Send,
    {
        if let Some((key, _)) = &answered {
            request_results::check(key)?;
        }
        let at = now();
        let mut tx = self.write_tx().await?;
        if let Some((key, _)) = &answered {
            request_results::claim(&mut tx, key, at).await?;
        }
        let seq = next_change(&mut tx).await?;
        let mut cert = load(&mut tx, rev.certificate_id).await?;
        let officer = rev.audit.officer.clone().unwrap_or_default();
        match &cert.revocation {
            Some(old) if old.in_force() => {
                let hold_made_final = old.reason == RevocationReason::CertificateHold
                    && rev.reason != RevocationReason::CertificateHold;
                if !hold_made_final {
                    return Err(StoreError::AlreadyRevoked {
                        certificate_id: cert.id,
                        reason: old.reason,
                        revoked_at: old.revoked_at,
                    });
                }
                update(&mut tx, &cert, rev, at, seq, &officer).await?;
            }
            Some(_) => update(&mut tx, &cert, rev, at, seq, &officer).await?,
            None => {
                sqlx::query(
                    "INSERT INTO revocations (certificate_id, issuer, serial_norm, reason, \
                     revoked_at, invalidity_date, released_at, change_seq, officer) \
                     SELECT id, issuer, serial_norm, $1, $2, $3, NULL, $4, $5 \
                     FROM certificates WHERE id = $6",
                )
                .bind(i64::from(rev.reason.code()))
                .bind(at)
                .bind(rev.invalidity_date)
                .bind(seq)
                .bind(officer.as_str())
                .bind(cert.id)
                .execute(&mut *tx)
                .await?;
            }
        }
        cert.revocation = Some(Revocation {
            reason: rev.reason,
            revoked_at: at,
            invalidity_date: rev.invalidity_date,
            released_at: None,
            change_seq: seq,
        });
        let mut record = rev.audit.clone();
        record.object = Some(cert.id.to_string());
        record.detail = with_certificate(&record.detail, &cert);
        record.detail["reason"] = json!(rev.reason.name());
        record.detail["invalidity_date"] = json!(rev.invalidity_date);
        record.detail["change_seq"] = json!(seq);
        audit::insert(&mut tx, &record).await?;
        answer_with(&mut tx, answered, &cert).await?;
        tx.commit().await?;
        Ok(cert)
    }

    /// Releases a certificate on hold (`certificateHold`): the row is kept with its release
    /// time, so that the next delta CRL lists the certificate as `removeFromCRL`; audited as
    /// `unhold.audit`, answered as [`Store::revoke`] is. A certificate not on hold is
    /// [`StoreError::NotOnHold`] (with its revocation, if it has one in force).
    pub async fn unhold<F>(
        &self,
        unhold: &Unhold<'_>,
        answered: Option<(&RequestKey, F)>,
    ) -> Result<StoredCertificate, StoreError>
    where
        F: FnOnce(&StoredCertificate) -> Answered + Send,
    {
        if let Some((key, _)) = &answered {
            request_results::check(key)?;
        }
        let at = now();
        let mut tx = self.write_tx().await?;
        if let Some((key, _)) = &answered {
            request_results::claim(&mut tx, key, at).await?;
        }
        let seq = next_change(&mut tx).await?;
        let mut cert = load(&mut tx, unhold.certificate_id).await?;
        let Some(mut held) = cert.revocation.clone().filter(|r| r.on_hold()) else {
            return Err(StoreError::NotOnHold {
                certificate_id: cert.id,
                revocation: cert.revocation.filter(Revocation::in_force),
            });
        };
        sqlx::query(
            "UPDATE revocations SET released_at = $1, change_seq = $2, officer = $3 \
             WHERE certificate_id = $4",
        )
        .bind(at)
        .bind(seq)
        .bind(unhold.audit.officer.clone().unwrap_or_default())
        .bind(cert.id)
        .execute(&mut *tx)
        .await?;
        held.released_at = Some(at);
        held.change_seq = seq;
        cert.revocation = Some(held.clone());
        let mut record = unhold.audit.clone();
        record.object = Some(cert.id.to_string());
        record.detail = with_certificate(&record.detail, &cert);
        record.detail["held_since"] = json!(held.revoked_at);
        record.detail["change_seq"] = json!(seq);
        audit::insert(&mut tx, &record).await?;
        answer_with(&mut tx, answered, &cert).await?;
        tx.commit().await?;
        Ok(cert)
    }

    /// The status of the certificate `issuer` issued with serial `serial_hex` (hex; case,
    /// leading zeros and `:` ignored), for OCSP: one indexed look-up. `None` for a serial this
    /// issuer never issued (as far as this database knows).
    pub async fn certificate_status(
        &self,
        issuer: &str,
        serial_hex: &str,
    ) -> Result<Option<SerialStatus>, StoreError> {
        let serial = crate::search::normalize_serial(serial_hex)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.id, c.not_after, {REVOCATION_COLUMNS} FROM certificates c \
             {REVOCATION_JOIN} WHERE c.serial_norm = $1 AND c.issuer = $2"
        )))
        .bind(serial)
        .bind(issuer)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(SerialStatus {
                certificate_id: row.try_get("id")?,
                not_after: row.try_get("not_after")?,
                revocation: revocation(&row)?,
            })
        })
        .transpose()
    }

    /// Every serial `issuer` issued (the store's form: lowercase hex without leading zeros), row
    /// by row, never all in memory: what the OCSP responder's status index is filled with.
    pub fn issued_serials<'a>(&'a self, issuer: &str) -> BoxStream<'a, Result<String, StoreError>> {
        sqlx::query_scalar::<_, String>("SELECT serial_norm FROM certificates WHERE issuer = $1")
            .bind(issuer.to_string())
            .fetch(&self.pool)
            .map(|row| Ok(row?))
            .boxed()
    }

    /// The entries of `issuer`'s full CRL, row by row (never all in memory): every revocation
    /// in force (holds included), in change order.
    pub fn revoked_entries<'a>(
        &'a self,
        issuer: &str,
    ) -> BoxStream<'a, Result<RevokedEntry, StoreError>> {
        let sql = format!(
            "{ENTRY_SELECT} WHERE r.issuer = $1 AND r.released_at IS NULL ORDER BY r.change_seq"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(issuer.to_string())
            .fetch(&self.pool)
            .map(|row| entry(&row?))
            .boxed()
    }

    /// The entries of a delta CRL: every revocation of `issuer` changed after change number
    /// `since` (the [`CrlNumber::changes_upto`] of its base CRL), row by row, in change order;
    /// a released hold comes with its `released_at` (listed as `removeFromCRL`).
    pub fn revocation_changes<'a>(
        &'a self,
        issuer: &str,
        since: i64,
    ) -> BoxStream<'a, Result<RevokedEntry, StoreError>> {
        let sql = format!(
            "{ENTRY_SELECT} WHERE r.issuer = $1 AND r.change_seq > $2 ORDER BY r.change_seq"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(issuer.to_string())
            .bind(since)
            .fetch(&self.pool)
            .map(|row| entry(&row?))
            .boxed()
    }

    /// The last revocation-change number committed: every change up to it is visible.
    pub async fn revocation_change_number(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT value FROM counters WHERE name = 'revocation-change'",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Takes the next CRL number of CA `ca` (its issuer name, as certificates record it),
    /// shared by every node and never handed out twice: a PostgreSQL sequence (one for every
    /// CA, so numbers may skip), or on SQLite a counter row per CA updated in the transaction.
    /// Records it with the last committed revocation-change number: what the CRL covers.
    pub async fn next_crl_number(&self, ca: &str) -> Result<CrlNumber, StoreError> {
        let mut tx = self.write_tx().await?;
        let number: i64 = match self.engine {
            Engine::Postgres => {
                sqlx::query_scalar("SELECT nextval('crl_number_seq')")
                    .fetch_one(&mut *tx)
                    .await?
            }
            Engine::Sqlite => {
                sqlx::query_scalar(
                    "INSERT INTO counters (name, value) VALUES ($1, 1) \
                     ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
                )
                .bind(format!("crl:{ca}"))
                .fetch_one(&mut *tx)
                .await?
            }
        };
        let changes_upto: i64 =
            sqlx::query_scalar("SELECT value FROM counters WHERE name = 'revocation-change'")
                .fetch_one(&mut *tx)
                .await?;
        let issued_at = now();
        sqlx::query(
            "INSERT INTO crl_numbers (ca, number, changes_upto, issued_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(ca)
        .bind(number)
        .bind(changes_upto)
        .bind(issued_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CrlNumber {
            number,
            changes_upto,
            issued_at,
        })
    }

    /// CRL number `number` of CA `ca`, if it was handed out: where a delta CRL based on it
    /// starts ([`Store::revocation_changes`] since its `changes_upto`).
    pub async fn crl_number(&self, ca: &str, number: i64) -> Result<Option<CrlNumber>, StoreError> {
        let row = sqlx::query(
            "SELECT number, changes_upto, issued_at FROM crl_numbers WHERE ca = $1 AND number = $2",
        )
        .bind(ca)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(CrlNumber {
                number: row.try_get("number")?,
                changes_upto: row.try_get("changes_upto")?,
                issued_at: row.try_get("issued_at")?,
            })
        })
        .transpose()
    }
}

/// Rewrites the revocation row of `cert` (a released hold revoked again, or a hold made final).
async fn update(
    tx: &mut AnyConnection,
    cert: &StoredCertificate,
    rev: &NewRevocation<'_>,
    at: i64,
    seq: i64,
    officer: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE revocations SET reason = $1, revoked_at = $2, invalidity_date = $3, \
         released_at = NULL, change_seq = $4, officer = $5 WHERE certificate_id = $6",
    )
    .bind(i64::from(rev.reason.code()))
    .bind(at)
    .bind(rev.invalidity_date)
    .bind(seq)
    .bind(officer)
    .bind(cert.id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The caller's audit detail with the certificate's serial, subject and issuer added.
fn with_certificate(detail: &serde_json::Value, cert: &StoredCertificate) -> serde_json::Value {
    let mut detail = match detail {
        serde_json::Value::Object(_) => detail.clone(),
        _ => json!({}),
    };
    detail["serial"] = json!(cert.serial_hex);
    detail["subject"] = json!(cert.subject);
    detail["issuer"] = json!(cert.issuer);
    detail
}

/// The select list of [`entry`].
const ENTRY_SELECT: &str = "SELECT r.certificate_id, r.serial_norm, r.reason, r.revoked_at, \
     r.invalidity_date, r.released_at, r.change_seq, c.not_after \
     FROM revocations r JOIN certificates c ON c.id = r.certificate_id";

fn entry(row: &AnyRow) -> Result<RevokedEntry, StoreError> {
    Ok(RevokedEntry {
        certificate_id: row.try_get("certificate_id")?,
        serial_hex: row.try_get("serial_norm")?,
        reason: reason_of(row.try_get("reason")?)?,
        revoked_at: row.try_get("revoked_at")?,
        invalidity_date: row.try_get("invalidity_date")?,
        released_at: row.try_get("released_at")?,
        change_seq: row.try_get("change_seq")?,
        not_after: row.try_get("not_after")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_conditions_spell_the_hold_code() {
        assert_eq!(RevocationReason::CertificateHold.code(), 6);
        assert!(status_condition(StatusFilter::OnHold)
            .0
            .contains("r.reason = 6"));
        assert!(status_condition(StatusFilter::Revoked)
            .0
            .contains("r.reason <> 6"));
    }
}
