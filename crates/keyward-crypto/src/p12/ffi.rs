//! The libcrypto PKCS#12 calls the `openssl` crate does not wrap: the building blocks of
//! `PKCS12_create` (one bag at a time, so a token can hold several keys) and of `PKCS12_parse`
//! (every bag, so none is dropped). Every raw pointer lives in an owning guard that frees it on
//! every path; nothing here outlives the call that created it. Keys and certificates cross the
//! boundary as DER (PKCS#8 buffers are wiped), so no `foreign-types` pointer plumbing is needed.

// OpenSSL calls the `openssl` crate does not wrap; every block says why it is sound.
#![allow(unsafe_code)]

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
    pub(super) fn PKCS12_SAFEBAG_create_pkcs8_encrypt(
        pbe_nid: c_int,
        pass: *const c_char,
        passlen: c_int,
        salt: *mut c_uchar,
        saltlen: c_int,
        iter: c_int,
        p8inf: *mut PKCS8_PRIV_KEY_INFO,
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
    pub(super) fn PKCS12_pack_p7data(bags: *mut OPENSSL_STACK) -> *mut PKCS7;
    pub(super) fn PKCS12_pack_p7encdata(
        pbe_nid: c_int,
        pass: *const c_char,
        passlen: c_int,
        salt: *mut c_uchar,
        saltlen: c_int,
        iter: c_int,
        bags: *mut OPENSSL_STACK,
    ) -> *mut PKCS7;
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

impl OwnedStack {
    /// Pushes `item`, creating the stack on first use; on failure `item` is freed.
    ///
    /// # Safety
    /// `item` must be a valid element this stack's `free_item` frees, owned by the caller (it
    /// becomes the stack's).
    pub(super) unsafe fn push(&mut self, item: *mut c_void) -> Result<(), CryptoError> {
        if self.ptr.is_null() {
            // SAFETY: a new empty stack, ours.
            self.ptr = unsafe { sys::OPENSSL_sk_new_null() };
        }
        // SAFETY: our valid stack (or null, refused by OpenSSL); `item` is valid (caller).
        if self.ptr.is_null() || unsafe { sys::OPENSSL_sk_push(self.ptr, item) } <= 0 {
            // SAFETY: the item is still the caller's and `free_item` is its destructor.
            unsafe { (self.free_item)(item) };
            return Err(failed("PKCS#12 stack"));
        }
        Ok(())
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

    /// A pkcs8ShroudedKeyBag: with a cipher NID such as AES-256-CBC, PBES2 with PBKDF2
    /// (OpenSSL 3's default PRF, HMAC-SHA-256); with a PKCS#12 PBE NID (such as
    /// pbeWithSHA1And3-KeyTripleDES-CBC), that scheme; `iter` iterations and a random salt of
    /// `salt_len` bytes (what `PKCS12_add_key` does, with the salt length ours to choose).
    pub(super) fn add_shrouded_key(
        &mut self,
        pkcs8_der: &[u8],
        encryption: &Encryption<'_>,
        attributes: &BagAttributes<'_>,
    ) -> Result<(), CryptoError> {
        let len = der_len(pkcs8_der)?;
        let mut p = pkcs8_der.as_ptr();
        // SAFETY: `len` readable bytes; a new PKCS8_PRIV_KEY_INFO (ours) or null.
        let raw = unsafe { sys::d2i_PKCS8_PRIV_KEY_INFO(ptr::null_mut(), &mut p, len) };
        // SAFETY: fresh and ours; PKCS8_PRIV_KEY_INFO_free is its destructor (it wipes).
        let p8 = unsafe { Owned::new(raw, sys::PKCS8_PRIV_KEY_INFO_free) }
            .ok_or_else(|| failed("PKCS#12 private key"))?;
        // SAFETY: NUL-terminated pass with length -1 (strlen); null salt = random of
        // `salt_len` bytes; the key info is read (encrypted), not retained.
        let bag = unsafe {
            PKCS12_SAFEBAG_create_pkcs8_encrypt(
                encryption.nid,
                encryption.pass.as_ptr(),
                -1,
                ptr::null_mut(),
                encryption.salt_len,
                encryption.iter,
                p8.as_ptr(),
            )
        };
        if bag.is_null() {
            return Err(failed("PKCS#12 key bag"));
        }
        // SAFETY: a fresh bag, ours; free_safebag is its destructor.
        unsafe { self.0.push(bag.cast())? };
        // SAFETY: `bag` is now on our stack, which outlives this call.
        unsafe { add_attributes(bag, attributes) }
    }
}

/// How bags and safes are encrypted: a cipher NID (PBES2) or a PKCS#12 PBE NID, iterations,
/// salt length, and the PIN.
pub(super) struct Encryption<'a> {
    pub(super) nid: c_int,
    pub(super) iter: c_int,
    pub(super) salt_len: c_int,
    pub(super) pass: &'a Pass,
}

/// The AuthenticatedSafe's content infos, in order.
pub(super) struct Safes(OwnedStack);

impl Safes {
    pub(super) fn new() -> Safes {
        Safes(OwnedStack::empty(free_pkcs7))
    }

    /// Packs `bags` as one SafeContents: encrypted (`encryptedData`, as `encryption` says) or,
    /// with `None`, a plain `data` content info (for bags that are shrouded one by one).
    pub(super) fn add(
        &mut self,
        bags: &SafeBags,
        encryption: Option<&Encryption<'_>>,
    ) -> Result<(), CryptoError> {
        // SAFETY: the bags are read (serialised) and stay ours; pass NUL-terminated with
        // length -1; null salt = random of `salt_len` bytes.
        let p7 = unsafe {
            match encryption {
                Some(e) => PKCS12_pack_p7encdata(
                    e.nid,
                    e.pass.as_ptr(),
                    -1,
                    ptr::null_mut(),
                    e.salt_len,
                    e.iter,
                    bags.0.ptr,
                ),
                None => PKCS12_pack_p7data(bags.0.ptr),
            }
        };
        if p7.is_null() {
            return Err(failed("PKCS#12 safe"));
        }
        // SAFETY: a fresh PKCS7, ours; free_pkcs7 is its destructor.
        unsafe { self.0.push(p7.cast()) }
    }

    /// `PKCS12_add_safes` + `PKCS12_set_mac` (`digest`, `iter` iterations, a random salt of
    /// `salt_len` bytes) + `i2d_PKCS12`.
    pub(super) fn seal(
        &self,
        pass: &Pass,
        iter: c_int,
        digest: MessageDigest,
        salt_len: c_int,
    ) -> Result<Vec<u8>, CryptoError> {
        // SAFETY: our stack of PKCS7 is read (serialised) and stays ours; 0 = pkcs7-data.
        let raw = unsafe { PKCS12_add_safes(self.0.ptr, 0) };
        // SAFETY: a fresh PKCS12 owned by nobody else; PKCS12_free is its destructor.
        let p12 = unsafe { Owned::new(raw, sys::PKCS12_free) }
            .ok_or_else(|| failed("PKCS#12 AuthenticatedSafe"))?;
        // SAFETY: valid PKCS12; NUL-terminated pass with length -1 (strlen), as
        // PKCS12_create; null salt = random of `salt_len` bytes; a static digest.
        let mac = unsafe {
            sys::PKCS12_set_mac(
                p12.as_ptr(),
                pass.as_ptr(),
                -1,
                ptr::null_mut(),
                salt_len,
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

// For `keyward p12 inspect` (`super::inspect`): decrypting one encrypted safe or shrouded key
// with the AlgorithmIdentifier as written, so that every bag can be shown as stored.
extern "C" {
    pub(super) fn d2i_X509_ALGOR(
        a: *mut *mut sys::X509_ALGOR,
        pp: *mut *const c_uchar,
        length: c_long,
    ) -> *mut sys::X509_ALGOR;
    pub(super) fn PKCS12_pbe_crypt(
        algor: *const sys::X509_ALGOR,
        pass: *const c_char,
        passlen: c_int,
        input: *const c_uchar,
        inlen: c_int,
        data: *mut *mut c_uchar,
        datalen: *mut c_int,
        en_de: c_int,
    ) -> *mut c_uchar;
    pub(super) fn CRYPTO_clear_free(ptr: *mut c_void, num: usize, file: *const c_char, line: c_int);
}
