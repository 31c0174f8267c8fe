//! A certificate procedure's QC statements in one short line, for procedure lists; the QC
//! statements an officer adds at issuance.

use crate::{CertificateProcedure, QcStatements};

impl CertificateProcedure {
    /// ` QC compliance,type (officer: +limit_value)` for a procedure with QC statements (`!`
    /// after a kind the officer must add), else empty.
    pub fn qc_summary(&self) -> String {
        let fixed: Vec<&str> = self
            .qc_statements
            .kinds()
            .iter()
            .map(|k| k.name())
            .collect();
        if fixed.is_empty() && self.qc_officer_may_add.is_empty() {
            return String::new();
        }
        let mut text = format!(" QC {}", fixed.join(","));
        if !self.qc_officer_may_add.is_empty() {
            let open: Vec<String> = self
                .qc_officer_may_add
                .iter()
                .map(|k| {
                    let must = if self.qc_officer_must_add.contains(k) {
                        "!"
                    } else {
                        ""
                    };
                    format!("+{}{must}", k.name())
                })
                .collect();
            text.push_str(&format!(" (officer: {})", open.join(",")));
        }
        text
    }
}

impl QcStatements {
    /// The QC statements an officer adds: `file` (its name as shown, and its TOML text with
    /// the keys of a certificate procedure's `qc_statements` table), then each of `flags`
    /// (`kind[=value]`). The error names the option at fault (`--qc-statements FILE`,
    /// `--qc-statement "FLAG"`).
    pub fn officer(file: Option<(&str, &str)>, flags: &[String]) -> Result<QcStatements, String> {
        let mut qc = match file {
            None => QcStatements::default(),
            Some((shown, text)) => toml::from_str(text)
                .map_err(|e| format!("--qc-statements {shown}: {}", e.message()))?,
        };
        for flag in flags {
            qc.add_flag(flag)
                .map_err(|e| format!("--qc-statement {flag:?}: {e}"))?;
        }
        Ok(qc)
    }
}
