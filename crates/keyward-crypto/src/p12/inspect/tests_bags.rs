//! Unit tests of the inspector on files no tool here writes: keyBag, nested safeContentsBag,
//! crlBag and secretBag in a plain safe, built with encodable stand-ins of the bag types.

use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Decode, Encode};

use super::oid;
use super::tests::{ec_key, self_signed};
use super::*;

/// Encodable stand-ins for the decode-only bag types, to build files no tool here writes.
#[derive(der::Sequence)]
struct TestBag {
    bag_id: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    value: Any,
}

#[derive(der::Sequence)]
struct TestTyped {
    kind: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    value: OctetString,
}

#[derive(der::Sequence)]
struct TestInfo {
    content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    content: OctetString,
}

#[derive(der::Sequence)]
struct TestPfx {
    version: u8,
    auth_safe: TestInfo,
}

fn bag(bag_id: ObjectIdentifier, value: &impl Encode) -> TestBag {
    let value = Any::from_der(&value.to_der().unwrap()).unwrap();
    TestBag { bag_id, value }
}

fn typed(kind: &str, value: &[u8]) -> TestTyped {
    let kind = ObjectIdentifier::new_unwrap(kind);
    let value = OctetString::new(value.to_vec()).unwrap();
    TestTyped { kind, value }
}

fn data(content: &impl Encode) -> TestInfo {
    let content = OctetString::new(content.to_der().unwrap()).unwrap();
    TestInfo {
        content_type: oid::DATA,
        content,
    }
}

#[test]
fn plain_safes_show_every_bag_type_without_the_pin() {
    let key = ec_key();
    let cert = self_signed(&key, "Nested");
    let pkcs8 = Any::from_der(&key.private_key_to_pkcs8().unwrap()).unwrap();
    let cert_bag = bag(
        oid::CERT_BAG,
        &typed("1.2.840.113549.1.9.22.1", &cert.to_der().unwrap()),
    );
    let contents = vec![
        bag(oid::KEY_BAG, &pkcs8),
        bag(oid::SAFE_CONTENTS_BAG, &vec![cert_bag]),
        bag(
            oid::CRL_BAG,
            &typed("1.2.840.113549.1.9.23.1", b"not parsed"),
        ),
        bag(oid::SECRET_BAG, &typed("1.2.3.4.5", b"s3cr3t-value")),
    ];
    let pfx = TestPfx {
        version: 3,
        auth_safe: data(&vec![data(&contents)]),
    };
    let report = inspect(&pfx.to_der().unwrap(), None).unwrap();
    assert!(report.mac.is_none());
    assert_eq!(
        (report.encoding, report.pin),
        (Encoding::Der, PinStatus::NotGiven)
    );
    let bags = &report.safes[0].bags;
    assert_eq!(report.safes[0].status, SafeStatus::Plain);
    assert_eq!(
        (bags[0].bag_type.as_str(), bags[0].key_type.as_deref()),
        ("keyBag", Some("EC secp256r1"))
    );
    assert_eq!(bags[1].bag_type, "safeContentsBag");
    assert_eq!(bags[1].bags[0].location, "1.2.1");
    assert_eq!(
        bags[1].bags[0].certificate.as_ref().unwrap().subject,
        "CN=Nested"
    );
    assert_eq!(bags[2].value_type.as_deref(), Some("x509CRL"));
    assert_eq!(
        (bags[3].bag_type.as_str(), bags[3].value_type.as_deref()),
        ("secretBag", Some("1.2.3.4.5"))
    );
    assert_eq!(report.keys[0].matched_by.as_deref(), Some("public key"));
    assert!(!report.keys[0].attributes.complete);
    assert!(report.chain.all_visible && report.chain.ends_at_root);
    let shown = format!("{report:?}{}", serde_json::to_string(&report).unwrap());
    assert!(!shown.contains("s3cr3t") && !shown.contains(&hex::encode("s3cr3t")));
}
