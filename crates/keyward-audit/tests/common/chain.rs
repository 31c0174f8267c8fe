//! Fixtures for the tamper tests: records, raw reads and writes of the chain, forged records.

use keyward_audit::{verify, AuditKey, BreakKind, VerifyReport};
use keyward_store::{AuditCategory, ChainedRecord, NewAudit, Outcome};
use serde_json::json;

use super::TestDb;

pub(crate) fn record(i: usize) -> NewAudit {
    NewAudit {
        category: match i % 3 {
            0 => AuditCategory::CertificatesIssued,
            _ => AuditCategory::Administration,
        },
        action: format!("action-{i}"),
        officer: (i % 2 != 1).then(|| "alice".to_string()),
        outcome: match i % 4 {
            0 => Outcome::Failure,
            _ => Outcome::Success,
        },
        object: (i % 2 == 1).then(|| format!("{i},{}", i + 1)),
        detail: json!({ "i": i, "text": "ünï \"q\"\n", "serials": [format!("{i:04x}")] }),
    }
}

pub(crate) async fn append(db: &TestDb, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(db.store.append_audit(&record(i)).await.unwrap());
    }
    ids
}

pub(crate) fn key() -> (AuditKey, Vec<u8>) {
    let key = AuditKey::generate().unwrap();
    let public = key.public_key_pem().unwrap();
    (key, public)
}

pub(crate) async fn check(db: &TestDb, public: &[u8]) -> VerifyReport {
    verify(&db.store, public).await.unwrap()
}

#[track_caller]
pub(crate) fn broken_at(report: &VerifyReport, kind: BreakKind, id: i64) {
    let broken = report
        .broken
        .as_ref()
        .unwrap_or_else(|| panic!("intact: {report:?}"));
    assert!(!report.intact);
    assert_eq!((broken.kind, broken.record_id), (kind, id), "{report:#?}");
    assert!(broken.message.contains(&id.to_string()), "{report:#?}");
}

pub(crate) async fn get(db: &TestDb, id: i64) -> ChainedRecord {
    let page = db.store.audit_chain_page(id - 1, 1).await.unwrap();
    assert_eq!(page[0].id, id);
    page[0].clone()
}

/// Overwrites every column but the ID of record `id` with `r`'s.
pub(crate) async fn put(db: &TestDb, id: i64, r: &ChainedRecord) {
    let raw = db.raw().await;
    sqlx::query(
        "UPDATE audit SET at = $1, category = $2, action = $3, officer = $4, outcome = $5, \
         object = $6, detail = $7, prev_hash = $8, hash = $9 WHERE id = $10",
    )
    .bind(r.at)
    .bind(r.category.as_str())
    .bind(r.action.as_str())
    .bind(r.officer.as_deref())
    .bind(r.outcome.as_str())
    .bind(r.object.as_deref())
    .bind(r.detail.as_str())
    .bind(r.prev_hash.as_deref())
    .bind(r.hash.as_deref())
    .bind(id)
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
}

/// Inserts `r` with its own ID, by raw SQL.
pub(crate) async fn insert(db: &TestDb, r: &ChainedRecord) {
    let raw = db.raw().await;
    let sql = format!(
        "INSERT INTO audit (id, at, category, action, officer, outcome, object, detail, \
         prev_hash, hash) {} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        db.overriding()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(r.id)
        .bind(r.at)
        .bind(r.category.as_str())
        .bind(r.action.as_str())
        .bind(r.officer.as_deref())
        .bind(r.outcome.as_str())
        .bind(r.object.as_deref())
        .bind(r.detail.as_str())
        .bind(r.prev_hash.as_deref())
        .bind(r.hash.as_deref())
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
}

/// A forged record with ID `id`, chained to `prev_hash`, with a correct hash.
pub(crate) fn forged(id: i64, prev_hash: &str) -> ChainedRecord {
    let mut r = ChainedRecord {
        id,
        at: 1_800_000_000,
        category: "keys-recovered".into(),
        action: "recover-key".into(),
        officer: Some("mallory".into()),
        outcome: "success".into(),
        object: Some("1".into()),
        detail: "{}".into(),
        prev_hash: Some(prev_hash.into()),
        hash: None,
    };
    r.hash = Some(r.computed_hash());
    r
}

/// Ten records, a gap (an ID used up by a rolled-back append), ten more, sealed: the gap's ID.
pub(crate) async fn with_gap(db: &TestDb, key: &AuditKey) -> i64 {
    let before = append(db, 10).await;
    db.skip_id().await;
    let after = append(db, 10).await;
    assert_eq!(after[0], before[9] + 2);
    key.seal(&db.store).await.unwrap().unwrap();
    before[9] + 1
}
