//! Where the server's own keys are: files encrypted at rest, or objects on a PKCS#11 token.

use std::path::{Path, PathBuf};

use keyward_policy::config::Settings;

/// A key on a PKCS#11 token (an HSM): `PREFIX.pkcs11-module`, `-token`, `-key`, `-pin-file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Key {
    /// The PKCS#11 module (shared library).
    pub module: PathBuf,
    /// The token label.
    pub token: String,
    /// The key's label on the token.
    pub key: String,
    /// The file holding the token's user PIN (mode 0600).
    pub pin_file: PathBuf,
}

/// The KRA's archive key (KEK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveKeySetting {
    /// `kra.archive-key` and `kra.archive-key-passphrase-file`: a key file encrypted at rest.
    File {
        /// The archive key file.
        key: PathBuf,
        /// Its passphrase file.
        passphrase_file: PathBuf,
    },
    /// `kra.pkcs11-*`: an AES-256 key on a token; wrapping happens on the token.
    Pkcs11(Pkcs11Key),
}

/// The issuing CA's signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaKeySetting {
    /// `ca.issuing.key` and `ca.key-passphrase-file`: encrypted PKCS#8 PEM.
    File {
        /// The key file.
        key: PathBuf,
        /// Its passphrase file.
        passphrase_file: PathBuf,
    },
    /// `ca.issuing.pkcs11-*`: a private key on a token; signing happens on the token.
    Pkcs11(Pkcs11Key),
}

const PARTS: [&str; 4] = [
    "pkcs11-module",
    "pkcs11-token",
    "pkcs11-key",
    "pkcs11-pin-file",
];

fn value<'s>(settings: &'s Settings, key: &str) -> Option<&'s str> {
    settings.get(key).filter(|v| !v.is_empty())
}

/// `PREFIX.pkcs11-*`: none set is `None`; some set means all four are needed.
pub(super) fn pkcs11_key(
    settings: &Settings,
    prefix: &str,
    base: &Path,
) -> Result<Option<Pkcs11Key>, String> {
    let names: Vec<String> = PARTS.iter().map(|p| format!("{prefix}.{p}")).collect();
    if names.iter().all(|n| settings.get(n).is_none()) {
        return Ok(None);
    }
    let get = |i: usize| {
        value(settings, &names[i]).ok_or_else(|| {
            format!(
                "{} is not set ({} name a key on a PKCS#11 token together)",
                names[i],
                names.join(", ")
            )
        })
    };
    Ok(Some(Pkcs11Key {
        module: base.join(get(0)?),
        token: get(1)?.to_string(),
        key: get(2)?.to_string(),
        pin_file: base.join(get(3)?),
    }))
}

/// A key file and its passphrase file, both or neither.
pub(super) fn key_file(
    settings: &Settings,
    key: &str,
    pass: &str,
    base: &Path,
) -> Result<Option<(PathBuf, PathBuf)>, String> {
    match (value(settings, key), value(settings, pass)) {
        (Some(k), Some(p)) => Ok(Some((base.join(k), base.join(p)))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(format!("{pass} is not set")),
        (None, Some(_)) => Err(format!("{key} is not set")),
    }
}

/// `kra.archive-key` + passphrase file, or `kra.pkcs11-*`, or nothing (no archive).
pub(super) fn archive_key(
    settings: &Settings,
    base: &Path,
) -> Result<Option<ArchiveKeySetting>, String> {
    let file = key_file(
        settings,
        "kra.archive-key",
        "kra.archive-key-passphrase-file",
        base,
    )?;
    match (file, pkcs11_key(settings, "kra", base)?) {
        (Some(_), Some(_)) => Err(
            "kra.archive-key and kra.pkcs11-key are both set: the archive key is a file or a PKCS#11 key, not both"
                .into(),
        ),
        (Some((key, passphrase_file)), None) => Ok(Some(ArchiveKeySetting::File {
            key,
            passphrase_file,
        })),
        (None, Some(p)) => Ok(Some(ArchiveKeySetting::Pkcs11(p))),
        (None, None) => Ok(None),
    }
}

/// `ca.issuing.key` + `ca.key-passphrase-file`, or `ca.issuing.pkcs11-*`.
pub(super) fn ca_key(settings: &Settings, base: &Path) -> Result<CaKeySetting, String> {
    let file = key_file(settings, "ca.issuing.key", "ca.key-passphrase-file", base)?;
    match (file, pkcs11_key(settings, "ca.issuing", base)?) {
        (Some(_), Some(_)) => Err(
            "ca.issuing.key and ca.issuing.pkcs11-key are both set: the CA key is a file or a PKCS#11 key, not both"
                .into(),
        ),
        (Some((key, passphrase_file)), None) => Ok(CaKeySetting::File {
            key,
            passphrase_file,
        }),
        (None, Some(p)) => Ok(CaKeySetting::Pkcs11(p)),
        (None, None) => Err(
            "ca.issuing.key is not set (nor ca.issuing.pkcs11-module, -token, -key and -pin-file)"
                .into(),
        ),
    }
}

/// The settings this module reads.
pub(super) const KNOWN: &[&str] = &[
    "kra.pkcs11-module",
    "kra.pkcs11-token",
    "kra.pkcs11-key",
    "kra.pkcs11-pin-file",
    "ca.issuing.pkcs11-module",
    "ca.issuing.pkcs11-token",
    "ca.issuing.pkcs11-key",
    "ca.issuing.pkcs11-pin-file",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Settings {
        Settings::parse(text).unwrap()
    }

    #[test]
    fn a_key_is_a_file_or_a_pkcs11_object_and_errors_name_the_setting() {
        let base = Path::new("/srv/kw");
        let hsm = "kra.pkcs11-module = /usr/lib/softhsm/libsofthsm2.so\nkra.pkcs11-token = KRA\nkra.pkcs11-key = kek\nkra.pkcs11-pin-file = kra/hsm.pin\n";
        assert_eq!(
            archive_key(&parse(hsm), base).unwrap(),
            Some(ArchiveKeySetting::Pkcs11(Pkcs11Key {
                module: "/usr/lib/softhsm/libsofthsm2.so".into(),
                token: "KRA".into(),
                key: "kek".into(),
                pin_file: "/srv/kw/kra/hsm.pin".into(),
            }))
        );
        assert_eq!(archive_key(&parse(""), base).unwrap(), None);
        let file = "kra.archive-key = a.json\nkra.archive-key-passphrase-file = a.pass\n";
        for (text, setting) in [
            (format!("{hsm}{file}"), "kra.archive-key and kra.pkcs11-key"),
            (
                "kra.pkcs11-token = KRA\n".to_string(),
                "kra.pkcs11-module is not set",
            ),
            (
                hsm.replace("kra.pkcs11-pin-file = kra/hsm.pin\n", ""),
                "kra.pkcs11-pin-file is not set",
            ),
            (
                "kra.archive-key = a.json\n".to_string(),
                "kra.archive-key-passphrase-file",
            ),
        ] {
            let err = archive_key(&parse(&text), base).unwrap_err();
            assert!(err.contains(setting), "{setting}: {err}");
        }
        let ca = hsm.replace("kra.", "ca.issuing.");
        assert!(matches!(
            ca_key(&parse(&ca), base),
            Ok(CaKeySetting::Pkcs11(_))
        ));
        let err = ca_key(&parse(""), base).unwrap_err();
        assert!(err.contains("ca.issuing.key is not set"), "{err}");
        let both = format!("{ca}ca.issuing.key = k.pem\nca.key-passphrase-file = p\n");
        let err = ca_key(&parse(&both), base).unwrap_err();
        assert!(
            err.contains("ca.issuing.key and ca.issuing.pkcs11-key"),
            "{err}"
        );
    }
}
