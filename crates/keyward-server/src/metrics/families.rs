//! The label sets of the metric families, each bounded: route templates of the router, HTTP
//! status codes, token procedures of the loaded procedure set, the API's fixed error codes, a
//! fixed list of handshake failure causes and of database operations, and configured key specs.

use prometheus_client::encoding::EncodeLabelSet;

/// The route label of a request no route matched: never the raw URI, which a client chooses.
pub const UNMATCHED: &str = "unmatched";

/// The procedure label when no token procedure of the loaded set was named (not yet read, or
/// a name the set does not have): a client's text never becomes a label.
pub const UNKNOWN_PROCEDURE: &str = "unknown";

/// The API's error codes (`ApiError::code`), the reasons a token may be refused with; any
/// other code counts as `other`.
pub const REFUSAL_REASONS: &[&str] = &[
    "unauthenticated",
    "forbidden",
    "bad-signature",
    "invalid",
    "unsupported-media-type",
    "not-found",
    "conflict",
    "approval-required",
    "unsupported",
    "internal",
    "too-large",
    "timeout",
];

/// The reason label of `code`: itself when it is one of [`REFUSAL_REASONS`], else `other`.
pub(crate) fn refusal_reason(code: &str) -> &'static str {
    REFUSAL_REASONS
        .iter()
        .find(|r| **r == code)
        .copied()
        .unwrap_or("other")
}

/// Why a TLS handshake on the API listener failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeFailure {
    /// The client sent no certificate.
    NoCertificate,
    /// The client certificate does not verify (unknown issuer, expired, no clientAuth, ...).
    BadCertificate,
    /// The certificate verifies but is not an officer's.
    NotAnOfficer,
    /// The handshake did not finish within `server.header-timeout`.
    Timeout,
    /// Anything else (not TLS, no shared version or cipher suite, closed half-way).
    Other,
}

impl HandshakeFailure {
    /// Every cause, for registering the families with zeros.
    pub const ALL: [HandshakeFailure; 5] = [
        HandshakeFailure::NoCertificate,
        HandshakeFailure::BadCertificate,
        HandshakeFailure::NotAnOfficer,
        HandshakeFailure::Timeout,
        HandshakeFailure::Other,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            HandshakeFailure::NoCertificate => "no-certificate",
            HandshakeFailure::BadCertificate => "bad-certificate",
            HandshakeFailure::NotAnOfficer => "not-an-officer",
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Other => "other",
        }
    }
}

/// A database transaction (or single statement) the server times, named by what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DbOperation {
    /// Reading the procedure set in force, at the start of every issuance.
    ReadProcedures,
    /// Recording an issued token: certificates, archived keys, answer and audit records.
    RecordIssuance,
    /// Remembering a signed request's nonce (and finding replays).
    CheckNonce,
    /// Writing the audit record of a refused request.
    AuditRefusal,
}

impl DbOperation {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            DbOperation::ReadProcedures => "read-procedures",
            DbOperation::RecordIssuance => "record-issuance",
            DbOperation::CheckNonce => "check-nonce",
            DbOperation::AuditRefusal => "audit-refusal",
        }
    }
}

/// `route` (the router's path template, or [`UNMATCHED`]) and `status` (the HTTP code).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) route: String,
    pub(crate) status: u16,
}

/// `procedure`: a token procedure of the loaded set, or [`UNKNOWN_PROCEDURE`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ProcedureLabels {
    pub(crate) procedure: String,
}

/// `procedure` and `reason` (one of [`REFUSAL_REASONS`] or `other`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RefusalLabels {
    pub(crate) procedure: String,
    pub(crate) reason: &'static str,
}

/// `kind`: `full` or `delta` (a CRL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct KindLabels {
    pub(crate) kind: &'static str,
}

/// `cause`: a [`HandshakeFailure`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct CauseLabels {
    pub(crate) cause: &'static str,
}

/// `operation`: a [`DbOperation`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct OperationLabels {
    pub(crate) operation: &'static str,
}

/// `spec`: a key spec of cm.conf's `kra.key-pool`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct SpecLabels {
    pub(crate) spec: String,
}

/// Upper bounds of the issuance latency buckets, in seconds: an EC token takes milliseconds,
/// an RSA-4096 server key seconds.
pub(crate) const ISSUANCE_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Upper bounds of the database latency buckets, in seconds (a SQLite commit with fsync is
/// about a millisecond; PostgreSQL over loopback a little more).
pub(crate) const DB_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
