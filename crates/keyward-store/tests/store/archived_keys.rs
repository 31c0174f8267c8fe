//! Archived keys: recorded with their certificates, searched, audited, rolled back, and never
//! shown in `Debug` output.

use keyward_store::{
    ArchivedKey, ArchivedKeyQuery, AuditCategory, AuditRecord, CertificateQuery, ConflictOn,
    NewArchivedKey, NewAudit, NewCertificate, Outcome, StoreError,
};
use serde_json::json;

use crate::common::{audit, by_subject, cert, issued, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    archive_and_find,
    archiving_is_audited,
    record_token_appends_extra_records,
    failed_archive_rolls_back_everything,
    debug_never_shows_sealed_keys
);

const ALICE: &str = "CN=Alice Example,O=Example,C=SE";
const ENCRYPTION: &str = "keyEncipherment";
const AUTHENTICATION: &str = "digitalSignature,keyEncipherment";

/// A certificate for a key the server generated and archives.
fn archived(serial: &str, subject: &str, key_usage: &str, sealed: &[u8]) -> NewCertificate {
    let mut c = cert(serial, subject);
    c.key_origin = "server".into();
    c.key_usage = key_usage.into();
    c.archived_key = Some(NewArchivedKey {
        key_procedure: "archive-encryption".into(),
        key_spec: "RSA:2048".into(),
        key_usage: key_usage.into(),
        kek_id: "kek-2024-01".into(),
        sealed: sealed.to_vec(),
    });
    c
}

/// The Certificate IDs of archived keys, in the order found.
fn ids(found: &[ArchivedKey]) -> Vec<i64> {
    found.iter().map(|k| k.certificate.id).collect()
}

/// Whether a stored audit record is `new` as given.
fn same(stored: &AuditRecord, new: &NewAudit) -> bool {
    stored.category == new.category
        && stored.action == new.action
        && stored.officer == new.officer
        && stored.outcome == new.outcome
        && stored.object == new.object
        && stored.detail == new.detail
}

async fn archive_and_find(db: TestDb) {
    let s = &db.store;
    let every_byte: Vec<u8> = (0..=255).collect();
    let mut alice_2 = archived("0a02", ALICE, AUTHENTICATION, b"alice 2\0\xff");
    if let Some(key) = alice_2.archived_key.as_mut() {
        key.kek_id = "kek-2025-02".into();
        key.key_spec = "EC:P-256".into();
    }
    let batch = [
        archived("0a01", ALICE, ENCRYPTION, &every_byte),
        cert("0c01", "CN=Carol Example,O=Example,C=SE"),
        archived("0b01", "CN=Bob Example,O=Example,C=SE", ENCRYPTION, b"bob"),
        alice_2.clone(),
        archived(
            "0d01",
            "OU=Ops,CN=Alice Example,O=Example,C=SE",
            ENCRYPTION,
            b"ops",
        ),
    ];
    let stored = s
        .record_issuance(&batch, &issued("issue-token"))
        .await
        .unwrap();
    let [alice_1_id, carol_id, bob_id, alice_2_id, ops_id] = [0, 1, 2, 3, 4].map(|i| stored[i].id);

    let find = |q: ArchivedKeyQuery| async move { s.find_archived_keys(&q).await.unwrap() };
    let all = find(ArchivedKeyQuery::default()).await;
    assert_eq!(
        ids(&all),
        [alice_1_id, bob_id, alice_2_id, ops_id],
        "every archived key, by Certificate ID; none for Carol"
    );

    let first = &all[0];
    assert_eq!(
        first.certificate, stored[0],
        "the certificate comes back whole"
    );
    assert_eq!(first.certificate.der, batch[0].der);
    assert_eq!(first.certificate.serial_hex, "0a01");
    assert_eq!(first.certificate.subject, ALICE);
    assert_eq!(first.sealed, every_byte, "sealed bytes round-trip");
    assert_eq!(first.kek_id, "kek-2024-01");
    assert_eq!(
        (
            first.key_procedure.as_str(),
            first.key_spec.as_str(),
            first.key_usage.as_str()
        ),
        ("archive-encryption", "RSA:2048", ENCRYPTION)
    );
    assert_eq!(first.archived_at, first.certificate.issued_at);
    let second = &all[2];
    let new_key = alice_2.archived_key.as_ref().unwrap();
    assert_eq!(second.certificate, stored[3]);
    assert_eq!(second.sealed, new_key.sealed);
    assert_eq!(second.kek_id, "kek-2025-02");
    assert_eq!(second.key_spec, "EC:P-256");
    assert_eq!(second.key_usage, AUTHENTICATION);
    assert_ne!(all[0].id, all[1].id);

    let by_id = |id| ArchivedKeyQuery {
        certificate_id: Some(id),
        ..Default::default()
    };
    assert_eq!(find(by_id(bob_id)).await, vec![all[1].clone()]);
    assert!(find(by_id(carol_id)).await.is_empty(), "not archived");

    let by_serial = |serial: &str| ArchivedKeyQuery {
        serial_hex: Some(serial.into()),
        ..Default::default()
    };
    assert_eq!(ids(&find(by_serial("00:0A:01")).await), [alice_1_id]);
    assert_eq!(ids(&find(by_serial("000A02")).await), [alice_2_id]);
    assert!(find(by_serial("0C:01")).await.is_empty(), "not archived");
    let bad = s.find_archived_keys(&by_serial("xyz")).await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");

    let by_subject = |subject: &str| ArchivedKeyQuery {
        subject: Some(subject.into()),
        ..Default::default()
    };
    assert_eq!(
        ids(&find(by_subject("ALICE example")).await),
        [alice_1_id, alice_2_id, ops_id]
    );
    assert_eq!(ids(&find(by_subject("cn=bob")).await), [bob_id]);
    assert!(find(by_subject("carol")).await.is_empty(), "not archived");

    let exact = |subject: &str| ArchivedKeyQuery {
        subject_exact: Some(subject.into()),
        ..Default::default()
    };
    let alices = find(exact("cn=ALICE example,o=EXAMPLE,c=se")).await;
    assert_eq!(
        ids(&alices),
        [alice_1_id, alice_2_id],
        "case-insensitive, and not the longer subject containing it"
    );
    assert_eq!(
        alices.last().unwrap().certificate.id,
        alice_2_id,
        "newest last"
    );
    assert!(
        find(exact("CN=Alice Example")).await.is_empty(),
        "whole subject"
    );
    assert_eq!(
        ids(&find(exact("ou=ops,cn=alice example,o=example,c=se")).await),
        [ops_id]
    );

    let by_usage = |key_usage: &str| ArchivedKeyQuery {
        key_usage: Some(key_usage.into()),
        ..Default::default()
    };
    assert_eq!(
        ids(&find(by_usage(ENCRYPTION)).await),
        [alice_1_id, bob_id, ops_id]
    );
    assert_eq!(ids(&find(by_usage(AUTHENTICATION)).await), [alice_2_id]);
    assert!(
        find(by_usage("keyencipherment")).await.is_empty(),
        "exact text"
    );

    let alice_encryption = ArchivedKeyQuery {
        subject_exact: Some(ALICE.to_lowercase()),
        key_usage: Some(ENCRYPTION.into()),
        ..Default::default()
    };
    assert_eq!(ids(&find(alice_encryption).await), [alice_1_id], "ANDed");
    let none = ArchivedKeyQuery {
        certificate_id: Some(alice_1_id),
        key_usage: Some(AUTHENTICATION.into()),
        ..Default::default()
    };
    assert!(find(none).await.is_empty(), "ANDed");
    let limited = ArchivedKeyQuery {
        subject: Some("example".into()),
        limit: Some(2),
        ..Default::default()
    };
    // A limit keeps the newest keys (recovery's "last" must see the newest), still ascending.
    assert_eq!(ids(&find(limited).await), [alice_2_id, ops_id]);
    let zero = ArchivedKeyQuery {
        limit: Some(0),
        ..Default::default()
    };
    assert_eq!(ids(&find(zero).await), [ops_id], "limit clamped to 1");
}

async fn archiving_is_audited(db: TestDb) {
    let s = &db.store;
    let mut bob = archived("0b01", "CN=Bob Example,O=Example,C=SE", ENCRYPTION, b"bob");
    bob.officer = "bert".into();
    bob.token_procedure = "employee".into();
    let batch = [
        archived("00:0A:01", ALICE, ENCRYPTION, b"SECRET-MARKER alice"),
        cert("0c01", "CN=Carol Example,O=Example,C=SE"),
        bob,
    ];
    let stored = s
        .record_issuance(&batch, &issued("issue-token"))
        .await
        .unwrap();
    let log = s.audit_records(100).await.unwrap();
    assert_eq!(log.len(), 3, "{log:#?}");

    let issuance = &log[0];
    let expected = format!("{},{},{}", stored[0].id, stored[1].id, stored[2].id);
    assert_eq!(issuance.category, AuditCategory::CertificatesIssued);
    assert_eq!(issuance.object.as_deref(), Some(expected.as_str()));
    assert_eq!(
        issuance.detail,
        json!({ "action": "issue-token", "serials": ["00:0A:01", "0c01", "0b01"] })
    );

    let alice_id = stored[0].id.to_string();
    let alice = NewAudit {
        category: AuditCategory::KeysArchived,
        action: "archive-key".into(),
        officer: Some("root".into()),
        outcome: Outcome::Success,
        object: Some(alice_id),
        detail: json!({
            "serial": "00:0A:01",
            "key_procedure": "archive-encryption",
            "key_spec": "RSA:2048",
            "kek_id": "kek-2024-01",
            "token_procedure": "person",
            "subject": ALICE,
        }),
    };
    assert!(same(&log[1], &alice), "{:#?}", log[1]);
    let bob_id = stored[2].id.to_string();
    let bob = NewAudit {
        officer: Some("bert".into()),
        object: Some(bob_id),
        detail: json!({
            "serial": "0b01",
            "key_procedure": "archive-encryption",
            "key_spec": "RSA:2048",
            "kek_id": "kek-2024-01",
            "token_procedure": "employee",
            "subject": "CN=Bob Example,O=Example,C=SE",
        }),
        ..alice
    };
    assert!(same(&log[2], &bob), "{:#?}", log[2]);
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains("SECRET-MARKER"), "{text}");
}

async fn record_token_appends_extra_records(db: TestDb) {
    let s = &db.store;
    let recovered = |id: &str| NewAudit {
        category: AuditCategory::KeysRecovered,
        action: "recover-key".into(),
        officer: Some("alice".into()),
        outcome: Outcome::Success,
        object: Some(id.into()),
        detail: json!({ "certificate_id": id, "key_procedure": "recover-encryption" }),
    };
    let extra = [recovered("7"), recovered("9")];
    let token = audit(AuditCategory::KeysRecovered, "recover-token");
    let none = s.record_token(&[], &token, &extra, None).await.unwrap();
    assert!(none.is_empty());
    let log = s.audit_records(100).await.unwrap();
    assert_eq!(log.len(), 3, "{log:#?}");
    let with_serials = NewAudit {
        object: None,
        detail: json!({ "action": "recover-token", "serials": [] }),
        ..token.clone()
    };
    assert!(same(&log[0], &with_serials), "{:#?}", log[0]);
    assert!(same(&log[1], &extra[0]), "verbatim: {:#?}", log[1]);
    assert!(same(&log[2], &extra[1]), "verbatim: {:#?}", log[2]);
    assert!(s
        .find_certificates(&CertificateQuery::default())
        .await
        .unwrap()
        .is_empty());

    // With certificates, the same as record_issuance, then the extra records.
    let batch = [
        archived("0a01", ALICE, ENCRYPTION, b"alice"),
        cert("0a02", ALICE),
    ];
    let stored = s
        .record_token(&batch, &issued("issue-token"), &extra[1..], None)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        s.find_certificates(&CertificateQuery::default())
            .await
            .unwrap(),
        stored
    );
    let keys = s
        .find_archived_keys(&ArchivedKeyQuery::default())
        .await
        .unwrap();
    assert_eq!(ids(&keys), [stored[0].id]);
    let log = s.audit_records(100).await.unwrap();
    assert_eq!(log.len(), 6, "{log:#?}");
    let expected = format!("{},{}", stored[0].id, stored[1].id);
    assert_eq!(log[3].action, "issue-token");
    assert_eq!(log[3].object.as_deref(), Some(expected.as_str()));
    assert_eq!(
        log[3].detail,
        json!({ "action": "issue-token", "serials": ["0a01", "0a02"] })
    );
    assert_eq!(log[4].action, "archive-key");
    assert_eq!(log[4].object, Some(stored[0].id.to_string()));
    assert!(same(&log[5], &extra[1]), "{:#?}", log[5]);

    // No extra records: one record; record_issuance still refuses to record nothing.
    assert!(s
        .record_token(&[], &token, &[], None)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.audit_records(100).await.unwrap().len(), 7);
    let empty = s.record_issuance(&[], &issued("x")).await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
    assert_eq!(s.audit_records(100).await.unwrap().len(), 7);
}

async fn failed_archive_rolls_back_everything(db: TestDb) {
    let s = &db.store;
    let first = s
        .record_issuance(
            &[archived("0a0b", "CN=First", ENCRYPTION, b"first")],
            &issued("issue"),
        )
        .await
        .unwrap();
    let certs_before = s
        .find_certificates(&CertificateQuery::default())
        .await
        .unwrap();
    let keys_before = s
        .find_archived_keys(&ArchivedKeyQuery::default())
        .await
        .unwrap();
    let log_before = s.audit_records(1000).await.unwrap();
    assert_eq!((certs_before.len(), keys_before.len()), (1, 1));
    assert_eq!(log_before.len(), 2);

    let (certs_before, keys_before, log_before) = (&certs_before, &keys_before, &log_before);
    let unchanged = || async move {
        assert_eq!(
            s.find_certificates(&CertificateQuery::default())
                .await
                .unwrap(),
            *certs_before,
            "no certificate"
        );
        assert_eq!(
            s.find_archived_keys(&ArchivedKeyQuery::default())
                .await
                .unwrap(),
            *keys_before,
            "no archived key"
        );
        assert_eq!(
            s.audit_records(1000).await.unwrap(),
            *log_before,
            "no audit record"
        );
    };

    // The first certificate of the batch and its key are written before the duplicate fails.
    let batch = [
        archived("ffff", "CN=Carol", ENCRYPTION, b"carol"),
        archived("0A0B", "CN=Duplicate", ENCRYPTION, b"duplicate"),
    ];
    let err = s
        .record_issuance(&batch, &issued("issue"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(ConflictOn::CertificateSerial)),
        "{err}"
    );
    unchanged().await;
    let recover = audit(AuditCategory::KeysRecovered, "recover-key");
    let err = s
        .record_token(&batch, &issued("issue"), &[recover], None)
        .await
        .unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(_)), "{err}");
    unchanged().await;
    assert!(s
        .find_certificates(&by_subject("carol"))
        .await
        .unwrap()
        .is_empty());

    // Keys the store refuses to archive.
    let refused = |change: fn(&mut NewArchivedKey)| {
        let mut c = archived("0e01", "CN=Erin", ENCRYPTION, b"erin");
        if let Some(key) = c.archived_key.as_mut() {
            change(key);
        }
        [cert("0e00", "CN=Erin"), c]
    };
    for batch in [
        refused(|k| k.sealed.clear()),
        refused(|k| k.kek_id.clear()),
        refused(|k| k.key_usage = AUTHENTICATION.into()),
    ] {
        let err = s
            .record_issuance(&batch, &issued("issue"))
            .await
            .unwrap_err();
        assert!(matches!(&err, StoreError::Invalid(_)), "{err}");
        unchanged().await;
    }

    // The serial that failed with the batch can be recorded now, with its key.
    let next = s
        .record_issuance(&batch[..1], &issued("issue"))
        .await
        .unwrap();
    assert!(next[0].id > first[0].id);
    let keys = s
        .find_archived_keys(&ArchivedKeyQuery::default())
        .await
        .unwrap();
    assert_eq!(ids(&keys), [first[0].id, next[0].id]);
    assert_eq!(keys[1].sealed, b"carol");
}

async fn debug_never_shows_sealed_keys(db: TestDb) {
    let sealed = b"SECRET-MARKER\x00\x01\xfe\xff".to_vec();
    let new = archived("0a01", ALICE, ENCRYPTION, &sealed);
    db.store
        .record_issuance(std::slice::from_ref(&new), &issued("issue-token"))
        .await
        .unwrap();
    let found = db
        .store
        .find_archived_keys(&ArchivedKeyQuery::default())
        .await
        .unwrap();
    let key = &found[0];
    assert_eq!(key.sealed, sealed);

    let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
    let forbidden = [
        "SECRET-MARKER".to_string(),
        format!("{sealed:?}"),
        format!("{:?}", &sealed[..4])
            .trim_end_matches(']')
            .to_string(),
        "83, 69, 67, 82".to_string(),
        hex[..20].to_string(),
        hex[..20].to_ascii_uppercase(),
        "U0VDUkVULU1BUktFU".to_string(), // base64
    ];
    let texts = [
        format!("{key:?}"),
        format!("{key:#?}"),
        format!("{new:?}"),
        format!("{:#?}", new.archived_key),
        serde_json::to_string(key).unwrap(),
    ];
    for text in &texts {
        for bad in &forbidden {
            assert!(!text.contains(bad.as_str()), "{bad:?} in {text}");
        }
    }
    for text in &texts[..4] {
        assert!(text.contains("<17 bytes>"), "{text}");
    }
    assert!(!texts[4].contains("sealed"), "{}", texts[4]);
}
