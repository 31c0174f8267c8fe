//! A certificate procedure's QC statements in one short line, for procedure lists.

use crate::CertificateProcedure;

impl CertificateProcedure {
    /// ` QC compliance,type (officer: +limit_value)` for a procedure with QC statements (`!`
    /// after a kind the officer must add), else empty.
    pub fn qc_summary(&self) -> String {
        let fixed: Vec<&str> = self.qc_statements.kinds().iter().map(|k| k.name()).collect();
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
