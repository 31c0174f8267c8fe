//! A root CA and an issuing CA for a new installation, and CA keys at rest.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::pkey::{HasPublic, PKey, PKeyRef, Private, Public};
use openssl::symm::Cipher;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Ref, X509};

use keyward_policy::keyspec::Curve;
use keyward_policy::{DistinguishedName, KeySpec};

use crate::{ossl, CaError};

/// A fresh two-level hierarchy.
pub struct Hierarchy {
    /// Self-signed root.
    pub root_cert: X509,
    /// Root key.
    pub root_key: PKey<Private>,
    /// Issuing CA, signed by the root.
    pub issuing_cert: X509,
    /// Issuing CA key.
    pub issuing_key: PKey<Private>,
}

/// A root CA and an issuing CA whose key is held elsewhere (on an HSM): only its certificate.
pub struct ExternalHierarchy {
    /// Self-signed root.
    pub root_cert: X509,
    /// Root key.
    pub root_key: PKey<Private>,
    /// Issuing CA, signed by the root, for the external key.
    pub issuing_cert: X509,
}

const YEAR: i64 = 365 * 86_400;

/// A CA certificate for `key` (a key pair or a public key), self-signed with `self_key` when
/// `issuer` is `None`, else signed by the issuer.
fn ca_certificate<T: HasPublic>(
    subject: &DistinguishedName,
    key: &PKeyRef<T>,
    self_key: Option<&PKeyRef<Private>>,
    issuer: Option<(&X509Ref, &PKeyRef<Private>)>,
    years: i64,
    path_len: Option<u32>,
) -> Result<X509, CaError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let name = keyward_crypto::x509_name(subject)?;
    let mut b = X509Builder::new().map_err(ossl("CA certificate"))?;
    b.set_version(2).map_err(ossl("version"))?;
    let serial = BigNum::from_slice(&keyward_crypto::random_serial()?)
        .and_then(|bn| Asn1Integer::from_bn(&bn))
        .map_err(ossl("serial"))?;
    b.set_serial_number(&serial).map_err(ossl("serial"))?;
    b.set_subject_name(&name).map_err(ossl("subject"))?;
    let issuer_name = issuer.map(|(c, _)| c.subject_name()).unwrap_or(&name);
    b.set_issuer_name(issuer_name).map_err(ossl("issuer"))?;
    b.set_pubkey(key).map_err(ossl("public key"))?;
    let not_before = Asn1Time::from_unix(now - 300).map_err(ossl("validity"))?;
    let not_after = Asn1Time::from_unix(now + years * YEAR).map_err(ossl("validity"))?;
    b.set_not_before(&not_before).map_err(ossl("validity"))?;
    b.set_not_after(&not_after).map_err(ossl("validity"))?;
    let mut bc = BasicConstraints::new();
    bc.critical().ca();
    if let Some(len) = path_len {
        bc.pathlen(len);
    }
    b.append_extension(bc.build().map_err(ossl("basicConstraints"))?)
        .map_err(ossl("basicConstraints"))?;
    let ku = KeyUsage::new()
        .critical()
        .key_cert_sign()
        .crl_sign()
        .build()
        .map_err(ossl("keyUsage"))?;
    b.append_extension(ku).map_err(ossl("keyUsage"))?;
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(None, None))
        .map_err(ossl("subjectKeyIdentifier"))?;
    b.append_extension(ski)
        .map_err(ossl("subjectKeyIdentifier"))?;
    let signing_key = match issuer {
        Some((issuer_cert, issuer_key)) => {
            let aki = AuthorityKeyIdentifier::new()
                .keyid(true)
                .build(&b.x509v3_context(Some(issuer_cert), None))
                .map_err(ossl("authorityKeyIdentifier"))?;
            b.append_extension(aki)
                .map_err(ossl("authorityKeyIdentifier"))?;
            issuer_key
        }
        None => self_key.ok_or_else(|| CaError::Procedure {
            procedure: "CA hierarchy".into(),
            reason: "a self-signed certificate needs its private key".into(),
        })?,
    };
    b.sign(signing_key, keyward_crypto::message_digest_for(signing_key))
        .map_err(ossl("CA signature"))?;
    Ok(b.build())
}

/// Creates a root CA (20 years) and an issuing CA (10 years, pathlen 0), both on P-384.
pub fn create_hierarchy(
    root: &DistinguishedName,
    issuing: &DistinguishedName,
) -> Result<Hierarchy, CaError> {
    let issuing_key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp384r1))?;
    let issuing_public = PKey::public_key_from_der(
        &issuing_key
            .public_key_to_der()
            .map_err(ossl("issuing CA public key"))?,
    )
    .map_err(ossl("issuing CA public key"))?;
    let external = create_hierarchy_with_issuing_key(root, issuing, &issuing_public)?;
    Ok(Hierarchy {
        root_cert: external.root_cert,
        root_key: external.root_key,
        issuing_cert: external.issuing_cert,
        issuing_key,
    })
}

/// Creates a root CA (20 years, P-384) and certifies `issuing_key` (a public key whose private
/// half lives on an HSM) as the issuing CA (10 years, pathlen 0).
pub fn create_hierarchy_with_issuing_key(
    root: &DistinguishedName,
    issuing: &DistinguishedName,
    issuing_key: &PKeyRef<Public>,
) -> Result<ExternalHierarchy, CaError> {
    let root_key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp384r1))?;
    let root_cert = ca_certificate(root, &root_key, Some(&root_key), None, 20, None)?;
    let issuing_cert = ca_certificate(
        issuing,
        issuing_key,
        None,
        Some((&root_cert, &root_key)),
        10,
        Some(0),
    )?;
    Ok(ExternalHierarchy {
        root_cert,
        root_key,
        issuing_cert,
    })
}

/// Encrypts a CA key for storage: PKCS#8 PEM, AES-256-CBC under the passphrase.
pub fn encrypt_key_pem(key: &PKeyRef<Private>, passphrase: &[u8]) -> Result<Vec<u8>, CaError> {
    key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), passphrase)
        .map_err(ossl("CA key encryption"))
}

/// Decrypts a CA key stored by [`encrypt_key_pem`] (for [`crate::SoftwareSigner`] only: the
/// key stays in this crate).
pub(crate) fn decrypt_key_pem(pem: &[u8], passphrase: &[u8]) -> Result<PKey<Private>, CaError> {
    PKey::private_key_from_pem_passphrase(pem, passphrase).map_err(|_| CaError::KeyDecryption)
}
