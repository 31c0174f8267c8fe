//! The audit log's hash chain and seals, as stored: the record hash, raw records for
//! verification, and the seal table.
//!
//! Signing and verification live in the `keyward-audit` crate; the store only computes record
//! hashes (when it appends) and keeps seals.

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{now, Store, StoreError};

/// The advisory lock key serialising audit appends on PostgreSQL (`keywaudt` in ASCII).
const PG_AUDIT_LOCK: i64 = 0x6b65_7977_6175_6474;

/// Serialises audit appends until the end of the caller's transaction: an advisory lock on
/// PostgreSQL; nothing on SQLite, where the write transaction holds the database's write lock.
pub(crate) async fn lock(conn: &mut AnyConnection) -> Result<(), StoreError> {
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_AUDIT_LOCK)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Domain label of record hashes (version 1).
pub const AUDIT_HASH_LABEL: &str = "keyward-audit-v1";

/// The `prev_hash` of the first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A record's content as the hash covers it: every column but `hash`, with `detail` as the exact
/// JSON text stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditHashInput<'a> {
    /// Record ID.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Category, as stored.
    pub category: &'a str,
    /// Action.
    pub action: &'a str,
    /// Acting officer, if any.
    pub officer: Option<&'a str>,
    /// Outcome, as stored.
    pub outcome: &'a str,
    /// Object, if any.
    pub object: Option<&'a str>,
    /// Detail: the JSON text exactly as stored.
    pub detail: &'a str,
    /// The previous record's hash (lowercase hex), or [`GENESIS_HASH`].
    pub prev_hash: &'a str,
}

/// SHA-256 (lowercase hex) of a record: over the length-prefixed label [`AUDIT_HASH_LABEL`],
/// then `id` and `at` as 8-byte big-endian integers, then `category`, `action`, `officer`,
/// `outcome`, `object`, `detail` and `prev_hash`. A text field is its UTF-8 length (8-byte
/// big-endian) followed by its bytes; an optional field is one byte 0 when absent, else one
/// byte 1 followed by the text field. The encoding is unambiguous: no two different records
/// give the same input.
pub fn audit_hash(r: &AuditHashInput<'_>) -> String {
    fn text(h: &mut Sha256, s: &str) {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    }
    fn optional(h: &mut Sha256, s: Option<&str>) {
        match s {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                text(h, s);
            }
        }
    }
    let mut h = Sha256::new();
    text(&mut h, AUDIT_HASH_LABEL);
    h.update(r.id.to_be_bytes());
    h.update(r.at.to_be_bytes());
    text(&mut h, r.category);
    text(&mut h, r.action);
    optional(&mut h, r.officer);
    text(&mut h, r.outcome);
    optional(&mut h, r.object);
    text(&mut h, r.detail);
    text(&mut h, r.prev_hash);
    hex::encode(h.finalize())
}

/// A record exactly as stored (text columns unparsed), for verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedRecord {
    /// Record ID.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Category text.
    pub category: String,
    /// Action.
    pub action: String,
    /// Officer.
    pub officer: Option<String>,
    /// Outcome text.
    pub outcome: String,
    /// Object.
    pub object: Option<String>,
    /// Detail JSON text.
    pub detail: String,
    /// Stored `prev_hash` (`None` only if the column was cleared).
    pub prev_hash: Option<String>,
    /// Stored `hash` (`None` only if the column was cleared).
    pub hash: Option<String>,
}

impl ChainedRecord {
    /// The hash of this record's content as if it had ID `id` and previous hash `prev_hash`.
    pub fn hash_as(&self, id: i64, prev_hash: &str) -> String {
        audit_hash(&AuditHashInput {
            id,
            at: self.at,
            category: &self.category,
            action: &self.action,
            officer: self.officer.as_deref(),
            outcome: &self.outcome,
            object: self.object.as_deref(),
            detail: &self.detail,
            prev_hash,
        })
    }

    /// The hash its stored content and `prev_hash` give (what `hash` should hold).
    pub fn computed_hash(&self) -> String {
        self.hash_as(self.id, self.prev_hash.as_deref().unwrap_or(""))
    }
}

/// A seal: the audit key's signature over the hash of record `upto_id`, the head of the chain
/// when it was sealed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditSeal {
    /// Seal ID.
    pub id: i64,
    /// The last record sealed.
    pub upto_id: i64,
    /// Its hash, as signed.
    pub head_hash: String,
    /// The signing key's ID.
    pub key_id: String,
    /// ECDSA signature, DER (left out of JSON output).
    #[serde(skip)]
    pub signature: Vec<u8>,
    /// When sealed, Unix seconds.
    pub sealed_at: i64,
}

/// A seal to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditSeal {
    /// The last record sealed.
    pub upto_id: i64,
    /// Its hash.
    pub head_hash: String,
    /// The signing key's ID.
    pub key_id: String,
    /// The signature, DER.
    pub signature: Vec<u8>,
}

pub(crate) const CHAIN_COLUMNS: &str =
    "id, at, category, action, officer, outcome, object, detail, prev_hash, hash";

pub(crate) fn chained(row: &AnyRow) -> Result<ChainedRecord, StoreError> {
    Ok(ChainedRecord {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        category: row.try_get("category")?,
        action: row.try_get("action")?,
        officer: row.try_get("officer")?,
        outcome: row.try_get("outcome")?,
        object: row.try_get("object")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

const SEAL_COLUMNS: &str = "id, upto_id, head_hash, key_id, signature, sealed_at";

fn seal(row: &AnyRow) -> Result<AuditSeal, StoreError> {
    Ok(AuditSeal {
        id: row.try_get("id")?,
        upto_id: row.try_get("upto_id")?,
        head_hash: row.try_get("head_hash")?,
        key_id: row.try_get("key_id")?,
        signature: row.try_get("signature")?,
        sealed_at: row.try_get("sealed_at")?,
    })
}

/// The seal with the highest `upto_id`, on `conn`.
async fn last_seal(conn: &mut AnyConnection) -> Result<Option<AuditSeal>, StoreError> {
    let sql =
        format!("SELECT {SEAL_COLUMNS} FROM audit_seals ORDER BY upto_id DESC, id DESC LIMIT 1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(seal).transpose()
}

impl Store {
    /// Up to `limit` records (1..=10,000) with an ID above `after_id`, in ID order, exactly as
    /// stored: a page of the chain.
    pub async fn audit_chain_page(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ChainedRecord>, StoreError> {
        let sql = format!("SELECT {CHAIN_COLUMNS} FROM audit WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after_id)
            .bind(limit.clamp(1, 10_000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(chained).collect()
    }

    /// The newest record's ID and stored hash (`None` if the log is empty; the hash is `None`
    /// only if the column was cleared).
    pub async fn audit_head(&self) -> Result<Option<(i64, Option<String>)>, StoreError> {
        let row = sqlx::query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("hash")?)))
            .transpose()
    }

    /// How many records have an ID above `id` (the unsealed tail, given the last seal's
    /// `upto_id`; everything with 0).
    pub async fn count_audit_after(&self, id: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE id > $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The highest seal ID, if any: read before walking the chain, it bounds the seals a
    /// verification considers (a seal stored later may cover records the walk did not read).
    pub async fn max_audit_seal_id(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT MAX(id) FROM audit_seals")
            .fetch_one(&self.pool)
            .await?)
    }

    /// The seal reaching furthest (highest `upto_id`), if any.
    pub async fn last_audit_seal(&self) -> Result<Option<AuditSeal>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        last_seal(&mut conn).await
    }

    /// Up to `limit` seals (1..=10,000) after position `after` = (`upto_id`, `id`), ordered by
    /// `upto_id` then `id`: a page of the seals; start with `(i64::MIN, i64::MIN)`.
    pub async fn audit_seals_page(
        &self,
        after: (i64, i64),
        limit: i64,
    ) -> Result<Vec<AuditSeal>, StoreError> {
        let sql = format!(
            "SELECT {SEAL_COLUMNS} FROM audit_seals WHERE upto_id > $1 OR (upto_id = $1 AND id > $2) \
             ORDER BY upto_id, id LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after.0)
            .bind(after.1)
            .bind(limit.clamp(1, 10_000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(seal).collect()
    }

    /// Stores a seal, serialised with appends (the audit lock). Returns `None`, storing
    /// nothing, when a seal reaching as far exists already (another node sealed first).
    /// Refused as [`StoreError::Invalid`] when record `upto_id` does not exist or its hash is
    /// not `head_hash`, or the signature or key ID is empty.
    pub async fn insert_audit_seal(
        &self,
        new: &NewAuditSeal,
    ) -> Result<Option<AuditSeal>, StoreError> {
        if new.signature.is_empty() || new.key_id.is_empty() {
            return Err(StoreError::Invalid(
                "audit seal: empty signature or key ID".into(),
            ));
        }
        let mut tx = self.write_tx().await?;
        lock(&mut tx).await?;
        if last_seal(&mut tx)
            .await?
            .is_some_and(|s| s.upto_id >= new.upto_id)
        {
            return Ok(None);
        }
        let hash: Option<Option<String>> =
            sqlx::query_scalar("SELECT hash FROM audit WHERE id = $1")
                .bind(new.upto_id)
                .fetch_optional(&mut *tx)
                .await?;
        if hash.flatten().as_deref() != Some(new.head_hash.as_str()) {
            return Err(StoreError::Invalid(format!(
                "audit seal: record {} does not exist or has another hash",
                new.upto_id
            )));
        }
        let sql = format!(
            "INSERT INTO audit_seals (upto_id, head_hash, key_id, signature, sealed_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {SEAL_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new.upto_id)
            .bind(new.head_hash.as_str())
            .bind(new.key_id.as_str())
            .bind(new.signature.as_slice())
            .bind(now())
            .fetch_one(&mut *tx)
            .await?;
        let stored = seal(&row)?;
        tx.commit().await?;
        Ok(Some(stored))
    }
}
