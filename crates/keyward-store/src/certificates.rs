//! Certificates: recorded at issuance (with the keys to archive), found by Certificate ID,
//! serial number or subject.

use serde_json::{json, Value};

use crate::approvals::{self, ApprovalUse};
use crate::old_revocations::{self, OldRevocation, RevokedOld};
use crate::pins::PinRecord;
use crate::request_results::{self, Answered, RequestKey};
use crate::rows::{certificate, certificate_columns};
use crate::search::normalize_serial;
use crate::types::{CertificateQuery, NewAudit, NewCertificate, StoredCertificate};
use crate::{
    archived_keys, attribute_certs, audit, crash_point, now, pins, ConflictOn, Store, StoreError,
};

/// What one token issuance or recovery writes (see [`Store::record_token`] for what each part
/// becomes).
#[derive(Debug, Clone, Copy)]
pub struct TokenRecord<'a> {
    /// The new certificates, in plan order; may be empty (a recovery that reuses old
    /// certificates issues none).
    pub certificates: &'a [NewCertificate],
    /// The issuance record.
    pub audit: &'a NewAudit,
    /// Further records, as given (e.g. one `recover-key` record per recovered key).
    pub extra: &'a [NewAudit],
    /// The PIN letter to mark used, or the PIN mail to queue.
    pub pin: Option<&'a PinRecord>,
    /// The approved recovery request to use.
    pub approval: Option<&'a ApprovalUse>,
    /// Old certificates of recovered keys to revoke (a recover key procedure's `revoke_old`),
    /// in the same transaction. One revoked already stays as it is (its [`RevokedOld`] says
    /// `kept`), except that a hold is made final with the recovery's reason. Each revocation's
    /// audit record follows the `extra` records.
    pub revoke: &'a [OldRevocation],
}

/// What a token's transaction recorded.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The new certificates, in the order given.
    pub certificates: Vec<StoredCertificate>,
    /// What happened to each old certificate of [`TokenRecord::revoke`], in its order.
    pub revoked: Vec<RevokedOld>,
}

const KEY_ORIGINS: [&str; 4] = ["local", "server", "archived", "recovered"];

/// The caller's audit detail with the serial numbers added.
fn detail_with_serials(detail: &Value, serials: Vec<String>) -> Value {
    let mut detail = match detail {
        Value::Object(_) => detail.clone(),
        Value::Null => json!({}),
        other => json!({ "detail": other }),
    };
    detail["serials"] = json!(serials);
    detail
}

impl Store {
    /// Records certificates, the keys archived with them and their audit records in one
    /// transaction: all or nothing. Refuses an empty `certs`; otherwise the same as
    /// [`Store::record_token`] with no `extra` records and no PIN record.
    pub async fn record_issuance(
        &self,
        certs: &[NewCertificate],
        audit: &NewAudit,
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        if certs.is_empty() {
            return Err(StoreError::Invalid("certificates: none to record".into()));
        }
        self.record_token(certs, audit, &[], None).await
    }

    /// Records what a token issuance or recovery writes, in one transaction: all or nothing.
    ///
    /// Certificate IDs come from the database, in the order of `certs`, which may be empty (a
    /// recovery that reuses old certificates issues none). Appended, in this order:
    /// - `audit`, with `object` set to the new Certificate IDs joined by `,` (`None` if there
    ///   are none) and a `serials` array added to its `detail`;
    /// - for each certificate with an [`archived_key`](NewCertificate::archived_key), in the
    ///   order of `certs`, an `archive-key` record ([`KeysArchived`]) naming the certificate's
    ///   officer, its Certificate ID as `object`, and in `detail` the serial number, subject,
    ///   token procedure, key procedure, key spec and archive key ID (never the sealed key);
    /// - the records of `extra`, as given (e.g. one `recover-key` record per recovered key);
    /// - one record per old certificate revoked ([`TokenRecord::revoke`]: the caller's record
    ///   with the certificate's ID as `object`, its serial, subject, issuer, the reason and the
    ///   revocation-change number in `detail`); `audit`'s detail gets a `revoked_old` array
    ///   naming each old certificate, its reason and whether it was kept as it was;
    /// - with a `pin`, its record ([`PinDistribution`], naming the issuing officer):
    ///   [`UseLetter`](PinRecord::UseLetter) marks the letter used by this officer and request
    ///   for the new certificates (`use-pin-letter`, `object` the letter ID, `detail` the
    ///   request ID and the Certificate IDs joined by `,`); [`QueueMail`](PinRecord::QueueMail)
    ///   queues the PIN mail for them (`queue-pin-mail`, `object` the PIN mail ID, `detail` the
    ///   recipient, delivery and Certificate IDs).
    ///
    /// A serial number recorded before, or a PIN mail request ID queued before, is a
    /// [`StoreError::Conflict`]; an unknown key origin, an archived key with an empty envelope
    /// or archive key ID or with a key usage other than its certificate's, a letter ID that is
    /// not positive, or a PIN mail with an empty request ID, recipient, KEK ID or envelope, is
    /// [`StoreError::Invalid`]; a PIN letter that does not exist, belongs to another PIN
    /// procedure or was used already (perhaps concurrently) is [`StoreError::Used`]. In each
    /// case nothing is written.
    ///
    /// [`KeysArchived`]: crate::AuditCategory::KeysArchived
    /// [`PinDistribution`]: crate::AuditCategory::PinDistribution
    pub async fn record_token(
        &self,
        certs: &[NewCertificate],
        audit: &NewAudit,
        extra: &[NewAudit],
        pin: Option<&PinRecord>,
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        self.record_token_with(certs, audit, extra, pin, None).await
    }

    /// [`Store::record_token`], also using an approved recovery request in the same
    /// transaction: it becomes `used` (audited as `use-approval`, naming `audit`'s officer); a
    /// request that is not approved, has expired or was used is [`StoreError::Used`] and
    /// nothing is written.
    pub async fn record_token_with(
        &self,
        certs: &[NewCertificate],
        audit: &NewAudit,
        extra: &[NewAudit],
        pin: Option<&PinRecord>,
        approval: Option<&ApprovalUse>,
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        let token = TokenRecord {
            certificates: certs,
            audit,
            extra,
            pin,
            approval,
            revoke: &[],
        };
        Ok(self.record_token_once(&token).await?.certificates)
    }

    /// Records everything `token` names in one transaction, as [`Store::record_token_with`]
    /// does, also revoking its old certificates ([`TokenRecord::revoke`]), without an
    /// idempotent request's answer.
    pub async fn record_token_once(&self, token: &TokenRecord<'_>) -> Result<Recorded, StoreError> {
        type NoAnswer = fn(&Recorded) -> Answered;
        self.record(token, None::<(&RequestKey, NoAnswer)>).await
    }

    /// [`Store::record_token_once`] for an idempotent request: in the same transaction, first
    /// claims `key` (officer and request ID), then, once the certificates are inserted and the
    /// old ones revoked, records the answer `respond` builds from them (the response the API sends, see
    /// [`RequestAnswer`](crate::RequestAnswer)). A retry is answered from [`Store::request_result`] instead of
    /// issuing again.
    ///
    /// The stored response holds server-generated and recovered keys and server-chosen PINs
    /// only sealed to the RA's one-time transport key, whose private half only that RA holds:
    /// it is no secret to the database.
    ///
    /// A request ID the officer used before, or is using in a transaction not yet finished
    /// (which it waits for), is a [`StoreError::Conflict`] naming `request ID`, and nothing is
    /// written; an error from `respond` rolls everything back.
    pub async fn record_token_answered<F>(
        &self,
        token: &TokenRecord<'_>,
        key: &RequestKey,
        respond: F,
    ) -> Result<Recorded, StoreError>
    where
        F: FnOnce(&Recorded) -> Answered + Send,
    {
        request_results::check(key)?;
        self.record(token, Some((key, respond))).await
    }

    async fn record<F>(
        &self,
        token: &TokenRecord<'_>,
        answered: Option<(&RequestKey, F)>,
    ) -> Result<Recorded, StoreError>
    where
        F: FnOnce(&Recorded) -> Answered + Send,
    {
        let TokenRecord {
            certificates: certs,
            audit,
            extra,
            pin,
            approval,
            revoke,
        } = *token;
        if let Some(pin) = pin {
            pins::check(pin)?;
        }
        let mut normalized = Vec::with_capacity(certs.len());
        for c in certs {
            if !KEY_ORIGINS.contains(&c.key_origin.as_str()) {
                return Err(StoreError::Invalid(format!(
                    "key origin {:?}: expected one of {}",
                    c.key_origin,
                    KEY_ORIGINS.join(", ")
                )));
            }
            if let Some(key) = &c.archived_key {
                archived_keys::check(c, key)?;
            }
            if let Some(ac) = &c.attribute_certificate {
                attribute_certs::check(ac)?;
            }
            normalized.push(normalize_serial(&c.serial_hex)?);
        }
        let issued_at = now();
        let insert = format!(
            "INSERT INTO certificates (serial_hex, serial_norm, subject, subject_lower, issuer, \
             not_before, not_after, der, certificate_procedure, token_procedure, key_origin, \
             key_usage, officer, email, issued_at, recovered_from) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             RETURNING {}",
            certificate_columns(None)
        );
        let mut tx = self.write_tx().await?;
        if let Some((key, _)) = &answered {
            request_results::claim(&mut tx, key, issued_at).await?;
        }
        let mut stored = Vec::with_capacity(certs.len());
        let mut archive_records = Vec::new();
        for (c, serial_norm) in certs.iter().zip(normalized) {
            let row = sqlx::query(sqlx::AssertSqlSafe(insert.as_str()))
                .bind(c.serial_hex.trim())
                .bind(serial_norm)
                .bind(c.subject.as_str())
                .bind(c.subject.to_lowercase())
                .bind(c.issuer.as_str())
                .bind(c.not_before)
                .bind(c.not_after)
                .bind(c.der.as_slice())
                .bind(c.certificate_procedure.as_str())
                .bind(c.token_procedure.as_str())
                .bind(c.key_origin.as_str())
                .bind(c.key_usage.as_str())
                .bind(c.officer.as_str())
                .bind(c.email.as_deref())
                .bind(issued_at)
                .bind(c.recovered_from)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::unique(ConflictOn::CertificateSerial))?;
            let cert = certificate(&row)?;
            if let Some(key) = &c.archived_key {
                archived_keys::insert(&mut tx, cert.id, key, issued_at).await?;
                archive_records.push(archived_keys::audit_record(&cert, key));
            }
            if let Some(ac) = &c.attribute_certificate {
                attribute_certs::insert(&mut tx, cert.id, ac, issued_at).await?;
                archive_records.push(attribute_certs::audit_record(&cert, ac));
            }
            stored.push(cert);
        }
        let mut revoked = Vec::with_capacity(revoke.len());
        let mut revocation_records = Vec::new();
        for old in revoke {
            let (outcome, record) = old_revocations::revoke_in(&mut tx, old, issued_at).await?;
            revoked.push(outcome);
            revocation_records.extend(record);
        }
        crash_point("mid-transaction");
        let ids: Vec<String> = stored.iter().map(|c| c.id.to_string()).collect();
        let pin_record = match pin {
            Some(pin) => Some(pins::record(&mut tx, pin, &ids.join(","), issued_at).await?),
            None => None,
        };
        let approval_record = match approval {
            Some(used) => {
                let mut rec = approvals::use_approval(&mut tx, used, issued_at).await?;
                rec.officer = audit.officer.clone();
                Some(rec)
            }
            None => None,
        };
        let serials = stored.iter().map(|c| c.serial_hex.clone()).collect();
        let mut record = NewAudit {
            object: (!ids.is_empty()).then(|| ids.join(",")),
            detail: detail_with_serials(&audit.detail, serials),
            ..audit.clone()
        };
        if !revoked.is_empty() {
            record.detail["revoked_old"] = old_revocations::summary(&revoked);
        }
        audit::insert(&mut tx, &record).await?;
        let records = archive_records
            .iter()
            .chain(extra)
            .chain(&revocation_records);
        for rec in records.chain(&pin_record).chain(&approval_record) {
            audit::insert(&mut tx, rec).await?;
        }
        let recorded = Recorded {
            certificates: stored,
            revoked,
        };
        if let Some((key, respond)) = answered {
            let answer = respond(&recorded).map_err(StoreError::Invalid)?;
            request_results::answer(&mut tx, key, &answer).await?;
        }
        crash_point("before-commit");
        tx.commit().await?;
        crash_point("after-commit");
        Ok(recorded)
    }

    /// Finds certificates matching every criterion given, ordered by Certificate ID: the ID
    /// exactly, the serial number (hex; case, leading zeros and `:` ignored), a
    /// case-insensitive substring of the subject, the whole subject (case-insensitive). At most `limit` rows (default 100, at most
    /// 1000).
    pub async fn find_certificates(
        &self,
        q: &CertificateQuery,
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        let mut query = crate::search::Search::certificates(
            self.engine,
            &certificate_columns(Some("c")),
            "",
            &crate::search::CertificateCriteria {
                id: q.id,
                serial_hex: q.serial_hex.as_deref(),
                subject: q.subject.as_deref(),
                status: q.status,
            },
        )?;
        if let Some(subject) = &q.subject_exact {
            query.and_text("c.subject_lower = {}", subject.to_lowercase());
        }
        let query = query.query(false, q.limit);
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(crate::revocations::certificate_with_status)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details() {
        let serials = || vec!["ab".to_string()];
        assert_eq!(
            detail_with_serials(&json!({"token": "t"}), serials()),
            json!({"token": "t", "serials": ["ab"]})
        );
        assert_eq!(
            detail_with_serials(&Value::Null, serials()),
            json!({"serials": ["ab"]})
        );
        assert_eq!(
            detail_with_serials(&json!("x"), serials()),
            json!({"detail": "x", "serials": ["ab"]})
        );
    }
}
