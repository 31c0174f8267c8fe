//! Certificates: issuance, search, atomicity, concurrency.

use std::collections::BTreeSet;

use keyward_store::{AuditCategory, CertificateQuery, StoreError, StoredCertificate};
use serde_json::json;

use crate::common::{by_serial, by_subject, cert, issued, TestDb};

on_both_engines!(
    issuance_and_search,
    failed_issuance_rolls_back_everything,
    concurrent_issuance_gets_distinct_ids
);

async fn issuance_and_search(db: TestDb) {
    let s = &db.store;
    let mut alice = cert("00ABCDEF01", "CN=Alice Example,O=Example");
    alice.email = None;
    let stored = s
        .record_issuance(
            &[
                alice.clone(),
                cert("1234", "CN=Bob 50%_x,O=Example"),
                cert("0x00:FF:01", "CN=Jürgen ÄRGER,O=Other"),
            ],
            &issued("issue-token"),
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored[0].id < stored[1].id && stored[1].id < stored[2].id);
    let first = &stored[0];
    assert_eq!(first.serial_hex, "00ABCDEF01", "kept as given");
    assert_eq!(
        (first.subject.as_str(), first.issuer.as_str()),
        (alice.subject.as_str(), alice.issuer.as_str())
    );
    assert_eq!(
        (first.not_before, first.not_after),
        (alice.not_before, alice.not_after)
    );
    assert_eq!(first.der, alice.der);
    assert_eq!(first.email, None);
    assert_eq!(stored[1].email.as_deref(), Some("alice@example.org"));
    assert_eq!(first.key_usage, alice.key_usage);
    assert!(first.issued_at >= 1_700_000_000);

    for serial in ["abcdef01", "ABCDEF01", "000abcdef01", "ab:cd:ef:01"] {
        let found = s.find_certificates(&by_serial(serial)).await.unwrap();
        assert_eq!(found, vec![first.clone()], "serial {serial}");
    }
    assert_eq!(
        s.find_certificates(&by_serial("ff01")).await.unwrap()[0].id,
        stored[2].id
    );
    assert!(s
        .find_certificates(&by_serial("abcdef"))
        .await
        .unwrap()
        .is_empty());
    let bad = s.find_certificates(&by_serial("xyz")).await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");

    let by_id = CertificateQuery {
        id: Some(stored[1].id),
        ..Default::default()
    };
    assert_eq!(
        s.find_certificates(&by_id).await.unwrap(),
        vec![stored[1].clone()]
    );

    let ids =
        |found: Vec<StoredCertificate>| -> Vec<i64> { found.into_iter().map(|c| c.id).collect() };
    let example = s.find_certificates(&by_subject("o=EXAMPLE")).await.unwrap();
    assert_eq!(ids(example), [stored[0].id, stored[1].id], "ordered by id");
    let umlaut = s
        .find_certificates(&by_subject("jürgen ärger"))
        .await
        .unwrap();
    assert_eq!(ids(umlaut), [stored[2].id], "case-insensitive beyond ASCII");
    let literal = s.find_certificates(&by_subject("50%_")).await.unwrap();
    assert_eq!(ids(literal), [stored[1].id], "LIKE wildcards are literal");
    assert!(s
        .find_certificates(&by_subject("a%e"))
        .await
        .unwrap()
        .is_empty());

    let and = CertificateQuery {
        id: Some(stored[0].id),
        subject: Some("bob".into()),
        ..Default::default()
    };
    assert!(
        s.find_certificates(&and).await.unwrap().is_empty(),
        "criteria ANDed"
    );
    let limited = CertificateQuery {
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(
        ids(s.find_certificates(&limited).await.unwrap()),
        [stored[0].id, stored[1].id]
    );
    let all = s
        .find_certificates(&CertificateQuery::default())
        .await
        .unwrap();
    assert_eq!(all, stored);

    let log = s.audit_records(1).await.unwrap();
    let record = &log[0];
    let expected = format!("{},{},{}", stored[0].id, stored[1].id, stored[2].id);
    assert_eq!(record.object.as_deref(), Some(expected.as_str()));
    assert_eq!(record.category, AuditCategory::CertificatesIssued);
    assert_eq!(
        record.detail,
        json!({ "action": "issue-token", "serials": ["00ABCDEF01", "1234", "0x00:FF:01"] })
    );

    let empty = s.record_issuance(&[], &issued("x")).await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
    let mut bad_origin = cert("77", "CN=X");
    bad_origin.key_origin = "elsewhere".into();
    let refused = s.record_issuance(&[bad_origin], &issued("x")).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
}

async fn failed_issuance_rolls_back_everything(db: TestDb) {
    let s = &db.store;
    let first = s
        .record_issuance(&[cert("0a0b", "CN=First")], &issued("issue"))
        .await
        .unwrap();
    let log_before = s.audit_records(1000).await.unwrap();

    let batch = [cert("ffff", "CN=Carol"), cert("0A0B", "CN=Duplicate")];
    let err = s
        .record_issuance(&batch, &issued("issue"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(f) if f == "certificate serial"),
        "{err}"
    );
    assert!(s
        .find_certificates(&by_subject("carol"))
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .find_certificates(&by_serial("ffff"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.audit_records(1000).await.unwrap(),
        log_before,
        "no audit record"
    );

    // The serial that failed with the batch can be recorded now; its ID is new.
    let next = s
        .record_issuance(&[cert("ffff", "CN=Carol")], &issued("issue"))
        .await
        .unwrap();
    assert!(next[0].id > first[0].id);
    let all = s
        .find_certificates(&CertificateQuery::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
}

async fn concurrent_issuance_gets_distinct_ids(db: TestDb) {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let s = db.store.clone();
            tokio::spawn(async move {
                let c = cert(&format!("{:x}", 0x1000 + i), &format!("CN=Person {i}"));
                s.record_issuance(&[c], &issued("issue")).await.unwrap()[0].id
            })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for task in tasks {
        assert!(ids.insert(task.await.unwrap()), "duplicate id");
    }
    assert_eq!(ids.len(), 50);
    let stored = db
        .store
        .find_certificates(&CertificateQuery::default())
        .await
        .unwrap();
    assert_eq!(stored.len(), 50);
    let log = db.store.audit_records(100).await.unwrap();
    assert_eq!(log.len(), 50);
    let objects: BTreeSet<i64> = log
        .iter()
        .map(|r| r.object.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(objects, ids, "each audit record names its own certificate");
}
