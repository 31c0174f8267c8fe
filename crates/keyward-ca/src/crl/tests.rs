//! The writer's output decoded with `x509-cert`'s CRL types (the foreign-tool checks are in
//! tests/crl.rs).

use der::{Decode, Encode};
use x509_cert::crl::CertificateList;
use x509_cert::time::Time;

use keyward_policy::{DistinguishedName, RevocationReason};

use super::*;
use crate::{create_hierarchy, CertificateAuthority, SoftwareSigner};

fn ca() -> CertificateAuthority {
    let h = create_hierarchy(
        &DistinguishedName::parse("CN=CRL Root,O=Keyward").unwrap(),
        &DistinguishedName::parse("CN=CRL Issuing,O=Keyward").unwrap(),
    )
    .unwrap();
    CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert],
        Box::new(SoftwareSigner::new(h.issuing_key)),
    )
}

fn params(number: u64, delta_of: Option<u64>) -> CrlParams {
    CrlParams {
        number,
        this_update: 1_780_000_000,
        next_update: 1_780_086_400,
        delta_of,
        idp_url: Some("http://127.0.0.1:8080/crl/issuing.crl".into()),
        freshest_url: delta_of
            .is_none()
            .then(|| "http://127.0.0.1:8080/crl/issuing-delta.crl".into()),
    }
}

fn revoked(serial: u8, reason: Option<RevocationReason>) -> CrlEntry {
    CrlEntry {
        serial: vec![0x40, serial],
        revoked_at: 1_779_000_000,
        reason,
        invalidity_date: None,
        remove_from_crl: false,
    }
}

/// The CRL, and the check that its signature verifies over its TBSCertList as re-encoded.
fn decode(ca: &CertificateAuthority, der: &[u8]) -> CertificateList {
    let crl = CertificateList::from_der(der).unwrap();
    assert_eq!(crl.to_der().unwrap(), der, "DER (re-encoding is identical)");
    let tbs = crl.tbs_cert_list.to_der().unwrap();
    let public = ca.certificate().public_key().unwrap();
    let signature = crl.signature.as_bytes().unwrap();
    assert!(keyward_crypto::verify_message(&public, &tbs, signature).unwrap());
    assert_eq!(crl.signature_algorithm, crl.tbs_cert_list.signature);
    crl
}

fn extension_ids(crl: &CertificateList) -> Vec<(String, bool)> {
    crl.tbs_cert_list
        .crl_extensions
        .iter()
        .flatten()
        .map(|e| (e.extn_id.to_string(), e.critical))
        .collect()
}

#[test]
fn a_full_crl_lists_its_entries_in_push_order_with_the_crl_extensions() {
    let ca = ca();
    let mut w = CrlWriter::begin(&ca, &params(7, None)).unwrap();
    assert!(w.is_empty());
    w.push(&revoked(1, Some(RevocationReason::KeyCompromise)))
        .unwrap();
    w.push(&revoked(2, None)).unwrap();
    assert_eq!(w.len(), 2);
    let der = w.finish().unwrap();
    let crl = decode(&ca, &der);
    let tbs = &crl.tbs_cert_list;
    assert_eq!(tbs.version, x509_cert::Version::V2);
    assert_eq!(
        tbs.issuer.to_der().unwrap(),
        ca.certificate().subject_name().to_der().unwrap()
    );
    assert!(matches!(tbs.this_update, Time::UtcTime(_)));
    assert_eq!(tbs.this_update.to_unix_duration().as_secs(), 1_780_000_000);
    let entries = tbs.revoked_certificates.as_ref().unwrap();
    let serials: Vec<&[u8]> = entries.iter().map(|e| e.serial_number.as_bytes()).collect();
    assert_eq!(serials, [&[0x40, 1][..], &[0x40, 2]]);
    assert_eq!(
        extension_ids(&crl),
        [
            ("2.5.29.35".to_string(), false),
            ("2.5.29.20".to_string(), false),
            ("2.5.29.28".to_string(), true),
            ("2.5.29.46".to_string(), false),
        ]
    );
    let number = &tbs.crl_extensions.as_ref().unwrap()[1];
    assert_eq!(number.extn_value.as_bytes(), &[0x02, 0x01, 0x07]);
}

#[test]
fn a_delta_carries_its_base_number_critically_and_may_remove_a_hold() {
    let ca = ca();
    let mut w = ca.crl_writer(&params(9, Some(7))).unwrap();
    let mut released = revoked(3, Some(RevocationReason::CertificateHold));
    released.remove_from_crl = true;
    w.push(&released).unwrap();
    let crl = decode(&ca, &w.finish().unwrap());
    let ids = extension_ids(&crl);
    assert!(ids.contains(&("2.5.29.27".to_string(), true)), "{ids:?}");
    let exts = crl.tbs_cert_list.crl_extensions.unwrap();
    let delta = exts.iter().find(|e| e.extn_id.to_string() == "2.5.29.27");
    assert_eq!(delta.unwrap().extn_value.as_bytes(), &[0x02, 0x01, 0x07]);
}

#[test]
fn an_empty_crl_has_no_revoked_certificates_field() {
    let ca = ca();
    let mut p = params(1, None);
    p.idp_url = None;
    p.freshest_url = None;
    let der = CrlWriter::begin(&ca, &p).unwrap().finish().unwrap();
    let crl = decode(&ca, &der);
    assert!(crl.tbs_cert_list.revoked_certificates.is_none());
    assert_eq!(extension_ids(&crl).len(), 2, "no IDP without a URL");
}

#[test]
fn large_crls_use_long_form_lengths_and_dates_past_2049_are_generalized() {
    let ca = ca();
    let mut p = params(u64::MAX, None);
    p.this_update = 2_600_000_000; // 2052
    p.next_update = 2_600_086_400;
    let mut w = CrlWriter::begin(&ca, &p).unwrap();
    for i in 0..5_000u32 {
        w.push(&CrlEntry {
            serial: i.wrapping_add(1).to_be_bytes().to_vec(),
            revoked_at: 2_590_000_000,
            reason: Some(RevocationReason::Superseded),
            invalidity_date: i.is_multiple_of(10).then_some(2_589_000_000),
            remove_from_crl: false,
        })
        .unwrap();
    }
    let der = w.finish().unwrap();
    assert!(der.len() > 65_536, "three-octet lengths exercised");
    let crl = decode(&ca, &der);
    assert!(matches!(
        crl.tbs_cert_list.this_update,
        Time::GeneralTime(_)
    ));
    let entries = crl.tbs_cert_list.revoked_certificates.unwrap();
    assert_eq!(entries.len(), 5_000);
    assert!(matches!(entries[0].revocation_date, Time::GeneralTime(_)));
    let number = &crl.tbs_cert_list.crl_extensions.unwrap()[1];
    // u64::MAX needs a leading 0x00 to stay positive: 9 content octets.
    assert_eq!(&number.extn_value.as_bytes()[..3], &[0x02, 0x09, 0x00]);
}

#[test]
fn bad_parameters_and_entries_are_refused_by_name() {
    let ca = ca();
    let mut p = params(5, None);
    p.next_update = p.this_update;
    let err = CrlWriter::begin(&ca, &p).unwrap_err().to_string();
    assert!(err.starts_with("next_update:"), "{err}");
    let err = CrlWriter::begin(&ca, &params(5, Some(5)))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("delta_of:"), "{err}");
    let mut p = params(5, None);
    p.idp_url = Some("http://exämple.com/crl".into());
    let err = CrlWriter::begin(&ca, &p).unwrap_err().to_string();
    assert!(err.starts_with("idp_url:"), "{err}");
    let mut p = params(6, Some(5));
    p.freshest_url = Some("http://127.0.0.1:8080/crl/delta.crl".into());
    let err = CrlWriter::begin(&ca, &p).unwrap_err().to_string();
    assert!(
        err.starts_with("freshest_url:") && err.contains("delta"),
        "{err}"
    );

    let mut w = CrlWriter::begin(&ca, &params(5, None)).unwrap();
    w.push(&revoked(1, None)).unwrap();
    let mut early = revoked(2, None);
    early.revoked_at = -5;
    let err = w.push(&early).unwrap_err().to_string();
    assert!(err.contains("crl entry 4002.revoked_at"), "{err}");
    assert_eq!(w.len(), 1, "the refused entry is not counted");
    let crl = decode(&ca, &w.finish().unwrap());
    assert_eq!(crl.tbs_cert_list.revoked_certificates.unwrap().len(), 1);
}

#[test]
fn serials_parse_from_the_stores_hex() {
    assert_eq!(CrlEntry::serial_from_hex("0a:BC").unwrap(), [0x0a, 0xbc]);
    assert_eq!(CrlEntry::serial_from_hex("abc").unwrap(), [0x0a, 0xbc]);
    let err = CrlEntry::serial_from_hex("xyz").unwrap_err().to_string();
    assert!(err.contains("\"xyz\""), "{err}");
    assert!(CrlEntry::serial_from_hex("").is_err());
}
