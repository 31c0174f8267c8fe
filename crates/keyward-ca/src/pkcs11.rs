//! A CA key on a PKCS#11 token (an HSM; SoftHSM2 in tests).
//!
//! OpenSSL cannot sign an `X509Builder` with a key it does not hold, so a certificate is signed
//! in three steps:
//!
//! 1. OpenSSL signs the builder with a throwaway key of the CA key's algorithm (same curve, or
//!    RSA), so the TBSCertificate carries the right `signature` AlgorithmIdentifier;
//! 2. the TBSCertificate is taken out of that certificate (RustCrypto `x509-cert`), DER-encoded,
//!    and signed on the token (`CKM_ECDSA` over its digest, or `CKM_SHA*_RSA_PKCS`);
//! 3. TBSCertificate, AlgorithmIdentifier and the token's signature are assembled into the
//!    Certificate, which is checked against the CA's public key before it is returned.

use std::fmt;
use std::path::Path;

use der::asn1::BitString;
use der::{Decode, Encode, Sequence};
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, PKeyRef, Private, Public};
use openssl::x509::{X509Builder, X509};
use x509_cert::{AlgorithmIdentifier, Certificate, TbsCertificate};

use keyward_pkcs11::{Digest, EcCurve, KeyKind, PrivateKey, Token};

use crate::{ossl, CaError, Signer};

/// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }.
#[derive(Sequence)]
struct SignedCertificate {
    tbs_certificate: TbsCertificate,
    signature_algorithm: AlgorithmIdentifier,
    signature: BitString,
}

/// Signs certificates with a private key on a PKCS#11 token, through a logged-in session.
pub struct Pkcs11Signer {
    token: Token,
    key: PrivateKey,
    digest: Digest,
    md: MessageDigest,
    public: PKey<Public>,
    throwaway: PKey<Private>,
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pkcs11Signer({})", self.describe())
    }
}

fn hsm(e: keyward_pkcs11::Pkcs11Error) -> CaError {
    CaError::Hsm(e)
}

fn assembly(reason: &str) -> CaError {
    CaError::Assembly(reason.to_string())
}

impl Pkcs11Signer {
    /// Opens the private key labelled `key_label` on the token labelled `token_label`, logging
    /// in with the user PIN, for the CA whose public key is `public` (from its certificate). A
    /// test signature checks that the token key is that key.
    pub fn open(
        module: &Path,
        token_label: &str,
        key_label: &str,
        pin: &str,
        public: &PKeyRef<Public>,
    ) -> Result<Pkcs11Signer, CaError> {
        let token = Token::open(module, token_label).map_err(hsm)?;
        token.login(pin).map_err(hsm)?;
        let key = token.private_key(key_label).map_err(hsm)?;
        let der = public.public_key_to_der().map_err(ossl("CA public key"))?;
        let public = PKey::public_key_from_der(&der).map_err(ossl("CA public key"))?;
        let signer = Pkcs11Signer::new(token, key, public)?;
        let probe = b"keyward CA key check";
        let signature = signer
            .token
            .sign(&signer.key, signer.digest, probe)
            .map_err(hsm)?;
        if !keyward_crypto::verify_message(&signer.public, probe, &signature).unwrap_or(false) {
            return Err(assembly(&format!(
                "{} is not the key of the CA certificate",
                signer.describe()
            )));
        }
        Ok(signer)
    }

    /// Generates a CA key pair on the token (private key sensitive, never extractable) on
    /// `curve`, labelled `key_label`, and returns its signer and public key.
    pub fn generate(
        module: &Path,
        token_label: &str,
        key_label: &str,
        pin: &str,
        curve: EcCurve,
    ) -> Result<(Pkcs11Signer, PKey<Public>), CaError> {
        let token = Token::open(module, token_label).map_err(hsm)?;
        token.login(pin).map_err(hsm)?;
        let (key, spki) = token.generate_ec_key(key_label, curve).map_err(hsm)?;
        let public = PKey::public_key_from_der(&spki).map_err(ossl("CA public key"))?;
        let signer = Pkcs11Signer::new(token, key, public.clone())?;
        Ok((signer, public))
    }

    fn new(token: Token, key: PrivateKey, public: PKey<Public>) -> Result<Pkcs11Signer, CaError> {
        let md = keyward_crypto::message_digest_for(&public);
        let digest = Digest::from_openssl(md)
            .ok_or_else(|| assembly("the CA key needs a digest the token signer lacks"))?;
        let throwaway = match (key.kind, public.id()) {
            (KeyKind::Ec(_), Id::EC) => {
                let ec = public.ec_key().map_err(ossl("CA public key"))?;
                let key = openssl::ec::EcKey::generate(ec.group()).map_err(ossl("EC key"))?;
                PKey::from_ec_key(key).map_err(ossl("EC key"))?
            }
            (KeyKind::Rsa(_), Id::RSA) => {
                let key = openssl::rsa::Rsa::generate(2048).map_err(ossl("RSA key"))?;
                PKey::from_rsa(key).map_err(ossl("RSA key"))?
            }
            _ => {
                return Err(assembly(&format!(
                    "{} does not match the CA certificate's key type",
                    key.label
                )))
            }
        };
        Ok(Pkcs11Signer {
            token,
            key,
            digest,
            md,
            public,
            throwaway,
        })
    }

    /// `PKCS#11 token "LABEL" (MODULE) key "KEY"`.
    pub fn describe(&self) -> String {
        format!("{} key {:?}", self.token.describe(), self.key.label)
    }

    /// The key's CKA_ID (to remove a key generated for an installation that was not created).
    pub fn key_id(&self) -> &[u8] {
        &self.key.id
    }

    /// Removes the key pair from the token (an installation that failed half-way).
    pub fn destroy(self) -> Result<(), CaError> {
        self.token.destroy_by_id(&self.key.id).map_err(hsm)?;
        Ok(())
    }
}

impl Signer for Pkcs11Signer {
    fn sign(&self, mut builder: X509Builder) -> Result<X509, CaError> {
        builder
            .sign(&self.throwaway, self.md)
            .map_err(ossl("certificate template"))?;
        let template = builder
            .build()
            .to_der()
            .map_err(ossl("certificate template"))?;
        let template = Certificate::from_der(&template)
            .map_err(|e| assembly(&format!("certificate template: {e}")))?;
        let tbs_der = template
            .tbs_certificate()
            .to_der()
            .map_err(|e| assembly(&format!("TBSCertificate: {e}")))?;
        let signature = self
            .token
            .sign(&self.key, self.digest, &tbs_der)
            .map_err(hsm)?;
        let signed = SignedCertificate {
            tbs_certificate: template.tbs_certificate().clone(),
            signature_algorithm: template.signature_algorithm().clone(),
            signature: BitString::from_bytes(&signature)
                .map_err(|e| assembly(&format!("signature: {e}")))?,
        }
        .to_der()
        .map_err(|e| assembly(&format!("certificate: {e}")))?;
        let cert = X509::from_der(&signed).map_err(ossl("signed certificate"))?;
        match cert.verify(&self.public) {
            Ok(true) => Ok(cert),
            _ => Err(assembly(&format!(
                "the certificate signed on {} does not verify",
                self.describe()
            ))),
        }
    }

    fn public_key_der(&self) -> Result<Vec<u8>, CaError> {
        self.public
            .public_key_to_der()
            .map_err(ossl("CA public key"))
    }

    fn sign_data(&self, data: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CaError> {
        let algorithm = crate::signature_algorithm(self.public.id(), self.md)?;
        // The token signs (`CKM_ECDSA` over our digest, turned into a DER Ecdsa-Sig-Value by
        // keyward-pkcs11, or `CKM_SHA*_RSA_PKCS`), exactly as for certificates.
        let signature = self.token.sign(&self.key, self.digest, data).map_err(hsm)?;
        Ok((algorithm, signature))
    }
}
