//! The archive key (KEK): wraps and unwraps the per-key data keys.
//!
//! A software archive key is an AES-256 key used with AES Key Wrap (RFC 3394), kept in a file
//! encrypted at rest (PBKDF2-HMAC-SHA-256 + AES-256-GCM under a passphrase). A PKCS#11 archive
//! key ([`crate::Pkcs11ArchiveKey`]) implements the same trait, with wrapping done on the token.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::aes::{unwrap_key, wrap_key, AesKey};
use openssl::hash::MessageDigest;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::KraError;

const FILE_FORMAT: &str = "keyward-archive-key-v1";
const KDF: &str = "pbkdf2-hmac-sha256";
/// The passphrase `init` writes is 32 random characters; the iterations only slow down guessing
/// a weaker one an administrator might choose.
const ITERATIONS: u32 = 210_000;
const MAX_ITERATIONS: u32 = 10_000_000;

/// Wraps and unwraps data keys. Implementations never reveal the key itself.
pub trait ArchiveKey: Send + Sync {
    /// A stable identifier recorded with every key it wraps.
    fn id(&self) -> &str;
    /// Wraps a 32-byte data key.
    fn wrap_data_key(&self, data_key: &[u8; 32]) -> Result<Vec<u8>, KraError>;
    /// Unwraps a data key; fails if `wrapped` was altered.
    fn unwrap_data_key(&self, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>, KraError>;
}

/// An AES-256 archive key held in memory (loaded from its encrypted file).
pub struct SoftwareArchiveKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SoftwareArchiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SoftwareArchiveKey({}, key hidden)", self.id)
    }
}

/// The archive key file: JSON, the key encrypted under a passphrase.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    id: String,
    kdf: String,
    iterations: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
}

fn random<const N: usize>() -> Result<[u8; N], KraError> {
    let mut buf = [0u8; N];
    openssl::rand::rand_bytes(&mut buf).map_err(|_| KraError::Crypto("random generator"))?;
    Ok(buf)
}

fn file_key(
    passphrase: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Result<Zeroizing<[u8; 32]>, KraError> {
    let mut key = Zeroizing::new([0u8; 32]);
    openssl::pkcs5::pbkdf2_hmac(
        passphrase,
        salt,
        iterations as usize,
        MessageDigest::sha256(),
        key.as_mut_slice(),
    )
    .map_err(|_| KraError::Crypto("PBKDF2"))?;
    Ok(key)
}

fn aad(id: &str) -> Vec<u8> {
    format!("{FILE_FORMAT}\n{id}").into_bytes()
}

impl SoftwareArchiveKey {
    /// A new random archive key with a random identifier.
    pub fn generate() -> Result<SoftwareArchiveKey, KraError> {
        Ok(SoftwareArchiveKey {
            id: format!("kek-{}", hex::encode(random::<8>()?)),
            key: Zeroizing::new(random::<32>()?),
        })
    }

    /// The key file: the key encrypted under `passphrase`.
    pub fn to_file(&self, passphrase: &[u8]) -> Result<Vec<u8>, KraError> {
        let salt = random::<16>()?;
        let nonce = random::<12>()?;
        let fk = file_key(passphrase, &salt, ITERATIONS)?;
        let mut tag = [0u8; 16];
        let mut ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            fk.as_slice(),
            Some(&nonce),
            &aad(&self.id),
            self.key.as_slice(),
            &mut tag,
        )
        .map_err(|_| KraError::Crypto("AES-256-GCM"))?;
        ciphertext.extend_from_slice(&tag);
        let file = KeyFile {
            format: FILE_FORMAT.into(),
            id: self.id.clone(),
            kdf: KDF.into(),
            iterations: ITERATIONS,
            salt: STANDARD.encode(salt),
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(ciphertext),
        };
        let mut text =
            serde_json::to_vec_pretty(&file).map_err(|_| KraError::Crypto("key file"))?;
        text.push(b'\n');
        Ok(text)
    }

    /// Reads a key file written by [`SoftwareArchiveKey::to_file`].
    pub fn from_file(bytes: &[u8], passphrase: &[u8]) -> Result<SoftwareArchiveKey, KraError> {
        let bad = |why: &str| KraError::KeyFile(why.to_string());
        let file: KeyFile = serde_json::from_slice(bytes)
            .map_err(|e| bad(&format!("not an archive key file: {e}")))?;
        if file.format != FILE_FORMAT {
            return Err(bad(&format!(
                "format {:?} is not {FILE_FORMAT}",
                file.format
            )));
        }
        if file.kdf != KDF {
            return Err(bad(&format!("kdf {:?} is not {KDF}", file.kdf)));
        }
        if file.iterations == 0 || file.iterations > MAX_ITERATIONS {
            return Err(bad("iterations out of range"));
        }
        let decode = |field: &str, text: &str| {
            STANDARD
                .decode(text)
                .map_err(|_| bad(&format!("{field} is not base64")))
        };
        let salt = decode("salt", &file.salt)?;
        let nonce = decode("nonce", &file.nonce)?;
        let sealed = decode("ciphertext", &file.ciphertext)?;
        if nonce.len() != 12 || sealed.len() != 32 + 16 {
            return Err(bad("nonce or ciphertext has the wrong length"));
        }
        let fk = file_key(passphrase, &salt, file.iterations)?;
        let (body, tag) = sealed.split_at(32);
        let key = Zeroizing::new(
            decrypt_aead(
                Cipher::aes_256_gcm(),
                fk.as_slice(),
                Some(&nonce),
                &aad(&file.id),
                body,
                tag,
            )
            .map_err(|_| bad("wrong passphrase or damaged file"))?,
        );
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&key);
        Ok(SoftwareArchiveKey {
            id: file.id,
            key: out,
        })
    }
}

impl ArchiveKey for SoftwareArchiveKey {
    fn id(&self) -> &str {
        &self.id
    }

    fn wrap_data_key(&self, data_key: &[u8; 32]) -> Result<Vec<u8>, KraError> {
        let kek = AesKey::new_encrypt(self.key.as_slice())
            .map_err(|_| KraError::Crypto("AES key wrap"))?;
        let mut out = vec![0u8; 40];
        wrap_key(&kek, None, &mut out, data_key).map_err(|_| KraError::Crypto("AES key wrap"))?;
        Ok(out)
    }

    fn unwrap_data_key(&self, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>, KraError> {
        if wrapped.len() != 40 {
            return Err(KraError::Damaged(
                "wrapped data key has the wrong length".into(),
            ));
        }
        let kek = AesKey::new_decrypt(self.key.as_slice())
            .map_err(|_| KraError::Crypto("AES key unwrap"))?;
        let mut out = Zeroizing::new([0u8; 32]);
        unwrap_key(&kek, None, out.as_mut_slice(), wrapped).map_err(|_| {
            KraError::Damaged(
                "the data key does not unwrap (altered, or another archive key)".into(),
            )
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip_and_wrong_passphrase() {
        let kek = SoftwareArchiveKey::generate().unwrap();
        let file = kek.to_file(b"correct horse").unwrap();
        let text = String::from_utf8(file.clone()).unwrap();
        assert!(text.contains(kek.id()) && text.contains(FILE_FORMAT));
        let back = SoftwareArchiveKey::from_file(&file, b"correct horse").unwrap();
        assert_eq!(back.id(), kek.id());
        let dek = [7u8; 32];
        let wrapped = kek.wrap_data_key(&dek).unwrap();
        assert_eq!(*back.unwrap_data_key(&wrapped).unwrap(), dek);
        assert!(matches!(
            SoftwareArchiveKey::from_file(&file, b"wrong"),
            Err(KraError::KeyFile(_))
        ));
        let mut flipped = wrapped.clone();
        flipped[5] ^= 0x10;
        assert!(matches!(
            back.unwrap_data_key(&flipped),
            Err(KraError::Damaged(_))
        ));
        let other = SoftwareArchiveKey::generate().unwrap();
        assert!(other.unwrap_data_key(&wrapped).is_err());
        assert!(!format!("{kek:?}").contains("7, 7"));
    }
}
