//! client.conf: the RA client's configuration.

use std::path::{Path, PathBuf};

use keyward_policy::config::Settings;
use keyward_policy::KeySpecList;

use crate::error::RaError;

/// RA settings, with paths resolved against client.conf's directory.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// `server.url`, e.g. `https://127.0.0.1:8443`.
    pub server_url: String,
    /// `server.ca`: the root CA certificate (PEM) the server's TLS certificate chains to.
    pub server_ca: PathBuf,
    /// The officer credential: `officer.p12`, or `officer.pkcs11-*` for a smart card.
    pub officer: OfficerSource,
    /// `ra-key-generation`: overrides the server's `client.ra-key-generation` when set.
    pub ra_key_generation: Option<KeySpecList>,
    /// `client.retries` (default [`DEFAULT_RETRIES`], at most [`MAX_RETRIES`]): how often a
    /// request is sent again after a transport failure, waiting 0.5 s, 1 s, 2 s, 4 s, 8 s, 8 s …
    /// in between. Only the very same signed bytes are resent, and only when that is safe (see
    /// `RaClient::post_signed`).
    pub retries: u32,
    /// `officer.virtual-warning`: `always` (the default) warns on every use of a virtual
    /// officer; `daily` at most once a day (UTC) for this client.conf.
    pub virtual_warning: VirtualWarning,
}

/// How often the RA warns that the officer is a virtual one (a PKCS#12 file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VirtualWarning {
    /// On every command.
    #[default]
    Always,
    /// On the first command of each day (UTC).
    Daily,
}

/// Retries after a transport failure unless client.conf says otherwise (0.5 + 1 + 2 + 4 + 8 =
/// 15.5 s of waiting in all: long enough for a server restart, short enough for an officer).
pub const DEFAULT_RETRIES: u32 = 5;
/// Most retries client.conf may ask for.
pub const MAX_RETRIES: u32 = 10;

/// Where the officer's key and certificate are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficerSource {
    /// `officer.p12`: a virtual officer (PKCS#12 file), warned against on every use.
    P12(PathBuf),
    /// A smart card: `officer.pkcs11-module` (the PKCS#11 library), `officer.pkcs11-token`
    /// (token label) and `officer.pkcs11-key` (label of the key and its certificate). The
    /// Signature PIN is the token's user PIN.
    Pkcs11 {
        /// The PKCS#11 module (shared library).
        module: PathBuf,
        /// The token label.
        token: String,
        /// The label of the officer's private key and certificate on the token.
        key: String,
    },
}

const PKCS11_SETTINGS: [&str; 3] = [
    "officer.pkcs11-module",
    "officer.pkcs11-token",
    "officer.pkcs11-key",
];

const KNOWN: &[&str] = &[
    "server.url",
    "server.ca",
    "officer.p12",
    "officer.pkcs11-module",
    "officer.pkcs11-token",
    "officer.pkcs11-key",
    "ra-key-generation",
    "client.retries",
    "officer.virtual-warning",
];

impl ClientConfig {
    /// Reads and checks client.conf.
    pub fn load(path: &Path) -> Result<ClientConfig, RaError> {
        let text = std::fs::read_to_string(path).map_err(|e| RaError::Config {
            path: path.to_path_buf(),
            reason: format!("{e} (run `keyward init` first, or pass --config FILE)"),
        })?;
        ClientConfig::from_text(path, &text)
    }

    /// Checks the text of client.conf as [`ClientConfig::load`] does, without reading any
    /// file: `path` names the file in errors and is the base of its relative paths (for the
    /// fuzzer).
    pub fn from_text(path: &Path, text: &str) -> Result<ClientConfig, RaError> {
        let fail = |reason: String| RaError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let settings = Settings::parse(text).map_err(|e| fail(e.to_string()))?;
        if let Some(unknown) = settings.keys().find(|k| !KNOWN.contains(k)) {
            return Err(fail(format!(
                "unknown setting {unknown}; known: {}",
                KNOWN.join(", ")
            )));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let get = |key: &str| {
            settings
                .get(key)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| fail(format!("{key} is not set")))
        };
        let server_url = check_server_url(get("server.url")?).map_err(fail)?;
        let ra_key_generation = match settings.get("ra-key-generation") {
            Some(text) => Some(
                KeySpecList::parse(text).map_err(|e| fail(format!("ra-key-generation: {e}")))?,
            ),
            None => None,
        };
        let retries = match settings.get("client.retries") {
            Some(text) => text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= MAX_RETRIES)
                .ok_or_else(|| {
                    fail(format!(
                        "client.retries: {text:?} is not a number from 0 to {MAX_RETRIES}"
                    ))
                })?,
            None => DEFAULT_RETRIES,
        };
        let virtual_warning = match settings.get("officer.virtual-warning").map(str::trim) {
            None | Some("always") => VirtualWarning::Always,
            Some("daily") => VirtualWarning::Daily,
            Some(other) => {
                let shown: String = other.chars().take(40).collect();
                return Err(fail(format!(
                    "officer.virtual-warning: {shown:?} is not always or daily"
                )));
            }
        };
        let pkcs11: Vec<&str> = PKCS11_SETTINGS
            .iter()
            .copied()
            .filter(|k| settings.get(k).is_some())
            .collect();
        let officer = match (settings.get("officer.p12"), pkcs11.is_empty()) {
            (Some(_), false) => {
                return Err(fail(format!(
                    "officer.p12 and {} are both set: name the officer credential once (a PKCS#12 or a smart card)",
                    pkcs11.join(", ")
                )))
            }
            (Some(_), true) => OfficerSource::P12(base.join(get("officer.p12")?)),
            (None, false) => OfficerSource::Pkcs11 {
                module: base.join(get("officer.pkcs11-module")?),
                token: get("officer.pkcs11-token")?.to_string(),
                key: get("officer.pkcs11-key")?.to_string(),
            },
            (None, true) => {
                return Err(fail(
                    "officer.p12 is not set (nor officer.pkcs11-module, -token and -key for a smart card)".into(),
                ))
            }
        };
        Ok(ClientConfig {
            path: path.to_path_buf(),
            server_url,
            server_ca: base.join(get("server.ca")?),
            officer,
            ra_key_generation,
            retries,
            virtual_warning,
        })
    }
}

/// `server.url` parsed as a URL (port in range, no control characters, a host, no user,
/// query or fragment) so that a bad value is refused here, naming the setting, and not later
/// by the HTTP client as a "builder error". Returned without a trailing `/`.
fn check_server_url(text: &str) -> Result<String, String> {
    let shown: String = text.chars().take(100).collect();
    if text.chars().any(char::is_control) {
        return Err(format!("server.url: {shown:?} contains control characters"));
    }
    let trimmed = text.trim_end_matches('/');
    if !trimmed.starts_with("https://") {
        return Err(format!("server.url: {shown:?} must start with https://"));
    }
    let url = reqwest::Url::parse(trimmed)
        .map_err(|e| format!("server.url: {shown:?} is not a URL: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("server.url: {shown:?} names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "server.url: {shown:?} holds a user name or password; the officer is known by the certificate"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "server.url: {shown:?} has a query or fragment; give https://HOST:PORT"
        ));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_list_overrides_and_errors_name_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.conf");
        std::fs::write(
            &path,
            "server.url = https://127.0.0.1:8443/\nserver.ca = ca/root.pem\nofficer.p12 = officer/admin.p12\nra-key-generation = EC:secp256r1*, \\\n  RSA:3072\n",
        )
        .unwrap();
        let conf = ClientConfig::load(&path).unwrap();
        assert_eq!(conf.server_url, "https://127.0.0.1:8443");
        assert_eq!(conf.server_ca, dir.path().join("ca/root.pem"));
        assert_eq!(
            conf.ra_key_generation.unwrap().to_string(),
            "EC:secp256r1*, RSA:3072"
        );

        std::fs::write(
            &path,
            "server.url = http://x\nserver.ca = a\nofficer.p12 = b\n",
        )
        .unwrap();
        assert!(ClientConfig::load(&path)
            .unwrap_err()
            .to_string()
            .contains("server.url"));
        std::fs::write(
            &path,
            "server.url = https://x\nserver.ca = a\nofficer.p12 = b\nra-key-generation = RSA:1\n",
        )
        .unwrap();
        let err = ClientConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("ra-key-generation") && err.contains("allowed"),
            "{err}"
        );
    }

    #[test]
    fn server_url_is_parsed_and_errors_name_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.conf");
        let tail = "server.ca = a\nofficer.p12 = b\n";
        for good in [
            "https://127.0.0.1:8443/",
            "https://cm.example:443",
            "https://[::1]:8443",
        ] {
            std::fs::write(&path, format!("server.url = {good}\n{tail}")).unwrap();
            let conf = ClientConfig::load(&path).unwrap();
            assert_eq!(conf.server_url, good.trim_end_matches('/'));
        }
        for bad in [
            "https://127.0.0.1:99999",
            "https://127.0.0.1:8443\u{0}x",
            "https://127.0.0.1:\u{0}8443",
            "https://",
            "https://a b:8443",
            "https://user:pw@127.0.0.1:8443",
            "https://127.0.0.1:8443?x=1",
            "ftp://127.0.0.1",
        ] {
            std::fs::write(&path, format!("server.url = {bad}\n{tail}")).unwrap();
            let err = ClientConfig::load(&path).unwrap_err();
            assert_eq!(err.exit_code(), 3, "{bad:?}");
            assert!(err.to_string().contains("server.url"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn retries_default_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.conf");
        let head = "server.url = https://x\nserver.ca = a\nofficer.p12 = b\n";
        std::fs::write(&path, head).unwrap();
        assert_eq!(ClientConfig::load(&path).unwrap().retries, DEFAULT_RETRIES);
        std::fs::write(&path, format!("{head}client.retries = 0\n")).unwrap();
        assert_eq!(ClientConfig::load(&path).unwrap().retries, 0);
        for bad in ["11", "-1", "many"] {
            std::fs::write(&path, format!("{head}client.retries = {bad}\n")).unwrap();
            let err = ClientConfig::load(&path).unwrap_err().to_string();
            assert!(err.contains("client.retries"), "{bad}: {err}");
        }
    }

    #[test]
    fn officer_is_a_p12_or_a_smart_card_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.conf");
        let head = "server.url = https://127.0.0.1:8443\nserver.ca = ca/root.pem\n";
        let card = "officer.pkcs11-module = /usr/lib/softhsm/libsofthsm2.so\nofficer.pkcs11-token = Carol\nofficer.pkcs11-key = carol\n";
        std::fs::write(&path, format!("{head}{card}")).unwrap();
        assert_eq!(
            ClientConfig::load(&path).unwrap().officer,
            OfficerSource::Pkcs11 {
                module: PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
                token: "Carol".into(),
                key: "carol".into(),
            }
        );
        for (body, setting) in [
            (
                format!("{head}{card}officer.p12 = a.p12\n"),
                "officer.p12 and officer.pkcs11-module",
            ),
            (
                format!("{head}officer.pkcs11-token = Carol\n"),
                "officer.pkcs11-module is not set",
            ),
            (
                format!("{head}officer.pkcs11-module = m.so\nofficer.pkcs11-token = C\n"),
                "officer.pkcs11-key is not set",
            ),
            (head.to_string(), "officer.p12 is not set"),
        ] {
            std::fs::write(&path, body).unwrap();
            let err = ClientConfig::load(&path).unwrap_err().to_string();
            assert!(err.contains(setting), "{setting}: {err}");
        }
    }
}
