//! Secrets sealed for the store open only with their own purpose and context, and never as an
//! archived key.

use super::*;
use keyward_crypto::transport::TransportKeyPair;
use keyward_policy::keyspec::Curve;

fn new_kra() -> Kra {
    Kra::new(Some(Box::new(SoftwareArchiveKey::generate().unwrap())))
}

#[test]
fn opens_only_with_its_purpose_and_context() {
    let kra = new_kra();
    let env = kra
        .seal_secret("pin-letter", "100001", b"pin\npuk")
        .unwrap();
    assert!(!env.sealed.windows(7).any(|w| w == b"pin\npuk"));
    let back = kra.open_secret(&env, "pin-letter", "100001").unwrap();
    assert_eq!(back.as_slice(), b"pin\npuk");
    for (purpose, context) in [("pin-letter", "100002"), ("pin-mail", "100001")] {
        assert!(matches!(
            kra.open_secret(&env, purpose, context),
            Err(KraError::Damaged(_))
        ));
    }
    let other = new_kra();
    assert!(other.open_secret(&env, "pin-letter", "100001").is_err());
}

#[test]
fn refuses_empty_and_huge_secrets() {
    let kra = new_kra();
    assert!(kra.seal_secret("p", "c", b"").is_err());
    assert!(kra
        .seal_secret("p", "c", &vec![7u8; MAX_SECRET + 1])
        .is_err());
    assert!(Kra::new(None).seal_secret("p", "c", b"x").is_err());
}

#[test]
fn an_archived_key_envelope_is_no_secret_and_back() {
    let kra = new_kra();
    let ra = TransportKeyPair::generate().unwrap();
    let recipient = Kra::transport_key(&ra.public_der().unwrap()).unwrap();
    let made = kra
        .generate(KeySpec::Ec(Curve::Secp256r1), true, &recipient, "r1")
        .unwrap();
    let envelope = made.envelope.unwrap();
    let spki = made.public_key.public_key_to_der().unwrap();
    let context = keyward_crypto::sha256_hex(&spki);
    assert!(kra.open_secret(&envelope, "pin-letter", &context).is_err());

    let secret = kra.seal_secret("archived-key", &context, b"x").unwrap();
    assert!(kra
        .recover(&secret, &made.public_key, &recipient, "r2")
        .is_err());
}
