//! `keyward audit …` on the CM host (direct database access, like `officer`): search the audit
//! log, verify its hash chain and seals, seal it now.

use serde_json::json;

use keyward_admin::audit::{rfc3339, seal_now, search, verify, AuditSearch};
use keyward_admin::install::load_config;
use keyward_audit::report::render;
use keyward_store::AuditRecord;

use crate::cli::{AuditArgs, AuditCommand};
use crate::output::{admin_error, print_json, print_results};

/// Exit code of `audit verify` when the log is broken (README, "Exit codes").
pub(crate) const EXIT_BROKEN: i32 = 9;

/// `audit verify` found a broken link (exit code [`EXIT_BROKEN`]).
#[derive(Debug, thiserror::Error)]
#[error("the audit log is broken: {0}")]
pub(crate) struct AuditBroken(pub String);

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

/// `keyward audit`.
pub(crate) async fn run(args: AuditArgs) -> anyhow::Result<()> {
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
            let query = AuditSearch {
                category,
                failed,
                officer,
                since,
                until,
                object,
                limit,
            };
            let records = search(&config, overridden, query)
                .await
                .map_err(admin_error)?;
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
            let report = verify(&config, overridden, file)
                .await
                .map_err(admin_error)?;
            if json {
                print_json(&report)?;
            } else {
                print!("{}", render(&report));
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
            let (sealed, last) = seal_now(&config, overridden).await.map_err(admin_error)?;
            if json {
                return print_json(&json!({ "sealed": sealed, "last_seal": last }));
            }
            match (sealed, last) {
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
