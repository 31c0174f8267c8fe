//! AES-256 keys on a token and AES-256-GCM with them (the KRA's archive key).

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use zeroize::Zeroizing;

use crate::{Pkcs11Error, Token};

/// GCM tag length in bits.
const TAG_BITS: u64 = 128;

/// A secret (AES) key on a token: only a handle.
#[derive(Debug, Clone)]
pub struct SecretKey {
    handle: ObjectHandle,
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID.
    pub id: Vec<u8>,
}

impl Token {
    /// Generates an AES-256 key on the token (sensitive, not extractable, encrypt/decrypt
    /// only). Refused if a secret key with that label exists.
    pub fn generate_aes_key(&self, label: &str) -> Result<SecretKey, Pkcs11Error> {
        if self.exists(ObjectClass::SECRET_KEY, label)? {
            return Err(self.object_err(format!("a secret key labelled {label:?} exists")));
        }
        let mut id = [0u8; 16];
        openssl::rand::rand_bytes(&mut id)
            .map_err(|_| self.object_err("random generator failed".into()))?;
        let handle = self
            .session()
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    Attribute::Wrap(false),
                    Attribute::Unwrap(false),
                    Attribute::Label(label.as_bytes().to_vec()),
                    Attribute::Id(id.to_vec()),
                ],
            )
            .map_err(self.op_err("generate AES key"))?;
        Ok(SecretKey {
            handle,
            label: label.to_string(),
            id: id.to_vec(),
        })
    }

    /// The AES-256 key labelled `label`.
    pub fn aes_key(&self, label: &str) -> Result<SecretKey, Pkcs11Error> {
        let handle = self.find_one(ObjectClass::SECRET_KEY, label, "secret key")?;
        let attributes = self
            .session()
            .get_attributes(
                handle,
                &[
                    AttributeType::Id,
                    AttributeType::KeyType,
                    AttributeType::ValueLen,
                ],
            )
            .map_err(self.op_err("read secret key attributes"))?;
        let (mut id, mut aes, mut len) = (Vec::new(), false, 0usize);
        for attribute in attributes {
            match attribute {
                Attribute::Id(v) => id = v,
                Attribute::KeyType(t) => aes = t == KeyType::AES,
                Attribute::ValueLen(l) => len = l.into(),
                _ => {}
            }
        }
        if !aes || len != 32 {
            return Err(self.object_err(format!("secret key {label:?} is not an AES-256 key")));
        }
        Ok(SecretKey {
            handle,
            label: label.to_string(),
            id,
        })
    }

    /// AES-256-GCM on the token: returns ciphertext followed by the 16-byte tag. The caller
    /// supplies a fresh 12-byte IV for every call.
    pub fn aes_gcm_encrypt(
        &self,
        key: &SecretKey,
        iv: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Pkcs11Error> {
        let mut iv = *iv;
        let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())
            .map_err(self.op_err("AES-GCM parameters"))?;
        self.session()
            .encrypt(&Mechanism::AesGcm(params), key.handle, plaintext)
            .map_err(self.op_err("AES-GCM encryption"))
    }

    /// Opens what [`Token::aes_gcm_encrypt`] sealed. An altered ciphertext, tag, IV or
    /// associated data is [`Pkcs11Error::Rejected`].
    pub fn aes_gcm_decrypt(
        &self,
        key: &SecretKey,
        iv: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Pkcs11Error> {
        let mut iv = *iv;
        let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())
            .map_err(self.op_err("AES-GCM parameters"))?;
        match self
            .session()
            .decrypt(&Mechanism::AesGcm(params), key.handle, sealed)
        {
            Ok(plain) => Ok(Zeroizing::new(plain)),
            Err(Error::Pkcs11(
                RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::DataInvalid
                | RvError::DataLenRange
                | RvError::GeneralError,
                _,
            )) => Err(Pkcs11Error::Rejected {
                token: self.describe(),
                operation: "AES-GCM decryption",
            }),
            Err(e) => Err(self.op_err("AES-GCM decryption")(e)),
        }
    }
}
