//! The streaming CRL writer: entries are DER-encoded into one buffer as they come; the
//! TBSCertList and CertificateList headers (whose lengths are only known at the end) go into
//! room kept free in front of it, so the CRL is never copied or held twice.
//!
//! Buffer while entries are pushed, and after `finish` (before the free prefix is dropped):
//!
//! ```text
//! [ free 12 ][ version signature issuer thisUpdate nextUpdate ][ free 6 ][ entry entry … ]
//! [ free ][ SEQ hdr ][ SEQ hdr ][ version … nextUpdate ][ SEQ hdr ][ entry … ][ [0] exts ][ alg ][ sig ]
//!          CertificateList TBSCertList                   revokedCertificates
//! ```

use std::fmt;

use der::Encode;
use openssl::pkey::{PKey, Public};

use super::time::rfc5280_time;
use super::{crl_err, entry, extensions, CrlEntry, CrlParams};
use crate::{ossl, CaError, CertificateAuthority};

/// Room for the CertificateList and TBSCertList headers (tag + at most 5 length octets each).
const PREFIX: usize = 12;
/// Room for the revokedCertificates header.
const GAP: usize = 6;
const SEQUENCE: u8 = 0x30;
const BIT_STRING: u8 = 0x03;

/// The DER header (tag, definite length) of a `len`-octet value; refused past 4 GiB.
fn header(tag: u8, len: usize) -> Result<Vec<u8>, CaError> {
    let too_long = || {
        crl_err(
            "crl",
            format!("{len} octets is more than DER lengths here carry"),
        )
    };
    let len = u32::try_from(len).map_err(|_| too_long())?;
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let octets = len.to_be_bytes();
        let skip = octets.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (octets.len() - skip) as u8);
        out.extend_from_slice(&octets[skip..]);
    }
    Ok(out)
}

/// Builds one CRL of a [`CertificateAuthority`]: [`CrlWriter::begin`], [`CrlWriter::push`] for
/// each revoked certificate (in any order), then [`CrlWriter::finish`] for the signed DER.
pub struct CrlWriter<'a> {
    ca: &'a CertificateAuthority,
    ca_public: PKey<Public>,
    delta: bool,
    algorithm: Vec<u8>,
    extensions: Vec<u8>,
    buf: Vec<u8>,
    head_end: usize,
    entries: u64,
}

impl fmt::Debug for CrlWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrlWriter")
            .field("ca", self.ca)
            .field("delta", &self.delta)
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl<'a> CrlWriter<'a> {
    /// Starts a CRL of `ca` (version 2, its issuer the CA's subject, signed with the algorithm
    /// the CA's signer uses) as `params` say. Refuses, naming the field, a `next_update` not
    /// after `this_update`, a `delta_of` not below `number`, URLs that are empty or not IA5, a
    /// `freshest_url` in a delta, times before 1970, and a CA certificate without
    /// subjectKeyIdentifier.
    pub fn begin(ca: &'a CertificateAuthority, params: &CrlParams) -> Result<Self, CaError> {
        if params.next_update <= params.this_update {
            return Err(crl_err("next_update", "must be after this_update"));
        }
        if let Some(base) = params.delta_of {
            if base >= params.number {
                return Err(crl_err(
                    "delta_of",
                    format!(
                        "the base CRL number {base} must be below the delta's number {}",
                        params.number
                    ),
                ));
            }
        }
        if params.idp_url.as_deref().is_some_and(str::is_empty) {
            return Err(crl_err("idp_url", "empty URL"));
        }
        if params.freshest_url.as_deref().is_some_and(str::is_empty) {
            return Err(crl_err("freshest_url", "empty URL"));
        }
        if params.is_delta() && params.freshest_url.is_some() {
            return Err(crl_err(
                "freshest_url",
                "a delta CRL must not carry freshestCRL (RFC 5280 §5.2.6)",
            ));
        }
        let ca_public = ca.cert.public_key().map_err(ossl("CA public key"))?;
        // The TBS names its signature algorithm before it is signed: the one the signer uses
        // for this key (checked against what the signer reports in `finish`).
        let algorithm = crate::signature_algorithm(
            ca_public.id(),
            keyward_crypto::message_digest_for(&ca_public),
        )?;
        let extensions = extensions::crl_extensions(&ca.cert, params)?;
        let issuer = ca
            .cert
            .subject_name()
            .to_der()
            .map_err(ossl("CA subject"))?;

        let mut buf = vec![0; PREFIX];
        let enc = |e: der::Error| crl_err("crl", e.to_string());
        // version v2 (INTEGER 1): the CRL has extensions.
        1u8.encode_to_vec(&mut buf).map_err(enc)?;
        buf.extend_from_slice(&algorithm);
        buf.extend_from_slice(&issuer);
        rfc5280_time(params.this_update, || "this_update".into())?
            .encode_to_vec(&mut buf)
            .map_err(enc)?;
        rfc5280_time(params.next_update, || "next_update".into())?
            .encode_to_vec(&mut buf)
            .map_err(enc)?;
        let head_end = buf.len();
        buf.resize(head_end + GAP, 0);
        Ok(CrlWriter {
            ca,
            ca_public,
            delta: params.is_delta(),
            algorithm,
            extensions,
            buf,
            head_end,
            entries: 0,
        })
    }

    /// Appends one revoked certificate. A refused entry ([`CaError::Encoding`] naming its
    /// serial: not positive, over 20 octets, a time before 1970, `removeFromCRL` in a full CRL)
    /// leaves the CRL as it was.
    pub fn push(&mut self, entry: &CrlEntry) -> Result<(), CaError> {
        entry::encode(entry, self.delta, &mut self.buf)?;
        self.entries += 1;
        Ok(())
    }

    /// The number of entries pushed so far.
    pub fn len(&self) -> u64 {
        self.entries
    }

    /// Whether no entry was pushed (the CRL then has no revokedCertificates, RFC 5280 §5.1.2.6).
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The size of the DER so far, in octets (the entries and the fixed fields).
    pub fn encoded_len(&self) -> usize {
        self.buf.len() - PREFIX - GAP + self.extensions.len()
    }

    /// Wraps the entries into the TBSCertList, signs it through the CA's signer, checks the
    /// signature with the CA certificate's public key, and returns the CertificateList DER.
    pub fn finish(self) -> Result<Vec<u8>, CaError> {
        let CrlWriter {
            ca,
            ca_public,
            algorithm,
            extensions,
            mut buf,
            head_end,
            entries,
            ..
        } = self;
        let entries_start = head_end + GAP;
        // An empty revokedCertificates is left out, not written empty (RFC 5280 §5.1.2.6).
        let entries_header = if entries > 0 {
            header(SEQUENCE, buf.len() - entries_start)?
        } else {
            Vec::new()
        };
        // Close the gap: the fixed fields move right to meet the entries' header.
        let shift = GAP - entries_header.len();
        buf.copy_within(PREFIX..head_end, PREFIX + shift);
        buf[head_end + shift..entries_start].copy_from_slice(&entries_header);
        buf.extend_from_slice(&extensions);

        let body_start = PREFIX + shift;
        let tbs_header = header(SEQUENCE, buf.len() - body_start)?;
        let tbs_start = body_start - tbs_header.len();
        buf[tbs_start..body_start].copy_from_slice(&tbs_header);

        let (signed_algorithm, signature) = ca.signer.sign_data(&buf[tbs_start..])?;
        if signed_algorithm != algorithm {
            return Err(CaError::Assembly(
                "the CA key signed the CRL with another algorithm than its certificate implies"
                    .into(),
            ));
        }
        // Nothing leaves that does not verify with the key relying parties use.
        if !keyward_crypto::verify_message(&ca_public, &buf[tbs_start..], &signature)? {
            return Err(CaError::Assembly(
                "the CRL's signature does not verify with the CA certificate's public key".into(),
            ));
        }
        buf.extend_from_slice(&algorithm);
        buf.extend_from_slice(&header(BIT_STRING, signature.len() + 1)?);
        buf.push(0); // no unused bits
        buf.extend_from_slice(&signature);

        let outer = header(SEQUENCE, buf.len() - tbs_start)?;
        let start = tbs_start - outer.len();
        buf[start..tbs_start].copy_from_slice(&outer);
        buf.drain(..start);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_minimal_definite_lengths() {
        assert_eq!(header(0x30, 0).unwrap(), [0x30, 0]);
        assert_eq!(header(0x30, 127).unwrap(), [0x30, 127]);
        assert_eq!(header(0x30, 128).unwrap(), [0x30, 0x81, 128]);
        assert_eq!(header(0x30, 256).unwrap(), [0x30, 0x82, 1, 0]);
        assert_eq!(header(0x03, 0x0102_0304).unwrap(), [0x03, 0x84, 1, 2, 3, 4]);
        assert!(header(0x30, 1 << 32).is_err());
    }
}
