//! `keyward kra …`: the key archive's archive key (KEK) on a PKCS#11 token (HSM).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use zeroize::Zeroizing;

use keyward_kra::{ArchiveKey, Pkcs11ArchiveKey};
use keyward_store::{
    ArchivedKeyQuery, AuditCategory, NewAudit, Outcome, PinLetterQuery, PinMailQuery, Store,
};

use crate::output::{input_error, print_json};

/// `keyward kra`.
#[derive(Debug, Args)]
pub struct KraArgs {
    /// Installation directory (its cm.conf names the database).
    #[arg(long, global = true, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Database URL, overriding database.url of cm.conf.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// KRA command.
    #[command(subcommand)]
    pub command: KraCommand,
}

/// KRA commands.
#[derive(Debug, Subcommand)]
pub enum KraCommand {
    /// Generate an AES-256 archive key (KEK) on a PKCS#11 token: sensitive, never extractable;
    /// data keys are sealed with AES-256-GCM on the token. With --configure, cm.conf is switched
    /// to it (refused while the archive holds envelopes sealed under another archive key).
    #[command(
        after_help = "Example:\n  keyward kra init-hsm-key --module /usr/lib/softhsm/libsofthsm2.so --token-label KRA --pin-file /etc/keyward/kra-hsm.pin --label keyward-kek --configure"
    )]
    InitHsmKey {
        /// The PKCS#11 module (shared library) of the HSM.
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
        /// Label of the token.
        #[arg(long, value_name = "LABEL")]
        token_label: String,
        /// File holding the token's user PIN (cm.conf names it: keep it mode 0600).
        #[arg(long, value_name = "FILE")]
        pin_file: PathBuf,
        /// Label of the new key on the token.
        #[arg(long, value_name = "LABEL", default_value = "keyward-kek")]
        label: String,
        /// Replace kra.archive-key in cm.conf by the new key's kra.pkcs11-* settings.
        #[arg(long)]
        configure: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// Reads the first line of a PIN file.
pub fn read_pin_file(path: &Path, flag: &str) -> anyhow::Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("{flag} {}", path.display()))?,
    );
    Ok(Zeroizing::new(
        text.lines().next().unwrap_or_default().to_string(),
    ))
}

/// Refuses to switch the archive key while envelopes sealed under the current one exist: a
/// server holding only the new key could not open them.
async fn check_no_envelopes(store: &Store) -> anyhow::Result<()> {
    let one = Some(1);
    let keys = store
        .find_archived_keys(&ArchivedKeyQuery {
            limit: one,
            ..Default::default()
        })
        .await?;
    let letters = store
        .pin_letters(&PinLetterQuery {
            limit: one,
            ..Default::default()
        })
        .await?;
    let mails = store
        .pin_mail(&PinMailQuery {
            limit: one,
            ..Default::default()
        })
        .await?;
    if let Some(kek) = keys
        .first()
        .map(|k| k.kek_id.clone())
        .or_else(|| letters.first().map(|l| l.kek_id.clone()))
        .or_else(|| mails.first().map(|m| m.kek_id.clone()))
    {
        return Err(input_error(format!(
            "--configure: the archive holds envelopes (archived keys, PIN letters or PIN mail) sealed under archive key {kek}; a server with only the new key could not open them"
        )));
    }
    Ok(())
}

/// cm.conf with the file archive key settings commented out and the PKCS#11 ones added.
fn switched_cm_conf(body: &str, hsm: &[String]) -> String {
    let mut out: Vec<String> = body
        .lines()
        .map(|line| {
            let key = line.split_once('=').map(|(k, _)| k.trim());
            match key {
                Some(k) if k.starts_with("kra.") && !k.starts_with('#') => format!("# {line}"),
                _ => line.to_string(),
            }
        })
        .collect();
    out.push("# The archive key (KEK) on a PKCS#11 token (keyward kra init-hsm-key).".into());
    out.extend(hsm.iter().cloned());
    out.join("\n") + "\n"
}

/// `keyward kra`.
pub async fn run(args: KraArgs) -> anyhow::Result<()> {
    let cm_conf = args.dir.join("cm.conf");
    let config = crate::server::load_config(&args.dir, args.database.as_deref())?;
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
            let store = crate::server::open_store(&config, overridden).await?;
            if configure {
                check_no_envelopes(&store).await?;
            }
            let pin = read_pin_file(&pin_file, "--pin-file")?;
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
                let body = std::fs::read_to_string(&cm_conf)
                    .with_context(|| format!("reading {}", cm_conf.display()))?;
                keyward_crypto::files::write_public(
                    &cm_conf,
                    switched_cm_conf(&body, &lines).as_bytes(),
                )
                .with_context(|| format!("writing {}", cm_conf.display()))?;
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
