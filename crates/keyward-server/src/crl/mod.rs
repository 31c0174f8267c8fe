//! CRL publishing: the [`CrlPublisher`] holds the issuing CA (to sign) and the store (to read
//! revocations, take CRL numbers and record what it signs), nothing else. A full or delta CRL
//! is built by streaming the store's rows into the CA's [`CrlWriter`](keyward_ca::CrlWriter),
//! recorded with its audit record, and written to `crl.publish-dir`. [`schedule`] decides when
//! and runs the publisher on the node holding the `crl-publisher` lease.

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::TryStreamExt;

use keyward_ca::{CaError, CertificateAuthority, CrlEntry, CrlParams};
use keyward_store::{CrlKind, NewCrl, RevokedEntry, Store, StoreError};

use crate::config::{CrlConfig, CrlUrl};
use crate::metrics::Metrics;

pub mod schedule;
#[cfg(test)]
mod tests;

/// Why a CRL could not be published.
#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    /// Reading revocations, taking the number or recording the CRL failed.
    #[error("crl: database: {0}")]
    Store(#[from] StoreError),
    /// Building or signing the CRL failed.
    #[error("crl: {0}")]
    Ca(#[from] CaError),
    /// Writing the CRL into `crl.publish-dir` failed (it is recorded and served all the same).
    #[error("crl.publish-dir: writing {path}: {source}")]
    Publish {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A value out of the CRL's range (a number or time).
    #[error("crl: {0}")]
    Range(String),
}

/// What one publication produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Full or delta.
    pub kind: CrlKind,
    /// Its cRLNumber.
    pub number: i64,
    /// For a delta, its base CRL's number.
    pub base_number: Option<i64>,
    /// Entries listed.
    pub entries: u64,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds.
    pub next_update: i64,
    /// The DER's size in octets.
    pub size: usize,
}

/// Builds, signs, records and publishes the issuing CA's CRLs.
pub struct CrlPublisher {
    ca: Arc<CertificateAuthority>,
    store: Store,
    config: CrlConfig,
    issuer: String,
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for CrlPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrlPublisher")
            .field("issuer", &self.issuer)
            .field("url", &self.config.url.url)
            .finish_non_exhaustive()
    }
}

impl CrlPublisher {
    /// A publisher of `ca`'s CRLs as `config` says, into `store`.
    pub fn new(ca: Arc<CertificateAuthority>, store: Store, config: CrlConfig) -> CrlPublisher {
        let issuer = crate::service::name_to_string(ca.certificate().subject_name());
        CrlPublisher {
            ca,
            store,
            config,
            issuer,
            metrics: None,
        }
    }

    /// Counts the CRLs it publishes in `metrics`.
    pub fn with_metrics(mut self, metrics: Option<Arc<Metrics>>) -> CrlPublisher {
        self.metrics = metrics;
        self
    }

    /// The CA's name, as the store records certificates' issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The settings it publishes by.
    pub fn config(&self) -> &CrlConfig {
        &self.config
    }

    /// The store it reads and records in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Publishes a full CRL valid from `now` (Unix seconds) for `crl.full-validity`: every
    /// revocation in force, its IDP `crl.url`, its freshestCRL `crl.delta-url` if set.
    pub async fn publish_full(&self, now: i64) -> Result<Published, CrlError> {
        let taken = self.store.next_crl_number(&self.issuer).await?;
        let params = CrlParams {
            number: positive(taken.number)?,
            this_update: now,
            next_update: now.saturating_add(secs(self.config.full_validity)),
            delta_of: None,
            idp_url: Some(self.config.url.url.clone()),
            freshest_url: self.config.delta_url.as_ref().map(|d| d.url.clone()),
        };
        let rows = self.store.revoked_entries(&self.issuer);
        let (der, entries) = self.build(&params, rows).await?;
        self.record(CrlKind::Full, &params, taken.changes_upto, entries, der)
            .await
    }

    /// Publishes a delta CRL valid from `now` for `crl.delta-validity`, on the latest full
    /// CRL: every revocation changed since it (a released hold as removeFromCRL). `None`
    /// without `crl.delta-url` or before any full CRL.
    pub async fn publish_delta(&self, now: i64) -> Result<Option<Published>, CrlError> {
        if self.config.delta_url.is_none() {
            return Ok(None);
        }
        let Some(base) = self
            .store
            .latest_crl_facts(&self.issuer, CrlKind::Full)
            .await?
        else {
            return Ok(None);
        };
        let taken = self.store.next_crl_number(&self.issuer).await?;
        let params = CrlParams {
            number: positive(taken.number)?,
            this_update: now,
            next_update: now.saturating_add(secs(self.config.delta_validity)),
            delta_of: Some(positive(base.number)?),
            // A delta names its base's distribution point (RFC 5280 §5.2.5; OpenSSL matches
            // them byte for byte), though it is served at crl.delta-url.
            idp_url: Some(self.config.url.url.clone()),
            freshest_url: None,
        };
        let rows = self
            .store
            .revocation_changes(&self.issuer, base.changes_upto);
        let (der, entries) = self.build(&params, rows).await?;
        self.record(CrlKind::Delta, &params, taken.changes_upto, entries, der)
            .await
            .map(Some)
    }

    /// Streams `rows` into a CRL of `params` and signs it: the DER and its entry count.
    async fn build(
        &self,
        params: &CrlParams,
        mut rows: futures_util::stream::BoxStream<'_, Result<RevokedEntry, StoreError>>,
    ) -> Result<(Vec<u8>, u64), CrlError> {
        let mut writer = self.ca.crl_writer(params)?;
        while let Some(row) = rows.try_next().await? {
            writer.push(&CrlEntry {
                serial: CrlEntry::serial_from_hex(&row.serial_hex)?,
                revoked_at: row.revoked_at,
                reason: Some(row.reason),
                invalidity_date: row.invalidity_date,
                remove_from_crl: params.is_delta() && row.released_at.is_some(),
            })?;
        }
        let entries = writer.len();
        Ok((writer.finish()?, entries))
    }

    /// Records the CRL with its audit record, then writes it into `crl.publish-dir`.
    async fn record(
        &self,
        kind: CrlKind,
        params: &CrlParams,
        changes_upto: i64,
        entries: u64,
        der: Vec<u8>,
    ) -> Result<Published, CrlError> {
        let number = i64::try_from(params.number)
            .map_err(|_| CrlError::Range(format!("CRL number {}", params.number)))?;
        let base_number = params.delta_of.and_then(|n| i64::try_from(n).ok());
        self.store
            .record_crl(&NewCrl {
                ca: &self.issuer,
                number,
                base_number,
                this_update: params.this_update,
                next_update: params.next_update,
                changes_upto,
                entries,
                der: &der,
            })
            .await?;
        if let Some(m) = &self.metrics {
            m.crl_published(kind.as_str());
        }
        self.write_file(kind, &der)?;
        Ok(Published {
            kind,
            number,
            base_number,
            entries,
            this_update: params.this_update,
            next_update: params.next_update,
            size: der.len(),
        })
    }

    /// Writes `der` atomically as `crl.publish-dir/<last segment of its URL>`, if set.
    fn write_file(&self, kind: CrlKind, der: &[u8]) -> Result<(), CrlError> {
        let (Some(dir), Some(url)) = (&self.config.publish_dir, self.url(kind)) else {
            return Ok(());
        };
        let path = dir.join(&url.file_name);
        std::fs::create_dir_all(dir)
            .and_then(|()| keyward_crypto::files::write_public(&path, der))
            .map_err(|source| CrlError::Publish { path, source })
    }

    /// The URL a CRL of `kind` is served at.
    pub fn url(&self, kind: CrlKind) -> Option<&CrlUrl> {
        match kind {
            CrlKind::Full => Some(&self.config.url),
            CrlKind::Delta => self.config.delta_url.as_ref(),
        }
    }
}

fn positive(n: i64) -> Result<u64, CrlError> {
    u64::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| CrlError::Range(format!("CRL number {n} is not positive")))
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
