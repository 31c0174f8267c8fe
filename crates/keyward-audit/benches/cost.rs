//! What the audit chain costs, each figure as a ratio to a baseline measured in the same run on
//! the same database (absolute times depend on the machine; the ratios are the result):
//!
//! - appends: APPENDS records through the store, one transaction each (chained: audit lock,
//!   head read, insert, hash update, object index), against the baseline of the pre-chain
//!   `INSERT` alone, one transaction each;
//! - verify: `verify` over RECORDS records (written in bulk by raw SQL with correct hashes,
//!   then sealed), against the baseline of reading every record by plain SQL.
//!
//! `cargo bench -p keyward-audit --bench cost [-- --appends N] [--records N]` (defaults
//! 10,000 and 100,000), on SQLite and on PostgreSQL (`KEYWARD_TEST_PG_URL`, as the tests; set
//! `KEYWARD_SKIP_PG=1` for SQLite only). `cargo test -p keyward-audit --bench cost --
//! --appends 300 --records 3000` runs it once, small and unoptimised, to see that it works.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::time::{Duration, Instant};

use keyward_audit::{verify, AuditKey};
use keyward_store::{AuditCategory, ChainedRecord, Engine, NewAudit, Outcome, Store, GENESIS_HASH};
use keyward_testkit::{fresh_database, TestDatabase};
use serde_json::json;
use sqlx::{Connection, Executor};

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

/// A store on a fresh database of its own; `None` when PostgreSQL is skipped on request.
async fn fresh(engine: keyward_testkit::Engine) -> Option<(Store, TestDatabase)> {
    let db = fresh_database(engine).await?;
    let store = Store::open(&db.url).await.expect("open store");
    Some((store, db))
}

fn ratio(took: Duration, baseline: Duration) -> f64 {
    took.as_secs_f64() / baseline.as_secs_f64()
}

async fn append_cost(store: &Store, url: &str, appends: usize) {
    let start = Instant::now();
    for i in 0..appends {
        store.append_audit(&rec(i)).await.expect("append");
    }
    let chained = start.elapsed();

    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    if store.engine() == Engine::Sqlite {
        conn.execute("PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL;")
            .await
            .expect("pragmas");
    }
    let begin = match store.engine() {
        Engine::Sqlite => "BEGIN IMMEDIATE",
        Engine::Postgres => "BEGIN",
    };
    let start = Instant::now();
    for i in 0..appends {
        let r = rec(i);
        conn.execute(begin).await.expect("begin");
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
        .expect("insert");
        conn.execute("COMMIT").await.expect("commit");
    }
    let plain = start.elapsed();
    conn.close().await.expect("close");
    let per = |d: Duration| d.as_secs_f64() * 1e6 / appends as f64;
    println!(
        "{:?} appends ({appends}, one transaction each): chained / plain INSERT = {:.2} \
         (chained {:.0} µs each, plain {:.0} µs each)",
        store.engine(),
        ratio(chained, plain),
        per(chained),
        per(plain),
    );
}

async fn verify_cost(store: &Store, url: &str, records: i64) {
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(url).await.expect("connect");
    let overriding = match store.engine() {
        Engine::Sqlite => "",
        Engine::Postgres => "OVERRIDING SYSTEM VALUE",
    };
    let mut tx = raw.begin().await.expect("begin");
    let mut prev = GENESIS_HASH.to_string();
    for id in 1..=records {
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
        let hash = c.computed_hash();
        c.hash = Some(hash.clone());
        let sql = format!(
            "INSERT INTO audit (id, at, category, action, officer, outcome, object, detail, \
             prev_hash, hash) {overriding} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
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
            .expect("insert");
        prev = hash;
    }
    tx.commit().await.expect("commit");
    let key = AuditKey::generate().expect("audit key");
    key.seal(store).await.expect("seal").expect("a seal");
    let public = key.public_key_pem().expect("public key");

    let start = Instant::now();
    let rows = sqlx::query(
        "SELECT id, at, category, action, officer, outcome, object, detail, prev_hash, hash \
         FROM audit ORDER BY id",
    )
    .fetch_all(&raw)
    .await
    .expect("read the records");
    let read = start.elapsed();
    raw.close().await;

    let start = Instant::now();
    let report = verify(store, &public).await.expect("verify");
    let took = start.elapsed();
    assert!(
        report.intact && report.records == records as u64 && rows.len() == records as usize,
        "{report:?}"
    );
    println!(
        "{:?} verify ({records} records, {} seal): verify / plain read = {:.2} \
         (verify {took:.2?}, read {read:.2?})",
        store.engine(),
        report.seals,
        ratio(took, read),
    );
}

/// `--appends N` and `--records N`; anything else (`--bench`, which cargo passes) is ignored.
fn sizes() -> (usize, i64) {
    let (mut appends, mut records) = (10_000, 100_000);
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--appends" => appends = pair[1].parse().expect("--appends N"),
            "--records" => records = pair[1].parse().expect("--records N"),
            _ => {}
        }
    }
    (appends, records)
}

fn main() {
    let (appends, records) = sizes();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for engine in [
            keyward_testkit::Engine::Sqlite,
            keyward_testkit::Engine::Postgres,
        ] {
            if let Some((store, db)) = fresh(engine).await {
                append_cost(&store, &db.url, appends).await;
            }
            if let Some((store, db)) = fresh(engine).await {
                verify_cost(&store, &db.url, records).await;
            }
        }
    });
}
