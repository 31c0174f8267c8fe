//! A token the server issued but the RA could not write: the officer is told which
//! Certificate IDs were issued and what to do, and the server is told too (it records the
//! report in the audit log), so that no certificate is left without a trace of its token.

use keyward_proto::{KeyOrigin, UndeliveredRecorded, UndeliveredToken, UNDELIVERED_PATH};

use crate::client::RaClient;
use crate::error::{RaError, Undelivered};
use crate::util::{random_hex, unix_now};

/// One certificate of a token that was not written.
#[derive(Debug, Clone)]
pub(crate) struct Orphan {
    pub(crate) certificate_id: String,
    pub(crate) key_origin: KeyOrigin,
}

impl RaClient {
    /// Reports the token of `issue_request_id` as undelivered (`POST /v1/tokens/undelivered`).
    pub async fn report_undelivered(
        &self,
        issue_request_id: &str,
        certificate_ids: &[String],
        reason: &str,
    ) -> Result<UndeliveredRecorded, RaError> {
        let report = UndeliveredToken {
            request_id: random_hex(16)?,
            timestamp: unix_now(),
            nonce: random_hex(16)?,
            issue_request_id: issue_request_id.to_string(),
            certificate_ids: certificate_ids.to_vec(),
            reason: reason.chars().take(2048).collect(),
        };
        let body = serde_json::to_vec(&report).map_err(|e| self.transport(e))?;
        self.post_signed(UNDELIVERED_PATH, body).await
    }
}

/// The error for a token issued as request `request_id` whose files could not be written
/// (`failure`), after reporting it to the server.
pub(crate) async fn undelivered(
    client: &RaClient,
    request_id: &str,
    orphans: &[Orphan],
    failure: RaError,
) -> RaError {
    let ids: Vec<String> = orphans.iter().map(|o| o.certificate_id.clone()).collect();
    let reason = failure.to_string();
    let recorded = match client.report_undelivered(request_id, &ids, &reason).await {
        Ok(r) => Ok(r.audit_id),
        Err(e) => Err(e.to_string()),
    };
    RaError::Undelivered(Box::new(Undelivered {
        certificate_ids: ids,
        request_id: request_id.to_string(),
        reason,
        advice: advice(orphans),
        recorded,
    }))
}

/// What the officer can do about each certificate: one whose key is archived can be recovered
/// into a new token; one whose key only this RA (or the server, unarchived) held is useless and
/// should be revoked.
fn advice(orphans: &[Orphan]) -> String {
    let list = |keep: &dyn Fn(KeyOrigin) -> bool| -> Vec<&str> {
        orphans
            .iter()
            .filter(|o| keep(o.key_origin))
            .map(|o| o.certificate_id.as_str())
            .collect()
    };
    let archived = list(&|k| matches!(k, KeyOrigin::Archived | KeyOrigin::Recovered));
    let lost = list(&|k| matches!(k, KeyOrigin::Local | KeyOrigin::Server));
    let mut parts = Vec::new();
    if !lost.is_empty() {
        parts.push(format!(
            "The key of Certificate ID {} is lost (it was never archived): have it revoked, then issue a new token",
            lost.join(", ")
        ));
    }
    if !archived.is_empty() {
        let args: Vec<String> = archived
            .iter()
            .map(|id| format!("--recover-id {id}"))
            .collect();
        parts.push(format!(
            "The key of Certificate ID {} is archived: recover it into a new token with `keyward ra issue … {}` to a writable --p12, or have it revoked",
            archived.join(", "),
            args.join(" ")
        ));
    }
    parts.join(". ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_says_revoke_for_lost_keys_and_recover_for_archived_ones() {
        let orphans = [
            Orphan {
                certificate_id: "12".into(),
                key_origin: KeyOrigin::Local,
            },
            Orphan {
                certificate_id: "13".into(),
                key_origin: KeyOrigin::Archived,
            },
        ];
        let text = advice(&orphans);
        assert!(
            text.contains("The key of Certificate ID 12 is lost") && text.contains("revoked"),
            "{text}"
        );
        assert!(text.contains("--recover-id 13"), "{text}");
        let e = RaError::Undelivered(Box::new(Undelivered {
            certificate_ids: vec!["12".into(), "13".into()],
            request_id: "r1".into(),
            reason: "a.p12: File too large".into(),
            advice: text,
            recorded: Ok("41".into()),
        }));
        assert_eq!(e.exit_code(), 11);
        let shown = e.to_string();
        assert!(shown.contains("Certificate ID(s) 12, 13"), "{shown}");
        assert!(shown.contains("audit record 41"), "{shown}");
    }
}
