//! An archive key (KEK) that never leaves a PKCS#11 token (an HSM; SoftHSM2 in tests).
//!
//! SoftHSM2 2.6 offers `CKM_AES_KEY_WRAP` only through `C_WrapKey`/`C_UnwrapKey` on key
//! objects, not through `C_Encrypt` on raw bytes, so the data key is sealed with AES-256-GCM on
//! the token instead. The wrapped data key is
//!
//! ```text
//! 0x01 (format) || IV (12 random bytes) || AES-256-GCM ciphertext of the data key (32) || tag (16)
//! ```
//!
//! 61 bytes, with the associated data `keyward-kek-gcm-v1\n<archive key ID>`. Any altered byte
//! of the IV, the ciphertext or the tag, or another archive key, fails the tag check on the
//! token, and the envelope is reported damaged.

use std::path::Path;

use keyward_pkcs11::{Pkcs11Error, SecretKey, Token};
use zeroize::Zeroizing;

use crate::{ArchiveKey, KraError};

const FORMAT: u8 = 1;
const AAD_LABEL: &str = "keyward-kek-gcm-v1";
const WRAPPED_LEN: usize = 1 + 12 + 32 + 16;

/// An AES-256 archive key on a PKCS#11 token, used through a logged-in session.
pub struct Pkcs11ArchiveKey {
    id: String,
    token: Token,
    key: SecretKey,
}

impl std::fmt::Debug for Pkcs11ArchiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pkcs11ArchiveKey({}, {})", self.id, self.describe())
    }
}

fn hsm(e: Pkcs11Error) -> KraError {
    KraError::Hsm(e)
}

impl Pkcs11ArchiveKey {
    /// Opens the AES-256 key labelled `key_label` on the token labelled `token_label`,
    /// logging in with the user PIN.
    pub fn open(
        module: &Path,
        token_label: &str,
        key_label: &str,
        pin: &str,
    ) -> Result<Pkcs11ArchiveKey, KraError> {
        let token = Token::open(module, token_label).map_err(hsm)?;
        token.login(pin).map_err(hsm)?;
        let key = token.aes_key(key_label).map_err(hsm)?;
        Ok(Pkcs11ArchiveKey::new(token, key))
    }

    /// Generates a new AES-256 archive key on the token (sensitive, not extractable), labelled
    /// `key_label`; refused if the token already has a secret key with that label.
    pub fn create(
        module: &Path,
        token_label: &str,
        key_label: &str,
        pin: &str,
    ) -> Result<Pkcs11ArchiveKey, KraError> {
        let token = Token::open(module, token_label).map_err(hsm)?;
        token.login(pin).map_err(hsm)?;
        let key = token.generate_aes_key(key_label).map_err(hsm)?;
        Ok(Pkcs11ArchiveKey::new(token, key))
    }

    fn new(token: Token, key: SecretKey) -> Pkcs11ArchiveKey {
        // The ID follows the key (its CKA_ID), not the label, which an administrator may change.
        Pkcs11ArchiveKey {
            id: format!("kek-pkcs11-{}", hex::encode(&key.id)),
            token,
            key,
        }
    }

    /// `PKCS#11 token "LABEL" (MODULE) key "KEY"`.
    pub fn describe(&self) -> String {
        format!("{} key {:?}", self.token.describe(), self.key.label)
    }

    fn aad(&self) -> Vec<u8> {
        format!("{AAD_LABEL}\n{}", self.id).into_bytes()
    }
}

impl ArchiveKey for Pkcs11ArchiveKey {
    fn id(&self) -> &str {
        &self.id
    }

    fn wrap_data_key(&self, data_key: &[u8; 32]) -> Result<Vec<u8>, KraError> {
        let mut iv = [0u8; 12];
        openssl::rand::rand_bytes(&mut iv).map_err(|_| KraError::Crypto("random generator"))?;
        let sealed = self
            .token
            .aes_gcm_encrypt(&self.key, &iv, &self.aad(), data_key)
            .map_err(hsm)?;
        if sealed.len() != 32 + 16 {
            return Err(KraError::Crypto(
                "AES-GCM on the token returned a wrong length for the data key",
            ));
        }
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.push(FORMAT);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn unwrap_data_key(&self, wrapped: &[u8]) -> Result<Zeroizing<[u8; 32]>, KraError> {
        if wrapped.len() != WRAPPED_LEN || wrapped[0] != FORMAT {
            return Err(KraError::Damaged(
                "wrapped data key has the wrong length or format".into(),
            ));
        }
        let mut iv = [0u8; 12];
        iv.copy_from_slice(&wrapped[1..13]);
        let plain = self
            .token
            .aes_gcm_decrypt(&self.key, &iv, &self.aad(), &wrapped[13..])
            .map_err(|e| match e {
                Pkcs11Error::Rejected { .. } => KraError::Damaged(
                    "the data key does not unwrap (altered, or another archive key)".into(),
                ),
                other => hsm(other),
            })?;
        if plain.len() != 32 {
            return Err(KraError::Damaged(
                "the unwrapped data key has the wrong length".into(),
            ));
        }
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&plain);
        Ok(out)
    }
}
