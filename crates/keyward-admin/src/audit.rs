//! The audit log on the CM host (`keyward audit`): search criteria checked and named by
//! option, verification against the audit public key, sealing now.

use std::path::PathBuf;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use keyward_audit::{AuditError, VerifyReport};
use keyward_server::{ServerConfig, ServerError};
use keyward_store::{AuditCategory, AuditQuery, AuditRecord, AuditSeal};

use crate::error::{context, input_error, AdminError};
use crate::install::{load_audit_key, open_store};

/// Search criteria as given on the command line (`keyward audit search`).
#[derive(Debug, Default)]
pub struct AuditSearch {
    /// `--category`.
    pub category: Option<String>,
    /// `--failed`.
    pub failed: bool,
    /// `--officer`.
    pub officer: Option<String>,
    /// `--since` (RFC 3339).
    pub since: Option<String>,
    /// `--until` (RFC 3339).
    pub until: Option<String>,
    /// `--object`.
    pub object: Option<String>,
    /// `--limit`.
    pub limit: Option<u32>,
}

/// A Unix time as RFC 3339 (UTC), or the number if it has no such form.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn parse_time(flag: &str, text: &str) -> Result<i64, AdminError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            input_error(format!(
                "{flag}: {text:?} is not an RFC 3339 time such as 2025-06-01T00:00:00Z"
            ))
        })
}

impl AuditSearch {
    /// The store's query; errors name the option (exit code 2).
    pub fn query(self) -> Result<AuditQuery, AdminError> {
        let category = self
            .category
            .map(|c| {
                c.parse::<AuditCategory>().map_err(|_| {
                    input_error(format!(
                        "--category: unknown category {c:?}; use certificates-issued, \
                         certificates-revoked, keys-archived, keys-recovered, administration, \
                         authentication or pin-distribution"
                    ))
                })
            })
            .transpose()?;
        if self.officer.as_deref().is_some_and(|o| o.trim().is_empty()) {
            return Err(input_error("--officer: give an officer name"));
        }
        if self
            .object
            .as_deref()
            .is_some_and(|o| o.trim().is_empty() || o.len() > 256)
        {
            return Err(input_error("--object: give 1 to 256 characters"));
        }
        let from = self.since.map(|t| parse_time("--since", &t)).transpose()?;
        let to = self.until.map(|t| parse_time("--until", &t)).transpose()?;
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(input_error("--since: after --until"));
            }
        }
        if self.limit.is_some_and(|n| !(1..=1000).contains(&n)) {
            return Err(input_error("--limit: give 1 to 1000"));
        }
        Ok(AuditQuery {
            category,
            failed_only: self.failed,
            officer: self.officer,
            from,
            to,
            object: self.object.map(|o| o.trim().to_string()),
            limit: self.limit.map(i64::from),
        })
    }
}

/// The records of the database `config` names (`overridden`: by `--database`) that match
/// `search`, newest first.
pub async fn search(
    config: &ServerConfig,
    overridden: bool,
    search: AuditSearch,
) -> Result<Vec<AuditRecord>, AdminError> {
    let query = search.query()?;
    let store = open_store(config, overridden).await?;
    let records = store.search_audit(&query).await;
    store.close().await;
    Ok(records?)
}

/// The public key `verify` checks seals with: `file` (`--public-key`), else the configured
/// key's.
fn public_key(config: &ServerConfig, file: Option<PathBuf>) -> Result<Vec<u8>, AdminError> {
    if let Some(file) = file {
        return std::fs::read(&file)
            .map_err(context(|| format!("--public-key {}", file.display())));
    }
    match load_audit_key(config)? {
        Some(key) => Ok(key.public_key_pem()?),
        None => Err(input_error(
            "--public-key: no audit key in cm.conf (audit.key); give the audit public key",
        )),
    }
}

/// Verifies the whole chain and every seal of the database `config` names (`overridden`:
/// by `--database`) with the public key `file`, else the configured key's.
pub async fn verify(
    config: &ServerConfig,
    overridden: bool,
    file: Option<PathBuf>,
) -> Result<VerifyReport, AdminError> {
    let pem = public_key(config, file)?;
    let store = open_store(config, overridden).await?;
    let report = keyward_audit::verify(&store, &pem).await;
    store.close().await;
    report.map_err(|e| match e {
        AuditError::Key(reason) => input_error(format!("--public-key: {reason}")),
        other => other.into(),
    })
}

/// Seals the audit log now with the configured key: the new seal (none when nothing was
/// appended since the last), and the last seal.
pub async fn seal_now(
    config: &ServerConfig,
    overridden: bool,
) -> Result<(Option<AuditSeal>, Option<AuditSeal>), AdminError> {
    let key = load_audit_key(config)?.ok_or_else(|| ServerError::Config {
        path: config.path.clone(),
        reason: "audit.key is not set: no audit key to seal with".into(),
    })?;
    let store = open_store(config, overridden).await?;
    let sealed = key.seal(&store).await;
    let last = store.last_audit_seal().await;
    store.close().await;
    Ok((sealed?, last?))
}
