//! Loading a PKCS#11 module once per process.
//!
//! `C_Initialize` may be called once per process and module; the CA signer and the archive key
//! of one server may well live in the same module, so loaded modules are shared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};

use crate::Pkcs11Error;

static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();

/// Per token (module and slot): a keyed hash of the PIN this process logged in with. A login is
/// per application, so a second session of the same token is "already logged in" whatever PIN
/// it offers; the hash lets it tell a wrong PIN all the same.
static LOGINS: OnceLock<Mutex<Logins>> = OnceLock::new();

/// The MAC key (random per process) and the PIN MAC of every token logged in to.
struct Logins {
    key: zeroize::Zeroizing<Vec<u8>>,
    macs: HashMap<String, Vec<u8>>,
}

fn pin_mac(key: &[u8], pin: &str) -> Option<Vec<u8>> {
    let key = openssl::pkey::PKey::hmac(key).ok()?;
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).ok()?;
    signer.update(pin.as_bytes()).ok()?;
    signer.sign_to_vec().ok()
}

fn logins() -> std::sync::MutexGuard<'static, Logins> {
    LOGINS
        .get_or_init(|| {
            let mut key = zeroize::Zeroizing::new(vec![0u8; 32]);
            // Without randomness the MAC key is all zeros: still a one-way hash of the PIN.
            let _ = openssl::rand::rand_bytes(&mut key);
            Mutex::new(Logins {
                key,
                macs: HashMap::new(),
            })
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records that this process logged in to `token` with `pin`.
pub(crate) fn remember_login(token: &str, pin: &str) {
    let mut logins = logins();
    if let Some(mac) = pin_mac(&logins.key, pin) {
        logins.macs.insert(token.to_string(), mac);
    }
}

/// Whether `pin` is not the PIN this process logged in to `token` with (`false` when unknown).
pub(crate) fn differs_from_login(token: &str, pin: &str) -> bool {
    let logins = logins();
    match (logins.macs.get(token), pin_mac(&logins.key, pin)) {
        (Some(known), Some(mac)) => !openssl::memcmp::eq(known, &mac),
        _ => false,
    }
}

/// The module path as registered (canonical), for keys of per-token state.
pub(crate) fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The initialised module at `path` (loaded on first use).
pub(crate) fn load(path: &Path) -> Result<Pkcs11, Pkcs11Error> {
    let fail = |reason: String| Pkcs11Error::Module {
        module: path.display().to_string(),
        reason,
    };
    let canonical = std::fs::canonicalize(path).map_err(|e| fail(e.to_string()))?;
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(context) = modules.get(&canonical) {
        return Ok(context.clone());
    }
    let context = Pkcs11::new(&canonical)
        .map_err(|e| fail(format!("not a loadable PKCS#11 library ({e})")))?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(fail(format!("C_Initialize failed ({e})"))),
    }
    modules.insert(canonical, context.clone());
    Ok(context)
}
