//! The key archive's archive key on a PKCS#11 token (`keyward kra init-hsm-key`): whether
//! cm.conf may be switched to it, and the switch.

use std::path::Path;

use serde_json::json;

use keyward_kra::{ArchiveKey, KraError, Pkcs11ArchiveKey};
use keyward_store::{
    ArchivedKeyQuery, AuditCategory, NewAudit, Outcome, PinLetterQuery, PinMailQuery, Store,
};

use crate::error::{context, input_error, AdminError};
use crate::install::read_pin_file;

/// Refuses to switch the archive key while envelopes sealed under the current one exist: a
/// server holding only the new key could not open them.
async fn check_no_envelopes(store: &Store) -> Result<(), AdminError> {
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

/// Switches `cm_conf` to the archive key whose cm.conf settings are `hsm` (the file archive
/// key settings are commented out).
fn switch_cm_conf(cm_conf: &Path, hsm: &[String]) -> Result<(), AdminError> {
    let body = std::fs::read_to_string(cm_conf)
        .map_err(context(|| format!("reading {}", cm_conf.display())))?;
    // 0600 as `keyward init` leaves every file of the installation.
    keyward_crypto::files::write_secret(cm_conf, switched_cm_conf(&body, hsm).as_bytes())
        .map_err(context(|| format!("writing {}", cm_conf.display())))
}

/// An archive key to generate on a PKCS#11 token (`keyward kra init-hsm-key`).
pub struct HsmArchiveKey<'a> {
    /// The PKCS#11 module.
    pub module: &'a Path,
    /// The token label.
    pub token_label: &'a str,
    /// The file holding the token's user PIN (cm.conf names it).
    pub pin_file: &'a Path,
    /// The key's label on the token.
    pub label: &'a str,
    /// Switch cm.conf (`cm_conf`) to the new key.
    pub configure: bool,
    /// The installation's cm.conf.
    pub cm_conf: &'a Path,
}

/// Generates the archive key on the token (refused first, with `configure`, while envelopes
/// sealed under another archive key exist), switches cm.conf to it if asked, and audits it.
/// Returns the key and the cm.conf lines that name it.
pub async fn create_hsm_key(
    store: &Store,
    new: &HsmArchiveKey<'_>,
) -> Result<(Pkcs11ArchiveKey, Vec<String>), AdminError> {
    if new.configure {
        check_no_envelopes(store).await?;
    }
    let pin = read_pin_file(new.pin_file, "--pin-file")?;
    let kek = Pkcs11ArchiveKey::create(new.module, new.token_label, new.label, &pin).map_err(
        |e| match e {
            // The token's own error, so that the exit code tells a wrong PIN (4).
            KraError::Hsm(token) => AdminError::Token(token),
            other => AdminError::Kra(other),
        },
    )?;
    let pin_path = std::path::absolute(new.pin_file).unwrap_or(new.pin_file.to_path_buf());
    let lines = vec![
        format!("kra.pkcs11-module = {}", new.module.display()),
        format!("kra.pkcs11-token = {}", new.token_label),
        format!("kra.pkcs11-key = {}", new.label),
        format!("kra.pkcs11-pin-file = {}", pin_path.display()),
    ];
    if new.configure {
        switch_cm_conf(new.cm_conf, &lines)?;
    }
    store
        .append_audit(&NewAudit {
            category: AuditCategory::Administration,
            action: "create-archive-key".into(),
            officer: Some("keyward-admin".into()),
            outcome: Outcome::Success,
            object: Some(kek.id().to_string()),
            detail: json!({ "token": new.token_label, "label": new.label, "configured": new.configure }),
        })
        .await?;
    Ok((kek, lines))
}
