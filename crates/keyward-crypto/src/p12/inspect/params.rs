//! The parameters of password-based algorithms (RFC 8018, RFC 7292, RFC 7914, RFC 9579) as
//! `der` types.

use der::asn1::{Any, OctetString};
use der::Sequence;

use super::asn1::AlgId;

/// `PBES2-params` (RFC 8018).
#[derive(Sequence)]
pub(super) struct Pbes2Params {
    pub(super) kdf: AlgId,
    pub(super) encryption_scheme: AlgId,
}

/// `PBKDF2-params` (RFC 8018): the salt is `specified` (OCTET STRING) or `otherSource`.
#[derive(Sequence)]
pub(super) struct Pbkdf2Params {
    pub(super) salt: Any,
    pub(super) iteration_count: u64,
    pub(super) key_length: Option<u64>,
    pub(super) prf: Option<AlgId>,
}

/// `PBMAC1-params` (RFC 8018, in PKCS#12 by RFC 9579).
#[derive(Sequence)]
pub(super) struct Pbmac1Params {
    pub(super) kdf: AlgId,
    pub(super) message_auth_scheme: AlgId,
}

/// `pkcs-12PbeParams` and PKCS#5 v1.5 `PBEParameter` (same shape).
#[derive(Sequence)]
pub(super) struct PbeParams {
    pub(super) salt: OctetString,
    pub(super) iterations: u64,
}

/// `scrypt-params` (RFC 7914).
#[derive(Sequence)]
pub(super) struct ScryptParams {
    pub(super) salt: OctetString,
    pub(super) cost: u64,
    pub(super) block_size: u64,
    pub(super) parallelization: u64,
    pub(super) key_length: Option<u64>,
}
