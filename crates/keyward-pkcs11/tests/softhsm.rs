//! The PKCS#11 layer against SoftHSM2: every test initialises its own token (one token
//! directory for this test process, set in SOFTHSM2_CONF before the module is first loaded).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use keyward_pkcs11::{Digest, EcCurve, KeyKind, Pkcs11Error, Token};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Verifier;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "4711-token";
const SO_PIN: &str = "so-pin-12345678";

/// Every token the tests use. SoftHSM2 reads its token directory when the module is
/// initialised, so all of them are created before the first test loads the module.
const LABELS: &[&str] = &["wrong-pin", "ec-sign", "rsa-sign", "certs", "kek"];

/// Creates this process's token directory and tokens once, then opens `label` (not logged in).
fn token(label: &str) -> Token {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        std::fs::create_dir_all(dir.join("tokens")).expect("tokens dir");
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.join("tokens").display()
            ),
        )
        .expect("softhsm2.conf");
        std::env::set_var("SOFTHSM2_CONF", &conf);
        for label in LABELS {
            let out = keyward_testkit::tool("softhsm2-util")
                .args(["--init-token", "--free", "--label", label])
                .args(["--so-pin", SO_PIN, "--pin", PIN])
                .output()
                .expect("run softhsm2-util");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        dir
    });
    Token::open(Path::new(MODULE), label).expect("open token")
}

#[test]
fn wrong_pin_is_its_own_error_and_names_no_pin() {
    let token = token("wrong-pin");
    let err = token.login("not-the-pin").unwrap_err();
    assert!(matches!(err, Pkcs11Error::WrongPin { .. }), "{err:?}");
    let text = format!("{err} {err:?} {token:?}");
    assert!(
        text.contains("wrong-pin") && text.contains(MODULE),
        "{text}"
    );
    assert!(
        !text.contains("not-the-pin") && !text.contains(PIN),
        "{text}"
    );
    token.login(PIN).unwrap();
    // A second session of this process is "already logged in", yet a wrong PIN is still wrong.
    let second = Token::open(Path::new(MODULE), "wrong-pin").unwrap();
    let err = second.login("not-the-pin").unwrap_err();
    assert!(matches!(err, Pkcs11Error::WrongPin { .. }), "{err:?}");
    second.login(PIN).unwrap();
    let missing = Token::open(Path::new(MODULE), "no-such-token").unwrap_err();
    assert!(missing.to_string().contains("no-such-token"), "{missing}");
    let module = Token::open(Path::new("/nonexistent/pkcs11.so"), "x").unwrap_err();
    assert!(
        module.to_string().contains("/nonexistent/pkcs11.so"),
        "{module}"
    );
}

#[test]
fn ec_keys_generated_on_the_token_sign_verifiably_and_stay_there() {
    let token = token("ec-sign");
    token.login(PIN).unwrap();
    for (curve, digest, md, label) in [
        (
            EcCurve::P256,
            Digest::Sha256,
            MessageDigest::sha256(),
            "p256",
        ),
        (
            EcCurve::P384,
            Digest::Sha384,
            MessageDigest::sha384(),
            "p384",
        ),
    ] {
        let (key, spki) = token.generate_ec_key(label, curve).unwrap();
        assert_eq!(key.kind, KeyKind::Ec(curve));
        let public = PKey::public_key_from_der(&spki).unwrap();
        let found = token.private_key(label).unwrap();
        assert_eq!(found.id, key.id);
        assert_eq!(found.kind, key.kind);
        let signature = token
            .sign(&found, digest, b"the exact request bytes")
            .unwrap();
        let mut verifier = Verifier::new(md, &public).unwrap();
        verifier.update(b"the exact request bytes").unwrap();
        assert!(verifier.verify(&signature).unwrap(), "{label}");
        let protection = token.protection(&found).unwrap();
        assert!(
            protection.sensitive && !protection.extractable,
            "{protection:?}"
        );
        let again = token.generate_ec_key(label, curve).unwrap_err();
        assert!(again.to_string().contains("exists"), "{again}");
    }
    let missing = token.private_key("nothing").unwrap_err();
    assert!(missing.to_string().contains("\"nothing\""), "{missing}");
}

#[test]
fn rsa_keys_sign_long_messages_as_pkcs1_v15_for_every_digest() {
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let key = PKey::from_rsa(rsa).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("rsa.p8.pem");
    std::fs::write(&pem, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let _ = token("rsa-sign"); // the token directory exists before softhsm2-util writes to it
    let out = keyward_testkit::tool("softhsm2-util")
        .args(["--import"])
        .arg(&pem)
        .args([
            "--token", "rsa-sign", "--label", "rsa", "--id", "0a", "--pin", PIN,
        ])
        .output()
        .expect("run softhsm2-util");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The module reads its objects when a session opens: open the token after the import.
    let token = token("rsa-sign");
    token.login(PIN).unwrap();
    let found = token.private_key("rsa").unwrap();
    assert!(matches!(found.kind, KeyKind::Rsa(_)), "{:?}", found.kind);
    // 4 MB: a long CRL's TBS is signed from its hash, never sent to the token whole.
    let message = vec![0x5a_u8; 4 << 20];
    for (digest, md) in [
        (Digest::Sha256, MessageDigest::sha256()),
        (Digest::Sha384, MessageDigest::sha384()),
        (Digest::Sha512, MessageDigest::sha512()),
    ] {
        let signature = token.sign(&found, digest, &message).unwrap();
        let mut verifier = Verifier::new(md, &key).unwrap();
        verifier.update(&message).unwrap();
        assert!(verifier.verify(&signature).unwrap(), "{digest:?}");
        // And not a signature over other bytes.
        let mut other = Verifier::new(md, &key).unwrap();
        other.update(b"other bytes").unwrap();
        assert!(!other.verify(&signature).unwrap(), "{digest:?}");
    }
}

#[test]
fn certificates_are_stored_beside_their_key() {
    let token = token("certs");
    token.login(PIN).unwrap();
    let (key, spki) = token.generate_ec_key("officer", EcCurve::P256).unwrap();
    let public = PKey::public_key_from_der(&spki).unwrap();
    let signer = PKey::ec_gen("prime256v1").unwrap();
    let mut b = openssl::x509::X509Builder::new().unwrap();
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "officer").unwrap();
    let name = name.build();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&public).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    let serial = openssl::bn::BigNum::from_u32(0x8001).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.sign(&signer, MessageDigest::sha256()).unwrap();
    let der = b.build().to_der().unwrap();
    token.store_certificate("officer", &key.id, &der).unwrap();
    token.store_certificate("officer", &key.id, &der).unwrap();
    let certs = token.certificates().unwrap();
    assert_eq!(
        certs.len(),
        1,
        "storing the same certificate twice keeps one"
    );
    let found = token.certificate_by_id(&key.id).unwrap().unwrap();
    assert_eq!((found.label.as_str(), found.der), ("officer", der));
}

#[test]
fn aes_gcm_under_a_token_key_detects_every_alteration() {
    let token = token("kek");
    token.login(PIN).unwrap();
    token.generate_aes_key("archive").unwrap();
    assert!(token.generate_aes_key("archive").is_err());
    let key = token.aes_key("archive").unwrap();
    let iv = [9u8; 12];
    let sealed = token
        .aes_gcm_encrypt(&key, &iv, b"aad", &[7u8; 32])
        .unwrap();
    assert_eq!(sealed.len(), 48);
    assert_eq!(
        token
            .aes_gcm_decrypt(&key, &iv, b"aad", &sealed)
            .unwrap()
            .as_slice(),
        &[7u8; 32]
    );
    let mut flipped = sealed.clone();
    flipped[3] ^= 1;
    let mut tag = sealed.clone();
    tag[40] ^= 1;
    let mut other_iv = iv;
    other_iv[0] ^= 1;
    for (what, iv, aad, data) in [
        ("ciphertext", iv, &b"aad"[..], &flipped),
        ("tag", iv, b"aad", &tag),
        ("iv", other_iv, b"aad", &sealed),
        ("aad", iv, b"aae", &sealed),
    ] {
        let err = token.aes_gcm_decrypt(&key, &iv, aad, data).unwrap_err();
        assert!(
            matches!(err, Pkcs11Error::Rejected { .. }),
            "{what}: {err:?}"
        );
    }
    assert!(token.aes_key("missing").is_err());
}
