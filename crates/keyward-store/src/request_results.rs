//! Idempotent requests: the result of a signed request, recorded in the transaction of the
//! change it made, so that a retry of the same request is answered with the same result instead
//! of making the change again (see [`Store::record_token_answered`]).
//!
//! A result is keyed by officer and request ID (a unique constraint: one request ID issues at
//! most once per officer, whichever server node it reaches and however often it is sent). It
//! remembers the SHA-256 of the exact signed request body, so that a retry (the same bytes) can
//! be told from another request that reuses the ID.
//!
//! **What is stored.** The response is the JSON answer as the API sent it: certificates, the CA
//! chain, and every key the server generated or recovered, and any PIN the server chose,
//! *sealed to the RA's one-time transport key* (ECDH P-256, AES-256-GCM, bound to the request
//! ID). Only the RA that sent the request holds the private half of that key, in memory, for
//! that one request: a stored response opens nowhere else, so keeping it (or answering it again)
//! gives no one a private key or a PIN. It is still cleared once no retry can be accepted any
//! more ([`Store::prune_request_answers`]); the row stays, so the request ID never issues again.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now, ConflictOn, Store, StoreError};

/// What the `respond` callback of [`Store::record_token_answered`] returns: the answer, or why
/// it could not be built (the transaction is rolled back, [`StoreError::Invalid`]).
pub type Answered = Result<RequestAnswer, String>;

/// What [`Store::record_token_answered`] keeps about the request it records: who sent it, its
/// ID, the endpoint and the SHA-256 of its exact signed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    /// The officer who signed the request.
    pub officer: String,
    /// The request ID the RA chose (retries carry the same one).
    pub request_id: String,
    /// The API path, e.g. `/v1/tokens`.
    pub endpoint: String,
    /// SHA-256 of the exact request body, lowercase hex.
    pub body_sha256: String,
}

/// The answer to a request, built inside the recording transaction once the Certificate IDs are
/// known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAnswer {
    /// The response as sent (JSON). Secrets in it are sealed to the RA's transport key.
    pub response: String,
    /// The Certificate IDs the answer names (new and reused), for look-ups and messages.
    pub certificate_ids: Vec<String>,
}

/// A recorded result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestResult {
    /// The request it answers.
    pub key: RequestKey,
    /// The response; `None` once pruned.
    pub response: Option<String>,
    /// The Certificate IDs of the answer, comma-separated.
    pub certificate_ids: String,
    /// When recorded, Unix seconds.
    pub created_at: i64,
}

fn result(row: &AnyRow) -> Result<RequestResult, StoreError> {
    Ok(RequestResult {
        key: RequestKey {
            officer: row.try_get("officer")?,
            request_id: row.try_get("request_id")?,
            endpoint: row.try_get("endpoint")?,
            body_sha256: row.try_get("body_sha256")?,
        },
        response: row.try_get("response")?,
        certificate_ids: row
            .try_get::<Option<String>, _>("certificate_ids")?
            .unwrap_or_default(),
        created_at: row.try_get("created_at")?,
    })
}

/// Checks a key before anything is written; the error names the field.
pub(crate) fn check(key: &RequestKey) -> Result<(), StoreError> {
    let printable = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
    };
    if !printable(&key.request_id, 64) {
        return Err(StoreError::Invalid(
            "request ID: expected 1 to 64 printable ASCII characters".into(),
        ));
    }
    if key.officer.is_empty() || key.endpoint.is_empty() {
        return Err(StoreError::Invalid(
            "request result: officer and endpoint are required".into(),
        ));
    }
    if key.body_sha256.len() != 64 || !key.body_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::Invalid(
            "request body hash: expected 64 hex digits".into(),
        ));
    }
    Ok(())
}

/// Claims the request ID at the start of the recording transaction: a row without an answer
/// yet. A request ID this officer used before (or is using concurrently: the insert waits for
/// the other transaction on PostgreSQL, and SQLite's write lock orders them) is a
/// [`StoreError::Conflict`] naming `request ID`, and the transaction must be abandoned.
pub(crate) async fn claim(
    tx: &mut sqlx::AnyConnection,
    key: &RequestKey,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO request_results (officer, request_id, endpoint, body_sha256, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(key.officer.as_str())
    .bind(key.request_id.as_str())
    .bind(key.endpoint.as_str())
    .bind(key.body_sha256.to_ascii_lowercase())
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::unique(ConflictOn::RequestId))?;
    Ok(())
}

/// Stores the answer of a claimed request, in the same transaction.
pub(crate) async fn answer(
    tx: &mut sqlx::AnyConnection,
    key: &RequestKey,
    answer: &RequestAnswer,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE request_results SET response = $1, certificate_ids = $2 \
         WHERE officer = $3 AND request_id = $4",
    )
    .bind(answer.response.as_str())
    .bind(answer.certificate_ids.join(","))
    .bind(key.officer.as_str())
    .bind(key.request_id.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl Store {
    /// The recorded result of `officer`'s request `request_id`, if that request completed.
    pub async fn request_result(
        &self,
        officer: &str,
        request_id: &str,
    ) -> Result<Option<RequestResult>, StoreError> {
        let row = sqlx::query(
            "SELECT officer, request_id, endpoint, body_sha256, response, certificate_ids, \
             created_at FROM request_results WHERE officer = $1 AND request_id = $2",
        )
        .bind(officer)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(result).transpose()
    }

    /// Clears the responses recorded more than `keep_secs` ago (the rows stay, so that their
    /// request IDs stay used); returns how many. Called with the nonce window: a retry older
    /// than that fails its timestamp check before its answer is looked up.
    pub async fn prune_request_answers(&self, keep_secs: i64) -> Result<u64, StoreError> {
        let _turn = self.writer_turn().await;
        let done = sqlx::query(
            "UPDATE request_results SET response = NULL \
             WHERE response IS NOT NULL AND created_at < $1",
        )
        .bind(now().saturating_sub(keep_secs))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
