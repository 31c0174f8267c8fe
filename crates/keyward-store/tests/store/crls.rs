//! Published CRLs (recorded with their audit record, the latest of each kind found) and
//! leases (one holder at a time, renewed by it, taken over once expired, raced by many).

use std::time::Duration;

use keyward_store::{AuditCategory, CrlKind, NewCrl, Store, StoreError};

use crate::common::{count, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    crls_are_recorded_with_their_audit_record,
    the_latest_crl_of_each_kind_is_found,
    a_lease_has_one_holder_at_a_time,
    racing_nodes_take_a_lease_once
);

const CA: &str = "CN=Keyward Issuing CA";

fn crl(number: i64, base_number: Option<i64>, der: &[u8]) -> NewCrl<'_> {
    NewCrl {
        ca: CA,
        number,
        base_number,
        this_update: 1_000 + number,
        next_update: 2_000 + number,
        changes_upto: number * 10,
        entries: 3,
        der,
    }
}

async fn crls_are_recorded_with_their_audit_record(db: TestDb) {
    let s = &db.store;
    s.record_crl(&crl(1, None, b"full-1")).await.unwrap();
    let last = s.audit_records(1).await.unwrap().pop().unwrap();
    assert_eq!(last.category, AuditCategory::CertificatesRevoked);
    assert_eq!(last.action, "issue-crl");
    assert_eq!(last.object.as_deref(), Some("1"));
    assert_eq!(last.detail["kind"], "full");
    assert_eq!(last.detail["entries"], 3);
    assert_eq!(last.detail["number"], 1);
    // The same number twice: refused, and nothing of it written (no second audit record).
    let audits = count(&db, "audit").await;
    let err = s.record_crl(&crl(1, None, b"again")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref m) if m.contains("crl.number")),
        "{err}"
    );
    assert_eq!(count(&db, "audit").await, audits);
    assert_eq!(count(&db, "crls").await, 1);
    let stored = s.latest_crl(CA, CrlKind::Full).await.unwrap().unwrap();
    assert_eq!(stored.der, b"full-1");
}

async fn the_latest_crl_of_each_kind_is_found(db: TestDb) {
    let s = &db.store;
    assert_eq!(s.latest_crl(CA, CrlKind::Full).await.unwrap(), None);
    assert_eq!(s.latest_crl_facts(CA, CrlKind::Delta).await.unwrap(), None);
    s.record_crl(&crl(1, None, b"full-1")).await.unwrap();
    s.record_crl(&crl(2, Some(1), b"delta-2")).await.unwrap();
    s.record_crl(&crl(3, None, b"full-3")).await.unwrap();
    s.record_crl(&crl(4, Some(3), b"delta-4")).await.unwrap();
    s.record_crl(&NewCrl {
        ca: "CN=Other",
        ..crl(9, None, b"other")
    })
    .await
    .unwrap();
    let full = s.latest_crl(CA, CrlKind::Full).await.unwrap().unwrap();
    let f = &full.facts;
    assert_eq!(
        (f.number, f.base_number, f.kind()),
        (3, None, CrlKind::Full)
    );
    assert_eq!(
        (f.this_update, f.next_update, f.changes_upto),
        (1003, 2003, 30)
    );
    assert_eq!(full.der, b"full-3");
    let delta = s.latest_crl(CA, CrlKind::Delta).await.unwrap().unwrap();
    assert_eq!((delta.facts.number, delta.facts.base_number), (4, Some(3)));
    assert_eq!(delta.der, b"delta-4");
    assert_eq!(
        s.latest_crl_facts(CA, CrlKind::Full)
            .await
            .unwrap()
            .as_ref(),
        Some(f)
    );
    assert_eq!(
        s.latest_crl_facts(CA, CrlKind::Delta).await.unwrap(),
        Some(delta.facts)
    );
    let other = s.latest_crl_facts("CN=Other", CrlKind::Full).await.unwrap();
    assert_eq!(other.map(|o| o.number), Some(9));
}

async fn a_lease_has_one_holder_at_a_time(db: TestDb) {
    let s = &db.store;
    let ttl = Duration::from_secs(60);
    assert!(s.try_lease("crl-publisher", "node-a", ttl).await.unwrap());
    assert!(!s.try_lease("crl-publisher", "node-b", ttl).await.unwrap());
    // Renewed by its holder; another lease name is independent.
    assert!(s.try_lease("crl-publisher", "node-a", ttl).await.unwrap());
    assert!(s.try_lease("other-job", "node-b", ttl).await.unwrap());
    // Expired (a ttl of zero ends now): taken over.
    assert!(s
        .try_lease("crl-publisher", "node-a", Duration::ZERO)
        .await
        .unwrap());
    assert!(s.try_lease("crl-publisher", "node-b", ttl).await.unwrap());
    assert!(!s.try_lease("crl-publisher", "node-a", ttl).await.unwrap());
    assert_eq!(count(&db, "leases").await, 2);
    // Released by its holder only: then free for anyone at once.
    assert!(!s.release_lease("crl-publisher", "node-a").await.unwrap());
    assert!(s.release_lease("crl-publisher", "node-b").await.unwrap());
    assert!(s.try_lease("crl-publisher", "node-a", ttl).await.unwrap());
}

async fn racing_nodes_take_a_lease_once(db: TestDb) {
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let s: Store = db.store.clone();
            tokio::spawn(async move {
                s.try_lease("race", &format!("node-{i}"), Duration::from_secs(60))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}
