//! M-of-N recovery: a token procedure whose recover key procedures need approvals releases keys
//! only with an approved request of the same officer, for the same token procedure, subject and
//! keys. The first attempt creates the request; other officers with `recover-key` vote; the
//! approved request is used by exactly one issuance (in its transaction).

use serde_json::json;

use keyward_policy::procedure::ResolvedToken;
use keyward_policy::Role;
use keyward_proto::{ApprovalInfo, ApprovalVote, IssueRequest};
use keyward_store::{
    Answered, Approval, ApprovalState, ApprovalUse, AuditCategory, NewApproval, NewAudit, Officer,
    Outcome, RequestAnswer, RequestKey, StoreError,
};

use super::answers::{idempotent, request_id_taken};
use super::produce::Step;
use super::{
    audit_refusal, check_request_id, require_role, rfc3339, shorten, unix_now, Answer, Approvals,
    Refusal, RefusalKind,
};

/// The Certificate IDs of the keys the steps recover, sorted, comma-separated.
fn recovered_ids(steps: &[Step]) -> String {
    let mut ids: Vec<i64> = steps
        .iter()
        .flat_map(|s| match s {
            Step::Recover { keys, .. } => keys.iter().map(|k| k.certificate.id).collect(),
            _ => Vec::new(),
        })
        .collect();
    ids.sort_unstable();
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

fn info(a: &Approval) -> ApprovalInfo {
    let voters = |approve: bool| {
        a.votes
            .iter()
            .filter(|v| v.approve == approve)
            .map(|v| v.officer.clone())
            .collect()
    };
    let expired = a.state == ApprovalState::Pending && a.expires_at < unix_now();
    ApprovalInfo {
        id: a.id.to_string(),
        requester: a.requester.clone(),
        token_procedure: a.token_procedure.clone(),
        subject: a.subject.clone(),
        key_certificate_ids: a.key_certificate_ids.clone(),
        required: a.required,
        approved_by: voters(true),
        rejected_by: voters(false),
        state: if expired { "expired" } else { a.state.as_str() }.into(),
        created_at: rfc3339(a.created_at),
        expires_at: rfc3339(a.expires_at),
    }
}

fn parse_id(field: &str, text: &str) -> Result<i64, Refusal> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Refusal::invalid(field, "an approval ID is a positive decimal number"))
}

impl Approvals {
    /// For a token procedure that needs approvals: the approved request to use, or (without
    /// one) a new request and a refusal telling the officer to have it approved.
    pub(super) async fn recovery_approval(
        &self,
        officer: &Officer,
        resolved: &ResolvedToken,
        req: &IssueRequest,
        steps: &[Step],
    ) -> Result<Option<ApprovalUse>, Refusal> {
        let Some((required, hours)) = resolved.approvals() else {
            if req.approval.is_some() {
                return Err(Refusal::invalid(
                    "approval",
                    format!("token procedure {} needs no approval", resolved.token.name),
                ));
            }
            return Ok(None);
        };
        let keys = recovered_ids(steps);
        let Some(text) = req.approval.as_deref() else {
            let new = NewApproval {
                requester: officer.name.clone(),
                token_procedure: resolved.token.name.clone(),
                subject: req.subject.clone(),
                key_certificate_ids: keys.clone(),
                required: i64::from(required),
                expires_at: unix_now().saturating_add(i64::from(hours) * 3600),
            };
            let audit = NewAudit {
                category: AuditCategory::KeysRecovered,
                action: "request-approval".into(),
                officer: Some(officer.name.clone()),
                outcome: Outcome::Success,
                object: None,
                detail: json!({
                    "request_id": req.request_id,
                    "token_procedure": resolved.token.name,
                    "subject": req.subject,
                    "key_certificate_ids": keys,
                    "required": required,
                }),
            };
            let created = self
                .store
                .create_approval(&new, &audit)
                .await
                .map_err(Refusal::internal)?;
            return Err(Refusal::approval_required(format!(
                "recovering Certificate ID {keys} through token procedure {} needs {required} approval(s) by other officers with recover-key: approval request {id} is open until {until}; when it is approved, repeat this request with --approval {id}",
                resolved.token.name,
                id = created.id,
                until = rfc3339(created.expires_at),
            )));
        };
        let id = parse_id("approval", text)?;
        let a = self
            .store
            .approval(id)
            .await
            .map_err(Refusal::internal)?
            .ok_or_else(|| Refusal::not_found("approval", format!("no approval request {id}")))?;
        let mismatch = |what: &str| {
            Refusal::invalid(
                "approval",
                format!("approval request {id} is for another {what}"),
            )
        };
        if a.requester != officer.name {
            return Err(mismatch("officer"));
        }
        if a.token_procedure != resolved.token.name {
            return Err(mismatch("token procedure"));
        }
        if a.subject.to_lowercase() != req.subject.to_lowercase() {
            return Err(mismatch("subject"));
        }
        if a.key_certificate_ids != keys {
            return Err(mismatch("set of keys"));
        }
        if a.expires_at < unix_now() {
            return Err(Refusal::conflict(
                "approval",
                format!("approval request {id} has expired"),
            ));
        }
        match a.state {
            ApprovalState::Approved => Ok(Some(ApprovalUse {
                id,
                request_id: req.request_id.clone(),
            })),
            // Still waiting, like the request that opened it: the same code, so that the RA
            // says "approval needed" (exit 13) rather than reporting a refusal.
            ApprovalState::Pending => Err(Refusal::approval_required(format!(
                "approval request {id} is pending: {} of {} approvals; when it is approved, \
                 repeat this request with --approval {id}",
                a.approvals(),
                a.required
            ))),
            other => Err(Refusal::conflict(
                "approval",
                format!("approval request {id} is {}", other.as_str()),
            )),
        }
    }

    /// Refuses (and audits) an officer without `recover-key`.
    async fn require_recover_key(&self, officer: &Officer, action: &str) -> Result<(), Refusal> {
        require_role(
            &self.store,
            officer,
            Role::RecoverKey,
            AuditCategory::KeysRecovered,
            action,
        )
        .await
    }

    /// Approval requests, newest first: open ones, or all.
    pub async fn approvals(
        &self,
        officer: &Officer,
        all: bool,
    ) -> Result<Vec<ApprovalInfo>, Refusal> {
        self.require_recover_key(officer, "list-approvals").await?;
        let found = self
            .store
            .approvals(!all, None)
            .await
            .map_err(Refusal::internal)?;
        Ok(found.iter().map(info).collect())
    }

    /// Records an officer's vote; refusals are audited.
    pub async fn vote_approval(
        &self,
        officer: &Officer,
        req: ApprovalVote,
    ) -> Result<ApprovalInfo, Refusal> {
        match self.vote_inner(officer, req, None).await? {
            Answer::New(info) => Ok(info),
            Answer::Again(_) => Err(Refusal::internal("an answer without a request key")),
        }
    }

    /// Records an officer's vote as an idempotent request, like
    /// [`Issuance::issue_request`](super::Issuance::issue_request): a retry of the very same
    /// signed vote (its answer was lost) gets the recorded answer instead of a replay refusal;
    /// the same request ID with another body is refused.
    pub async fn vote_approval_request(
        &self,
        officer: &Officer,
        req: ApprovalVote,
        key: &RequestKey,
    ) -> Result<Answer<ApprovalInfo>, Refusal> {
        self.vote_inner(officer, req, Some(key)).await
    }

    async fn vote_inner(
        &self,
        officer: &Officer,
        req: ApprovalVote,
        key: Option<&RequestKey>,
    ) -> Result<Answer<ApprovalInfo>, Refusal> {
        let action = if req.approve {
            "approve-recovery"
        } else {
            "reject-recovery"
        };
        self.require_recover_key(officer, action).await?;
        check_request_id(&req.request_id)?;
        let id = parse_id("approval_id", &req.approval_id)?;
        let attempt = self.try_vote(officer, &req, id, action, key);
        let result = idempotent(&self.store, key, |_| AuditCategory::KeysRecovered, attempt).await;
        match result {
            // Internal failures are logged, not audited, as before.
            Err(refusal) if refusal.kind != RefusalKind::Internal => {
                audit_refusal(
                    &self.store,
                    AuditCategory::KeysRecovered,
                    action,
                    Some(&officer.name),
                    &refusal,
                    json!({
                        "approval_id": shorten(&req.approval_id),
                        "request_id": shorten(&req.request_id),
                    }),
                )
                .await;
                Err(refusal)
            }
            other => other,
        }
    }

    /// Records the vote (and, with a request key, its answer) in one transaction.
    async fn try_vote(
        &self,
        officer: &Officer,
        req: &ApprovalVote,
        id: i64,
        action: &str,
        key: Option<&RequestKey>,
    ) -> Result<ApprovalInfo, Refusal> {
        let audit = NewAudit {
            category: AuditCategory::KeysRecovered,
            action: action.into(),
            officer: Some(officer.name.clone()),
            outcome: Outcome::Success,
            object: None,
            detail: json!({ "request_id": req.request_id }),
        };
        let respond = |a: &Approval| -> Answered {
            Ok(RequestAnswer {
                response: serde_json::to_string(&info(a)).map_err(|e| e.to_string())?,
                certificate_ids: Vec::new(),
            })
        };
        self.store
            .vote_approval_answered(
                id,
                &officer.name,
                req.approve,
                &audit,
                key.map(|k| (k, respond)),
            )
            .await
            .map(|a| info(&a))
            .map_err(|e| {
                if let Some(refusal) = request_id_taken(&e, &req.request_id, &officer.name) {
                    return refusal;
                }
                match e {
                    StoreError::Invalid(why) => Refusal::conflict("approval_id", why),
                    other => Refusal::internal(other),
                }
            })
    }
}
