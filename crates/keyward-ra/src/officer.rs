//! The officer's credential: the key that authenticates TLS and signs requests.

use std::fmt;
use std::path::{Path, PathBuf};

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::error::RaError;

/// An opened officer credential. Its `Debug` output shows the certificate subject only.
pub struct OfficerCredential {
    path: PathBuf,
    key: PKey<Private>,
    cert: X509,
    chain: Vec<X509>,
}

impl fmt::Debug for OfficerCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfficerCredential")
            .field("path", &self.path)
            .field("subject", &format!("{:?}", self.cert.subject_name()))
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Printed on every use of a virtual officer, as the seed product warns.
pub const VIRTUAL_OFFICER_WARNING: &str = "warning: using a virtual officer (a PKCS#12 file) instead of a smart card; this is not recommended for production";

impl OfficerCredential {
    /// Opens a virtual-officer PKCS#12 with the Signature PIN.
    pub fn open_p12(path: &Path, signature_pin: &str) -> Result<OfficerCredential, RaError> {
        let der = std::fs::read(path).map_err(|e| RaError::Officer {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let (key, cert, chain) =
            keyward_crypto::parse_p12(&der, signature_pin).map_err(|e| match e {
                keyward_crypto::CryptoError::WrongPin => {
                    RaError::WrongSignaturePin(path.to_path_buf())
                }
                other => RaError::Officer {
                    path: path.to_path_buf(),
                    reason: other.to_string(),
                },
            })?;
        Ok(OfficerCredential {
            path: path.to_path_buf(),
            key,
            cert,
            chain,
        })
    }

    /// The officer's certificate.
    pub fn certificate(&self) -> &X509 {
        &self.cert
    }

    /// Signs a message with the officer key.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, RaError> {
        Ok(keyward_crypto::sign_message(&self.key, message)?)
    }

    /// The TLS client identity: certificate chain (officer first, without the root) and key.
    pub fn tls_identity(
        &self,
    ) -> Result<
        (
            Vec<rustls::pki_types::CertificateDer<'static>>,
            rustls::pki_types::PrivateKeyDer<'static>,
        ),
        RaError,
    > {
        let officer_err = |reason: &str| RaError::Officer {
            path: self.path.clone(),
            reason: reason.to_string(),
        };
        let mut certs = vec![self
            .cert
            .to_der()
            .map_err(|_| officer_err("unreadable certificate"))?
            .into()];
        for ca in &self.chain {
            let self_signed = ca.subject_name().to_der().ok() == ca.issuer_name().to_der().ok();
            if !self_signed {
                certs.push(
                    ca.to_der()
                        .map_err(|_| officer_err("unreadable chain"))?
                        .into(),
                );
            }
        }
        let pkcs8 = zeroize::Zeroizing::new(
            self.key
                .private_key_to_pkcs8()
                .map_err(|_| officer_err("unusable key"))?,
        );
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(pkcs8.to_vec().into());
        Ok((certs, key))
    }
}
