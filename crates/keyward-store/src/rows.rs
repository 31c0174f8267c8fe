//! Row mappers shared by several modules: a certificate (certificates, archived keys) and an
//! audit record (the log, its search).

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit_chain::CHAIN_COLUMNS;
use crate::types::{AuditRecord, StoredCertificate};
use crate::StoreError;

/// The columns [`certificate`] reads.
const COLUMNS: [&str; 15] = [
    "id",
    "serial_hex",
    "subject",
    "issuer",
    "not_before",
    "not_after",
    "der",
    "certificate_procedure",
    "token_procedure",
    "key_origin",
    "key_usage",
    "officer",
    "email",
    "issued_at",
    "recovered_from",
];

/// The select list for [`certificate`], each column qualified with `table` if given (`c` gives
/// `c.id, c.serial_hex, …`); the result columns keep their names, so a join must alias any
/// other column of the same name.
pub(crate) fn certificate_columns(table: Option<&str>) -> String {
    let qualified = COLUMNS.map(|column| match table {
        Some(table) => format!("{table}.{column}"),
        None => column.to_string(),
    });
    qualified.join(", ")
}

/// A certificate from a row holding the [`certificate_columns`].
pub(crate) fn certificate(row: &AnyRow) -> Result<StoredCertificate, StoreError> {
    Ok(StoredCertificate {
        id: row.try_get("id")?,
        serial_hex: row.try_get("serial_hex")?,
        subject: row.try_get("subject")?,
        issuer: row.try_get("issuer")?,
        not_before: row.try_get("not_before")?,
        not_after: row.try_get("not_after")?,
        der: row.try_get("der")?,
        certificate_procedure: row.try_get("certificate_procedure")?,
        token_procedure: row.try_get("token_procedure")?,
        key_origin: row.try_get("key_origin")?,
        key_usage: row.try_get("key_usage")?,
        officer: row.try_get("officer")?,
        email: row.try_get("email")?,
        issued_at: row.try_get("issued_at")?,
        recovered_from: row.try_get("recovered_from")?,
        revocation: None,
    })
}

/// The columns [`record`] reads.
pub(crate) const RECORD_COLUMNS: &str = CHAIN_COLUMNS;

/// An audit record from a row holding the [`RECORD_COLUMNS`].
pub(crate) fn record(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    let id: i64 = row.try_get("id")?;
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("audit record {id}: {what}: {e}"))
    };
    let category: String = row.try_get("category")?;
    let outcome: String = row.try_get("outcome")?;
    let detail: String = row.try_get("detail")?;
    Ok(AuditRecord {
        id,
        at: row.try_get("at")?,
        category: category.parse().map_err(|e| corrupt("category", &e))?,
        action: row.try_get("action")?,
        officer: row.try_get("officer")?,
        outcome: outcome.parse().map_err(|e| corrupt("outcome", &e))?,
        object: row.try_get("object")?,
        detail: serde_json::from_str(&detail).map_err(|e| corrupt("detail", &e))?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns() {
        assert!(certificate_columns(None).starts_with("id, serial_hex, subject, "));
        assert!(certificate_columns(Some("c")).starts_with("c.id, c.serial_hex, c.subject, "));
        assert!(
            certificate_columns(Some("c")).ends_with(", c.email, c.issued_at, c.recovered_from")
        );
    }
}
