//! One revokedCertificates entry: `SEQUENCE { userCertificate, revocationDate,
//! crlEntryExtensions OPTIONAL }` with reasonCode and invalidityDate (RFC 5280 §5.3).

use der::asn1::{ObjectIdentifier, OctetString};
use der::Encode;
use x509_cert::crl::RevokedCert;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;

use keyward_policy::RevocationReason;

use super::time::{generalized_time, rfc5280_time};
use super::{crl_err, CrlEntry};
use crate::CaError;

const ID_CE_CRL_REASONS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.21");
const ID_CE_INVALIDITY_DATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.24");

/// The ASN.1 CRLReason of `reason` (CRL entries and OCSP responses carry the same type).
pub fn crl_reason(reason: RevocationReason) -> CrlReason {
    match reason {
        RevocationReason::Unspecified => CrlReason::Unspecified,
        RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
        RevocationReason::CaCompromise => CrlReason::CaCompromise,
        RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
        RevocationReason::Superseded => CrlReason::Superseded,
        RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
        RevocationReason::CertificateHold => CrlReason::CertificateHold,
        RevocationReason::RemoveFromCrl => CrlReason::RemoveFromCRL,
        RevocationReason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise => CrlReason::AaCompromise,
    }
}

/// `crl entry 0A1B….field`, naming the entry by its serial as officers see it.
fn field(entry: &CrlEntry, name: &str) -> String {
    format!("crl entry {}.{name}", hex::encode(&entry.serial))
}

fn extension(oid: ObjectIdentifier, value: Vec<u8>, what: &str) -> Result<Extension, CaError> {
    Ok(Extension {
        extn_id: oid,
        critical: false,
        extn_value: OctetString::new(value).map_err(|e| crl_err(what, e.to_string()))?,
    })
}

/// The reason code the entry carries, if any: `removeFromCRL` for a released hold (only in a
/// delta), none for `unspecified` (RFC 5280 §5.3.1 recommends leaving it out).
fn reason_code(entry: &CrlEntry, delta: bool) -> Result<Option<CrlReason>, CaError> {
    if entry.remove_from_crl {
        if !delta {
            return Err(crl_err(
                &field(entry, "remove_from_crl"),
                "removeFromCRL is only allowed in a delta CRL (RFC 5280 §5.3.1)",
            ));
        }
        return Ok(Some(CrlReason::RemoveFromCRL));
    }
    match entry.reason {
        None | Some(RevocationReason::Unspecified) => Ok(None),
        Some(RevocationReason::RemoveFromCrl) => Err(crl_err(
            &field(entry, "reason"),
            "removeFromCRL is not a revocation reason: list a released hold with remove_from_crl",
        )),
        Some(reason) => Ok(Some(crl_reason(reason))),
    }
}

/// Appends the DER of `entry` to `out` (nothing is appended when it is refused).
pub(super) fn encode(entry: &CrlEntry, delta: bool, out: &mut Vec<u8>) -> Result<(), CaError> {
    let serial_field = || field(entry, "serial");
    let magnitude = {
        let first = entry
            .serial
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(entry.serial.len());
        &entry.serial[first..]
    };
    if magnitude.is_empty() {
        return Err(crl_err(
            &serial_field(),
            "a serial number is positive (RFC 5280 §4.1.2.2)",
        ));
    }
    // RFC 5280 caps serial numbers at 20 octets, the sign octet included.
    let serial: SerialNumber = SerialNumber::new(magnitude).map_err(|e| {
        crl_err(
            &serial_field(),
            format!("longer than RFC 5280's 20 octets once encoded ({e})"),
        )
    })?;
    let revocation_date = rfc5280_time(entry.revoked_at, || field(entry, "revoked_at"))?;

    let mut extensions = Vec::new();
    if let Some(reason) = reason_code(entry, delta)? {
        let value = reason
            .to_der()
            .map_err(|e| crl_err("reasonCode", e.to_string()))?;
        extensions.push(extension(ID_CE_CRL_REASONS, value, "reasonCode")?);
    }
    match entry.invalidity_date {
        Some(date) if !entry.remove_from_crl => {
            let value = generalized_time(date, || field(entry, "invalidity_date"))?
                .to_der()
                .map_err(|e| crl_err("invalidityDate", e.to_string()))?;
            extensions.push(extension(ID_CE_INVALIDITY_DATE, value, "invalidityDate")?);
        }
        _ => {}
    }
    let revoked = RevokedCert {
        serial_number: serial,
        revocation_date,
        crl_entry_extensions: (!extensions.is_empty()).then_some(extensions),
    };
    let before = out.len();
    revoked.encode_to_vec(out).map_err(|e| {
        out.truncate(before);
        crl_err(&serial_field(), e.to_string())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use der::Decode;

    use super::*;

    fn entry(serial: &[u8], reason: Option<RevocationReason>) -> CrlEntry {
        CrlEntry {
            serial: serial.to_vec(),
            revoked_at: 1_700_000_000,
            reason,
            invalidity_date: None,
            remove_from_crl: false,
        }
    }

    fn decoded(entry: &CrlEntry, delta: bool) -> RevokedCert {
        let mut out = Vec::new();
        encode(entry, delta, &mut out).unwrap();
        RevokedCert::from_der(&out).unwrap()
    }

    #[test]
    fn serial_with_high_bit_is_a_positive_integer_and_leading_zeros_go() {
        let mut out = Vec::new();
        encode(&entry(&[0x00, 0x00, 0x80, 0x01], None), false, &mut out).unwrap();
        // SEQUENCE { INTEGER 00 80 01, UTCTime }: the 0x00 keeps the integer positive.
        assert_eq!(&out[2..7], &[0x02, 0x03, 0x00, 0x80, 0x01]);
        assert_eq!(out.len(), 2 + 5 + 15, "no crlEntryExtensions for no reason");
    }

    #[test]
    fn twenty_octet_serials_fit_and_longer_ones_are_refused_by_name() {
        let mut twenty = [0x7f_u8; 20];
        twenty[19] = 0x01;
        let back = decoded(&entry(&twenty, None), false);
        assert_eq!(back.serial_number.as_bytes(), &twenty);
        // 20 octets with the high bit set need a 21st (sign) octet: over RFC 5280's limit.
        let mut out = Vec::new();
        let err = encode(&entry(&[0x80; 20], None), false, &mut out).unwrap_err();
        assert!(err.to_string().contains("crl entry 8080"), "{err}");
        assert!(err.to_string().contains("20 octets"), "{err}");
        assert!(out.is_empty(), "nothing half-written");
        let err = encode(&entry(&[0, 0], None), false, &mut out).unwrap_err();
        assert!(err.to_string().contains("positive"), "{err}");
    }

    #[test]
    fn reason_codes_follow_rfc_5280() {
        assert!(
            decoded(&entry(&[1], Some(RevocationReason::Unspecified)), false)
                .crl_entry_extensions
                .is_none()
        );
        let hold = decoded(&entry(&[1], Some(RevocationReason::CertificateHold)), false);
        let exts = hold.crl_entry_extensions.unwrap();
        assert_eq!(exts.len(), 1);
        assert_eq!(exts[0].extn_id, ID_CE_CRL_REASONS);
        assert_eq!(exts[0].extn_value.as_bytes(), &[0x0a, 0x01, 0x06]);

        let mut released = entry(&[1], Some(RevocationReason::CertificateHold));
        released.remove_from_crl = true;
        released.invalidity_date = Some(1_600_000_000);
        let exts = decoded(&released, true).crl_entry_extensions.unwrap();
        assert_eq!(exts.len(), 1, "a released hold carries no invalidity date");
        assert_eq!(exts[0].extn_value.as_bytes(), &[0x0a, 0x01, 0x08]);
        let err = encode(&released, false, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("only allowed in a delta"), "{err}");
        let err = encode(
            &entry(&[1], Some(RevocationReason::RemoveFromCrl)),
            true,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a revocation reason"), "{err}");
    }

    #[test]
    fn invalidity_date_is_a_generalized_time_extension() {
        let mut compromised = entry(&[9], Some(RevocationReason::KeyCompromise));
        compromised.invalidity_date = Some(1_699_000_000);
        let exts = decoded(&compromised, false).crl_entry_extensions.unwrap();
        assert_eq!(exts.len(), 2);
        assert_eq!(exts[1].extn_id, ID_CE_INVALIDITY_DATE);
        assert_eq!(&exts[1].extn_value.as_bytes()[..2], &[0x18, 0x0f]);
        assert!(exts.iter().all(|e| !e.critical));
    }
}
