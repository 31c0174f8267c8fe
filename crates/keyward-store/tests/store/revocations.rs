//! Revocation state: revoke (once), hold and unhold, status by issuer and serial, status
//! filters in searches, CRL row streams (full and delta), CRL numbers, idempotent requests and
//! racing revocations.

use futures_util::StreamExt;
use keyward_policy::RevocationReason as Reason;
use keyward_store::{
    Answered, ArchivedKeyQuery, AuditCategory, CertificateQuery, ConflictOn, NewAudit,
    NewCertificate, NewRevocation, RequestAnswer, RequestKey, RevokedEntry, StatusFilter, Store,
    StoreError, StoredCertificate, Unhold,
};

use crate::common::{audit, cert, count, issued, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    revoke_once_and_look_up_the_status,
    hold_unhold_and_hold_made_final,
    searches_filter_by_status,
    crl_streams_full_and_delta,
    crl_numbers_increase_and_record_what_they_cover,
    an_idempotent_revocation_is_recorded_once,
    racing_revocations_revoke_once
);

const ISSUER: &str = "CN=Keyward Issuing CA";

fn revoked(action: &str) -> NewAudit {
    audit(AuditCategory::CertificatesRevoked, action)
}

type NoAnswer = fn(&StoredCertificate) -> Answered;

async fn revoke(
    s: &Store,
    id: i64,
    reason: Reason,
    invalidity_date: Option<i64>,
) -> Result<StoredCertificate, StoreError> {
    let record = revoked("revoke-certificate");
    let rev = NewRevocation {
        certificate_id: id,
        reason,
        invalidity_date,
        audit: &record,
    };
    s.revoke(&rev, None::<(&RequestKey, NoAnswer)>).await
}

async fn unhold(s: &Store, id: i64) -> Result<StoredCertificate, StoreError> {
    let record = revoked("unhold-certificate");
    let u = Unhold {
        certificate_id: id,
        audit: &record,
    };
    s.unhold(&u, None::<(&RequestKey, NoAnswer)>).await
}

async fn record(s: &Store, certs: &[NewCertificate]) -> Vec<StoredCertificate> {
    s.record_issuance(certs, &issued("issue-token"))
        .await
        .unwrap()
}

async fn collect(
    stream: futures_util::stream::BoxStream<'_, Result<RevokedEntry, StoreError>>,
) -> Vec<RevokedEntry> {
    stream.map(|e| e.unwrap()).collect().await
}

async fn revoke_once_and_look_up_the_status(db: TestDb) {
    let s = &db.store;
    let certs = record(s, &[cert("0A01", "CN=Alice"), cert("0A02", "CN=Bob")]).await;
    let alice = &certs[0];
    let done = revoke(s, alice.id, Reason::KeyCompromise, Some(1_700_000_100))
        .await
        .unwrap();
    let r = done.revocation.clone().unwrap();
    assert_eq!(
        (r.reason, r.invalidity_date, r.released_at),
        (Reason::KeyCompromise, Some(1_700_000_100), None)
    );
    assert!(r.revoked_at >= 1_700_000_000 && r.change_seq >= 1);

    // OCSP's look-up: by issuer and serial in any spelling; another issuer's or an unknown
    // serial is not ours.
    let status = s
        .certificate_status(ISSUER, "00:0a:01")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.certificate_id, alice.id);
    assert_eq!(status.revocation.as_ref(), Some(&r));
    let bob = s.certificate_status(ISSUER, "A02").await.unwrap().unwrap();
    assert_eq!((bob.certificate_id, bob.revocation), (certs[1].id, None));
    assert_eq!(
        s.certificate_status("CN=Other CA", "0A01").await.unwrap(),
        None
    );
    assert_eq!(s.certificate_status(ISSUER, "0A03").await.unwrap(), None);

    // A second revocation is refused, naming the first; nothing more is written.
    let audit_before = count(&db, "audit").await;
    match revoke(s, alice.id, Reason::Superseded, None).await {
        Err(StoreError::AlreadyRevoked {
            certificate_id,
            reason,
            revoked_at,
        }) => {
            assert_eq!(
                (certificate_id, reason, revoked_at),
                (alice.id, Reason::KeyCompromise, r.revoked_at)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        revoke(s, 999_999, Reason::Superseded, None).await,
        Err(StoreError::UnknownCertificate(999_999))
    ));
    assert_eq!(count(&db, "audit").await, audit_before);
    assert_eq!(count(&db, "revocations").await, 1);

    // The revocation's audit record names the certificate, its serial and the reason.
    let last = s.audit_records(1).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.object.as_deref()),
        ("revoke-certificate", Some(alice.id.to_string().as_str()))
    );
    assert_eq!(last.detail["reason"], "keyCompromise");
    assert_eq!(last.detail["serial"], "0A01");
    assert_eq!(last.category, AuditCategory::CertificatesRevoked);
}

async fn hold_unhold_and_hold_made_final(db: TestDb) {
    let s = &db.store;
    let certs = record(s, &[cert("0B01", "CN=Carol")]).await;
    let id = certs[0].id;
    assert!(matches!(
        unhold(s, id).await,
        Err(StoreError::NotOnHold {
            revocation: None,
            ..
        })
    ));
    let held = revoke(s, id, Reason::CertificateHold, None).await.unwrap();
    assert!(held.revocation.as_ref().unwrap().on_hold());
    // On hold: another hold is refused, the hold is released once.
    assert!(matches!(
        revoke(s, id, Reason::CertificateHold, None).await,
        Err(StoreError::AlreadyRevoked {
            reason: Reason::CertificateHold,
            ..
        })
    ));
    let released = unhold(s, id).await.unwrap();
    let rel = released.revocation.clone().unwrap();
    assert!(rel.released_at.is_some() && !rel.in_force());
    assert!(rel.change_seq > held.revocation.unwrap().change_seq);
    assert!(matches!(
        unhold(s, id).await,
        Err(StoreError::NotOnHold {
            revocation: None,
            ..
        })
    ));
    let last = s.audit_records(1).await.unwrap().pop().unwrap();
    assert_eq!(last.action, "unhold-certificate");
    // Held again, then revoked for good: a hold may be made final; then nothing more.
    revoke(s, id, Reason::CertificateHold, None).await.unwrap();
    let fin = revoke(s, id, Reason::KeyCompromise, None).await.unwrap();
    assert_eq!(
        fin.revocation.as_ref().unwrap().reason,
        Reason::KeyCompromise
    );
    match unhold(s, id).await {
        Err(StoreError::NotOnHold {
            revocation: Some(r),
            ..
        }) => assert_eq!(r.reason, Reason::KeyCompromise),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        count(&db, "revocations").await,
        1,
        "one row per certificate"
    );
}

async fn searches_filter_by_status(db: TestDb) {
    let s = &db.store;
    // The fixture's certificates have expired by now: these are valid for a year more.
    let valid = |serial: &str, subject: &str| NewCertificate {
        not_after: keyward_testkit_now() + 365 * 86_400,
        ..cert(serial, subject)
    };
    let mut expired = cert("0C04", "CN=Status Dave");
    expired.not_after = 1_700_000_500;
    let certs = record(
        s,
        &[
            valid("0C01", "CN=Status Alice"),
            valid("0C02", "CN=Status Bob"),
            valid("0C03", "CN=Status Carol"),
            expired,
            valid("0C05", "CN=Status Erin"),
        ],
    )
    .await;
    let ids: Vec<i64> = certs.iter().map(|c| c.id).collect();
    revoke(s, ids[1], Reason::Superseded, None).await.unwrap();
    revoke(s, ids[2], Reason::CertificateHold, None)
        .await
        .unwrap();
    revoke(s, ids[4], Reason::CertificateHold, None)
        .await
        .unwrap();
    unhold(s, ids[4]).await.unwrap();
    let now = keyward_testkit_now();
    let find = |status: StatusFilter| async move {
        let q = CertificateQuery {
            subject: Some("status".into()),
            status: Some(status),
            ..Default::default()
        };
        let found = s.find_certificates(&q).await.unwrap();
        for c in &found {
            assert_eq!(c.status(now).filter(), status, "{c:?}");
        }
        found.iter().map(|c| c.id).collect::<Vec<_>>()
    };
    assert_eq!(find(StatusFilter::Valid).await, vec![ids[0], ids[4]]);
    assert_eq!(find(StatusFilter::Revoked).await, vec![ids[1]]);
    assert_eq!(find(StatusFilter::OnHold).await, vec![ids[2]]);
    assert_eq!(find(StatusFilter::Expired).await, vec![ids[3]]);
    // Without a filter every certificate comes with its revocation row.
    let all = s
        .find_certificates(&CertificateQuery {
            subject: Some("status".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(
        all[1].revocation.as_ref().unwrap().reason,
        Reason::Superseded
    );
    assert!(all[0].revocation.is_none());
    // Archived keys carry and filter by their certificate's status too.
    let q = ArchivedKeyQuery {
        status: Some(StatusFilter::Revoked),
        ..Default::default()
    };
    assert!(s.find_archived_keys(&q).await.unwrap().is_empty());
}

fn keyward_testkit_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn crl_streams_full_and_delta(db: TestDb) {
    let s = &db.store;
    let mut other = cert("0D09", "CN=Other CA's");
    other.issuer = "CN=Other CA".into();
    let certs = record(
        s,
        &[
            cert("0D01", "CN=A"),
            cert("0D02", "CN=B"),
            cert("0D03", "CN=C"),
            other,
        ],
    )
    .await;
    revoke(s, certs[0].id, Reason::KeyCompromise, Some(1_700_000_001))
        .await
        .unwrap();
    revoke(s, certs[1].id, Reason::CertificateHold, None)
        .await
        .unwrap();
    revoke(s, certs[3].id, Reason::Superseded, None)
        .await
        .unwrap();
    let base = s.next_crl_number(ISSUER).await.unwrap();
    assert_eq!(
        base.changes_upto,
        s.revocation_change_number().await.unwrap()
    );
    let full = collect(s.revoked_entries(ISSUER)).await;
    let serials: Vec<&str> = full.iter().map(|e| e.serial_hex.as_str()).collect();
    assert_eq!(
        serials,
        ["d01", "d02"],
        "normalized serials, this issuer only"
    );
    assert_eq!(full[0].invalidity_date, Some(1_700_000_001));
    assert_eq!(full[1].reason, Reason::CertificateHold);
    // After the base CRL: the hold released, another revoked.
    unhold(s, certs[1].id).await.unwrap();
    revoke(s, certs[2].id, Reason::AffiliationChanged, None)
        .await
        .unwrap();
    let delta = collect(s.revocation_changes(ISSUER, base.changes_upto)).await;
    let changes: Vec<(&str, Option<bool>)> = delta
        .iter()
        .map(|e| (e.serial_hex.as_str(), Some(e.released_at.is_some())))
        .collect();
    assert_eq!(changes, [("d02", Some(true)), ("d03", Some(false))]);
    assert!(delta[0].change_seq < delta[1].change_seq);
    let full = collect(s.revoked_entries(ISSUER)).await;
    let serials: Vec<&str> = full.iter().map(|e| e.serial_hex.as_str()).collect();
    assert_eq!(
        serials,
        ["d01", "d03"],
        "a released hold leaves the full CRL"
    );
    assert_eq!(
        collect(s.revocation_changes(ISSUER, i64::MAX)).await,
        vec![]
    );
}

async fn crl_numbers_increase_and_record_what_they_cover(db: TestDb) {
    let s = &db.store;
    let a1 = s.next_crl_number(ISSUER).await.unwrap();
    let b1 = s.next_crl_number("CN=Other CA").await.unwrap();
    let a2 = s.next_crl_number(ISSUER).await.unwrap();
    assert!(a1.number >= 1 && a2.number > a1.number);
    assert!(b1.number >= 1);
    assert_eq!(s.crl_number(ISSUER, a2.number).await.unwrap(), Some(a2));
    assert_eq!(s.crl_number(ISSUER, a2.number + 1000).await.unwrap(), None);
    // Taken at once by many tasks (nodes share the database the same way): never twice.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.next_crl_number(ISSUER).await.unwrap().number })
        })
        .collect();
    let mut numbers = vec![a1.number, a2.number];
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    let mut unique = numbers.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), numbers.len(), "{numbers:?}");
    assert_eq!(count(&db, "crl_numbers").await, 15);
}

fn key(request_id: &str) -> RequestKey {
    RequestKey {
        officer: "root".into(),
        request_id: request_id.into(),
        endpoint: "/v1/certificates/revoke".into(),
        body_sha256: "ab".repeat(32),
    }
}

async fn an_idempotent_revocation_is_recorded_once(db: TestDb) {
    let s = &db.store;
    let certs = record(s, &[cert("0E01", "CN=E")]).await;
    let record = revoked("revoke-certificate");
    let rev = NewRevocation {
        certificate_id: certs[0].id,
        reason: Reason::Superseded,
        invalidity_date: None,
        audit: &record,
    };
    let respond = |c: &StoredCertificate| -> Answered {
        Ok(RequestAnswer {
            response: format!("{{\"id\":{}}}", c.id),
            certificate_ids: vec![c.id.to_string()],
        })
    };
    let k = key("revoke-1");
    s.revoke(&rev, Some((&k, respond))).await.unwrap();
    let stored = s.request_result("root", "revoke-1").await.unwrap().unwrap();
    assert_eq!(stored.response, Some(format!("{{\"id\":{}}}", certs[0].id)));
    assert_eq!(stored.certificate_ids, certs[0].id.to_string());
    // The same request ID again is a conflict on it, before the revocation is looked at.
    let again = s.revoke(&rev, Some((&k, respond))).await;
    assert!(
        matches!(again, Err(StoreError::Conflict(ConflictOn::RequestId))),
        "{again:?}"
    );
    // A failed answer rolls the revocation back.
    let other = record_one(s, "0E02").await;
    let failing = NewRevocation {
        certificate_id: other,
        ..rev
    };
    let broken = |_: &StoredCertificate| -> Answered { Err("response: cannot encode".into()) };
    assert!(matches!(
        s.revoke(&failing, Some((&key("revoke-2"), broken))).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(count(&db, "revocations").await, 1);
    assert!(s
        .request_result("root", "revoke-2")
        .await
        .unwrap()
        .is_none());
}

async fn record_one(s: &Store, serial: &str) -> i64 {
    record(s, &[cert(serial, "CN=One")]).await[0].id
}

async fn racing_revocations_revoke_once(db: TestDb) {
    let s = &db.store;
    let id = record_one(s, "0F01").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { revoke(&s, id, Reason::KeyCompromise, None).await })
        })
        .collect();
    let mut done = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => done += 1,
            Err(StoreError::AlreadyRevoked { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(done, 1);
    let audits = s.audit_records(100).await.unwrap();
    let revocations = audits
        .iter()
        .filter(|a| a.action == "revoke-certificate")
        .count();
    assert_eq!(revocations, 1);
}
