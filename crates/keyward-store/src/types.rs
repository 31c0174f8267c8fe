//! Rows and records.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use keyward_policy::Role;
use serde::{Deserialize, Serialize};

/// An officer to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOfficer {
    /// Unique name.
    pub name: String,
    /// SHA-256 of the officer certificate, 64 hex digits (stored lowercase): how the server
    /// finds the officer from the TLS client certificate.
    pub cert_fingerprint: String,
    /// The officer certificate, DER.
    pub cert_der: Vec<u8>,
    /// Roles held.
    pub roles: BTreeSet<Role>,
}

/// A registered officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Officer {
    /// Row ID.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// SHA-256 of the officer certificate, lowercase hex.
    pub cert_fingerprint: String,
    /// The officer certificate, DER (left out of JSON output; the fingerprint identifies it).
    #[serde(skip)]
    pub cert_der: Vec<u8>,
    /// Roles held.
    pub roles: BTreeSet<Role>,
    /// When registered.
    pub created_at: i64,
    /// When revoked, if revoked.
    pub revoked_at: Option<i64>,
}

/// A certificate to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    /// Serial number in hex, any case, leading zeros and `:` separators allowed; kept as given
    /// and, for search and uniqueness, also in a normalised form (lowercase, no leading zeros).
    pub serial_hex: String,
    /// Subject distinguished name, as text.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// Validity start, Unix seconds.
    pub not_before: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Certificate procedure that issued it.
    pub certificate_procedure: String,
    /// Token procedure it was issued for.
    pub token_procedure: String,
    /// Where its key comes from: `local` (RA), `server`, `archived` or `recovered`.
    pub key_origin: String,
    /// Key usage definition, as text.
    pub key_usage: String,
    /// Name of the issuing officer.
    pub officer: String,
    /// E-mail field (rfc822Name), if any.
    pub email: Option<String>,
    /// The key certified, to archive with this certificate, if the server generated it for the
    /// key archive; `None` for a key that is not archived (or was archived before).
    pub archived_key: Option<NewArchivedKey>,
    /// An attribute certificate whose holder is this certificate, recorded with it.
    pub attribute_certificate: Option<NewAttributeCertificate>,
    /// For a new certificate of a recovered key: the Certificate ID the key was archived with
    /// (whose `archived_keys` row holds it).
    pub recovered_from: Option<i64>,
}

/// An attribute certificate (RFC 5755) to record with its holder certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAttributeCertificate {
    /// Serial number, hex.
    pub serial_hex: String,
    /// The attribute-certificate procedure.
    pub procedure: String,
    /// Validity start, Unix seconds.
    pub not_before: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// The attribute certificate, DER.
    pub der: Vec<u8>,
}

/// A recorded attribute certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredAttributeCertificate {
    /// Row ID.
    pub id: i64,
    /// Certificate ID of its holder certificate.
    pub holder_certificate_id: i64,
    /// Serial number, hex.
    pub serial_hex: String,
    /// The attribute-certificate procedure.
    pub procedure: String,
    /// Validity start, Unix seconds.
    pub not_before: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// The attribute certificate, DER.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// When it was recorded, Unix seconds.
    pub issued_at: i64,
}

/// A recorded certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredCertificate {
    /// Certificate ID: assigned by the database, never reused.
    pub id: i64,
    /// Serial number in hex, as given when recorded.
    pub serial_hex: String,
    /// Subject.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// Validity start, Unix seconds.
    pub not_before: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// The certificate, DER (left out of JSON output).
    #[serde(skip)]
    pub der: Vec<u8>,
    /// Certificate procedure.
    pub certificate_procedure: String,
    /// Token procedure.
    pub token_procedure: String,
    /// `local`, `server`, `archived` or `recovered`.
    pub key_origin: String,
    /// Key usage definition.
    pub key_usage: String,
    /// Name of the issuing officer.
    pub officer: String,
    /// E-mail field.
    pub email: Option<String>,
    /// When recorded, Unix seconds.
    pub issued_at: i64,
    /// For a new certificate of a recovered key: the Certificate ID the key was archived with;
    /// `None` otherwise, and for recoveries recorded before migration 0016.
    pub recovered_from: Option<i64>,
    /// Its revocation row, if it has one (searches fill it in; a certificate just recorded has
    /// none). See [`StoredCertificate::status`].
    pub revocation: Option<crate::Revocation>,
}

impl StoredCertificate {
    /// Valid, revoked, on hold or expired, at `now` (Unix seconds).
    pub fn status(&self, now: i64) -> crate::CertificateStatus {
        crate::CertificateStatus::of(self.not_after, self.revocation.as_ref(), now)
    }
}

/// Certificate search criteria; those given are ANDed, results come ordered by Certificate ID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateQuery {
    /// Certificate ID.
    pub id: Option<i64>,
    /// Serial number, hex: any case, leading zeros and `:` separators ignored.
    pub serial_hex: Option<String>,
    /// Case-insensitive substring of the subject.
    pub subject: Option<String>,
    /// The whole subject, compared case-insensitively (through the `certificates_subject_lower`
    /// index: a whole DN as a substring makes the trigram index intersect the long lists of
    /// trigrams every subject shares).
    pub subject_exact: Option<String>,
    /// Only certificates with this status now.
    pub status: Option<crate::StatusFilter>,
    /// At most this many rows: default 100, clamped to 1..=1000.
    pub limit: Option<i64>,
}

/// A key to archive with the certificate issued for it. The KRA has sealed it already: the store
/// never sees the key in clear and treats `sealed` as opaque bytes.
///
/// `Debug` shows the length of `sealed`, never its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct NewArchivedKey {
    /// The archive key procedure.
    pub key_procedure: String,
    /// Key spec, e.g. `RSA:2048`.
    pub key_spec: String,
    /// Key usage definition, as text: the same text as the certificate's `key_usage`.
    pub key_usage: String,
    /// Which archive key (KEK) wrapped it.
    pub kek_id: String,
    /// The KRA's envelope (must not be empty).
    pub sealed: Vec<u8>,
}

impl fmt::Debug for NewArchivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewArchivedKey")
            .field("key_procedure", &self.key_procedure)
            .field("key_spec", &self.key_spec)
            .field("key_usage", &self.key_usage)
            .field("kek_id", &self.kek_id)
            .field("sealed", &SealedLen(self.sealed.len()))
            .finish()
    }
}

/// An archived key with the certificate issued when it was created.
///
/// `Debug` shows the length of `sealed`, never its bytes; JSON output leaves `sealed` out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ArchivedKey {
    /// Row ID.
    pub id: i64,
    /// The certificate issued when the key was created.
    pub certificate: StoredCertificate,
    /// The archive key procedure.
    pub key_procedure: String,
    /// Key spec, e.g. `RSA:2048`.
    pub key_spec: String,
    /// Key usage definition, as text (the certificate's).
    pub key_usage: String,
    /// Which archive key (KEK) wrapped it.
    pub kek_id: String,
    /// The KRA's envelope, as recorded (left out of JSON output).
    #[serde(skip)]
    pub sealed: Vec<u8>,
    /// When archived, Unix seconds (the certificate's `issued_at`).
    pub archived_at: i64,
}

impl fmt::Debug for ArchivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchivedKey")
            .field("id", &self.id)
            .field("certificate", &self.certificate)
            .field("key_procedure", &self.key_procedure)
            .field("key_spec", &self.key_spec)
            .field("key_usage", &self.key_usage)
            .field("kek_id", &self.kek_id)
            .field("sealed", &SealedLen(self.sealed.len()))
            .field("archived_at", &self.archived_at)
            .finish()
    }
}

/// Debug stand-in for a sealed envelope: its length only.
pub(crate) struct SealedLen(pub(crate) usize);

impl fmt::Debug for SealedLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

/// Archived-key search criteria. Those given are ANDed and refer to the certificate issued when
/// the key was created; results come ordered by Certificate ID, ascending (the last is the
/// newest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchivedKeyQuery {
    /// Certificate ID.
    pub certificate_id: Option<i64>,
    /// Serial number, hex: any case, leading zeros and `:` separators ignored.
    pub serial_hex: Option<String>,
    /// Case-insensitive substring of the subject.
    pub subject: Option<String>,
    /// The whole subject, compared case-insensitively.
    pub subject_exact: Option<String>,
    /// Key usage definition, exact text.
    pub key_usage: Option<String>,
    /// Only keys whose certificate has this status now.
    pub status: Option<crate::StatusFilter>,
    /// At most this many rows: default 100, clamped to 1..=1000.
    pub limit: Option<i64>,
}

/// Audit record categories (the request-log categories of the seed product), stored as
/// kebab-case text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditCategory {
    /// Certificates issued (and refused issuance).
    CertificatesIssued,
    /// Certificates revoked.
    CertificatesRevoked,
    /// Keys archived.
    KeysArchived,
    /// Keys recovered.
    KeysRecovered,
    /// Officers, procedures, configuration.
    Administration,
    /// Officer authentication and request signatures.
    Authentication,
    /// PIN letters created and used, PIN mail queued and delivered.
    PinDistribution,
}

impl AuditCategory {
    const ALL: [AuditCategory; 7] = [
        AuditCategory::CertificatesIssued,
        AuditCategory::CertificatesRevoked,
        AuditCategory::KeysArchived,
        AuditCategory::KeysRecovered,
        AuditCategory::Administration,
        AuditCategory::Authentication,
        AuditCategory::PinDistribution,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditCategory::CertificatesIssued => "certificates-issued",
            AuditCategory::CertificatesRevoked => "certificates-revoked",
            AuditCategory::KeysArchived => "keys-archived",
            AuditCategory::KeysRecovered => "keys-recovered",
            AuditCategory::Administration => "administration",
            AuditCategory::Authentication => "authentication",
            AuditCategory::PinDistribution => "pin-distribution",
        }
    }
}

impl fmt::Display for AuditCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditCategory {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditCategory::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown audit category {s:?}"))
    }
}

/// Success or refusal, stored as `success` / `failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Done.
    Success,
    /// Refused or failed.
    Failure,
}

impl Outcome {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(Outcome::Success),
            "failure" => Ok(Outcome::Failure),
            _ => Err(format!("unknown outcome {s:?}")),
        }
    }
}

/// An audit record to append. `detail` must hold no secret (no key, no PIN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAudit {
    /// Category.
    pub category: AuditCategory,
    /// What was attempted (`issue-token`, `create-officer`, …).
    pub action: String,
    /// Acting officer's name, if known.
    pub officer: Option<String>,
    /// Outcome.
    pub outcome: Outcome,
    /// Object acted on (Certificate IDs, officer name, …).
    pub object: Option<String>,
    /// Details (JSON).
    pub detail: serde_json::Value,
}

/// An audit record as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Sequence number (increasing).
    pub id: i64,
    /// When appended, Unix seconds.
    pub at: i64,
    /// Category.
    pub category: AuditCategory,
    /// Action.
    pub action: String,
    /// Acting officer.
    pub officer: Option<String>,
    /// Outcome.
    pub outcome: Outcome,
    /// Object.
    pub object: Option<String>,
    /// Details.
    pub detail: serde_json::Value,
    /// The previous record's hash (lowercase hex; 64 zeros for the first record).
    #[serde(default)]
    pub prev_hash: Option<String>,
    /// This record's hash (see [`crate::audit_hash`]).
    #[serde(default)]
    pub hash: Option<String>,
}
