//! An installation's configuration, and what it names: the database, the audit key, PIN
//! files. Shared by every command on the CM host and by the server's start-up.

use std::path::Path;

use zeroize::Zeroizing;

use keyward_audit::AuditKey;
use keyward_server::{ServerConfig, ServerError};
use keyward_store::{Store, StoreError};

use crate::error::{context, AdminError};

/// cm.conf from `dir`, with `database` (the `--database` option) overriding `database.url`; a
/// relative SQLite path in `database` is relative to the working directory.
pub fn load_config(dir: &Path, database: Option<&str>) -> Result<ServerConfig, ServerError> {
    let mut config = ServerConfig::load(&dir.join("cm.conf"))?;
    if let Some(url) = database {
        config.database_url = keyward_server::config::resolve_database_url(url, Path::new("."));
    }
    Ok(config)
}

/// A database that cannot be opened, as a configuration error (exit code 3) naming
/// `database.url` and only the URL's scheme: a URL may hold a password.
pub fn database_error(config: &ServerConfig, overridden: bool, error: StoreError) -> ServerError {
    let scheme = config
        .database_url
        .split_once("://")
        .map_or("?", |(scheme, _)| scheme);
    let from = if overridden { ", from --database" } else { "" };
    ServerError::Config {
        path: config.path.clone(),
        reason: format!("database.url ({scheme}://…{from}): {error}"),
    }
}

/// Opens the database `config` names; errors name `database.url` (see [`database_error`]).
pub async fn open_store(config: &ServerConfig, overridden: bool) -> Result<Store, ServerError> {
    Store::open(&config.database_url)
        .await
        .map_err(|e| database_error(config, overridden, e))
}

/// The audit key named by cm.conf, if any; errors name the file (exit code 3). A key that is
/// not the key of the installation's `audit-key.pub.pem` is refused naming `audit.key`: seals
/// made with it would not verify, and `audit verify` with it would trust them.
pub fn load_audit_key(config: &ServerConfig) -> Result<Option<AuditKey>, ServerError> {
    let Some((key_file, _)) = &config.audit_key else {
        return Ok(None);
    };
    let key = read_audit_key(config)?;
    if let Some(key) = &key {
        crate::checks::audit_key_matches_public_files(config, key_file, key).map_err(|reason| {
            ServerError::Config {
                path: config.path.clone(),
                reason: format!("audit.key: {reason}"),
            }
        })?;
    }
    Ok(key)
}

fn read_audit_key(config: &ServerConfig) -> Result<Option<AuditKey>, ServerError> {
    let Some((key, pass)) = &config.audit_key else {
        return Ok(None);
    };
    AuditKey::load(key, pass).map(Some).map_err(|e| match e {
        keyward_audit::AuditError::File { path, reason } => ServerError::File {
            path,
            reason: format!("audit key: {reason}"),
        },
        other => ServerError::File {
            path: key.clone(),
            reason: other.to_string(),
        },
    })
}

/// Sets every directory under `dir` (and `dir`) to mode 0700 and every file to 0600,
/// explicitly, whatever the umask: an installation holds CA, KRA, audit and officer keys, and
/// even its certificates and settings are nobody else's business.
pub fn protect_tree(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |m| std::fs::Permissions::from_mode(m);
    std::fs::set_permissions(dir, mode(0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            protect_tree(&entry.path())?;
        } else if kind.is_file() {
            std::fs::set_permissions(entry.path(), mode(0o600))?;
        }
    }
    Ok(())
}

/// Reads the first line of a PIN file; errors name `flag` and the file.
pub fn read_pin_file(path: &Path, flag: &str) -> Result<Zeroizing<String>, AdminError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(context(|| format!("{flag} {}", path.display())))?,
    );
    Ok(Zeroizing::new(
        text.lines().next().unwrap_or_default().to_string(),
    ))
}
