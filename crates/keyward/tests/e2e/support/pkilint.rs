//! pkilint (PyPI, from DigiCert) on our certificates: `lint_pkix_cert` for RFC 5280 content and
//! `lint_etsi_cert` for the ETSI qualified-certificate profiles. Its exit status is the number
//! of findings of any severity; error-level findings are the lines ending in `(ERROR)` or
//! `(FATAL)`.

use std::path::Path;

/// The findings of one linter run.
pub(crate) struct Findings {
    /// Everything pkilint printed.
    pub report: String,
    /// The error-level finding lines.
    pub errors: Vec<String>,
    /// The warning lines.
    pub warnings: Vec<String>,
}

fn run(program: &str, args: &[&str], pem: &Path) -> Findings {
    let out = keyward_testkit::tool(program)
        .args(args)
        .arg(pem)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !report.contains("Failed to load") && !report.contains("Traceback"),
        "{program} could not read {}: {report}",
        pem.display()
    );
    let lines_ending = |tags: &[&str]| -> Vec<String> {
        report
            .lines()
            .filter(|l| tags.iter().any(|t| l.trim_end().ends_with(t)))
            .map(str::to_string)
            .collect()
    };
    let errors = lines_ending(&["(ERROR)", "(FATAL)"]);
    let warnings = lines_ending(&["(WARNING)"]);
    Findings {
        report,
        errors,
        warnings,
    }
}

/// `lint_pkix_cert lint FILE`.
pub(crate) fn pkix(pem: &Path) -> Findings {
    run("lint_pkix_cert", &["lint"], pem)
}

/// `lint_etsi_cert lint -d FILE`: the ETSI certificate type detected from the content.
pub(crate) fn etsi(pem: &Path) -> Findings {
    run("lint_etsi_cert", &["lint", "-d"], pem)
}

/// Panics with the report unless pkilint finds nothing at error level.
pub(crate) fn assert_clean(what: &str, findings: &Findings) {
    assert!(
        findings.errors.is_empty(),
        "{what}: pkilint error-level findings:\n{}",
        findings.report
    );
}
