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
