//! Keyward's OCSP responder library (RFC 6960, RFC 5019 profile).
//!
//! It holds only the delegated OCSP signing key (behind [`keyward_ca::Signer`]: software or
//! PKCS#11), never a CA key, and has no database code: certificate status comes from a
//! [`StatusSource`]. The pieces, in the order a request meets them:
//!
//! - [`decode_get_path`] (GET) or the POST body, then [`parse_request`] within [`Limits`];
//! - [`IssuerSet::locate`]: which of our issuing CAs a CertID names (`unknown` if none);
//! - [`StatusSource::status`] per entry ([`lookup`]);
//! - [`Responder::build_response`]: a BasicOCSPResponse signed by the delegated key, or
//!   [`error_response`] (unsigned);
//! - [`CacheFacts`] and [`ResponseCache`] for RFC 5019 caching.
//!
//! [`Context::respond`] strings them together for the HTTP layer.
#![forbid(unsafe_code)]

pub mod asn1;
mod cache;
mod error;
mod get;
mod issuer;
mod request;
mod respond;
mod response;
mod status;

pub use asn1::ResponseStatus;
pub use cache::{http_date, CacheFacts, CacheSettings, ResponseCache};
pub use error::OcspError;
pub use get::{decode_get_path, MAX_GET_SEGMENT_CHARS};
pub use issuer::{HashAlg, IssuerSet};
pub use request::{parse_request, Limits, ParsedRequest, RequestEntry, Serial, MAX_NONCE_BYTES};
pub use respond::{Context, Reply};
pub use response::{error_response, Responder, ResponseSettings, SignedResponse};
pub use status::{lookup, CertStatusAnswer, StatusSource};
