//! The server's start-up checks: what cm.conf names must fit together before the server takes
//! a request. Each check names the setting at fault and refuses to start (a configuration
//! error, exit code 3): a key file or its directory that others may write (as OpenSSH refuses
//! them), a key that is not its certificate's or public key file's, an issuing CA certificate
//! the root did not sign, a database that cannot be written, and envelopes or seals in the
//! database made with another key than cm.conf's.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use openssl::pkey::{HasPublic, PKey, PKeyRef};
use openssl::x509::X509;

use keyward_audit::AuditKey;
use keyward_ca::CertificateAuthority;
use keyward_kra::Kra;
use keyward_server::config::{ArchiveKeySetting, CaKeySetting};
use keyward_server::{ServerConfig, ServerError};
use keyward_store::{ArchivedKeyQuery, PinLetterQuery, PinMailQuery, Store, StoreError};

/// A refusal to start naming `setting`, as a configuration error (exit code 3).
fn refuse(config: &ServerConfig, setting: &str, reason: impl std::fmt::Display) -> ServerError {
    ServerError::Config {
        path: config.path.clone(),
        reason: format!("{setting}: {reason}"),
    }
}

/// The files holding keys or their passphrases and PINs, with the setting that names each.
fn secret_files(config: &ServerConfig) -> Vec<(&'static str, PathBuf)> {
    let mut files = vec![("tls.key", config.tls_key.clone())];
    match &config.ca_issuing_key {
        CaKeySetting::File {
            key,
            passphrase_file,
        } => {
            files.push(("ca.issuing.key", key.clone()));
            files.push(("ca.key-passphrase-file", passphrase_file.clone()));
        }
        CaKeySetting::Pkcs11(hsm) => {
            files.push(("ca.issuing.pkcs11-pin-file", hsm.pin_file.clone()));
        }
    }
    match &config.kra_archive_key {
        Some(ArchiveKeySetting::File {
            key,
            passphrase_file,
        }) => {
            files.push(("kra.archive-key", key.clone()));
            files.push(("kra.archive-key-passphrase-file", passphrase_file.clone()));
        }
        Some(ArchiveKeySetting::Pkcs11(hsm)) => {
            files.push(("kra.pkcs11-pin-file", hsm.pin_file.clone()));
        }
        None => {}
    }
    match config.ocsp.as_ref().map(|o| &o.key) {
        Some(CaKeySetting::File {
            key,
            passphrase_file,
        }) => {
            files.push(("ocsp.key", key.clone()));
            files.push(("ocsp.key-passphrase-file", passphrase_file.clone()));
        }
        Some(CaKeySetting::Pkcs11(hsm)) => {
            files.push(("ocsp.pkcs11-pin-file", hsm.pin_file.clone()));
        }
        None => {}
    }
    if let Some((key, pass)) = &config.audit_key {
        files.push(("audit.key", key.clone()));
        files.push(("audit.key-passphrase-file", pass.clone()));
    }
    if let Some(file) = config
        .pin_mailer
        .as_ref()
        .and_then(|p| p.password_file.clone())
    {
        files.push(("pin-mailer.smtp-password-file", file));
    }
    files
}

/// Refuses a key file, or the directory holding it, that group or others may write: whoever
/// can write there can replace the key. A key file others may read is only warned about (the
/// installation's directory is 0700). A missing file is left to the code that loads it.
pub fn check_file_modes(config: &ServerConfig) -> Result<(), ServerError> {
    for (setting, file) in secret_files(config) {
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o022 != 0 {
            return Err(refuse(
                config,
                setting,
                format!(
                    "{} is writable by group or others (mode {:04o}): chmod 600 it",
                    file.display(),
                    mode & 0o7777
                ),
            ));
        }
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(dir_meta) = std::fs::metadata(dir) {
            let dir_mode = dir_meta.permissions().mode();
            if dir_mode & 0o022 != 0 {
                return Err(refuse(
                    config,
                    setting,
                    format!(
                        "the directory {} of {} is writable by group or others (mode {:04o}): \
                         chmod 700 it",
                        dir.display(),
                        file.display(),
                        dir_mode & 0o7777
                    ),
                ));
            }
        }
        if mode & 0o044 != 0 {
            tracing::warn!(
                "{setting}: {} is readable by group or others (mode {:04o}); chmod 600 it",
                file.display(),
                mode & 0o7777
            );
        }
    }
    Ok(())
}

/// What the key checks look at: cm.conf and the keys loaded from it.
pub struct LoadedKeys<'a> {
    /// cm.conf.
    pub config: &'a ServerConfig,
    /// The issuing CA, with its signer.
    pub ca: &'a CertificateAuthority,
}

/// One start-up check: the setting it blames and the check.
struct KeyCheck {
    setting: fn(&ServerConfig) -> &'static str,
    check: fn(&LoadedKeys<'_>) -> Result<(), String>,
}

/// The key checks, in order.
const KEY_CHECKS: &[KeyCheck] = &[
    KeyCheck {
        setting: |_| "ca.issuing.certificate",
        check: issuing_under_root,
    },
    KeyCheck {
        setting: |c| match c.ca_issuing_key {
            CaKeySetting::File { .. } => "ca.issuing.key",
            CaKeySetting::Pkcs11(_) => "ca.issuing.pkcs11-key",
        },
        check: ca_key_matches,
    },
    KeyCheck {
        setting: |_| "tls.key",
        check: tls_key_matches,
    },
];
// `audit.key` against `audit-key.pub.pem` is checked where the key is loaded
// (`install::load_audit_key`), for every command that uses it.

/// Runs every key check; the first that fails refuses to start, naming its setting.
pub fn check_keys(loaded: &LoadedKeys<'_>) -> Result<(), ServerError> {
    for check in KEY_CHECKS {
        (check.check)(loaded)
            .map_err(|reason| refuse(loaded.config, (check.setting)(loaded.config), reason))?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn same_key<A: HasPublic, B: HasPublic>(a: &PKeyRef<A>, b: &PKeyRef<B>) -> bool {
    matches!(
        (a.public_key_to_der(), b.public_key_to_der()),
        (Ok(a), Ok(b)) if a == b
    )
}

/// `ca.issuing.certificate` is signed by (a certificate of) `ca.root`.
fn issuing_under_root(loaded: &LoadedKeys<'_>) -> Result<(), String> {
    let config = loaded.config;
    let roots = X509::stack_from_pem(&read(&config.ca_root)?)
        .map_err(|_| format!("ca.root {}: not PEM certificates", config.ca_root.display()))?;
    let issuing = loaded.ca.certificate();
    let signed = roots.iter().any(|root| {
        root.public_key()
            .ok()
            .and_then(|key| issuing.verify(&key).ok())
            .unwrap_or(false)
    });
    if signed {
        Ok(())
    } else {
        Err(format!(
            "{} is not signed by the root CA of ca.root ({}): certificates it issues would not \
             verify",
            config.ca_issuing_certificate.display(),
            config.ca_root.display()
        ))
    }
}

/// The issuing CA's signing key is the key of `ca.issuing.certificate`.
fn ca_key_matches(loaded: &LoadedKeys<'_>) -> Result<(), String> {
    loaded.ca.check_key().map_err(|e| {
        format!(
            "{e} (ca.issuing.certificate = {})",
            loaded.config.ca_issuing_certificate.display()
        )
    })
}

/// `tls.key` is the key of the first certificate of `tls.certificate`.
fn tls_key_matches(loaded: &LoadedKeys<'_>) -> Result<(), String> {
    let config = loaded.config;
    let key = PKey::private_key_from_pem(&zeroize::Zeroizing::new(read(&config.tls_key)?))
        .map_err(|_| format!("{}: not a PEM private key", config.tls_key.display()))?;
    let cert = X509::from_pem(&read(&config.tls_certificate)?).map_err(|_| {
        format!(
            "tls.certificate {}: not a PEM certificate",
            config.tls_certificate.display()
        )
    })?;
    let public = cert.public_key().map_err(|e| e.to_string())?;
    if same_key(&key, &public) {
        Ok(())
    } else {
        Err(format!(
            "{} is not the key of the first certificate of tls.certificate ({})",
            config.tls_key.display(),
            config.tls_certificate.display()
        ))
    }
}

/// The public key files the audit key must match: `audit-key.pub.pem` beside `audit.key`,
/// and the installation's `audit/audit-key.pub.pem` (what `keyward init` wrote).
fn audit_public_files(config: &ServerConfig, key: &Path) -> Vec<PathBuf> {
    let base = config.path.parent().unwrap_or(Path::new("."));
    let mut files = vec![base.join("audit/audit-key.pub.pem")];
    if let Some(dir) = key.parent() {
        let beside = dir.join("audit-key.pub.pem");
        if !files.contains(&beside) {
            files.push(beside);
        }
    }
    files.into_iter().filter(|f| f.exists()).collect()
}

/// `key` (from `key_file`, cm.conf's `audit.key`) is the key of every `audit-key.pub.pem` of
/// [`audit_public_files`], the file seals are verified with. Run by
/// [`crate::install::load_audit_key`], so the server, `audit seal` and `audit verify` all
/// refuse a wrong key.
pub(crate) fn audit_key_matches_public_files(
    config: &ServerConfig,
    key_file: &Path,
    key: &AuditKey,
) -> Result<(), String> {
    for file in audit_public_files(config, key_file) {
        let id = keyward_audit::public_key_id(&read(&file)?)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if id != key.key_id() {
            return Err(format!(
                "{} (key {}) is not the key of {} (key {id}): seals would not verify with it",
                key_file.display(),
                key.key_id(),
                file.display()
            ));
        }
    }
    Ok(())
}

/// The database checks: it takes writes (`database.url`); the newest seal was made with the
/// audit key (`audit.key`); envelopes in it were sealed under the archive key (`kra.*`).
/// `overridden`: `database.url` came from `--database`.
pub async fn check_database(
    config: &ServerConfig,
    overridden: bool,
    store: &Store,
    kra: &Kra,
    audit: Option<&AuditKey>,
) -> Result<(), ServerError> {
    let db = |e: StoreError| crate::install::database_error(config, overridden, e);
    store.check_writable().await.map_err(db)?;
    if let (Some(audit), Some(seal)) = (audit, store.last_audit_seal().await.map_err(db)?) {
        if seal.key_id != audit.key_id() {
            return Err(refuse(
                config,
                "audit.key",
                format!(
                    "the audit log's last seal (up to record {}) was made with audit key {}; \
                     this key is {}",
                    seal.upto_id,
                    seal.key_id,
                    audit.key_id()
                ),
            ));
        }
    }
    if let Some(kek) = envelope_key(store).await.map_err(db)? {
        let setting = match &config.kra_archive_key {
            Some(ArchiveKeySetting::Pkcs11(_)) => "kra.pkcs11-key",
            _ => "kra.archive-key",
        };
        match kra.archive_key_id() {
            Some(id) if id != kek => {
                return Err(refuse(
                    config,
                    setting,
                    format!(
                        "the database holds envelopes (archived keys, PIN letters or PIN mail) \
                         sealed under archive key {kek}; this archive key is {id} and could \
                         not open them"
                    ),
                ))
            }
            Some(_) => {}
            None => tracing::warn!(
                "the database holds envelopes sealed under archive key {kek} but cm.conf names \
                 no archive key: recoveries, PIN letters and PIN mail will be refused"
            ),
        }
    }
    Ok(())
}

/// The archive key ID of one envelope in the database, if it holds any.
async fn envelope_key(store: &Store) -> Result<Option<String>, StoreError> {
    let one = Some(1);
    let key = store
        .find_archived_keys(&ArchivedKeyQuery {
            limit: one,
            ..Default::default()
        })
        .await?;
    if let Some(k) = key.into_iter().next() {
        return Ok(Some(k.kek_id));
    }
    let letter = store
        .pin_letters(&PinLetterQuery {
            limit: one,
            ..Default::default()
        })
        .await?;
    if let Some(l) = letter.into_iter().next() {
        return Ok(Some(l.kek_id));
    }
    let mail = store
        .pin_mail(&PinMailQuery {
            limit: one,
            ..Default::default()
        })
        .await?;
    Ok(mail.into_iter().next().map(|m| m.kek_id))
}
