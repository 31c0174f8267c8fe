//! The server's own keys, as cm.conf names them: the issuing CA's signing key and the KRA's
//! archive key, each a file encrypted at rest or a key on a PKCS#11 token (HSM).

use std::path::Path;
use std::sync::Arc;

use openssl::x509::X509;
use zeroize::Zeroizing;

use keyward_ca::{CertificateAuthority, Pkcs11Signer, SoftwareSigner};
use keyward_crypto::KeyPool;
use keyward_kra::{Kra, Pkcs11ArchiveKey, SoftwareArchiveKey};

use super::read;
use crate::config::{ArchiveKeySetting, CaKeySetting, Pkcs11Key, ServerConfig};
use crate::error::ServerError;

/// The user PIN in `path` (first line), in a zeroizing buffer.
pub(crate) fn read_pin(path: &Path) -> Result<Zeroizing<String>, ServerError> {
    let bytes = Zeroizing::new(read(path)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| ServerError::File {
        path: path.to_path_buf(),
        reason: "not UTF-8 text".into(),
    })?;
    Ok(Zeroizing::new(
        text.lines().next().unwrap_or_default().to_string(),
    ))
}

/// A PKCS#11 key failure, naming the cm.conf setting.
fn hsm_err(config: &ServerConfig, setting: &str, key: &Pkcs11Key, e: impl ToString) -> ServerError {
    ServerError::Config {
        path: config.path.clone(),
        reason: format!("{setting} = {}: {}", key.key, e.to_string()),
    }
}

/// Loads the issuing CA (certificate, chain and signer) named by cm.conf.
pub fn load_ca(config: &ServerConfig) -> Result<CertificateAuthority, ServerError> {
    let pem_cert = |path: &Path| {
        X509::from_pem(&read(path)?).map_err(|_| ServerError::File {
            path: path.to_path_buf(),
            reason: "not a PEM certificate".into(),
        })
    };
    let issuing = pem_cert(&config.ca_issuing_certificate)?;
    let root = pem_cert(&config.ca_root)?;
    let signer: Box<dyn keyward_ca::Signer> = match &config.ca_issuing_key {
        CaKeySetting::File {
            key,
            passphrase_file,
        } => {
            let passphrase = Zeroizing::new(read(passphrase_file)?);
            let signer =
                SoftwareSigner::from_encrypted_pem(&read(key)?, passphrase.trim_ascii_end())
                    .map_err(|e| ServerError::File {
                        path: key.clone(),
                        reason: e.to_string(),
                    })?;
            Box::new(signer)
        }
        CaKeySetting::Pkcs11(hsm) => {
            let pin = read_pin(&hsm.pin_file)?;
            let public = issuing.public_key().map_err(|_| ServerError::File {
                path: config.ca_issuing_certificate.clone(),
                reason: "unreadable public key".into(),
            })?;
            let signer = Pkcs11Signer::open(&hsm.module, &hsm.token, &hsm.key, &pin, &public)
                .map_err(|e| hsm_err(config, "ca.issuing.pkcs11-key", hsm, e))?;
            tracing::info!("issuing CA key on {}", signer.describe());
            Box::new(signer)
        }
    };
    Ok(CertificateAuthority::new(
        issuing.clone(),
        vec![issuing, root],
        signer,
    ))
}

/// Loads the archive key named by cm.conf (without one the KRA generates but never archives)
/// and starts the key pool of `kra.key-pool`, if set.
pub fn load_kra(config: &ServerConfig) -> Result<Kra, ServerError> {
    let kra = load_archive_key(config)?;
    if config.kra_key_pool.is_empty() {
        return Ok(kra);
    }
    let pool = KeyPool::with_threads(config.kra_key_pool.clone(), config.kra_key_pool_threads);
    tracing::info!("key pool: {pool:?}");
    Ok(kra.with_key_pool(Arc::new(pool)))
}

fn load_archive_key(config: &ServerConfig) -> Result<Kra, ServerError> {
    match &config.kra_archive_key {
        None => Ok(Kra::new(None)),
        Some(ArchiveKeySetting::File {
            key,
            passphrase_file,
        }) => {
            let passphrase = Zeroizing::new(read(passphrase_file)?);
            let archive_key =
                SoftwareArchiveKey::from_file(&read(key)?, passphrase.trim_ascii_end()).map_err(
                    |e| ServerError::File {
                        path: key.clone(),
                        reason: e.to_string(),
                    },
                )?;
            Ok(Kra::new(Some(Box::new(archive_key))))
        }
        Some(ArchiveKeySetting::Pkcs11(hsm)) => {
            let pin = read_pin(&hsm.pin_file)?;
            let archive_key = Pkcs11ArchiveKey::open(&hsm.module, &hsm.token, &hsm.key, &pin)
                .map_err(|e| hsm_err(config, "kra.pkcs11-key", hsm, e))?;
            tracing::info!(
                "archive key {} on {}",
                keyward_kra::ArchiveKey::id(&archive_key),
                archive_key.describe()
            );
            Ok(Kra::new(Some(Box::new(archive_key))))
        }
    }
}
