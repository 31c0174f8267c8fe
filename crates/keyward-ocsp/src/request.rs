//! `parse_request`: an OCSPRequest from untrusted bytes, with every bound explicit.

use der::asn1::OctetString;
use der::{Decode, Encode};
use x509_cert::ext::Extensions;

use crate::asn1::{CertId, OcspRequest, ID_PKIX_OCSP_NONCE, V1};
use crate::issuer::HashAlg;
use crate::OcspError;

/// The bounds on what a request may hold. Above any of them the request is `malformedRequest`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Limits {
    /// Largest request body (DER bytes) read at all.
    pub max_body_bytes: usize,
    /// Most entries (certificates asked about) in one OCSPRequest.
    pub max_requests: usize,
    /// Longest serial number, in DER INTEGER content bytes (RFC 5280 §4.1.2.2: 20 octets).
    pub max_serial_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_requests: 16,
            max_serial_bytes: 20,
        }
    }
}

/// RFC 8954 §2.1: a nonce of 1 to 32 octets.
pub const MAX_NONCE_BYTES: usize = 32;

/// A certificate serial number as the request carries it.
#[derive(Clone, Debug, Eq, PartialEq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// The serial from its DER INTEGER content bytes (big-endian, two's complement).
    pub fn from_der_bytes(bytes: &[u8]) -> Self {
        Serial(bytes.to_vec())
    }

    /// The DER INTEGER content bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lowercase hex without leading zeros (`"0"` for zero): the store's `serial_hex` form.
    pub fn hex(&self) -> String {
        let hex = hex::encode(&self.0);
        let trimmed = hex.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".into()
        } else {
            trimmed.into()
        }
    }
}

/// One certificate asked about.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RequestEntry {
    /// The CertID as sent: the response echoes it byte for byte.
    pub cert_id: CertId,
    /// Its hash algorithm, or `None` for one we do not support (the entry is answered `unknown`).
    pub hash: Option<HashAlg>,
    /// Its serial number.
    pub serial: Serial,
}

/// A request that passed every check.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ParsedRequest {
    /// The entries, in the request's order.
    pub entries: Vec<RequestEntry>,
    /// The nonce extension as sent (to be echoed as is), if any.
    pub nonce: Option<x509_cert::ext::Extension>,
    /// Whether the request carried a signature (parsed, never checked).
    pub signed: bool,
    /// The request as decoded, for re-encoding.
    pub request: OcspRequest,
}

impl ParsedRequest {
    /// The nonce value (1..=32 bytes), if one was sent.
    pub fn nonce_value(&self) -> Option<Vec<u8>> {
        let ext = self.nonce.as_ref()?;
        OctetString::from_der(ext.extn_value.as_bytes())
            .ok()
            .map(|o| o.as_bytes().to_vec())
    }

    /// Whether this request fits the RFC 5019 pre-signed model: one entry, no nonce.
    pub fn cacheable(&self) -> bool {
        self.entries.len() == 1 && self.nonce.is_none()
    }
}

/// Parses an OCSPRequest (DER) within `limits`. Any failure is [`OcspError::Malformed`].
///
/// Decisions beyond RFC 6960's letter:
/// - a CertID hash algorithm other than SHA-1/256/384/512 (or with parameters other than
///   absent/NULL) is not an error: that entry is answered `unknown`, as for an issuer not ours
///   (we cannot tell whose certificate it is);
/// - a critical extension we do not know (request or entry) refuses the request; non-critical
///   ones are ignored (RFC 6960 §4.4);
/// - a serial longer than `max_serial_bytes`, a nonce outside 1..=32 bytes, or two nonces
///   refuse the request.
pub fn parse_request(der: &[u8], limits: &Limits) -> Result<ParsedRequest, OcspError> {
    if der.is_empty() {
        return Err(OcspError::malformed("request", "empty body"));
    }
    if der.len() > limits.max_body_bytes {
        return Err(OcspError::malformed(
            "request",
            format!(
                "{} bytes, above the limit of {}",
                der.len(),
                limits.max_body_bytes
            ),
        ));
    }
    // Count the entries before decoding them, so that 10,000 entries cost a walk, not 10,000
    // decoded structures.
    count_entries(der, limits)?;
    // `from_der` refuses trailing bytes and non-DER (indefinite lengths, non-minimal integers).
    let request = OcspRequest::from_der(der)
        .map_err(|e| OcspError::malformed("request", format!("not DER OCSPRequest: {e}")))?;
    let tbs = &request.tbs_request;
    if tbs.version != V1 {
        return Err(OcspError::malformed(
            "tbsRequest.version",
            format!("v{} (only v1 exists)", u32::from(tbs.version) + 1),
        ));
    }
    if tbs.request_list.is_empty() {
        return Err(OcspError::malformed("tbsRequest.requestList", "empty"));
    }
    let nonce = find_nonce(tbs.request_extensions.as_ref())?;
    let mut entries = Vec::with_capacity(tbs.request_list.len());
    for (i, req) in tbs.request_list.iter().enumerate() {
        if let Some(ext) = critical_unknown(req.single_request_extensions.as_ref(), &[]) {
            return Err(OcspError::malformed(
                "singleRequestExtensions",
                format!("entry {}: unsupported critical extension {ext}", i + 1),
            ));
        }
        let cert_id = &req.req_cert;
        let serial = cert_id.serial_number.as_bytes();
        if serial.len() > limits.max_serial_bytes {
            return Err(OcspError::malformed(
                "reqCert.serialNumber",
                format!(
                    "entry {}: {} bytes, above the limit of {}",
                    i + 1,
                    serial.len(),
                    limits.max_serial_bytes
                ),
            ));
        }
        entries.push(RequestEntry {
            cert_id: cert_id.clone(),
            hash: HashAlg::from_algorithm(&cert_id.hash_algorithm),
            serial: Serial::from_der_bytes(serial),
        });
    }
    Ok(ParsedRequest {
        entries,
        nonce,
        signed: request.optional_signature.is_some(),
        request,
    })
}

/// Walks OCSPRequest → TBSRequest → requestList and refuses more than `max_requests` entries.
/// Structure errors are left to the full decode that follows.
fn count_entries(der: &[u8], limits: &Limits) -> Result<(), OcspError> {
    use der::{Header, Reader, SliceReader, Tag};
    fn contents<'a>(r: &mut SliceReader<'a>) -> der::Result<&'a [u8]> {
        let header = Header::decode(r)?;
        r.read_slice(header.length())
    }
    let walk = || -> der::Result<usize> {
        let ocsp = contents(&mut SliceReader::new(der)?)?;
        let tbs = contents(&mut SliceReader::new(ocsp)?)?;
        let mut r = SliceReader::new(tbs)?;
        // Skip [0] version and [1] requestorName, which come before the list.
        while Header::peek(&r)?.tag() != Tag::Sequence {
            r.tlv_bytes()?;
        }
        let mut list = SliceReader::new(contents(&mut r)?)?;
        let mut n = 0usize;
        while !list.is_finished() && n <= limits.max_requests {
            list.tlv_bytes()?;
            n += 1;
        }
        Ok(n)
    };
    match walk() {
        Ok(n) if n > limits.max_requests => Err(OcspError::malformed(
            "tbsRequest.requestList",
            format!("more than {} entries", limits.max_requests),
        )),
        _ => Ok(()),
    }
}

/// The nonce extension, checked; `None` when there is none.
fn find_nonce(
    extensions: Option<&Extensions>,
) -> Result<Option<x509_cert::ext::Extension>, OcspError> {
    let Some(extensions) = extensions else {
        return Ok(None);
    };
    if let Some(ext) = critical_unknown(Some(extensions), &[ID_PKIX_OCSP_NONCE]) {
        return Err(OcspError::malformed(
            "requestExtensions",
            format!("unsupported critical extension {ext}"),
        ));
    }
    let mut nonces = extensions
        .iter()
        .filter(|e| e.extn_id == ID_PKIX_OCSP_NONCE);
    let Some(nonce) = nonces.next() else {
        return Ok(None);
    };
    if nonces.next().is_some() {
        return Err(OcspError::malformed("nonce", "sent twice"));
    }
    // RFC 8954 §2.1: Nonce ::= OCTET STRING (SIZE(1..32)), DER-encoded inside extnValue.
    let value = OctetString::from_der(nonce.extn_value.as_bytes())
        .map_err(|e| OcspError::malformed("nonce", format!("not a DER OCTET STRING: {e}")))?;
    let len = value.as_bytes().len();
    if !(1..=MAX_NONCE_BYTES).contains(&len) {
        return Err(OcspError::malformed(
            "nonce",
            format!("{len} bytes; RFC 8954 allows 1 to {MAX_NONCE_BYTES}"),
        ));
    }
    Ok(Some(nonce.clone()))
}

/// The first critical extension whose OID is not in `known`.
fn critical_unknown(
    extensions: Option<&Extensions>,
    known: &[der::asn1::ObjectIdentifier],
) -> Option<der::asn1::ObjectIdentifier> {
    extensions?
        .iter()
        .find(|e| e.critical && !known.contains(&e.extn_id))
        .map(|e| e.extn_id)
}

impl ParsedRequest {
    /// The request re-encoded (DER): the bytes parsed for a DER request. (`der` also accepts an
    /// explicitly encoded DEFAULT, such as `critical FALSE`, which re-encodes without it; the
    /// parse of the re-encoding equals this one either way.)
    pub fn to_der(&self) -> Result<Vec<u8>, OcspError> {
        self.request
            .to_der()
            .map_err(|e| OcspError::responder("request", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_print_as_the_store_keeps_them() {
        assert_eq!(Serial::from_der_bytes(&[0x00, 0x80, 0x01]).hex(), "8001");
        assert_eq!(Serial::from_der_bytes(&[0x0a, 0xbc]).hex(), "abc");
        assert_eq!(Serial::from_der_bytes(&[0x00]).hex(), "0");
    }
}
