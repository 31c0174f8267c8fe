//! The key archive's archive key on a PKCS#11 token (`keyward kra init-hsm-key`): whether
//! cm.conf may be switched to it, and the switch.

use std::path::Path;

use keyward_store::{ArchivedKeyQuery, PinLetterQuery, PinMailQuery, Store};

use crate::error::{context, input_error, AdminError};

/// Refuses to switch the archive key while envelopes sealed under the current one exist: a
/// server holding only the new key could not open them.
pub async fn check_no_envelopes(store: &Store) -> Result<(), AdminError> {
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
pub fn switch_cm_conf(cm_conf: &Path, hsm: &[String]) -> Result<(), AdminError> {
    let body = std::fs::read_to_string(cm_conf)
        .map_err(context(|| format!("reading {}", cm_conf.display())))?;
    keyward_crypto::files::write_public(cm_conf, switched_cm_conf(&body, hsm).as_bytes())
        .map_err(context(|| format!("writing {}", cm_conf.display())))
}
