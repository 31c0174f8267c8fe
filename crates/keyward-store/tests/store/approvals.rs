//! M-of-N approval requests: votes, decisions, expiry, and use by exactly one issuance.

use keyward_store::{ApprovalState, ApprovalUse, AuditCategory, NewApproval, StoreError};

use crate::common::{audit, cert, count, issued, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    two_of_three_then_used_once,
    one_rejection_rejects,
    expired_requests_refuse
);

fn request(expires_at: i64) -> NewApproval {
    NewApproval {
        requester: "alice".into(),
        token_procedure: "recover-encryption-approved".into(),
        subject: "CN=Holder".into(),
        key_certificate_ids: "3,7".into(),
        required: 2,
        expires_at,
    }
}

fn vote() -> keyward_store::NewAudit {
    audit(AuditCategory::KeysRecovered, "vote-approval")
}

fn later() -> i64 {
    4_000_000_000
}

async fn two_of_three_then_used_once(db: TestDb) {
    let s = &db.store;
    let a = s
        .create_approval(
            &request(later()),
            &audit(AuditCategory::KeysRecovered, "request-approval"),
        )
        .await
        .unwrap();
    assert_eq!(a.state, ApprovalState::Pending);
    let own = s
        .vote_approval(a.id, "alice", true, &vote())
        .await
        .unwrap_err();
    assert!(own.to_string().contains("requester"), "{own}");
    let one = s.vote_approval(a.id, "bob", true, &vote()).await.unwrap();
    assert_eq!((one.state, one.approvals()), (ApprovalState::Pending, 1));
    let twice = s
        .vote_approval(a.id, "bob", true, &vote())
        .await
        .unwrap_err();
    assert!(twice.to_string().contains("voted already"), "{twice}");
    let two = s.vote_approval(a.id, "carol", true, &vote()).await.unwrap();
    assert_eq!((two.state, two.approvals()), (ApprovalState::Approved, 2));
    let late = s
        .vote_approval(a.id, "dave", false, &vote())
        .await
        .unwrap_err();
    assert!(late.to_string().contains("approved already"), "{late}");

    let used = ApprovalUse {
        id: a.id,
        request_id: "r1".into(),
    };
    s.record_token_with(
        &[cert("0a", "CN=Holder")],
        &issued("issue-token"),
        &[],
        None,
        Some(&used),
    )
    .await
    .unwrap();
    assert_eq!(
        s.approval(a.id).await.unwrap().unwrap().state,
        ApprovalState::Used
    );
    let again = s
        .record_token_with(
            &[cert("0b", "CN=Holder")],
            &issued("issue-token"),
            &[],
            None,
            Some(&used),
        )
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Used(_)), "{again}");
    assert_eq!(
        count(&db, "certificates").await,
        1,
        "the second use wrote nothing"
    );
    assert_eq!(s.approvals(true, None).await.unwrap().len(), 0);
    assert_eq!(s.approvals(false, None).await.unwrap().len(), 1);
}

async fn one_rejection_rejects(db: TestDb) {
    let s = &db.store;
    let a = s
        .create_approval(
            &request(later()),
            &audit(AuditCategory::KeysRecovered, "request-approval"),
        )
        .await
        .unwrap();
    s.vote_approval(a.id, "bob", true, &vote()).await.unwrap();
    let rejected = s
        .vote_approval(a.id, "carol", false, &vote())
        .await
        .unwrap();
    assert_eq!(rejected.state, ApprovalState::Rejected);
    let used = ApprovalUse {
        id: a.id,
        request_id: "r2".into(),
    };
    let err = s
        .record_token_with(
            &[cert("0c", "CN=Holder")],
            &issued("issue-token"),
            &[],
            None,
            Some(&used),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Used(_)), "{err}");
}

async fn expired_requests_refuse(db: TestDb) {
    let s = &db.store;
    let a = s
        .create_approval(
            &request(1),
            &audit(AuditCategory::KeysRecovered, "request-approval"),
        )
        .await
        .unwrap();
    let err = s
        .vote_approval(a.id, "bob", true, &vote())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    assert!(s.approvals(true, None).await.unwrap().is_empty());
    let err = s
        .vote_approval(999, "bob", true, &vote())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such request"), "{err}");
}
