//! Versions of procedures.toml: each load replaces the procedures, records the text with its
//! SHA-256 as the next version and appends its audit record, in one transaction.

use std::collections::BTreeSet;

use keyward_policy::ProcedureSet;
use sqlx::{AnyConnection, Row};

use crate::procedures::write_procedures;
use crate::types::NewAudit;
use crate::{audit, audit_chain, now, ConflictOn, Store, StoreError};

/// A version of procedures.toml as stored (the highest version is in force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcedureVersion {
    /// 1, 2, …
    pub version: i64,
    /// SHA-256 of `source`, lowercase hex.
    pub sha256: String,
    /// The text as loaded.
    pub source: String,
    /// Who loaded it.
    pub loaded_by: String,
    /// When (Unix seconds).
    pub loaded_at: i64,
}

/// A version of procedures.toml to load.
#[derive(Debug, Clone, Copy)]
pub struct NewProcedureVersion<'a> {
    /// The procedures, validated ([`ProcedureSet::validate`]).
    pub set: &'a ProcedureSet,
    /// The text they were parsed from.
    pub source: &'a str,
    /// SHA-256 of `source`, lowercase hex.
    pub sha256: &'a str,
    /// Who loads it.
    pub loaded_by: &'a str,
    /// The version the caller compared against (its diff is in the audit record), `None` when
    /// there was none: the load is refused with [`ConflictOn::ProcedureVersion`] if another
    /// version was loaded meanwhile.
    pub previous: Option<i64>,
}

impl Store {
    /// The version of the procedures in force, `None` before the first versioned load.
    pub async fn current_procedure_version(&self) -> Result<Option<ProcedureVersion>, StoreError> {
        let row = sqlx::query(
            "SELECT version, sha256, source, loaded_by, loaded_at FROM procedure_versions \
             ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ProcedureVersion {
                version: row.try_get("version")?,
                sha256: row.try_get("sha256")?,
                source: row.try_get("source")?,
                loaded_by: row.try_get("loaded_by")?,
                loaded_at: row.try_get("loaded_at")?,
            })
        })
        .transpose()
    }

    /// Replaces every procedure with those of `new.set`, records `new` as the next version and
    /// appends `audit` (its detail, a JSON object, gets `"version"`), in one transaction.
    /// Returns the new version.
    ///
    /// Refused ([`StoreError::Invalid`], naming the procedure and what still needs it) when the
    /// new set lacks a token procedure named by an open (pending or approved, not expired)
    /// recovery request, or a PIN procedure of unused PIN letters: those could never be used
    /// any more.
    pub async fn load_procedure_version(
        &self,
        new: &NewProcedureVersion<'_>,
        audit: &NewAudit,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write_tx().await?;
        // The audit lock (PostgreSQL) also serializes loads: the version read below cannot
        // change before this transaction commits.
        audit_chain::lock(&mut tx).await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM procedure_versions")
                .fetch_one(&mut *tx)
                .await?;
        if current != new.previous {
            return Err(StoreError::Conflict(ConflictOn::ProcedureVersion(current)));
        }
        check_references(&mut tx, new.set).await?;
        write_procedures(&mut tx, new.set).await?;
        let version = current.unwrap_or(0) + 1;
        sqlx::query(
            "INSERT INTO procedure_versions (version, sha256, source, loaded_by, loaded_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(version)
        .bind(new.sha256)
        .bind(new.source)
        .bind(new.loaded_by)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::unique(ConflictOn::ProcedureVersion(Some(
            version,
        ))))?;
        let mut record = audit.clone();
        if let Some(detail) = record.detail.as_object_mut() {
            detail.insert("version".into(), version.into());
        }
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(version)
    }
}

/// Refuses a set that lacks a procedure the database still needs (see
/// [`Store::load_procedure_version`]).
async fn check_references(conn: &mut AnyConnection, set: &ProcedureSet) -> Result<(), StoreError> {
    let tokens: BTreeSet<&str> = set.token.iter().map(|t| t.name.as_str()).collect();
    let pins: BTreeSet<&str> = set.pin.iter().map(|p| p.name.as_str()).collect();
    let open: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT token_procedure FROM approvals \
         WHERE state IN ('pending', 'approved') AND expires_at >= $1 ORDER BY token_procedure",
    )
    .bind(now())
    .fetch_all(&mut *conn)
    .await?;
    let mut needed = Vec::new();
    for name in open.iter().filter(|n| !tokens.contains(n.as_str())) {
        needed.push(format!(
            "token procedure {name} is named by an open recovery approval request"
        ));
    }
    let letters: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT pin_procedure FROM pin_letters WHERE used_at IS NULL \
         ORDER BY pin_procedure",
    )
    .fetch_all(&mut *conn)
    .await?;
    for name in letters.iter().filter(|n| !pins.contains(n.as_str())) {
        needed.push(format!("PIN procedure {name} has unused PIN letters"));
    }
    if needed.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "procedures: cannot remove what is still in use: {}",
            needed.join("; ")
        )))
    }
}
