//! The signed-request envelope: the `keyward-signature` header checked against the officer
//! certificate of the TLS connection, over `signed_message(path, body)`.
//!
//! Input: `path \n header \n body`. Asserts that a fuzzed header never verifies, that the
//! officer's real signature over the same path and body does, and that it stops verifying
//! when one byte of the body or path changes.
#![no_main]

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderValue};
use keyward_proto::{signed_message, SIGNATURE_HEADER};
use keyward_server::api::{check_signature, Peer, PeerCertificate};
use libfuzzer_sys::fuzz_target;
use openssl::pkey::{PKey, Private};

struct Officer {
    key: PKey<Private>,
    peer: PeerCertificate,
}

fn officer() -> &'static Officer {
    static OFFICER: OnceLock<Officer> = OnceLock::new();
    OFFICER.get_or_init(|| {
        use openssl::asn1::Asn1Time;
        use openssl::ec::{EcGroup, EcKey};
        use openssl::hash::MessageDigest;
        use openssl::nid::Nid;
        use openssl::x509::{X509NameBuilder, X509};
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "fuzz officer").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let der = b.build().to_der().unwrap();
        Officer {
            key,
            peer: PeerCertificate(Some(Arc::new(Peer::new(der)))),
        }
    })
}

fn headers(value: &[u8]) -> Option<HeaderMap> {
    let mut map = HeaderMap::new();
    map.insert(SIGNATURE_HEADER, HeaderValue::from_bytes(value).ok()?);
    Some(map)
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let path = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let header = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let o = officer();
    // No certificate: always refused, never a panic.
    let none = PeerCertificate(None);
    assert!(check_signature(&none, &HeaderMap::new(), &path, body).is_err());
    if let Some(map) = headers(header) {
        assert!(
            check_signature(&o.peer, &map, &path, body).is_err(),
            "a fuzzed signature header verified"
        );
    }
    let signature = keyward_crypto::sign_message(&o.key, &signed_message(&path, body)).unwrap();
    let good = headers(STANDARD.encode(&signature).as_bytes()).unwrap();
    assert!(check_signature(&o.peer, &good, &path, body).is_ok());
    let mut tampered = body.to_vec();
    match tampered.first_mut() {
        Some(b) => *b ^= 1,
        None => tampered.push(0),
    }
    assert!(check_signature(&o.peer, &good, &path, &tampered).is_err());
    assert!(check_signature(&o.peer, &good, &format!("{path}x"), body).is_err());
});
