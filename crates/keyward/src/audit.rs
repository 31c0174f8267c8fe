//! `keyward audit …` on the CM host (direct database access, like `officer`): search the audit
//! log, verify its hash chain and seals, seal it now.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use keyward_admin::install::{load_audit_key, load_config, open_store};
use keyward_audit::VerifyReport;
use keyward_server::{ServerConfig, ServerError};
use keyward_store::{AuditCategory, AuditQuery, AuditRecord};

use crate::cli::{AuditArgs, AuditCommand};
use crate::output::{input_error, print_json, print_results};

/// Exit code of `audit verify` when the log is broken (README, "Exit codes").
pub const EXIT_BROKEN: i32 = 9;

/// `audit verify` found a broken link (exit code [`EXIT_BROKEN`]).
#[derive(Debug)]
pub struct AuditBroken(pub String);

impl std::fmt::Display for AuditBroken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the audit log is broken: {}", self.0)
    }
}

impl std::error::Error for AuditBroken {}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn parse_time(flag: &str, text: &str) -> anyhow::Result<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            input_error(format!(
                "{flag}: {text:?} is not an RFC 3339 time such as 2025-06-01T00:00:00Z"
            ))
        })
}

/// The search criteria from the command line; errors name the option (exit code 2).
#[allow(clippy::too_many_arguments)]
fn query(
    category: Option<String>,
    failed: bool,
    officer: Option<String>,
    since: Option<String>,
    until: Option<String>,
    object: Option<String>,
    limit: Option<u32>,
) -> anyhow::Result<AuditQuery> {
    let category = category
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
    if officer.as_deref().is_some_and(|o| o.trim().is_empty()) {
        return Err(input_error("--officer: give an officer name"));
    }
    if object
        .as_deref()
        .is_some_and(|o| o.trim().is_empty() || o.len() > 256)
    {
        return Err(input_error("--object: give 1 to 256 characters"));
    }
    let from = since.map(|t| parse_time("--since", &t)).transpose()?;
    let to = until.map(|t| parse_time("--until", &t)).transpose()?;
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(input_error("--since: after --until"));
        }
    }
    if limit.is_some_and(|n| !(1..=1000).contains(&n)) {
        return Err(input_error("--limit: give 1 to 1000"));
    }
    Ok(AuditQuery {
        category,
        failed_only: failed,
        officer,
        from,
        to,
        object: object.map(|o| o.trim().to_string()),
        limit: limit.map(i64::from),
    })
}

fn row(r: &AuditRecord) -> Vec<String> {
    vec![
        r.id.to_string(),
        rfc3339(r.at),
        r.category.to_string(),
        r.action.clone(),
        r.officer.clone().unwrap_or_else(|| "-".into()),
        r.outcome.to_string(),
        r.object.clone().unwrap_or_else(|| "-".into()),
    ]
}

/// The public key `verify` checks seals with: `--public-key`, else the configured key's.
fn public_key(config: &ServerConfig, file: Option<PathBuf>) -> anyhow::Result<Vec<u8>> {
    if let Some(file) = file {
        return std::fs::read(&file).with_context(|| format!("--public-key {}", file.display()));
    }
    match load_audit_key(config)? {
        Some(key) => Ok(key.public_key_pem()?),
        None => Err(input_error(
            "--public-key: no audit key in cm.conf (audit.key); give the audit public key",
        )),
    }
}

fn print_report(report: &VerifyReport) {
    let tail = format!(
        "{} record(s) after the last seal (removable without a trace until the next seal)",
        report.unsealed_tail
    );
    match &report.broken {
        None => println!(
            "Audit log intact: {} records and {} seals checked (key {})",
            report.records, report.seals, report.key_id
        ),
        Some(b) => {
            println!(
                "Audit log BROKEN at record {}: {}{}",
                b.record_id,
                b.kind,
                b.seal_id
                    .map(|s| format!(" (seal {s})"))
                    .unwrap_or_default()
            );
            println!("  {}", b.message);
            println!(
                "  checked         {} records and {} seals before the break (key {})",
                report.records, report.seals, report.key_id
            );
        }
    }
    let id = |i: Option<i64>| i.map_or("-".to_string(), |i| i.to_string());
    println!("  last record     {}", id(report.last_record_id));
    println!("  last sealed     {}", id(report.last_sealed_id));
    println!("  unsealed tail   {tail}");
}

/// `keyward audit`.
pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let config = load_config(&args.dir, args.database.as_deref())?;
    let overridden = args.database.is_some();
    match args.command {
        AuditCommand::Search {
            category,
            failed,
            officer,
            since,
            until,
            object,
            limit,
            json,
        } => {
            let q = query(category, failed, officer, since, until, object, limit)?;
            let store = open_store(&config, overridden).await?;
            let records = store.search_audit(&q).await?;
            store.close().await;
            if json {
                let out: Vec<_> = records
                    .iter()
                    .map(|r| {
                        let mut v = serde_json::to_value(r).unwrap_or_default();
                        v["time"] = json!(rfc3339(r.at));
                        v
                    })
                    .collect();
                return print_json(&out);
            }
            print_results(
                &records,
                false,
                &[
                    "ID", "TIME", "CATEGORY", "ACTION", "OFFICER", "OUTCOME", "OBJECT",
                ],
                row,
                "no audit records match",
            )
        }
        AuditCommand::Verify {
            public_key: file,
            json,
        } => {
            let pem = public_key(&config, file)?;
            let store = open_store(&config, overridden).await?;
            let report = keyward_audit::verify(&store, &pem).await;
            store.close().await;
            let report = report.map_err(|e| match e {
                keyward_audit::AuditError::Key(reason) => {
                    input_error(format!("--public-key: {reason}"))
                }
                other => other.into(),
            })?;
            if json {
                print_json(&report)?;
            } else {
                print_report(&report);
            }
            match &report.broken {
                None => Ok(()),
                Some(b) => Err(anyhow::Error::new(AuditBroken(format!(
                    "record {}: {}: {}",
                    b.record_id, b.kind, b.message
                )))),
            }
        }
        AuditCommand::Seal { json } => {
            let key = load_audit_key(&config)?.ok_or_else(|| ServerError::Config {
                path: config.path.clone(),
                reason: "audit.key is not set: no audit key to seal with".into(),
            })?;
            let store = open_store(&config, overridden).await?;
            let sealed = key.seal(&store).await;
            let last = store.last_audit_seal().await;
            store.close().await;
            let sealed = sealed?;
            if json {
                return print_json(&json!({ "sealed": sealed, "last_seal": last? }));
            }
            match (sealed, last?) {
                (Some(s), _) => println!(
                    "Sealed the audit log up to record {} (seal {}, key {})",
                    s.upto_id, s.id, s.key_id
                ),
                (None, Some(s)) => println!(
                    "Nothing new to seal: seal {} covers the log up to record {}",
                    s.id, s.upto_id
                ),
                (None, None) => println!("Nothing to seal: the audit log is empty"),
            }
            Ok(())
        }
    }
}
