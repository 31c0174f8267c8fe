//! The key archive (KRA): the only server component that ever holds an archive key or a
//! private key it generated or recovered.
//!
//! - **Archive**: envelope encryption. Each archived key gets a fresh random 256-bit data key;
//!   its PKCS#8 DER is encrypted with AES-256-GCM under that data key, and the data key is
//!   wrapped by the installation's archive key ([`ArchiveKey`]). The GCM associated data binds
//!   the envelope to the archive key ID and to the SHA-256 of the key's public key, so a row
//!   moved onto another certificate does not decrypt.
//! - **Delivery**: a key leaves the KRA only sealed to the RA's one-time transport key
//!   ([`keyward_crypto::transport`]).
//!
//! - **Secrets**: small server-side secrets (the PINs of PIN mails, the PIN/PUK of PIN letters)
//!   are kept in envelopes of the same shape, bound to a purpose and a context (a letter ID, a
//!   request ID) under a different label, so no secret envelope ever opens as an archived key or
//!   under another letter ID.
//!
//! What goes out to the rest of the server is public keys, opaque envelopes and sealed keys.

#![forbid(unsafe_code)]

mod archive_key;
mod pkcs11_key;

use std::sync::Arc;

use openssl::pkey::{PKey, PKeyRef, Private, Public};
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use zeroize::Zeroizing;

use keyward_crypto::transport::{self, SealedKey};
use keyward_crypto::KeyPool;
use keyward_policy::KeySpec;

pub use archive_key::{ArchiveKey, SoftwareArchiveKey};
pub use pkcs11_key::Pkcs11ArchiveKey;

const ENVELOPE_VERSION: u8 = 1;
const ENVELOPE_LABEL: &str = "keyward-archived-key-v1";
const SECRET_LABEL: &str = "keyward-secret-v1";
/// Largest secret [`Kra::seal_secret`] accepts (PIN/PUK pairs are tiny; this bounds misuse).
const MAX_SECRET: usize = 4096;

/// What the KRA can refuse or fail at. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KraError {
    /// No archive key is configured, so nothing can be archived or recovered.
    #[error("this server has no archive key (set kra.archive-key, or kra.pkcs11-key for an HSM, in cm.conf)")]
    NoArchiveKey,
    /// The archived key was wrapped by an archive key this server does not hold.
    #[error("the key was archived under archive key {0}, which this server does not hold")]
    UnknownArchiveKey(String),
    /// A stored envelope that does not decrypt, or decrypts to the wrong key.
    #[error("archived key is damaged: {0}")]
    Damaged(String),
    /// The archive key file cannot be used.
    #[error("archive key file: {0}")]
    KeyFile(String),
    /// The RA's transport key is unusable.
    #[error("transport key: {0}")]
    Transport(String),
    /// A cryptographic operation failed (names the operation).
    #[error("KRA crypto failure: {0}")]
    Crypto(&'static str),
    /// The archive key's PKCS#11 token failed or refused (names the token and key; never the
    /// PIN).
    #[error("archive key: {0}")]
    Hsm(keyward_pkcs11::Pkcs11Error),
    /// Key generation or encoding failed.
    #[error("{0}")]
    Key(#[from] keyward_crypto::CryptoError),
}

/// A key archived by the KRA: the envelope the store keeps.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// ID of the archive key that wrapped the data key.
    pub kek_id: String,
    /// Opaque: version, wrapped data key, nonce, ciphertext and tag.
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Envelope({}, {} bytes)", self.kek_id, self.sealed.len())
    }
}

/// A key the KRA generated: its public key, its envelope (if archived), and the private key
/// sealed for the RA.
#[derive(Debug)]
pub struct ServerKey {
    /// The public key, for the CA to certify.
    pub public_key: PKey<Public>,
    /// The envelope to store, when the key is archived.
    pub envelope: Option<Envelope>,
    /// The private key sealed to the RA's transport key.
    pub delivery: SealedKey,
}

/// The key archive.
pub struct Kra {
    archive_key: Option<Box<dyn ArchiveKey>>,
    key_pool: Option<Arc<KeyPool>>,
}

impl std::fmt::Debug for Kra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.archive_key {
            Some(k) => write!(f, "Kra(archive key {}", k.id())?,
            None => f.write_str("Kra(no archive key")?,
        }
        match &self.key_pool {
            Some(pool) => write!(f, ", {pool:?})"),
            None => f.write_str(")"),
        }
    }
}

fn envelope_aad(kek_id: &str, spki_der: &[u8]) -> Vec<u8> {
    format!(
        "{ENVELOPE_LABEL}\n{kek_id}\n{}",
        keyward_crypto::sha256_hex(spki_der)
    )
    .into_bytes()
}

fn secret_aad(kek_id: &str, purpose: &str, context: &str) -> Vec<u8> {
    format!("{SECRET_LABEL}\n{kek_id}\n{purpose}\n{context}").into_bytes()
}

fn public_of(key: &PKeyRef<Private>) -> Result<(PKey<Public>, Vec<u8>), KraError> {
    let spki = key
        .public_key_to_der()
        .map_err(|_| KraError::Crypto("public key encoding"))?;
    let public =
        PKey::public_key_from_der(&spki).map_err(|_| KraError::Crypto("public key encoding"))?;
    Ok((public, spki))
}

fn pkcs8(key: &PKeyRef<Private>) -> Result<Zeroizing<Vec<u8>>, KraError> {
    key.private_key_to_pkcs8()
        .map(Zeroizing::new)
        .map_err(|_| KraError::Crypto("PKCS#8 encoding"))
}

impl Kra {
    /// A KRA with an archive key, or without (then it can only generate keys it does not keep).
    pub fn new(archive_key: Option<Box<dyn ArchiveKey>>) -> Kra {
        Kra {
            archive_key,
            key_pool: None,
        }
    }

    /// Takes the keys it generates from `pool` (cm.conf `kra.key-pool`): a pooled key when one
    /// is ready, else one generated on the spot. A pooled key is used once.
    pub fn with_key_pool(mut self, pool: Arc<KeyPool>) -> Kra {
        self.key_pool = Some(pool);
        self
    }

    /// The key pool, if the KRA has one.
    pub fn key_pool(&self) -> Option<&Arc<KeyPool>> {
        self.key_pool.as_ref()
    }

    /// The archive key's ID (as envelopes record it), if there is an archive key.
    pub fn archive_key_id(&self) -> Option<&str> {
        self.archive_key.as_deref().map(|k| k.id())
    }

    /// Whether keys can be archived and recovered.
    pub fn can_archive(&self) -> bool {
        self.archive_key.is_some()
    }

    fn archive_key(&self) -> Result<&dyn ArchiveKey, KraError> {
        self.archive_key.as_deref().ok_or(KraError::NoArchiveKey)
    }

    /// Reads the RA's one-time transport public key.
    pub fn transport_key(spki_der: &[u8]) -> Result<PKey<Public>, KraError> {
        transport::parse_public(spki_der).map_err(|e| KraError::Transport(e.to_string()))
    }

    /// Generates a key of `spec`, archives it when `archive` is set, and seals it for the RA of
    /// request `request_id`.
    pub fn generate(
        &self,
        spec: KeySpec,
        archive: bool,
        recipient: &PKeyRef<Public>,
        request_id: &str,
    ) -> Result<ServerKey, KraError> {
        if archive {
            self.archive_key()?;
        }
        let key = match &self.key_pool {
            Some(pool) => pool.take(spec)?,
            None => keyward_crypto::generate_key(spec)?,
        };
        let (public_key, spki) = public_of(&key)?;
        let secret = pkcs8(&key)?;
        let envelope = if archive {
            Some(self.seal_envelope(&secret, |kek| envelope_aad(kek, &spki))?)
        } else {
            None
        };
        let delivery = transport::seal(recipient, &secret, &transport::context(request_id, &spki))?;
        Ok(ServerKey {
            public_key,
            envelope,
            delivery,
        })
    }

    /// Opens an archived key whose certificate holds `public_key`, checks it is that key, and
    /// seals it for the RA of request `request_id`.
    pub fn recover(
        &self,
        envelope: &Envelope,
        public_key: &PKeyRef<Public>,
        recipient: &PKeyRef<Public>,
        request_id: &str,
    ) -> Result<SealedKey, KraError> {
        let spki = public_key
            .public_key_to_der()
            .map_err(|_| KraError::Crypto("public key encoding"))?;
        let secret = self.open_envelope(envelope, |kek| envelope_aad(kek, &spki))?;
        let key = PKey::private_key_from_pkcs8(&secret)
            .map_err(|_| KraError::Damaged("the decrypted key is not PKCS#8".into()))?;
        if !key.public_eq(public_key) {
            return Err(KraError::Damaged(
                "the decrypted key does not match its certificate".into(),
            ));
        }
        Ok(transport::seal(
            recipient,
            &secret,
            &transport::context(request_id, &spki),
        )?)
    }

    /// Seals a small secret (a PIN, a PIN/PUK pair) for the store, bound to `purpose` and
    /// `context`: it opens only with the same two.
    pub fn seal_secret(
        &self,
        purpose: &str,
        context: &str,
        secret: &[u8],
    ) -> Result<Envelope, KraError> {
        if secret.is_empty() || secret.len() > MAX_SECRET {
            return Err(KraError::Crypto("secret size"));
        }
        self.seal_envelope(secret, |kek| secret_aad(kek, purpose, context))
    }

    /// Opens a secret sealed by [`Kra::seal_secret`] with the same `purpose` and `context`.
    pub fn open_secret(
        &self,
        envelope: &Envelope,
        purpose: &str,
        context: &str,
    ) -> Result<Zeroizing<Vec<u8>>, KraError> {
        self.open_envelope(envelope, |kek| secret_aad(kek, purpose, context))
    }

    fn seal_envelope(
        &self,
        secret: &[u8],
        aad: impl Fn(&str) -> Vec<u8>,
    ) -> Result<Envelope, KraError> {
        let kek = self.archive_key()?;
        let mut data_key = Zeroizing::new([0u8; 32]);
        let mut nonce = [0u8; 12];
        openssl::rand::rand_bytes(data_key.as_mut_slice())
            .and_then(|_| openssl::rand::rand_bytes(&mut nonce))
            .map_err(|_| KraError::Crypto("random generator"))?;
        let wrapped = kek.wrap_data_key(&data_key)?;
        let mut tag = [0u8; 16];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            data_key.as_slice(),
            Some(&nonce),
            &aad(kek.id()),
            secret,
            &mut tag,
        )
        .map_err(|_| KraError::Crypto("AES-256-GCM"))?;
        let wrapped_len = u8::try_from(wrapped.len()).map_err(|_| KraError::Crypto("key wrap"))?;
        let mut sealed = Vec::with_capacity(2 + wrapped.len() + 12 + ciphertext.len() + 16);
        sealed.push(ENVELOPE_VERSION);
        sealed.push(wrapped_len);
        sealed.extend_from_slice(&wrapped);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed.extend_from_slice(&tag);
        Ok(Envelope {
            kek_id: kek.id().to_string(),
            sealed,
        })
    }

    fn open_envelope(
        &self,
        envelope: &Envelope,
        aad: impl Fn(&str) -> Vec<u8>,
    ) -> Result<Zeroizing<Vec<u8>>, KraError> {
        let kek = self.archive_key()?;
        if envelope.kek_id != kek.id() {
            return Err(KraError::UnknownArchiveKey(envelope.kek_id.clone()));
        }
        let damaged = |why: &str| KraError::Damaged(why.to_string());
        let s = &envelope.sealed;
        if s.len() < 2 || s[0] != ENVELOPE_VERSION {
            return Err(damaged("unknown envelope version"));
        }
        let wrapped_end = 2 + usize::from(s[1]);
        if s.len() < wrapped_end + 12 + 16 + 1 {
            return Err(damaged("envelope too short"));
        }
        let data_key = kek.unwrap_data_key(&s[2..wrapped_end])?;
        let nonce = &s[wrapped_end..wrapped_end + 12];
        let (body, tag) = s[wrapped_end + 12..].split_at(s.len() - wrapped_end - 12 - 16);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            data_key.as_slice(),
            Some(nonce),
            &aad(&envelope.kek_id),
            body,
            tag,
        )
        .map(Zeroizing::new)
        .map_err(|_| {
            damaged("the envelope does not decrypt (altered, or not the one of this object)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_crypto::transport::TransportKeyPair;
    use keyward_policy::keyspec::Curve;

    fn new_kra() -> Kra {
        Kra::new(Some(Box::new(SoftwareArchiveKey::generate().unwrap())))
    }

    #[test]
    fn pooled_keys_are_archived_delivered_and_used_once() {
        let spec = KeySpec::Rsa(2048);
        let pool = Arc::new(KeyPool::new(vec![(spec, 2)]));
        assert!(pool.wait_full(std::time::Duration::from_secs(120)));
        let kra = new_kra().with_key_pool(Arc::clone(&pool));
        assert!(format!("{kra:?}").contains("RSA:2048: 2/2"), "{kra:?}");
        let ra = TransportKeyPair::generate().unwrap();
        let recipient = Kra::transport_key(&ra.public_der().unwrap()).unwrap();
        let mut moduli = Vec::new();
        for i in 0..3 {
            let made = kra
                .generate(spec, true, &recipient, &format!("r{i}"))
                .unwrap();
            let envelope = made.envelope.unwrap();
            kra.recover(&envelope, &made.public_key, &recipient, "x")
                .unwrap();
            moduli.push(made.public_key.rsa().unwrap().n().to_vec());
        }
        moduli.sort();
        moduli.dedup();
        assert_eq!(moduli.len(), 3);
        let stats = pool.stats();
        // Two from the pool; the third from the pool too if the thread refilled it in time.
        assert_eq!(stats.taken + stats.generated_on_demand, 3, "{stats:?}");
        assert!(stats.taken >= 2, "{stats:?}");
    }

    #[test]
    fn archive_recover_and_deliver() {
        let kra = new_kra();
        let ra = TransportKeyPair::generate().unwrap();
        let recipient = Kra::transport_key(&ra.public_der().unwrap()).unwrap();
        let spec = KeySpec::Ec(Curve::BrainpoolP320r1);
        let made = kra.generate(spec, true, &recipient, "r1").unwrap();
        let envelope = made.envelope.clone().unwrap();
        let spki = made.public_key.public_key_to_der().unwrap();

        let delivered = ra
            .open(&made.delivery, &transport::context("r1", &spki))
            .unwrap();
        let key = PKey::private_key_from_pkcs8(&delivered).unwrap();
        assert!(key.public_eq(&made.public_key));
        assert!(
            !envelope
                .sealed
                .windows(delivered.len())
                .any(|w| w == delivered.as_slice()),
            "the envelope holds no clear key"
        );

        let later = TransportKeyPair::generate().unwrap();
        let recipient2 = Kra::transport_key(&later.public_der().unwrap()).unwrap();
        let sealed = kra
            .recover(&envelope, &made.public_key, &recipient2, "r2")
            .unwrap();
        let back = later
            .open(&sealed, &transport::context("r2", &spki))
            .unwrap();
        assert_eq!(back.as_slice(), delivered.as_slice());
    }

    #[test]
    fn damage_and_misuse_are_refused() {
        let kra = new_kra();
        let ra = TransportKeyPair::generate().unwrap();
        let recipient = Kra::transport_key(&ra.public_der().unwrap()).unwrap();
        let spec = KeySpec::Ec(Curve::Secp256r1);
        let a = kra.generate(spec, true, &recipient, "r").unwrap();
        let b = kra.generate(spec, true, &recipient, "r").unwrap();
        let env = a.envelope.unwrap();
        for i in 0..env.sealed.len() {
            let mut flipped = env.clone();
            flipped.sealed[i] ^= 0x01;
            assert!(
                matches!(
                    kra.recover(&flipped, &a.public_key, &recipient, "x"),
                    Err(KraError::Damaged(_))
                ),
                "byte {i}"
            );
        }
        // An envelope moved onto another certificate does not open.
        assert!(matches!(
            kra.recover(&env, &b.public_key, &recipient, "x"),
            Err(KraError::Damaged(_))
        ));
        assert!(matches!(
            new_kra().recover(&env, &a.public_key, &recipient, "x"),
            Err(KraError::UnknownArchiveKey(_))
        ));
        let none = Kra::new(None);
        assert!(matches!(
            none.generate(spec, true, &recipient, "r"),
            Err(KraError::NoArchiveKey)
        ));
        assert!(none
            .generate(spec, false, &recipient, "r")
            .unwrap()
            .envelope
            .is_none());
        assert!(format!("{env:?}").contains("bytes"));
    }
}

#[cfg(test)]
mod secret_tests;
