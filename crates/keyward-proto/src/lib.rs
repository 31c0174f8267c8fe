//! The wire format between the RA client and the server.
//!
//! Reads are plain HTTPS GETs authenticated by the officer's TLS client certificate. Every
//! state-changing request is a POST whose exact body bytes the officer signs: the signature over
//! [`signed_message`] travels in the [`SIGNATURE_HEADER`] header, made with the key of the same
//! officer certificate that authenticated the TLS connection. Signed requests are sent as
//! `application/json` and refuse unknown fields, at the top level as in nested objects: a field
//! a client adds is never silently dropped.

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use keyward_policy::procedure::ResolvedToken;
use keyward_policy::{AltNames, QcStatements};

/// One archived key picked by the officer (defined with the content check that reads it).
pub use keyward_policy::KeySelection;

mod approvals;
pub mod b64;
mod pins;
mod reports;
mod revocations;

pub use approvals::{ApprovalInfo, ApprovalVote};
pub use reports::{
    UndeliveredRecorded, UndeliveredToken, MAX_UNDELIVERED_IDS, MAX_UNDELIVERED_REASON_CHARS,
    UNDELIVERED_PATH,
};
pub use revocations::{
    RevocationInfo, RevokeRequest, RevokedByRecovery, StatusInfo, UnholdRequest, REVOKE_PATH,
    STATUSES, UNHOLD_PATH,
};

pub use pins::{
    CreatePinLetters, DeliverPinMail, PinDeliveryInfo, PinLetterBatch, PinLetterInfo,
    PinLetterSecret, PinMailDelivery, PinMailIds, PinMailInfo, PinMailSecret, VoidPinLetter,
    PIN_LETTERS_CONTEXT, PIN_MAIL_PRINT_CONTEXT, TOKEN_PIN_CONTEXT,
};

/// API version prefix of every path.
pub const API_PREFIX: &str = "/v1";
/// Header carrying the base64 officer signature of a POST.
pub const SIGNATURE_HEADER: &str = "keyward-signature";
/// Largest request body the server reads.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// How far a request timestamp may be from the server clock, in seconds.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// Path of `POST` [`IssueRequest`].
pub const TOKENS_PATH: &str = "/v1/tokens";

/// The path PIN/PUK letter batches are created at (idempotent, see [`is_idempotent`]).
pub const PIN_LETTERS_PATH: &str = "/v1/pin-letters";

/// The path a PIN/PUK letter is voided at ([`VoidPinLetter`]).
pub const PIN_LETTERS_VOID_PATH: &str = "/v1/pin-letters/void";

/// The path approval votes are cast at (idempotent, see [`is_idempotent`]).
pub const APPROVAL_VOTE_PATH: &str = "/v1/approvals/vote";

/// Whether `POST path` is idempotent: its request ID is recorded with the result, in the
/// transaction of the change, and a resend of the very same signed bytes is answered with the
/// first attempt's result (or, if that attempt never completed, carried out once). A client may
/// therefore resend such a request after any transport failure; any other request only when it
/// was certainly not sent (the connection could not be made).
pub fn is_idempotent(path: &str) -> bool {
    [
        TOKENS_PATH,
        PIN_LETTERS_PATH,
        APPROVAL_VOTE_PATH,
        REVOKE_PATH,
        UNHOLD_PATH,
    ]
    .contains(&path)
}

/// The bytes an officer signs for a POST to `path` with `body`: a domain-separation label, the
/// path, and the body, so a signature cannot be replayed against another endpoint.
pub fn signed_message(path: &str, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(32 + path.len() + body.len());
    msg.extend_from_slice(b"keyward-request-v1\n");
    msg.extend_from_slice(path.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(body);
    msg
}

/// `GET /v1/config`: what the server tells the RA.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RaConfig {
    /// `client.ra-key-generation` of cm.conf, in its own syntax.
    pub ra_key_generation: String,
    /// Server version.
    pub server_version: String,
}

/// `GET /v1/procedures?filter=`: token procedures with everything they name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcedureList {
    /// Token procedures, by name (each as the procedures configuration resolves it: the token
    /// procedure with its certificate, key, PIN and PKCS#12 procedures).
    pub token_procedures: Vec<ResolvedToken>,
}

/// `GET /v1/whoami`: the authenticated officer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    /// Officer name.
    pub name: String,
    /// Roles held.
    pub roles: Vec<String>,
}

/// One CSR in an issue request: a key the RA generated for a certificate procedure.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CsrEntry {
    /// The certificate procedure it is for.
    pub certificate_procedure: String,
    /// PKCS#10 DER.
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub csr: Vec<u8>,
}

/// `POST /v1/tokens`: issue one soft token. Idempotent ([`is_idempotent`]): a retry with the
/// same request ID and the same bytes gets the same answer, never a second token; the same
/// request ID with other bytes is refused (409, field `request_id`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssueRequest {
    /// Random ID chosen by the RA (retries carry the same ID): 1 to 64 printable ASCII
    /// characters.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub request_id: String,
    /// Unix seconds at the RA when signing.
    pub timestamp: i64,
    /// Random per request: 16 to 64 printable ASCII characters, used once.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{16,64}$"))]
    pub nonce: String,
    /// Token procedure name.
    pub token_procedure: String,
    /// Subject DN as typed.
    pub subject: String,
    /// E-mail field.
    #[serde(default)]
    pub email: Option<String>,
    /// The key spec the officer chose for RA-generated keys (one the server's
    /// `client.ra-key-generation` offers).
    #[cfg_attr(feature = "openapi", schema(value_type = keyward_policy::KeySpec))]
    pub key_spec: String,
    /// One CSR per RA-local key of the token plan.
    pub csrs: Vec<CsrEntry>,
    /// The RA's one-time P-256 transport key (SubjectPublicKeyInfo DER): every key the server
    /// generates or recovers for this token comes back sealed to it. Required when the token
    /// plan has server-side keys.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "b64::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, content_encoding = "base64"))]
    pub transport_key: Option<Vec<u8>>,
    /// Archived keys the officer picked by hand (Select Archived Key); empty: the server
    /// searches with the subject entered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recover: Vec<KeySelection>,
    /// PIN procedure `letter`: the ID of the PIN/PUK letter whose PIN seals the token, as
    /// printed: with its check digits (`100002-16`); the bare number only for a letter printed
    /// without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_letter: Option<String>,
    /// PIN procedure `email`: the PIN mailer address (an e-mail address, or, when the PIN
    /// procedure prints, the postal address: up to 6 lines joined by `\n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_mailer_address: Option<String>,
    /// An approved recovery request (decimal ID) for token procedures that need approvals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// QC statements the officer adds to the certificates (each certificate procedure of the
    /// token must allow every kind given; a procedure's own statements cannot be overridden).
    #[serde(default, skip_serializing_if = "QcStatements::is_empty")]
    pub qc_statements: QcStatements,
    /// DNS names and IP addresses for the subjectAltName, where the certificate procedures
    /// allow them.
    #[serde(default, skip_serializing_if = "AltNames::is_empty")]
    pub alt_names: AltNames,
}

/// A private key sealed to the RA's transport key (see `keyward_crypto::transport`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealedKey {
    /// The server's ephemeral P-256 public key, SubjectPublicKeyInfo DER.
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub ephemeral_key: Vec<u8>,
    /// AES-256-GCM nonce.
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub nonce: Vec<u8>,
    /// Encrypted PKCS#8 DER and GCM tag.
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub ciphertext: Vec<u8>,
}

/// Where the key of an issued certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyOrigin {
    /// Generated by the RA.
    Local,
    /// Generated by the server, not archived.
    Server,
    /// Generated and archived by the server.
    Archived,
    /// Recovered from the archive.
    Recovered,
}

impl KeyOrigin {
    /// The name used in the database and in output.
    pub fn name(self) -> &'static str {
        match self {
            KeyOrigin::Local => "local",
            KeyOrigin::Server => "server",
            KeyOrigin::Archived => "archived",
            KeyOrigin::Recovered => "recovered",
        }
    }
}

/// One certificate of an issued token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedCertificate {
    /// Certificate ID (decimal string).
    pub certificate_id: String,
    /// Serial number, hex.
    pub serial: String,
    /// Subject as a string.
    pub subject: String,
    /// The certificate procedure.
    pub certificate_procedure: String,
    /// Where the key came from.
    pub key_origin: KeyOrigin,
    /// True when this is the certificate issued when a recovered key was archived (delivered
    /// again, not issued now).
    #[serde(default)]
    pub reused: bool,
    /// The certificate, DER.
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub certificate: Vec<u8>,
    /// The private key, sealed to the request's transport key, when the server generated or
    /// recovered it; `None` for RA-local keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_key: Option<SealedKey>,
}

/// Response to [`IssueRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssueResponse {
    /// The request ID it answers.
    pub request_id: String,
    /// Certificates, in the order of the token plan.
    pub certificates: Vec<IssuedCertificate>,
    /// CA certificates for the PKCS#12 (DER), issuing CA first, as the token procedure says.
    #[serde(with = "b64::vec")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub chain: Vec<Vec<u8>>,
    /// The token PIN sealed to the request's transport key (context [`TOKEN_PIN_CONTEXT`]),
    /// when the server chose it (PIN procedures `email` and `letter`). The RA seals the PKCS#12
    /// with it and never shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_pin: Option<SealedKey>,
    /// Where that PIN goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_delivery: Option<PinDeliveryInfo>,
    /// The attribute certificate issued with the token, when its procedure names one: never
    /// put in the PKCS#12 or the certificate file; the RA saves it apart (`--ac FILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_certificate: Option<IssuedAttributeCertificate>,
    /// The old certificates of the recovered keys that the recovery revoked (the recover key
    /// procedure's `revoke_old`), in the same transaction as the new certificates; empty when
    /// none was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<RevokedByRecovery>,
}

/// An attribute certificate (RFC 5755) issued with a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedAttributeCertificate {
    /// Its serial number, hex.
    pub serial: String,
    /// The attribute-certificate procedure.
    pub procedure: String,
    /// The Certificate ID of the public-key certificate it is bound to (its holder).
    pub holder_certificate_id: String,
    /// The attribute certificate, DER.
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub der: Vec<u8>,
}

/// `GET /v1/certificates?id=&serial=&subject=&status=&der=`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateInfo {
    /// Certificate ID (decimal string).
    pub certificate_id: String,
    /// Serial, hex.
    pub serial: String,
    /// Subject.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// Validity start, RFC 3339.
    pub not_before: String,
    /// Validity end, RFC 3339.
    pub not_after: String,
    /// Certificate procedure.
    pub certificate_procedure: String,
    /// Token procedure.
    pub token_procedure: String,
    /// Key origin.
    pub key_origin: String,
    /// Key usage definition.
    pub key_usage: String,
    /// Issuing officer.
    pub officer: String,
    /// Time of issue, RFC 3339.
    pub issued_at: String,
    /// The archived key this certificate's key is, by the Certificate ID it was archived with
    /// (as `GET /v1/archived-keys` names archived keys): its own ID for key origin `archived`,
    /// the recovered key's for a new certificate of a recovered key; absent for a key that is
    /// not archived (and for recoveries recorded before Keyward kept the link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_key_certificate_id: Option<String>,
    /// The certificate, DER: only when asked for (`der=true`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "b64::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, content_encoding = "base64"))]
    pub der: Option<Vec<u8>>,
    /// Its status now: valid, revoked, on hold or expired.
    #[serde(flatten)]
    pub status: StatusInfo,
}

/// `GET /v1/archived-keys?id=&serial=&subject=&status=`: one archived key, described by the
/// certificate issued when it was created.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArchivedKeyInfo {
    /// Certificate ID (decimal string) of that certificate.
    pub certificate_id: String,
    /// Its serial, hex.
    pub serial: String,
    /// Its subject.
    pub subject: String,
    /// Key usage definition.
    pub key_usage: String,
    /// The key's spec.
    pub key_spec: String,
    /// The archive key procedure.
    pub key_procedure: String,
    /// When archived, RFC 3339.
    pub archived_at: String,
    /// The certificate's validity end, RFC 3339.
    pub not_after: String,
    /// The certificate's status now: valid, revoked, on hold or expired.
    #[serde(flatten)]
    pub status: StatusInfo,
}

/// Every error the API returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// Stable machine code: `unauthenticated`, `forbidden`, `bad-signature`, `invalid`,
    /// `unsupported-media-type` (a POST body not sent as `application/json`), `not-found`,
    /// `conflict`, `approval-required`, `unsupported`, `internal`, `too-large` (413: a body over
    /// [`MAX_BODY_BYTES`]), `timeout` (408: a body not sent within the server's body timeout).
    pub code: String,
    /// The field at fault, when one is (`subject`, `CN`, `key_spec`, `token_procedure`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A sentence for the officer.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_requests_refuse_unknown_fields() {
        let issue = r#"{"request_id":"r","timestamp":1,"nonce":"n","token_procedure":"t",
            "subject":"CN=a","key_spec":"EC:secp256r1","csrs":[]"#;
        assert!(serde_json::from_str::<IssueRequest>(&format!("{issue}}}")).is_ok());
        for extra in [r#","admin":true}"#, r#","csrs2":[]}"#] {
            let e = serde_json::from_str::<IssueRequest>(&format!("{issue}{extra}")).unwrap_err();
            assert!(e.to_string().contains("unknown field"), "{e}");
        }
        let csr = r#"{"certificate_procedure":"p","csr":"","extra":1}"#;
        assert!(serde_json::from_str::<CsrEntry>(csr).is_err());
        let head = r#""request_id":"r","timestamp":1,"nonce":"n""#;
        let bodies = [
            format!(
                r#"{{{head},"pin_procedure":"p","first_id":"1","count":1,"transport_key":"","x":1}}"#
            ),
            format!(r#"{{{head},"limit":1,"transport_key":"","x":1}}"#),
            format!(r#"{{{head},"ids":[],"x":1}}"#),
            format!(r#"{{{head},"approval_id":"1","approve":true,"x":1}}"#),
        ];
        assert!(serde_json::from_str::<CreatePinLetters>(&bodies[0]).is_err());
        assert!(serde_json::from_str::<DeliverPinMail>(&bodies[1]).is_err());
        assert!(serde_json::from_str::<PinMailIds>(&bodies[2]).is_err());
        assert!(serde_json::from_str::<ApprovalVote>(&bodies[3]).is_err());
        let without = |b: &str| b.replace(r#","x":1"#, "");
        assert!(serde_json::from_str::<CreatePinLetters>(&without(&bodies[0])).is_ok());
        assert!(serde_json::from_str::<DeliverPinMail>(&without(&bodies[1])).is_ok());
        assert!(serde_json::from_str::<PinMailIds>(&without(&bodies[2])).is_ok());
        assert!(serde_json::from_str::<ApprovalVote>(&without(&bodies[3])).is_ok());
    }
}
