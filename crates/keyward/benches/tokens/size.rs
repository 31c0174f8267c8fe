//! Search at size: one million certificates, each with its archived key, written straight into
//! the database with multi-row INSERTs (the loader in `benches/common/certs.rs`: random 126-bit
//! serials, person-like subjects with a unique serialNumber attribute, a real certificate's DER;
//! archived keys with a real KRA envelope's size), then searched through the store API
//! (`find_certificates`, `find_archived_keys`).

use std::time::{Duration, Instant};

use keyward_store::{ArchivedKeyQuery, CertificateQuery, Store};
use sqlx::any::AnyPoolOptions;

use crate::certs::load_certificates;
use crate::stats::{ms, quantile};

/// A sample row (serial, subject, serialNumber attribute) and run number to a search text.
type SearchText = fn(&(String, String, String), usize) -> String;

/// A query kind and its latencies.
pub(crate) struct SearchResult {
    pub engine: &'static str,
    pub query: &'static str,
    pub runs: usize,
    pub rows: usize,
    pub p50: Duration,
    pub p99: Duration,
}

/// Loads `rows` certificates with archived keys into the (fresh) store at `url`, then times
/// searches. `der` is a real certificate, `sealed` a real envelope.
pub(crate) async fn run(
    engine: &'static str,
    url: &str,
    rows: usize,
    der: &[u8],
    sealed: &[u8],
) -> Vec<SearchResult> {
    let store = Store::open(url).await.expect("store");
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("raw connection");
    let t = Instant::now();
    let mut samples: Vec<(String, String, String)> = Vec::new(); // serial, subject, person
    let issuer = "CN=Keyward Issuing CA,O=Keyward";
    let every = (rows / 1000).max(1);
    load_certificates(&pool, rows, issuer, der, |row| {
        if row.index % every == 0 {
            samples.push((
                row.serial.to_string(),
                row.subject.to_string(),
                row.person.to_string(),
            ));
        }
    })
    .await;
    let loaded_certs = t.elapsed();
    let t = Instant::now();
    sqlx::query(
        "INSERT INTO archived_keys (certificate_id, key_procedure, key_spec, key_usage, kek_id, \
         sealed, archived_at) SELECT id, 'encryption-archive', 'RSA:2048', key_usage, \
         'kek-bench', $1, issued_at FROM certificates",
    )
    .bind(sealed.to_vec())
    .execute(&pool)
    .await
    .expect("insert archived keys");
    let loaded_keys = t.elapsed();
    if engine == "PostgreSQL" {
        // What autovacuum does on its own after a bulk load.
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .expect("analyze");
    }
    println!(
        "  {engine}: loaded {rows} certificates in {:.0} s and {rows} archived keys in {:.0} s",
        loaded_certs.as_secs_f64(),
        loaded_keys.as_secs_f64()
    );
    let mut results = search(engine, &store, &samples).await;
    results.extend(scan(engine, &pool, &samples).await);
    pool.close().await;
    results
}

/// The subject searches as they ran before migration 0008 (the same SQL as the store's, a
/// `LIKE '%text%'` with no index to serve it; on PostgreSQL the trigram index is dropped first),
/// for comparison. A few runs only: each reads the whole table.
async fn scan(
    engine: &'static str,
    pool: &sqlx::AnyPool,
    samples: &[(String, String, String)],
) -> Vec<SearchResult> {
    if engine == "PostgreSQL" {
        sqlx::query("DROP INDEX IF EXISTS certificates_subject_trgm")
            .execute(pool)
            .await
            .expect("drop index");
    }
    let sql = "SELECT id, serial_hex, subject, issuer, not_before, not_after, der, \
               certificate_procedure, token_procedure, key_origin, key_usage, officer, email, \
               issued_at FROM certificates WHERE subject_lower LIKE $1 ESCAPE '\\' \
               ORDER BY id LIMIT $2";
    let pick = |n: usize| &samples[(n * 7919) % samples.len()];
    let mut out = Vec::new();
    let kinds: [(&'static str, SearchText); 3] = [
        (
            "find_certificates: subject, unique substring — no index (before 0008)",
            |s, _| s.2.clone(),
        ),
        (
            "find_certificates: subject, common name — no index (before 0008)",
            |s, _| {
                s.1.trim_start_matches("CN=")
                    .split(',')
                    .next()
                    .unwrap()
                    .to_lowercase()
            },
        ),
        (
            "find_certificates: subject, no match — no index (before 0008)",
            |_, n| format!("nobody {n} here"),
        ),
    ];
    for (name, text) in kinds {
        let mut lat = Vec::new();
        let mut rows = 0;
        let budget = Instant::now();
        for n in 0..43usize {
            let pattern = format!("%{}%", text(pick(n), n));
            let t = Instant::now();
            let found = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(pattern)
                .bind(100i64)
                .fetch_all(pool)
                .await
                .expect("scan");
            let took = t.elapsed();
            if n >= 3 {
                lat.push(took);
                rows = rows.max(found.len());
            }
            if n >= 13 && budget.elapsed() > Duration::from_secs(20) {
                break;
            }
        }
        lat.sort();
        let r = SearchResult {
            engine,
            query: name,
            runs: lat.len(),
            rows,
            p50: quantile(&lat, 0.5),
            p99: quantile(&lat, 0.99),
        };
        println!(
            "  {engine:<10} {:<58} n={:<4} p50 {:>8.2} ms  p99 {:>8.2} ms  (rows ≤ {})",
            r.query,
            r.runs,
            ms(r.p50),
            ms(r.p99),
            r.rows
        );
        out.push(r);
    }
    out
}

async fn search(
    engine: &'static str,
    store: &Store,
    samples: &[(String, String, String)],
) -> Vec<SearchResult> {
    let mut out = Vec::new();
    let pick = |n: usize| &samples[(n * 7919) % samples.len()];
    macro_rules! time {
        ($name:expr, |$n:ident| $body:expr) => {{
            let mut lat = Vec::new();
            let mut rows = 0usize;
            let budget = Instant::now();
            for $n in 0..220usize {
                let t = Instant::now();
                let found: usize = $body;
                let took = t.elapsed();
                if $n >= 20 {
                    lat.push(took);
                    rows = rows.max(found);
                }
                if $n >= 40 && budget.elapsed() > Duration::from_secs(30) {
                    break;
                }
            }
            lat.sort();
            let r = SearchResult {
                engine,
                query: $name,
                runs: lat.len(),
                rows,
                p50: quantile(&lat, 0.5),
                p99: quantile(&lat, 0.99),
            };
            println!(
                "  {engine:<10} {:<58} n={:<4} p50 {:>8.2} ms  p99 {:>8.2} ms  (rows ≤ {})",
                r.query,
                r.runs,
                ms(r.p50),
                ms(r.p99),
                r.rows
            );
            out.push(r);
        }};
    }
    time!("find_certificates: serial", |n| {
        let q = CertificateQuery {
            serial_hex: Some(pick(n).0.to_uppercase()),
            ..Default::default()
        };
        let found = store.find_certificates(&q).await.expect("search");
        assert_eq!(found.len(), 1);
        found.len()
    });
    time!("find_certificates: subject, unique substring", |n| {
        let q = CertificateQuery {
            subject: Some(pick(n).2.clone()),
            ..Default::default()
        };
        let found = store.find_certificates(&q).await.expect("search");
        assert!(!found.is_empty());
        found.len()
    });
    // What `ra issue` asks before submitting (the duplicates note): the whole subject, valid
    // certificates only (the loaded rows have expired: the same plan, no rows to send), …
    time!(
        "find_certificates: exact subject + valid (ra issue's note)",
        |n| {
            let q = CertificateQuery {
                subject_exact: Some(pick(n).1.clone()),
                status: Some(keyward_store::StatusFilter::Valid),
                ..Default::default()
            };
            store.find_certificates(&q).await.expect("search").len()
        }
    );
    // … and the same as a substring, through the trigram index (what it would cost instead).
    time!(
        "find_certificates: whole subject as substring + valid",
        |n| {
            let q = CertificateQuery {
                subject: Some(pick(n).1.clone()),
                status: Some(keyward_store::StatusFilter::Valid),
                ..Default::default()
            };
            store.find_certificates(&q).await.expect("search").len()
        }
    );
    time!("find_certificates: subject, common name (many hits)", |n| {
        let (_, subj, _) = pick(n);
        let name = subj
            .trim_start_matches("CN=")
            .split(',')
            .next()
            .unwrap()
            .to_string();
        let q = CertificateQuery {
            subject: Some(name),
            ..Default::default()
        };
        store.find_certificates(&q).await.expect("search").len()
    });
    time!(
        "find_certificates: subject, broad substring (~10 % of rows)",
        |n| {
            let q = CertificateQuery {
                subject: Some(format!("example org {}", 1 + n % 9)),
                ..Default::default()
            };
            store.find_certificates(&q).await.expect("search").len()
        }
    );
    time!("find_certificates: subject, no match", |n| {
        let q = CertificateQuery {
            subject: Some(format!("nobody {n} here")),
            ..Default::default()
        };
        store.find_certificates(&q).await.expect("search").len()
    });
    time!("find_archived_keys: serial", |n| {
        let q = ArchivedKeyQuery {
            serial_hex: Some(pick(n).0.clone()),
            ..Default::default()
        };
        let found = store.find_archived_keys(&q).await.expect("search");
        assert_eq!(found.len(), 1);
        found.len()
    });
    time!("find_archived_keys: subject, unique substring", |n| {
        let q = ArchivedKeyQuery {
            subject: Some(pick(n).2.clone()),
            ..Default::default()
        };
        let found = store.find_archived_keys(&q).await.expect("search");
        assert!(!found.is_empty());
        found.len()
    });
    time!(
        "find_archived_keys: exact subject + key usage (recovery)",
        |n| {
            let q = ArchivedKeyQuery {
                subject_exact: Some(pick(n).1.clone()),
                key_usage: Some("keyEncipherment".into()),
                ..Default::default()
            };
            let found = store.find_archived_keys(&q).await.expect("search");
            assert_eq!(found.len(), 1);
            found.len()
        }
    );
    out
}
