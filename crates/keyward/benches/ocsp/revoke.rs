//! Revocation latency: one revocation as the server makes it — `Store::revoke` with the
//! request ID claimed, the revocation row, the audit record and the recorded answer in one
//! transaction — timed one at a time.

use std::time::{Duration, Instant};

use serde_json::json;

use keyward_policy::RevocationReason;
use keyward_store::{
    AuditCategory, NewAudit, NewRevocation, Outcome, RequestAnswer, RequestKey, Store,
    StoredCertificate,
};

/// Revokes the certificates `ids` one after the other (keyCompromise, as officer `admin`);
/// returns each revocation's time, sorted.
pub(crate) async fn revoke_each(store: &Store, ids: &[i64], tag: &str) -> Vec<Duration> {
    let mut times = Vec::with_capacity(ids.len());
    for (n, &id) in ids.iter().enumerate() {
        let request_id = format!("bench-{tag}-{n}");
        let audit = NewAudit {
            category: AuditCategory::CertificatesRevoked,
            action: "revoke-certificate".into(),
            officer: Some("admin".into()),
            outcome: Outcome::Success,
            object: None,
            detail: json!({ "request_id": request_id }),
        };
        let rev = NewRevocation {
            certificate_id: id,
            reason: RevocationReason::KeyCompromise,
            invalidity_date: None,
            audit: &audit,
        };
        let key = RequestKey {
            officer: "admin".into(),
            request_id,
            endpoint: "/v1/certificates/revoke".into(),
            body_sha256: hex::encode(openssl::sha::sha256(format!("{tag}{n}").as_bytes())),
        };
        let respond = |c: &StoredCertificate| {
            Ok(RequestAnswer {
                response: json!({ "certificate_id": c.id.to_string() }).to_string(),
                certificate_ids: vec![c.id.to_string()],
            })
        };
        let t = Instant::now();
        store
            .revoke(&rev, Some((&key, respond)))
            .await
            .expect("revoke");
        times.push(t.elapsed());
    }
    times.sort();
    times
}

/// The Certificate IDs of the serials `serials` (store form).
pub(crate) async fn ids_of(pool: &sqlx::AnyPool, serials: &[String]) -> Vec<i64> {
    let mut ids = Vec::with_capacity(serials.len());
    for s in serials {
        let id: i64 = sqlx::query_scalar("SELECT id FROM certificates WHERE serial_norm = $1")
            .bind(s.as_str())
            .fetch_one(pool)
            .await
            .expect("certificate id");
        ids.push(id);
    }
    ids
}
