//! The officer's smart card: a PKCS#11 key that signs requests and the TLS handshake.
//!
//! rustls never sees the key. A [`SigningKey`] for the token key offers exactly the one TLS
//! signature scheme that matches the key and the digest Keyward signs requests with (P-256 →
//! `ecdsa_secp256r1_sha256`, P-384 → `ecdsa_secp384r1_sha384`); its [`Signer`] hashes the
//! handshake transcript in software and has the token sign the digest (`CKM_ECDSA`), returning
//! the DER signature TLS wants. A [`ResolvesClientCert`] hands rustls the certificate chain with
//! that key when the server asks for a client certificate with a scheme the key can make.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use keyward_pkcs11::{Digest, EcCurve, KeyKind, Pkcs11Error, PrivateKey, Token};
use openssl::x509::X509;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer};
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};

use crate::error::RaError;

/// Longest CA chain followed on a token.
const MAX_CHAIN: usize = 8;

/// An officer key on a smart card, with a logged-in session. `Debug` names the token and key.
pub struct SmartCardKey {
    token: Token,
    key: PrivateKey,
    digest: Digest,
    scheme: SignatureScheme,
    spki: Vec<u8>,
}

impl fmt::Debug for SmartCardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

fn card_err(credential: String) -> impl Fn(Pkcs11Error) -> RaError {
    move |e| match e {
        Pkcs11Error::WrongPin { token } => RaError::WrongSignaturePin(token),
        other => RaError::Officer {
            credential: credential.clone(),
            reason: other.to_string(),
        },
    }
}

impl SmartCardKey {
    /// Logs in to the token with the Signature PIN and finds the officer key labelled
    /// `key_label`, its certificate (same CKA_ID) and the CA certificates above it on the token.
    /// Checks that the key belongs to the certificate.
    pub fn open(
        module: &Path,
        token_label: &str,
        key_label: &str,
        signature_pin: &str,
    ) -> Result<(SmartCardKey, X509, Vec<X509>), RaError> {
        let credential = format!(
            "PKCS#11 token {token_label:?} ({}) key {key_label:?}",
            module.display()
        );
        let officer = |reason: String| RaError::Officer {
            credential: credential.clone(),
            reason,
        };
        let token = Token::open(module, token_label).map_err(card_err(credential.clone()))?;
        token
            .login(signature_pin)
            .map_err(card_err(credential.clone()))?;
        let key = token
            .private_key(key_label)
            .map_err(card_err(credential.clone()))?;
        let certificates = token.certificates().map_err(card_err(credential.clone()))?;
        let cert = certificates
            .iter()
            .find(|c| c.id == key.id)
            .ok_or_else(|| officer("no certificate with the key's CKA_ID on the token".into()))
            .and_then(|c| {
                X509::from_der(&c.der).map_err(|_| officer("unreadable certificate".into()))
            })?;
        let others: Vec<X509> = certificates
            .iter()
            .filter(|c| c.id != key.id)
            .filter_map(|c| X509::from_der(&c.der).ok())
            .collect();
        let chain = chain_above(&cert, &others);
        let (digest, scheme) = match key.kind {
            KeyKind::Ec(EcCurve::P256) => (Digest::Sha256, SignatureScheme::ECDSA_NISTP256_SHA256),
            KeyKind::Ec(EcCurve::P384) => (Digest::Sha384, SignatureScheme::ECDSA_NISTP384_SHA384),
            other => {
                return Err(officer(format!(
                    "{other:?} keys cannot authenticate TLS; an officer card needs an EC P-256 or P-384 key"
                )))
            }
        };
        let public = cert
            .public_key()
            .map_err(|_| officer("unreadable certificate public key".into()))?;
        let spki = public
            .public_key_to_der()
            .map_err(|_| officer("unreadable certificate public key".into()))?;
        if Digest::from_openssl(keyward_crypto::message_digest_for(&public)) != Some(digest) {
            return Err(officer(
                "the certificate's key does not match the key on the token".into(),
            ));
        }
        let card = SmartCardKey {
            token,
            key,
            digest,
            scheme,
            spki,
        };
        let probe = b"keyward smart-card key check";
        let signature = card.sign(probe).map_err(card_err(credential.clone()))?;
        if !keyward_crypto::verify_message(&public, probe, &signature).unwrap_or(false) {
            return Err(officer(
                "the certificate's key does not match the key on the token".into(),
            ));
        }
        Ok((card, cert, chain))
    }

    /// `PKCS#11 token "LABEL" (MODULE) key "KEY"`.
    pub fn describe(&self) -> String {
        format!("{} key {:?}", self.token.describe(), self.key.label)
    }

    /// Signs on the token: hash here, ECDSA on the card, DER signature (the format of
    /// [`keyward_crypto::sign_message`] for the same key).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        self.token.sign(&self.key, self.digest, message)
    }
}

/// The CA certificates above `cert` among `others`: each the issuer of the one before (name
/// match and a verifying signature), up to a self-signed certificate.
fn chain_above(cert: &X509, others: &[X509]) -> Vec<X509> {
    let mut chain: Vec<X509> = Vec::new();
    let mut current = cert.clone();
    while chain.len() < MAX_CHAIN {
        let issuer_name = current.issuer_name().to_der().ok();
        if current.subject_name().to_der().ok() == issuer_name {
            break;
        }
        let issuer = others.iter().find(|c| {
            c.subject_name().to_der().ok() == issuer_name
                && c.public_key()
                    .and_then(|k| current.verify(&k))
                    .unwrap_or(false)
        });
        match issuer {
            Some(issuer) => {
                chain.push(issuer.clone());
                current = issuer.clone();
            }
            None => break,
        }
    }
    chain
}

/// The rustls side of a smart-card key.
#[derive(Debug)]
struct TokenSigningKey(Arc<SmartCardKey>);

impl SigningKey for TokenSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered
            .contains(&self.0.scheme)
            .then(|| Box::new(TokenSigner(self.0.clone())) as Box<dyn Signer>)
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(self.0.spki.as_slice()))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

/// Signs one handshake on the token.
#[derive(Debug)]
struct TokenSigner(Arc<SmartCardKey>);

impl Signer for TokenSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        self.0
            .sign(message)
            .map_err(|e| rustls::Error::General(format!("smart card: {e}")))
    }

    fn scheme(&self) -> SignatureScheme {
        self.0.scheme
    }
}

/// Offers the chain with the token key when the server's accepted schemes include the key's.
#[derive(Debug)]
struct TokenCertResolver {
    certified: Arc<CertifiedKey>,
    scheme: SignatureScheme,
}

impl ResolvesClientCert for TokenCertResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        sigschemes
            .contains(&self.scheme)
            .then(|| self.certified.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The client-certificate resolver for a smart-card officer with its TLS chain.
pub(crate) fn client_cert_resolver(
    card: Arc<SmartCardKey>,
    chain: Vec<CertificateDer<'static>>,
) -> Arc<dyn ResolvesClientCert> {
    let scheme = card.scheme;
    let key: Arc<dyn SigningKey> = Arc::new(TokenSigningKey(card));
    Arc::new(TokenCertResolver {
        certified: Arc::new(CertifiedKey::new(chain, key)),
        scheme,
    })
}
