//! The status index over a real store on both engines: filled from it, answering without it.

use std::time::{Duration, UNIX_EPOCH};

use openssl::pkey::PKey;
use openssl::x509::X509;
use serde_json::json;

use keyward_ocsp::{CertStatusAnswer, StatusSource};
use keyward_policy::keyspec::Curve;
use keyward_policy::usage::{KeyUsage, KeyUsageSet};
use keyward_policy::{CertificateProcedure, DistinguishedName, KeySpec, RevocationReason};
use keyward_store::{Answered, AuditCategory, NewAudit, NewRevocation, Outcome, RequestKey};
use keyward_testkit::TestDatabase;

use super::*;

keyward_testkit::on_both_engines!(async keyward_testkit::fresh_database =>
    the_index_is_filled_from_the_store_and_answers_without_it);

fn serial_hex(cert: &X509) -> String {
    let hex = cert.serial_number().to_bn().unwrap().to_hex_str().unwrap();
    hex.to_lowercase()
}

async fn the_index_is_filled_from_the_store_and_answers_without_it(db: TestDatabase) {
    let h = super::test_ca::hierarchy("Root", "Issuing");
    let ca = super::test_ca::ca_of(&h);
    let store = Store::open(&db.url).await.unwrap();
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let procedure = CertificateProcedure {
        name: "u".into(),
        validity_days: 7,
        key_usage: KeyUsageSet::of(&[KeyUsage::DigitalSignature]),
        extended_key_usage: vec!["clientAuth".into()],
        ..Default::default()
    };
    let cert = |cn: &str| {
        let dn = DistinguishedName::parse(&format!("CN={cn}")).unwrap();
        renew::issue(&ca, &public, &dn, &procedure).unwrap()
    };
    let (good, revoked, later) = (cert("Good"), cert("Revoked"), cert("Later"));
    for c in [&good, &revoked] {
        renew::record(&store, &h.issuing_cert, c, "test", "issue")
            .await
            .unwrap();
    }
    let issuer = crate::service::name_to_string(h.issuing_cert.subject_name());
    let id = store
        .certificate_status(&issuer, &serial_hex(&revoked))
        .await
        .unwrap()
        .unwrap()
        .certificate_id;
    let audit = NewAudit {
        category: AuditCategory::CertificatesRevoked,
        action: "revoke".into(),
        officer: Some("test".into()),
        outcome: Outcome::Success,
        object: None,
        detail: json!({}),
    };
    let revocation = NewRevocation {
        certificate_id: id,
        reason: RevocationReason::KeyCompromise,
        invalidity_date: None,
        audit: &audit,
    };
    store
        .revoke(&revocation, None::<(&RequestKey, fn(&_) -> Answered)>)
        .await
        .unwrap();

    let index = Arc::new(StatusIndex::new(100));
    assert_eq!(index.load_revoked(&store, &issuer).await.unwrap(), 1);
    assert_eq!(index.fill(&store, &issuer).await.unwrap(), 2);
    let source = StoreSource::new(store.clone(), issuer.clone(), index.clone());
    let status = |c: &X509| {
        let serial = serial_from_hex(&serial_hex(c)).unwrap();
        let source = source.clone();
        async move { source.status(0, &serial).await }
    };
    let revoked_answer = CertStatusAnswer::Revoked {
        at: UNIX_EPOCH
            + Duration::from_secs(
                u64::try_from(
                    store
                        .certificate_status(&issuer, &serial_hex(&revoked))
                        .await
                        .unwrap()
                        .unwrap()
                        .revocation
                        .unwrap()
                        .revoked_at,
                )
                .unwrap(),
            ),
        reason: RevocationReason::KeyCompromise,
    };
    assert_eq!(status(&good).await.unwrap(), CertStatusAnswer::Good);
    assert_eq!(status(&revoked).await.unwrap(), revoked_answer);
    // Issued after the fill: the store answers, and the index learns it.
    renew::record(&store, &h.issuing_cert, &later, "test", "issue")
        .await
        .unwrap();
    assert_eq!(status(&later).await.unwrap(), CertStatusAnswer::Good);
    assert_eq!(index.issued_len(), 3);

    // Without the store, the index still answers what it holds; anything else is an error
    // (tryLater), never a guess.
    store.close().await;
    assert_eq!(status(&good).await.unwrap(), CertStatusAnswer::Good);
    assert_eq!(status(&revoked).await.unwrap(), revoked_answer);
    assert_eq!(status(&later).await.unwrap(), CertStatusAnswer::Good);
    let never = serial_from_hex("1234").unwrap();
    assert!(source.status(0, &never).await.is_err());
}
