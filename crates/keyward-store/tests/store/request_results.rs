//! Idempotent requests: the answer is recorded in the issuance transaction, a request ID issues
//! at most once per officer (also when attempts race), a failed answer rolls everything back,
//! old answers are pruned while the ID stays used; nonces tell a byte-identical resend from a
//! replay.

use keyward_store::{
    ConflictOn, NewCertificate, NonceSight, Recorded, RequestAnswer, RequestKey, Store, StoreError,
    StoredCertificate, TokenRecord,
};

use crate::common::{cert, count, issued, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    the_answer_is_recorded_with_the_certificates,
    a_request_id_issues_once,
    racing_attempts_issue_once,
    a_failed_answer_writes_nothing,
    old_answers_are_pruned_and_the_id_stays_used,
    a_bad_request_key_is_refused,
    a_resend_of_the_same_bytes_is_told_from_a_replay
);

fn key(officer: &str, request_id: &str, body: &str) -> RequestKey {
    RequestKey {
        officer: officer.into(),
        request_id: request_id.into(),
        endpoint: "/v1/tokens".into(),
        body_sha256: keyward_sha256(body),
    }
}

/// A stand-in for the body hash: 64 hex digits derived from `body`.
fn keyward_sha256(body: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// Records `certs` for request `k` with an issuance audit record and [`respond`]'s answer.
async fn answered(
    s: &Store,
    certs: &[NewCertificate],
    k: &RequestKey,
) -> Result<Vec<StoredCertificate>, StoreError> {
    let audit = issued("issue-token");
    let token = TokenRecord {
        certificates: certs,
        audit: &audit,
        extra: &[],
        pin: None,
        approval: None,
        revoke: &[],
    };
    s.record_token_answered(&token, k, respond)
        .await
        .map(|r| r.certificates)
}

fn respond(recorded: &Recorded) -> Result<RequestAnswer, String> {
    let ids: Vec<String> = recorded
        .certificates
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    Ok(RequestAnswer {
        response: format!("{{\"certificates\":[{}]}}", ids.join(",")),
        certificate_ids: ids,
    })
}

async fn the_answer_is_recorded_with_the_certificates(db: TestDb) {
    let s = &db.store;
    let k = key("alice", "r-1", "body one");
    assert!(s.request_result("alice", "r-1").await.unwrap().is_none());
    let stored = answered(s, &[cert("0a", "CN=A"), cert("0b", "CN=A")], &k)
        .await
        .unwrap();
    let ids = format!("{},{}", stored[0].id, stored[1].id);
    let found = s.request_result("alice", "r-1").await.unwrap().unwrap();
    assert_eq!(found.key, k);
    assert_eq!(found.certificate_ids, ids);
    assert_eq!(
        found.response.as_deref(),
        Some(format!("{{\"certificates\":[{ids}]}}").as_str())
    );
    assert!(found.created_at > 1_700_000_000);
    assert!(
        s.request_result("bob", "r-1").await.unwrap().is_none(),
        "per officer"
    );
}

async fn a_request_id_issues_once(db: TestDb) {
    let s = &db.store;
    let k = key("alice", "r-2", "body");
    answered(s, &[cert("1a", "CN=A")], &k).await.unwrap();
    let (certs, audits) = (count(&db, "certificates").await, count(&db, "audit").await);
    for again in [k.clone(), key("alice", "r-2", "other body")] {
        let err = answered(s, &[cert("1b", "CN=A")], &again)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict(ConflictOn::RequestId)),
            "{err}"
        );
    }
    assert_eq!(count(&db, "certificates").await, certs, "nothing issued");
    assert_eq!(count(&db, "audit").await, audits, "nothing audited");
    // Another officer may use the same request ID.
    answered(s, &[cert("1c", "CN=B")], &key("bob", "r-2", "body"))
        .await
        .unwrap();
    assert_eq!(count(&db, "request_results").await, 2);
}

async fn racing_attempts_issue_once(db: TestDb) {
    let k = key("alice", "r-race", "body");
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (s, k) = (db.store.clone(), k.clone());
        tasks.push(tokio::spawn(async move {
            answered(&s, &[cert(&format!("2{i}"), "CN=Race")], &k).await
        }));
    }
    let mut issued_once = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(stored) => {
                assert_eq!(stored.len(), 1);
                issued_once += 1;
            }
            Err(StoreError::Conflict(what)) => assert_eq!(what, ConflictOn::RequestId),
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!(issued_once, 1);
    assert_eq!(count(&db, "certificates").await, 1);
    let found = db
        .store
        .request_result("alice", "r-race")
        .await
        .unwrap()
        .unwrap();
    assert!(found.response.is_some());
}

async fn a_failed_answer_writes_nothing(db: TestDb) {
    let s = &db.store;
    let err = s
        .record_token_answered(
            &TokenRecord {
                certificates: &[cert("3a", "CN=A")],
                audit: &issued("issue-token"),
                extra: &[],
                pin: None,
                approval: None,
                revoke: &[],
            },
            &key("alice", "r-3", "body"),
            |_: &Recorded| Err("no answer".to_string()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert_eq!(count(&db, "certificates").await, 0);
    assert_eq!(count(&db, "request_results").await, 0);
    assert_eq!(count(&db, "audit").await, 0);
}

async fn old_answers_are_pruned_and_the_id_stays_used(db: TestDb) {
    let s = &db.store;
    let k = key("alice", "r-4", "body");
    answered(s, &[cert("4a", "CN=A")], &k).await.unwrap();
    assert_eq!(s.prune_request_answers(600).await.unwrap(), 0);
    assert!(s
        .request_result("alice", "r-4")
        .await
        .unwrap()
        .unwrap()
        .response
        .is_some());
    // With a window of -1 s every answer is older than the window.
    assert_eq!(s.prune_request_answers(-1).await.unwrap(), 1);
    let found = s.request_result("alice", "r-4").await.unwrap().unwrap();
    assert_eq!(found.response, None);
    assert!(!found.certificate_ids.is_empty(), "the IDs stay");
    let err = answered(s, &[cert("4b", "CN=A")], &k).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
}

async fn a_bad_request_key_is_refused(db: TestDb) {
    let s = &db.store;
    let mut bad = vec![
        key("alice", "", "body"),
        key("alice", &"x".repeat(65), "body"),
        key("alice", "has space", "body"),
        key("", "r-5", "body"),
    ];
    let mut short_hash = key("alice", "r-5", "body");
    short_hash.body_sha256.truncate(10);
    bad.push(short_hash);
    for k in bad {
        let err = answered(s, &[cert("5a", "CN=A")], &k).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{k:?}: {err}");
    }
    assert_eq!(count(&db, "certificates").await, 0);
}

async fn a_resend_of_the_same_bytes_is_told_from_a_replay(db: TestDb) {
    let s = &db.store;
    let (one, two) = (keyward_sha256("one"), keyward_sha256("two"));
    let sight = |nonce: &'static str, officer: &'static str, hash: Option<&str>| {
        let hash = hash.map(str::to_string);
        async move {
            s.check_nonce(nonce, officer, hash.as_deref(), 600)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        sight("nonce-000000001", "alice", Some(&one)).await,
        NonceSight::New
    );
    assert_eq!(
        sight("nonce-000000001", "alice", Some(&one.to_uppercase())).await,
        NonceSight::SameRequest
    );
    assert_eq!(
        sight("nonce-000000001", "alice", Some(&two)).await,
        NonceSight::Replayed
    );
    assert_eq!(
        sight("nonce-000000001", "bob", Some(&one)).await,
        NonceSight::Replayed
    );
    assert_eq!(
        sight("nonce-000000001", "alice", None).await,
        NonceSight::Replayed
    );
    // A nonce remembered without a hash is never "the same request".
    assert!(s
        .remember_nonce("nonce-000000002", "alice", 600)
        .await
        .unwrap());
    assert_eq!(
        sight("nonce-000000002", "alice", Some(&one)).await,
        NonceSight::Replayed
    );
}
