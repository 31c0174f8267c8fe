//! M-of-N approval of key recoveries: a request, the officers' votes, and its use by exactly one
//! issuance (inside the issuance transaction, see [`Store::record_token_with`]).
//!
//! `pending` → `approved` (enough approvals) or `rejected` (one rejection) → `used`. Expiry is
//! a time, not a state: an expired request can be neither voted on nor used.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::request_results::{self, Answered, RequestKey};
use crate::search::row_limit;
use crate::types::{AuditCategory, NewAudit, Outcome};
use crate::{audit, now, Store, StoreError, UsedItem};

/// The answer builder of a vote recorded without a request key (never called).
type Respond = fn(&Approval) -> Answered;

/// A recovery waiting for approval, as the server asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    /// The officer who asked for the recovery.
    pub requester: String,
    /// Token procedure.
    pub token_procedure: String,
    /// Subject as typed.
    pub subject: String,
    /// Certificate IDs of the keys to recover, sorted, comma-separated.
    pub key_certificate_ids: String,
    /// Approvals needed.
    pub required: i64,
    /// When the request expires, Unix seconds.
    pub expires_at: i64,
}

/// Where an approval request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalState {
    /// Waiting for votes.
    Pending,
    /// Enough approvals: the requester may recover once.
    Approved,
    /// An officer rejected it.
    Rejected,
    /// The recovery happened.
    Used,
}

impl ApprovalState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
            ApprovalState::Used => "used",
        }
    }

    fn parse(s: &str) -> Option<ApprovalState> {
        [
            ApprovalState::Pending,
            ApprovalState::Approved,
            ApprovalState::Rejected,
            ApprovalState::Used,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// One officer's vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vote {
    /// Officer.
    pub officer: String,
    /// Approve (`true`) or reject.
    pub approve: bool,
    /// When, Unix seconds.
    pub at: i64,
}

/// An approval request with its votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// ID.
    pub id: i64,
    /// The requesting officer.
    pub requester: String,
    /// Token procedure.
    pub token_procedure: String,
    /// Subject.
    pub subject: String,
    /// Certificate IDs of the keys, sorted, comma-separated.
    pub key_certificate_ids: String,
    /// Approvals needed.
    pub required: i64,
    /// State.
    pub state: ApprovalState,
    /// Created, Unix seconds.
    pub created_at: i64,
    /// Expires, Unix seconds.
    pub expires_at: i64,
    /// Used, Unix seconds.
    pub used_at: Option<i64>,
    /// Votes, in order.
    pub votes: Vec<Vote>,
}

impl Approval {
    /// Approving votes so far.
    pub fn approvals(&self) -> i64 {
        self.votes.iter().filter(|v| v.approve).count() as i64
    }
}

/// The use of an approved request by an issuance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalUse {
    /// Approval ID.
    pub id: i64,
    /// The issuance request ID.
    pub request_id: String,
}

const COLUMNS: &str = "id, requester, token_procedure, subject, key_certificate_ids, required, \
     state, created_at, expires_at, used_at";

fn approval(row: &AnyRow) -> Result<Approval, StoreError> {
    let id: i64 = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    Ok(Approval {
        id,
        requester: row.try_get("requester")?,
        token_procedure: row.try_get("token_procedure")?,
        subject: row.try_get("subject")?,
        key_certificate_ids: row.try_get("key_certificate_ids")?,
        required: row.try_get("required")?,
        state: ApprovalState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("approval {id}: state {state:?}")))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        used_at: row.try_get("used_at")?,
        votes: Vec::new(),
    })
}

async fn with_votes(conn: &mut AnyConnection, mut a: Approval) -> Result<Approval, StoreError> {
    let rows = sqlx::query(
        "SELECT officer, approve, voted_at FROM approval_votes WHERE approval_id = $1 \
         ORDER BY voted_at, officer",
    )
    .bind(a.id)
    .fetch_all(conn)
    .await?;
    a.votes = rows
        .iter()
        .map(|r| {
            Ok(Vote {
                officer: r.try_get("officer")?,
                approve: r.try_get::<i64, _>("approve")? == 1,
                at: r.try_get("voted_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(a)
}

async fn load(conn: &mut AnyConnection, id: i64) -> Result<Option<Approval>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM approvals WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(Some(with_votes(conn, approval(&row)?).await?)),
        None => Ok(None),
    }
}

/// Marks an approved, unexpired request used (inside the issuance transaction); anything else
/// is [`StoreError::Used`].
pub(crate) async fn use_approval(
    conn: &mut AnyConnection,
    used: &ApprovalUse,
    at: i64,
) -> Result<NewAudit, StoreError> {
    let done = sqlx::query(
        "UPDATE approvals SET state = 'used', used_at = $1, used_request = $2 \
         WHERE id = $3 AND state = 'approved' AND expires_at >= $1",
    )
    .bind(at)
    .bind(used.request_id.as_str())
    .bind(used.id)
    .execute(conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Used(UsedItem::Approval(used.id)));
    }
    Ok(NewAudit {
        category: AuditCategory::KeysRecovered,
        action: "use-approval".into(),
        officer: None,
        outcome: Outcome::Success,
        object: Some(used.id.to_string()),
        detail: json!({ "request_id": used.request_id }),
    })
}

impl Store {
    /// Records a new approval request (state `pending`) with `audit`, in one transaction.
    pub async fn create_approval(
        &self,
        new: &NewApproval,
        audit: &NewAudit,
    ) -> Result<Approval, StoreError> {
        if new.required < 1 || new.key_certificate_ids.is_empty() {
            return Err(StoreError::Invalid(
                "approval: needs at least one approval and one key".into(),
            ));
        }
        let mut tx = self.write_tx().await?;
        let sql = format!(
            "INSERT INTO approvals (requester, token_procedure, subject, key_certificate_ids, \
             required, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new.requester.as_str())
            .bind(new.token_procedure.as_str())
            .bind(new.subject.as_str())
            .bind(new.key_certificate_ids.as_str())
            .bind(new.required)
            .bind(now())
            .bind(new.expires_at)
            .fetch_one(&mut *tx)
            .await?;
        let created = approval(&row)?;
        let record = NewAudit {
            object: Some(created.id.to_string()),
            ..audit.clone()
        };
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// One approval request with its votes.
    pub async fn approval(&self, id: i64) -> Result<Option<Approval>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id).await
    }

    /// Approval requests, newest first: only `pending` unexpired ones, or all.
    pub async fn approvals(
        &self,
        pending_only: bool,
        limit: Option<i64>,
    ) -> Result<Vec<Approval>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let filter = if pending_only {
            "WHERE state = 'pending' AND expires_at >= $1"
        } else {
            "WHERE $1 = $1"
        };
        let sql = format!("SELECT {COLUMNS} FROM approvals {filter} ORDER BY id DESC LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now())
            .bind(row_limit(limit))
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(with_votes(&mut conn, approval(row)?).await?);
        }
        Ok(out)
    }

    /// Records `officer`'s vote with `audit`, in one transaction, and returns the request as it
    /// stands after it: one rejection rejects, `required` approvals approve. Refused with
    /// [`StoreError::Invalid`] (naming why) for an unknown, expired or decided request, a vote
    /// by the requester, or a second vote by the same officer.
    pub async fn vote_approval(
        &self,
        id: i64,
        officer: &str,
        approve: bool,
        audit: &NewAudit,
    ) -> Result<Approval, StoreError> {
        self.vote_approval_answered(id, officer, approve, audit, None::<(&RequestKey, Respond)>)
            .await
    }

    /// [`Store::vote_approval`] for an idempotent request: the request ID in `answered` is
    /// claimed at the start of the transaction and `respond`'s answer (built from the request
    /// as it stands after the vote) recorded at its end (see [`Store::record_token_answered`]).
    /// A request ID the officer used before is a [`StoreError::Conflict`] naming `request ID`,
    /// and nothing is written.
    pub async fn vote_approval_answered<F>(
        &self,
        id: i64,
        officer: &str,
        approve: bool,
        audit: &NewAudit,
        answered: Option<(&RequestKey, F)>,
    ) -> Result<Approval, StoreError>
    where
        F: FnOnce(&Approval) -> Answered + Send,
    {
        if let Some((key, _)) = &answered {
            request_results::check(key)?;
        }
        let at = now();
        let mut tx = self.write_tx().await?;
        if let Some((key, _)) = &answered {
            request_results::claim(&mut tx, key, at).await?;
        }
        let current = load(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("approval {id}: no such request")))?;
        let refuse = |why: &str| Err(StoreError::Invalid(format!("approval {id}: {why}")));
        if current.state != ApprovalState::Pending {
            return refuse(&format!("it is {} already", current.state.as_str()));
        }
        if current.expires_at < at {
            return refuse("it has expired");
        }
        if current.requester == officer {
            return refuse("the requester cannot vote on its own request");
        }
        if current.votes.iter().any(|v| v.officer == officer) {
            return refuse(&format!("officer {officer} has voted already"));
        }
        sqlx::query(
            "INSERT INTO approval_votes (approval_id, officer, approve, voted_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(officer)
        .bind(i64::from(approve))
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let approvals = current.approvals() + i64::from(approve);
        let state = match (approve, approvals >= current.required) {
            (false, _) => ApprovalState::Rejected,
            (true, true) => ApprovalState::Approved,
            (true, false) => ApprovalState::Pending,
        };
        sqlx::query("UPDATE approvals SET state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let mut record = audit.clone();
        record.object = Some(id.to_string());
        record.detail["state"] = json!(state.as_str());
        audit::insert(&mut tx, &record).await?;
        let after = load(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("approval {id} vanished")))?;
        if let Some((key, respond)) = answered {
            let answer = respond(&after).map_err(StoreError::Invalid)?;
            request_results::answer(&mut tx, key, &answer).await?;
        }
        tx.commit().await?;
        Ok(after)
    }
}
