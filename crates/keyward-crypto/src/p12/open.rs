//! Opening a PKCS#12 bag by bag, as `PKCS12_parse` walks it (on the FFI of [`super::ffi`]), so
//! that every key and certificate of a multi-key token is returned with its attributes.

// OpenSSL calls the `openssl` crate does not wrap; every block says why it is sound.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, CStr};
use std::marker::PhantomData;
use std::ptr;

use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use openssl_sys as sys;
use openssl_sys::{PKCS12, PKCS7, PKCS8_PRIV_KEY_INFO, X509 as RawX509};
use zeroize::Zeroizing;

use super::ffi::*;
use crate::CryptoError;

/// What one bag of an opened PKCS#12 holds.
pub(super) enum BagContent {
    Key(PKey<Private>),
    Certificate(X509),
}

/// One key or certificate bag with its attributes. No `Debug`: it may hold a private key.
pub(super) struct OpenedBag {
    pub(super) content: BagContent,
    pub(super) local_key_id: Option<Vec<u8>>,
    pub(super) friendly_name: Option<String>,
}

/// The password in effect once the MAC verified (`PKCS12_parse`'s rules: an empty PIN may be
/// the empty string or no password at all).
struct Password<'a> {
    ptr: *const c_char,
    len: c_int,
    /// The MAC verified with this password, so a decryption failure means corruption.
    mac_verified: bool,
    _pass: PhantomData<&'a Pass>,
}

impl<'a> Password<'a> {
    fn some(pass: &'a Pass, mac_verified: bool) -> Self {
        Password {
            ptr: pass.as_ptr(),
            len: -1,
            mac_verified,
            _pass: PhantomData,
        }
    }

    fn none(mac_verified: bool) -> Self {
        Password {
            ptr: ptr::null(),
            len: 0,
            mac_verified,
            _pass: PhantomData,
        }
    }

    /// A decryption failure: the PIN if nothing vouched for it, else a damaged file.
    fn undecryptable(&self, what: &str) -> CryptoError {
        if self.mac_verified {
            malformed(what)
        } else {
            drop(ErrorStack::get());
            CryptoError::WrongPin
        }
    }
}

/// `PKCS12_verify_mac`, telling a wrong PIN (a MAC mismatch) from a damaged MAC.
fn verify_mac(p12: &Owned<PKCS12>, ptr: *const c_char, len: c_int) -> Result<bool, CryptoError> {
    // SAFETY: valid PKCS12; `ptr` is null with `len` 0 or NUL-terminated with `len` -1.
    if unsafe { PKCS12_verify_mac(p12.as_ptr(), ptr, len) } == 1 {
        return Ok(true);
    }
    let errors = ErrorStack::get();
    let mismatch = errors.errors().iter().all(|e| {
        e.library_code() == ERR_LIB_PKCS12 && e.reason_code() == PKCS12_R_MAC_VERIFY_FAILURE
    });
    if mismatch {
        // OpenSSL 3 reports a plain mismatch with no error at all.
        Ok(false)
    } else {
        let reason = errors
            .errors()
            .first()
            .and_then(|e| e.reason())
            .unwrap_or("unknown error");
        Err(CryptoError::BadPkcs12(format!("MAC: {reason}")))
    }
}

fn check_mac<'a>(p12: &Owned<PKCS12>, pass: &'a Pass) -> Result<Password<'a>, CryptoError> {
    // SAFETY: valid PKCS12, only read.
    if unsafe { PKCS12_mac_present(p12.as_ptr()) } != 1 {
        return Ok(if pass.is_empty() {
            Password::none(false)
        } else {
            Password::some(pass, false)
        });
    }
    if pass.is_empty() {
        if verify_mac(p12, ptr::null(), 0)? {
            return Ok(Password::none(true));
        }
        if verify_mac(p12, pass.as_ptr(), 0)? {
            return Ok(Password::some(pass, true));
        }
    } else if verify_mac(p12, pass.as_ptr(), -1)? {
        return Ok(Password::some(pass, true));
    }
    Err(CryptoError::WrongPin)
}

/// Every key and certificate bag of a DER PKCS#12, in file order (`PKCS12_parse`'s walk:
/// pkcs7-data and pkcs7-encrypted safes, nested SafeContents; other bags and safes skipped).
pub(super) fn open(der: &[u8], pin: &str) -> Result<Vec<OpenedBag>, CryptoError> {
    let len = der_len(der)?;
    let mut p = der.as_ptr();
    // SAFETY: `p` points to `len` readable bytes; a new PKCS12 or null.
    let raw = unsafe { sys::d2i_PKCS12(ptr::null_mut(), &mut p, len) };
    // SAFETY: a fresh PKCS12 owned by nobody else.
    let p12 = unsafe { Owned::new(raw, sys::PKCS12_free) }
        .ok_or_else(|| malformed("not a DER PKCS#12 file"))?;
    let pass = Pass::new(pin).ok_or(CryptoError::WrongPin)?;
    let password = check_mac(&p12, &pass)?;

    // SAFETY: valid PKCS12; the result is a new stack of new PKCS7 (or null), ours.
    let safes = unsafe { OwnedStack::adopt(PKCS12_unpack_authsafes(p12.as_ptr()), free_pkcs7) };
    if safes.ptr.is_null() {
        return Err(malformed("unreadable AuthenticatedSafe"));
    }
    let mut bags = Vec::new();
    for p7 in safes.view().items() {
        let p7 = p7.cast::<PKCS7>();
        if p7.is_null() {
            return Err(malformed("empty safe"));
        }
        // SAFETY: a valid PKCS7 of our stack; `type_` is a leading field of `struct pkcs7_st`
        // (declared by openssl-sys); OBJ_obj2nid accepts null.
        let nid = unsafe { sys::OBJ_obj2nid((*p7).type_) };
        let contents = match nid {
            // SAFETY: valid PKCS7 of type data; a new stack of new bags (or null), ours.
            sys::NID_pkcs7_data => unsafe {
                OwnedStack::adopt(PKCS12_unpack_p7data(p7), free_safebag)
            },
            // SAFETY: valid PKCS7 of type encrypted; the password as `check_mac` left it; a
            // new stack of new bags (or null), ours.
            sys::NID_pkcs7_encrypted => unsafe {
                OwnedStack::adopt(
                    PKCS12_unpack_p7encdata(p7, password.ptr, password.len),
                    free_safebag,
                )
            },
            _ => continue,
        };
        if contents.ptr.is_null() {
            return Err(if nid == sys::NID_pkcs7_encrypted {
                password.undecryptable("a safe does not decrypt")
            } else {
                malformed("unreadable SafeContents")
            });
        }
        collect(contents.view(), &password, 0, &mut bags)?;
    }
    Ok(bags)
}

fn collect(
    contents: StackView<'_>,
    password: &Password<'_>,
    depth: usize,
    out: &mut Vec<OpenedBag>,
) -> Result<(), CryptoError> {
    for bag in contents.items() {
        let bag = bag.cast::<Pkcs12SafeBag>();
        if bag.is_null() {
            return Err(malformed("empty bag"));
        }
        // `bag` is a valid bag of a stack that outlives this loop, for every call below; the
        // get0 results are borrowed from it, the get1/decrypt results are ours.
        // SAFETY: see above.
        let bag_nid = unsafe { PKCS12_SAFEBAG_get_nid(bag) };
        let content = match bag_nid {
            sys::NID_keyBag => {
                // SAFETY: see above.
                let p8 = unsafe { PKCS12_SAFEBAG_get0_p8inf(bag) };
                BagContent::Key(key_of(p8)?)
            }
            sys::NID_pkcs8ShroudedKeyBag => {
                // SAFETY: see above; the password as `check_mac` left it.
                let raw = unsafe { PKCS12_decrypt_skey(bag, password.ptr, password.len) };
                // SAFETY: a fresh PKCS8_PRIV_KEY_INFO, ours (its free wipes the key).
                let p8 = unsafe { Owned::new(raw, sys::PKCS8_PRIV_KEY_INFO_free) }
                    .ok_or_else(|| password.undecryptable("a private key does not decrypt"))?;
                BagContent::Key(key_of(p8.as_ptr())?)
            }
            sys::NID_certBag => {
                // SAFETY: see above.
                if unsafe { PKCS12_SAFEBAG_get_bag_nid(bag) } != sys::NID_x509Certificate {
                    continue;
                }
                // SAFETY: see above; a new X509 (or null), ours.
                let raw = unsafe { PKCS12_SAFEBAG_get1_cert(bag) };
                // SAFETY: ours, X509_free is its destructor.
                let cert = unsafe { Owned::new(raw, sys::X509_free) }
                    .ok_or_else(|| malformed("unreadable certificate bag"))?;
                BagContent::Certificate(certificate_of(&cert)?)
            }
            sys::NID_safeContentsBag => {
                if depth >= MAX_NESTING {
                    return Err(malformed("SafeContents nested too deeply"));
                }
                // SAFETY: see above; the stack is borrowed from `bag`.
                let inner = unsafe { PKCS12_SAFEBAG_get0_safes(bag) };
                let view = StackView {
                    ptr: inner,
                    _owner: PhantomData,
                };
                collect(view, password, depth + 1, out)?;
                continue;
            }
            _ => continue,
        };
        out.push(OpenedBag {
            content,
            local_key_id: local_key_id(bag),
            friendly_name: friendly_name(bag),
        });
    }
    Ok(())
}

/// A private key from a PKCS#8 structure, through a wiped DER buffer.
fn key_of(p8: *const PKCS8_PRIV_KEY_INFO) -> Result<PKey<Private>, CryptoError> {
    if p8.is_null() {
        return Err(malformed("empty key bag"));
    }
    // SAFETY: a valid PKCS8_PRIV_KEY_INFO (caller); a null output only computes the length.
    let len = unsafe { i2d_PKCS8_PRIV_KEY_INFO(p8, ptr::null_mut()) };
    let size = usize::try_from(len)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| malformed("unreadable private key"))?;
    let mut der = Zeroizing::new(vec![0u8; size]);
    let mut out = der.as_mut_ptr();
    // SAFETY: `der` has exactly the `len` bytes i2d reported for this same object.
    if unsafe { i2d_PKCS8_PRIV_KEY_INFO(p8, &mut out) } != len {
        return Err(malformed("unreadable private key"));
    }
    PKey::private_key_from_pkcs8(&der).map_err(|_| malformed("unreadable private key"))
}

fn certificate_of(cert: &Owned<RawX509>) -> Result<X509, CryptoError> {
    // SAFETY: a valid X509; a null output only computes the length.
    let len = unsafe { sys::i2d_X509(cert.as_ptr(), ptr::null_mut()) };
    let size = usize::try_from(len)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| malformed("unreadable certificate"))?;
    let mut der = vec![0u8; size];
    let mut out = der.as_mut_ptr();
    // SAFETY: `der` has exactly the `len` bytes i2d reported for this same object.
    if unsafe { sys::i2d_X509(cert.as_ptr(), &mut out) } != len {
        return Err(malformed("unreadable certificate"));
    }
    X509::from_der(&der).map_err(|_| malformed("unreadable certificate"))
}

/// The localKeyId attribute (an OCTET STRING); anything else reads as absent.
fn local_key_id(bag: *const Pkcs12SafeBag) -> Option<Vec<u8>> {
    // SAFETY: a valid bag (caller's loop); the attribute value is borrowed from it.
    let value = unsafe { PKCS12_SAFEBAG_get0_attr(bag, sys::NID_localKeyID) };
    if value.is_null() {
        return None;
    }
    // SAFETY: a valid ASN1_TYPE; with a null buffer and 0 it only returns the length (-1 if
    // not an OCTET STRING).
    let len = unsafe { ASN1_TYPE_get_octetstring(value, ptr::null_mut(), 0) };
    let Ok(size) = usize::try_from(len) else {
        drop(ErrorStack::get());
        return None;
    };
    let mut id = vec![0u8; size];
    // SAFETY: copies at most `len` bytes into `id`, which holds `len`.
    let copied = unsafe { ASN1_TYPE_get_octetstring(value, id.as_mut_ptr(), len) };
    (copied == len).then_some(id)
}

/// The friendlyName attribute (a BMPString), as UTF-8.
fn friendly_name(bag: *mut Pkcs12SafeBag) -> Option<String> {
    // SAFETY: a valid bag (only read despite the non-const prototype); the result is a new
    // NUL-terminated string (or null) that we free below.
    let raw = unsafe { PKCS12_get_friendlyname(bag) };
    if raw.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated (OPENSSL_uni2utf8); copied before it is freed.
    let name = unsafe { CStr::from_ptr(raw) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: allocated by OpenSSL for us, freed once.
    unsafe { sys::OPENSSL_free(raw.cast()) };
    Some(name)
}
