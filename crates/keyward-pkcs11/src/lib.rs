//! PKCS#11 for Keyward: smart cards for officers, HSMs for the CA and archive keys.
//!
//! A [`Token`] is one logged-in session on the token with a given label in a PKCS#11 module
//! (a shared library such as SoftHSM2's `libsofthsm2.so`). Through it Keyward
//!
//! - finds private keys, certificates and secret keys by label (certificates also by CKA_ID);
//! - signs: ECDSA (the message is hashed here, then `CKM_ECDSA` signs the digest on the token;
//!   the result is a DER `ECDSA-Sig-Value`, as X.509, CMS and TLS want it) or RSA PKCS#1 v1.5
//!   (`CKM_SHA256_RSA_PKCS` and its SHA-384/512 siblings);
//! - generates EC key pairs (private key sensitive and never extractable) and AES-256 keys on
//!   the token, and stores certificates next to keys (same CKA_ID and label);
//! - encrypts and decrypts small secrets with AES-256-GCM under a token-held key.
//!
//! PINs are handed to the module in a zeroizing buffer and appear in no `Debug` output and no
//! error; errors name the module, the token and the object. A wrong PIN is
//! [`Pkcs11Error::WrongPin`].

#![forbid(unsafe_code)]

mod keys;
mod module;
mod secret;
mod token;

pub use keys::{Digest, EcCurve, KeyKind, KeyProtection, PrivateKey};
pub use secret::SecretKey;
pub use token::{Token, TokenCertificate};

/// Why a PKCS#11 operation failed. Never carries a PIN or key material.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The module cannot be loaded or initialised.
    #[error("PKCS#11 module {module}: {reason}")]
    Module {
        /// The module path.
        module: String,
        /// What went wrong.
        reason: String,
    },
    /// No token (or more than one) carries the label.
    #[error("PKCS#11 module {module}: {reason}")]
    TokenNotFound {
        /// The module path.
        module: String,
        /// What was looked for and what is there.
        reason: String,
    },
    /// The PIN is wrong (`CKR_PIN_INCORRECT`, or a PIN of impossible length).
    #[error("wrong PIN for {token}")]
    WrongPin {
        /// The token and its module.
        token: String,
    },
    /// The token refuses the PIN for good (`CKR_PIN_LOCKED`): too many wrong PINs.
    #[error("the PIN of {token} is locked (too many wrong PINs)")]
    PinLocked {
        /// The token and its module.
        token: String,
    },
    /// An object the caller named is not on the token, or is there more than once.
    #[error("{token}: {reason}")]
    Object {
        /// The token and its module.
        token: String,
        /// Which object, and what is wrong with it.
        reason: String,
    },
    /// An operation on the token failed.
    #[error("{token}: {operation}: {reason}")]
    Operation {
        /// The token and its module.
        token: String,
        /// What was attempted.
        operation: &'static str,
        /// The module's answer (a `CKR_*` code, never data).
        reason: String,
    },
    /// The token refused to decrypt: the ciphertext, IV, tag or associated data was altered,
    /// or another key encrypted it.
    #[error("{token}: {operation}: the data does not decrypt (altered, or another key)")]
    Rejected {
        /// The token and its module.
        token: String,
        /// What was attempted.
        operation: &'static str,
    },
}

impl Pkcs11Error {
    /// The process exit code that goes with this error (see the README's table): 4 for a
    /// wrong or locked PIN, 3 for a module or token that is not there, 2 for an object the
    /// caller named wrongly, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Pkcs11Error::WrongPin { .. } | Pkcs11Error::PinLocked { .. } => 4,
            Pkcs11Error::Module { .. } | Pkcs11Error::TokenNotFound { .. } => 3,
            Pkcs11Error::Object { .. } => 2,
            Pkcs11Error::Operation { .. } | Pkcs11Error::Rejected { .. } => 1,
        }
    }
}
