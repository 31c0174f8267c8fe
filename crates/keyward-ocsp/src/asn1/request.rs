//! OCSPRequest and its parts (RFC 6960 §4.1.1).

use der::asn1::{Any, BitString, Int, OctetString};
use der::Sequence;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::Extensions;
use x509_cert::AlgorithmIdentifier;

/// ```text
/// OCSPRequest ::= SEQUENCE {
///     tbsRequest                  TBSRequest,
///     optionalSignature   [0]     EXPLICIT Signature OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct OcspRequest {
    /// The request proper.
    pub tbs_request: TbsRequest,
    /// A requestor's signature: parsed so that signed requests are accepted, never checked
    /// (we answer anyone; RFC 6960 leaves requestor authentication to the responder's policy).
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub optional_signature: Option<RequestSignature>,
}

/// ```text
/// TBSRequest ::= SEQUENCE {
///     version             [0]     EXPLICIT Version DEFAULT v1,
///     requestorName       [1]     EXPLICIT GeneralName OPTIONAL,
///     requestList                 SEQUENCE OF Request,
///     requestExtensions   [2]     EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TbsRequest {
    /// Kept as a plain integer so that a wrong version is reported as such, not as bad DER.
    #[asn1(
        context_specific = "0",
        tag_mode = "EXPLICIT",
        default = "Default::default"
    )]
    pub version: u8,
    /// Who asks (ignored).
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    pub requestor_name: Option<GeneralName>,
    /// One entry per certificate asked about.
    pub request_list: Vec<Request>,
    /// The nonce and anything else.
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    pub request_extensions: Option<Extensions>,
}

/// ```text
/// Signature ::= SEQUENCE {
///     signatureAlgorithm      AlgorithmIdentifier,
///     signature               BIT STRING,
///     certs               [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
/// ```
/// The certificates stay undecoded (`Any`): they are ignored, and a full certificate parser is
/// attack surface that buys nothing here.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct RequestSignature {
    /// The requestor's signature algorithm.
    pub signature_algorithm: AlgorithmIdentifier,
    /// The requestor's signature.
    pub signature: BitString,
    /// The requestor's certificates.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub certs: Option<Vec<Any>>,
}

/// ```text
/// Request ::= SEQUENCE {
///     reqCert                     CertID,
///     singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Request {
    /// The certificate asked about.
    pub req_cert: CertId,
    /// Per-entry extensions (none is supported; non-critical ones are ignored).
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub single_request_extensions: Option<Extensions>,
}

/// ```text
/// CertID ::= SEQUENCE {
///     hashAlgorithm           AlgorithmIdentifier,
///     issuerNameHash          OCTET STRING, -- Hash of issuer's DN
///     issuerKeyHash           OCTET STRING, -- Hash of issuer's public key
///     serialNumber            CertificateSerialNumber }
/// ```
/// The serial is a plain INTEGER here (not x509-cert's `SerialNumber`) so that its length
/// limit is ours to check and to report.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct CertId {
    /// The hash of issuerNameHash and issuerKeyHash.
    pub hash_algorithm: AlgorithmIdentifier,
    /// Hash of the DER of the issuer's subject Name.
    pub issuer_name_hash: OctetString,
    /// Hash of the issuer's subjectPublicKey BIT STRING value.
    pub issuer_key_hash: OctetString,
    /// The certificate's serial number.
    pub serial_number: Int,
}
