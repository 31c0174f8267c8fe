//! Files written atomically: a temporary file in the same directory, fsync, rename, fsync of the
//! directory. A crash leaves either the old file or the new one, never a partial one.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Writes a file holding a secret (key, PIN, PKCS#12) with mode 0600.
pub fn write_secret(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, bytes, 0o600)
}

/// Writes a public file (certificate, configuration) with mode 0644.
pub fn write_public(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, bytes, 0o644)
}

/// One file for [`write_together`].
#[derive(Debug, Clone, Copy)]
pub struct FileToWrite<'a> {
    /// Final path.
    pub path: &'a Path,
    /// Contents.
    pub bytes: &'a [u8],
    /// Mode 0600 (a key, PIN or PKCS#12) rather than 0644.
    pub secret: bool,
}

/// Writes several files, each one atomically, with one fsync per directory rather than one per
/// file: every temporary file is written and synced, then all are renamed, then each directory
/// is synced once. On an error every temporary file is removed; a file already renamed stays
/// (whole). The error names the file it is about.
pub fn write_together(files: &[FileToWrite<'_>]) -> Result<(), (PathBuf, io::Error)> {
    let mut temps: Vec<(PathBuf, &Path)> = Vec::with_capacity(files.len());
    let cleanup = |temps: &[(PathBuf, &Path)]| {
        for (tmp, _) in temps {
            let _ = std::fs::remove_file(tmp);
        }
    };
    for f in files {
        let mode = if f.secret { 0o600 } else { 0o644 };
        match write_temp(f.path, f.bytes, mode) {
            Ok(tmp) => temps.push((tmp, f.path)),
            Err(e) => {
                cleanup(&temps);
                return Err((f.path.to_path_buf(), e));
            }
        }
    }
    for (i, (tmp, path)) in temps.iter().enumerate() {
        if let Err(e) = std::fs::rename(tmp, path) {
            cleanup(&temps[i..]);
            return Err((path.to_path_buf(), e));
        }
    }
    let mut synced: Vec<&Path> = Vec::new();
    for f in files {
        let dir = parent(f.path);
        if !synced.contains(&dir) {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| (f.path.to_path_buf(), e))?;
            synced.push(dir);
        }
    }
    Ok(())
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_together(&[FileToWrite {
        path,
        bytes,
        secret: mode == 0o600,
    }])
    .map_err(|(_, e)| e)
}

/// Writes `bytes` to a new temporary file beside `path` and syncs it; returns its path.
fn write_temp(path: &Path, bytes: &[u8], mode: u32) -> io::Result<PathBuf> {
    let dir = parent(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut suffix = [0u8; 8];
    openssl::rand::rand_bytes(&mut suffix).map_err(io::Error::other)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        hex::encode(suffix)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        let (head, tail) = bytes.split_at(bytes.len() / 2);
        file.write_all(head)?;
        crash_point("mid-write");
        file.write_all(tail)?;
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Test hook, as `keyward_store::crash_point`: with `KEYWARD_TEST_CRASH_AT=mid-write` (read
/// by debug builds only) the process kills itself with SIGKILL when half of a file is written
/// to its temporary name, to prove that a killed RA never leaves a partial file under the final
/// name (`tests/e2e/crash.rs`).
fn crash_point(point: &str) {
    #[cfg(debug_assertions)]
    {
        let wanted = std::env::var("KEYWARD_TEST_CRASH_AT").unwrap_or_default();
        if wanted.split(',').any(|p| p.trim() == point) {
            eprintln!("keyward: crash point {point} reached");
            let pid = std::process::id().to_string();
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
            std::process::abort();
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secret_files_are_0600_and_leave_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.p12");
        write_secret(&path, b"one").unwrap();
        write_secret(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write_secret(&dir.path().join("missing/x"), b"x").is_err());
    }

    #[test]
    fn files_written_together_keep_their_modes_and_name_the_failing_one() {
        let dir = tempfile::tempdir().unwrap();
        let (p12, cert) = (dir.path().join("t.p12"), dir.path().join("t.der"));
        let files = [
            FileToWrite {
                path: &p12,
                bytes: b"key",
                secret: true,
            },
            FileToWrite {
                path: &cert,
                bytes: b"cert",
                secret: false,
            },
        ];
        write_together(&files).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&p12), mode(&cert)), (0o600, 0o644));
        assert_eq!(std::fs::read(&cert).unwrap(), b"cert");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

        let missing = dir.path().join("missing/t.der");
        let other = dir.path().join("u.p12");
        let files = [
            FileToWrite {
                path: &other,
                bytes: b"key",
                secret: true,
            },
            FileToWrite {
                path: &missing,
                bytes: b"cert",
                secret: false,
            },
        ];
        let (path, _) = write_together(&files).unwrap_err();
        assert_eq!(path, missing);
        // Nothing of the failed set is left: no temporary file, and u.p12 was never renamed.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        assert!(!other.exists());
    }
}
