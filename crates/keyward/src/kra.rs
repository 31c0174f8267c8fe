//! `keyward kra …`: the key archive's archive key (KEK) on a PKCS#11 token (HSM).

use serde_json::json;

use keyward_admin::install::{load_config, open_store, read_pin_file};
use keyward_admin::kra::{check_no_envelopes, switch_cm_conf};
use keyward_kra::{ArchiveKey, Pkcs11ArchiveKey};
use keyward_store::{AuditCategory, NewAudit, Outcome};

use crate::cli::{KraArgs, KraCommand};
use crate::output::{admin_error, print_json};

/// `keyward kra`.
pub async fn run(args: KraArgs) -> anyhow::Result<()> {
    let cm_conf = args.dir.join("cm.conf");
    let config = load_config(&args.dir, args.database.as_deref())?;
    let overridden = args.database.is_some();
    match args.command {
        KraCommand::InitHsmKey {
            module,
            token_label,
            pin_file,
            label,
            configure,
            json,
        } => {
            let store = open_store(&config, overridden).await?;
            if configure {
                check_no_envelopes(&store).await.map_err(admin_error)?;
            }
            let pin = read_pin_file(&pin_file, "--pin-file").map_err(admin_error)?;
            let kek = Pkcs11ArchiveKey::create(&module, &token_label, &label, &pin).map_err(
                |e| match e {
                    // The token's own error, so that the exit code tells a wrong PIN (4).
                    keyward_kra::KraError::Hsm(token) => anyhow::Error::new(token),
                    other => anyhow::Error::new(other),
                },
            )?;
            let pin_path = std::path::absolute(&pin_file).unwrap_or(pin_file);
            let lines = vec![
                format!("kra.pkcs11-module = {}", module.display()),
                format!("kra.pkcs11-token = {token_label}"),
                format!("kra.pkcs11-key = {label}"),
                format!("kra.pkcs11-pin-file = {}", pin_path.display()),
            ];
            if configure {
                switch_cm_conf(&cm_conf, &lines).map_err(admin_error)?;
            }
            store
                .append_audit(&NewAudit {
                    category: AuditCategory::Administration,
                    action: "create-archive-key".into(),
                    officer: Some("keyward-admin".into()),
                    outcome: Outcome::Success,
                    object: Some(kek.id().to_string()),
                    detail: json!({ "token": token_label, "label": label, "configured": configure }),
                })
                .await?;
            if json {
                return print_json(&json!({
                    "archive_key_id": kek.id(),
                    "token": token_label,
                    "label": label,
                    "configured": configure,
                    "cm_conf": lines,
                }));
            }
            println!("Archive key {} created on {}", kek.id(), kek.describe());
            if configure {
                println!(
                    "{} now names it; restart the server to use it.",
                    cm_conf.display()
                );
            } else {
                println!("To use it, replace kra.archive-key and kra.archive-key-passphrase-file in cm.conf by:");
                for line in &lines {
                    println!("  {line}");
                }
            }
            Ok(())
        }
    }
}
