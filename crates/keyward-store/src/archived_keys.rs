//! Archived keys: recorded with the certificate issued when the key was created (see
//! [`Store::record_token`]), found through that certificate.
//!
//! The store never sees a key in clear: it keeps the KRA's envelope (`sealed`) as opaque bytes
//! and never writes it to the audit log or to `Debug` output.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::rows::certificate_columns;
use crate::types::{
    ArchivedKey, ArchivedKeyQuery, AuditCategory, NewArchivedKey, NewAudit, NewCertificate,
    Outcome, StoredCertificate,
};
use crate::{Store, StoreError};

/// The archived-key columns of a search, aliased where a certificate column has the same name.
const COLUMNS: &str = "k.id AS archived_key_id, k.key_procedure, k.key_spec, \
     k.key_usage AS archived_key_usage, k.kek_id, k.sealed, k.archived_at";

/// Refuses a key that cannot be archived with `cert`: an empty envelope or archive key ID, or
/// a key usage other than the certificate's.
pub(crate) fn check(cert: &NewCertificate, key: &NewArchivedKey) -> Result<(), StoreError> {
    let invalid = |why: &str| {
        Err(StoreError::Invalid(format!(
            "archived key of certificate serial {:?}: {why}",
            cert.serial_hex
        )))
    };
    if key.sealed.is_empty() {
        return invalid("empty sealed envelope");
    }
    if key.kek_id.is_empty() {
        return invalid("empty archive key ID");
    }
    if key.key_usage != cert.key_usage {
        return invalid(&format!(
            "key usage {:?} differs from the certificate's {:?}",
            key.key_usage, cert.key_usage
        ));
    }
    Ok(())
}

/// Inserts the archived key of Certificate `certificate_id` on `conn` (inside the caller's
/// transaction).
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    certificate_id: i64,
    key: &NewArchivedKey,
    archived_at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO archived_keys (certificate_id, key_procedure, key_spec, key_usage, kek_id, \
         sealed, archived_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(certificate_id)
    .bind(key.key_procedure.as_str())
    .bind(key.key_spec.as_str())
    .bind(key.key_usage.as_str())
    .bind(key.kek_id.as_str())
    .bind(key.sealed.as_slice())
    .bind(archived_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The `archive-key` audit record of `key`, archived with `cert`: everything but the envelope.
pub(crate) fn audit_record(cert: &StoredCertificate, key: &NewArchivedKey) -> NewAudit {
    NewAudit {
        category: AuditCategory::KeysArchived,
        action: "archive-key".into(),
        officer: Some(cert.officer.clone()),
        outcome: Outcome::Success,
        object: Some(cert.id.to_string()),
        detail: json!({
            "serial": cert.serial_hex,
            "subject": cert.subject,
            "token_procedure": cert.token_procedure,
            "key_procedure": key.key_procedure,
            "key_spec": key.key_spec,
            "kek_id": key.kek_id,
        }),
    }
}

fn archived_key(row: &AnyRow) -> Result<ArchivedKey, StoreError> {
    Ok(ArchivedKey {
        id: row.try_get("archived_key_id")?,
        certificate: crate::revocations::certificate_with_status(row)?,
        key_procedure: row.try_get("key_procedure")?,
        key_spec: row.try_get("key_spec")?,
        key_usage: row.try_get("archived_key_usage")?,
        kek_id: row.try_get("kek_id")?,
        sealed: row.try_get("sealed")?,
        archived_at: row.try_get("archived_at")?,
    })
}

impl Store {
    /// Finds archived keys whose certificate (the one issued when the key was created) matches
    /// every criterion given, ordered by Certificate ID, ascending (the last is the newest): the
    /// Certificate ID exactly, the serial number (hex; case, leading zeros and `:` ignored), a
    /// case-insensitive substring of the subject, the whole subject compared case-insensitively,
    /// and the key usage definition as exact text. At most `limit` rows (default 100, at most
    /// 1000): the newest ones.
    pub async fn find_archived_keys(
        &self,
        q: &ArchivedKeyQuery,
    ) -> Result<Vec<ArchivedKey>, StoreError> {
        let mut search = crate::search::Search::certificates(
            self.engine,
            &format!("{}, {COLUMNS}", certificate_columns(Some("c"))),
            "JOIN archived_keys k ON k.certificate_id = c.id",
            &crate::search::CertificateCriteria {
                id: q.certificate_id,
                serial_hex: q.serial_hex.as_deref(),
                subject: q.subject.as_deref(),
                status: q.status,
            },
        )?;
        if let Some(subject) = &q.subject_exact {
            search.and_text("c.subject_lower = {}", subject.to_lowercase());
        }
        if let Some(key_usage) = &q.key_usage {
            search.and_text("k.key_usage = {}", key_usage.clone());
        }
        // Newest first inside the query, so that `limit` keeps the newest keys.
        let query = search.query(true, q.limit);
        let rows = query.fetch_all(&self.pool).await?;
        let mut keys = rows
            .iter()
            .map(archived_key)
            .collect::<Result<Vec<_>, _>>()?;
        keys.reverse();
        Ok(keys)
    }
}
