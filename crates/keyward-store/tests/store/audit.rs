//! The audit log.

use keyward_store::{AuditCategory, NewAudit, Outcome};
use serde_json::json;

use crate::common::TestDb;

keyward_testkit::on_both_engines!(async crate::common::fresh =>audit_records_newest_last);

async fn audit_records_newest_last(db: TestDb) {
    let s = &db.store;
    let categories = [
        AuditCategory::CertificatesIssued,
        AuditCategory::CertificatesRevoked,
        AuditCategory::KeysArchived,
        AuditCategory::KeysRecovered,
        AuditCategory::Administration,
        AuditCategory::Authentication,
        AuditCategory::PinDistribution,
    ];
    let mut appended = Vec::new();
    for (i, category) in categories.into_iter().enumerate() {
        let rec = NewAudit {
            category,
            action: format!("action-{i}"),
            officer: (i % 2 == 0).then(|| "alice".to_string()),
            outcome: if i % 3 == 0 {
                Outcome::Failure
            } else {
                Outcome::Success
            },
            object: (i % 2 == 1).then(|| format!("object {i}")),
            detail: json!({
                "i": i,
                "nested": { "list": [1, 2.5, null, true], "text": "ünïcödé \"quoted\" \n" },
                "big": i64::MAX,
            }),
        };
        let id = s.append_audit(&rec).await.unwrap();
        appended.push((id, rec));
    }
    assert!(appended.windows(2).all(|w| w[0].0 < w[1].0));

    let all = s.audit_records(100).await.unwrap();
    assert_eq!(all.len(), 7);
    for (record, (id, rec)) in all.iter().zip(&appended) {
        assert_eq!(record.id, *id);
        assert_eq!(record.category, rec.category);
        assert_eq!(record.action, rec.action);
        assert_eq!(record.officer, rec.officer);
        assert_eq!(record.outcome, rec.outcome);
        assert_eq!(record.object, rec.object);
        assert_eq!(record.detail, rec.detail);
        assert!(record.at >= 1_700_000_000);
    }
    let last_two = s.audit_records(2).await.unwrap();
    assert_eq!(last_two, all[5..].to_vec(), "the newest, newest last");
    assert!(s.audit_records(0).await.unwrap().is_empty());
    assert_eq!(
        serde_json::to_value(&last_two[1]).unwrap()["category"],
        "pin-distribution"
    );
    for category in categories {
        assert_eq!(category.as_str().parse::<AuditCategory>(), Ok(category));
    }
}

keyward_testkit::on_both_engines!(async crate::common::fresh =>audit_search_filters);

async fn audit_search_filters(db: TestDb) {
    use keyward_store::{AuditQuery, StoreError};

    let s = &db.store;
    let certs = [
        crate::common::cert("0A:BC:01", "CN=Alice"),
        crate::common::cert("ff02", "CN=Bob"),
    ];
    let stored = s
        .record_issuance(&certs, &crate::common::issued("issue-token"))
        .await
        .unwrap();
    let ids: Vec<String> = stored.iter().map(|c| c.id.to_string()).collect();
    let refusal = NewAudit {
        category: AuditCategory::CertificatesIssued,
        action: "issue-token".into(),
        officer: Some("mallory".into()),
        outcome: Outcome::Failure,
        object: None,
        detail: json!({ "reason": "no" }),
    };
    let refused = s.append_audit(&refusal).await.unwrap();
    let mail = NewAudit {
        category: AuditCategory::PinDistribution,
        action: "queue-pin-mail".into(),
        officer: Some("root".into()),
        outcome: Outcome::Success,
        object: Some("77".into()),
        detail: json!({ "certificate_ids": ids.join(",") }),
    };
    let mailed = s.append_audit(&mail).await.unwrap();
    let admin = s
        .append_audit(&crate::common::audit(
            AuditCategory::Administration,
            "create-officer",
        ))
        .await
        .unwrap();
    let raw = crate::common::raw(&db).await;
    sqlx::query("UPDATE audit SET at = 1000 WHERE id = $1")
        .bind(refused)
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;

    let search = |q: AuditQuery| async move {
        s.search_audit(&q)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    let all = search(AuditQuery::default()).await;
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first");
    let issued_id = *all.last().unwrap();
    assert_eq!(
        search(AuditQuery {
            category: Some(AuditCategory::CertificatesIssued),
            ..Default::default()
        })
        .await,
        [refused, issued_id]
    );
    let failed = AuditQuery {
        failed_only: true,
        ..Default::default()
    };
    assert_eq!(search(failed).await, [refused]);
    let by_officer = AuditQuery {
        officer: Some("mallory".into()),
        ..Default::default()
    };
    assert_eq!(search(by_officer).await, [refused]);
    let old = AuditQuery {
        from: Some(0),
        to: Some(2000),
        ..Default::default()
    };
    assert_eq!(search(old).await, [refused]);
    let recent = AuditQuery {
        from: Some(2000),
        ..Default::default()
    };
    assert_eq!(search(recent).await, [admin, mailed, issued_id]);
    let object = |o: &str| AuditQuery {
        object: Some(o.into()),
        ..Default::default()
    };
    // A Certificate ID among the issuance's IDs, and in the PIN mail's detail.
    assert_eq!(search(object(&ids[1])).await, [mailed, issued_id]);
    assert_eq!(search(object(&ids.join(","))).await, [mailed, issued_id]);
    assert_eq!(search(object("77")).await, [mailed]);
    // A serial in the detail: case, leading zeros and ':' ignored.
    assert_eq!(search(object("abc01")).await, [issued_id]);
    assert_eq!(search(object("00:FF:02")).await, [issued_id]);
    assert!(search(object("root")).await.is_empty());
    let limited = AuditQuery {
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(search(limited).await, all[..2].to_vec());
    for bad in [
        AuditQuery {
            officer: Some(" ".into()),
            ..Default::default()
        },
        object(""),
        object(&"1".repeat(300)),
        AuditQuery {
            from: Some(10),
            to: Some(5),
            ..Default::default()
        },
    ] {
        let err = s.search_audit(&bad).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    }
    let record = &s.audit_records(1).await.unwrap()[0];
    assert_eq!(record.hash.as_deref().map(str::len), Some(64));
}
