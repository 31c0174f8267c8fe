//! Full and delta CRLs checked with tools we did not write: `openssl crl` (text and signature),
//! `openssl verify -crl_check` (`-use_deltas` for full + delta, `-crl_check_all` with the root's
//! CRL), GnuTLS `certtool` (`--crl-info`, `--verify-crl`, `--verify --load-crl`) and pkilint's
//! `lint_crl`; with software RSA and P-384 CA keys and with RSA, P-256 and P-384 keys on SoftHSM2.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod pki;

use std::path::Path;

use keyward_ca::*;
use keyward_policy::keyspec::Curve;
use keyward_policy::{KeySpec, RevocationReason};
use openssl::pkey::PKey;

use pki::*;

/// The case every CA key goes through: a full CRL (keyCompromise with an invalidity date, a
/// hold, a serial with its high bit set) and a delta of it (a new superseded revocation, the
/// hold released), checked with openssl and GnuTLS; pkilint too when `lint`.
fn full_and_delta(pki: &Pki, lint: bool) {
    let t = now() - 3600;
    let compromised = serial();
    let mut high = serial();
    high[0] |= 0x80; // a 17-octet positive INTEGER in the certificate and the CRL
    let held = serial();
    let superseded = serial();
    let good = serial();
    let leaf = |name: &str, serial| pki.leaf(name, serial);
    let (compromised_pem, high_pem, held_pem) = (
        leaf("compromised", compromised),
        leaf("high", high),
        leaf("held", held),
    );
    let (superseded_pem, good_pem) = (leaf("superseded", superseded), leaf("good", good));

    let mut key_compromise = entry(&compromised, RevocationReason::KeyCompromise, t);
    key_compromise.invalidity_date = Some(t - 2 * DAY);
    let full_entries = [
        key_compromise,
        entry(&high, RevocationReason::Unspecified, t),
        entry(&held, RevocationReason::CertificateHold, t),
    ];
    let (full_der, full_pem) = pki.crl("full", &params(41, None), &full_entries);
    let mut released = entry(&held, RevocationReason::CertificateHold, t);
    released.remove_from_crl = true;
    let delta_entries = [
        entry(&superseded, RevocationReason::Superseded, t + 60),
        released,
    ];
    let (delta_der, delta_pem) = pki.crl("delta", &params(42, Some(41)), &delta_entries);

    // openssl reads back what we wrote.
    let text = run(
        "openssl",
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            s(&full_der),
            "-noout",
            "-text",
        ],
    );
    for needle in [
        "Version 2 (0x1)",
        "X509v3 CRL Number: \n                41",
        "X509v3 Authority Key Identifier",
        "X509v3 Issuing Distribution Point: critical",
        &format!("URI:{URL}"),
        &format!("Serial Number: {}", hex::encode_upper(compromised)),
        &format!("Serial Number: {}", hex::encode_upper(high)),
        "Key Compromise",
        "Invalidity Date",
        "Certificate Hold",
        "X509v3 Freshest CRL",
        &format!("URI:{DELTA_URL}"),
    ] {
        assert!(text.contains(needle), "full CRL: no {needle:?}:\n{text}");
    }
    assert!(
        !text.contains("Unspecified"),
        "no reasonCode for unspecified:\n{text}"
    );
    let text = run(
        "openssl",
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            s(&delta_der),
            "-noout",
            "-text",
        ],
    );
    for needle in [
        "X509v3 Delta CRL Indicator: critical\n                41",
        "X509v3 CRL Number: \n                42",
        "Superseded",
        "Remove From CRL",
    ] {
        assert!(text.contains(needle), "delta CRL: no {needle:?}:\n{text}");
    }
    for crl in [&full_der, &delta_der] {
        let out = run(
            "openssl",
            &[
                "crl",
                "-inform",
                "DER",
                "-in",
                s(crl),
                "-noout",
                "-CAfile",
                s(&pki.path("chain.pem")),
            ],
        );
        assert!(out.contains("verify OK"), "{out}");
    }

    // openssl verify with the full CRL alone.
    let full = [full_pem.as_path()];
    for revoked in [&compromised_pem, &high_pem, &held_pem] {
        let (ok, out) = pki.verify(revoked, &full, &[]);
        assert!(!ok && out.contains("certificate revoked"), "{out}");
    }
    for valid in [&superseded_pem, &good_pem] {
        let (ok, out) = pki.verify(valid, &full, &[]);
        assert!(ok, "{out}");
    }
    // With the delta: the hold is released, the superseded certificate revoked.
    let both = [full_pem.as_path(), delta_pem.as_path()];
    let deltas = ["-use_deltas"];
    for revoked in [&compromised_pem, &high_pem, &superseded_pem] {
        let (ok, out) = pki.verify(revoked, &both, &deltas);
        assert!(!ok && out.contains("certificate revoked"), "{out}");
    }
    for valid in [&held_pem, &good_pem] {
        let (ok, out) = pki.verify(valid, &both, &deltas);
        assert!(ok, "{out}");
    }
    // -crl_check_all: the root's CRL about the issuing CA as well; then the root revokes the
    // issuing CA (cACompromise) and nothing below it verifies.
    let (_, root_crl) = pki.root_crl("root-crl", &[]);
    let all = [root_crl.as_path(), full_pem.as_path(), delta_pem.as_path()];
    let check_all = ["-crl_check_all", "-use_deltas"];
    let (ok, out) = pki.verify(&superseded_pem, &all, &check_all);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    for valid in [&held_pem, &good_pem] {
        let (ok, out) = pki.verify(valid, &all, &check_all);
        assert!(ok, "{out}");
    }
    let issuing_serial = pki
        .ca
        .certificate()
        .serial_number()
        .to_bn()
        .unwrap()
        .to_vec();
    let ca_compromise = entry(&issuing_serial, RevocationReason::CaCompromise, t);
    let (_, root_revoking) = pki.root_crl("root-revoking", &[ca_compromise]);
    let all = [
        root_revoking.as_path(),
        full_pem.as_path(),
        delta_pem.as_path(),
    ];
    let (ok, out) = pki.verify(&good_pem, &all, &check_all);
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    // Without freshestCRL in the full CRL, OpenSSL does not look for a delta: the server must
    // set `freshest_url` for deltas to count.
    let mut no_freshest = params(43, None);
    no_freshest.freshest_url = None;
    let (_, plain_pem) = pki.crl("full-no-freshest", &no_freshest, &full_entries);
    let (_, delta_of_plain) = pki.crl("delta-of-plain", &params(44, Some(43)), &delta_entries);
    let pair = [plain_pem.as_path(), delta_of_plain.as_path()];
    let (ok, out) = pki.verify(&superseded_pem, &pair, &deltas);
    assert!(ok, "the delta was used without freshestCRL: {out}");

    // GnuTLS reads and verifies them, and finds the revoked certificate revoked.
    let info = run(
        "certtool",
        &["--crl-info", "--inder", "--infile", s(&full_der)],
    );
    assert!(info.contains("Revoked certificates (3)"), "{info}");
    assert!(info.contains(&hex::encode(compromised)), "{info}");
    for crl in [&full_pem, &delta_pem] {
        let out = run(
            "certtool",
            &[
                "--verify-crl",
                "--load-ca-certificate",
                s(&pki.path("issuing.pem")),
                "--infile",
                s(crl),
            ],
        );
        assert!(out.contains("Verified"), "{out}");
    }
    let gnutls_verify = |leaf: &Path| {
        let chain = pki.path("leaf-chain.pem");
        let issuing = std::fs::read(pki.path("issuing.pem")).unwrap();
        std::fs::write(&chain, [std::fs::read(leaf).unwrap(), issuing].concat()).unwrap();
        keyward_testkit::tool("certtool")
            .args([
                "--verify",
                "--load-ca-certificate",
                s(&pki.path("root.pem")),
            ])
            .args(["--load-crl", s(&full_pem), "--infile", s(&chain)])
            .output()
            .unwrap()
    };
    let out = gnutls_verify(&compromised_pem);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("revoked"), "{text}");
    let out = gnutls_verify(&good_pem);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    if lint {
        pkilint_clean(&full_der);
        pkilint_clean(&delta_der);
    }
}

#[test]
fn software_p384_ca_full_and_delta_crls_pass_openssl_gnutls_and_pkilint() {
    full_and_delta(&software(KeySpec::Ec(Curve::Secp384r1)), true);
}

#[test]
fn software_rsa_ca_full_and_delta_crls_pass_openssl_gnutls_and_pkilint() {
    full_and_delta(&software(KeySpec::Rsa(2048)), true);
}

/// A 20-octet serial, dates past 2049 (GeneralizedTime), and an empty CRL: read by openssl and
/// GnuTLS, clean for pkilint.
#[test]
fn edge_cases_read_by_openssl_gnutls_and_pkilint() {
    let pki = software(KeySpec::Ec(Curve::Secp256r1));
    let mut twenty = [0x5a_u8; 20];
    twenty[19] = 0x01;
    let late = 2_600_000_000; // 2052-05-22
    let late_params = CrlParams {
        number: 1_000_000_007,
        this_update: late,
        next_update: late + DAY,
        delta_of: None,
        idp_url: Some(URL.into()),
        freshest_url: None,
    };
    let mut compromised = entry(&twenty, RevocationReason::KeyCompromise, late - DAY);
    compromised.invalidity_date = Some(late - 3 * DAY);
    let (late_der, _) = pki.crl("late", &late_params, &[compromised]);
    let text = run(
        "openssl",
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            s(&late_der),
            "-noout",
            "-text",
        ],
    );
    for needle in [
        &format!("Serial Number: {}", hex::encode_upper(twenty)),
        "Last Update: May 22 ",
        " 2052 GMT",
        "Next Update: May 23 ",
        "1000000007",
    ] {
        assert!(text.contains(needle), "no {needle:?}:\n{text}");
    }
    let info = run(
        "certtool",
        &["--crl-info", "--inder", "--infile", s(&late_der)],
    );
    assert!(info.contains("2052"), "{info}");
    pkilint_clean(&late_der);

    let (empty_der, empty_pem) = pki.crl("empty", &params(2, None), &[]);
    let text = run(
        "openssl",
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            s(&empty_der),
            "-noout",
            "-text",
        ],
    );
    assert!(text.contains("No Revoked Certificates."), "{text}");
    let info = run(
        "certtool",
        &["--crl-info", "--inder", "--infile", s(&empty_der)],
    );
    assert!(info.contains("No revoked certificates."), "{info}");
    pkilint_clean(&empty_der);
    let good = pki.leaf("good", serial());
    let (ok, out) = pki.verify(&good, &[empty_pem.as_path()], &[]);
    assert!(ok, "{out}");
}

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// CRLs signed on SoftHSM2 (`Pkcs11Signer::sign_data`) with P-256, P-384 (generated on the
/// token) and RSA-2048 (imported) CA keys: the only test in this binary that loads the module.
#[test]
fn crls_signed_on_softhsm2_with_rsa_p256_and_p384_keys() {
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
    run(
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            "CRL",
            "--so-pin",
            "so-12345678",
            "--pin",
            "crl-pin-1",
        ],
    );
    let module = Path::new(SOFTHSM);
    for (label, curve) in [
        ("p256", keyward_pkcs11::EcCurve::P256),
        ("p384", keyward_pkcs11::EcCurve::P384),
    ] {
        let (signer, public) =
            Pkcs11Signer::generate(module, "CRL", label, "crl-pin-1", curve).unwrap();
        full_and_delta(&pki_with(&public, Box::new(signer), label), false);
    }
    // RSA: a software-generated key imported into the token (Pkcs11Signer::generate is EC-only).
    let key = keyward_crypto::generate_key(KeySpec::Rsa(2048)).unwrap();
    let key_pem = dir.path().join("rsa.pem");
    std::fs::write(&key_pem, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    run(
        "softhsm2-util",
        &[
            "--import",
            s(&key_pem),
            "--token",
            "CRL",
            "--label",
            "rsa",
            "--id",
            "0a0b",
            "--pin",
            "crl-pin-1",
        ],
    );
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    drop(key);
    std::fs::remove_file(&key_pem).unwrap();
    let signer = Pkcs11Signer::open(module, "CRL", "rsa", "crl-pin-1", &public).unwrap();
    let pki = pki_with(&public, Box::new(signer), "rsa-hsm");
    full_and_delta(&pki, true);
}
