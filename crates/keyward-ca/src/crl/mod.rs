//! Certificate revocation lists (RFC 5280 §5): full and delta CRLs of the issuing CA, built as
//! the revoked rows stream in and signed through the CA's [`Signer`](crate::Signer), so that a
//! CA key on PKCS#11 signs CRLs exactly as it signs certificates.
//!
//! A [`CrlWriter`] appends the DER of each revokedCertificates entry to one output buffer as it
//! is pushed; nothing else grows with the number of entries (no list of entries, no decoded
//! CRL). [`CrlWriter::finish`] wraps the entries into the TBSCertList in place, signs it and
//! checks the signature with the CA certificate's public key before the CRL is returned.
//!
//! The server streams the store's rows (`keyward_store::RevokedEntry`) into it:
//!
//! ```text
//! let mut crl = ca.crl_writer(&CrlParams { number, this_update, next_update,
//!                                          delta_of, idp_url, freshest_url })?;
//! while let Some(row) = rows.try_next().await? {
//!     crl.push(&CrlEntry {
//!         serial: CrlEntry::serial_from_hex(&row.serial_hex)?,
//!         revoked_at: row.revoked_at,
//!         reason: Some(row.reason),
//!         invalidity_date: row.invalidity_date,
//!         remove_from_crl: row.released_at.is_some(), // delta CRLs only
//!     })?;
//! }
//! let der = crl.finish()?;
//! ```

mod entry;
mod extensions;
mod time;
mod writer;

use keyward_policy::RevocationReason;

pub use entry::crl_reason;
pub use writer::CrlWriter;

use crate::{CaError, CertificateAuthority};

/// One revoked certificate as the CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlEntry {
    /// The certificate's serial number: big-endian magnitude (leading zeros are ignored; it is
    /// encoded as a positive INTEGER, with a 0x00 octet added when the high bit is set).
    pub serial: Vec<u8>,
    /// revocationDate, Unix seconds: when it was revoked or put on hold. For a released hold
    /// (`remove_from_crl`), the time the base CRL listed.
    pub revoked_at: i64,
    /// The reason; `None` and `Some(Unspecified)` write no reasonCode (RFC 5280 §5.3.1: the
    /// reason code `unspecified` SHOULD be absent). `removeFromCRL` is not a reason here: set
    /// `remove_from_crl` instead.
    pub reason: Option<RevocationReason>,
    /// invalidityDate, Unix seconds: when the key is known or suspected to have been compromised.
    pub invalidity_date: Option<i64>,
    /// A released hold: listed in a delta CRL with reasonCode `removeFromCRL` (8), without its
    /// invalidity date. Refused in a full CRL.
    pub remove_from_crl: bool,
}

impl CrlEntry {
    /// The serial number bytes of `hex` (as the store keeps it: hex digits, any case, optional
    /// `:` separators and leading zeros). [`CaError::Encoding`] names the serial when it is not
    /// hex or is empty.
    pub fn serial_from_hex(hex: &str) -> Result<Vec<u8>, CaError> {
        let digits: String = hex.chars().filter(|c| *c != ':').collect();
        let padded = if digits.len() % 2 == 1 {
            format!("0{digits}")
        } else {
            digits
        };
        let bad = |reason: String| CaError::Encoding {
            field: format!("crl entry {hex:?}.serial"),
            reason,
        };
        if padded.is_empty() {
            return Err(bad("empty serial number".into()));
        }
        hex::decode(&padded).map_err(|e| bad(format!("not hex: {e}")))
    }
}

/// What the CRL says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlParams {
    /// cRLNumber (RFC 5280 §5.2.3): from the store's sequence, monotonic, never reused.
    pub number: u64,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds (RFC 5280 §5.1.2.5: conforming CAs always include it); after
    /// `this_update`.
    pub next_update: i64,
    /// For a delta CRL, the cRLNumber of its base (full) CRL: written as the critical
    /// deltaCRLIndicator (RFC 5280 §5.2.4); below `number`. `None` for a full CRL.
    pub delta_of: Option<u64>,
    /// The URL this CRL is served at, written as the critical issuingDistributionPoint
    /// (RFC 5280 §5.2.5). A delta must carry the same one as its base (relying parties such as
    /// OpenSSL match them byte for byte), and certificates should name it in their
    /// cRLDistributionPoints (OpenSSL only uses a CRL with an IDP for such certificates).
    pub idp_url: Option<String>,
    /// For a full CRL, where its delta CRLs are served: written as freshestCRL (RFC 5280
    /// §5.2.6). Relying parties look for deltas only when it is there (OpenSSL's `-use_deltas`
    /// ignores a delta otherwise). Refused in a delta CRL, which must not carry it.
    pub freshest_url: Option<String>,
}

impl CrlParams {
    /// Whether this is a delta CRL.
    pub fn is_delta(&self) -> bool {
        self.delta_of.is_some()
    }
}

impl CertificateAuthority {
    /// Starts a CRL of this CA: [`CrlWriter::begin`].
    pub fn crl_writer(&self, params: &CrlParams) -> Result<CrlWriter<'_>, CaError> {
        CrlWriter::begin(self, params)
    }
}

/// A `CaError::Encoding` for `field` of the CRL.
fn crl_err(field: &str, reason: impl Into<String>) -> CaError {
    CaError::Encoding {
        field: field.to_string(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests;
