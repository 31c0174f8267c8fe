//! cm.conf: the server's configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use keyward_mailer::smtp::{SmtpSecurity, SmtpSettings};
use keyward_policy::config::Settings;
use keyward_policy::keyspec::{KeySpecList, DEFAULT_RA_KEY_GENERATION};

use crate::error::ServerError;

mod crl;
mod keys;
mod limits;
pub use crl::{CrlConfig, CrlUrl};
mod ocsp;
pub use keys::{ArchiveKeySetting, CaKeySetting, Pkcs11Key};
pub use limits::ConnectionLimits;
pub use ocsp::{OcspConfig, OcspKeySetting};

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
    /// The issuing CA's key: `ca.issuing.key` (encrypted PKCS#8 PEM) with
    /// `ca.key-passphrase-file` (mode 0600), or `ca.issuing.pkcs11-*` (a key on an HSM).
    pub ca_issuing_key: CaKeySetting,
    /// `client.ra-key-generation`, as written (served to RA clients).
    pub ra_key_generation: String,
    /// The KRA's archive key: `kra.archive-key` and `kra.archive-key-passphrase-file` (a key
    /// file encrypted at rest and its passphrase), or `kra.pkcs11-*` (an AES key on an HSM).
    /// Without one, key archive and recovery are refused.
    pub kra_archive_key: Option<ArchiveKeySetting>,
    /// `kra.key-pool`: keys the KRA generates ahead, per key spec (`RSA:2048=8, RSA:3072=2`);
    /// empty without the setting.
    pub kra_key_pool: Vec<(keyward_policy::KeySpec, usize)>,
    /// `kra.key-pool-threads`: background generator threads for the pool (1 or 2, default 1).
    pub kra_key_pool_threads: usize,
    /// `pin-mailer.*`: the SMTP server PIN mails go through; without `pin-mailer.smtp-host`,
    /// PIN mail can be queued and printed but not sent.
    pub pin_mailer: Option<PinMailerConfig>,
    /// `audit.key` and `audit.key-passphrase-file`: the audit key that seals the audit log
    /// (encrypted PKCS#8 PEM) and its passphrase. Without them the log is hash-chained but not
    /// sealed.
    pub audit_key: Option<(PathBuf, PathBuf)>,
    /// `audit.seal-interval`: seconds between seals (default 60, 1 to 86400).
    pub audit_seal_interval: u64,
    /// `server.header-timeout`, `-body-timeout`, `-idle-timeout`, `-max-connections`.
    pub limits: ConnectionLimits,
    /// `metrics.listen`: where Prometheus metrics are served over plain HTTP (`GET
    /// /metrics`); none without the setting. `keyward server --metrics-listen` wins over it.
    pub metrics_listen: Option<SocketAddr>,
    /// `public.listen`: where CRLs (and OCSP) are served over plain HTTP; none without the
    /// setting. `keyward server --public-listen` wins over it.
    pub public_listen: Option<SocketAddr>,
    /// `crl.*`: when and where CRLs are published; none without `crl.url`.
    pub crl: Option<CrlConfig>,
    /// `ocsp.*`: the OCSP responder's delegated signing certificate and key; no responder
    /// without `ocsp.certificate`.
    pub ocsp: Option<OcspConfig>,
    /// Every setting as written, so that a reload can tell which ones changed (see
    /// [`settings_that_need_a_restart`]).
    pub settings: Settings,
}

/// The settings a running server re-reads from cm.conf on SIGHUP; every other one takes
/// effect only when it is restarted.
pub const RELOADABLE_PREFIX: &str = "pin-mailer.";

/// The settings that differ between `running` and `new` and are not reloadable (see
/// [`RELOADABLE_PREFIX`]): set, removed or changed, sorted, by name only (a value, such as
/// `database.url`, may hold a password).
pub fn settings_that_need_a_restart(running: &Settings, new: &Settings) -> Vec<String> {
    let mut names: Vec<String> = running
        .keys()
        .chain(new.keys())
        .filter(|key| !key.starts_with(RELOADABLE_PREFIX))
        .filter(|key| running.get(key) != new.get(key))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The PIN mailer's settings.
#[derive(Debug, Clone)]
pub struct PinMailerConfig {
    /// `smtp-host`, `smtp-port`, `smtp-security`, `smtp-username`, `from`, `smtp-ca-file`
    /// (the password is read from `password_file` when the server starts).
    pub smtp: SmtpSettings,
    /// `pin-mailer.smtp-password-file`.
    pub password_file: Option<PathBuf>,
    /// `pin-mailer.max-attempts`: failed sends before a mail is marked failed (default 5).
    pub max_attempts: i64,
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
    "kra.key-pool",
    "kra.key-pool-threads",
    "pin-mailer.smtp-host",
    "pin-mailer.smtp-port",
    "pin-mailer.smtp-security",
    "pin-mailer.smtp-username",
    "pin-mailer.smtp-password-file",
    "pin-mailer.smtp-ca-file",
    "pin-mailer.from",
    "pin-mailer.max-attempts",
    "audit.key",
    "audit.key-passphrase-file",
    "audit.seal-interval",
    "metrics.listen",
];

impl ServerConfig {
    /// Reads and checks cm.conf.
    pub fn load(path: &Path) -> Result<ServerConfig, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        ServerConfig::from_text(path, &text)
    }

    /// Checks the text of cm.conf as [`ServerConfig::load`] does, without reading any file:
    /// `path` names the file in errors and is the base of its relative paths (for the fuzzer).
    pub fn from_text(path: &Path, text: &str) -> Result<ServerConfig, ServerError> {
        let fail = |reason: String| ServerError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let settings = Settings::parse(text).map_err(|e| fail(e.to_string()))?;
        if let Some(unknown) = settings.keys().find(|k| {
            !KNOWN.contains(k)
                && !keys::KNOWN.contains(k)
                && !limits::KNOWN.contains(k)
                && !crl::KNOWN.contains(k)
                && !ocsp::KNOWN.contains(k)
        }) {
            return Err(fail(format!(
                "unknown setting {unknown}; known: {}, {}, {}, {}, {}",
                KNOWN.join(", "),
                keys::KNOWN.join(", "),
                limits::KNOWN.join(", "),
                crl::KNOWN.join(", "),
                ocsp::KNOWN.join(", ")
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
        let kra_archive_key = keys::archive_key(&settings, base).map_err(fail)?;
        let (kra_key_pool, kra_key_pool_threads) = key_pool(&settings).map_err(fail)?;
        let ca_issuing_key = keys::ca_key(&settings, base).map_err(fail)?;
        let pin_mailer = pin_mailer(&settings, base).map_err(fail)?;
        let (audit_key, audit_seal_interval) = audit(&settings, base).map_err(fail)?;
        let limits = limits::connection_limits(&settings).map_err(fail)?;
        let metrics_listen = metrics_listen(&settings).map_err(fail)?;
        let public_listen = crl::public_listen(&settings).map_err(fail)?;
        let crl = crl::crl_config(&settings, base).map_err(fail)?;
        let ocsp = ocsp::ocsp(&settings, base).map_err(fail)?;
        Ok(ServerConfig {
            path: path.to_path_buf(),
            listen,
            database_url: resolve_database_url(get("database.url")?, base),
            tls_certificate: file("tls.certificate")?,
            tls_key: file("tls.key")?,
            ca_root: file("ca.root")?,
            ca_issuing_certificate: file("ca.issuing.certificate")?,
            ca_issuing_key,
            ra_key_generation,
            kra_archive_key,
            kra_key_pool,
            kra_key_pool_threads,
            pin_mailer,
            audit_key,
            audit_seal_interval,
            limits,
            metrics_listen,
            public_listen,
            crl,
            ocsp,
            settings,
        })
    }
}

/// Reads `metrics.listen` (ADDRESS:PORT); absent or empty: no metrics.
fn metrics_listen(settings: &Settings) -> Result<Option<SocketAddr>, String> {
    match settings.get("metrics.listen").map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("metrics.listen: {v:?} is not ADDRESS:PORT")),
    }
}

/// Reads `kra.key-pool` and `kra.key-pool-threads`. Errors name the setting.
fn key_pool(settings: &Settings) -> Result<(Vec<(keyward_policy::KeySpec, usize)>, usize), String> {
    let get = |key: &str| settings.get(key).filter(|v| !v.trim().is_empty());
    let targets = match get("kra.key-pool") {
        Some(text) => keyward_crypto::key_pool::parse_pool_targets(text)
            .map_err(|e| format!("kra.key-pool: {e}"))?,
        None => Vec::new(),
    };
    let max = keyward_crypto::key_pool::MAX_GENERATOR_THREADS;
    let threads = match get("kra.key-pool-threads") {
        Some(n) => n
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("kra.key-pool-threads: {n:?} is not 1 to {max}"))?,
        None => 1,
    };
    Ok((targets, threads))
}

/// Reads `audit.*`: the key file and passphrase file (both or neither) and the seal interval.
/// Errors name the setting.
fn audit(settings: &Settings, base: &Path) -> Result<(Option<(PathBuf, PathBuf)>, u64), String> {
    let get = |key: &str| settings.get(key).filter(|v| !v.is_empty());
    let key = match (get("audit.key"), get("audit.key-passphrase-file")) {
        (Some(key), Some(pass)) => Some((base.join(key), base.join(pass))),
        (None, None) => None,
        (Some(_), None) => return Err("audit.key-passphrase-file is not set".into()),
        (None, Some(_)) => return Err("audit.key is not set".into()),
    };
    let interval = match get("audit.seal-interval") {
        Some(n) => n
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=86_400).contains(n))
            .ok_or_else(|| format!("audit.seal-interval: {n:?} is not 1 to 86400 seconds"))?,
        None => 60,
    };
    Ok((key, interval))
}

/// Reads `pin-mailer.*`; `None` without `pin-mailer.smtp-host`. Errors name the setting.
fn pin_mailer(settings: &Settings, base: &Path) -> Result<Option<PinMailerConfig>, String> {
    let get = |key: &str| {
        settings
            .get(&format!("pin-mailer.{key}"))
            .filter(|v| !v.is_empty())
    };
    let Some(host) = get("smtp-host") else {
        return match settings.keys().find(|k| k.starts_with("pin-mailer.")) {
            Some(key) => Err(format!("{key} is set but pin-mailer.smtp-host is not")),
            None => Ok(None),
        };
    };
    let security: SmtpSecurity = get("smtp-security")
        .unwrap_or("starttls")
        .parse()
        .map_err(|e| format!("pin-mailer.smtp-security: {e}"))?;
    let default_port = match security {
        SmtpSecurity::Plain => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    };
    let port = match get("smtp-port") {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("pin-mailer.smtp-port: {p:?} is not a port number"))?,
        None => default_port,
    };
    let max_attempts = match get("max-attempts") {
        Some(n) => n
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| format!("pin-mailer.max-attempts: {n:?} is not 1 to 100"))?,
        None => 5,
    };
    let from = get("from").ok_or("pin-mailer.from is not set")?;
    Ok(Some(PinMailerConfig {
        smtp: SmtpSettings {
            host: host.to_string(),
            port,
            security,
            username: get("smtp-username").map(str::to_string),
            password: None,
            from: from.to_string(),
            ca_file: get("smtp-ca-file").map(|f| base.join(f)),
            timeout: std::time::Duration::from_secs(30),
        },
        password_file: get("smtp-password-file").map(|f| base.join(f)),
        max_attempts,
    }))
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

    #[test]
    fn only_changed_settings_outside_pin_mailer_need_a_restart() {
        let running = Settings::parse(
            "server.listen = 127.0.0.1:8443
database.url = postgres://kw:secret@db/kw
             pin-mailer.smtp-host = a
audit.seal-interval = 60
",
        )
        .unwrap();
        let new = Settings::parse(
            "server.listen = 127.0.0.1:8443
database.url = postgres://kw:other@db/kw
             pin-mailer.smtp-host = b
pin-mailer.from = x@y.z
metrics.listen = 127.0.0.1:9
",
        )
        .unwrap();
        assert_eq!(
            settings_that_need_a_restart(&running, &new),
            ["audit.seal-interval", "database.url", "metrics.listen"],
            "removed, changed and added; pin-mailer.* is reloaded"
        );
        assert!(settings_that_need_a_restart(&running, &running).is_empty());
    }

    #[test]
    fn metrics_listen_is_optional_and_checked() {
        let read = |text: &str| metrics_listen(&Settings::parse(text).unwrap());
        assert_eq!(read("").unwrap(), None);
        assert_eq!(read("metrics.listen =\n").unwrap(), None);
        assert_eq!(
            read("metrics.listen = 127.0.0.1:9464\n").unwrap(),
            Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        for bad in ["metrics.listen = 9464\n", "metrics.listen = localhost:x\n"] {
            let err = read(bad).unwrap_err();
            assert!(err.starts_with("metrics.listen: "), "{bad:?}: {err}");
        }
    }

    #[test]
    fn key_pool_settings_name_the_setting() {
        use keyward_policy::KeySpec;
        let read = |text: &str| key_pool(&Settings::parse(text).unwrap());
        assert_eq!(read("").unwrap(), (Vec::new(), 1));
        assert_eq!(
            read("kra.key-pool = RSA:2048=8, RSA:3072=2\nkra.key-pool-threads = 2\n").unwrap(),
            (vec![(KeySpec::Rsa(2048), 8), (KeySpec::Rsa(3072), 2)], 2)
        );
        for text in [
            "kra.key-pool = RSA:2048\n",
            "kra.key-pool = RSA:2047=1\n",
            "kra.key-pool = RSA:2048=0\n",
        ] {
            let err = read(text).unwrap_err();
            assert!(err.starts_with("kra.key-pool: "), "{text}: {err}");
        }
        for text in ["kra.key-pool-threads = 0\n", "kra.key-pool-threads = 3\n"] {
            let err = read(text).unwrap_err();
            assert!(err.starts_with("kra.key-pool-threads: "), "{text}: {err}");
        }
    }

    #[test]
    fn audit_settings_name_the_setting() {
        let read = |text: &str| audit(&Settings::parse(text).unwrap(), Path::new("/srv/kw"));
        assert_eq!(read("").unwrap(), (None, 60));
        let (key, interval) = read(
            "audit.key = a.pem\naudit.key-passphrase-file = a.pass\naudit.seal-interval = 5\n",
        )
        .unwrap();
        assert_eq!(key, Some(("/srv/kw/a.pem".into(), "/srv/kw/a.pass".into())));
        assert_eq!(interval, 5);
        for (text, needle) in [
            ("audit.key = a.pem\n", "audit.key-passphrase-file"),
            ("audit.key-passphrase-file = a\n", "audit.key is not set"),
            ("audit.seal-interval = 0\n", "audit.seal-interval"),
            ("audit.seal-interval = soon\n", "audit.seal-interval"),
        ] {
            let err = read(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn pin_mailer_settings_name_the_setting() {
        let read = |text: &str| pin_mailer(&Settings::parse(text).unwrap(), Path::new("/srv/kw"));
        assert!(read("").unwrap().is_none());
        let pm = read(
            "pin-mailer.smtp-host = smtp.example.org\n\
             pin-mailer.from = pin@example.org\n\
             pin-mailer.smtp-ca-file = smtp-ca.pem\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (pm.smtp.port, pm.smtp.security),
            (587, SmtpSecurity::StartTls)
        );
        assert_eq!(pm.smtp.ca_file, Some(PathBuf::from("/srv/kw/smtp-ca.pem")));
        assert_eq!(pm.max_attempts, 5);
        for (text, setting) in [
            ("pin-mailer.from = a@b.c\n", "pin-mailer.smtp-host"),
            ("pin-mailer.smtp-host = h\n", "pin-mailer.from"),
            ("pin-mailer.smtp-host = h\npin-mailer.from = a@b.c\npin-mailer.smtp-port = 0\n", "pin-mailer.smtp-port"),
            ("pin-mailer.smtp-host = h\npin-mailer.from = a@b.c\npin-mailer.smtp-security = ssl\n", "pin-mailer.smtp-security"),
            ("pin-mailer.smtp-host = h\npin-mailer.from = a@b.c\npin-mailer.max-attempts = 0\n", "pin-mailer.max-attempts"),
        ] {
            let err = read(text).unwrap_err();
            assert!(err.contains(setting), "{text:?}: {err}");
        }
    }
}
