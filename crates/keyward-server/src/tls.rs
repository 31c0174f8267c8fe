//! TLS for the API: rustls, client certificates required, verified against the root CA, and
//! accepted only when they are officers' (they carry [`OFFICER_TLS_EKU`]).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore,
    SignatureScheme,
};

use keyward_policy::OFFICER_TLS_EKU;

use crate::error::ServerError;

/// The crypto provider Keyward uses everywhere (ring), installed once per process.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_err(path: &Path, reason: impl ToString) -> ServerError {
    ServerError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Reads every certificate of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let pem = std::fs::read(path).map_err(|e| file_err(path, e))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, ServerError> {
    let pem = std::fs::read(path).map_err(|e| file_err(path, e))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|_| file_err(path, "unreadable private key"))?
        .ok_or_else(|| file_err(path, "no PEM private key in it"))
}

/// Builds the server's TLS configuration: its certificate chain and key, and a verifier that
/// requires a client certificate chaining to `root` that is an officer's ([`OfficerVerifier`]).
pub fn server_config(
    cert_chain: &Path,
    key: &Path,
    root: &Path,
) -> Result<rustls::ServerConfig, ServerError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    for cert in load_certs(root)? {
        roots.add(cert).map_err(|e| file_err(root, e))?;
    }
    let chain = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    let verifier = Arc::new(OfficerVerifier { chain });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(cert_chain)?, load_key(key)?)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The handshake refusal of a client certificate that chains to the root but is not an
/// officer's: it lacks [`OFFICER_TLS_EKU`] (an end user's certificate with clientAuth, say).
#[derive(Debug)]
pub struct NotAnOfficerCertificate;

impl std::fmt::Display for NotAnOfficerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the client certificate is not an officer certificate (no extended key usage {OFFICER_TLS_EKU})"
        )
    }
}

impl std::error::Error for NotAnOfficerCertificate {}

/// Whether a rustls error is the refusal of a certificate that is not an officer's.
pub fn is_not_an_officer(err: &rustls::Error) -> bool {
    matches!(
        err,
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(e)))
            if e.is::<NotAnOfficerCertificate>()
    )
}

/// The client-certificate verifier: WebPKI path validation to the root (with clientAuth), and
/// then the officers' marker, so that holders of end-user certificates issued by the same CA
/// are refused at the handshake, before any HTTP is read.
#[derive(Debug)]
pub struct OfficerVerifier {
    chain: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for OfficerVerifier {
    fn offer_client_auth(&self) -> bool {
        self.chain.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.chain.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.chain.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .chain
            .verify_client_cert(end_entity, intermediates, now)?;
        if has_officer_marker(end_entity) {
            Ok(verified)
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(NotAnOfficerCertificate)),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

/// The DER content octets of a dotted OID (arcs up to 128 bits: `2.25` OIDs are UUIDs).
fn oid_content(dotted: &str) -> Option<Vec<u8>> {
    let arcs: Vec<u128> = dotted
        .split('.')
        .map(|a| a.parse().ok())
        .collect::<Option<_>>()?;
    let (&first, &second) = (arcs.first()?, arcs.get(1)?);
    if first > 2 || (first < 2 && second >= 40) {
        return None;
    }
    let mut out = Vec::new();
    for arc in std::iter::once(first * 40 + second).chain(arcs[2..].iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    Some(out)
}

/// Whether the certificate's extendedKeyUsage lists [`OFFICER_TLS_EKU`]. The EKU's OIDs are
/// compared as bytes: `der`'s ObjectIdentifier holds 32-bit arcs only, too small for a UUID.
fn has_officer_marker(der: &[u8]) -> bool {
    use der::asn1::Any;
    use der::{Decode, Tag, Tagged};
    static MARKER: OnceLock<Vec<u8>> = OnceLock::new();
    let marker = MARKER.get_or_init(|| oid_content(OFFICER_TLS_EKU).unwrap_or_default());
    const EXTENDED_KEY_USAGE: der::asn1::ObjectIdentifier =
        der::asn1::ObjectIdentifier::new_unwrap("2.5.29.37");
    let Ok(cert) = x509_cert::Certificate::from_der(der) else {
        return false;
    };
    let Some(extensions) = cert.tbs_certificate().extensions() else {
        return false;
    };
    extensions
        .iter()
        .filter(|e| e.extn_id == EXTENDED_KEY_USAGE)
        .any(|e| {
            Vec::<Any>::from_der(e.extn_value.as_bytes()).is_ok_and(|usages| {
                usages
                    .iter()
                    .any(|u| u.tag() == Tag::ObjectIdentifier && u.value() == marker.as_slice())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_content_matches_openssl() {
        for oid in [
            OFFICER_TLS_EKU,
            "1.3.6.1.5.5.7.3.2",
            "2.5.29.37",
            "0.4.0.194112.1.0",
        ] {
            let object = openssl::asn1::Asn1Object::from_str(oid).unwrap();
            assert_eq!(oid_content(oid).unwrap(), object.as_slice(), "{oid}");
        }
        assert_eq!(oid_content("1.40"), None);
        assert_eq!(oid_content("3.1"), None);
        assert_eq!(oid_content("1"), None);
    }

    fn certificate(ekus: &[&str]) -> Vec<u8> {
        use openssl::x509::extension::ExtendedKeyUsage;
        let key = openssl::pkey::PKey::from_ec_key(
            openssl::ec::EcKey::generate(
                &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)
                    .unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        if !ekus.is_empty() {
            let mut eku = ExtendedKeyUsage::new();
            for usage in ekus {
                eku.other(usage);
            }
            b.append_extension(eku.build().unwrap()).unwrap();
        }
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        b.build().to_der().unwrap()
    }

    #[test]
    fn only_certificates_with_the_marker_are_officers() {
        assert!(has_officer_marker(&certificate(&[
            "clientAuth",
            OFFICER_TLS_EKU
        ])));
        assert!(!has_officer_marker(&certificate(&["clientAuth"])));
        assert!(!has_officer_marker(&certificate(&[])));
        let longer = format!("{OFFICER_TLS_EKU}.1");
        assert!(!has_officer_marker(&certificate(&["clientAuth", &longer])));
        assert!(!has_officer_marker(b"not a certificate"));
    }
}
