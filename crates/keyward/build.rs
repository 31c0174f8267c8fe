//! Puts the commit into `keyward --version`: `KEYWARD_VERSION` = `0.1.0 (commit 1a2b3c4)`, with
//! `-dirty` when tracked files differ from that commit, or `(commit unknown)` without git or a
//! repository (a source tarball). `KEYWARD_COMMIT=HASH` at build time names it instead (for
//! packagers building from a tarball).
//!
//! Cargo reruns this only when HEAD moves (a commit, a checkout: `HEAD`, the branch it points to,
//! `packed-refs`) or the index changes (`git add`, which is when an edit counts as "dirty" here):
//! not on every build, so that a build does not recompile the crate's targets for nothing. An
//! edit that is not yet staged or committed is therefore not seen until then.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=KEYWARD_COMMIT");
    let version = env!("CARGO_PKG_VERSION");
    let commit = match std::env::var("KEYWARD_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_owned(),
        _ => from_git().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=KEYWARD_VERSION={version} (commit {commit})");
}

/// The short hash of HEAD, `-dirty` if tracked files changed; `None` without git, outside a
/// repository, or in a repository that does not hold this crate (a tarball unpacked inside
/// someone else's checkout).
fn from_git() -> Option<String> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    git(&dir, &["ls-files", "--error-unmatch", "Cargo.toml"])?;
    let hash = git(&dir, &["rev-parse", "--short", "HEAD"])?;
    for file in watched(&dir) {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    // --no-optional-locks: `status` would otherwise refresh the index, which is one of the
    // files watched above, and the next build would run this again.
    let changes = git(
        &dir,
        &[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )?;
    Some(if changes.is_empty() {
        hash
    } else {
        format!("{hash}-dirty")
    })
}

/// HEAD, the branch it points to, packed-refs and the index, where they exist (a missing
/// file would make cargo rerun this on every build). `--git-path` finds them in a worktree too.
fn watched(dir: &Path) -> Vec<PathBuf> {
    let mut names = vec![
        "HEAD".to_owned(),
        "packed-refs".to_owned(),
        "index".to_owned(),
    ];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        names.push(branch);
    }
    names
        .iter()
        .filter_map(|name| git(dir, &["rev-parse", "--git-path", name]))
        .map(|path| dir.join(path))
        .filter(|path| path.is_file())
        .collect()
}

/// `git ARGS` in `dir`: its trimmed stdout, or `None` when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
