//! Python as an independent parser and verifier (`pyasn1`, `pyasn1_alt_modules`,
//! `cryptography`, installed by `.ci/run`).

use std::path::Path;
use std::process::Command;

/// Runs `python3 -c SCRIPT ARGS…`; panics with its stderr when it fails; returns its stdout.
pub(crate) fn run(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
