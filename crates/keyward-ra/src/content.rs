//! Certificate content the officer adds to a token beyond the subject: QC statements (checked
//! here with the server's own rule before any key is generated) and the attribute certificate
//! the RA saves apart from the PKCS#12.

use std::path::PathBuf;

use keyward_policy::procedure::ResolvedToken;
use keyward_policy::{QcStatements, TokenPlan};

use crate::error::RaError;
use crate::issue::certificate_procedures;

/// An attribute certificate saved apart from the token.
#[derive(Debug, Clone)]
pub struct SavedAttributeCertificate {
    /// Serial number, hex.
    pub serial: String,
    /// The attribute-certificate procedure.
    pub procedure: String,
    /// Certificate ID of its holder certificate.
    pub holder_certificate_id: String,
    /// The file.
    pub path: PathBuf,
}

/// Checks the officer's QC statements against every certificate procedure of the plan with
/// the server's own rule, so that a refusal comes before any key is generated.
pub(crate) fn check_officer_qc(
    resolved: &ResolvedToken,
    plan: &TokenPlan,
    officer: &QcStatements,
) -> Result<(), RaError> {
    let names = certificate_procedures(plan);
    if names.is_empty() && !officer.is_empty() {
        return Err(RaError::input(
            "qc-statement",
            format!(
                "token procedure {} issues no certificate to add QC statements to",
                resolved.token.name
            ),
        ));
    }
    for name in names {
        if let Some(p) = resolved
            .certificates
            .iter()
            .chain(&resolved.recovery_certificates)
            .find(|c| c.name == name)
        {
            p.qc_statements
                .merge(officer, &p.qc_officer_may_add, &p.qc_officer_must_add)
                .map_err(|e| {
                    RaError::input(
                        &e.field,
                        format!("{} (certificate procedure {name})", e.reason),
                    )
                })?;
        }
    }
    Ok(())
}
