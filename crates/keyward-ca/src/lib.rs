//! The CA component: the only code that touches CA keys.
//!
//! Certificates are built here from a certificate procedure and signed through a [`Signer`]:
//! a software key ([`SoftwareSigner`]) or a key on a PKCS#11 token ([`Pkcs11Signer`]), without
//! the callers changing. Extensions OpenSSL has no builder for (policies with qualifiers, CRL
//! and AIA URLs, QC statements) and RFC 5755 attribute certificates are encoded with typed `der`
//! structures and signed through the same [`Signer`], and so are full and delta CRLs
//! ([`CrlWriter`]).

#![forbid(unsafe_code)]

mod attribute_cert;
mod crl;
mod der_extension;
mod describe;
mod extensions;
mod hierarchy;
mod pkcs11;
mod policies;
mod qc;

use std::fmt;
use std::net::IpAddr;

use der::asn1::{Any, ObjectIdentifier};
use der::Encode;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, PKeyRef, Private, Public};
use openssl::x509::{X509Builder, X509};

use keyward_policy::qc::QcStatements;
use keyward_policy::{CertificateProcedure, DistinguishedName};

pub use attribute_cert::AttributeCertificateRequest;
pub use crl::{crl_reason, CrlEntry, CrlParams, CrlWriter};
pub use describe::{describe_certificate, CertificateDetails, ExtensionInfo};
use hierarchy::decrypt_key_pem;
pub use hierarchy::{
    create_hierarchy, create_hierarchy_with_issuing_key, encrypt_key_pem, ExternalHierarchy,
    Hierarchy,
};
pub use pkcs11::Pkcs11Signer;
pub use qc::qc_statements_der;

/// Why the CA could not do something. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// OpenSSL refused an operation.
    #[error("{context}: {detail}")]
    OpenSsl {
        /// The operation.
        context: &'static str,
        /// OpenSSL's reason.
        detail: String,
    },
    /// A certificate procedure names something the CA cannot put in a certificate.
    #[error("certificate procedure {procedure}: {reason}")]
    Procedure {
        /// The procedure.
        procedure: String,
        /// What is wrong.
        reason: String,
    },
    /// A key file that cannot be decrypted with the given passphrase.
    #[error("the CA key cannot be decrypted (wrong passphrase or damaged file)")]
    KeyDecryption,
    /// Shared crypto failure.
    #[error(transparent)]
    Crypto(#[from] keyward_crypto::CryptoError),
    /// The CA key's PKCS#11 token failed or refused (names the token and key, never the PIN).
    #[error("CA key: {0}")]
    Hsm(keyward_pkcs11::Pkcs11Error),
    /// A certificate signed on a token could not be assembled or does not verify.
    #[error("CA key: {0}")]
    Assembly(String),
    /// Content that cannot be DER-encoded as given; `field` names it (`qc_statements.pds.url`).
    #[error("{field}: {reason}")]
    Encoding {
        /// The field, as procedures and flags name it.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// Maps a `der` error to [`CaError::Encoding`] naming `field`.
pub(crate) fn der_err(field: &str) -> impl Fn(der::Error) -> CaError + '_ {
    move |e| CaError::Encoding {
        field: field.to_string(),
        reason: e.to_string(),
    }
}

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const DSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.2");

/// The DER AlgorithmIdentifier of a signature by a key of type `id` over digest `md`:
/// ecdsa-with-SHA* and dsa-with-sha256 without parameters (RFC 5758), sha*WithRSAEncryption
/// with NULL parameters (RFC 4055) — the forms OpenSSL itself writes into certificates.
pub(crate) fn signature_algorithm(id: Id, md: MessageDigest) -> Result<Vec<u8>, CaError> {
    let digest = md.type_();
    let (oid, parameters) =
        match id {
            Id::EC if digest == Nid::SHA256 => (ECDSA_WITH_SHA256, None),
            Id::EC if digest == Nid::SHA384 => (ECDSA_WITH_SHA384, None),
            Id::EC if digest == Nid::SHA512 => (ECDSA_WITH_SHA512, None),
            Id::RSA if digest == Nid::SHA256 => (SHA256_WITH_RSA, Some(Any::null())),
            Id::RSA if digest == Nid::SHA384 => (SHA384_WITH_RSA, Some(Any::null())),
            Id::RSA if digest == Nid::SHA512 => (SHA512_WITH_RSA, Some(Any::null())),
            Id::DSA if digest == Nid::SHA256 => (DSA_WITH_SHA256, None),
            _ => return Err(CaError::Assembly(
                "the CA key's algorithm cannot sign attribute certificates (EC, RSA or DSA only)"
                    .into(),
            )),
        };
    x509_cert::AlgorithmIdentifier { oid, parameters }
        .to_der()
        .map_err(der_err("signature algorithm"))
}

pub(crate) fn ossl(context: &'static str) -> impl Fn(openssl::error::ErrorStack) -> CaError {
    move |e| CaError::OpenSsl {
        context,
        detail: e
            .errors()
            .first()
            .and_then(|err| err.reason().map(str::to_string))
            .unwrap_or_else(|| "unknown error".into()),
    }
}

/// Signs certificates with a CA key that may live anywhere.
pub trait Signer: Send + Sync {
    /// Signs the certificate being built (its signature algorithm and value) and returns it.
    fn sign(&self, builder: X509Builder) -> Result<X509, CaError>;
    /// The CA's public key, DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> Result<Vec<u8>, CaError>;
    /// Signs `data` (a DER structure to be signed, such as an AttributeCertificateInfo) with the
    /// digest [`keyward_crypto::message_digest_for`] picks for the CA key, and returns the DER
    /// AlgorithmIdentifier of that signature and the signature value (an ECDSA signature as a
    /// DER Ecdsa-Sig-Value, as X.509 carries it).
    fn sign_data(&self, data: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CaError>;
}

/// A CA key held in memory (decrypted from its file at start).
pub struct SoftwareSigner {
    key: PKey<Private>,
}

impl SoftwareSigner {
    /// Wraps a private key.
    pub fn new(key: PKey<Private>) -> Self {
        SoftwareSigner { key }
    }

    /// Loads a CA key file written by [`encrypt_key_pem`] (encrypted PKCS#8 PEM), decrypting
    /// it here so that the key never leaves this crate; [`CaError::KeyDecryption`] for a wrong
    /// passphrase or a damaged file.
    pub fn from_encrypted_pem(pem: &[u8], passphrase: &[u8]) -> Result<Self, CaError> {
        decrypt_key_pem(pem, passphrase).map(SoftwareSigner::new)
    }
}

impl fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SoftwareSigner(<redacted>)")
    }
}

impl Signer for SoftwareSigner {
    fn sign(&self, mut builder: X509Builder) -> Result<X509, CaError> {
        builder
            .sign(&self.key, keyward_crypto::message_digest_for(&self.key))
            .map_err(ossl("certificate signature"))?;
        Ok(builder.build())
    }

    fn public_key_der(&self) -> Result<Vec<u8>, CaError> {
        self.key.public_key_to_der().map_err(ossl("CA public key"))
    }

    fn sign_data(&self, data: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CaError> {
        let md = keyward_crypto::message_digest_for(&self.key);
        let algorithm = signature_algorithm(self.key.id(), md)?;
        // OpenSSL's default padding for RSA is PKCS#1 v1.5, and ECDSA/DSA signatures come out
        // as DER Sig-Values: both what the AlgorithmIdentifiers above promise.
        let mut signer = openssl::sign::Signer::new(md, &self.key)
            .map_err(ossl("attribute certificate signature"))?;
        signer
            .update(data)
            .map_err(ossl("attribute certificate signature"))?;
        let signature = signer
            .sign_to_vec()
            .map_err(ossl("attribute certificate signature"))?;
        Ok((algorithm, signature))
    }
}

/// What to certify.
pub struct IssueRequest<'a> {
    /// The subject's public key (already proven to be possessed).
    pub public_key: &'a PKeyRef<Public>,
    /// The validated subject.
    pub subject: &'a DistinguishedName,
    /// E-mail for the rfc822Name subjectAltName.
    pub email: Option<&'a str>,
    /// The certificate procedure (validity, key usage, EKUs).
    pub procedure: &'a CertificateProcedure,
    /// Serial number bytes (positive).
    pub serial: [u8; 16],
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// dNSName subjectAltNames.
    pub dns_names: &'a [String],
    /// iPAddress subjectAltNames.
    pub ip_addresses: &'a [IpAddr],
    /// The QC statements to encode (the server merges the procedure's with the officer's; the
    /// CA encodes what it is given). Empty: no qcStatements extension.
    pub qc_statements: &'a QcStatements,
}

/// An issuing CA: its certificate, the chain above it, and its signer.
pub struct CertificateAuthority {
    cert: X509,
    chain: Vec<X509>,
    signer: Box<dyn Signer>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("subject", &self.cert.subject_name())
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// An issuing CA; `chain` lists CA certificates for tokens, issuing CA first, then the root.
    pub fn new(cert: X509, chain: Vec<X509>, signer: Box<dyn Signer>) -> Self {
        CertificateAuthority {
            cert,
            chain,
            signer,
        }
    }

    /// The issuing CA certificate.
    pub fn certificate(&self) -> &X509 {
        &self.cert
    }

    /// The chain for tokens (issuing CA first).
    pub fn chain(&self) -> &[X509] {
        &self.chain
    }

    /// Builds and signs an end-entity certificate as the procedure says.
    pub fn issue(&self, req: &IssueRequest<'_>) -> Result<X509, CaError> {
        let mut b = X509Builder::new().map_err(ossl("certificate"))?;
        b.set_version(2).map_err(ossl("version"))?;
        let serial = BigNum::from_slice(&req.serial)
            .and_then(|bn| Asn1Integer::from_bn(&bn))
            .map_err(ossl("serial"))?;
        b.set_serial_number(&serial).map_err(ossl("serial"))?;
        b.set_issuer_name(self.cert.subject_name())
            .map_err(ossl("issuer"))?;
        let subject = keyward_crypto::x509_name(req.subject)?;
        b.set_subject_name(&subject).map_err(ossl("subject"))?;
        b.set_pubkey(req.public_key).map_err(ossl("public key"))?;
        let not_before = Asn1Time::from_unix(req.not_before).map_err(ossl("validity"))?;
        let wanted_end = req
            .not_before
            .saturating_add(i64::from(req.procedure.validity_days) * 86_400);
        let wanted = Asn1Time::from_unix(wanted_end).map_err(ossl("validity"))?;
        let not_after: &openssl::asn1::Asn1TimeRef = if wanted.as_ref() > self.cert.not_after() {
            self.cert.not_after()
        } else {
            &wanted
        };
        b.set_not_before(&not_before).map_err(ossl("validity"))?;
        b.set_not_after(not_after).map_err(ossl("validity"))?;
        extensions::end_entity(&mut b, &self.cert, req)?;
        let cert = self.signer.sign(b)?;
        // Whatever the signer (a software key or a token), nothing leaves the CA that does not
        // verify with the key relying parties will use: the CA certificate's.
        let ca_public = self.cert.public_key().map_err(ossl("CA public key"))?;
        match cert.verify(&ca_public) {
            Ok(true) => Ok(cert),
            _ => Err(CaError::Assembly(
                "the signed certificate does not verify with the CA certificate's public key \
                 (is ca.issuing.key the key of ca.issuing.certificate?)"
                    .into(),
            )),
        }
    }

    /// Checks that the signer holds the key of the CA certificate: compares the public keys,
    /// then signs a probe and verifies it with the certificate's key. For start-up, so that a
    /// server whose key and certificate do not match refuses to start.
    pub fn check_key(&self) -> Result<(), CaError> {
        let ca_public = self.cert.public_key().map_err(ossl("CA public key"))?;
        let cert_spki = ca_public
            .public_key_to_der()
            .map_err(ossl("CA public key"))?;
        let mismatch =
            || CaError::Assembly("the signing key is not the key of the CA certificate".into());
        if self.signer.public_key_der()? != cert_spki {
            return Err(mismatch());
        }
        let probe = b"keyward CA key check";
        let (_, signature) = self.signer.sign_data(probe)?;
        if !keyward_crypto::verify_message(&ca_public, probe, &signature)? {
            return Err(mismatch());
        }
        Ok(())
    }
}
