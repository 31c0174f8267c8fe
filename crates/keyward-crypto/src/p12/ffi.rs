//! The libcrypto PKCS#12 calls the `openssl` crate does not wrap: the building blocks of
//! `PKCS12_create` (one bag at a time, so a token can hold several keys) and of `PKCS12_parse`
//! (every bag, so none is dropped). Every raw pointer lives in an owning guard that frees it on
//! every path; nothing here outlives the call that created it. Keys and certificates cross the
//! boundary as DER (PKCS#8 buffers are wiped), so no `foreign-types` pointer plumbing is needed.

use std::ffi::{c_char, c_int, c_long, c_uchar, c_void};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl_sys as sys;
use openssl_sys::{OPENSSL_STACK, PKCS12, PKCS7, PKCS8_PRIV_KEY_INFO, X509 as RawX509};
use zeroize::Zeroizing;

use crate::{ossl, CryptoError};

/// `ERR_LIB_PKCS12` (err.h).
pub(super) const ERR_LIB_PKCS12: c_int = 35;
/// `PKCS12_R_MAC_VERIFY_FAILURE` (pkcs12err.h).
pub(super) const PKCS12_R_MAC_VERIFY_FAILURE: c_int = 113;
/// Nested SafeContents bags deeper than this are refused (OpenSSL recurses without a bound).
pub(super) const MAX_NESTING: usize = 8;

/// `PKCS12_SAFEBAG` (opaque).
pub(super) enum Pkcs12SafeBag {}

// Signatures from /usr/include/openssl/pkcs12.h and asn1.h / x509.h (OpenSSL 3.0).
// `STACK_OF(T) *` is an `OPENSSL_STACK *` for the ABI (the sk_T_* macros only cast).
extern "C" {
    pub(super) fn PKCS12_SAFEBAG_free(bag: *mut Pkcs12SafeBag);
    pub(super) fn PKCS12_add_cert(
        pbags: *mut *mut OPENSSL_STACK,
        cert: *mut RawX509,
    ) -> *mut Pkcs12SafeBag;
    pub(super) fn PKCS12_add_key(
        pbags: *mut *mut OPENSSL_STACK,
        key: *mut sys::EVP_PKEY,
        key_usage: c_int,
        iter: c_int,
        key_nid: c_int,
        pass: *const c_char,
    ) -> *mut Pkcs12SafeBag;
    pub(super) fn PKCS12_add_localkeyid(
        bag: *mut Pkcs12SafeBag,
        name: *mut c_uchar,
        namelen: c_int,
    ) -> c_int;
    pub(super) fn PKCS12_add_friendlyname_utf8(
        bag: *mut Pkcs12SafeBag,
        name: *const c_char,
        namelen: c_int,
    ) -> c_int;
    pub(super) fn PKCS12_add_safe(
        psafes: *mut *mut OPENSSL_STACK,
        bags: *mut OPENSSL_STACK,
        safe_nid: c_int,
        iter: c_int,
        pass: *const c_char,
    ) -> c_int;
    pub(super) fn PKCS12_add_safes(safes: *mut OPENSSL_STACK, p7_nid: c_int) -> *mut PKCS12;

    pub(super) fn PKCS12_mac_present(p12: *const PKCS12) -> c_int;
    pub(super) fn PKCS12_verify_mac(p12: *mut PKCS12, pass: *const c_char, passlen: c_int)
        -> c_int;
    pub(super) fn PKCS12_unpack_authsafes(p12: *const PKCS12) -> *mut OPENSSL_STACK;
    pub(super) fn PKCS12_unpack_p7data(p7: *mut PKCS7) -> *mut OPENSSL_STACK;
    pub(super) fn PKCS12_unpack_p7encdata(
        p7: *mut PKCS7,
        pass: *const c_char,
        passlen: c_int,
    ) -> *mut OPENSSL_STACK;
    pub(super) fn PKCS12_SAFEBAG_get_nid(bag: *const Pkcs12SafeBag) -> c_int;
    pub(super) fn PKCS12_SAFEBAG_get_bag_nid(bag: *const Pkcs12SafeBag) -> c_int;
    pub(super) fn PKCS12_SAFEBAG_get0_p8inf(
        bag: *const Pkcs12SafeBag,
    ) -> *const PKCS8_PRIV_KEY_INFO;
    pub(super) fn PKCS12_SAFEBAG_get0_safes(bag: *const Pkcs12SafeBag) -> *const OPENSSL_STACK;
    pub(super) fn PKCS12_SAFEBAG_get1_cert(bag: *const Pkcs12SafeBag) -> *mut RawX509;
    pub(super) fn PKCS12_SAFEBAG_get0_attr(
        bag: *const Pkcs12SafeBag,
        attr_nid: c_int,
    ) -> *const sys::ASN1_TYPE;
    pub(super) fn PKCS12_decrypt_skey(
        bag: *const Pkcs12SafeBag,
        pass: *const c_char,
        passlen: c_int,
    ) -> *mut PKCS8_PRIV_KEY_INFO;
    pub(super) fn PKCS12_get_friendlyname(bag: *mut Pkcs12SafeBag) -> *mut c_char;
    pub(super) fn ASN1_TYPE_get_octetstring(
        a: *const sys::ASN1_TYPE,
        data: *mut c_uchar,
        max_len: c_int,
    ) -> c_int;
    pub(super) fn i2d_PKCS8_PRIV_KEY_INFO(
        a: *const PKCS8_PRIV_KEY_INFO,
        out: *mut *mut c_uchar,
    ) -> c_int;
}

/// OpenSSL's failure as a `CryptoError` (drains the thread's error queue).
pub(super) fn failed(context: &'static str) -> CryptoError {
    ossl(context)(ErrorStack::get())
}

/// Malformed input: the error queue is drained and only `what` is reported.
pub(super) fn malformed(what: &str) -> CryptoError {
    drop(ErrorStack::get());
    CryptoError::BadPkcs12(what.to_string())
}

/// An owned libcrypto object, freed exactly once on drop.
pub(super) struct Owned<T> {
    ptr: NonNull<T>,
    free: unsafe extern "C" fn(*mut T),
}

impl<T> Owned<T> {
    /// `None` for a null pointer.
    ///
    /// # Safety
    /// A non-null `ptr` must be owned by the caller (nothing else frees it) and `free` must be
    /// its matching free function.
    pub(super) unsafe fn new(ptr: *mut T, free: unsafe extern "C" fn(*mut T)) -> Option<Owned<T>> {
        NonNull::new(ptr).map(|ptr| Owned { ptr, free })
    }

    pub(super) fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: `Owned::new`'s contract: we own the pointer and `free` matches it; drop runs
        // once.
        unsafe { (self.free)(self.ptr.as_ptr()) }
    }
}

pub(super) unsafe extern "C" fn free_safebag(bag: *mut c_void) {
    // SAFETY: only used as the element destructor of stacks of PKCS12_SAFEBAG.
    unsafe { PKCS12_SAFEBAG_free(bag.cast()) }
}

pub(super) unsafe extern "C" fn free_pkcs7(p7: *mut c_void) {
    // SAFETY: only used as the element destructor of stacks of PKCS7.
    unsafe { sys::PKCS7_free(p7.cast()) }
}

/// An owned `OPENSSL_STACK` (possibly still null: the `PKCS12_add_*` calls create it on first
/// use), popped and freed with its element destructor on drop.
pub(super) struct OwnedStack {
    pub(super) ptr: *mut OPENSSL_STACK,
    free_item: unsafe extern "C" fn(*mut c_void),
}

impl OwnedStack {
    pub(super) fn empty(free_item: unsafe extern "C" fn(*mut c_void)) -> OwnedStack {
        OwnedStack {
            ptr: ptr::null_mut(),
            free_item,
        }
    }

    /// # Safety
    /// `ptr` (or null) must be a stack owned by the caller whose elements `free_item` frees.
    pub(super) unsafe fn adopt(
        ptr: *mut OPENSSL_STACK,
        free_item: unsafe extern "C" fn(*mut c_void),
    ) -> Self {
        OwnedStack { ptr, free_item }
    }

    pub(super) fn view(&self) -> StackView<'_> {
        StackView {
            ptr: self.ptr,
            _owner: PhantomData,
        }
    }
}

impl Drop for OwnedStack {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: we own the stack and its elements (`adopt`/`empty` contracts).
            unsafe { sys::OPENSSL_sk_pop_free(self.ptr, Some(self.free_item)) }
        }
    }
}

/// A borrowed stack (null reads as empty); its element pointers stay valid while `'a` does.
#[derive(Clone, Copy)]
pub(super) struct StackView<'a> {
    pub(super) ptr: *const OPENSSL_STACK,
    pub(super) _owner: PhantomData<&'a ()>,
}

impl StackView<'_> {
    pub(super) fn items(&self) -> Vec<*mut c_void> {
        if self.ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: a valid stack for the view's lifetime; indices stay below its length.
        unsafe {
            let n = sys::OPENSSL_sk_num(self.ptr).max(0);
            (0..n).map(|i| sys::OPENSSL_sk_value(self.ptr, i)).collect()
        }
    }
}

/// The PIN as OpenSSL wants it: NUL-terminated, wiped on drop.
pub(super) struct Pass(Zeroizing<Vec<u8>>);

impl Pass {
    /// `None` if the PIN holds a NUL character (OpenSSL would cut it there).
    pub(super) fn new(pin: &str) -> Option<Pass> {
        if pin.as_bytes().contains(&0) {
            return None;
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(pin.len() + 1));
        bytes.extend_from_slice(pin.as_bytes());
        bytes.push(0);
        Some(Pass(bytes))
    }

    pub(super) fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.len() == 1
    }
}

pub(super) fn der_len(der: &[u8]) -> Result<c_long, CryptoError> {
    c_long::try_from(der.len()).map_err(|_| malformed("input too large"))
}

pub(super) fn d2i_x509(der: &[u8]) -> Result<Owned<RawX509>, CryptoError> {
    let len = der_len(der)?;
    let mut p = der.as_ptr();
    // SAFETY: `p` points to `len` readable bytes; d2i reads at most that many and returns a
    // new X509 (ours) or null.
    let raw = unsafe { sys::d2i_X509(ptr::null_mut(), &mut p, len) };
    // SAFETY: a fresh X509 owned by nobody else; X509_free is its destructor.
    unsafe { Owned::new(raw, sys::X509_free) }.ok_or_else(|| failed("PKCS#12 certificate"))
}

pub(super) fn d2i_private_key(pkcs8: &[u8]) -> Result<Owned<sys::EVP_PKEY>, CryptoError> {
    let len = der_len(pkcs8)?;
    let mut p = pkcs8.as_ptr();
    // SAFETY: as for `d2i_x509`: `len` readable bytes, a new EVP_PKEY or null.
    let raw = unsafe { sys::d2i_AutoPrivateKey(ptr::null_mut(), &mut p, len) };
    // SAFETY: a fresh EVP_PKEY owned by nobody else; EVP_PKEY_free is its destructor.
    unsafe { Owned::new(raw, sys::EVP_PKEY_free) }.ok_or_else(|| failed("PKCS#12 private key"))
}

/// A bag's friendlyName and localKeyId (`PKCS12_create` puts both on the key bag and on its
/// certificate bag, in this order).
pub(super) struct BagAttributes<'a> {
    pub(super) friendly_name: &'a str,
    pub(super) local_key_id: &'a [u8],
}

/// # Safety
/// `bag` must be a valid bag (owned by a live stack).
pub(super) unsafe fn add_attributes(
    bag: *mut Pkcs12SafeBag,
    attributes: &BagAttributes<'_>,
) -> Result<(), CryptoError> {
    let name_len = c_int::try_from(attributes.friendly_name.len())
        .map_err(|_| malformed("friendly name too long"))?;
    // SAFETY: `bag` is valid (caller); the name is `name_len` bytes of UTF-8, copied.
    if unsafe {
        PKCS12_add_friendlyname_utf8(bag, attributes.friendly_name.as_ptr().cast(), name_len)
    } != 1
    {
        return Err(failed("PKCS#12 friendlyName"));
    }
    let id_len = c_int::try_from(attributes.local_key_id.len())
        .map_err(|_| malformed("localKeyId too long"))?;
    // SAFETY: `bag` is valid; the id is read (`id_len` bytes), never written, despite the
    // non-const C prototype.
    if unsafe { PKCS12_add_localkeyid(bag, attributes.local_key_id.as_ptr().cast_mut(), id_len) }
        != 1
    {
        return Err(failed("PKCS#12 localKeyId"));
    }
    Ok(())
}

/// Bags for one SafeContents, in order.
pub(super) struct SafeBags(OwnedStack);

impl SafeBags {
    pub(super) fn new() -> SafeBags {
        SafeBags(OwnedStack::empty(free_safebag))
    }

    /// A certBag (`PKCS12_add_cert`). The certificate is re-read from DER, so it carries no
    /// auxiliary alias or key id that `PKCS12_add_cert` would copy: CA bags get no attributes.
    pub(super) fn add_cert(
        &mut self,
        cert_der: &[u8],
        attributes: Option<&BagAttributes<'_>>,
    ) -> Result<(), CryptoError> {
        let cert = d2i_x509(cert_der)?;
        // SAFETY: `self.0.ptr` is null or our stack of bags (created by OpenSSL on first use);
        // the certificate is valid and only serialised, not retained.
        let bag = unsafe { PKCS12_add_cert(&mut self.0.ptr, cert.as_ptr()) };
        if bag.is_null() {
            return Err(failed("PKCS#12 certificate bag"));
        }
        match attributes {
            // SAFETY: `bag` was just pushed onto our stack, which outlives this call.
            Some(attributes) => unsafe { add_attributes(bag, attributes) },
            None => Ok(()),
        }
    }

    /// A pkcs8ShroudedKeyBag (`PKCS12_add_key`): PBES2 with `key_nid` (a cipher NID such as
    /// AES-256-CBC), PBKDF2 (OpenSSL 3's default PRF, HMAC-SHA-256) and `iter` iterations.
    pub(super) fn add_shrouded_key(
        &mut self,
        pkcs8_der: &[u8],
        key_nid: c_int,
        iter: c_int,
        pass: &Pass,
        attributes: &BagAttributes<'_>,
    ) -> Result<(), CryptoError> {
        let key = d2i_private_key(pkcs8_der)?;
        // SAFETY: the stack slot as in `add_cert`; the key is valid and converted to a fresh
        // PKCS#8 structure, not retained; `pass` is NUL-terminated.
        let bag = unsafe {
            PKCS12_add_key(
                &mut self.0.ptr,
                key.as_ptr(),
                0,
                iter,
                key_nid,
                pass.as_ptr(),
            )
        };
        if bag.is_null() {
            return Err(failed("PKCS#12 key bag"));
        }
        // SAFETY: `bag` was just pushed onto our stack.
        unsafe { add_attributes(bag, attributes) }
    }
}

/// The AuthenticatedSafe: one PKCS#7 per SafeContents.
pub(super) struct Safes(OwnedStack);

impl Safes {
    pub(super) fn new() -> Safes {
        Safes(OwnedStack::empty(free_pkcs7))
    }

    /// `PKCS12_add_safe`: encrypted with PBES2 and `safe_nid` (a cipher NID) under `pass`, or
    /// with `None` a plain data safe (`-1`, for bags that are shrouded one by one).
    pub(super) fn add(
        &mut self,
        bags: &SafeBags,
        encryption: Option<(c_int, c_int, &Pass)>,
    ) -> Result<(), CryptoError> {
        let (nid, iter, pass) = match encryption {
            Some((nid, iter, pass)) => (nid, iter, pass.as_ptr()),
            None => (-1, 0, ptr::null()),
        };
        // SAFETY: `self.0.ptr` is null or our stack of PKCS7; the bags are read (serialised)
        // and stay ours; `pass` is null or NUL-terminated.
        if unsafe { PKCS12_add_safe(&mut self.0.ptr, bags.0.ptr, nid, iter, pass) } != 1 {
            return Err(failed("PKCS#12 safe"));
        }
        Ok(())
    }

    /// `PKCS12_add_safes` + `PKCS12_set_mac` (`digest`, `iter` iterations, random salt) +
    /// `i2d_PKCS12`.
    pub(super) fn seal(
        &self,
        pass: &Pass,
        iter: c_int,
        digest: MessageDigest,
    ) -> Result<Vec<u8>, CryptoError> {
        // SAFETY: our stack of PKCS7 is read (serialised) and stays ours; 0 = pkcs7-data.
        let raw = unsafe { PKCS12_add_safes(self.0.ptr, 0) };
        // SAFETY: a fresh PKCS12 owned by nobody else; PKCS12_free is its destructor.
        let p12 = unsafe { Owned::new(raw, sys::PKCS12_free) }
            .ok_or_else(|| failed("PKCS#12 AuthenticatedSafe"))?;
        // SAFETY: valid PKCS12; NUL-terminated pass with length -1 (strlen), as
        // PKCS12_create; null salt = random; a static digest.
        let mac = unsafe {
            sys::PKCS12_set_mac(
                p12.as_ptr(),
                pass.as_ptr(),
                -1,
                ptr::null_mut(),
                0,
                iter,
                digest.as_ptr(),
            )
        };
        if mac != 1 {
            return Err(failed("PKCS#12 MAC"));
        }
        // SAFETY: valid PKCS12; a null output only computes the length.
        let len = unsafe { sys::i2d_PKCS12(p12.as_ptr(), ptr::null_mut()) };
        let size = usize::try_from(len)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| failed("PKCS#12 encoding"))?;
        let mut der = vec![0u8; size];
        let mut out = der.as_mut_ptr();
        // SAFETY: `der` has exactly the `len` bytes i2d reported for this same object.
        let written = unsafe { sys::i2d_PKCS12(p12.as_ptr(), &mut out) };
        if written != len {
            return Err(failed("PKCS#12 encoding"));
        }
        Ok(der)
    }
}
