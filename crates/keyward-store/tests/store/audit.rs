//! The audit log.

use keyward_store::{AuditCategory, NewAudit, Outcome};
use serde_json::json;

use crate::common::TestDb;

on_both_engines!(audit_records_newest_last);

async fn audit_records_newest_last(db: TestDb) {
    let s = &db.store;
    let categories = [
        AuditCategory::CertificatesIssued,
        AuditCategory::CertificatesRevoked,
        AuditCategory::KeysArchived,
        AuditCategory::KeysRecovered,
        AuditCategory::Administration,
        AuditCategory::Authentication,
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
    assert_eq!(all.len(), 6);
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
    assert_eq!(last_two, all[4..].to_vec(), "the newest, newest last");
    assert!(s.audit_records(0).await.unwrap().is_empty());
    assert_eq!(
        serde_json::to_value(&last_two[1]).unwrap()["category"],
        "authentication"
    );
    for category in categories {
        assert_eq!(category.as_str().parse::<AuditCategory>(), Ok(category));
    }
}
