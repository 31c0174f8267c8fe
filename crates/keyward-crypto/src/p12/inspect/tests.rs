//! Unit tests of the inspector: naming, BMPString decoding, our own tokens in both profiles,
//! BER and PBMAC1 variants made from them, PIN outcomes, and that no secret leaks.

use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Decode, Encode, EncodingRules};
use openssl::asn1::Asn1Time;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

use super::asn1::{AlgId, DigestInfo, MacData};
use super::names::{self, decode_bmp};
use super::oid;
use super::params::{PbeParams, Pbes2Params, Pbkdf2Params, Pbmac1Params};
use super::*;
use crate::{build_p12, Pkcs12Profile};

const PIN: &str = "Correct-Horse-7";

pub(super) fn ec_key() -> PKey<Private> {
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap()
}

pub(super) fn self_signed(key: &PKey<Private>, cn: &str) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = openssl::bn::BigNum::from_u32(0x4f0a).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.sign(key, openssl::hash::MessageDigest::sha256()).unwrap();
    b.build()
}

fn token(profile: &Pkcs12Profile, pin: &str) -> (PKey<Private>, Vec<u8>) {
    let key = ec_key();
    let cert = self_signed(&key, "Holder");
    let der = build_p12(&key, &cert, &[], "holder", pin, profile).unwrap();
    (key, der)
}

fn alg(oid: &str, params: &(impl der::EncodeValue + der::Tagged)) -> AlgId {
    AlgId {
        oid: ObjectIdentifier::new_unwrap(oid),
        parameters: Some(Any::encode_from(params).unwrap()),
    }
}

#[test]
fn algorithms_are_named_as_openssl_does() {
    let pbe = |oid: &str| {
        let params = PbeParams {
            salt: OctetString::new(vec![7u8; 8]).unwrap(),
            iterations: 2048,
        };
        names::encryption(&alg(oid, &params), EncodingRules::Der)
    };
    let rc2 = pbe("1.2.840.113549.1.12.1.6");
    assert_eq!(rc2.algorithm, "pbeWithSHA1And40BitRC2-CBC");
    assert_eq!((rc2.iterations, rc2.salt_length), (Some(2048), Some(8)));
    assert_eq!(
        rc2.to_string(),
        "pbeWithSHA1And40BitRC2-CBC (2048 iterations, 8-byte salt)"
    );
    assert_eq!(
        pbe("1.2.840.113549.1.12.1.3").algorithm,
        "pbeWithSHA1And3-KeyTripleDES-CBC"
    );
    assert_eq!(
        pbe("1.2.840.113549.1.12.1.1").algorithm,
        "pbeWithSHA1And128BitRC4"
    );
    // An unknown scheme is shown by its OID, never an error.
    assert_eq!(pbe("1.2.3.4").algorithm, "1.2.3.4");

    let kdf = alg(
        "1.2.840.113549.1.5.12",
        &Pbkdf2Params {
            salt: Any::encode_from(&OctetString::new(vec![1u8; 16]).unwrap()).unwrap(),
            iteration_count: 600_000,
            key_length: None,
            prf: Some(AlgId {
                oid: ObjectIdentifier::new_unwrap("1.2.840.113549.2.11"),
                parameters: None,
            }),
        },
    );
    let cipher = AlgId {
        oid: ObjectIdentifier::new_unwrap("1.2.840.113549.3.7"),
        parameters: None,
    };
    let pbes2 = alg(
        "1.2.840.113549.1.5.13",
        &Pbes2Params {
            kdf,
            encryption_scheme: cipher,
        },
    );
    let e = names::encryption(&pbes2, EncodingRules::Der);
    assert_eq!(e.algorithm, "PBES2");
    assert_eq!(e.kdf.as_deref(), Some("PBKDF2"));
    assert_eq!(e.prf.as_deref(), Some("hmacWithSHA512"));
    assert_eq!(e.cipher.as_deref(), Some("DES-EDE3-CBC"));
    assert_eq!((e.iterations, e.salt_length), (Some(600_000), Some(16)));
    assert_eq!(
        names::digest(&ObjectIdentifier::new_unwrap("1.3.14.3.2.26")).0,
        "sha1"
    );
    assert_eq!(
        names::bag_type(&oid::SHROUDED_KEY_BAG),
        "pkcs8ShroudedKeyBag"
    );
    assert_eq!(names::content_type(&oid::ENCRYPTED_DATA), "encryptedData");
}

#[test]
fn bmp_strings_decode() {
    assert_eq!(decode_bmp(&[0, b'a', 0, b'l', 0, b'i']), "ali");
    // "Å" (U+00C5) and "😀" (U+1F600, a surrogate pair).
    assert_eq!(decode_bmp(&[0x00, 0xc5, 0xd8, 0x3d, 0xde, 0x00]), "Å😀");
    // A trailing NUL (some writers add one) is dropped, as is an odd byte.
    assert_eq!(decode_bmp(&[0, b'x', 0, 0, 0x41]), "x");
    // An unpaired surrogate is replaced, not an error.
    assert_eq!(decode_bmp(&[0xd8, 0x3d, 0, b'y']), "\u{fffd}y");
    assert_eq!(decode_bmp(&[]), "");
}

#[test]
fn own_tokens_in_both_profiles() {
    for (profile, digest, salt, name) in [
        (Pkcs12Profile::modern(), "sha256", 16, "PBES2"),
        (
            Pkcs12Profile::legacy(),
            "sha1",
            8,
            "pbeWithSHA1And3-KeyTripleDES-CBC",
        ),
    ] {
        let (_key, der) = token(&profile, PIN);
        let closed = inspect(&der, None).unwrap();
        assert_eq!(closed.encoding, Encoding::Der);
        assert_eq!(closed.version, 3);
        assert_eq!(closed.pin, PinStatus::NotGiven);
        let mac = closed.mac.as_ref().unwrap();
        assert_eq!((mac.digest.as_str(), mac.salt_length), (digest, Some(salt)));
        assert_eq!(mac.status, MacStatus::NotChecked);
        assert_eq!(closed.safes[0].status, SafeStatus::Encrypted);
        assert!(closed.safes[0].bags.is_empty());
        assert_eq!(closed.safes[0].encryption.as_ref().unwrap().algorithm, name);
        let key_bag = &closed.safes[1].bags[0];
        assert_eq!(key_bag.encryption.as_ref().unwrap().algorithm, name);
        assert_eq!(key_bag.key_type, None);
        assert!(closed.certificates.is_empty());
        assert!(!closed.chain.all_visible);

        let open = inspect(&der, Some(PIN)).unwrap();
        assert_eq!(open.pin, PinStatus::Accepted);
        assert_eq!(open.mac.as_ref().unwrap().status, MacStatus::Verified);
        assert_eq!(open.safes[0].status, SafeStatus::Decrypted);
        assert_eq!(open.keys[0].key_type.as_deref(), Some("EC secp256r1"));
        assert_eq!(open.keys[0].certificate, Some(1));
        assert_eq!(open.keys[0].matched_by.as_deref(), Some("localKeyId"));
        assert!(open.keys[0].attributes.complete);
        let cert = &open.certificates[0];
        assert_eq!(cert.info.subject, "CN=Holder");
        assert_eq!(cert.info.serial, "4f0a");
        assert!(cert.self_signed && cert.end_entity_of == Some(1));
        assert!(open.chain.all_visible && open.chain.forms_path && open.chain.ends_at_root);
        assert_eq!(open.chain.order, "single");
    }
}

#[test]
fn wrong_pin_damage_and_empty_pin() {
    let (_key, der) = token(&Pkcs12Profile::modern(), PIN);
    let wrong = inspect(&der, Some("not-the-pin")).unwrap();
    assert_eq!(wrong.pin, PinStatus::Wrong);
    assert_eq!(wrong.mac.unwrap().status, MacStatus::WrongPinOrDamaged);
    assert_eq!(wrong.safes[0].status, SafeStatus::Undecryptable);

    // A DER PFX ends with the MAC value (04 20 + 32 bytes), the salt (04 10 + 16) and the
    // iteration count (02 02 08 00). Flip one MAC byte: the PIN still opens the contents, so
    // the file is damaged.
    let mut damaged = der.clone();
    let mac_at = der.len() - 4 - 18 - 32;
    assert_eq!(&der[mac_at - 2..mac_at], &[0x04, 0x20]);
    damaged[mac_at] ^= 1;
    let report = inspect(&damaged, Some(PIN)).unwrap();
    assert_eq!(report.mac.unwrap().status, MacStatus::Damaged);
    assert_eq!(report.pin, PinStatus::Accepted);

    let (_key, empty) = token(&Pkcs12Profile::legacy(), "");
    let report = inspect(&empty, None).unwrap();
    assert_eq!(report.pin, PinStatus::Empty);
    assert_eq!(report.keys[0].key_type.as_deref(), Some("EC secp256r1"));
    assert!(matches!(
        inspect(&der, Some("a\0b")),
        Err(CryptoError::WrongPin)
    ));
}

#[test]
fn ber_lengths_not_pkcs12_and_truncated() {
    let (_key, der) = token(&Pkcs12Profile::modern(), PIN);
    // A non-minimal outer length (30 82 hh ll → 30 83 00 hh ll): BER, read through OpenSSL's
    // re-encoding; the MAC still verifies.
    assert_eq!(&der[..2], &[0x30, 0x82]);
    let mut ber = vec![0x30, 0x83, 0x00];
    ber.extend_from_slice(&der[2..]);
    let report = inspect(&ber, Some(PIN)).unwrap();
    assert_eq!(report.encoding, Encoding::Ber);
    assert_eq!(report.mac.unwrap().status, MacStatus::Verified);
    assert_eq!(report.keys[0].certificate, Some(1));

    assert!(matches!(
        inspect(b"hello", None),
        Err(CryptoError::NotPkcs12(_))
    ));
    assert!(matches!(
        inspect(&der[..der.len() / 2], None),
        Err(CryptoError::NotPkcs12(_))
    ));
    assert!(matches!(inspect(&[], None), Err(CryptoError::NotPkcs12(_))));
}

#[test]
fn pbmac1_is_recognised() {
    let (_key, der) = token(&Pkcs12Profile::modern(), PIN);
    // Replace the MacData by an RFC 9579 one (PBKDF2-HMAC-SHA256, HMAC-SHA256).
    let mut parts: Vec<Any> = Vec::from_der(&der).unwrap();
    let kdf = alg(
        "1.2.840.113549.1.5.12",
        &Pbkdf2Params {
            salt: Any::encode_from(&OctetString::new(vec![9u8; 20]).unwrap()).unwrap(),
            iteration_count: 4096,
            key_length: Some(32),
            prf: Some(AlgId {
                oid: ObjectIdentifier::new_unwrap("1.2.840.113549.2.9"),
                parameters: None,
            }),
        },
    );
    let scheme = AlgId {
        oid: ObjectIdentifier::new_unwrap("1.2.840.113549.2.9"),
        parameters: None,
    };
    let pbmac1 = Pbmac1Params {
        kdf,
        message_auth_scheme: scheme,
    };
    let mac = MacData {
        mac: DigestInfo {
            algorithm: alg("1.2.840.113549.1.5.14", &pbmac1),
            digest: OctetString::new(vec![0u8; 32]).unwrap(),
        },
        mac_salt: OctetString::new(b"NOT USED".to_vec()).unwrap(),
        iterations: 1,
    };
    parts[2] = Any::encode_from(&mac).unwrap();
    let pbmac1_der = parts.to_der().unwrap();
    let report = inspect(&pbmac1_der, Some(PIN)).unwrap();
    let mac = report.mac.unwrap();
    assert_eq!(
        (mac.algorithm.as_str(), mac.digest.as_str()),
        ("PBMAC1", "hmacWithSHA256")
    );
    assert_eq!(
        (mac.iterations, mac.salt_length, mac.mac_length),
        (Some(4096), Some(20), 32)
    );
    let kdf = mac.kdf.unwrap();
    assert_eq!(
        (kdf.algorithm.as_str(), kdf.key_length),
        ("PBKDF2", Some(32))
    );
    assert_eq!(mac.status, MacStatus::Unsupported);
    // The PIN still opens the contents.
    assert_eq!(report.pin, PinStatus::Accepted);
    assert_eq!(report.safes[0].status, SafeStatus::Decrypted);
}

#[test]
fn reports_hold_no_secret() {
    let (key, der) = token(&Pkcs12Profile::modern(), PIN);
    let report = inspect(&der, Some(PIN)).unwrap();
    let debug = format!("{report:?}");
    let json = serde_json::to_string(&report).unwrap();
    let scalar = hex::encode(key.ec_key().unwrap().private_key().to_vec());
    let pkcs8 = hex::encode(key.private_key_to_pkcs8().unwrap());
    for text in [&debug, &json] {
        assert!(!text.contains(PIN));
        assert!(!text.to_lowercase().contains(&scalar));
        assert!(!text.to_lowercase().contains(&pkcs8[pkcs8.len() - 40..]));
    }
    assert!(json.contains("\"key_type\":\"EC secp256r1\""));
}

#[test]
fn key_types_are_named() {
    use keyward_policy::keyspec::Curve;
    use keyward_policy::KeySpec;
    for (spec, name) in [
        (KeySpec::Ec(Curve::BrainpoolP320r1), "EC brainpoolP320r1"),
        (KeySpec::Ec(Curve::Secp384r1), "EC secp384r1"),
        (KeySpec::Dsa(1024), "DSA 1024"),
        (KeySpec::Rsa(2048), "RSA 2048"),
    ] {
        assert_eq!(
            super::crypt::key_type(&crate::generate_key(spec).unwrap()),
            name
        );
    }
    assert_eq!(super::crypt::key_type(&ec_key()), "EC secp256r1");
}
