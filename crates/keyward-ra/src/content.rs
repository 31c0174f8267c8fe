//! Certificate content beyond the PKCS#12: the attribute certificate the RA saves apart. The
//! officer's input is checked by [`keyward_policy::check_content`], the server's own rule.

use std::path::PathBuf;

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
