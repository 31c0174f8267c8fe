//! The RFC 6960 ASN.1 structures (module OCSP-2013-88, EXPLICIT TAGS), as `der` 0.8 derive
//! types on top of `x509-cert` 0.3's Name, AlgorithmIdentifier, Extensions and Certificate.
//!
//! Written here because `x509-ocsp` 0.2 is on the older der 0.7 / x509-cert 0.2 stack.

mod request;
mod response;

pub use request::{CertId, OcspRequest, Request, RequestSignature, TbsRequest};
pub use response::{
    BasicOcspResponse, CertStatus, OcspResponse, ResponderId, ResponseBytes, ResponseData,
    ResponseStatus, RevokedInfo, SingleResponse,
};

use der::asn1::ObjectIdentifier;

/// id-pkix-ocsp-basic: the only response type we produce.
pub const ID_PKIX_OCSP_BASIC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-pkix-ocsp-nonce (RFC 8954).
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-pkix-ocsp-nocheck: marks a delegated responder certificate that relying parties do not
/// check for revocation.
pub const ID_PKIX_OCSP_NOCHECK: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");
/// id-kp-OCSPSigning: the extended key usage of a delegated responder certificate.
pub const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
/// id-ce-extKeyUsage.
pub const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");

/// The only OCSP version there is: `Version ::= INTEGER { v1(0) }`.
pub const V1: u8 = 0;

#[cfg(test)]
mod tests;
