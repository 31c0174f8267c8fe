//! Approval requests of M-of-N recoveries, from the officer's side (role `recover-key`).

use keyward_proto::{ApprovalInfo, ApprovalVote};

use crate::client::RaClient;
use crate::error::RaError;
use crate::util::{random_hex, unix_now};

impl RaClient {
    /// Approval requests, newest first: open ones, or all with `all`.
    pub async fn approvals(&self, all: bool) -> Result<Vec<ApprovalInfo>, RaError> {
        self.get("/v1/approvals", &[("all", all.to_string())]).await
    }

    /// Approves (or rejects) approval request `id`; returns it as it stands after the vote.
    pub async fn vote_approval(&self, id: &str, approve: bool) -> Result<ApprovalInfo, RaError> {
        let request = ApprovalVote {
            request_id: random_hex(16)?,
            timestamp: unix_now(),
            nonce: random_hex(16)?,
            approval_id: id.to_string(),
            approve,
        };
        let body = serde_json::to_vec(&request).map_err(|e| self.transport(e))?;
        self.post_signed(keyward_proto::APPROVAL_VOTE_PATH, body)
            .await
    }
}
