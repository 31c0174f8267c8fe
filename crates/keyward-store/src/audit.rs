//! The audit log: append-only and hash-chained, newest last.
//!
//! Every record goes through [`insert`], inside the transaction of the change it describes. Each
//! record carries `prev_hash`, the hash of the record before it in ID order, and `hash`, see
//! [`crate::audit_hash`]. Appends are serialised so that ID order and chain order agree: SQLite's
//! write transaction (`BEGIN IMMEDIATE`) already holds the database's write lock; on PostgreSQL
//! [`lock`] takes a transaction-level advisory lock, which every server node sharing the database
//! takes before it appends or seals.

use sqlx::{AnyConnection, Row};

use crate::audit_chain::{audit_hash, chained, lock, AuditHashInput, CHAIN_COLUMNS, GENESIS_HASH};
use crate::audit_search::object_keys;
use crate::rows::{record, RECORD_COLUMNS};
use crate::types::{AuditRecord, NewAudit};
use crate::{now, Store, StoreError};

/// The newest record's hash on `conn`: [`GENESIS_HASH`] for an empty log. Records left without
/// a hash (appended before the chain existed) are chained first.
async fn head_hash(conn: &mut AnyConnection) -> Result<String, StoreError> {
    let head: Option<(i64, Option<String>)> =
        sqlx::query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| Ok::<_, StoreError>((r.try_get("id")?, r.try_get("hash")?)))
            .transpose()?;
    match head {
        None => Ok(GENESIS_HASH.to_string()),
        Some((_, Some(hash))) => Ok(hash),
        Some((id, None)) => chain_unhashed(conn).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("audit record {id}: no hash after chaining"))
        }),
    }
}

/// Chains the records after the last hashed one (those appended before migration 0005) and
/// indexes their objects; returns the new head hash, if any record was chained. Runs under
/// [`lock`].
async fn chain_unhashed(conn: &mut AnyConnection) -> Result<Option<String>, StoreError> {
    let last: Option<(i64, String)> =
        sqlx::query("SELECT id, hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| Ok::<_, StoreError>((r.try_get("id")?, r.try_get("hash")?)))
            .transpose()?;
    let (mut after, mut prev) = last.unwrap_or((0, GENESIS_HASH.to_string()));
    let mut head = None;
    loop {
        let sql = format!("SELECT {CHAIN_COLUMNS} FROM audit WHERE id > $1 ORDER BY id LIMIT 1000");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .fetch_all(&mut *conn)
            .await?;
        if rows.is_empty() {
            return Ok(head);
        }
        for row in &rows {
            let rec = chained(row)?;
            let hash = rec.hash_as(rec.id, &prev);
            sqlx::query("UPDATE audit SET prev_hash = $1, hash = $2 WHERE id = $3")
                .bind(prev.as_str())
                .bind(hash.as_str())
                .bind(rec.id)
                .execute(&mut *conn)
                .await?;
            let detail = serde_json::from_str(&rec.detail).unwrap_or(serde_json::Value::Null);
            index_objects(conn, rec.id, rec.object.as_deref(), &detail).await?;
            after = rec.id;
            prev = hash;
            head = Some(prev.clone());
        }
    }
}

/// Writes the search keys of record `id`.
async fn index_objects(
    conn: &mut AnyConnection,
    id: i64,
    object: Option<&str>,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    let keys = object_keys(object, detail);
    if keys.is_empty() {
        return Ok(());
    }
    // One statement for all keys: $1 is the record ID, $2… the keys.
    let values: Vec<String> = (0..keys.len())
        .map(|i| format!("(${}, $1)", i + 2))
        .collect();
    let sql = format!(
        "INSERT INTO audit_objects (object_key, audit_id) VALUES {} ON CONFLICT DO NOTHING",
        values.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
    for key in keys {
        query = query.bind(key);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Appends a record on `conn` (inside the caller's write transaction) and returns its ID: takes
/// the audit lock, reads the head hash, inserts the record with it as `prev_hash`, then stores
/// the record's hash (its ID is part of the hash) and its search keys.
pub(crate) async fn insert(conn: &mut AnyConnection, rec: &NewAudit) -> Result<i64, StoreError> {
    lock(conn).await?;
    let prev = head_hash(conn).await?;
    let at = now();
    let detail = rec.detail.to_string();
    let row = sqlx::query(
        "INSERT INTO audit (at, category, action, officer, outcome, object, detail, prev_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(at)
    .bind(rec.category.as_str())
    .bind(rec.action.as_str())
    .bind(rec.officer.as_deref())
    .bind(rec.outcome.as_str())
    .bind(rec.object.as_deref())
    .bind(detail.as_str())
    .bind(prev.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = row.try_get("id")?;
    let hash = audit_hash(&AuditHashInput {
        id,
        at,
        category: rec.category.as_str(),
        action: &rec.action,
        officer: rec.officer.as_deref(),
        outcome: rec.outcome.as_str(),
        object: rec.object.as_deref(),
        detail: &detail,
        prev_hash: &prev,
    });
    sqlx::query("UPDATE audit SET hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    index_objects(conn, id, rec.object.as_deref(), &rec.detail).await?;
    Ok(id)
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
        let sql = format!("SELECT {RECORD_COLUMNS} FROM audit ORDER BY id DESC LIMIT $1");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut records = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        records.reverse();
        Ok(records)
    }

    /// Chains records appended before the hash chain existed (migration 0005), if the newest
    /// record has no hash. Called when the store opens.
    pub(crate) async fn chain_legacy_audit(&self) -> Result<(), StoreError> {
        let head: Option<Option<String>> =
            sqlx::query_scalar("SELECT hash FROM audit ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        if matches!(head, Some(None)) {
            let mut tx = self.write_tx().await?;
            lock(&mut tx).await?;
            chain_unhashed(&mut tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}
