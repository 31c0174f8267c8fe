//! Certificates: issuance, search, atomicity, concurrency.

use std::collections::BTreeSet;

use keyward_store::{
    ArchivedKeyQuery, AuditCategory, CertificateQuery, ConflictOn, Engine, StoreError,
    StoredCertificate,
};
use serde_json::json;

use crate::common::{by_serial, by_subject, cert, issued, raw, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    issuance_and_search,
    subject_search_through_the_trigram_index,
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

    // The whole subject, case-insensitively: a subject that contains it is not it.
    let exact = |subject: &str| CertificateQuery {
        subject_exact: Some(subject.into()),
        ..Default::default()
    };
    let bob = s.find_certificates(&exact("cn=BOB 50%_x,o=example")).await;
    assert_eq!(ids(bob.unwrap()), [stored[1].id]);
    let part = s.find_certificates(&exact("CN=Bob 50%_x")).await.unwrap();
    assert!(part.is_empty(), "{part:?}");
    let jurgen = s.find_certificates(&exact("cn=jürgen ärger,o=other")).await;
    assert_eq!(ids(jurgen.unwrap()), [stored[2].id]);

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
        matches!(&err, StoreError::Conflict(ConflictOn::CertificateSerial)),
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

/// Subject substring search through the trigram index of migration 0008 (FTS5 on SQLite,
/// pg_trgm on PostgreSQL) finds exactly what a scan finds: quotes, wildcards, text across
/// attributes, non-ASCII text, and text too short for a trigram (scanned).
async fn subject_search_through_the_trigram_index(db: TestDb) {
    let s = &db.store;
    let subjects = [
        "CN=Carol \"CJ\" Jones,O=Example",
        "CN=Anna Svensson,serialNumber=197001010001,O=Example",
        "CN=Anna Svensson,serialNumber=197001010002,O=Other",
        "CN=Øystein Åberg,O=Example",
        "CN=x,O=Example",
    ];
    let certs: Vec<_> = subjects
        .iter()
        .enumerate()
        .map(|(i, subject)| cert(&format!("{:x}", 0x4000 + i), subject))
        .collect();
    let stored = s
        .record_issuance(&certs, &issued("issue-token"))
        .await
        .unwrap();
    let ids =
        |found: Vec<StoredCertificate>| -> Vec<i64> { found.into_iter().map(|c| c.id).collect() };
    for (text, expected) in [
        ("\"cj\"", vec![0]),
        ("cj", vec![0]),
        ("ANNA SVENSSON", vec![1, 2]),
        ("svensson,serialnumber=197001010002,o", vec![2]),
        ("0001", vec![1]),
        ("øystein å", vec![3]),
        ("=x,", vec![4]),
        ("o=example", vec![0, 1, 3, 4]),
        ("anna  svensson", vec![]),
        ("nobody here", vec![]),
    ] {
        let want: Vec<i64> = expected.iter().map(|&i| stored[i].id).collect();
        let found = ids(s.find_certificates(&by_subject(text)).await.unwrap());
        assert_eq!(found, want, "certificates, subject {text:?}");
        let keys = s
            .find_archived_keys(&ArchivedKeyQuery {
                subject: Some(text.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(keys.is_empty(), "no archived keys here");
    }

    // The index exists and (on SQLite) drives the search.
    let pool = raw(&db).await;
    match db.engine {
        Engine::Sqlite => {
            // The shape of the store's query: the FTS5 phrase finds the rows, no table scan.
            let rows = sqlx::query(
                "EXPLAIN QUERY PLAN SELECT c.id FROM certificates_subject_fts \
                 JOIN certificates c ON c.id = certificates_subject_fts.rowid \
                 WHERE certificates_subject_fts MATCH '\"ann\"' \
                 AND c.subject_lower LIKE '%anna%' ESCAPE '\\' \
                 ORDER BY certificates_subject_fts.rowid LIMIT 100",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            let text: Vec<String> = rows
                .iter()
                .map(|r| sqlx::Row::get::<String, _>(r, "detail"))
                .collect();
            let text = text.join("\n");
            // The index drives, in ID order (no sort step), and each row is fetched by its ID.
            assert!(
                text.contains("SCAN certificates_subject_fts VIRTUAL TABLE"),
                "{text}"
            );
            assert!(text.contains("USING INTEGER PRIMARY KEY"), "{text}");
            assert!(!text.contains("TEMP B-TREE"), "{text}");
            let triggers: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            assert!(
                triggers
                    .iter()
                    .any(|n| n == "certificates_subject_fts_insert"),
                "{triggers:?}"
            );
        }
        Engine::Postgres => {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'certificates_subject_trgm'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(n, 1, "pg_trgm index");
        }
    }
    pool.close().await;
}
