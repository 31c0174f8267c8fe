//! Loading the responder from cm.conf `ocsp.*`, with the start-up checks: the key is the
//! certificate's, the certificate is for OCSP signing and the issuing CA issued it.

use std::sync::Arc;

use openssl::x509::{X509VerifyResult, X509};
use zeroize::Zeroizing;

use keyward_ca::{Pkcs11Signer, Signer, SoftwareSigner};
use keyward_ocsp::{Responder, ResponseSettings};
use keyward_store::Store;

use super::{refuse, OcspService};
use crate::config::{OcspConfig, OcspKeySetting, ServerConfig};
use crate::error::ServerError;
use crate::service::{read, read_pin};

/// The OCSP responder cm.conf's `ocsp.*` names for the issuing CA `issuing`, reading status
/// from `store`; `None` without `ocsp.certificate`. Refuses to start (a configuration error
/// naming the setting) when the certificate is not one the responder may sign with.
pub fn load(
    config: &ServerConfig,
    issuing: &X509,
    store: Store,
) -> Result<Option<Arc<OcspService>>, ServerError> {
    let Some(ocsp) = &config.ocsp else {
        return Ok(None);
    };
    let cert = read_certificate(config, ocsp)?;
    check_responder_certificate(config, &cert, issuing)?;
    let responder = responder(config, ocsp, &cert)?;
    let service = OcspService::new(responder, cert, issuing, store, ocsp)
        .map_err(|e| refuse(config, "ca.issuing.certificate", e))?;
    Ok(Some(Arc::new(service)))
}

/// `ocsp.certificate`, PEM.
pub(super) fn read_certificate(
    config: &ServerConfig,
    ocsp: &OcspConfig,
) -> Result<X509, ServerError> {
    X509::from_pem(&read(&ocsp.certificate)?)
        .map_err(|_| refuse(config, "ocsp.certificate", "not a PEM certificate"))
}

/// A responder signing with cm.conf's OCSP key and certificate `cert`.
pub(super) fn responder(
    config: &ServerConfig,
    ocsp: &OcspConfig,
    cert: &X509,
) -> Result<Responder, ServerError> {
    let signer = load_signer(config, ocsp, cert)?;
    let der = cert
        .to_der()
        .map_err(|e| refuse(config, "ocsp.certificate", e))?;
    let settings = ResponseSettings {
        validity: ocsp.response_validity,
    };
    Responder::new(&der, signer, settings).map_err(|e| {
        let setting = match &ocsp.key {
            OcspKeySetting::File { .. } => "ocsp.key",
            OcspKeySetting::Pkcs11(_) => "ocsp.pkcs11-key",
        };
        refuse(
            config,
            setting,
            format!("does not fit ocsp.certificate: {e}"),
        )
    })
}

/// The OCSP signing key: an encrypted PKCS#8 PEM file and its passphrase, or a key on a token
/// (found by label and by `cert`'s public key).
pub fn load_signer(
    config: &ServerConfig,
    ocsp: &OcspConfig,
    cert: &X509,
) -> Result<Box<dyn Signer>, ServerError> {
    match &ocsp.key {
        OcspKeySetting::File {
            key,
            passphrase_file,
        } => {
            let passphrase = Zeroizing::new(read(passphrase_file)?);
            let signer =
                SoftwareSigner::from_encrypted_pem(&read(key)?, passphrase.trim_ascii_end())
                    .map_err(|e| refuse(config, "ocsp.key", e))?;
            Ok(Box::new(signer))
        }
        OcspKeySetting::Pkcs11(hsm) => {
            let pin = read_pin(&hsm.pin_file)?;
            let public = cert
                .public_key()
                .map_err(|e| refuse(config, "ocsp.certificate", e))?;
            let signer = Pkcs11Signer::open(&hsm.module, &hsm.token, &hsm.key, &pin, &public)
                .map_err(|e| refuse(config, "ocsp.pkcs11-key", format!("{} : {e}", hsm.key)))?;
            Ok(Box::new(signer))
        }
    }
}

/// Refuses (naming `ocsp.certificate`) a responder certificate without the OCSPSigning
/// extended key usage, or one the issuing CA did not sign: clients reject its responses.
pub fn check_responder_certificate(
    config: &ServerConfig,
    cert: &X509,
    issuing: &X509,
) -> Result<(), ServerError> {
    let fail = |reason: String| refuse(config, "ocsp.certificate", reason);
    if !has_ocsp_signing(cert) {
        return Err(fail(
            "no extendedKeyUsage OCSPSigning: not a delegated OCSP signing certificate".into(),
        ));
    }
    let issuing_key = issuing.public_key().map_err(|e| fail(e.to_string()))?;
    let signed = cert.verify(&issuing_key).unwrap_or(false);
    if !signed || issuing.issued(cert) != X509VerifyResult::OK {
        return Err(fail(
            "not issued by the issuing CA (ca.issuing.certificate): OCSP responses for its \
             certificates must be signed by a certificate it issued"
                .into(),
        ));
    }
    Ok(())
}

/// Whether `cert` has the extendedKeyUsage id-kp-OCSPSigning.
fn has_ocsp_signing(cert: &X509) -> bool {
    use der::Decode;
    use x509_cert::ext::pkix::ExtendedKeyUsage;
    let Some(parsed) = cert
        .to_der()
        .ok()
        .and_then(|der| x509_cert::Certificate::from_der(&der).ok())
    else {
        return false;
    };
    parsed
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .filter(|e| e.extn_id == keyward_ocsp::asn1::ID_CE_EXT_KEY_USAGE)
        .filter_map(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
        .any(|eku| eku.0.contains(&keyward_ocsp::asn1::ID_KP_OCSP_SIGNING))
}
