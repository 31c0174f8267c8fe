//! The chain and its seals on both engines: an intact log verifies, and every kind of tampering
//! done with raw SQL is reported at the right record with the right kind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use keyward_audit::{verify, AuditKey, BreakKind};
use keyward_store::{audit_hash, AuditHashInput, ChainedRecord, GENESIS_HASH};

use common::chain::{append, broken_at, check, forged, get, insert, key, put, record, with_gap};
use common::TestDb;

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    intact_chain_verifies,
    edited_detail_is_detected,
    deleted_record_is_detected,
    inserted_record_with_good_hash_and_wrong_chain,
    inserted_record_with_good_hash_and_good_chain,
    inserted_record_with_wrong_hash,
    swapped_records_are_reordered,
    swapped_contents_are_reordered,
    truncation_into_a_seal_is_detected,
    forged_seal_signature_is_detected,
    unsealed_tail_is_reported_and_resealing_needs_the_key,
    legacy_records_are_chained_on_open,
    concurrent_appends_verify,
    two_nodes_append_and_seal_concurrently,
);

async fn intact_chain_verifies(db: TestDb) {
    let (key, public) = key();
    let empty = check(&db, &public).await;
    assert!(empty.intact && empty.records == 0 && empty.unsealed_tail == 0);
    assert!(
        key.seal(&db.store).await.unwrap().is_none(),
        "nothing to seal"
    );
    let gap = with_gap(&db, &key).await;
    let first = get(&db, 1).await;
    assert_eq!(first.prev_hash.as_deref(), Some(GENESIS_HASH));
    let next = get(&db, 2).await;
    assert_eq!(next.prev_hash, first.hash);
    let input = AuditHashInput {
        id: next.id,
        at: next.at,
        category: &next.category,
        action: &next.action,
        officer: next.officer.as_deref(),
        outcome: &next.outcome,
        object: next.object.as_deref(),
        detail: &next.detail,
        prev_hash: first.hash.as_deref().unwrap(),
    };
    assert_eq!(next.hash.as_deref(), Some(audit_hash(&input).as_str()));
    assert_eq!(
        get(&db, gap + 1).await.prev_hash,
        get(&db, gap - 1).await.hash
    );
    assert!(
        key.seal(&db.store).await.unwrap().is_none(),
        "sealed already"
    );
    append(&db, 3).await;
    let report = check(&db, &public).await;
    assert!(report.intact, "{report:#?}");
    assert_eq!(
        (report.records, report.seals, report.unsealed_tail),
        (23, 1, 3)
    );
    assert_eq!(report.last_sealed_id, Some(21));
    assert_eq!(report.key_id, key.key_id());
    let seal = key.seal(&db.store).await.unwrap().unwrap();
    assert_eq!((seal.upto_id, seal.key_id.as_str()), (24, key.key_id()));
    let report = check(&db, &public).await;
    assert!(report.intact && report.seals == 2 && report.unsealed_tail == 0);
    let records = db.store.audit_records(1).await.unwrap();
    assert_eq!(records[0].hash.as_deref(), Some(seal.head_hash.as_str()));
}

async fn edited_detail_is_detected(db: TestDb) {
    let (key, public) = key();
    append(&db, 10).await;
    key.seal(&db.store).await.unwrap();
    db.sql("UPDATE audit SET detail = '{\"i\":4}' WHERE id = 5")
        .await;
    let report = check(&db, &public).await;
    broken_at(&report, BreakKind::Edited, 5);
    assert_eq!(report.records, 4, "records before the break");
}

async fn deleted_record_is_detected(db: TestDb) {
    let (key, public) = key();
    append(&db, 10).await;
    key.seal(&db.store).await.unwrap();
    db.sql("DELETE FROM audit WHERE id = 5").await;
    broken_at(&check(&db, &public).await, BreakKind::Deleted, 6);
    // Deleting the first record too.
    db.sql("DELETE FROM audit WHERE id = 1").await;
    broken_at(&check(&db, &public).await, BreakKind::Deleted, 2);
}

async fn inserted_record_with_good_hash_and_wrong_chain(db: TestDb) {
    let (key, public) = key();
    let gap = with_gap(&db, &key).await;
    insert(&db, &forged(gap, &"ab".repeat(32))).await;
    broken_at(&check(&db, &public).await, BreakKind::Inserted, gap);
}

async fn inserted_record_with_good_hash_and_good_chain(db: TestDb) {
    let (key, public) = key();
    let gap = with_gap(&db, &key).await;
    let before = get(&db, gap - 1).await;
    insert(&db, &forged(gap, before.hash.as_deref().unwrap())).await;
    broken_at(&check(&db, &public).await, BreakKind::Inserted, gap);
}

async fn inserted_record_with_wrong_hash(db: TestDb) {
    let (key, public) = key();
    let gap = with_gap(&db, &key).await;
    let before = get(&db, gap - 1).await;
    let mut r = forged(gap, before.hash.as_deref().unwrap());
    r.hash = Some("cd".repeat(32));
    insert(&db, &r).await;
    broken_at(&check(&db, &public).await, BreakKind::Inserted, gap);
    // A forged record appended at the end, after the last seal, not chained: inserted too.
    let db2 = &db;
    db2.sql(&format!("DELETE FROM audit WHERE id = {gap}"))
        .await;
    let head = db.store.audit_head().await.unwrap().unwrap().0;
    insert(db2, &forged(head + 1, &"ef".repeat(32))).await;
    broken_at(&check(db2, &public).await, BreakKind::Inserted, head + 1);
}

async fn swapped_records_are_reordered(db: TestDb) {
    let (key, public) = key();
    append(&db, 10).await;
    key.seal(&db.store).await.unwrap();
    let (four, seven) = (get(&db, 4).await, get(&db, 7).await);
    put(&db, 4, &seven).await;
    put(&db, 7, &four).await;
    broken_at(&check(&db, &public).await, BreakKind::Reordered, 4);
    // Neighbours.
    put(&db, 4, &four).await;
    put(&db, 7, &seven).await;
    assert!(check(&db, &public).await.intact);
    let (five, six) = (get(&db, 5).await, get(&db, 6).await);
    put(&db, 5, &six).await;
    put(&db, 6, &five).await;
    broken_at(&check(&db, &public).await, BreakKind::Reordered, 5);
}

async fn swapped_contents_are_reordered(db: TestDb) {
    let (key, public) = key();
    append(&db, 10).await;
    key.seal(&db.store).await.unwrap();
    let (three, eight) = (get(&db, 3).await, get(&db, 8).await);
    let keep_chain = |content: &ChainedRecord, chain: &ChainedRecord| ChainedRecord {
        prev_hash: chain.prev_hash.clone(),
        hash: chain.hash.clone(),
        ..content.clone()
    };
    put(&db, 3, &keep_chain(&eight, &three)).await;
    put(&db, 8, &keep_chain(&three, &eight)).await;
    broken_at(&check(&db, &public).await, BreakKind::Reordered, 3);
}

async fn truncation_into_a_seal_is_detected(db: TestDb) {
    let (key, public) = key();
    append(&db, 10).await;
    key.seal(&db.store).await.unwrap();
    append(&db, 10).await;
    let last = key.seal(&db.store).await.unwrap().unwrap();
    assert_eq!(last.upto_id, 20);
    db.sql("DELETE FROM audit WHERE id > 15").await;
    let report = check(&db, &public).await;
    broken_at(&report, BreakKind::Truncated, 20);
    assert_eq!(report.broken.as_ref().unwrap().seal_id, Some(last.id));
    assert_eq!((report.records, report.seals), (15, 2));
    // Appending after the cut does not hide it.
    append(&db, 2).await;
    broken_at(&check(&db, &public).await, BreakKind::Truncated, 20);
}

async fn forged_seal_signature_is_detected(db: TestDb) {
    let (key, public) = key();
    append(&db, 10).await;
    let seal = key.seal(&db.store).await.unwrap().unwrap();
    // A valid signature over something else.
    let other = db.blob(&key.sign(9, &seal.head_hash).unwrap());
    let set = |sig: &str| {
        format!(
            "UPDATE audit_seals SET signature = {sig} WHERE id = {}",
            seal.id
        )
    };
    db.sql(&set(&other)).await;
    let report = check(&db, &public).await;
    broken_at(&report, BreakKind::BadSeal, 10);
    assert_eq!(report.broken.as_ref().unwrap().seal_id, Some(seal.id));
    // Restored, it verifies; another public key refuses it.
    db.sql(&set(&db.blob(&seal.signature))).await;
    assert!(check(&db, &public).await.intact);
    let (_, stranger) = self::key();
    broken_at(&check(&db, &stranger).await, BreakKind::BadSeal, 10);
}

async fn unsealed_tail_is_reported_and_resealing_needs_the_key(db: TestDb) {
    let (key, public) = key();
    append(&db, 10).await;
    key.seal(&db.store).await.unwrap();
    append(&db, 5).await;
    assert_eq!(check(&db, &public).await.unsealed_tail, 5);
    // Records after the last seal can go without a trace: only the smaller unsealed tail shows.
    db.sql("DELETE FROM audit WHERE id > 13").await;
    let report = check(&db, &public).await;
    assert!(report.intact, "{report:#?}");
    assert_eq!(report.unsealed_tail, 3);
    // Rewriting sealed records and re-hashing the chain needs a new seal, hence the key.
    let (mallory, _) = self::key();
    let mut prev = GENESIS_HASH.to_string();
    for id in 1..=13 {
        let mut r = get(&db, id).await;
        if id == 4 {
            r.detail = "{\"rewritten\":true}".into();
        }
        r.prev_hash = Some(prev.clone());
        r.hash = Some(r.computed_hash());
        prev = r.hash.clone().unwrap();
        put(&db, id, &r).await;
    }
    let sig = db.blob(&mallory.sign(13, &prev).unwrap());
    db.sql(&format!(
        "INSERT INTO audit_seals (upto_id, head_hash, key_id, signature, sealed_at) \
         VALUES (13, '{prev}', '{}', {sig}, 1800000000)",
        key.key_id()
    ))
    .await;
    let report = check(&db, &public).await;
    broken_at(&report, BreakKind::Edited, 10);
    assert!(report.broken.as_ref().unwrap().seal_id.is_some());
}

async fn legacy_records_are_chained_on_open(db: TestDb) {
    let (key, public) = key();
    append(&db, 3).await;
    for i in 0..4 {
        db.sql(&format!(
            "INSERT INTO audit (at, category, action, officer, outcome, object, detail) \
             VALUES (1700000000, 'administration', 'legacy-{i}', NULL, 'success', '{i},9', '{{}}')"
        ))
        .await;
    }
    let store = keyward_store::Store::open(&db.url).await.unwrap();
    let report = verify(&store, &public).await.unwrap();
    assert!(report.intact && report.records == 7, "{report:#?}");
    let found = store
        .search_audit(&keyward_store::AuditQuery {
            object: Some("9".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 4, "legacy records are indexed for search");
    key.seal(&store).await.unwrap().unwrap();
    store.close().await;
}

async fn concurrent_appends_verify(db: TestDb) {
    let (key, public) = key();
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let store = db.store.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    store.append_audit(&record(t * 100 + i)).await.unwrap();
                }
            })
        })
        .collect();
    let sealer = {
        let store = db.store.clone();
        let key = AuditKey::from_encrypted_pem(&key.encrypted_pem(b"p").unwrap(), b"p").unwrap();
        tokio::spawn(async move {
            for _ in 0..20 {
                key.seal(&store).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };
    // Verifying while others append and seal never reports a break.
    let verifier = {
        let (store, public) = (db.store.clone(), public.clone());
        tokio::spawn(async move {
            for _ in 0..20 {
                let report = verify(&store, &public).await.unwrap();
                assert!(report.intact, "{report:#?}");
            }
        })
    };
    for t in tasks {
        t.await.unwrap();
    }
    sealer.await.unwrap();
    verifier.await.unwrap();
    key.seal(&db.store).await.unwrap();
    let report = check(&db, &public).await;
    assert!(report.intact, "{report:#?}");
    assert_eq!((report.records, report.unsealed_tail), (200, 0));
}

/// Two server nodes (two stores on one database, each with its own pool) append and seal at
/// the same time, as `keyward server` nodes sharing a PostgreSQL database do: the seals never
/// disagree — each one stored reaches further than the one before it — and the log verifies.
async fn two_nodes_append_and_seal_concurrently(db: TestDb) {
    let (key, public) = key();
    let pem = key.encrypted_pem(b"p").unwrap();
    let other = keyward_store::Store::open(&db.url).await.unwrap();
    let nodes = [db.store.clone(), other.clone()];
    let mut tasks = Vec::new();
    for (n, store) in nodes.iter().enumerate() {
        for t in 0..2 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..40 {
                    store
                        .append_audit(&record(n * 1000 + t * 100 + i))
                        .await
                        .unwrap();
                }
            }));
        }
        let store = store.clone();
        let key = AuditKey::from_encrypted_pem(&pem, b"p").unwrap();
        tasks.push(tokio::spawn(async move {
            for _ in 0..30 {
                key.seal(&store).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    key.seal(&other).await.unwrap();
    let mut seals = db
        .store
        .audit_seals_page((i64::MIN, i64::MIN), 10_000)
        .await
        .unwrap();
    seals.sort_by_key(|s| s.id);
    assert!(seals.len() >= 2, "{seals:#?}");
    assert!(
        seals.windows(2).all(|w| w[0].upto_id < w[1].upto_id),
        "a seal that does not reach further than the one before it: {seals:#?}"
    );
    let report = check(&db, &public).await;
    assert!(report.intact, "{report:#?}");
    assert_eq!((report.records, report.unsealed_tail), (160, 0));
    assert_eq!(report.seals as usize, seals.len());
    other.close().await;
}
