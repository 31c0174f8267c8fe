//! A store on a database of its own for each test (the kit's [`fresh_database`]), and
//! fixtures.

use keyward_store::{
    AuditCategory, CertificateQuery, Engine, NewAudit, NewCertificate, Outcome, Store,
};
use keyward_testkit::{fresh_database, TestDatabase};
use serde_json::json;

/// A store on a database of its own, removed when dropped.
pub(crate) struct TestDb {
    /// The store under test.
    pub store: Store,
    /// The URL it was opened with (for raw SQL).
    pub url: String,
    /// The engine.
    pub engine: Engine,
    // Dropped after the store: the database goes once nothing uses it.
    _db: TestDatabase,
}

/// A fresh store on `engine`; `None` when PostgreSQL is skipped on request.
pub(crate) async fn fresh(engine: keyward_testkit::Engine) -> Option<TestDb> {
    let db = fresh_database(engine).await?;
    let store = Store::open(&db.url).await.unwrap();
    Some(TestDb {
        url: db.url.clone(),
        engine: store.engine(),
        store,
        _db: db,
    })
}

/// An audit record to append.
pub(crate) fn audit(category: AuditCategory, action: &str) -> NewAudit {
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
pub(crate) fn issued(action: &str) -> NewAudit {
    audit(AuditCategory::CertificatesIssued, action)
}

/// A certificate to record.
pub(crate) fn cert(serial: &str, subject: &str) -> NewCertificate {
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
        attribute_certificate: None,
        recovered_from: None,
    }
}

/// A search by serial.
pub(crate) fn by_serial(serial: &str) -> CertificateQuery {
    CertificateQuery {
        serial_hex: Some(serial.into()),
        ..Default::default()
    }
}

/// A search by subject.
pub(crate) fn by_subject(subject: &str) -> CertificateQuery {
    CertificateQuery {
        subject: Some(subject.into()),
        ..Default::default()
    }
}

/// A connection pool of its own on the test database, for raw SQL.
pub(crate) async fn raw(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&db.url).await.unwrap()
}

/// The number of rows of `table`, by raw SQL.
pub(crate) async fn count(db: &TestDb, table: &str) -> i64 {
    let raw = raw(db).await;
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let n = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .fetch_one(&raw)
        .await
        .unwrap();
    raw.close().await;
    n
}
