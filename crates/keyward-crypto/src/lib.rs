//! Cryptography shared by the RA client and the server, on the system OpenSSL 3 (the only stack
//! that covers all twelve key specs, brainpoolP320r1 and DSA included).

pub mod entropy;
pub mod files;
pub mod key_pool;
mod keys;
mod p12;
mod pin;
pub mod transport;

pub use key_pool::{KeyPool, KeyPoolStats};
pub use keys::{
    build_csr, generate_key, key_spec_of, message_digest_for, sign_message, verify_csr,
    verify_message, x509_name,
};
/// `keyward p12 inspect`: the structure of any PKCS#12 ([`p12_inspect::inspect`]).
pub use p12::inspect as p12_inspect;
pub use p12::{
    build_p12, build_p12_entries, parse_p12, parse_p12_entries, P12Entry, P12Scheme, ParsedEntry,
    ParsedP12, Pkcs12Profile,
};
pub use pin::{generate_for, generate_pin, generate_puk, Pin};

/// What went wrong. Never carries key material or PINs.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// OpenSSL refused an operation; the context says which.
    #[error("{context}: {detail}")]
    OpenSsl {
        /// The operation.
        context: &'static str,
        /// OpenSSL's reason (no secret data).
        detail: String,
    },
    /// A key Keyward does not issue.
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    /// A CSR that is malformed or whose signature does not verify.
    #[error("CSR: {0}")]
    BadCsr(String),
    /// The PIN does not open the PKCS#12.
    #[error("wrong PIN (the PKCS#12 MAC does not verify)")]
    WrongPin,
    /// A PKCS#12 that is malformed or incomplete.
    #[error("PKCS#12: {0}")]
    BadPkcs12(String),
    /// Bytes that are no PKCS#12 at all (or a truncated one); the detail is the parser's.
    #[error("not a PKCS#12 file ({0})")]
    NotPkcs12(String),
    /// The random generator failed its health check.
    #[error("random generator health check failed: {0}")]
    Entropy(String),
}

pub(crate) fn ossl(context: &'static str) -> impl Fn(openssl::error::ErrorStack) -> CryptoError {
    move |e| CryptoError::OpenSsl {
        context,
        detail: e
            .errors()
            .first()
            .and_then(|err| err.reason().map(str::to_string))
            .unwrap_or_else(|| "unknown error".into()),
    }
}

/// A positive, fixed-length certificate serial: 16 bytes from the CSPRNG, first byte in
/// `0x40..=0x7f` (126 random bits; never negative, never shortened by a leading zero).
pub fn random_serial() -> Result<[u8; 16], CryptoError> {
    let mut serial = [0u8; 16];
    openssl::rand::rand_bytes(&mut serial).map_err(ossl("random serial"))?;
    serial[0] = (serial[0] & 0x3f) | 0x40;
    Ok(serial)
}

/// Lowercase hex SHA-256 of `bytes` (certificate fingerprints).
pub fn sha256_hex(bytes: &[u8]) -> String {
    match openssl::hash::hash(openssl::hash::MessageDigest::sha256(), bytes) {
        Ok(digest) => hex::encode(digest),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_positive_fixed_length_and_distinct() {
        let a = random_serial().unwrap();
        let b = random_serial().unwrap();
        assert_ne!(a, b);
        for s in [a, b] {
            assert!((0x40..=0x7f).contains(&s[0]));
        }
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
