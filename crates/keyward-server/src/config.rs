//! cm.conf: the server's configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use keyward_policy::config::Settings;
use keyward_policy::keyspec::{KeySpecList, DEFAULT_RA_KEY_GENERATION};

use crate::error::ServerError;

/// The server settings, with paths resolved against the configuration file's directory.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// `server.listen`.
    pub listen: SocketAddr,
    /// `database.url`.
    pub database_url: String,
    /// `tls.certificate`: the server certificate chain, PEM.
    pub tls_certificate: PathBuf,
    /// `tls.key`: its key, PEM (mode 0600).
    pub tls_key: PathBuf,
    /// `ca.root`: root CA certificate, PEM; officers' certificates must chain to it.
    pub ca_root: PathBuf,
    /// `ca.issuing.certificate`, PEM.
    pub ca_issuing_certificate: PathBuf,
    /// `ca.issuing.key`: encrypted PKCS#8 PEM.
    pub ca_issuing_key: PathBuf,
    /// `ca.key-passphrase-file`: the passphrase of the CA key (mode 0600).
    pub ca_key_passphrase_file: PathBuf,
    /// `client.ra-key-generation`, as written (served to RA clients).
    pub ra_key_generation: String,
    /// `kra.archive-key` and `kra.archive-key-passphrase-file`: the KRA's archive key file
    /// (encrypted at rest) and its passphrase. Without them, key archive and recovery are
    /// refused.
    pub kra_archive_key: Option<(PathBuf, PathBuf)>,
}

const KNOWN: &[&str] = &[
    "server.listen",
    "database.url",
    "tls.certificate",
    "tls.key",
    "ca.root",
    "ca.issuing.certificate",
    "ca.issuing.key",
    "ca.key-passphrase-file",
    "client.ra-key-generation",
    "kra.archive-key",
    "kra.archive-key-passphrase-file",
];

impl ServerConfig {
    /// Reads and checks cm.conf.
    pub fn load(path: &Path) -> Result<ServerConfig, ServerError> {
        let fail = |reason: String| ServerError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
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
        let file = |key: &str| get(key).map(|v| base.join(v));
        let listen = get("server.listen")?;
        let listen = listen
            .parse()
            .map_err(|_| fail(format!("server.listen: {listen:?} is not ADDRESS:PORT")))?;
        let ra_key_generation = settings
            .get("client.ra-key-generation")
            .unwrap_or(DEFAULT_RA_KEY_GENERATION)
            .to_string();
        KeySpecList::parse(&ra_key_generation)
            .map_err(|e| fail(format!("client.ra-key-generation: {e}")))?;
        let kra_archive_key = match (
            settings.get("kra.archive-key").filter(|v| !v.is_empty()),
            settings
                .get("kra.archive-key-passphrase-file")
                .filter(|v| !v.is_empty()),
        ) {
            (Some(key), Some(pass)) => Some((base.join(key), base.join(pass))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(fail("kra.archive-key-passphrase-file is not set".into()))
            }
            (None, Some(_)) => return Err(fail("kra.archive-key is not set".into())),
        };
        Ok(ServerConfig {
            path: path.to_path_buf(),
            listen,
            database_url: resolve_database_url(get("database.url")?, base),
            tls_certificate: file("tls.certificate")?,
            tls_key: file("tls.key")?,
            ca_root: file("ca.root")?,
            ca_issuing_certificate: file("ca.issuing.certificate")?,
            ca_issuing_key: file("ca.issuing.key")?,
            ca_key_passphrase_file: file("ca.key-passphrase-file")?,
            ra_key_generation,
            kra_archive_key,
        })
    }
}

/// A relative SQLite path in cm.conf is relative to cm.conf's directory.
pub fn resolve_database_url(url: &str, base: &Path) -> String {
    match url.strip_prefix("sqlite://") {
        Some(rest) if !rest.starts_with('/') => {
            let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
            let joined = base.join(file);
            let abs = std::path::absolute(&joined).unwrap_or(joined);
            if query.is_empty() {
                format!("sqlite://{}", abs.display())
            } else {
                format!("sqlite://{}?{query}", abs.display())
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sqlite_urls_are_resolved() {
        let url = resolve_database_url("sqlite://keyward.db", Path::new("/srv/kw"));
        assert_eq!(url, "sqlite:///srv/kw/keyward.db");
        assert_eq!(
            resolve_database_url("postgres://postgres@127.0.0.1/kw", Path::new("/srv")),
            "postgres://postgres@127.0.0.1/kw"
        );
    }

    #[test]
    fn broken_config_names_the_setting() {
        let dir = std::env::temp_dir().join(format!("kw-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cm.conf");
        std::fs::write(&path, "server.listen = nowhere\n").unwrap();
        let err = ServerConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("server.listen"), "{err}");
        std::fs::write(&path, "server.lisen = 1\n").unwrap();
        assert!(ServerConfig::load(&path)
            .unwrap_err()
            .to_string()
            .contains("unknown setting server.lisen"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
