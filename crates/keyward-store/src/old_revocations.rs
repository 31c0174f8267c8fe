//! Revoking the old certificates of recovered keys inside the transaction that records the new
//! ones (issue 16, "Revocation at key recovery"; see [`crate::TokenRecord::revoke`]): a crash
//! or a refusal anywhere leaves either the new certificates and the revocations, or neither.
//!
//! An old certificate revoked already stays as it is (its reason and time are kept and the
//! answer says so), with one exception: a hold (`certificateHold`) is made final with the
//! recovery's reason, as RFC 5280 §5.3.1 allows and as an officer revoking it would. A hold
//! asked for on a certificate already on hold keeps the first hold.

use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;

use keyward_policy::RevocationReason;

use crate::revocations::{load, next_change};
use crate::types::{NewAudit, StoredCertificate};
use crate::StoreError;

/// An old certificate to revoke with a recovery (see [`crate::TokenRecord::revoke`]).
#[derive(Debug, Clone)]
pub struct OldRevocation {
    /// The old certificate's ID.
    pub certificate_id: i64,
    /// Why (the recover key procedure's `revoke_old`).
    pub reason: RevocationReason,
    /// The revocation's audit record: its object is set to the Certificate ID, and the serial,
    /// subject, issuer, reason and revocation-change number are added to its detail. Written
    /// only when the revocation row is (not for a certificate kept as it was).
    pub audit: NewAudit,
}

/// What happened to one old certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevokedOld {
    /// Certificate ID.
    pub certificate_id: i64,
    /// Serial, hex as recorded.
    pub serial_hex: String,
    /// The reason in force now: the recovery's, or for a certificate kept as it was, the one
    /// it had.
    pub reason: RevocationReason,
    /// When the revocation in force was made, Unix seconds.
    pub revoked_at: i64,
    /// True when the certificate was revoked (or on hold, for a hold asked for) already and is
    /// kept as it was.
    pub kept: bool,
    /// True when a hold was made final with the recovery's reason.
    pub hold_replaced: bool,
}

/// Revokes `old` in the caller's transaction at `at`; returns what happened and the audit
/// record to append (none for a certificate kept as it was). An unknown Certificate ID is
/// [`StoreError::UnknownCertificate`], which rolls the whole recovery back.
pub(crate) async fn revoke_in(
    tx: &mut AnyConnection,
    old: &OldRevocation,
    at: i64,
) -> Result<(RevokedOld, Option<NewAudit>), StoreError> {
    let cert = load(tx, old.certificate_id).await?;
    let in_force = cert.revocation.clone().filter(|r| r.in_force());
    let hold_replaced = match &in_force {
        Some(r)
            if r.reason == RevocationReason::CertificateHold
                && old.reason != RevocationReason::CertificateHold =>
        {
            true
        }
        Some(r) => {
            return Ok((
                RevokedOld {
                    certificate_id: cert.id,
                    serial_hex: cert.serial_hex.clone(),
                    reason: r.reason,
                    revoked_at: r.revoked_at,
                    kept: true,
                    hold_replaced: false,
                },
                None,
            ))
        }
        None => false,
    };
    let seq = next_change(tx).await?;
    let officer = old.audit.officer.clone().unwrap_or_default();
    // A row exists for a hold (in force or released): rewritten; otherwise inserted.
    if cert.revocation.is_some() {
        sqlx::query(
            "UPDATE revocations SET reason = $1, revoked_at = $2, invalidity_date = NULL, \
             released_at = NULL, change_seq = $3, officer = $4 WHERE certificate_id = $5",
        )
        .bind(i64::from(old.reason.code()))
        .bind(at)
        .bind(seq)
        .bind(officer.as_str())
        .bind(cert.id)
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO revocations (certificate_id, issuer, serial_norm, reason, \
             revoked_at, invalidity_date, released_at, change_seq, officer) \
             SELECT id, issuer, serial_norm, $1, $2, NULL, NULL, $3, $4 \
             FROM certificates WHERE id = $5",
        )
        .bind(i64::from(old.reason.code()))
        .bind(at)
        .bind(seq)
        .bind(officer.as_str())
        .bind(cert.id)
        .execute(&mut *tx)
        .await?;
    }
    let record = audit_record(&old.audit, &cert, old.reason, seq, hold_replaced);
    Ok((
        RevokedOld {
            certificate_id: cert.id,
            serial_hex: cert.serial_hex.clone(),
            reason: old.reason,
            revoked_at: at,
            kept: false,
            hold_replaced,
        },
        Some(record),
    ))
}

/// The caller's revocation record completed with the certificate and the change.
fn audit_record(
    template: &NewAudit,
    cert: &StoredCertificate,
    reason: RevocationReason,
    seq: i64,
    hold_replaced: bool,
) -> NewAudit {
    let mut record = template.clone();
    record.object = Some(cert.id.to_string());
    if !record.detail.is_object() {
        record.detail = json!({});
    }
    record.detail["serial"] = json!(cert.serial_hex);
    record.detail["subject"] = json!(cert.subject);
    record.detail["issuer"] = json!(cert.issuer);
    record.detail["reason"] = json!(reason.name());
    record.detail["change_seq"] = json!(seq);
    if hold_replaced {
        record.detail["replaced"] = json!(RevocationReason::CertificateHold.name());
    }
    record
}

/// What the issuance record says of the old certificates (its `revoked_old` detail).
pub(crate) fn summary(revoked: &[RevokedOld]) -> serde_json::Value {
    json!(revoked
        .iter()
        .map(|r| json!({
            "certificate_id": r.certificate_id,
            "serial": r.serial_hex,
            "reason": r.reason.name(),
            "kept": r.kept,
            "hold_replaced": r.hold_replaced,
        }))
        .collect::<Vec<_>>())
}
