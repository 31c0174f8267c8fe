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
    /// `officer.p12`: the virtual-officer credential.
    pub officer_p12: PathBuf,
    /// `ra-key-generation`: overrides the server's `client.ra-key-generation` when set.
    pub ra_key_generation: Option<KeySpecList>,
}

const KNOWN: &[&str] = &[
    "server.url",
    "server.ca",
    "officer.p12",
    "ra-key-generation",
];

impl ClientConfig {
    /// Reads and checks client.conf.
    pub fn load(path: &Path) -> Result<ClientConfig, RaError> {
        let fail = |reason: String| RaError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(format!(
                "{e} (run `keyward init` first, or pass --config FILE)"
            ))
        })?;
        let settings = Settings::parse(&text).map_err(|e| fail(e.to_string()))?;
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
        let server_url = get("server.url")?.trim_end_matches('/').to_string();
        if !server_url.starts_with("https://") {
            return Err(fail(format!(
                "server.url: {server_url:?} must start with https://"
            )));
        }
        let ra_key_generation = match settings.get("ra-key-generation") {
            Some(text) => Some(
                KeySpecList::parse(text).map_err(|e| fail(format!("ra-key-generation: {e}")))?,
            ),
            None => None,
        };
        Ok(ClientConfig {
            path: path.to_path_buf(),
            server_url,
            server_ca: base.join(get("server.ca")?),
            officer_p12: base.join(get("officer.p12")?),
            ra_key_generation,
        })
    }
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
}
