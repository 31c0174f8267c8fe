//! The officer's credential: the key that authenticates TLS and signs requests — a smart card
//! (PKCS#11; the Signature PIN is the token's user PIN) or a virtual officer (PKCS#12 file).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ClientConfig, OfficerSource, VirtualWarning};
use crate::error::RaError;
use crate::smart_card::SmartCardKey;

/// An opened officer credential. Its `Debug` output shows where it is and the certificate
/// subject only.
pub struct OfficerCredential {
    credential: String,
    key: OfficerKey,
    cert: X509,
    chain: Vec<X509>,
}

enum OfficerKey {
    /// A virtual officer's key, in memory.
    Software(PKey<Private>),
    /// A key on a smart card, used through a logged-in session.
    SmartCard(Arc<SmartCardKey>),
}

impl fmt::Debug for OfficerCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfficerCredential")
            .field("credential", &self.credential)
            .field("subject", &format!("{:?}", self.cert.subject_name()))
            .field("key", &"<redacted>")
            .finish()
    }
}

/// How the TLS client authenticates: a key rustls holds, or a resolver whose key signs on a
/// smart card.
pub enum ClientAuth {
    /// A virtual officer: the certificate chain (officer first, without the root) and its key.
    Key(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    /// A smart card: the chain and a signing key that signs on the token.
    Resolver(Arc<dyn ResolvesClientCert>),
}

/// Printed on every use of a virtual officer, as the seed product warns (at most once a day
/// with `officer.virtual-warning = daily`: see [`virtual_warning_due`]).
pub const VIRTUAL_OFFICER_WARNING: &str = "warning: using a virtual officer (a PKCS#12 file) instead of a smart card; this is not recommended for production";

/// The file beside client.conf that remembers the day the warning was last shown.
const WARNED_FILE: &str = ".virtual-officer-warned";

/// Whether to print [`VIRTUAL_OFFICER_WARNING`] now, `today` being the UTC date
/// (`2026-12-04`). With `daily`, the first call of a day records the day beside client.conf and
/// says yes, later ones that day say no; a record that cannot be read or written means the
/// warning is shown (it is never lost to a disk error).
pub fn virtual_warning_due(config: &ClientConfig, today: &str) -> bool {
    if config.virtual_warning == VirtualWarning::Always {
        return true;
    }
    let file = config
        .path
        .parent()
        .unwrap_or(Path::new("."))
        .join(WARNED_FILE);
    if std::fs::read_to_string(&file).is_ok_and(|day| day.trim() == today) {
        return false;
    }
    let _ = std::fs::write(&file, format!("{today}\n"));
    true
}

impl OfficerCredential {
    /// Opens the credential client.conf names with the Signature PIN: a PKCS#12 file, or the
    /// smart card (the PIN logs in to the token).
    pub fn open(config: &ClientConfig, signature_pin: &str) -> Result<OfficerCredential, RaError> {
        match &config.officer {
            OfficerSource::P12(path) => OfficerCredential::open_p12(path, signature_pin),
            OfficerSource::Pkcs11 { module, token, key } => {
                OfficerCredential::open_pkcs11(module, token, key, signature_pin)
            }
        }
    }

    /// Opens a virtual-officer PKCS#12 with the Signature PIN.
    pub fn open_p12(path: &Path, signature_pin: &str) -> Result<OfficerCredential, RaError> {
        let credential = path.display().to_string();
        let der = std::fs::read(path).map_err(|e| RaError::Officer {
            credential: credential.clone(),
            reason: e.to_string(),
        })?;
        let (key, cert, chain) =
            keyward_crypto::parse_p12(&der, signature_pin).map_err(|e| match e {
                keyward_crypto::CryptoError::WrongPin => {
                    RaError::WrongSignaturePin(credential.clone())
                }
                other => RaError::Officer {
                    credential: credential.clone(),
                    reason: other.to_string(),
                },
            })?;
        Ok(OfficerCredential {
            credential,
            key: OfficerKey::Software(key),
            cert,
            chain,
        })
    }

    /// Opens the officer key labelled `key` on the token labelled `token` of the PKCS#11
    /// module `module`, logging in with the Signature PIN. The certificate with the key's
    /// CKA_ID and the CA certificates above it are read from the token.
    pub fn open_pkcs11(
        module: &Path,
        token: &str,
        key: &str,
        signature_pin: &str,
    ) -> Result<OfficerCredential, RaError> {
        let (card, cert, chain) = SmartCardKey::open(module, token, key, signature_pin)?;
        Ok(OfficerCredential {
            credential: card.describe(),
            key: OfficerKey::SmartCard(Arc::new(card)),
            cert,
            chain,
        })
    }

    /// A virtual officer (PKCS#12): callers print [`VIRTUAL_OFFICER_WARNING`] on every use.
    pub fn is_virtual(&self) -> bool {
        matches!(self.key, OfficerKey::Software(_))
    }

    /// Where the credential is (a file, or a token and key label).
    pub fn describe(&self) -> &str {
        &self.credential
    }

    /// The officer's certificate.
    pub fn certificate(&self) -> &X509 {
        &self.cert
    }

    /// Signs a message with the officer key: the format of [`keyward_crypto::sign_message`]
    /// (DER ECDSA over the digest `message_digest_for` picks, or RSA PKCS#1 v1.5).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, RaError> {
        match &self.key {
            OfficerKey::Software(key) => Ok(keyward_crypto::sign_message(key, message)?),
            OfficerKey::SmartCard(card) => card.sign(message).map_err(|e| RaError::Officer {
                credential: self.credential.clone(),
                reason: e.to_string(),
            }),
        }
    }

    fn officer_err(&self, reason: &str) -> RaError {
        RaError::Officer {
            credential: self.credential.clone(),
            reason: reason.to_string(),
        }
    }

    /// The certificate chain for TLS: the officer first, then the CAs above it without the
    /// self-signed root.
    fn tls_chain(&self) -> Result<Vec<CertificateDer<'static>>, RaError> {
        let mut certs = vec![self
            .cert
            .to_der()
            .map_err(|_| self.officer_err("unreadable certificate"))?
            .into()];
        for ca in &self.chain {
            let self_signed = ca.subject_name().to_der().ok() == ca.issuer_name().to_der().ok();
            if !self_signed {
                certs.push(
                    ca.to_der()
                        .map_err(|_| self.officer_err("unreadable chain"))?
                        .into(),
                );
            }
        }
        Ok(certs)
    }

    /// How the TLS client authenticates as this officer.
    pub fn client_auth(&self) -> Result<ClientAuth, RaError> {
        let chain = self.tls_chain()?;
        match &self.key {
            OfficerKey::Software(key) => {
                let pkcs8 = zeroize::Zeroizing::new(
                    key.private_key_to_pkcs8()
                        .map_err(|_| self.officer_err("unusable key"))?,
                );
                let key = PrivateKeyDer::Pkcs8(pkcs8.to_vec().into());
                Ok(ClientAuth::Key(chain, key))
            }
            OfficerKey::SmartCard(card) => Ok(ClientAuth::Resolver(
                crate::smart_card::client_cert_resolver(card.clone(), chain),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_warning_is_shown_once_a_day_and_always_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.conf");
        std::fs::write(
            &path,
            "server.url = https://x\nserver.ca = a\nofficer.p12 = b\n",
        )
        .unwrap();
        let mut config = ClientConfig::load(&path).unwrap();
        assert_eq!(config.virtual_warning, VirtualWarning::Always);
        assert!(virtual_warning_due(&config, "2026-12-04"));
        assert!(virtual_warning_due(&config, "2026-12-04"));
        config.virtual_warning = VirtualWarning::Daily;
        assert!(virtual_warning_due(&config, "2026-12-04"));
        assert!(!virtual_warning_due(&config, "2026-12-04"));
        assert!(virtual_warning_due(&config, "2026-12-05"));
        std::fs::write(
            &path,
            "server.url = https://x\nserver.ca = a\nofficer.p12 = b\nofficer.virtual-warning = daily\n",
        )
        .unwrap();
        assert_eq!(
            ClientConfig::load(&path).unwrap().virtual_warning,
            VirtualWarning::Daily
        );
        std::fs::write(
            &path,
            "server.url = https://x\nserver.ca = a\nofficer.p12 = b\nofficer.virtual-warning = never\n",
        )
        .unwrap();
        let err = ClientConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("officer.virtual-warning: \"never\" is not always or daily"),
            "{err}"
        );
    }
}
