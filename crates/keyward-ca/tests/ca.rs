//! The CA against OpenSSL: hierarchies, issued certificates and their extensions, checked with `openssl`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::net::{IpAddr, Ipv4Addr};

use keyward_policy::keyspec::Curve;
use keyward_policy::procedure::{CertificateProcedure, EmailRule};
use keyward_policy::usage::{KeyUsage, KeyUsageSet};
use keyward_policy::{DistinguishedName, KeySpec};

use keyward_ca::*;
use openssl::pkey::PKey;

fn procedure(usage: &[KeyUsage], eku: &[&str]) -> CertificateProcedure {
    CertificateProcedure {
        name: "test".into(),
        description: String::new(),
        validity_days: 365,
        key_usage: KeyUsageSet::of(usage),
        extended_key_usage: eku.iter().map(|s| s.to_string()).collect(),
        subject: vec![],
        email: EmailRule::Optional,
        key_specs: vec![],
        ..Default::default()
    }
}

fn ca() -> (Hierarchy, CertificateAuthority) {
    let h = create_hierarchy(
        &DistinguishedName::parse("CN=Test Root,O=Keyward").unwrap(),
        &DistinguishedName::parse("CN=Test Issuing,O=Keyward").unwrap(),
    )
    .unwrap();
    let issuing_key =
        PKey::private_key_from_der(&h.issuing_key.private_key_to_der().unwrap()).unwrap();
    let ca = CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert.clone(), h.root_cert.clone()],
        Box::new(SoftwareSigner::new(issuing_key)),
    );
    (h, ca)
}

fn openssl(args: &[&str]) -> String {
    let out = keyward_testkit::tool("openssl")
        .args(args)
        .output()
        .expect("openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn issued_certificates_verify_with_openssl_and_carry_the_procedure() {
    let (h, ca) = ca();
    issued_certificates_verify(&h.root_cert, &h.issuing_cert, &ca);
}

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The same checks with the issuing CA key generated on a SoftHSM2 token of this test's own
/// (the only test in this binary that loads the module).
#[test]
fn the_same_with_the_issuing_ca_key_on_softhsm2() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::create_dir_all(dir.path().join("tokens")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let out = keyward_testkit::tool("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "CA",
            "--so-pin",
            "so-12345678",
        ])
        .args(["--pin", "ca-pin-1"])
        .output()
        .expect("run softhsm2-util");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let module = std::path::Path::new(SOFTHSM);
    let (signer, public) = Pkcs11Signer::generate(
        module,
        "CA",
        "issuing",
        "ca-pin-1",
        keyward_pkcs11::EcCurve::P384,
    )
    .unwrap();
    let h = create_hierarchy_with_issuing_key(
        &DistinguishedName::parse("CN=Test Root,O=Keyward").unwrap(),
        &DistinguishedName::parse("CN=Test Issuing,O=Keyward").unwrap(),
        &public,
    )
    .unwrap();
    let ca = CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert.clone(), h.root_cert.clone()],
        Box::new(signer),
    );
    issued_certificates_verify(&h.root_cert, &h.issuing_cert, &ca);
    attribute_certificate_signed_on_the_token_verifies(&ca);

    // The key opens again by label, and only for the certificate it belongs to.
    assert!(Pkcs11Signer::open(module, "CA", "issuing", "ca-pin-1", &public).is_ok());
    let (software, _) = self::ca();
    let other = software.issuing_cert.public_key().unwrap();
    let err = Pkcs11Signer::open(module, "CA", "issuing", "ca-pin-1", &other).unwrap_err();
    assert!(err.to_string().contains("is not the key"), "{err}");
    let err = Pkcs11Signer::open(module, "CA", "issuing", "wrong", &public).unwrap_err();
    assert!(
        err.to_string().contains("wrong PIN") && !err.to_string().contains("ca-pin-1"),
        "{err}"
    );
}

/// (start of contents, end) of the DER element at `i` (definite lengths only).
fn tlv(buf: &[u8], i: usize) -> (usize, usize) {
    let first = buf[i + 1] as usize;
    if first < 0x80 {
        return (i + 2, i + 2 + first);
    }
    let n = first & 0x7f;
    let len = buf[i + 2..i + 2 + n]
        .iter()
        .fold(0usize, |acc, b| acc << 8 | *b as usize);
    (i + 2 + n, i + 2 + n + len)
}

/// An attribute certificate from a CA whose key is on the token (`Signer::sign_data` on
/// PKCS#11): its acinfo, cut from the DER as issued, verifies with the CA certificate's key, and
/// stops verifying when one byte changes.
fn attribute_certificate_signed_on_the_token_verifies(ca: &CertificateAuthority) {
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let subject = DistinguishedName::parse("CN=holder").unwrap();
    let holder_procedure = procedure(&[KeyUsage::DigitalSignature], &[]);
    let holder = ca
        .issue(&IssueRequest {
            public_key: &public,
            subject: &subject,
            email: None,
            procedure: &holder_procedure,
            serial: keyward_crypto::random_serial().unwrap(),
            not_before: 1_780_000_000,
            dns_names: &[],
            ip_addresses: &[],
            qc_statements: &Default::default(),
        })
        .unwrap();
    let ac = ca
        .issue_attribute_certificate(&AttributeCertificateRequest {
            holder: &holder,
            procedure: &keyward_policy::AttributeCertificateProcedure {
                name: "hsm-roles".into(),
                validity_days: 10,
                roles: vec!["urn:example:role:operator".into()],
                ..Default::default()
            },
            serial: keyward_crypto::random_serial().unwrap(),
            not_before: 1_780_000_000,
        })
        .unwrap();
    let (start, _) = tlv(&ac, 0);
    let (_, acinfo_end) = tlv(&ac, start);
    let (_, alg_end) = tlv(&ac, acinfo_end);
    let (bits, end) = tlv(&ac, alg_end);
    assert_eq!(end, ac.len());
    assert_eq!(ac[bits], 0, "no unused bits");
    let signature = &ac[bits + 1..end];
    let ca_key = ca.certificate().public_key().unwrap();
    let verify = |tbs: &[u8]| {
        let mut v =
            openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha384(), &ca_key).unwrap();
        v.update(tbs).unwrap();
        v.verify(signature).unwrap_or(false)
    };
    assert!(verify(&ac[start..acinfo_end]));
    let mut tampered = ac[start..acinfo_end].to_vec();
    let last = tampered.len() - 30;
    tampered[last] ^= 0x01;
    assert!(!verify(&tampered));
}

fn issued_certificates_verify(
    root_cert: &openssl::x509::X509,
    issuing_cert: &openssl::x509::X509,
    ca: &CertificateAuthority,
) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    let issuing = dir.path().join("issuing.pem");
    std::fs::write(&root, root_cert.to_pem().unwrap()).unwrap();
    std::fs::write(&issuing, issuing_cert.to_pem().unwrap()).unwrap();
    let subject = DistinguishedName::parse("CN=Alice Example,O=Example,C=SE").unwrap();
    let signing = procedure(
        &[KeyUsage::DigitalSignature, KeyUsage::NonRepudiation],
        &["emailProtection", "1.3.6.1.5.5.7.3.2"],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for spec in [
        KeySpec::Ec(Curve::BrainpoolP320r1),
        KeySpec::Rsa(2048),
        KeySpec::Dsa(1024),
    ] {
        let key = keyward_crypto::generate_key(spec).unwrap();
        let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
        let cert = ca
            .issue(&IssueRequest {
                public_key: &public,
                subject: &subject,
                email: Some("alice@example.com"),
                procedure: &signing,
                serial: keyward_crypto::random_serial().unwrap(),
                not_before: now,
                dns_names: &[],
                ip_addresses: &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
                qc_statements: &Default::default(),
            })
            .unwrap();
        let ee = dir.path().join("ee.pem");
        std::fs::write(&ee, cert.to_pem().unwrap()).unwrap();
        let verified = openssl(&[
            "verify",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            issuing.to_str().unwrap(),
            ee.to_str().unwrap(),
        ]);
        assert!(verified.contains(": OK"), "{spec}: {verified}");
        let text = openssl(&["x509", "-in", ee.to_str().unwrap(), "-noout", "-text"]);
        for needle in [
            "X509v3 Key Usage: critical",
            "Digital Signature, Non Repudiation",
            "E-mail Protection, TLS Web Client Authentication",
            "email:alice@example.com",
            "IP Address:127.0.0.1",
            "CA:FALSE",
            "X509v3 Subject Key Identifier",
            "X509v3 Authority Key Identifier",
        ] {
            assert!(text.contains(needle), "{spec}: missing {needle}:\n{text}");
        }
    }
}

#[test]
fn empty_key_usage_definition_gives_no_key_usage_and_unknown_eku_is_refused() {
    let (_, ca) = ca();
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let subject = DistinguishedName::parse("CN=officer").unwrap();
    let officer = procedure(&[], &["clientAuth"]);
    let mut req = IssueRequest {
        public_key: &public,
        subject: &subject,
        email: None,
        procedure: &officer,
        serial: keyward_crypto::random_serial().unwrap(),
        not_before: 1_700_000_000,
        dns_names: &[],
        ip_addresses: &[],
        qc_statements: &Default::default(),
    };
    let cert = ca.issue(&req).unwrap();
    let text = String::from_utf8_lossy(&cert.to_text().unwrap()).into_owned();
    assert!(!text.contains("Key Usage: critical"), "{text}");
    assert!(text.contains("TLS Web Client Authentication"));
    let bad = procedure(&[], &["notAnEku"]);
    req.procedure = &bad;
    assert!(matches!(ca.issue(&req), Err(CaError::Procedure { .. })));
}

#[test]
fn validity_is_clamped_to_the_ca() {
    let (h, ca) = ca();
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let subject = DistinguishedName::parse("CN=long").unwrap();
    let mut long = procedure(&[KeyUsage::DigitalSignature], &[]);
    long.validity_days = 100 * 365;
    let cert = ca
        .issue(&IssueRequest {
            public_key: &public,
            subject: &subject,
            email: None,
            procedure: &long,
            serial: keyward_crypto::random_serial().unwrap(),
            not_before: 1_800_000_000,
            dns_names: &[],
            ip_addresses: &[],
            qc_statements: &Default::default(),
        })
        .unwrap();
    assert!(cert.not_after() <= h.issuing_cert.not_after());
}

#[test]
fn encrypted_ca_keys_round_trip_and_refuse_the_wrong_passphrase() {
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp384r1)).unwrap();
    let pem = encrypt_key_pem(&key, b"correct passphrase").unwrap();
    assert!(String::from_utf8_lossy(&pem).contains("ENCRYPTED PRIVATE KEY"));
    let back = SoftwareSigner::from_encrypted_pem(&pem, b"correct passphrase").unwrap();
    assert_eq!(
        back.public_key_der().unwrap(),
        key.public_key_to_der().unwrap()
    );
    assert!(matches!(
        SoftwareSigner::from_encrypted_pem(&pem, b"wrong"),
        Err(CaError::KeyDecryption)
    ));
}

/// An OCSP signing procedure's certificate carries id-pkix-ocsp-nocheck as OpenSSL reads it
/// (non-critical, NULL value) and the OCSPSigning usage.
#[test]
fn ocsp_no_check_is_written_non_critical_with_a_null_value() {
    let (_, ca) = ca();
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let subject = DistinguishedName::parse("CN=OCSP responder").unwrap();
    let mut ocsp = procedure(&[KeyUsage::DigitalSignature], &["OCSPSigning"]);
    ocsp.ocsp_no_check = true;
    ocsp.validity_days = 7;
    let req = IssueRequest {
        public_key: &public,
        subject: &subject,
        email: None,
        procedure: &ocsp,
        serial: keyward_crypto::random_serial().unwrap(),
        not_before: keyward_crypto_now(),
        dns_names: &[],
        ip_addresses: &[],
        qc_statements: &Default::default(),
    };
    let cert = ca.issue(&req).unwrap();
    let text = String::from_utf8_lossy(&cert.to_text().unwrap()).into_owned();
    assert!(text.contains("OCSP Signing"), "{text}");
    assert!(text.contains("OCSP No Check: \n"), "{text}");
    assert!(!text.contains("OCSP No Check: critical"), "{text}");
    // The DER: OID 1.3.6.1.5.5.7.48.1.5, no critical flag, OCTET STRING holding NULL.
    let der = cert.to_der().unwrap();
    let ext = [
        0x30, 0x0f, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x05, 0x04, 0x02,
        0x05, 0x00,
    ];
    assert!(der.windows(ext.len()).any(|w| w == ext));
    let plain = procedure(&[KeyUsage::DigitalSignature], &["OCSPSigning"]);
    let cert = ca
        .issue(&IssueRequest {
            procedure: &plain,
            ..req
        })
        .unwrap();
    let text = String::from_utf8_lossy(&cert.to_text().unwrap()).into_owned();
    assert!(!text.contains("OCSP No Check"), "{text}");
}

fn keyward_crypto_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
