//! Key transport from the server to the RA: a private key the server generated or recovered
//! travels encrypted to a one-time P-256 key that the RA generated for this one request.
//!
//! ECIES in the usual shape: the server makes an ephemeral P-256 key, derives a shared secret by
//! ECDH with the RA's one-time key, expands it with HKDF-SHA-256 (info binds both public keys
//! and the context) into an AES-256-GCM key, and encrypts the PKCS#8 DER. The context (request
//! ID and the SHA-256 of the key's public key) is also the GCM associated data, so a sealed key
//! cannot be replayed into another request or attached to another certificate.

use openssl::bn::BigNumContext;
use openssl::derive::Deriver;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::md::Md;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, PKeyRef, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use zeroize::Zeroizing;

use crate::{ossl, CryptoError};

const LABEL: &[u8] = b"keyward-key-transport-v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Largest SubjectPublicKeyInfo accepted for a transport key (a P-256 SPKI is 91 bytes).
const MAX_SPKI: usize = 256;

/// A private key sealed for one RA. Holds no secret in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKey {
    /// The server's ephemeral P-256 public key, SubjectPublicKeyInfo DER.
    pub ephemeral_key: Vec<u8>,
    /// AES-256-GCM nonce (12 bytes).
    pub nonce: Vec<u8>,
    /// Ciphertext of the PKCS#8 DER, followed by the 16-byte GCM tag.
    pub ciphertext: Vec<u8>,
}

/// The RA's one-time transport key pair. `Debug` shows no key material.
pub struct TransportKeyPair {
    key: PKey<Private>,
}

impl std::fmt::Debug for TransportKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransportKeyPair(P-256, private key hidden)")
    }
}

fn p256() -> Result<EcGroup, CryptoError> {
    EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(ossl("P-256 group"))
}

fn generate_p256() -> Result<PKey<Private>, CryptoError> {
    let group = p256()?;
    let ec = EcKey::generate(&group).map_err(ossl("transport key generation"))?;
    PKey::from_ec_key(ec).map_err(ossl("transport key"))
}

/// The context both sides bind a sealed key to: the request ID and the SHA-256 of the
/// SubjectPublicKeyInfo of the key being delivered (which its certificate carries).
pub fn context(request_id: &str, key_spki_der: &[u8]) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(request_id.len() + 66);
    ctx.extend_from_slice(request_id.as_bytes());
    ctx.push(b'\n');
    ctx.extend_from_slice(crate::sha256_hex(key_spki_der).as_bytes());
    ctx
}

/// The context of a secret that is not a key (the token PIN, a batch of PIN letters): the
/// request ID and what the secret is. It never equals a key's [`context`] (`what` is not 64 hex
/// digits), so a sealed PIN cannot pass for a sealed key.
pub fn secret_context(request_id: &str, what: &str) -> Vec<u8> {
    format!("{request_id}\n{what}").into_bytes()
}

/// Reads an RA transport public key: it must be a valid P-256 SubjectPublicKeyInfo.
pub fn parse_public(spki_der: &[u8]) -> Result<PKey<Public>, CryptoError> {
    let bad = |why: &str| CryptoError::UnsupportedKey(format!("transport key: {why}"));
    if spki_der.len() > MAX_SPKI {
        return Err(bad("too long"));
    }
    let key = PKey::public_key_from_der(spki_der).map_err(|_| bad("not a public key"))?;
    if key.id() != Id::EC {
        return Err(bad("not an EC key"));
    }
    let ec = key.ec_key().map_err(|_| bad("not an EC key"))?;
    if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
        return Err(bad("not on P-256"));
    }
    ec.check_key().map_err(|_| bad("not a valid point"))?;
    Ok(key)
}

fn kdf(shared: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut ctx = PkeyCtx::new_id(Id::HKDF).map_err(ossl("HKDF"))?;
    ctx.derive_init().map_err(ossl("HKDF"))?;
    ctx.set_hkdf_md(Md::sha256()).map_err(ossl("HKDF"))?;
    ctx.set_hkdf_key(shared).map_err(ossl("HKDF"))?;
    ctx.add_hkdf_info(info).map_err(ossl("HKDF"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    ctx.derive(Some(out.as_mut_slice())).map_err(ossl("HKDF"))?;
    Ok(out)
}

fn point_bytes<T: openssl::pkey::HasPublic>(key: &PKeyRef<T>) -> Result<Vec<u8>, CryptoError> {
    let ec = key.ec_key().map_err(ossl("EC point"))?;
    let mut bn = BigNumContext::new().map_err(ossl("EC point"))?;
    ec.public_key()
        .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut bn)
        .map_err(ossl("EC point"))
}

fn info(ephemeral: &[u8], recipient: &[u8], context: &[u8]) -> Vec<u8> {
    let mut info = Vec::with_capacity(LABEL.len() + ephemeral.len() + recipient.len() + 64);
    info.extend_from_slice(LABEL);
    info.extend_from_slice(ephemeral);
    info.extend_from_slice(recipient);
    info.extend_from_slice(context);
    info
}

/// Seals `secret` (a PKCS#8 DER private key) to the RA's transport key, bound to `context`.
pub fn seal(
    recipient: &PKeyRef<Public>,
    secret: &[u8],
    context: &[u8],
) -> Result<SealedKey, CryptoError> {
    let ephemeral = generate_p256()?;
    let mut deriver = Deriver::new(&ephemeral).map_err(ossl("ECDH"))?;
    deriver.set_peer(recipient).map_err(ossl("ECDH"))?;
    let shared = Zeroizing::new(deriver.derive_to_vec().map_err(ossl("ECDH"))?);
    let key = kdf(
        &shared,
        &info(&point_bytes(&ephemeral)?, &point_bytes(recipient)?, context),
    )?;
    let mut nonce = vec![0u8; NONCE_LEN];
    openssl::rand::rand_bytes(&mut nonce).map_err(ossl("nonce"))?;
    let mut tag = [0u8; TAG_LEN];
    let mut ciphertext = encrypt_aead(
        Cipher::aes_256_gcm(),
        key.as_slice(),
        Some(&nonce),
        context,
        secret,
        &mut tag,
    )
    .map_err(ossl("AES-256-GCM"))?;
    ciphertext.extend_from_slice(&tag);
    Ok(SealedKey {
        ephemeral_key: ephemeral
            .public_key_to_der()
            .map_err(ossl("ephemeral key"))?,
        nonce,
        ciphertext,
    })
}

impl TransportKeyPair {
    /// A fresh one-time P-256 key pair.
    pub fn generate() -> Result<TransportKeyPair, CryptoError> {
        Ok(TransportKeyPair {
            key: generate_p256()?,
        })
    }

    /// The public half, SubjectPublicKeyInfo DER, to send with the request.
    pub fn public_der(&self) -> Result<Vec<u8>, CryptoError> {
        self.key.public_key_to_der().map_err(ossl("transport key"))
    }

    /// Opens a sealed key: the PKCS#8 DER, or an error if anything was altered or the context
    /// differs.
    pub fn open(
        &self,
        sealed: &SealedKey,
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let bad = |why: &str| CryptoError::BadPkcs12(format!("sealed key: {why}"));
        let ephemeral = parse_public(&sealed.ephemeral_key)?;
        if sealed.nonce.len() != NONCE_LEN || sealed.ciphertext.len() < TAG_LEN {
            return Err(bad("malformed"));
        }
        let mut deriver = Deriver::new(&self.key).map_err(ossl("ECDH"))?;
        deriver.set_peer(&ephemeral).map_err(ossl("ECDH"))?;
        let shared = Zeroizing::new(deriver.derive_to_vec().map_err(ossl("ECDH"))?);
        let key = kdf(
            &shared,
            &info(&point_bytes(&ephemeral)?, &point_bytes(&self.key)?, context),
        )?;
        let (body, tag) = sealed
            .ciphertext
            .split_at(sealed.ciphertext.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            key.as_slice(),
            Some(&sealed.nonce),
            context,
            body,
            tag,
        )
        .map(Zeroizing::new)
        .map_err(|_| bad("does not decrypt (altered, or meant for another request)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let ra = TransportKeyPair::generate().unwrap();
        let public = parse_public(&ra.public_der().unwrap()).unwrap();
        let ctx = context("req-1", b"spki");
        let sealed = seal(&public, b"pkcs8 secret bytes", &ctx).unwrap();
        assert!(!sealed
            .ciphertext
            .windows(6)
            .any(|w| w == b"secret".as_slice()));
        assert_eq!(
            ra.open(&sealed, &ctx).unwrap().as_slice(),
            b"pkcs8 secret bytes"
        );

        assert!(ra.open(&sealed, &context("req-2", b"spki")).is_err());
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(ra.open(&flipped, &ctx).is_err());
        let other = TransportKeyPair::generate().unwrap();
        assert!(other.open(&sealed, &ctx).is_err());
        assert!(!format!("{ra:?}").contains("BEGIN"));
    }

    #[test]
    fn only_p256_transport_keys() {
        let rsa = crate::generate_key(keyward_policy::KeySpec::Rsa(2048)).unwrap();
        assert!(parse_public(&rsa.public_key_to_der().unwrap()).is_err());
        assert!(parse_public(b"\x30\x03junk").is_err());
    }
}
