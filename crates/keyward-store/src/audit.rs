//! The audit log: append-only, newest last.
//!
//! Every record goes through [`insert`], inside the transaction of the change it describes.
//! Hash chaining and signing come with the audit issue; they will hook in there (appends will
//! then need to be serialised: a lock on PostgreSQL, the write lock SQLite already takes).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::types::{AuditRecord, NewAudit};
use crate::{now, Store, StoreError};

/// Appends a record on `conn` (inside the caller's transaction) and returns its ID.
pub(crate) async fn insert(conn: &mut AnyConnection, rec: &NewAudit) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO audit (at, category, action, officer, outcome, object, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(now())
    .bind(rec.category.as_str())
    .bind(rec.action.as_str())
    .bind(rec.officer.as_deref())
    .bind(rec.outcome.as_str())
    .bind(rec.object.as_deref())
    .bind(rec.detail.to_string())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("id")?)
}

fn record(row: &AnyRow) -> Result<AuditRecord, StoreError> {
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
    })
}

impl Store {
    /// Appends one audit record in its own transaction (for events that change nothing else,
    /// such as refusals) and returns its ID.
    pub async fn append_audit(&self, rec: &NewAudit) -> Result<i64, StoreError> {
        let mut tx = self.write_tx().await?;
        let id = insert(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The newest `limit` records (none if `limit` < 1), oldest first and newest last.
    pub async fn audit_records(&self, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        if limit < 1 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT id, at, category, action, officer, outcome, object, detail FROM audit \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut records = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        records.reverse();
        Ok(records)
    }
}
