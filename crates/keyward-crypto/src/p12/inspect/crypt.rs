//! The libcrypto side of the inspector: re-encoding BER, the MAC check, decrypting one safe or
//! key as written, and naming a key's type. Raw pointers stay in the guards of `super::ffi`.

// OpenSSL calls the `openssl` crate does not wrap; every block says why it is sound.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use der::Encode;
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl_sys as sys;
use openssl_sys::PKCS12;
use zeroize::Zeroizing;

use super::super::ffi::*;
use super::asn1::AlgId;

/// `ERR_LIB_EVP` and `EVP_R_BAD_DECRYPT` (err.h, evperr.h): a wrong password or damage.
const ERR_LIB_EVP: c_int = 6;
const EVP_R_BAD_DECRYPT: c_int = 100;

/// A password as OpenSSL takes it. `Null` is "no password", which PKCS#12 tells apart from the
/// empty string.
pub(super) enum Password {
    Null,
    Text(Pass),
}

impl Password {
    fn raw(&self) -> (*const c_char, c_int) {
        match self {
            Password::Null => (ptr::null(), 0),
            Password::Text(pass) => (pass.as_ptr(), -1),
        }
    }

    /// The PIN as given: the empty PIN is "no password" (as `PKCS12_parse` without a MAC).
    pub(super) fn for_pin(pin: &str) -> Password {
        match Pass::new(pin) {
            Some(pass) if !pin.is_empty() => Password::Text(pass),
            _ => Password::Null,
        }
    }

    /// What to try on the MAC: the PIN itself or, for the empty PIN or none, both readings of
    /// "empty" (`PKCS12_parse` does the same). A PIN holding a NUL yields nothing.
    pub(super) fn candidates(pin: Option<&str>) -> Vec<Password> {
        match pin {
            Some(pin) if !pin.is_empty() => {
                Pass::new(pin).map(Password::Text).into_iter().collect()
            }
            _ => [Some(Password::Null), Pass::new("").map(Password::Text)]
                .into_iter()
                .flatten()
                .collect(),
        }
    }
}

fn d2i_pkcs12(der: &[u8]) -> Option<Owned<PKCS12>> {
    let len = der_len(der).ok()?;
    let mut p = der.as_ptr();
    // SAFETY: `p` points to `len` readable bytes; a new PKCS12 (BER accepted) or null.
    let raw = unsafe { sys::d2i_PKCS12(ptr::null_mut(), &mut p, len) };
    // SAFETY: a fresh PKCS12 owned by nobody else; PKCS12_free is its destructor.
    let p12 = unsafe { Owned::new(raw, sys::PKCS12_free) };
    if p12.is_none() {
        drop(ErrorStack::get());
    }
    p12
}

/// OpenSSL's reading of a (BER) PKCS#12, written back as DER; `None` if OpenSSL cannot read
/// it. Content OCTET STRINGs are copied as they are, so what they wrap may still be BER.
pub(super) fn reencode(der: &[u8]) -> Option<Vec<u8>> {
    let p12 = d2i_pkcs12(der)?;
    // SAFETY: valid PKCS12; a null output only computes the length.
    let len = unsafe { sys::i2d_PKCS12(p12.as_ptr(), ptr::null_mut()) };
    let size = usize::try_from(len).ok().filter(|&n| n > 0)?;
    let mut out = vec![0u8; size];
    let mut p = out.as_mut_ptr();
    // SAFETY: `out` has exactly the `len` bytes i2d reported for this same object.
    let written = unsafe { sys::i2d_PKCS12(p12.as_ptr(), &mut p) };
    (written == len).then_some(out)
}

/// The outcome of the MAC check.
pub(super) enum MacCheck {
    /// The MAC verifies with this password.
    Verified(Password),
    /// No candidate verifies it.
    Mismatch,
    /// OpenSSL cannot check it (an unknown digest, say): its reason.
    Failed(String),
}

/// Checks the (HMAC) MAC with each candidate password in turn.
pub(super) fn check_mac(der: &[u8], candidates: Vec<Password>) -> MacCheck {
    let Some(p12) = d2i_pkcs12(der) else {
        return MacCheck::Failed("OpenSSL cannot read the file".into());
    };
    for password in candidates {
        let (pass, len) = password.raw();
        // SAFETY: valid PKCS12; `pass` is null with 0 or NUL-terminated with -1.
        if unsafe { PKCS12_verify_mac(p12.as_ptr(), pass, len) } == 1 {
            return MacCheck::Verified(password);
        }
        let errors = ErrorStack::get();
        let mismatch = errors.errors().iter().all(|e| {
            e.library_code() == ERR_LIB_PKCS12 && e.reason_code() == PKCS12_R_MAC_VERIFY_FAILURE
        });
        if !mismatch {
            return MacCheck::Failed(reason(&errors));
        }
    }
    MacCheck::Mismatch
}

fn reason(errors: &ErrorStack) -> String {
    errors
        .errors()
        .iter()
        .rev()
        .find_map(|e| e.reason())
        .unwrap_or("unknown error")
        .to_string()
}

/// The outcome of one decryption.
pub(super) enum Decrypted {
    /// The plaintext (wiped on drop).
    Plain(Zeroizing<Vec<u8>>),
    /// The padding did not check out: a wrong password, or damage.
    BadDecrypt,
    /// OpenSSL could not try (an algorithm it lacks, say): its reason.
    Failed(String),
}

/// Decrypts `ciphertext` as `alg` says (PBES2 or a PKCS#12 / PKCS#5 PBE scheme), as
/// `PKCS12_unpack_p7encdata` and `PKCS12_decrypt_skey` do.
pub(super) fn decrypt(alg: &AlgId, ciphertext: &[u8], password: &Password) -> Decrypted {
    let Ok(alg_der) = alg.to_der() else {
        return Decrypted::Failed("unreadable algorithm".into());
    };
    let (Ok(alg_len), Ok(in_len)) = (der_len(&alg_der), c_int::try_from(ciphertext.len())) else {
        return Decrypted::Failed("too large".into());
    };
    let mut p = alg_der.as_ptr();
    // SAFETY: `p` points to `alg_len` readable bytes; a new X509_ALGOR or null.
    let raw = unsafe { d2i_X509_ALGOR(ptr::null_mut(), &mut p, alg_len) };
    // SAFETY: fresh and ours; X509_ALGOR_free is its destructor.
    let Some(algor) = (unsafe { Owned::new(raw, sys::X509_ALGOR_free) }) else {
        return Decrypted::Failed(reason(&ErrorStack::get()));
    };
    let (pass, pass_len) = password.raw();
    let mut out: *mut u8 = ptr::null_mut();
    let mut out_len: c_int = 0;
    // SAFETY: valid algorithm; `pass` null with 0 or NUL-terminated with -1; `in_len` readable
    // bytes; on success `out` is a new buffer of `out_len` bytes that we copy and wipe-free.
    let result = unsafe {
        PKCS12_pbe_crypt(
            algor.as_ptr(),
            pass,
            pass_len,
            ciphertext.as_ptr(),
            in_len,
            &mut out,
            &mut out_len,
            0,
        )
    };
    if result.is_null() || out.is_null() {
        let errors = ErrorStack::get();
        let bad = errors
            .errors()
            .iter()
            .any(|e| e.library_code() == ERR_LIB_EVP && e.reason_code() == EVP_R_BAD_DECRYPT);
        return if bad {
            Decrypted::BadDecrypt
        } else {
            Decrypted::Failed(reason(&errors))
        };
    }
    let len = usize::try_from(out_len).unwrap_or(0);
    // SAFETY: `out` holds `out_len` bytes written by OpenSSL.
    let plain = Zeroizing::new(unsafe { std::slice::from_raw_parts(out, len) }.to_vec());
    // SAFETY: allocated by OpenSSL for us (OPENSSL_malloc), wiped and freed once.
    unsafe { CRYPTO_clear_free(out.cast::<c_void>(), len, c"keyward".as_ptr(), 0) };
    Decrypted::Plain(plain)
}

/// A private key from a PKCS#8 PrivateKeyInfo encoding (`None` if it does not parse).
pub(super) fn private_key(pkcs8: &[u8]) -> Option<PKey<Private>> {
    PKey::private_key_from_pkcs8(pkcs8).ok()
}

/// The key's type and size or curve: `RSA 2048`, `EC secp256r1`, `DSA 1024`, `Ed25519`, …
pub(super) fn key_type<T: HasPublic>(key: &PKeyRef<T>) -> String {
    match key.id() {
        Id::RSA => format!("RSA {}", key.bits()),
        Id::RSA_PSS => format!("RSA-PSS {}", key.bits()),
        Id::DSA => format!("DSA {}", key.bits()),
        Id::DH => format!("DH {}", key.bits()),
        Id::EC => {
            let curve = key
                .ec_key()
                .ok()
                .and_then(|ec| ec.group().curve_name())
                .map_or_else(|| format!("{}-bit explicit curve", key.bits()), curve_name);
            format!("EC {curve}")
        }
        Id::ED25519 => "Ed25519".into(),
        Id::ED448 => "Ed448".into(),
        Id::X25519 => "X25519".into(),
        Id::X448 => "X448".into(),
        other => format!("key type {}", other.as_raw()),
    }
}

/// SEC 2 names for the X9.62 prime curves (`prime256v1` is `secp256r1`), else OpenSSL's.
fn curve_name(nid: Nid) -> String {
    match nid {
        Nid::X9_62_PRIME256V1 => "secp256r1".into(),
        Nid::X9_62_PRIME192V1 => "secp192r1".into(),
        other => other
            .short_name()
            .map_or_else(|_| format!("curve {}", other.as_raw()), str::to_string),
    }
}
