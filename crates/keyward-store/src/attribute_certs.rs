//! Attribute certificates (RFC 5755): recorded in the transaction of their holder certificate
//! (see [`Store::record_token`]), found by that certificate.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::search::normalize_serial;
use crate::types::{
    AuditCategory, NewAttributeCertificate, NewAudit, Outcome, StoredAttributeCertificate,
    StoredCertificate,
};
use crate::{ConflictOn, Store, StoreError};

/// Refuses an attribute certificate that cannot be recorded: no DER, a bad serial or validity.
pub(crate) fn check(ac: &NewAttributeCertificate) -> Result<(), StoreError> {
    let invalid = |why: &str| {
        Err(StoreError::Invalid(format!(
            "attribute certificate serial {:?}: {why}",
            ac.serial_hex
        )))
    };
    if ac.der.is_empty() {
        return invalid("empty DER");
    }
    if ac.not_after < ac.not_before {
        return invalid("validity ends before it starts");
    }
    if ac.procedure.is_empty() {
        return invalid("no procedure");
    }
    normalize_serial(&ac.serial_hex).map(|_| ())
}

/// Inserts `ac`, held by Certificate `holder_id`, on `conn` (inside the caller's transaction).
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    holder_id: i64,
    ac: &NewAttributeCertificate,
    issued_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO attribute_certificates (holder_certificate_id, serial_hex, procedure, \
         not_before, not_after, der, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(holder_id)
    .bind(ac.serial_hex.trim())
    .bind(ac.procedure.as_str())
    .bind(ac.not_before)
    .bind(ac.not_after)
    .bind(ac.der.as_slice())
    .bind(issued_at)
    .execute(conn)
    .await
    .map_err(StoreError::unique(ConflictOn::AttributeCertificateSerial))?;
    Ok(())
}

/// The `issue-attribute-certificate` audit record of `ac`, held by `holder`.
pub(crate) fn audit_record(holder: &StoredCertificate, ac: &NewAttributeCertificate) -> NewAudit {
    NewAudit {
        category: AuditCategory::CertificatesIssued,
        action: "issue-attribute-certificate".into(),
        officer: Some(holder.officer.clone()),
        outcome: Outcome::Success,
        object: Some(holder.id.to_string()),
        detail: json!({
            "serial": ac.serial_hex,
            "attribute_certificate_procedure": ac.procedure,
            "holder_serial": holder.serial_hex,
            "subject": holder.subject,
            "token_procedure": holder.token_procedure,
        }),
    }
}

fn attribute_certificate(row: &AnyRow) -> Result<StoredAttributeCertificate, StoreError> {
    Ok(StoredAttributeCertificate {
        id: row.try_get("id")?,
        holder_certificate_id: row.try_get("holder_certificate_id")?,
        serial_hex: row.try_get("serial_hex")?,
        procedure: row.try_get("procedure")?,
        not_before: row.try_get("not_before")?,
        not_after: row.try_get("not_after")?,
        der: row.try_get("der")?,
        issued_at: row.try_get("issued_at")?,
    })
}

impl Store {
    /// The attribute certificates held by Certificate `holder_id`, oldest first.
    pub async fn attribute_certificates_of(
        &self,
        holder_id: i64,
    ) -> Result<Vec<StoredAttributeCertificate>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, holder_certificate_id, serial_hex, procedure, not_before, not_after, der, \
             issued_at FROM attribute_certificates WHERE holder_certificate_id = $1 ORDER BY id",
        )
        .bind(holder_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attribute_certificate).collect()
    }
}
