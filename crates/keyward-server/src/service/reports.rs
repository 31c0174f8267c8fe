//! Tokens the RA could not deliver: the certificates were issued, but their files could not be
//! written. The report is an audit record (the only state it changes), so that every orphan
//! certificate is on record with the officer and the reason, for an administrator to revoke
//! it (or the officer to recover its archived key).

use serde_json::json;

use keyward_policy::Role;
use keyward_proto::{
    UndeliveredRecorded, UndeliveredToken, MAX_UNDELIVERED_IDS, MAX_UNDELIVERED_REASON_CHARS,
};
use keyward_store::{AuditCategory, CertificateQuery, NewAudit, Officer, Outcome};

use super::{audit_refusal, check_request_id, require_role, shorten, Issuance, Refusal};

const CATEGORY: AuditCategory = AuditCategory::CertificatesIssued;
/// The audit action of a report and of its refusals.
pub(crate) const ACTION: &str = "report-undelivered-token";

impl Issuance {
    /// Records that the token with these certificates was not delivered (role
    /// `issue-certificate`; only the officer who issued every one of them may report them).
    pub async fn report_undelivered(
        &self,
        officer: &Officer,
        report: UndeliveredToken,
    ) -> Result<UndeliveredRecorded, Refusal> {
        require_role(
            &self.store,
            officer,
            Role::IssueCertificate,
            CATEGORY,
            ACTION,
        )
        .await?;
        let detail = json!({
            "request_id": shorten(&report.request_id),
            "issue_request_id": shorten(&report.issue_request_id),
        });
        let ids = match self.check_report(officer, &report).await {
            Ok(ids) => ids,
            Err(refusal) => {
                audit_refusal(
                    &self.store,
                    CATEGORY,
                    ACTION,
                    Some(&officer.name),
                    &refusal,
                    detail,
                )
                .await;
                return Err(refusal);
            }
        };
        let object = ids.iter().map(i64::to_string).collect::<Vec<_>>();
        let record = NewAudit {
            category: CATEGORY,
            action: ACTION.to_string(),
            officer: Some(officer.name.clone()),
            // The request succeeded; what it records is a failure to deliver.
            outcome: Outcome::Success,
            object: Some(object.join(",")),
            detail: json!({
                "request_id": report.request_id,
                "issue_request_id": report.issue_request_id,
                "reason": report.reason,
            }),
        };
        let audit_id = self
            .store
            .append_audit(&record)
            .await
            .map_err(Refusal::internal)?;
        tracing::warn!(
            officer = %officer.name,
            certificates = %object.join(","),
            "token not delivered: the RA could not write its files"
        );
        Ok(UndeliveredRecorded {
            audit_id: audit_id.to_string(),
            certificate_ids: object,
        })
    }

    /// The report's Certificate IDs, each issued by `officer`; or the refusal naming the field.
    async fn check_report(
        &self,
        officer: &Officer,
        report: &UndeliveredToken,
    ) -> Result<Vec<i64>, Refusal> {
        check_request_id(&report.request_id)?;
        check_request_id(&report.issue_request_id)
            .map_err(|r| Refusal::invalid("issue_request_id", r.message))?;
        let reason_chars = report.reason.chars().count();
        if reason_chars == 0 || reason_chars > MAX_UNDELIVERED_REASON_CHARS {
            return Err(Refusal::invalid(
                "reason",
                format!("give 1 to {MAX_UNDELIVERED_REASON_CHARS} characters"),
            ));
        }
        if report.reason.chars().any(char::is_control) {
            return Err(Refusal::invalid("reason", "contains control characters"));
        }
        if report.certificate_ids.is_empty() || report.certificate_ids.len() > MAX_UNDELIVERED_IDS {
            return Err(Refusal::invalid(
                "certificate_ids",
                format!("give 1 to {MAX_UNDELIVERED_IDS} Certificate IDs"),
            ));
        }
        let mut ids = Vec::with_capacity(report.certificate_ids.len());
        for text in &report.certificate_ids {
            let id = text
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0 && text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    Refusal::invalid(
                        "certificate_ids",
                        format!(
                            "{:?} is not a Certificate ID (a decimal number)",
                            shorten(text)
                        ),
                    )
                })?;
            let found = self
                .store
                .find_certificates(&CertificateQuery {
                    id: Some(id),
                    ..Default::default()
                })
                .await
                .map_err(Refusal::internal)?;
            match found.first() {
                None => {
                    return Err(Refusal::not_found(
                        "certificate_ids",
                        format!("no certificate with Certificate ID {id}"),
                    ))
                }
                Some(c) if c.officer != officer.name => {
                    return Err(Refusal::forbidden(format!(
                        "Certificate ID {id} was issued by another officer; only the officer who issued a token reports it undelivered"
                    )))
                }
                Some(_) => {}
            }
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}
