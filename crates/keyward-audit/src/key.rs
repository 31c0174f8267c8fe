//! The audit key and sealing.

use std::fmt;
use std::path::Path;

use openssl::ec::EcKey;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, PKey, PKeyRef, Private, Public};
use openssl::sign::Signer;
use openssl::symm::Cipher;

use keyward_store::{AuditSeal, NewAuditSeal, Store};

use crate::AuditError;

/// Domain label of seal signatures (version 1).
pub const SEAL_LABEL: &str = "keyward-audit-seal-v1";

/// The bytes a seal signs: [`SEAL_LABEL`], then `upto_id` as an 8-byte big-endian integer, then
/// `head_hash` (the hash of record `upto_id`, 64 lowercase hex digits) as ASCII.
pub fn seal_message(upto_id: i64, head_hash: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(SEAL_LABEL.len() + 8 + head_hash.len());
    m.extend_from_slice(SEAL_LABEL.as_bytes());
    m.extend_from_slice(&upto_id.to_be_bytes());
    m.extend_from_slice(head_hash.as_bytes());
    m
}

/// The first 16 hex digits of the SHA-256 of a key's SubjectPublicKeyInfo (DER).
fn key_id_of<T: HasPublic>(key: &PKeyRef<T>) -> Result<String, AuditError> {
    let spki = key.public_key_to_der()?;
    let mut id = hex::encode(openssl::sha::sha256(&spki));
    id.truncate(16);
    Ok(id)
}

/// Refuses anything but an EC P-256 key.
fn check_p256<T: HasPublic>(key: &PKeyRef<T>) -> Result<(), String> {
    let ec = key
        .ec_key()
        .map_err(|_| "not an EC key (the audit key is EC P-256)".to_string())?;
    if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
        return Err("not a P-256 key (the audit key is EC P-256)".into());
    }
    Ok(())
}

/// The key ID of a public key in PEM (SubjectPublicKeyInfo), as seals record it.
pub fn public_key_id(public_key_pem: &[u8]) -> Result<String, AuditError> {
    let key = parse_public(public_key_pem)?;
    key_id_of(&key)
}

/// Parses an EC P-256 public key from PEM.
pub(crate) fn parse_public(pem: &[u8]) -> Result<PKey<Public>, AuditError> {
    let key = PKey::public_key_from_pem(pem)
        .map_err(|_| AuditError::Key("not a PEM public key".into()))?;
    check_p256(&key).map_err(AuditError::Key)?;
    Ok(key)
}

/// The audit key: an EC P-256 private key that signs seals. `Debug` shows its key ID only.
pub struct AuditKey {
    key: PKey<Private>,
    key_id: String,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AuditKey {
    /// A new random key.
    pub fn generate() -> Result<AuditKey, AuditError> {
        let group = openssl::ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
        AuditKey::from_key(key)
    }

    fn from_key(key: PKey<Private>) -> Result<AuditKey, AuditError> {
        check_p256(&key).map_err(AuditError::Key)?;
        let key_id = key_id_of(&key)?;
        Ok(AuditKey { key, key_id })
    }

    /// Decrypts a key written by [`AuditKey::encrypted_pem`] (a trailing newline of the
    /// passphrase is ignored).
    pub fn from_encrypted_pem(pem: &[u8], passphrase: &[u8]) -> Result<AuditKey, AuditError> {
        let key = PKey::private_key_from_pem_passphrase(pem, passphrase.trim_ascii_end()).map_err(
            |_| AuditError::Key("cannot be decrypted (wrong passphrase or damaged file)".into()),
        )?;
        AuditKey::from_key(key)
    }

    /// Loads the key file (encrypted PKCS#8 PEM) with the passphrase in `passphrase_file`
    /// (`audit.key` and `audit.key-passphrase-file` of cm.conf). Errors name the file.
    pub fn load(key_file: &Path, passphrase_file: &Path) -> Result<AuditKey, AuditError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| AuditError::File {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        };
        let passphrase = zeroize::Zeroizing::new(read(passphrase_file)?);
        let pem = read(key_file)?;
        AuditKey::from_encrypted_pem(&pem, &passphrase).map_err(|e| AuditError::File {
            path: key_file.to_path_buf(),
            reason: match e {
                AuditError::Key(reason) => reason,
                other => other.to_string(),
            },
        })
    }

    /// The key encrypted for storage: PKCS#8 PEM, AES-256-CBC under `passphrase` (the format of
    /// the CA key).
    pub fn encrypted_pem(&self, passphrase: &[u8]) -> Result<Vec<u8>, AuditError> {
        Ok(self
            .key
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), passphrase)?)
    }

    /// The public key, PEM (SubjectPublicKeyInfo): what verification needs.
    pub fn public_key_pem(&self) -> Result<Vec<u8>, AuditError> {
        Ok(self.key.public_key_to_pem()?)
    }

    /// The key ID: the first 16 hex digits of the SHA-256 of its SubjectPublicKeyInfo.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs [`seal_message`]`(upto_id, head_hash)`: ECDSA P-256 with SHA-256, DER.
    pub fn sign(&self, upto_id: i64, head_hash: &str) -> Result<Vec<u8>, AuditError> {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        signer.update(&seal_message(upto_id, head_hash))?;
        Ok(signer.sign_to_vec()?)
    }

    /// Seals the chain if records were appended since the last seal: signs the newest record's
    /// ID and hash and stores the seal. `None` when there is nothing new to seal (or another
    /// server node sealed as far first).
    pub async fn seal(&self, store: &Store) -> Result<Option<AuditSeal>, AuditError> {
        let Some((head_id, head_hash)) = store.audit_head().await? else {
            return Ok(None);
        };
        let last = store.last_audit_seal().await?;
        if last.is_some_and(|s| s.upto_id >= head_id) {
            return Ok(None);
        }
        let head_hash = head_hash.ok_or_else(|| {
            AuditError::Store(keyward_store::StoreError::Corrupt(format!(
                "audit record {head_id}: no hash"
            )))
        })?;
        let signature = self.sign(head_id, &head_hash)?;
        Ok(store
            .insert_audit_seal(&NewAuditSeal {
                upto_id: head_id,
                head_hash,
                key_id: self.key_id.clone(),
                signature,
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sign() {
        let key = AuditKey::generate().unwrap();
        let pem = key.encrypted_pem(b"secret").unwrap();
        assert!(String::from_utf8_lossy(&pem).contains("ENCRYPTED PRIVATE KEY"));
        let again = AuditKey::from_encrypted_pem(&pem, b"secret\n").unwrap();
        assert_eq!(again.key_id(), key.key_id());
        assert_eq!(key.key_id().len(), 16);
        let err = AuditKey::from_encrypted_pem(&pem, b"wrong").unwrap_err();
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
        let public = key.public_key_pem().unwrap();
        assert_eq!(public_key_id(&public).unwrap(), key.key_id());
        let sig = key.sign(7, &"ab".repeat(32)).unwrap();
        let pk = parse_public(&public).unwrap();
        let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &pk).unwrap();
        v.update(&seal_message(7, &"ab".repeat(32))).unwrap();
        assert!(v.verify(&sig).unwrap());
        let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        assert!(AuditKey::from_key(rsa).is_err());
        assert_eq!(seal_message(1, "h").len(), SEAL_LABEL.len() + 9);
    }
}
