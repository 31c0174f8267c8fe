//! `ocsp.*`: the OCSP responder's delegated signing certificate and key, and how it answers.
//! Without `ocsp.certificate` there is no OCSP responder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keyward_policy::config::Settings;

use super::keys::{key_file, pkcs11_key};
use super::CaKeySetting;

/// The responder's settings, paths resolved against cm.conf's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspConfig {
    /// `ocsp.certificate`: the delegated OCSP signing certificate, PEM (the CM host rewrites
    /// it when it renews the certificate).
    pub certificate: PathBuf,
    /// Its key: `ocsp.key` (encrypted PKCS#8 PEM) with `ocsp.key-passphrase-file`, or
    /// `ocsp.pkcs11-*` (a key on a token).
    pub key: OcspKeySetting,
    /// `ocsp.response-validity`: nextUpdate − thisUpdate of every answer, seconds (default
    /// 3600).
    pub response_validity: Duration,
    /// `ocsp.cache-size`: most pre-signed responses held (default 100000; 0: none).
    pub cache_size: usize,
    /// `ocsp.max-requests`: most certificates asked about in one OCSPRequest (default 16);
    /// more is `malformedRequest`.
    pub max_requests: usize,
    /// `ocsp.status-index`: most certificates whose status is held in memory (default
    /// 10000000, about 36 bytes each; 0: every answer reads the store).
    pub status_index: usize,
}

/// Where the OCSP signing key is: the same two kinds as the issuing CA's key.
pub type OcspKeySetting = CaKeySetting;

/// Longest `ocsp.response-validity`: a week (a relying party caches a revocation it missed
/// for at most that long).
const MAX_VALIDITY_SECS: u64 = 7 * 86_400;
/// Largest `ocsp.cache-size`.
const MAX_CACHE_SIZE: usize = 10_000_000;
/// Largest `ocsp.status-index` (about 2 GB of memory).
const MAX_STATUS_INDEX: usize = 100_000_000;
/// Largest `ocsp.max-requests`.
const MAX_REQUESTS: usize = 1_000;

/// The settings this module reads.
pub(super) const KNOWN: &[&str] = &[
    "ocsp.certificate",
    "ocsp.key",
    "ocsp.key-passphrase-file",
    "ocsp.pkcs11-module",
    "ocsp.pkcs11-token",
    "ocsp.pkcs11-key",
    "ocsp.pkcs11-pin-file",
    "ocsp.response-validity",
    "ocsp.cache-size",
    "ocsp.max-requests",
    "ocsp.status-index",
];

/// Reads `ocsp.*`; `None` without `ocsp.certificate` (and then no other `ocsp.*` may be set).
/// Errors name the setting.
pub(super) fn ocsp(settings: &Settings, base: &Path) -> Result<Option<OcspConfig>, String> {
    let get = |key: &str| settings.get(key).map(str::trim).filter(|v| !v.is_empty());
    let Some(certificate) = get("ocsp.certificate") else {
        return match KNOWN.iter().find(|k| get(k).is_some()) {
            Some(key) => Err(format!("{key} is set but ocsp.certificate is not")),
            None => Ok(None),
        };
    };
    let file = key_file(settings, "ocsp.key", "ocsp.key-passphrase-file", base)?;
    let key = match (file, pkcs11_key(settings, "ocsp", base)?) {
        (Some(_), Some(_)) => {
            return Err(
                "ocsp.key and ocsp.pkcs11-key are both set: the OCSP signing key is a \
                 file or a PKCS#11 key, not both"
                    .into(),
            )
        }
        (Some((key, passphrase_file)), None) => CaKeySetting::File {
            key,
            passphrase_file,
        },
        (None, Some(p)) => CaKeySetting::Pkcs11(p),
        (None, None) => {
            return Err(
                "ocsp.key is not set (nor ocsp.pkcs11-module, -token, -key and \
                 -pin-file): ocsp.certificate needs its key"
                    .into(),
            )
        }
    };
    let number = |key: &str, default: u64, range: std::ops::RangeInclusive<u64>| match get(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                format!(
                    "{key}: {v:?} is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                )
            }),
    };
    let validity = number("ocsp.response-validity", 3600, 60..=MAX_VALIDITY_SECS)?;
    let cache = number("ocsp.cache-size", 100_000, 0..=MAX_CACHE_SIZE as u64)?;
    let max_requests = number("ocsp.max-requests", 16, 1..=MAX_REQUESTS as u64)?;
    let index = number("ocsp.status-index", 10_000_000, 0..=MAX_STATUS_INDEX as u64)?;
    Ok(Some(OcspConfig {
        certificate: base.join(certificate),
        key,
        response_validity: Duration::from_secs(validity),
        cache_size: usize::try_from(cache).unwrap_or(MAX_CACHE_SIZE),
        max_requests: usize::try_from(max_requests).unwrap_or(MAX_REQUESTS),
        status_index: usize::try_from(index).unwrap_or(MAX_STATUS_INDEX),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Option<OcspConfig>, String> {
        ocsp(&Settings::parse(text).unwrap(), Path::new("/srv/kw"))
    }

    const FILE: &str = "ocsp.certificate = ocsp/signer.pem\nocsp.key = ocsp/signer.key.pem\n\
                        ocsp.key-passphrase-file = ocsp/signer.pass\n";

    #[test]
    fn defaults_and_paths() {
        assert_eq!(read("").unwrap(), None);
        let config = read(FILE).unwrap().unwrap();
        assert_eq!(config.certificate, Path::new("/srv/kw/ocsp/signer.pem"));
        assert_eq!(
            config.key,
            CaKeySetting::File {
                key: "/srv/kw/ocsp/signer.key.pem".into(),
                passphrase_file: "/srv/kw/ocsp/signer.pass".into(),
            }
        );
        assert_eq!(config.response_validity, Duration::from_secs(3600));
        assert_eq!((config.cache_size, config.max_requests), (100_000, 16));
        assert_eq!(config.status_index, 10_000_000);
        let text = format!(
            "{FILE}ocsp.response-validity = 600\nocsp.cache-size = 0\nocsp.max-requests = 4\n\
             ocsp.status-index = 0\n"
        );
        let config = read(&text).unwrap().unwrap();
        assert_eq!(config.response_validity, Duration::from_secs(600));
        assert_eq!((config.cache_size, config.max_requests), (0, 4));
        assert_eq!(config.status_index, 0);
        let hsm =
            "ocsp.certificate = s.pem\nocsp.pkcs11-module = /usr/lib/softhsm/libsofthsm2.so\n\
                   ocsp.pkcs11-token = T\nocsp.pkcs11-key = k\nocsp.pkcs11-pin-file = p\n";
        assert!(matches!(
            read(hsm).unwrap().unwrap().key,
            CaKeySetting::Pkcs11(_)
        ));
    }

    #[test]
    fn errors_name_the_setting() {
        for (text, setting) in [
            (
                "ocsp.key = k.pem\n".to_string(),
                "ocsp.key is set but ocsp.certificate",
            ),
            ("ocsp.certificate = s.pem\n".into(), "ocsp.key is not set"),
            (
                "ocsp.certificate = s.pem\nocsp.key = k.pem\n".into(),
                "ocsp.key-passphrase-file is not set",
            ),
            (
                format!("{FILE}ocsp.pkcs11-token = T\n"),
                "ocsp.pkcs11-module is not set",
            ),
            (
                format!("{FILE}ocsp.response-validity = 10\n"),
                "ocsp.response-validity: \"10\"",
            ),
            (
                format!("{FILE}ocsp.cache-size = -1\n"),
                "ocsp.cache-size: \"-1\"",
            ),
            (
                format!("{FILE}ocsp.max-requests = 0\n"),
                "ocsp.max-requests: \"0\"",
            ),
            (
                format!("{FILE}ocsp.status-index = 100000001\n"),
                "ocsp.status-index: \"100000001\" is not a whole number from 0 to 100000000",
            ),
        ] {
            let err = read(&text).unwrap_err();
            assert!(err.contains(setting), "{setting}: {err}");
        }
    }
}
