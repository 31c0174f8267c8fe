//! `keyward kra …`: the key archive's archive key (KEK) on a PKCS#11 token (HSM).

use serde_json::json;

use keyward_admin::install::{load_config, open_store};
use keyward_admin::kra::{create_hsm_key, HsmArchiveKey};
use keyward_kra::ArchiveKey;

use crate::cli::{KraArgs, KraCommand};
use crate::output::{admin_error, print_json};

/// `keyward kra`.
pub(crate) async fn run(args: KraArgs) -> anyhow::Result<()> {
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
            let new = HsmArchiveKey {
                module: &module,
                token_label: &token_label,
                pin_file: &pin_file,
                label: &label,
                configure,
                cm_conf: &cm_conf,
            };
            let (kek, lines) = create_hsm_key(&store, &new).await.map_err(admin_error)?;
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
