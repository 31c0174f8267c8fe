//! Published CRLs and leases (migration 0013).
//!
//! A CRL is recorded with its audit record in one transaction, so that every node serves the
//! latest one from the database and the audit log names every CRL signed. A lease lets one
//! node of several sharing the database do a periodic job (publishing CRLs): it is taken with
//! one upsert that only succeeds when the lease is free, expired or already the caller's.

use std::time::Duration;

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::types::{AuditCategory, NewAudit, Outcome};
use crate::{audit, now, Store, StoreError};

/// Which CRL of a CA: the full CRL or its delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrlKind {
    /// A full CRL: every revocation in force.
    Full,
    /// A delta CRL (RFC 5280 §5.2.4): the changes since its base full CRL.
    Delta,
}

impl CrlKind {
    /// `full` or `delta` (audit detail, JSON output).
    pub fn as_str(self) -> &'static str {
        match self {
            CrlKind::Full => "full",
            CrlKind::Delta => "delta",
        }
    }
}

/// A signed CRL to record.
#[derive(Debug, Clone, Copy)]
pub struct NewCrl<'a> {
    /// The CA's name, as certificates record their issuer.
    pub ca: &'a str,
    /// Its cRLNumber (from [`Store::next_crl_number`]).
    pub number: i64,
    /// For a delta CRL, the number of its base full CRL; `None` for a full CRL.
    pub base_number: Option<i64>,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds.
    pub next_update: i64,
    /// The last revocation change it covers (the number's [`crate::CrlNumber::changes_upto`]).
    pub changes_upto: i64,
    /// Entries listed (for the audit record).
    pub entries: u64,
    /// The signed CRL, DER.
    pub der: &'a [u8],
}

/// What the store knows of a recorded CRL, besides its DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlFacts {
    /// The CA's name.
    pub ca: String,
    /// Its cRLNumber.
    pub number: i64,
    /// For a delta CRL, its base's number.
    pub base_number: Option<i64>,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds.
    pub next_update: i64,
    /// The last revocation change it covers.
    pub changes_upto: i64,
    /// When it was recorded, Unix seconds.
    pub created_at: i64,
}

impl CrlFacts {
    /// Full or delta.
    pub fn kind(&self) -> CrlKind {
        match self.base_number {
            None => CrlKind::Full,
            Some(_) => CrlKind::Delta,
        }
    }
}

/// A recorded CRL.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCrl {
    /// Its number, times and coverage.
    pub facts: CrlFacts,
    /// The signed CRL, DER.
    pub der: Vec<u8>,
}

impl std::fmt::Debug for StoredCrl {
    // The DER is public but long: its size says enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCrl")
            .field("facts", &self.facts)
            .field("der_len", &self.der.len())
            .finish()
    }
}

/// The columns of [`facts`].
const FACT_COLUMNS: &str =
    "ca, number, base_number, this_update, next_update, changes_upto, created_at";

/// The condition picking one kind of CRL.
fn kind_condition(kind: CrlKind) -> &'static str {
    match kind {
        CrlKind::Full => "base_number IS NULL",
        CrlKind::Delta => "base_number IS NOT NULL",
    }
}

fn facts(row: &AnyRow) -> Result<CrlFacts, StoreError> {
    Ok(CrlFacts {
        ca: row.try_get("ca")?,
        number: row.try_get("number")?,
        base_number: row.try_get("base_number")?,
        this_update: row.try_get("this_update")?,
        next_update: row.try_get("next_update")?,
        changes_upto: row.try_get("changes_upto")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Records a signed CRL and its audit record (`issue-crl`, certificates revoked: number,
    /// kind, entries, times) in one transaction. A number recorded before for the CA is
    /// [`StoreError::Invalid`], naming it.
    pub async fn record_crl(&self, crl: &NewCrl<'_>) -> Result<(), StoreError> {
        let at = now();
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO crls (ca, number, base_number, this_update, next_update, changes_upto, \
             der, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (ca, number) DO NOTHING",
        )
        .bind(crl.ca)
        .bind(crl.number)
        .bind(crl.base_number)
        .bind(crl.this_update)
        .bind(crl.next_update)
        .bind(crl.changes_upto)
        .bind(crl.der)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted != 1 {
            return Err(StoreError::Invalid(format!(
                "crl.number: CRL number {} of {} is already recorded",
                crl.number, crl.ca
            )));
        }
        let kind = match crl.base_number {
            None => CrlKind::Full,
            Some(_) => CrlKind::Delta,
        };
        let record = NewAudit {
            category: AuditCategory::CertificatesRevoked,
            action: "issue-crl".into(),
            officer: None,
            outcome: Outcome::Success,
            object: Some(crl.number.to_string()),
            detail: json!({
                "ca": crl.ca,
                "number": crl.number,
                "kind": kind.as_str(),
                "base_number": crl.base_number,
                "entries": crl.entries,
                "this_update": crl.this_update,
                "next_update": crl.next_update,
                "changes_upto": crl.changes_upto,
                "size": crl.der.len(),
            }),
        };
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest (highest-numbered) CRL of `kind` recorded for CA `ca`, if any.
    pub async fn latest_crl(
        &self,
        ca: &str,
        kind: CrlKind,
    ) -> Result<Option<StoredCrl>, StoreError> {
        let sql = format!(
            "SELECT {FACT_COLUMNS}, der FROM crls WHERE ca = $1 AND {} \
             ORDER BY number DESC LIMIT 1",
            kind_condition(kind)
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ca)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(StoredCrl {
                facts: facts(&row)?,
                der: row.try_get("der")?,
            })
        })
        .transpose()
    }

    /// What [`Store::latest_crl`] would return, without the DER: what a publisher's schedule
    /// and a cache of served CRLs compare with.
    pub async fn latest_crl_facts(
        &self,
        ca: &str,
        kind: CrlKind,
    ) -> Result<Option<CrlFacts>, StoreError> {
        let sql = format!(
            "SELECT {FACT_COLUMNS} FROM crls WHERE ca = $1 AND {} ORDER BY number DESC LIMIT 1",
            kind_condition(kind)
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ca)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(facts).transpose()
    }

    /// Takes or renews the lease `name` for `holder` until `ttl` from now: `true` when it was
    /// free, expired or already `holder`'s, `false` while another holder's is running. One
    /// upsert, so that of several nodes racing on one database exactly one wins.
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let at = now();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let mut tx = self.write_tx().await?;
        let won: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4 \
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(at.saturating_add(ttl))
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(won.as_deref() == Some(holder))
    }

    /// Gives up the lease `name` if `holder` holds it (a node shutting down), so that another
    /// node takes it at once rather than when it expires. Returns whether it was held.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let released = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(released == 1)
    }
}
