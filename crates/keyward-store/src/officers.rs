//! Officers: who may act, found by the SHA-256 fingerprint of their certificate.

use keyward_policy::roles::{format_roles, parse_roles};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::types::{NewAudit, NewOfficer, Officer};
use crate::{audit, now, ConflictOn, Store, StoreError};

const COLUMNS: &str = "id, name, cert_fingerprint, cert_der, roles, created_at, revoked_at";

const NAME: &str = "officer name";
const FINGERPRINT: &str = "officer certificate fingerprint";

fn officer(row: &AnyRow) -> Result<Officer, StoreError> {
    let name: String = row.try_get("name")?;
    let roles: String = row.try_get("roles")?;
    Ok(Officer {
        id: row.try_get("id")?,
        roles: parse_roles(&roles)
            .map_err(|e| StoreError::Corrupt(format!("officer {name:?}: roles: {e}")))?,
        name,
        cert_fingerprint: row.try_get("cert_fingerprint")?,
        cert_der: row.try_get("cert_der")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// A SHA-256 fingerprint in the stored form: 64 lowercase hex digits.
fn fingerprint(hex: &str) -> Result<String, StoreError> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(StoreError::Invalid(format!(
            "{FINGERPRINT}: expected 64 hex digits (SHA-256)"
        )));
    }
    Ok(hex.to_ascii_lowercase())
}

/// Which unique field a violation on the officers table concerns (for the rare race the
/// pre-check cannot see): PostgreSQL names the index, SQLite names the column.
fn conflict_field(e: &sqlx::Error) -> ConflictOn {
    let text = match e {
        sqlx::Error::Database(db) => db.constraint().unwrap_or(db.message()).to_string(),
        _ => String::new(),
    };
    if text.contains("fingerprint") {
        ConflictOn::OfficerFingerprint
    } else {
        ConflictOn::OfficerName
    }
}

impl Store {
    /// Registers an officer and appends `audit`, in one transaction. A name or certificate
    /// fingerprint already registered (even revoked) is a [`StoreError::Conflict`] naming it.
    pub async fn add_officer(
        &self,
        new: &NewOfficer,
        audit: &NewAudit,
    ) -> Result<Officer, StoreError> {
        if new.name.trim().is_empty() {
            return Err(StoreError::Invalid(format!("{NAME}: empty")));
        }
        let fingerprint = fingerprint(&new.cert_fingerprint)?;
        let mut tx = self.write_tx().await?;
        let taken = sqlx::query(
            "SELECT name, cert_fingerprint FROM officers WHERE name = $1 OR cert_fingerprint = $2",
        )
        .bind(new.name.as_str())
        .bind(fingerprint.as_str())
        .fetch_all(&mut *tx)
        .await?;
        if !taken.is_empty() {
            let mut field = ConflictOn::OfficerFingerprint;
            for row in &taken {
                if row.try_get::<String, _>("name")? == new.name {
                    field = ConflictOn::OfficerName;
                }
            }
            return Err(StoreError::Conflict(field));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO officers (name, cert_fingerprint, cert_der, roles, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        )))
        .bind(new.name.as_str())
        .bind(fingerprint.as_str())
        .bind(new.cert_der.as_slice())
        .bind(format_roles(&new.roles))
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict(conflict_field(&e))
            } else {
                StoreError::Database(e)
            }
        })?;
        let created = officer(&row)?;
        audit::insert(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The officer whose certificate has this SHA-256 fingerprint (hex, any case), revoked or
    /// not.
    pub async fn officer_by_fingerprint(
        &self,
        sha256_hex: &str,
    ) -> Result<Option<Officer>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM officers WHERE cert_fingerprint = $1"
        )))
        .bind(sha256_hex.trim().to_ascii_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(officer).transpose()
    }

    /// The officer with this name, revoked or not.
    pub async fn officer_by_name(&self, name: &str) -> Result<Option<Officer>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM officers WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(officer).transpose()
    }

    /// Every officer, revoked ones included, ordered by name.
    pub async fn list_officers(&self) -> Result<Vec<Officer>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM officers ORDER BY name"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(officer).collect()
    }

    /// Revokes the active officer `name` (sets `revoked_at`) and appends `audit`, in one
    /// transaction. Returns `false`, writing nothing, if there is no active officer by that name.
    pub async fn revoke_officer(&self, name: &str, audit: &NewAudit) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let changed = sqlx::query(
            "UPDATE officers SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            tx.rollback().await?;
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
    fn fingerprints() {
        let upper = "AB".repeat(32);
        assert_eq!(fingerprint(&upper).unwrap(), "ab".repeat(32));
        assert!(matches!(fingerprint("abc"), Err(StoreError::Invalid(_))));
        assert!(matches!(
            fingerprint(&"zz".repeat(32)),
            Err(StoreError::Invalid(_))
        ));
    }
}
