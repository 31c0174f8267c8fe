//! Measurements, not assertions (ignored by default; run with
//! `cargo test --release -p keyward-audit --test cost -- --ignored --nocapture`):
//!
//! - `append_cost`: 10,000 appends, one transaction each, through the store (chained: audit
//!   lock, head read, insert, hash update, object index) and with the pre-chain INSERT alone.
//! - `verify_cost`: `verify` over 100,000 records (written in bulk by raw SQL with correct
//!   hashes, then sealed).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use std::time::Instant;

use keyward_audit::{verify, AuditKey};
use keyward_store::{AuditCategory, ChainedRecord, Engine, NewAudit, Outcome, GENESIS_HASH};
use serde_json::json;
use sqlx::{Connection, Executor};

use common::TestDb;

fn rec(i: usize) -> NewAudit {
    NewAudit {
        category: AuditCategory::CertificatesIssued,
        action: "issue-token".into(),
        officer: Some("alice".into()),
        outcome: Outcome::Success,
        object: Some(format!("{i},{}", i + 1)),
        detail: json!({ "request_id": format!("req-{i}"), "subject": "CN=Alice Example,O=Example,C=SE",
                        "serials": [format!("{:032x}", i)] }),
    }
}

const APPENDS: usize = 10_000;

async fn append_cost(db: TestDb) {
    let start = Instant::now();
    for i in 0..APPENDS {
        db.store.append_audit(&rec(i)).await.unwrap();
    }
    let chained = start.elapsed();

    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    if db.engine == Engine::Sqlite {
        conn.execute("PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL;")
            .await
            .unwrap();
    }
    let begin = match db.engine {
        Engine::Sqlite => "BEGIN IMMEDIATE",
        Engine::Postgres => "BEGIN",
    };
    let start = Instant::now();
    for i in 0..APPENDS {
        let r = rec(i);
        conn.execute(begin).await.unwrap();
        sqlx::query(
            "INSERT INTO audit (at, category, action, officer, outcome, object, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(1_700_000_000i64)
        .bind(r.category.as_str())
        .bind(r.action.as_str())
        .bind(r.officer.as_deref())
        .bind(r.outcome.as_str())
        .bind(r.object.as_deref())
        .bind(r.detail.to_string())
        .fetch_one(&mut conn)
        .await
        .unwrap();
        conn.execute("COMMIT").await.unwrap();
    }
    let plain = start.elapsed();
    conn.close().await.unwrap();
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / APPENDS as f64;
    println!(
        "{:?}: {APPENDS} appends, one transaction each: chained {:.2?} ({:.0} µs each), \
         unchained INSERT {:.2?} ({:.0} µs each), chain overhead {:.0} µs per append ({:+.0}%)",
        db.engine,
        chained,
        per(chained),
        plain,
        per(plain),
        per(chained) - per(plain),
        (chained.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0
    );
}

const RECORDS: i64 = 100_000;

async fn verify_cost(db: TestDb) {
    let raw = db.raw().await;
    let mut tx = raw.begin().await.unwrap();
    let mut prev = GENESIS_HASH.to_string();
    let start = Instant::now();
    for id in 1..=RECORDS {
        let r = rec(id as usize);
        let mut c = ChainedRecord {
            id,
            at: 1_700_000_000 + id,
            category: r.category.as_str().into(),
            action: r.action.clone(),
            officer: r.officer.clone(),
            outcome: r.outcome.as_str().into(),
            object: r.object.clone(),
            detail: r.detail.to_string(),
            prev_hash: Some(prev.clone()),
            hash: None,
        };
        c.hash = Some(c.computed_hash());
        let sql = format!(
            "INSERT INTO audit (id, at, category, action, officer, outcome, object, detail, \
             prev_hash, hash) {} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            db.overriding()
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(c.id)
            .bind(c.at)
            .bind(c.category.as_str())
            .bind(c.action.as_str())
            .bind(c.officer.as_deref())
            .bind(c.outcome.as_str())
            .bind(c.object.as_deref())
            .bind(c.detail.as_str())
            .bind(c.prev_hash.as_deref())
            .bind(c.hash.as_deref())
            .execute(&mut *tx)
            .await
            .unwrap();
        prev = c.hash.unwrap();
    }
    tx.commit().await.unwrap();
    raw.close().await;
    let filled = start.elapsed();
    let key = AuditKey::generate().unwrap();
    key.seal(&db.store).await.unwrap().unwrap();
    let public = key.public_key_pem().unwrap();
    let start = Instant::now();
    let report = verify(&db.store, &public).await.unwrap();
    let took = start.elapsed();
    assert!(
        report.intact && report.records == RECORDS as u64,
        "{report:?}"
    );
    println!(
        "{:?}: verify over {RECORDS} records and {} seal: {took:.2?} (written in {filled:.2?})",
        db.engine, report.seals
    );
}

mod append {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "measurement; run with --release -- --ignored --nocapture"]
    async fn sqlite() {
        let db = crate::common::fresh(keyward_store::Engine::Sqlite)
            .await
            .unwrap();
        super::append_cost(db).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "measurement; run with --release -- --ignored --nocapture"]
    async fn postgres() {
        if let Some(db) = crate::common::fresh(keyward_store::Engine::Postgres).await {
            super::append_cost(db).await;
        }
    }
}

mod verify_100k {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "measurement; run with --release -- --ignored --nocapture"]
    async fn sqlite() {
        let db = crate::common::fresh(keyward_store::Engine::Sqlite)
            .await
            .unwrap();
        super::verify_cost(db).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "measurement; run with --release -- --ignored --nocapture"]
    async fn postgres() {
        if let Some(db) = crate::common::fresh(keyward_store::Engine::Postgres).await {
            super::verify_cost(db).await;
        }
    }
}
