//! Tests of the PKCS#12 builder and parser, with foreign consumers (OpenSSL, keytool, Python).
use super::*;
use keyward_policy::keyspec::Curve;
use keyward_policy::{DistinguishedName, KeySpec};
use openssl::asn1::Asn1Time;
use openssl::x509::X509Builder;

fn self_signed(key: &PKeyRef<Private>) -> X509 {
    self_signed_named(key, "CN=Holder")
}

fn self_signed_named(key: &PKeyRef<Private>, dn: &str) -> X509 {
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let name = crate::x509_name(&DistinguishedName::parse(dn).unwrap()).unwrap();
    let serial = openssl::bn::BigNum::from_slice(&crate::random_serial().unwrap()).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    b.sign(key, crate::message_digest_for(key)).unwrap();
    b.build()
}

/// What `openssl pkcs12 -info` must report for each profile.
fn expected_info(scheme: P12Scheme) -> &'static [&'static str] {
    match scheme {
        P12Scheme::Modern => &[
            "MAC: sha256, Iteration 2048",
            "salt length: 16",
            "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
            "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
        ],
        P12Scheme::Legacy => &[
            "MAC: sha1, Iteration 2048",
            "salt length: 8",
            "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048",
            "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048",
        ],
    }
}

#[test]
fn both_profiles_open_with_openssl_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for profile in [Pkcs12Profile::modern(), Pkcs12Profile::legacy()] {
        for spec in [
            KeySpec::Ec(Curve::BrainpoolP320r1),
            KeySpec::Dsa(1024),
            KeySpec::Rsa(2048),
        ] {
            let key = crate::generate_key(spec).unwrap();
            let cert = self_signed(&key);
            let der = build_p12(
                &key,
                &cert,
                std::slice::from_ref(&cert),
                "Holder",
                "pin-1234-x",
                &profile,
            )
            .unwrap();
            let (back, back_cert, chain) = parse_p12(&der, "pin-1234-x").unwrap();
            assert!(back.public_eq(&key));
            assert_eq!(back_cert.to_der().unwrap(), cert.to_der().unwrap());
            assert_eq!(chain.len(), 1);
            assert!(matches!(
                parse_p12(&der, "wrong"),
                Err(CryptoError::WrongPin)
            ));
            let path = dir.path().join("t.p12");
            std::fs::write(&path, &der).unwrap();
            let out = keyward_testkit::tool("openssl")
                .args([
                    "pkcs12",
                    "-info",
                    "-noout",
                    "-passin",
                    "env:KW_TEST_PIN",
                    "-in",
                ])
                .arg(&path)
                .env("KW_TEST_PIN", "pin-1234-x")
                .output()
                .unwrap();
            let info = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            let name = profile.scheme.name();
            assert!(out.status.success(), "{name} {spec}: {info}");
            for needle in expected_info(profile.scheme) {
                assert!(
                    info.contains(needle),
                    "{name} {spec}: missing {needle}: {info}"
                );
            }
        }
    }
}

const PIN: &str = "pin-1234-x";
const SIGNING: &str = "Alice Example (signing #1)";
const ENCRYPTION: &str = "Alice Example (encryption #2)";

struct TwoKeyToken {
    der: Vec<u8>,
    keys: Vec<PKey<Private>>,
    certs: Vec<X509>,
    ca: X509,
}

/// An EC brainpoolP320r1 signing key and an RSA-2048 encryption key, each with its own
/// self-signed certificate, plus one CA certificate.
fn two_key_token() -> TwoKeyToken {
    two_key_token_with(KeySpec::Ec(Curve::BrainpoolP320r1))
}

fn two_key_token_with(signing_spec: KeySpec) -> TwoKeyToken {
    let signing = crate::generate_key(signing_spec).unwrap();
    let encryption = crate::generate_key(KeySpec::Rsa(2048)).unwrap();
    let ca_key = crate::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let signing_cert = self_signed_named(&signing, "CN=Alice Example,OU=signing");
    let encryption_cert = self_signed_named(&encryption, "CN=Alice Example,OU=encryption");
    let ca = self_signed_named(&ca_key, "CN=Example CA");
    let entries = [
        P12Entry {
            key: &signing,
            certificate: &signing_cert,
            friendly_name: SIGNING,
        },
        P12Entry {
            key: &encryption,
            certificate: &encryption_cert,
            friendly_name: ENCRYPTION,
        },
    ];
    let der = build_p12_entries(
        &entries,
        std::slice::from_ref(&ca),
        PIN,
        &Pkcs12Profile::default(),
    )
    .unwrap();
    TwoKeyToken {
        der,
        keys: vec![signing, encryption],
        certs: vec![signing_cert, encryption_cert],
        ca,
    }
}

/// Runs an external tool (from `keyward_testkit::tool`, which fails clearly if it is missing)
/// with the PIN in `KW_TEST_PIN`.
fn run_tool(mut cmd: std::process::Command, args: &[&str], file: &std::path::Path) -> String {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .args(args)
        .arg(file)
        .env("KW_TEST_PIN", PIN)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} {args:?} failed: {text}");
    text
}

#[test]
fn two_key_p12_opens_in_openssl_keytool_and_python() {
    let token = two_key_token();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alice.p12");
    std::fs::write(&path, &token.der).unwrap();

    let info = run_tool(
        keyward_testkit::tool("openssl"),
        &[
            "pkcs12",
            "-info",
            "-noout",
            "-passin",
            "env:KW_TEST_PIN",
            "-in",
        ],
        &path,
    );
    for needle in [
        "MAC: sha256",
        "PBES2, PBKDF2, AES-256-CBC",
        "hmacWithSHA256",
    ] {
        assert!(info.contains(needle), "missing {needle}: {info}");
    }
    assert_eq!(info.matches("Shrouded Keybag: PBES2").count(), 2, "{info}");
    assert_eq!(info.matches("Certificate bag").count(), 3, "{info}");

    let dump = run_tool(
        keyward_testkit::tool("openssl"),
        &["pkcs12", "-nodes", "-passin", "env:KW_TEST_PIN", "-in"],
        &path,
    );
    assert_eq!(dump.matches("-----BEGIN PRIVATE KEY-----").count(), 2);
    assert_eq!(dump.matches("-----BEGIN CERTIFICATE-----").count(), 3);
    for name in [SIGNING, ENCRYPTION] {
        // The key bag and its certificate bag.
        assert_eq!(
            dump.matches(&format!("friendlyName: {name}\n")).count(),
            2,
            "{name}"
        );
    }
    let mut key_ids: Vec<&str> = dump
        .lines()
        .filter_map(|l| l.trim().strip_prefix("localKeyID: "))
        .collect();
    key_ids.sort_unstable();
    assert_eq!(key_ids.len(), 4, "{key_ids:?}");
    assert_eq!(key_ids[0], key_ids[1]);
    assert_eq!(key_ids[2], key_ids[3]);
    assert_ne!(key_ids[1], key_ids[2]);

    let keytool = run_tool(
        keyward_testkit::tool("keytool"),
        &[
            "-J-Duser.language=en",
            "-J-Duser.country=US",
            "-list",
            "-v",
            "-storetype",
            "pkcs12",
            "-storepass:env",
            "KW_TEST_PIN",
            "-keystore",
        ],
        &path,
    );
    assert!(
        keytool.contains("Your keystore contains 2 entries"),
        "{keytool}"
    );
    assert_eq!(
        keytool.matches("Entry type: PrivateKeyEntry").count(),
        2,
        "{keytool}"
    );
    for name in [SIGNING, ENCRYPTION] {
        let alias = format!("Alias name: {}\n", name.to_lowercase());
        assert!(keytool.contains(&alias), "missing {alias:?}: {keytool}");
    }

    // Python `cryptography` (48) has no brainpoolP320r1: it must get past the MAC and the
    // decryption and stop only at that curve (1.3.36.3.3.2.8.1.1.9) ...
    let python = run_tool(keyward_testkit::python_script(PYTHON_CHECK), &[], &path);
    assert!(
        python.contains("certs 3\n") || python.contains("unsupported Curve 1.3.36.3.3.2.8.1.1.9"),
        "{python}"
    );
    // ... so the same two-key token with a P-256 signing key must load in full.
    let p256 = two_key_token_with(KeySpec::Ec(Curve::Secp256r1));
    std::fs::write(&path, &p256.der).unwrap();
    let python = run_tool(keyward_testkit::python_script(PYTHON_CHECK), &[], &path);
    assert!(python.contains("key ec\n"), "{python}");
    assert!(python.contains("certs 3\n"), "{python}");
    for name in [SIGNING, ENCRYPTION] {
        assert!(python.contains(&format!("name {name}\n")), "{python}");
    }
}

/// `pkcs12.load_pkcs12` keeps one key (the first); every certificate keeps its name.
const PYTHON_CHECK: &str = "\
import os, sys
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
try:
    p = pkcs12.load_pkcs12(open(sys.argv[1], 'rb').read(), os.environb[b'KW_TEST_PIN'])
except UnsupportedAlgorithm as e:
    print('unsupported', e)
    sys.exit(0)
assert p.key is not None and p.cert is not None
print('key', 'ec' if isinstance(p.key, ec.EllipticCurvePrivateKey) else 'other')
print('certs', 1 + len(p.additional_certs))
for c in [p.cert] + p.additional_certs:
    if c.friendly_name:
        print('name', c.friendly_name.decode())
";

#[test]
fn p12_entries_round_trip_and_refuse_wrong_pins_and_damage() {
    let token = two_key_token();
    let parsed = parse_p12_entries(&token.der, PIN).unwrap();
    assert_eq!(parsed.entries.len(), 2);
    for (i, (entry, name)) in parsed.entries.iter().zip([SIGNING, ENCRYPTION]).enumerate() {
        assert!(entry
            .key
            .public_eq(&entry.certificate.public_key().unwrap()));
        assert!(entry.key.public_eq(&token.keys[i]));
        assert_eq!(
            entry.certificate.to_der().unwrap(),
            token.certs[i].to_der().unwrap()
        );
        assert_eq!(entry.friendly_name.as_deref(), Some(name));
        let debug = format!("{entry:?}");
        assert!(
            debug.contains(name) && debug.contains("Alice Example"),
            "{debug}"
        );
    }
    assert_eq!(parsed.ca.len(), 1);
    assert_eq!(parsed.ca[0].to_der().unwrap(), token.ca.to_der().unwrap());

    // parse_p12 gives the first entry and the CA certificates only.
    let (key, cert, ca) = parse_p12(&token.der, PIN).unwrap();
    assert!(key.public_eq(&token.keys[0]));
    assert_eq!(cert.to_der().unwrap(), token.certs[0].to_der().unwrap());
    assert_eq!(ca.len(), 1);

    for pin in ["wrong", "", "pin-1234-X"] {
        assert!(matches!(
            parse_p12_entries(&token.der, pin),
            Err(CryptoError::WrongPin)
        ));
    }
    assert!(matches!(
        parse_p12_entries(b"not a pkcs12", PIN),
        Err(CryptoError::BadPkcs12(_))
    ));
    assert!(matches!(
        parse_p12_entries(&token.der[..token.der.len() / 2], PIN),
        Err(CryptoError::BadPkcs12(_))
    ));

    // Every single flipped byte is refused (and none panics), except two the MAC does not
    // cover and OpenSSL ignores: the PFX version (3) and the tag of the MAC digest
    // algorithm's NULL parameters (NULL -> empty OCTET STRING). The MacData ends with
    // 30 0d <sha256 OID> 05 00 | 04 20 <MAC> | 04 10 <16-byte salt> | 02 02 08 00 (2048).
    let der = &token.der;
    let version_at = 2 + usize::from(der[1] & 0x7f) + 2;
    assert_eq!(der[version_at - 2..=version_at], [0x02, 0x01, 0x03]);
    let null_at = der.len() - 58;
    assert_eq!(der[null_at..null_at + 3], [0x05, 0x00, 0x04]);
    for at in 0..der.len() {
        let mut damaged = der.clone();
        damaged[at] ^= 0x01;
        let outcome = parse_p12_entries(&damaged, PIN);
        if at != version_at && at != null_at {
            assert!(outcome.is_err(), "byte {at} flipped went unnoticed");
        }
    }
}

#[test]
fn sealing_refuses_bad_entries() {
    let key = crate::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let other = crate::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let cert = self_signed(&key);
    let profile = Pkcs12Profile::default();
    let bad = |r: Result<Vec<u8>, CryptoError>| matches!(r, Err(CryptoError::BadPkcs12(_)));

    let none = build_p12_entries(&[], &[], PIN, &profile);
    assert!(matches!(&none, Err(CryptoError::BadPkcs12(m)) if m == "no key to seal"));
    let mismatched = P12Entry {
        key: &other,
        certificate: &cert,
        friendly_name: "x",
    };
    assert!(bad(build_p12_entries(&[mismatched], &[], PIN, &profile)));
    let twice = |name| P12Entry {
        key: &key,
        certificate: &cert,
        friendly_name: name,
    };
    assert!(bad(build_p12_entries(
        &[twice("a"), twice("b")],
        &[],
        PIN,
        &profile
    )));
    assert!(bad(build_p12_entries(&[twice("a\0b")], &[], PIN, &profile)));
    assert!(bad(build_p12_entries(
        &[twice("a")],
        &[],
        "pi\0n",
        &profile
    )));
}

/// The one-entry path produces what `PKCS12_create` (the `openssl` crate's builder, the
/// former implementation) produced: same bags, attributes, algorithms and size.
#[test]
fn one_entry_matches_pkcs12_create() {
    let dir = tempfile::tempdir().unwrap();
    let key = crate::generate_key(KeySpec::Ec(Curve::BrainpoolP320r1)).unwrap();
    let cert = self_signed(&key);
    let ca_key = crate::generate_key(KeySpec::Rsa(2048)).unwrap();
    let ca = self_signed_named(&ca_key, "CN=Example CA");
    let chain = [ca.clone(), cert.clone()];
    let ours = build_p12(
        &key,
        &cert,
        &chain,
        "Holder",
        PIN,
        &Pkcs12Profile::default(),
    )
    .unwrap();

    let mut cas = openssl::stack::Stack::new().unwrap();
    for c in &chain {
        cas.push(c.clone()).unwrap();
    }
    let mut builder = openssl::pkcs12::Pkcs12::builder();
    builder
        .name("Holder")
        .pkey(&key)
        .cert(&cert)
        .ca(cas)
        .key_algorithm(Nid::AES_256_CBC)
        .cert_algorithm(Nid::AES_256_CBC)
        .key_iter(2048)
        .mac_iter(2048)
        .mac_md(MessageDigest::sha256());
    let reference = builder.build2(PIN).unwrap().to_der().unwrap();
    // Same structure; our three salts (key bag, certificate safe, MAC) are 16 bytes, not 8.
    assert_eq!(ours.len(), reference.len() + 3 * 8);

    let dump = |der: &[u8], name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, der).unwrap();
        run_tool(
            keyward_testkit::tool("openssl"),
            &[
                "pkcs12",
                "-info",
                "-nodes",
                "-passin",
                "env:KW_TEST_PIN",
                "-in",
            ],
            &path,
        )
    };
    // Everything OpenSSL reports is the same but the MAC salt length it prints.
    assert_eq!(
        dump(&ours, "ours.p12"),
        dump(&reference, "reference.p12").replace("salt length: 8", "salt length: 16")
    );
    let parsed = parse_p12_entries(&reference, PIN).unwrap();
    assert_eq!(parsed.entries.len(), 1);
    assert_eq!(parsed.entries[0].friendly_name.as_deref(), Some("Holder"));
    assert_eq!(parsed.ca.len(), 2);
}
