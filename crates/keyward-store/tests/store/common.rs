//! A fresh store on each engine, a macro that runs one test body on both, and fixtures.
//!
//! PostgreSQL: `postgres://postgres@127.0.0.1:5432/postgres` (override with
//! `KEYWARD_TEST_PG_URL`) must be reachable: each test creates `keyward_test_<random hex>` and
//! drops it afterwards, even when the test fails. Set `KEYWARD_SKIP_PG=1` to run SQLite only.

use std::hash::{BuildHasher, Hasher};

use keyward_store::{
    AuditCategory, CertificateQuery, Engine, NewAudit, NewCertificate, Outcome, Store,
};
use serde_json::json;
use sqlx::Connection;

/// A store on a database of its own, removed when dropped.
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// The URL it was opened with (to open it again).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<DropDatabase>,
}

/// Drops a PostgreSQL test database (terminating its connections) when dropped.
struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Runs on a thread of its own: Drop may run inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!(
                "could not drop test database {}: thread panicked",
                self.name
            ),
        }
    }
}

fn random_hex() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// A fresh store on `engine`; `None` when PostgreSQL is skipped on request.
pub async fn fresh(engine: Engine) -> Option<TestDb> {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
            let store = Store::open(&url).await.unwrap();
            Some(TestDb {
                store,
                url,
                _dir: Some(dir),
                _pg: None,
            })
        }
        Engine::Postgres => {
            if std::env::var("KEYWARD_SKIP_PG").as_deref() == Ok("1") {
                eprintln!("KEYWARD_SKIP_PG=1: PostgreSQL test skipped on request");
                return None;
            }
            let admin_url = std::env::var("KEYWARD_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let mut admin = sqlx::PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required for the store tests and is not reachable at \
                         {admin_url} ({e}). Start it, point KEYWARD_TEST_PG_URL at a server \
                         where this user may CREATE DATABASE, or set KEYWARD_SKIP_PG=1 to run \
                         the SQLite half only."
                    )
                });
            let name = format!("keyward_test_{}", random_hex());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap();
            admin.close().await.unwrap();
            let guard = DropDatabase {
                admin_url: admin_url.clone(),
                name: name.clone(),
            };
            let (base, params) = match admin_url.split_once('?') {
                Some((base, params)) => (base, format!("?{params}")),
                None => (admin_url.as_str(), String::new()),
            };
            let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
            let url = format!("{server}/{name}{params}");
            let store = Store::open(&url).await.unwrap();
            Some(TestDb {
                store,
                url,
                _dir: None,
                _pg: Some(guard),
            })
        }
    }
}

/// For each `async fn name(db: TestDb)`, generates `name::sqlite` and `name::postgres` tests.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(db) = $crate::common::fresh(keyward_store::Engine::Sqlite).await {
                    super::$name(db).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::common::fresh(keyward_store::Engine::Postgres).await {
                    super::$name(db).await;
                }
            }
        }
    )*};
}

/// An audit record to append.
pub fn audit(category: AuditCategory, action: &str) -> NewAudit {
    NewAudit {
        category,
        action: action.into(),
        officer: Some("root".into()),
        outcome: Outcome::Success,
        object: None,
        detail: json!({ "action": action }),
    }
}

/// An issuance audit record.
pub fn issued(action: &str) -> NewAudit {
    audit(AuditCategory::CertificatesIssued, action)
}

/// A certificate to record.
pub fn cert(serial: &str, subject: &str) -> NewCertificate {
    NewCertificate {
        serial_hex: serial.into(),
        subject: subject.into(),
        issuer: "CN=Keyward Issuing CA".into(),
        not_before: 1_700_000_000,
        not_after: 1_763_000_000,
        der: vec![0x30, 0x03, 0x02, 0x01, 0x00],
        certificate_procedure: "signing".into(),
        token_procedure: "person".into(),
        key_origin: "local".into(),
        key_usage: "digitalSignature,nonRepudiation".into(),
        officer: "root".into(),
        email: Some("alice@example.org".into()),
        archived_key: None,
    }
}

/// A search by serial.
pub fn by_serial(serial: &str) -> CertificateQuery {
    CertificateQuery {
        serial_hex: Some(serial.into()),
        ..Default::default()
    }
}

/// A search by subject.
pub fn by_subject(subject: &str) -> CertificateQuery {
    CertificateQuery {
        subject: Some(subject.into()),
        ..Default::default()
    }
}
