//! A CA whose signing key is not its certificate's key (cm.conf `ca.issuing.key` naming the
//! root's key) must refuse to start and must never hand out a certificate that does not verify.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use keyward_policy::keyspec::Curve;
use keyward_policy::procedure::{CertificateProcedure, EmailRule};
use keyward_policy::{DistinguishedName, KeySpec};

use keyward_ca::*;
use openssl::pkey::PKey;

fn procedure() -> CertificateProcedure {
    CertificateProcedure {
        name: "test".into(),
        validity_days: 30,
        email: EmailRule::Optional,
        ..Default::default()
    }
}

fn hierarchy() -> Hierarchy {
    create_hierarchy(
        &DistinguishedName::parse("CN=Test Root,O=Keyward").unwrap(),
        &DistinguishedName::parse("CN=Test Issuing,O=Keyward").unwrap(),
    )
    .unwrap()
}

/// The issuing CA certificate with `key` as its signer.
fn authority(h: &Hierarchy, key: &PKey<openssl::pkey::Private>) -> CertificateAuthority {
    let key = PKey::private_key_from_der(&key.private_key_to_der().unwrap()).unwrap();
    CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert.clone(), h.root_cert.clone()],
        Box::new(SoftwareSigner::new(key)),
    )
}

fn issue(ca: &CertificateAuthority) -> Result<openssl::x509::X509, CaError> {
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let subject = DistinguishedName::parse("CN=someone,O=Example").unwrap();
    let procedure = procedure();
    ca.issue(&IssueRequest {
        public_key: &public,
        subject: &subject,
        email: None,
        procedure: &procedure,
        serial: [0x11; 16],
        not_before: 1_700_000_000,
        dns_names: &[],
        ip_addresses: &[],
        qc_statements: &Default::default(),
    })
}

#[test]
fn a_software_signature_that_does_not_verify_never_leaves_the_ca() {
    let h = hierarchy();
    let wrong = authority(&h, &h.root_key);
    let err = issue(&wrong).expect_err("a certificate signed by the wrong key was handed out");
    assert!(
        err.to_string().contains("does not verify"),
        "the error says why: {err}"
    );
    let right = authority(&h, &h.issuing_key);
    let cert = issue(&right).unwrap();
    assert!(cert.verify(&h.issuing_cert.public_key().unwrap()).unwrap());
}

#[test]
fn a_signing_key_that_is_not_the_certificates_key_is_found_before_any_signature() {
    let h = hierarchy();
    let err = authority(&h, &h.root_key).check_key().unwrap_err();
    assert!(
        err.to_string()
            .contains("not the key of the CA certificate"),
        "{err}"
    );
    authority(&h, &h.issuing_key).check_key().unwrap();
}
