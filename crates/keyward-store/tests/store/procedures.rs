//! Procedures, and migrations.

use keyward_policy::{
    KeyAction, KeyProcedure, KeyUsageSet, ProcedureSet, RecoverCertificate, RecoverScope,
};
use keyward_store::{
    AuditCategory, ConflictOn, Engine, NewApproval, NewProcedureVersion, Store, StoreError,
};
use serde_json::json;

use crate::common::{audit, by_serial, cert, issued, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>migrations_are_idempotent, procedures_round_trip, procedure_versions_are_numbered_audited_and_guarded);

async fn migrations_are_idempotent(db: TestDb) {
    db.store
        .record_issuance(&[cert("01", "CN=Before")], &issued("issue"))
        .await
        .unwrap();
    let again = Store::open(&db.url).await.unwrap();
    assert_eq!(again.engine(), db.store.engine());
    let third = Store::open(&db.url).await.unwrap();
    let found = third.find_certificates(&by_serial("1")).await.unwrap();
    assert_eq!(found.len(), 1, "data survives reopening");
    third.close().await;
    again.close().await;
    if db.store.engine() == Engine::Sqlite {
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&raw)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        raw.close().await;
    }
}

const PROCEDURES: &str = r#"
[[certificate-procedure]]
name = "signing"
validity_days = 730
key_usage = ["digitalSignature", "nonRepudiation"]
extended_key_usage = ["emailProtection"]
email = "optional"
subject = [{ attribute = "CN", required = true }, { attribute = "OU", multiple = true }]
key_specs = ["EC:secp256r1", "RSA:3072"]
certificate_policies = [{ oid = "1.2.3.4", cps = "https://pki.example.com/cps", notice = "Test" }]
crl_urls = ["http://pki.example.com/crl"]
ocsp_urls = ["http://ocsp.example.com"]
qc_officer_may_add = ["limit_value"]
qc_statements = { compliance = true, type = ["esign"], retention_period = 15 }

[[certificate-procedure]]
name = "encryption"
validity_days = 365
key_usage = ["keyEncipherment"]
subject = [{ attribute = "CN", required = true }]

[[token-procedure]]
name = "person"
certificate_procedures = ["signing", "encryption"]
key_procedures = ["encryption-archive"]
pin_procedure = "show"
attribute_certificate = "roles"

[[attribute-certificate-procedure]]
name = "roles"
validity_days = 30
roles = ["urn:example:role:signer"]
groups = ["staff", "finance"]

[[token-procedure]]
name = "encryption"
certificate_procedures = ["encryption"]
pin_procedure = "enter-6"
p12_profile = "legacy-slow"

[[pin-procedure]]
name = "show"
method = "show"

[[pin-procedure]]
name = "enter-6"
method = "enter"
min_length = 6

[[p12-profile]]
name = "legacy-slow"
scheme = "legacy"
iterations = 100000
"#;

/// Built in code: `KeyProcedure` cannot be deserialised (keyward-policy combines
/// `deny_unknown_fields` with `flatten`), which the store works around when reading.
fn key_procedures() -> Vec<KeyProcedure> {
    let encipherment: KeyUsageSet = serde_json::from_value(json!(["keyEncipherment"])).unwrap();
    vec![
        KeyProcedure {
            approvals: 0,
            approval_hours: 24,
            name: "encryption-archive".into(),
            description: "archive".into(),
            key_usage: encipherment.clone(),
            action: KeyAction::Archive {
                key_spec: "RSA:2048".parse().unwrap(),
            },
        },
        KeyProcedure {
            approvals: 0,
            approval_hours: 24,
            name: "encryption-recover".into(),
            description: String::new(),
            key_usage: encipherment,
            action: KeyAction::Recover {
                scope: RecoverScope::All,
                certificate: RecoverCertificate::New {
                    certificate_procedure: "encryption".into(),
                },
                revoke_old: keyward_policy::RevokeOld::Superseded,
            },
        },
    ]
}

async fn procedures_round_trip(db: TestDb) {
    let s = &db.store;
    assert_eq!(s.procedures().await.unwrap(), ProcedureSet::default());
    let mut set: ProcedureSet = toml::from_str(PROCEDURES).unwrap();
    set.key = key_procedures();
    set.validate().unwrap();
    let admin = || audit(AuditCategory::Administration, "load-procedures");
    s.replace_procedures(&set, &admin()).await.unwrap();
    assert_eq!(s.procedures().await.unwrap(), set, "order and content kept");

    let mut smaller = set.clone();
    smaller.key.clear();
    smaller.token.truncate(1);
    s.replace_procedures(&smaller, &admin()).await.unwrap();
    assert_eq!(s.procedures().await.unwrap(), smaller, "old rows deleted");

    let mut duplicate = set.clone();
    duplicate.certificate.push(set.certificate[0].clone());
    let err = s
        .replace_procedures(&duplicate, &admin())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(ConflictOn::ProcedureName)),
        "{err}"
    );
    assert_eq!(s.procedures().await.unwrap(), smaller, "rolled back");
    let log = s.audit_records(10).await.unwrap();
    assert_eq!(log.len(), 2, "one audit record per successful replace");
    assert!(log.iter().all(|r| r.action == "load-procedures"));
}

async fn procedure_versions_are_numbered_audited_and_guarded(db: TestDb) {
    let s = &db.store;
    assert_eq!(s.current_procedure_version().await.unwrap(), None);
    let mut set: ProcedureSet = toml::from_str(PROCEDURES).unwrap();
    set.key = key_procedures();
    set.validate().unwrap();
    let load = move |previous: Option<i64>, set: &ProcedureSet, text: &'static str| {
        let set = set.clone();
        async move {
            let new = NewProcedureVersion {
                set: &set,
                source: text,
                sha256: "00",
                loaded_by: "keyward-admin",
                previous,
            };
            let mut audit = audit(AuditCategory::Administration, "load-procedures");
            audit.detail = json!({ "added": ["token-procedure x"] });
            s.load_procedure_version(&new, &audit).await
        }
    };
    assert_eq!(load(None, &set, "first").await.unwrap(), 1);
    assert_eq!(load(Some(1), &set, "second").await.unwrap(), 2);
    let current = s.current_procedure_version().await.unwrap().unwrap();
    assert_eq!((current.version, current.source.as_str()), (2, "second"));
    assert_eq!(current.loaded_by, "keyward-admin");
    let log = s.audit_records(10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .any(|r| r.detail["version"] == 2 && r.detail["added"][0] == "token-procedure x"));

    // A load compared against an older version is refused: another was loaded meanwhile.
    let err = load(Some(1), &set, "stale").await.unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::Conflict(ConflictOn::ProcedureVersion(Some(2)))
        ),
        "{err}"
    );

    // An open approval request names a token procedure: a set without it is refused.
    let token = set.token[0].name.clone();
    s.create_approval(
        &NewApproval {
            requester: "alice".into(),
            token_procedure: token.clone(),
            subject: "CN=A".into(),
            key_certificate_ids: "1".into(),
            required: 1,
            expires_at: i64::MAX / 2,
        },
        &audit(AuditCategory::KeysRecovered, "request-approval"),
    )
    .await
    .unwrap();
    let mut without = set.clone();
    without.token.retain(|t| t.name != token);
    let err = load(Some(2), &without, "third").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains(&format!("token procedure {token} is named by an open recovery approval request"))),
        "{err}"
    );
    assert_eq!(
        s.current_procedure_version()
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    assert_eq!(s.procedures().await.unwrap(), set, "rolled back");
}
