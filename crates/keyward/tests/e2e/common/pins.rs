//! Helpers for PIN distribution tests: officer commands other than `ra`, PINs read back from
//! PDFs with poppler's `pdftotext`, and a search for secrets where they must not be.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::tokens::create_officer;
use super::{keyward, run, Installation};

/// An officer holding only `manage-pin-letters`: (client.conf, Signature PIN file).
pub(crate) fn printer(inst: &Installation) -> (PathBuf, PathBuf) {
    create_officer(inst, "printer", "manage-pin-letters")
}

/// `keyward TOP --config CONF --signature-pin-file PIN ARGS…` (TOP: `pin-letters`,
/// `secure-printer`).
pub(crate) fn officer_cmd(top: &str, officer: &(PathBuf, PathBuf), args: &[&str]) -> Command {
    let mut cmd = keyward();
    cmd.arg(top)
        .arg("--config")
        .arg(&officer.0)
        .arg("--signature-pin-file")
        .arg(&officer.1)
        .args(args);
    cmd
}

/// Runs an officer command without stdin.
pub(crate) fn officer_run(top: &str, officer: &(PathBuf, PathBuf), args: &[&str]) -> Output {
    run(officer_cmd(top, officer, args), None)
}

/// Every page of a PDF as `(page text, PIN, PUK)`, read by `pdftotext -layout`.
pub(crate) fn pdf_pages(pdf: &Path) -> Vec<(String, String, Option<String>)> {
    let out = keyward_testkit::tool("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("run pdftotext");
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    let text = String::from_utf8(out.stdout).expect("pdftotext output");
    text.split('\x0c')
        .filter(|page| !page.trim().is_empty())
        .map(|page| {
            // A secret's line is its label, a wide gap (the value column), and the value;
            // "PIN letter" (the title) has a single space.
            let value = |label: &str| {
                page.lines().find_map(|line| {
                    let rest = line.trim().strip_prefix(label)?;
                    let value = rest.trim();
                    (rest.starts_with("   ") && !value.is_empty() && !value.contains(' '))
                        .then(|| value.to_string())
                })
            };
            let pin = value("PIN").unwrap_or_else(|| panic!("no PIN on page:\n{page}"));
            (page.to_string(), pin, value("PUK"))
        })
        .collect()
}

/// The PIN of the page that mentions `reference` (e.g. `Letter ID 100002`).
pub(crate) fn pdf_pin(pdf: &Path, reference: &str) -> String {
    pdf_pages(pdf)
        .into_iter()
        .find(|(page, _, _)| page.contains(reference))
        .unwrap_or_else(|| panic!("no page for {reference} in {}", pdf.display()))
        .1
}

/// Panics if any of `secrets` appears in the database (its files, or a PostgreSQL dump: see
/// [`Installation::database_image`]) or the server log.
pub(crate) fn assert_nowhere(inst: &Installation, secrets: &[String]) {
    let log = std::fs::read(&inst.server_log).expect("read the server log");
    let mut places = vec![(inst.server_log.display().to_string(), log)];
    places.extend(inst.database_image());
    for (place, bytes) in places {
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a PIN appears in {place}"
            );
        }
    }
}
