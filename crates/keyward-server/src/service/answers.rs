//! Answers of idempotent requests given again: a retry of the very same signed request gets the
//! answer recorded in the transaction of its first attempt, never a second change.

use serde_json::json;

use std::future::Future;

use keyward_store::{AuditCategory, ConflictOn, NewAudit, Outcome, RequestKey, Store, StoreError};

use super::{check_request_id, rfc3339, shorten, Refusal};

/// The answer to an idempotent request other than issuance (PIN letters, approval votes).
#[derive(Debug)]
pub enum Answer<T> {
    /// Done now.
    New(T),
    /// A retry of a completed request: its recorded answer (JSON), exactly as sent the first
    /// time; any secret in it is sealed to that request's one-time transport key.
    Again(String),
}

/// The refusal of a request ID the officer used before (the store's
/// [`StoreError::Conflict`] on [`ConflictOn::RequestId`]), if `e` is that.
pub(super) fn request_id_taken(e: &StoreError, request_id: &str, officer: &str) -> Option<Refusal> {
    match e {
        StoreError::Conflict(ConflictOn::RequestId) => Some(Refusal::conflict(
            "request_id",
            format!(
                "request ID {} was used already by officer {officer}; a new request needs a new request ID",
                shorten(request_id)
            ),
        )),
        _ => None,
    }
}

/// Carries out `attempt` as the idempotent request `key` names (without a key, just
/// carries it out): a request completed before gets its recorded answer and `attempt` is
/// never run; a refused attempt that raced its own first attempt (and lost: its request ID,
/// PIN letter or approval was taken) gets that attempt's answer. Refusals are returned for
/// the caller to audit. Recorded answers given again are audited under `category(answer)`.
pub(super) async fn idempotent<T>(
    store: &Store,
    key: Option<&RequestKey>,
    category: impl Fn(&str) -> AuditCategory,
    attempt: impl Future<Output = Result<T, Refusal>>,
) -> Result<Answer<T>, Refusal> {
    let Some(key) = key else {
        return attempt.await.map(Answer::New);
    };
    // Before the request ID is looked up: PostgreSQL refuses text with a NUL byte as a
    // parameter, so a malformed ID would fail the lookup (500) instead of being refused.
    check_request_id(&key.request_id)?;
    if let Some(json) = recorded_answer(store, key, &category).await? {
        return Ok(Answer::Again(json));
    }
    match attempt.await {
        Ok(done) => Ok(Answer::New(done)),
        Err(refusal) => match recorded_answer(store, key, &category).await? {
            Some(json) => Ok(Answer::Again(json)),
            None => Err(refusal),
        },
    }
}

/// The recorded answer (JSON, exactly as sent the first time) of the completed request `key`
/// names, if the bodies match; `None` if no attempt of it completed. A refusal naming
/// `request_id` if that request ID was completed with another body or on another endpoint,
/// or if its answer is no longer kept. A repeated answer is audited as `answer-retry` under
/// `category(answer)`.
async fn recorded_answer(
    store: &Store,
    key: &RequestKey,
    category: impl Fn(&str) -> AuditCategory,
) -> Result<Option<String>, Refusal> {
    let found = store
        .request_result(&key.officer, &key.request_id)
        .await
        .map_err(Refusal::internal)?;
    let Some(found) = found else {
        return Ok(None);
    };
    let ids = if found.certificate_ids.is_empty() {
        String::new()
    } else {
        format!(" (Certificate ID {})", found.certificate_ids)
    };
    if found.key.endpoint != key.endpoint || found.key.body_sha256 != key.body_sha256 {
        return Err(Refusal::conflict(
            "request_id",
            format!(
                "request ID {} was used already by officer {} for another request, at {}{ids}; a new request needs a new request ID",
                shorten(&key.request_id),
                key.officer,
                rfc3339(found.created_at)
            ),
        ));
    }
    let Some(json) = found.response else {
        return Err(Refusal::conflict(
            "request_id",
            format!(
                "request ID {} was completed at {}{ids}; its answer is no longer kept",
                shorten(&key.request_id),
                rfc3339(found.created_at)
            ),
        ));
    };
    let record = NewAudit {
        category: category(&json),
        action: "answer-retry".into(),
        officer: Some(key.officer.clone()),
        outcome: Outcome::Success,
        object: (!found.certificate_ids.is_empty()).then(|| found.certificate_ids.clone()),
        detail: json!({
            "request_id": shorten(&key.request_id),
            "endpoint": key.endpoint,
            "recorded_at": found.created_at,
        }),
    };
    if let Err(e) = store.append_audit(&record).await {
        tracing::error!("could not write the audit record of a repeated answer: {e}");
    }
    tracing::info!(
        officer = %key.officer,
        "answered a retry of request {} ({}) with its recorded result{ids}",
        shorten(&key.request_id),
        key.endpoint,
    );
    Ok(Some(json))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use keyward_testkit::TestDatabase;

    use super::*;
    use crate::service::RefusalKind;

    keyward_testkit::on_both_engines!(async keyward_testkit::fresh_database =>
        a_malformed_request_id_is_refused_before_it_is_looked_up);

    /// Found by hand on PostgreSQL (Schemathesis sends such values): a request ID with a NUL
    /// byte failed the lookup of recorded answers (500), because the ID was checked only
    /// later, by the attempt.
    async fn a_malformed_request_id_is_refused_before_it_is_looked_up(db: TestDatabase) {
        let store = Store::open(&db.url).await.unwrap();
        let key = |request_id: &str| RequestKey {
            officer: "officer".into(),
            request_id: request_id.into(),
            endpoint: "/v1/tokens".into(),
            body_sha256: "0".repeat(64),
        };
        let category = |_: &str| AuditCategory::CertificatesIssued;
        for malformed in ["a\0b", "", "a b", &"x".repeat(65)] {
            let ran = AtomicBool::new(false);
            let attempt = async {
                ran.store(true, Ordering::SeqCst);
                Ok::<_, Refusal>(())
            };
            let refusal = idempotent(&store, Some(&key(malformed)), category, attempt)
                .await
                .unwrap_err();
            assert!(
                matches!(refusal.kind, RefusalKind::Invalid)
                    && refusal.field.as_deref() == Some("request_id"),
                "{malformed:?}: {refusal:?}"
            );
            assert!(!ran.load(Ordering::SeqCst), "{malformed:?}: attempted");
        }
        let answer = idempotent(&store, Some(&key("a-good-id")), category, async {
            Ok::<_, Refusal>(7)
        })
        .await
        .unwrap();
        assert!(matches!(answer, Answer::New(7)));
        store.close().await;
    }
}
