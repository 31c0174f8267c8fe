//! The PIN mail queue: queued by an issuance in its transaction, delivered (the PIN deleted),
//! failed and queued again, always audited, and never shown in `Debug` output.

use keyward_store::{
    AuditCategory, CertificateQuery, ConflictOn, NewAudit, NewPinMail, PinDelivery, PinMail,
    PinMailQuery, PinMailState, PinRecord, StoreError,
};
use serde_json::json;

use crate::common::{audit, cert, count, issued, raw, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    record_token_queues_mail,
    queued_oldest_first,
    delivered_deletes_the_pin,
    failed_attempts_turn_failed,
    delivery_after_a_failed_attempt_clears_the_error,
    requeue_failed_mail,
    claims_are_exclusive_until_released,
    debug_never_shows_sealed_pins
);

fn mail(request_id: &str) -> NewPinMail {
    NewPinMail {
        request_id: request_id.into(),
        recipient: "alice@example.org".into(),
        delivery: PinDelivery::Smtp,
        subject: "CN=Alice Example,O=Example,C=SE".into(),
        token_procedure: "person".into(),
        officer: "olga".into(),
        kek_id: "kek-pin-1".into(),
        sealed: format!("sealed {request_id}").into_bytes(),
    }
}

fn mailer(action: &str) -> NewAudit {
    audit(AuditCategory::PinDistribution, action)
}

/// Issues a certificate with serial `serial` and queues the PIN mail of `request_id`.
async fn queue(db: &TestDb, serial: &str, request_id: &str) -> PinMail {
    db.store
        .record_token(
            &[cert(serial, "CN=Alice")],
            &issued("issue-token"),
            &[],
            Some(&PinRecord::QueueMail(mail(request_id))),
        )
        .await
        .unwrap();
    let newest = db.store.pin_mail(&PinMailQuery::default()).await.unwrap();
    newest.into_iter().next().unwrap()
}

fn mail_ids(found: &[PinMail]) -> Vec<i64> {
    found.iter().map(|m| m.id).collect()
}

async fn record_token_queues_mail(db: TestDb) {
    let s = &db.store;
    let mut new = mail("req-1");
    new.delivery = PinDelivery::Print;
    new.recipient = "Alice Example\nMain Street 1\n12345 Town".into();
    new.sealed = (0..=255).collect();
    let stored = s
        .record_token(
            &[cert("0a", "CN=Alice"), cert("0b", "CN=Alice")],
            &issued("issue-token"),
            &[],
            Some(&PinRecord::QueueMail(new.clone())),
        )
        .await
        .unwrap();
    let ids = format!("{},{}", stored[0].id, stored[1].id);

    let all = s.pin_mail(&PinMailQuery::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    let m = &all[0];
    assert_eq!(m.request_id, "req-1");
    assert_eq!(m.recipient, new.recipient);
    assert_eq!(m.delivery, PinDelivery::Print);
    assert_eq!(m.subject, new.subject);
    assert_eq!(m.token_procedure, "person");
    assert_eq!(m.certificate_ids, ids);
    assert_eq!(m.officer, "olga");
    assert_eq!(m.kek_id, "kek-pin-1");
    assert_eq!(
        m.sealed.as_deref(),
        Some(new.sealed.as_slice()),
        "round-trip"
    );
    assert_eq!(m.state, PinMailState::Queued);
    assert_eq!((m.attempts, m.last_error.as_deref()), (0, None));
    assert_eq!(m.queued_at, stored[0].issued_at);
    assert_eq!((m.last_attempt_at, m.delivered_at), (None, None));

    let log = s.audit_records(10).await.unwrap();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(log[0].object.as_deref(), Some(ids.as_str()));
    let record = &log[1];
    assert_eq!(record.category, AuditCategory::PinDistribution);
    assert_eq!(record.action, "queue-pin-mail");
    assert_eq!(record.object, Some(m.id.to_string()));
    assert_eq!(record.officer.as_deref(), Some("olga"));
    assert_eq!(
        record.detail,
        json!({ "recipient": new.recipient, "delivery": "print", "certificate_ids": ids })
    );

    // The same request again, or a mail the store cannot queue: nothing written.
    let (certs, records) = (count(&db, "certificates").await, count(&db, "audit").await);
    let mut no_recipient = mail("req-2");
    no_recipient.recipient = " ".into();
    let mut no_envelope = mail("req-2");
    no_envelope.sealed.clear();
    let mut no_kek = mail("req-2");
    no_kek.kek_id.clear();
    for (m, conflict) in [
        (mail("req-1"), true),
        (mail(""), false),
        (no_recipient, false),
        (no_envelope, false),
        (no_kek, false),
    ] {
        let err = s
            .record_token(
                &[cert("0c", "CN=Alice")],
                &issued("issue-token"),
                &[],
                Some(&PinRecord::QueueMail(m)),
            )
            .await
            .unwrap_err();
        if conflict {
            assert!(
                matches!(&err, StoreError::Conflict(ConflictOn::PinMailRequest)),
                "{err}"
            );
        } else {
            assert!(matches!(&err, StoreError::Invalid(_)), "{err}");
        }
        assert_eq!(count(&db, "certificates").await, certs, "no certificate");
        assert_eq!(count(&db, "audit").await, records, "no audit record");
        assert_eq!(count(&db, "pin_mail").await, 1, "no mail");
    }
    assert_eq!(
        s.find_certificates(&CertificateQuery::default())
            .await
            .unwrap(),
        stored
    );
}

async fn claims_are_exclusive_until_released(db: TestDb) {
    let s = &db.store;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            queue(&db, &format!("{:02x}", 0x40 + i), &format!("req-claim-{i}"))
                .await
                .id,
        );
    }
    // Two runs at once (as on two server nodes) never get the same mail.
    let (one, two) = tokio::join!(s.claim_pin_mail(4, 300), s.claim_pin_mail(4, 300));
    let (one, two) = (mail_ids(&one.unwrap()), mail_ids(&two.unwrap()));
    assert_eq!(one.len() + two.len(), 6, "{one:?} {two:?}");
    assert!(one.iter().all(|id| !two.contains(id)), "{one:?} {two:?}");
    assert!(
        s.claim_pin_mail(10, 300).await.unwrap().is_empty(),
        "all held"
    );
    // A failed attempt releases its claim for the next run.
    let first = ids[0];
    s.pin_mail_failed(first, "smtp down", 5, &mailer("fail"))
        .await
        .unwrap();
    assert_eq!(mail_ids(&s.claim_pin_mail(10, 300).await.unwrap()), [first]);
    // An expired lease frees the mail too.
    let mut db_ids = ids.clone();
    db_ids.remove(0);
    let pool = raw(&db).await;
    sqlx::query("UPDATE pin_mail SET claimed_until = 1 WHERE id <> $1")
        .bind(first)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(mail_ids(&s.claim_pin_mail(10, 300).await.unwrap()), db_ids);
}

async fn queued_oldest_first(db: TestDb) {
    let s = &db.store;
    let a = queue(&db, "01", "req-a").await;
    let b = queue(&db, "02", "req-b").await;
    let c = queue(&db, "03", "req-c").await;
    assert!(a.id < b.id && b.id < c.id);

    assert_eq!(
        mail_ids(&s.queued_pin_mail(10).await.unwrap()),
        [a.id, b.id, c.id]
    );
    assert_eq!(mail_ids(&s.queued_pin_mail(2).await.unwrap()), [a.id, b.id]);
    assert!(s.queued_pin_mail(0).await.unwrap().is_empty());
    assert!(s.queued_pin_mail(-1).await.unwrap().is_empty());

    assert!(s
        .pin_mail_delivered(a.id, &mailer("deliver"))
        .await
        .unwrap());
    assert_eq!(
        s.pin_mail_failed(c.id, "smtp down", 1, &mailer("fail"))
            .await
            .unwrap(),
        Some(PinMailState::Failed)
    );
    assert_eq!(mail_ids(&s.queued_pin_mail(10).await.unwrap()), [b.id]);

    let report = |state, limit| PinMailQuery { state, limit };
    let find = |q: PinMailQuery| async move { mail_ids(&s.pin_mail(&q).await.unwrap()) };
    assert_eq!(
        find(report(None, None)).await,
        [c.id, b.id, a.id],
        "newest first"
    );
    assert_eq!(find(report(None, Some(2))).await, [c.id, b.id]);
    assert_eq!(
        find(report(None, Some(0))).await,
        [c.id],
        "limit clamped to 1"
    );
    assert_eq!(find(report(Some(PinMailState::Queued), None)).await, [b.id]);
    assert_eq!(
        find(report(Some(PinMailState::Delivered), None)).await,
        [a.id]
    );
    assert_eq!(find(report(Some(PinMailState::Failed), None)).await, [c.id]);
}

async fn delivered_deletes_the_pin(db: TestDb) {
    let s = &db.store;
    let queued = queue(&db, "01", "req-1").await;
    assert!(queued.sealed.is_some());
    let records = count(&db, "audit").await;
    let mut delivered = mailer("deliver-pin-mail");
    delivered.object = Some(queued.id.to_string());
    assert!(s.pin_mail_delivered(queued.id, &delivered).await.unwrap());

    let m = s
        .pin_mail(&PinMailQuery::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(m.state, PinMailState::Delivered);
    assert_eq!(m.sealed, None, "the PIN is deleted");
    assert_eq!(m.attempts, 1);
    assert!(m.delivered_at.is_some_and(|at| at >= m.queued_at));
    assert_eq!(m.last_attempt_at, m.delivered_at);
    assert_eq!(m.kek_id, "kek-pin-1");
    let raw = raw(&db).await;
    let nulls: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pin_mail WHERE id = $1 AND sealed IS NULL")
            .bind(queued.id)
            .fetch_one(&raw)
            .await
            .unwrap();
    assert_eq!(nulls, 1, "the column is NULL");
    raw.close().await;

    let log = s.audit_records(1).await.unwrap();
    assert_eq!(count(&db, "audit").await, records + 1);
    assert_eq!(log[0].action, "deliver-pin-mail");
    assert_eq!(log[0].object, delivered.object, "as given");

    // Delivered already, or no such mail: nothing written.
    assert!(!s.pin_mail_delivered(queued.id, &delivered).await.unwrap());
    assert!(!s
        .pin_mail_delivered(queued.id + 100, &delivered)
        .await
        .unwrap());
    assert_eq!(count(&db, "audit").await, records + 1);
    assert_eq!(
        s.pin_mail_failed(queued.id, "late", 3, &mailer("fail"))
            .await
            .unwrap(),
        None
    );
    assert!(!s
        .requeue_pin_mail(queued.id, &mailer("requeue"))
        .await
        .unwrap());
    let again = s
        .pin_mail(&PinMailQuery::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(again, m, "unchanged");
    assert_eq!(count(&db, "audit").await, records + 1);

    // A failed mail can still be delivered (by hand, say).
    let failed = queue(&db, "02", "req-2").await;
    s.pin_mail_failed(failed.id, "refused", 1, &mailer("fail"))
        .await
        .unwrap();
    assert!(s.pin_mail_delivered(failed.id, &delivered).await.unwrap());
    let m = s
        .pin_mail(&PinMailQuery::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (m.state, m.sealed, m.attempts),
        (PinMailState::Delivered, None, 2)
    );
}

async fn failed_attempts_turn_failed(db: TestDb) {
    let s = &db.store;
    let queued = queue(&db, "01", "req-1").await;
    let records = count(&db, "audit").await;
    let current = || async {
        s.pin_mail(&PinMailQuery::default())
            .await
            .unwrap()
            .remove(0)
    };

    let state = s
        .pin_mail_failed(queued.id, "550 mailbox unavailable", 3, &mailer("fail"))
        .await
        .unwrap();
    assert_eq!(state, Some(PinMailState::Queued));
    let m = current().await;
    assert_eq!(m.attempts, 1);
    assert_eq!(m.last_error.as_deref(), Some("550 mailbox unavailable"));
    assert!(m.last_attempt_at.is_some());
    assert_eq!(m.delivered_at, None);
    assert!(m.sealed.is_some(), "kept for the next attempt");

    let long = "x".repeat(2000);
    let state = s
        .pin_mail_failed(queued.id, &long, 3, &mailer("fail"))
        .await
        .unwrap();
    assert_eq!(state, Some(PinMailState::Queued));
    let m = current().await;
    assert_eq!(m.attempts, 2);
    assert_eq!(m.last_error.as_deref(), Some(&long[..500]), "truncated");

    let wide = format!("x{}", "é".repeat(400)); // 801 bytes
    let state = s
        .pin_mail_failed(queued.id, &wide, 3, &mailer("fail"))
        .await
        .unwrap();
    assert_eq!(state, Some(PinMailState::Failed), "third attempt of 3");
    let m = current().await;
    assert_eq!(m.state, PinMailState::Failed);
    assert_eq!(m.attempts, 3);
    let error = m.last_error.unwrap();
    assert_eq!(error.len(), 499, "on a character boundary");
    assert_eq!(error, wide[..499]);
    assert!(m.sealed.is_some(), "an officer may queue it again");
    assert_eq!(
        count(&db, "audit").await,
        records + 3,
        "each attempt audited"
    );
    assert!(s.queued_pin_mail(10).await.unwrap().is_empty());

    // Only a queued mail fails.
    let state = s
        .pin_mail_failed(queued.id, "again", 3, &mailer("fail"))
        .await
        .unwrap();
    assert_eq!(state, None);
    assert_eq!(current().await.attempts, 3, "nothing written");
    assert_eq!(count(&db, "audit").await, records + 3);
    assert_eq!(
        s.pin_mail_failed(9999, "none", 3, &mailer("fail"))
            .await
            .unwrap(),
        None
    );
    let log = s.audit_records(1).await.unwrap();
    assert_eq!(log[0].action, "fail");
}

/// Issue 17, item 7: a mail delivered on its second attempt shows no error; the first
/// attempt's reason stays in the audit log.
async fn delivery_after_a_failed_attempt_clears_the_error(db: TestDb) {
    let s = &db.store;
    let queued = queue(&db, "01", "req-1").await;
    let mut failed = mailer("send-pin-mail");
    failed.detail = json!({ "reason": "SMTP server 127.0.0.1:25: refused" });
    let state = s
        .pin_mail_failed(queued.id, "SMTP server 127.0.0.1:25: refused", 5, &failed)
        .await
        .unwrap();
    assert_eq!(state, Some(PinMailState::Queued));
    assert!(s
        .pin_mail_delivered(queued.id, &mailer("send-pin-mail"))
        .await
        .unwrap());
    let m = s
        .pin_mail(&PinMailQuery::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(m.state, PinMailState::Delivered);
    assert_eq!(m.attempts, 2, "both attempts counted");
    assert_eq!(m.last_error, None, "no error once delivered");
    let log = s.audit_records(2).await.unwrap();
    assert!(
        log.iter()
            .any(|r| r.detail["reason"] == "SMTP server 127.0.0.1:25: refused"),
        "{log:?}"
    );
}

async fn requeue_failed_mail(db: TestDb) {
    let s = &db.store;
    let queued = queue(&db, "01", "req-1").await;
    assert!(
        !s.requeue_pin_mail(queued.id, &mailer("requeue"))
            .await
            .unwrap(),
        "queued"
    );
    s.pin_mail_failed(queued.id, "refused", 1, &mailer("fail"))
        .await
        .unwrap();
    let records = count(&db, "audit").await;

    assert!(s
        .requeue_pin_mail(queued.id, &mailer("requeue"))
        .await
        .unwrap());
    let m = s
        .pin_mail(&PinMailQuery::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(m.state, PinMailState::Queued);
    assert_eq!((m.attempts, m.last_error), (0, None));
    assert!(m.last_attempt_at.is_some(), "when it was last tried");
    assert_eq!(mail_ids(&s.queued_pin_mail(10).await.unwrap()), [queued.id]);
    assert_eq!(count(&db, "audit").await, records + 1);
    assert_eq!(s.audit_records(1).await.unwrap()[0].action, "requeue");

    assert!(!s
        .requeue_pin_mail(queued.id, &mailer("requeue"))
        .await
        .unwrap());
    assert!(!s.requeue_pin_mail(9999, &mailer("requeue")).await.unwrap());
    assert_eq!(count(&db, "audit").await, records + 1);

    // Queued again, it can be delivered.
    assert!(s
        .pin_mail_delivered(queued.id, &mailer("deliver"))
        .await
        .unwrap());
}

async fn debug_never_shows_sealed_pins(db: TestDb) {
    let sealed = b"SECRET-MARKER\x00\x01\xfe\xff".to_vec();
    let mut new = mail("req-1");
    new.sealed = sealed.clone();
    let record = PinRecord::QueueMail(new.clone());
    db.store
        .record_token(&[cert("01", "CN=A")], &issued("issue"), &[], Some(&record))
        .await
        .unwrap();
    let found = db.store.queued_pin_mail(1).await.unwrap().remove(0);
    assert_eq!(found.sealed.as_deref(), Some(sealed.as_slice()));

    let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
    let forbidden = [
        "SECRET-MARKER".to_string(),
        format!("{sealed:?}"),
        format!("{:?}", &sealed[..4])
            .trim_end_matches(']')
            .to_string(),
        "83, 69, 67, 82".to_string(),
        hex[..20].to_string(),
        hex[..20].to_ascii_uppercase(),
        "U0VDUkVULU1BUktFU".to_string(), // base64
    ];
    let texts = [
        format!("{new:?}"),
        format!("{new:#?}"),
        format!("{record:?}"),
        format!("{found:?}"),
        format!("{found:#?}"),
        serde_json::to_string(&found).unwrap(),
    ];
    for text in &texts {
        for bad in &forbidden {
            assert!(!text.contains(bad.as_str()), "{bad:?} in {text}");
        }
    }
    for text in &texts[..5] {
        assert!(text.contains("<17 bytes>"), "{text}");
    }
    assert!(!texts[5].contains("sealed"), "{}", texts[5]);
    assert!(texts[5].contains("\"state\":\"queued\""), "{}", texts[5]);

    db.store
        .pin_mail_delivered(found.id, &mailer("deliver"))
        .await
        .unwrap();
    let delivered = db.store.pin_mail(&PinMailQuery::default()).await.unwrap();
    assert!(format!("{delivered:?}").contains("sealed: None"));
}
