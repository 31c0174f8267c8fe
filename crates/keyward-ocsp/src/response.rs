//! Building responses: BasicOCSPResponse signed by the delegated responder key through a
//! [`Signer`], and unsigned error responses.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::asn1::{BitString, GeneralizedTime, Null, OctetString};
use der::{Decode, Encode};
use keyward_ca::Signer;
use keyward_policy::RevocationReason;
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::ext::Extension;
use x509_cert::{AlgorithmIdentifier, Certificate};

use crate::asn1::{
    BasicOcspResponse, CertId, CertStatus, OcspResponse, ResponderId, ResponseBytes, ResponseData,
    ResponseStatus, RevokedInfo, SingleResponse, ID_CE_EXT_KEY_USAGE, ID_KP_OCSP_SIGNING,
    ID_PKIX_OCSP_BASIC, V1,
};
use crate::issuer::HashAlg;
use crate::request::ParsedRequest;
use crate::status::CertStatusAnswer;
use crate::OcspError;

/// How long answers are good for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ResponseSettings {
    /// nextUpdate − thisUpdate of every entry (and the HTTP cache lifetime it implies).
    pub validity: Duration,
}

impl Default for ResponseSettings {
    fn default() -> Self {
        // An hour: short enough that a revocation missed by cache invalidation (another node)
        // does not live long in relying parties' caches; long enough for RFC 5019 caching.
        ResponseSettings {
            validity: Duration::from_secs(3600),
        }
    }
}

/// A signed successful response and the times in it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SignedResponse {
    /// The DER OCSPResponse.
    pub der: Vec<u8>,
    /// producedAt (whole seconds).
    pub produced_at: SystemTime,
    /// thisUpdate of every entry.
    pub this_update: SystemTime,
    /// nextUpdate of every entry.
    pub next_update: SystemTime,
    /// Whether a nonce was echoed (then the response must not be cached).
    pub has_nonce: bool,
}

/// The delegated OCSP signing key and its certificate: the only secret the responder holds.
pub struct Responder {
    signer: Box<dyn Signer>,
    cert: Certificate,
    key_hash: Vec<u8>,
    settings: ResponseSettings,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Responder(key {})", hex::encode(&self.key_hash))
    }
}

impl Responder {
    /// A responder for the delegated certificate `cert_der` (DER) whose key `signer` holds.
    /// Refused when the certificate's key is not the signer's, or the certificate lacks the
    /// id-kp-OCSPSigning extended key usage (clients would reject every response).
    pub fn new(
        cert_der: &[u8],
        signer: Box<dyn Signer>,
        settings: ResponseSettings,
    ) -> Result<Responder, OcspError> {
        let cert = Certificate::from_der(cert_der)
            .map_err(|e| OcspError::responder("responder certificate", e))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| OcspError::responder("responder certificate", e))?;
        let signer_key = signer
            .public_key_der()
            .map_err(|e| OcspError::responder("responder key", e))?;
        if spki != signer_key {
            return Err(OcspError::responder(
                "responder certificate",
                "its public key is not the signing key's",
            ));
        }
        let ocsp_signing = tbs
            .extensions()
            .into_iter()
            .flatten()
            .filter(|e| e.extn_id == ID_CE_EXT_KEY_USAGE)
            .filter_map(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
            .any(|eku| eku.0.contains(&ID_KP_OCSP_SIGNING));
        if !ocsp_signing {
            return Err(OcspError::responder(
                "responder certificate",
                "no extendedKeyUsage id-kp-OCSPSigning",
            ));
        }
        let bits = tbs.subject_public_key_info().subject_public_key.raw_bytes();
        let key_hash = HashAlg::Sha1.digest(bits)?;
        Ok(Responder {
            signer,
            cert,
            key_hash,
            settings,
        })
    }

    /// The responderID byKey value: SHA-1 of the certificate's subjectPublicKey bits.
    pub fn key_hash(&self) -> &[u8] {
        &self.key_hash
    }

    /// When the delegated certificate expires (renewal is due well before: RFC 6960 §4.2.2.2.1
    /// wants responder certificates short-lived).
    pub fn certificate_not_after(&self) -> SystemTime {
        self.cert
            .tbs_certificate()
            .validity()
            .not_after
            .to_system_time()
    }

    /// The validity settings.
    pub fn settings(&self) -> ResponseSettings {
        self.settings
    }

    /// The signed answer to `request`, one SingleResponse per entry with `answers[i]` (from
    /// [`crate::lookup`]), the nonce echoed when sent, the responder certificate in `certs`.
    pub fn build_response(
        &self,
        request: &ParsedRequest,
        answers: &[CertStatusAnswer],
        now: SystemTime,
    ) -> Result<SignedResponse, OcspError> {
        if answers.len() != request.entries.len() {
            return Err(OcspError::responder(
                "answers",
                format!(
                    "{} answers for {} entries",
                    answers.len(),
                    request.entries.len()
                ),
            ));
        }
        let entries: Vec<(CertId, CertStatusAnswer)> = request
            .entries
            .iter()
            .map(|e| e.cert_id.clone())
            .zip(answers.iter().copied())
            .collect();
        self.sign_entries(entries, request.nonce.clone(), now)
    }

    /// Signs a response for `entries` (CertID as the client sends it, status), with `nonce`
    /// echoed. Pre-signing for the cache uses this with CertIDs made by
    /// [`crate::IssuerSet::cert_id`].
    pub fn sign_entries(
        &self,
        entries: Vec<(CertId, CertStatusAnswer)>,
        nonce: Option<Extension>,
        now: SystemTime,
    ) -> Result<SignedResponse, OcspError> {
        let produced = whole_seconds(now)?;
        let next = produced
            .checked_add(self.settings.validity)
            .ok_or_else(|| OcspError::responder("validity", "nextUpdate out of range"))?;
        let produced_at = generalized(produced)?;
        let next_update = generalized(next)?;
        let mut responses = Vec::with_capacity(entries.len());
        for (cert_id, answer) in entries {
            responses.push(SingleResponse {
                cert_id,
                cert_status: cert_status(answer)?,
                this_update: produced_at,
                next_update: Some(next_update),
                single_extensions: None,
            });
        }
        let has_nonce = nonce.is_some();
        let data = ResponseData {
            version: V1,
            responder_id: ResponderId::ByKey(
                OctetString::new(self.key_hash.clone())
                    .map_err(|e| OcspError::responder("responderID", e))?,
            ),
            produced_at,
            responses,
            response_extensions: nonce.map(|n| vec![n]),
        };
        let tbs = data
            .to_der()
            .map_err(|e| OcspError::responder("tbsResponseData", e))?;
        let (alg, signature) = self
            .signer
            .sign_data(&tbs)
            .map_err(|e| OcspError::responder("signature", e))?;
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: AlgorithmIdentifier::from_der(&alg)
                .map_err(|e| OcspError::responder("signatureAlgorithm", e))?,
            signature: BitString::from_bytes(&signature)
                .map_err(|e| OcspError::responder("signature", e))?,
            certs: Some(vec![self.cert.clone()]),
        };
        let basic_der = basic
            .to_der()
            .map_err(|e| OcspError::responder("BasicOCSPResponse", e))?;
        let response = OcspResponse {
            response_status: ResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: ID_PKIX_OCSP_BASIC,
                response: OctetString::new(basic_der)
                    .map_err(|e| OcspError::responder("responseBytes", e))?,
            }),
        };
        Ok(SignedResponse {
            der: response
                .to_der()
                .map_err(|e| OcspError::responder("OCSPResponse", e))?,
            produced_at: produced,
            this_update: produced,
            next_update: next,
            has_nonce,
        })
    }
}

/// An unsigned error response (RFC 6960 §2.3: no responseBytes). `Successful` is not an error
/// and is answered `internalError`.
pub fn error_response(status: ResponseStatus) -> Vec<u8> {
    let status = match status {
        ResponseStatus::Successful => ResponseStatus::InternalError,
        other => other,
    };
    // A SEQUENCE holding one ENUMERATED: 30 03 0a 01 NN, written out so that it cannot fail.
    vec![0x30, 0x03, 0x0a, 0x01, status as u8]
}

fn cert_status(answer: CertStatusAnswer) -> Result<CertStatus, OcspError> {
    Ok(match answer {
        CertStatusAnswer::Good => CertStatus::Good(Null),
        CertStatusAnswer::Unknown => CertStatus::Unknown(Null),
        CertStatusAnswer::Revoked { at, reason } => CertStatus::Revoked(RevokedInfo {
            revocation_time: generalized(whole_seconds(at)?)?,
            revocation_reason: crl_reason(reason),
        }),
    })
}

/// The CRLReason for `reason`; none for `unspecified` (RFC 5280 §5.3.1).
fn crl_reason(reason: RevocationReason) -> Option<CrlReason> {
    (reason != RevocationReason::Unspecified).then(|| keyward_ca::crl_reason(reason))
}

/// `t` without its fraction of a second (DER GeneralizedTime has none).
fn whole_seconds(t: SystemTime) -> Result<SystemTime, OcspError> {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| OcspError::responder("time", "before 1970"))?
        .as_secs();
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

fn generalized(t: SystemTime) -> Result<GeneralizedTime, OcspError> {
    GeneralizedTime::from_system_time(t).map_err(|e| OcspError::responder("time", e))
}
