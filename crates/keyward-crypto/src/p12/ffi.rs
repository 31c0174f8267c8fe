//! The libcrypto PKCS#12 calls the `openssl` crate does not wrap: the building blocks of
//! `PKCS12_create` (one bag at a time, so a token can hold several keys) and of `PKCS12_parse`
//! (every bag, so none is dropped). Every raw pointer lives in an owning guard that frees it on
//! every path; nothing here outlives the call that created it. Keys and certificates cross the
//! boundary as DER (PKCS#8 buffers are wiped), so no `foreign-types` pointer plumbing is needed.

use std::ffi::{c_char, c_int, c_long, c_uchar, c_void, CStr};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use openssl_sys as sys;
use openssl_sys::{OPENSSL_STACK, PKCS12, PKCS7, PKCS8_PRIV_KEY_INFO, X509 as RawX509};
use zeroize::Zeroizing;

use crate::{ossl, CryptoError};

/// `ERR_LIB_PKCS12` (err.h).
const ERR_LIB_PKCS12: c_int = 35;
/// `PKCS12_R_MAC_VERIFY_FAILURE` (pkcs12err.h).
const PKCS12_R_MAC_VERIFY_FAILURE: c_int = 113;
/// Nested SafeContents bags deeper than this are refused (OpenSSL recurses without a bound).
const MAX_NESTING: usize = 8;

/// `PKCS12_SAFEBAG` (opaque).
enum Pkcs12SafeBag {}

// Signatures from /usr/include/openssl/pkcs12.h and asn1.h / x509.h (OpenSSL 3.0).
// `STACK_OF(T) *` is an `OPENSSL_STACK *` for the ABI (the sk_T_* macros only cast).
extern "C" {
    fn PKCS12_SAFEBAG_free(bag: *mut Pkcs12SafeBag);
    fn PKCS12_add_cert(pbags: *mut *mut OPENSSL_STACK, cert: *mut RawX509) -> *mut Pkcs12SafeBag;
    fn PKCS12_add_key(
        pbags: *mut *mut OPENSSL_STACK,
        key: *mut sys::EVP_PKEY,
        key_usage: c_int,
        iter: c_int,
        key_nid: c_int,
        pass: *const c_char,
    ) -> *mut Pkcs12SafeBag;
    fn PKCS12_add_localkeyid(bag: *mut Pkcs12SafeBag, name: *mut c_uchar, namelen: c_int) -> c_int;
    fn PKCS12_add_friendlyname_utf8(
        bag: *mut Pkcs12SafeBag,
        name: *const c_char,
        namelen: c_int,
    ) -> c_int;
    fn PKCS12_add_safe(
        psafes: *mut *mut OPENSSL_STACK,
        bags: *mut OPENSSL_STACK,
        safe_nid: c_int,
        iter: c_int,
        pass: *const c_char,
    ) -> c_int;
    fn PKCS12_add_safes(safes: *mut OPENSSL_STACK, p7_nid: c_int) -> *mut PKCS12;

    fn PKCS12_mac_present(p12: *const PKCS12) -> c_int;
    fn PKCS12_verify_mac(p12: *mut PKCS12, pass: *const c_char, passlen: c_int) -> c_int;
    fn PKCS12_unpack_authsafes(p12: *const PKCS12) -> *mut OPENSSL_STACK;
    fn PKCS12_unpack_p7data(p7: *mut PKCS7) -> *mut OPENSSL_STACK;
    fn PKCS12_unpack_p7encdata(
        p7: *mut PKCS7,
        pass: *const c_char,
        passlen: c_int,
    ) -> *mut OPENSSL_STACK;
    fn PKCS12_SAFEBAG_get_nid(bag: *const Pkcs12SafeBag) -> c_int;
    fn PKCS12_SAFEBAG_get_bag_nid(bag: *const Pkcs12SafeBag) -> c_int;
    fn PKCS12_SAFEBAG_get0_p8inf(bag: *const Pkcs12SafeBag) -> *const PKCS8_PRIV_KEY_INFO;
    fn PKCS12_SAFEBAG_get0_safes(bag: *const Pkcs12SafeBag) -> *const OPENSSL_STACK;
    fn PKCS12_SAFEBAG_get1_cert(bag: *const Pkcs12SafeBag) -> *mut RawX509;
    fn PKCS12_SAFEBAG_get0_attr(
        bag: *const Pkcs12SafeBag,
        attr_nid: c_int,
    ) -> *const sys::ASN1_TYPE;
    fn PKCS12_decrypt_skey(
        bag: *const Pkcs12SafeBag,
        pass: *const c_char,
        passlen: c_int,
    ) -> *mut PKCS8_PRIV_KEY_INFO;
    fn PKCS12_get_friendlyname(bag: *mut Pkcs12SafeBag) -> *mut c_char;
    fn ASN1_TYPE_get_octetstring(
        a: *const sys::ASN1_TYPE,
        data: *mut c_uchar,
        max_len: c_int,
    ) -> c_int;
    fn i2d_PKCS8_PRIV_KEY_INFO(a: *const PKCS8_PRIV_KEY_INFO, out: *mut *mut c_uchar) -> c_int;
}

/// OpenSSL's failure as a `CryptoError` (drains the thread's error queue).
fn failed(context: &'static str) -> CryptoError {
    ossl(context)(ErrorStack::get())
}

/// Malformed input: the error queue is drained and only `what` is reported.
fn malformed(what: &str) -> CryptoError {
    drop(ErrorStack::get());
    CryptoError::BadPkcs12(what.to_string())
}

/// An owned libcrypto object, freed exactly once on drop.
struct Owned<T> {
    ptr: NonNull<T>,
    free: unsafe extern "C" fn(*mut T),
}

impl<T> Owned<T> {
    /// `None` for a null pointer.
    ///
    /// # Safety
    /// A non-null `ptr` must be owned by the caller (nothing else frees it) and `free` must be
    /// its matching free function.
    unsafe fn new(ptr: *mut T, free: unsafe extern "C" fn(*mut T)) -> Option<Owned<T>> {
        NonNull::new(ptr).map(|ptr| Owned { ptr, free })
    }

    fn as_ptr(&self) -> *mut T {
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

unsafe extern "C" fn free_safebag(bag: *mut c_void) {
    // SAFETY: only used as the element destructor of stacks of PKCS12_SAFEBAG.
    unsafe { PKCS12_SAFEBAG_free(bag.cast()) }
}

unsafe extern "C" fn free_pkcs7(p7: *mut c_void) {
    // SAFETY: only used as the element destructor of stacks of PKCS7.
    unsafe { sys::PKCS7_free(p7.cast()) }
}

/// An owned `OPENSSL_STACK` (possibly still null: the `PKCS12_add_*` calls create it on first
/// use), popped and freed with its element destructor on drop.
struct OwnedStack {
    ptr: *mut OPENSSL_STACK,
    free_item: unsafe extern "C" fn(*mut c_void),
}

impl OwnedStack {
    fn empty(free_item: unsafe extern "C" fn(*mut c_void)) -> OwnedStack {
        OwnedStack {
            ptr: ptr::null_mut(),
            free_item,
        }
    }

    /// # Safety
    /// `ptr` (or null) must be a stack owned by the caller whose elements `free_item` frees.
    unsafe fn adopt(ptr: *mut OPENSSL_STACK, free_item: unsafe extern "C" fn(*mut c_void)) -> Self {
        OwnedStack { ptr, free_item }
    }

    fn view(&self) -> StackView<'_> {
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
struct StackView<'a> {
    ptr: *const OPENSSL_STACK,
    _owner: PhantomData<&'a ()>,
}

impl StackView<'_> {
    fn items(&self) -> Vec<*mut c_void> {
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

    fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }

    fn is_empty(&self) -> bool {
        self.0.len() == 1
    }
}

fn der_len(der: &[u8]) -> Result<c_long, CryptoError> {
    c_long::try_from(der.len()).map_err(|_| malformed("input too large"))
}

fn d2i_x509(der: &[u8]) -> Result<Owned<RawX509>, CryptoError> {
    let len = der_len(der)?;
    let mut p = der.as_ptr();
    // SAFETY: `p` points to `len` readable bytes; d2i reads at most that many and returns a
    // new X509 (ours) or null.
    let raw = unsafe { sys::d2i_X509(ptr::null_mut(), &mut p, len) };
    // SAFETY: a fresh X509 owned by nobody else; X509_free is its destructor.
    unsafe { Owned::new(raw, sys::X509_free) }.ok_or_else(|| failed("PKCS#12 certificate"))
}

fn d2i_private_key(pkcs8: &[u8]) -> Result<Owned<sys::EVP_PKEY>, CryptoError> {
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
unsafe fn add_attributes(
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
