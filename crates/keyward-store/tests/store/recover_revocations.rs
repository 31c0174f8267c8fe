//! Revocation at key recovery: the old certificates of recovered keys are revoked in the
//! transaction that records the new ones (`TokenRecord::revoke`), with their audit records;
//! one revoked already is kept (a hold is made final); a failed transaction leaves nothing.

use keyward_policy::RevocationReason as Reason;
use keyward_store::{
    AuditCategory, NewAudit, NewCertificate, NewRevocation, OldRevocation, Recorded, RequestAnswer,
    RequestKey, Store, StoreError, StoredCertificate, TokenRecord, Unhold,
};

use crate::common::{audit, cert, count, issued, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    recover_revokes_old_certificates_with_the_new_ones,
    recover_records_nothing_when_the_transaction_fails
);

const ISSUER: &str = "CN=Keyward Issuing CA";

fn revocation_record() -> NewAudit {
    audit(AuditCategory::CertificatesRevoked, "revoke-certificate")
}

fn old(certificate_id: i64, reason: Reason) -> OldRevocation {
    OldRevocation {
        certificate_id,
        reason,
        audit: revocation_record(),
    }
}

type NoAnswer = fn(&StoredCertificate) -> keyward_store::Answered;

/// Revokes `id` as an officer would, outside any recovery.
async fn officer_revokes(s: &Store, id: i64, reason: Reason) {
    let record = revocation_record();
    let rev = NewRevocation {
        certificate_id: id,
        reason,
        invalidity_date: None,
        audit: &record,
    };
    s.revoke(&rev, None::<(&RequestKey, NoAnswer)>)
        .await
        .unwrap();
}

/// A recovery's new certificate.
fn recovered(serial: &str) -> NewCertificate {
    NewCertificate {
        key_origin: "recovered".into(),
        ..cert(serial, "CN=Alice")
    }
}

async fn recover_revokes_old_certificates_with_the_new_ones(db: TestDb) {
    let s = &db.store;
    let olds = s
        .record_issuance(
            &[
                cert("0B01", "CN=Alice"),
                cert("0B02", "CN=Alice"),
                cert("0B03", "CN=Alice"),
                cert("0B04", "CN=Alice"),
                cert("0B05", "CN=Alice"),
            ],
            &issued("issue-token"),
        )
        .await
        .unwrap();
    let id = |i: usize| olds[i].id;
    // 0: valid; 1: on hold; 2: revoked for key compromise; 3: a hold released; 4: on hold,
    // and the recovery asks for a hold.
    officer_revokes(s, id(1), Reason::CertificateHold).await;
    officer_revokes(s, id(2), Reason::KeyCompromise).await;
    officer_revokes(s, id(3), Reason::CertificateHold).await;
    let record = revocation_record();
    s.unhold(
        &Unhold {
            certificate_id: id(3),
            audit: &record,
        },
        None::<(&RequestKey, NoAnswer)>,
    )
    .await
    .unwrap();
    officer_revokes(s, id(4), Reason::CertificateHold).await;
    let audit_before = count(&db, "audit").await;
    let changes_before = s.revocation_change_number().await.unwrap();

    let revoke = [
        old(id(0), Reason::Superseded),
        old(id(1), Reason::Superseded),
        old(id(2), Reason::Superseded),
        old(id(3), Reason::Superseded),
        old(id(4), Reason::CertificateHold),
    ];
    let new = [NewCertificate {
        recovered_from: Some(id(0)),
        ..recovered("0C01")
    }];
    let token = TokenRecord {
        certificates: &new,
        audit: &issued("issue-token"),
        extra: &[],
        pin: None,
        approval: None,
        revoke: &revoke,
    };
    let Recorded {
        certificates,
        revoked,
    } = s.record_token_once(&token).await.unwrap();
    assert_eq!(certificates.len(), 1);
    // The new certificate names the certificate its key was archived with (migration 0016).
    assert_eq!(certificates[0].recovered_from, Some(id(0)));
    let found = s
        .find_certificates(&keyward_store::CertificateQuery {
            id: Some(certificates[0].id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found[0].recovered_from, Some(id(0)));
    assert_eq!(olds[0].recovered_from, None);
    // (reason in force, kept, hold replaced)
    let want = [
        (Reason::Superseded, false, false),
        (Reason::Superseded, false, true),
        (Reason::KeyCompromise, true, false),
        (Reason::Superseded, false, false),
        (Reason::CertificateHold, true, false),
    ];
    for (i, (got, want)) in revoked.iter().zip(want).enumerate() {
        assert_eq!(got.certificate_id, id(i));
        assert_eq!(got.serial_hex, olds[i].serial_hex);
        assert_eq!((got.reason, got.kept, got.hold_replaced), want, "old {i}");
    }
    assert_eq!(revoked.len(), 5);
    // The status OCSP reads says the same.
    for (i, (reason, _, _)) in want.iter().enumerate() {
        let status = s
            .certificate_status(ISSUER, &olds[i].serial_hex)
            .await
            .unwrap()
            .unwrap();
        let r = status.revocation.unwrap();
        assert!(r.in_force(), "old {i}");
        assert_eq!(r.reason, *reason, "old {i}");
    }
    // Three rows written, each a change a delta CRL lists; the kept ones are untouched.
    assert_eq!(
        s.revocation_change_number().await.unwrap(),
        changes_before + 3
    );
    // The issuance record, then one revocation record per row written.
    assert_eq!(count(&db, "audit").await, audit_before + 4);
    let records = s.audit_records(4).await.unwrap();
    assert_eq!(records[0].action, "issue-token");
    let summary = records[0].detail["revoked_old"].as_array().unwrap();
    assert_eq!(summary.len(), 5);
    assert_eq!(summary[2]["kept"], true);
    assert_eq!(summary[2]["reason"], "keyCompromise");
    for (rec, i) in records[1..].iter().zip([0, 1, 3]) {
        assert_eq!(rec.action, "revoke-certificate");
        assert_eq!(rec.category, AuditCategory::CertificatesRevoked);
        assert_eq!(rec.object.as_deref(), Some(id(i).to_string().as_str()));
        assert_eq!(rec.detail["reason"], "superseded");
        assert_eq!(rec.detail["serial"], olds[i].serial_hex.as_str());
    }
    assert_eq!(records[2].detail["replaced"], "certificateHold");
}

async fn recover_records_nothing_when_the_transaction_fails(db: TestDb) {
    let s = &db.store;
    let olds = s
        .record_issuance(&[cert("0D01", "CN=Alice")], &issued("issue-token"))
        .await
        .unwrap();
    let valid = olds[0].id;
    let before = (
        count(&db, "certificates").await,
        count(&db, "revocations").await,
        count(&db, "audit").await,
        s.revocation_change_number().await.unwrap(),
    );

    // An old certificate that does not exist, after one that does: neither is revoked and the
    // new certificate is not recorded.
    let new = [recovered("0E01")];
    let revoke = [
        old(valid, Reason::KeyCompromise),
        old(999_999, Reason::KeyCompromise),
    ];
    let err = s
        .record_token_once(&TokenRecord {
            certificates: &new,
            audit: &issued("issue-token"),
            extra: &[],
            pin: None,
            approval: None,
            revoke: &revoke,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownCertificate(999_999)),
        "{err}"
    );

    // The answer fails after everything is written: all rolled back.
    let revoke = [old(valid, Reason::Superseded)];
    let key = RequestKey {
        officer: "root".into(),
        request_id: "r-recover-1".into(),
        endpoint: "/v1/tokens".into(),
        body_sha256: "ab".repeat(32),
    };
    let err = s
        .record_token_answered(
            &TokenRecord {
                certificates: &new,
                audit: &issued("issue-token"),
                extra: &[],
                pin: None,
                approval: None,
                revoke: &revoke,
            },
            &key,
            |_: &Recorded| -> Result<RequestAnswer, String> { Err("no answer".into()) },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");

    // A serial recorded before: refused, the old certificate is still valid.
    let again = [recovered("0D01")];
    let err = s
        .record_token_once(&TokenRecord {
            certificates: &again,
            audit: &issued("issue-token"),
            extra: &[],
            pin: None,
            approval: None,
            revoke: &revoke,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");

    let now = (
        count(&db, "certificates").await,
        count(&db, "revocations").await,
        count(&db, "audit").await,
        s.revocation_change_number().await.unwrap(),
    );
    assert_eq!(now, before);
    let status = s.certificate_status(ISSUER, "0D01").await.unwrap().unwrap();
    assert_eq!(status.revocation, None);
}
