//! The SQLite database file, created by the store with mode 0600 whatever the umask: it holds
//! archived keys (in envelopes) and the audit log. SQLite gives its `-wal` and `-shm` files the
//! database file's mode, so they are 0600 too.

use std::fs::OpenOptions;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::StoreError;

/// The file of a `sqlite:` URL (as [`crate::parse_url`] returns it), or `None` for an
/// in-memory database.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    let path = path.strip_prefix("//").unwrap_or(path);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Creates the database file of a `sqlite:` URL with mode 0600 if it does not exist and the
/// URL lets SQLite create it (`mode=rwc`), before SQLite would create it under the umask.
pub(crate) fn create_sqlite_file(url: &str) -> Result<(), StoreError> {
    let creates = url.contains("mode=rwc");
    let Some(path) = sqlite_path(url).filter(|_| creates) else {
        return Ok(());
    };
    let path = Path::new(path);
    if path.exists() {
        return Ok(());
    }
    let failed = |e: std::io::Error| StoreError::Database(sqlx::Error::Io(e));
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(failed),
        // Created meanwhile by another process: SQLite opens it as it is.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_of_a_url() {
        assert_eq!(
            sqlite_path("sqlite:///var/kw/keyward.db?mode=rwc"),
            Some("/var/kw/keyward.db")
        );
        assert_eq!(sqlite_path("sqlite://rel.db?mode=rwc"), Some("rel.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }

    #[test]
    fn a_new_database_file_is_0600_whatever_the_umask() {
        let dir = tempfile_dir();
        let file = dir.join("keyward.db");
        create_sqlite_file(&format!("sqlite://{}?mode=rwc", file.display())).unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kw-store-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
