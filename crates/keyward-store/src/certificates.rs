//! Certificates: recorded at issuance, found by Certificate ID, serial number or subject.

use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::types::{CertificateQuery, NewAudit, NewCertificate, StoredCertificate};
use crate::{audit, now, Store, StoreError};

const COLUMNS: &str = "id, serial_hex, subject, issuer, not_before, not_after, der, \
     certificate_procedure, token_procedure, key_origin, key_usage, officer, email, issued_at";

const KEY_ORIGINS: [&str; 4] = ["local", "server", "archived", "recovered"];

/// The searchable form of a hex serial number: lowercase, no leading zeros, so `00AB`,
/// `0x00ab` and `00:ab` are all `ab`.
fn normalize_serial(hex: &str) -> Result<String, StoreError> {
    let hex = hex.trim();
    let hex = hex
        .strip_prefix("0x")
        .or_else(|| hex.strip_prefix("0X"))
        .unwrap_or(hex);
    let digits: String = hex.chars().filter(|&c| c != ':').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(StoreError::Invalid(
            "certificate serial: expected hex digits".into(),
        ));
    }
    let trimmed = digits.trim_start_matches('0').to_ascii_lowercase();
    Ok(if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed
    })
}

/// A `LIKE` pattern matching `text` anywhere, with `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn certificate(row: &AnyRow) -> Result<StoredCertificate, StoreError> {
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
    })
}

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
    /// Records certificates and their audit record in one transaction: all or nothing.
    ///
    /// Certificate IDs come from the database, in the order of `certs`. The audit record's
    /// `object` becomes the new Certificate IDs joined by `,` and its `detail` gets a `serials`
    /// array. A serial number recorded before is a [`StoreError::Conflict`] and nothing is
    /// written.
    pub async fn record_issuance(
        &self,
        certs: &[NewCertificate],
        audit: &NewAudit,
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        if certs.is_empty() {
            return Err(StoreError::Invalid("certificates: none to record".into()));
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
            normalized.push(normalize_serial(&c.serial_hex)?);
        }
        let issued_at = now();
        let insert = format!(
            "INSERT INTO certificates (serial_hex, serial_norm, subject, subject_lower, issuer, \
             not_before, not_after, der, certificate_procedure, token_procedure, key_origin, \
             key_usage, officer, email, issued_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             RETURNING {COLUMNS}"
        );
        let mut tx = self.write_tx().await?;
        let mut stored = Vec::with_capacity(certs.len());
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
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::unique("certificate serial"))?;
            stored.push(certificate(&row)?);
        }
        let ids: Vec<String> = stored.iter().map(|c| c.id.to_string()).collect();
        let serials = stored.iter().map(|c| c.serial_hex.clone()).collect();
        let record = NewAudit {
            object: Some(ids.join(",")),
            detail: detail_with_serials(&audit.detail, serials),
            ..audit.clone()
        };
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Finds certificates matching every criterion given, ordered by Certificate ID: the ID
    /// exactly, the serial number (hex; case, leading zeros and `:` ignored), and a
    /// case-insensitive substring of the subject. At most `limit` rows (default 100, at most
    /// 1000).
    pub async fn find_certificates(
        &self,
        q: &CertificateQuery,
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        let serial = q.serial_hex.as_deref().map(normalize_serial).transpose()?;
        let mut sql = format!("SELECT {COLUMNS} FROM certificates WHERE 1 = 1");
        let mut n = 0;
        let mut placeholder = || {
            n += 1;
            format!("${n}")
        };
        if q.id.is_some() {
            sql += &format!(" AND id = {}", placeholder());
        }
        if serial.is_some() {
            sql += &format!(" AND serial_norm = {}", placeholder());
        }
        if q.subject.is_some() {
            sql += &format!(" AND subject_lower LIKE {} ESCAPE '\\'", placeholder());
        }
        sql += &format!(" ORDER BY id LIMIT {}", placeholder());

        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(id) = q.id {
            query = query.bind(id);
        }
        if let Some(serial) = serial {
            query = query.bind(serial);
        }
        if let Some(subject) = &q.subject {
            query = query.bind(contains_pattern(subject));
        }
        query = query.bind(q.limit.unwrap_or(100).clamp(1, 1000));
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(certificate).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials() {
        assert_eq!(normalize_serial("00AbC").unwrap(), "abc");
        assert_eq!(normalize_serial(" 0x00:ab:CD ").unwrap(), "abcd");
        assert_eq!(normalize_serial("000").unwrap(), "0");
        assert!(matches!(normalize_serial(""), Err(StoreError::Invalid(_))));
        assert!(matches!(
            normalize_serial("12g"),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn patterns() {
        assert_eq!(contains_pattern("50%_A\\"), "%50\\%\\_a\\\\%");
        assert_eq!(contains_pattern("ÄBC"), "%äbc%");
    }

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
