//! Python as an independent parser and verifier (`pyasn1`, `pyasn1_alt_modules`,
//! `cryptography`, installed by scripts/install-test-tools).

use std::path::Path;

/// Runs `python3 -c SCRIPT ARGS…`; panics with its stderr when it fails; returns its stdout.
pub(crate) fn run(script: &str, args: &[&Path]) -> String {
    let out = keyward_testkit::python_script(script)
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
