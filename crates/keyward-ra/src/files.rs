//! The officer's output files: checked before anything is generated, and their format told by
//! the extension.

use std::path::Path;

use crate::error::RaError;

/// A `.pem` path (any case) is written as PEM, anything else as DER.
pub(crate) fn is_pem(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pem"))
}

/// Refuses, naming the option `field`, an output path that cannot be written: no name, a
/// directory, an existing file without `force`, or a missing directory.
pub(crate) fn check_output(path: &Path, field: &str, force: bool) -> Result<(), RaError> {
    if path.as_os_str().is_empty() {
        return Err(RaError::input(field, "no file name"));
    }
    if path.is_dir() {
        return Err(RaError::input(
            field,
            format!("{} is a directory", path.display()),
        ));
    }
    if path.exists() && !force {
        return Err(RaError::input(
            field,
            format!("{} exists (use --force to overwrite)", path.display()),
        ));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(RaError::input(
            field,
            format!("directory {} does not exist", parent.display()),
        ));
    }
    Ok(())
}

/// Refuses, naming the option `field`, a directory in which no file can be created: creates
/// and removes a temporary file there, so that a read-only or full file system, missing
/// permissions or an ACL are found before a request is sent, not after the server issued.
pub(crate) fn check_writable(path: &Path, field: &str) -> Result<(), RaError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".keyward-check-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            RaError::input(
                field,
                format!("cannot create files in {}: {e}", dir.display()),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_where_no_file_can_be_made_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("a.p12");
        check_output(&ok, "p12", false).unwrap();
        check_writable(&ok, "p12").unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the probe is removed"
        );
        // Unwritable even for root: /proc takes no new files (the check before only asked
        // whether the parent is a directory, and passed).
        let proc = Path::new("/proc/keyward-token.p12");
        check_output(proc, "p12", false).unwrap();
        let err = check_writable(proc, "p12").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .starts_with("p12: cannot create files in /proc"),
            "{err}"
        );
    }
}
