//! Officers.

use keyward_policy::Role;
use keyward_store::{AuditCategory, ConflictOn, NewOfficer, StoreError};

use crate::common::{audit, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>officers, officer_with_damaged_roles_is_corrupt);

fn officer(name: &str, fingerprint: &str) -> NewOfficer {
    NewOfficer {
        name: name.into(),
        cert_fingerprint: fingerprint.into(),
        cert_der: vec![0x30, 0x82, 0x01, 0x00, 0xff],
        roles: [Role::IssueCertificate, Role::RecoverKey]
            .into_iter()
            .collect(),
    }
}

async fn officers(db: TestDb) {
    let s = &db.store;
    let admin = |action: &str| audit(AuditCategory::Administration, action);
    let alice_fp = "AB".repeat(32);
    let alice = s
        .add_officer(&officer("alice", &alice_fp), &admin("create-officer"))
        .await
        .unwrap();
    assert_eq!(alice.cert_fingerprint, "ab".repeat(32), "stored lowercase");
    assert_eq!(alice.roles.len(), 2);
    assert_eq!(alice.revoked_at, None);
    assert!(alice.created_at > 1_700_000_000);
    let bob = s
        .add_officer(&officer("bob", &"cd".repeat(32)), &admin("create-officer"))
        .await
        .unwrap();
    assert!(bob.id > alice.id);

    assert_eq!(
        s.officer_by_name("alice").await.unwrap().as_ref(),
        Some(&alice)
    );
    assert_eq!(
        s.officer_by_fingerprint(&alice_fp).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(s.officer_by_name("carol").await.unwrap(), None);
    assert_eq!(
        s.officer_by_fingerprint(&"ee".repeat(32)).await.unwrap(),
        None
    );

    let same_name = s
        .add_officer(&officer("alice", &"ef".repeat(32)), &admin("x"))
        .await;
    assert!(
        matches!(
            &same_name,
            Err(StoreError::Conflict(ConflictOn::OfficerName))
        ),
        "{same_name:?}"
    );
    let same_cert = s
        .add_officer(&officer("carol", &alice_fp), &admin("x"))
        .await;
    assert!(
        matches!(
            &same_cert,
            Err(StoreError::Conflict(ConflictOn::OfficerFingerprint))
        ),
        "{same_cert:?}"
    );
    let bad = s.add_officer(&officer("carol", "abc"), &admin("x")).await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");

    assert!(s
        .revoke_officer("alice", &admin("revoke-officer"))
        .await
        .unwrap());
    assert!(
        !s.revoke_officer("alice", &admin("x")).await.unwrap(),
        "already revoked"
    );
    assert!(!s.revoke_officer("nobody", &admin("x")).await.unwrap());
    let revoked = s.officer_by_name("alice").await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some());

    let names: Vec<String> = s
        .list_officers()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let actions: Vec<String> = s
        .audit_records(100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        ["create-officer", "create-officer", "revoke-officer"],
        "refused changes leave no audit record here (callers log refusals)"
    );
}

async fn officer_with_damaged_roles_is_corrupt(db: TestDb) {
    let s = &db.store;
    let admin = audit(AuditCategory::Administration, "create-officer");
    s.add_officer(&officer("alice", &"ab".repeat(32)), &admin)
        .await
        .unwrap();
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE officers SET roles = 'issue-certificate,root' WHERE name = 'alice'")
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    let err = s.officer_by_name("alice").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("alice")),
        "{err}"
    );
    assert!(matches!(
        s.list_officers().await,
        Err(StoreError::Corrupt(_))
    ));
}
