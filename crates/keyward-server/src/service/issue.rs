//! Issuing one token. The token plan becomes steps (async: store look-ups); the steps become
//! certificates and sealed keys (blocking: key generation, signing, decryption); everything is
//! recorded with its audit records in one transaction; only then do sealed keys leave.

use std::sync::Arc;

use serde_json::json;

use keyward_ca::CertificateAuthority;
use keyward_kra::Kra;
use keyward_policy::procedure::{KeyAction, RecoverCertificate, ResolvedToken};
use keyward_policy::{
    check_content, plan_token, CertificateProcedure, Checked, ContentFields, KeySpec,
    PlannedAction, ProcedureSet,
};
use keyward_proto::{IssueRequest, IssueResponse, KeyOrigin};
use keyward_store::{crash_point, AuditCategory, Officer, RequestKey};

use super::answers::idempotent;
use super::produce::{produce, Inputs, Step};
use super::record::Produced;
use super::{
    audit_refusal, check_request_id, shorten, unix_now, Answer, Issuance, Issued, Refusal,
};
use crate::metrics::{timed, DbOperation, UNKNOWN_PROCEDURE};

/// The certificate procedure `name` of the token as the content check left it: the subject,
/// e-mail and alt names checked against it, its QC statements merged with the officer's.
fn prepared(checked: &Checked, name: &str) -> Result<CertificateProcedure, Refusal> {
    checked
        .procedure(name)
        .cloned()
        .ok_or_else(|| Refusal::internal("the plan names an unknown certificate procedure"))
}

/// What an issuance attempt learnt before it ended, for its refusal's audit record and
/// metrics: the audit category (a recovery or not) and the resolved token procedure.
pub(super) struct Seen {
    category: AuditCategory,
    procedure: Option<String>,
}

/// The audit category of an issue request's recorded answer given again: keys recovered when
/// every certificate in it is for a recovered key, else certificates issued.
fn issue_category(json: &str) -> AuditCategory {
    let recovery = serde_json::from_str::<IssueResponse>(json)
        .map(|r| {
            r.certificates
                .iter()
                .all(|c| c.key_origin == KeyOrigin::Recovered)
        })
        .unwrap_or(false);
    if recovery {
        AuditCategory::KeysRecovered
    } else {
        AuditCategory::CertificatesIssued
    }
}

impl Issuance {
    /// The issuing CA, shared with the CRL publisher (which signs with it and holds nothing
    /// else but the store) and the OCSP signing certificate's renewal.
    pub fn ca(&self) -> Arc<CertificateAuthority> {
        self.ca.clone()
    }

    /// The KRA's key pool (cm.conf `kra.key-pool`), if it has one.
    pub fn key_pool(&self) -> Option<Arc<keyward_crypto::KeyPool>> {
        self.kra.key_pool().cloned()
    }

    /// Issues one token for an authenticated officer; refusals are audited (as a recovery when
    /// the token procedure recovers keys). Nothing makes a retry safe: the API uses
    /// [`Issuance::issue_request`].
    pub async fn issue(
        &self,
        officer: &Officer,
        req: IssueRequest,
    ) -> Result<IssueResponse, Refusal> {
        match self.issue_inner(officer, req, None).await? {
            Issued::New(response) => Ok(*response),
            Issued::Again(_) => Err(Refusal::internal("an answer without a request key")),
        }
    }

    /// Issues one token for an authenticated officer as an idempotent request: `key` names the
    /// officer, the request ID and the SHA-256 of the exact signed body.
    ///
    /// - A request ID this officer completed before, with the same body (a retry: after a
    ///   lost answer, a server crash, or concurrently with the first attempt), is answered with
    ///   the recorded answer, byte for byte, and nothing is issued ([`Issued::Again`], audited
    ///   as `answer-retry`).
    /// - The same request ID with another body is refused (409, field `request_id`), naming
    ///   the Certificate IDs it issued.
    /// - Otherwise the token is issued and the answer recorded in the issuance transaction,
    ///   where the request ID is claimed first: of two attempts racing, one issues and the
    ///   other waits for it and then answers with its result.
    pub async fn issue_request(
        &self,
        officer: &Officer,
        req: IssueRequest,
        key: &RequestKey,
    ) -> Result<Issued, Refusal> {
        self.issue_inner(officer, req, Some(key)).await
    }

    async fn issue_inner(
        &self,
        officer: &Officer,
        req: IssueRequest,
        key: Option<&RequestKey>,
    ) -> Result<Issued, Refusal> {
        let started = std::time::Instant::now();
        let mut seen = Seen {
            category: AuditCategory::CertificatesIssued,
            procedure: None,
        };
        let attempt = self.try_issue(officer, &req, key, &mut seen);
        let result = idempotent(&self.store, key, issue_category, async {
            attempt.await.map(Box::new)
        })
        .await;
        let Seen {
            category,
            procedure,
        } = seen;
        match result {
            Ok(Answer::New(response)) => {
                if let Some(m) = &self.metrics {
                    let name = procedure.as_deref().unwrap_or(UNKNOWN_PROCEDURE);
                    m.token_issued(name, started.elapsed());
                }
                let ids: Vec<&str> = response
                    .certificates
                    .iter()
                    .map(|c| c.certificate_id.as_str())
                    .collect();
                tracing::info!(
                    officer = %officer.name,
                    token_procedure = %req.token_procedure,
                    "issued token: Certificate ID {}",
                    ids.join(",")
                );
                Ok(Answer::New(response))
            }
            Ok(again) => Ok(again),
            Err(refusal) => {
                if let Some(m) = &self.metrics {
                    m.token_refused(procedure.as_deref(), refusal.kind.code());
                }
                tracing::warn!(officer = %officer.name, token_procedure = %shorten(&req.token_procedure), "refused: {refusal}");
                let audit = audit_refusal(
                    &self.store,
                    category,
                    "issue-token",
                    Some(&officer.name),
                    &refusal,
                    json!({
                        "request_id": shorten(&req.request_id),
                        "token_procedure": shorten(&req.token_procedure),
                        "subject": shorten(&req.subject),
                    }),
                );
                timed(self.metrics.as_deref(), DbOperation::AuditRefusal, audit).await;
                Err(refusal)
            }
        }
    }

    pub(super) async fn try_issue(
        &self,
        officer: &Officer,
        req: &IssueRequest,
        key: Option<&RequestKey>,
        seen: &mut Seen,
    ) -> Result<IssueResponse, Refusal> {
        check_request_id(&req.request_id)?;
        let metrics = self.metrics.as_deref();
        let procedures: ProcedureSet = timed(
            metrics,
            DbOperation::ReadProcedures,
            self.store.procedures(),
        )
        .await
        .map_err(Refusal::internal)?;
        let resolved = procedures.resolve(&req.token_procedure).map_err(|_| {
            Refusal::not_found(
                "token_procedure",
                format!(
                    "no token procedure named {:?}",
                    shorten(&req.token_procedure)
                ),
            )
        })?;
        if resolved
            .keys
            .iter()
            .any(|k| matches!(k.action, KeyAction::Recover { .. }))
        {
            seen.category = AuditCategory::KeysRecovered;
        }
        // A name of the loaded set, so a bounded label; a name the set lacks is never one.
        seen.procedure = Some(resolved.token.name.clone());
        let key_spec: KeySpec =
            req.key_spec
                .parse()
                .map_err(|e: keyward_policy::KeySpecError| {
                    Refusal::invalid("key_spec", e.to_string())
                })?;
        let plan = plan_token(&resolved, key_spec)
            .map_err(|e| Refusal::invalid("key_spec", e.to_string()))?;
        let missing: Vec<String> = plan
            .required_roles()
            .difference(&officer.roles)
            .map(|r| r.name().to_string())
            .collect();
        if !missing.is_empty() {
            return Err(Refusal::forbidden(format!(
                "officer {} lacks the role {} needed by token procedure {} ({})",
                officer.name,
                missing.join(" and "),
                resolved.token.name,
                plan
            )));
        }
        let checked = check_content(
            &resolved,
            &plan,
            &ContentFields {
                subject: &req.subject,
                email: req.email.as_deref(),
                alt_names: &req.alt_names,
                qc_statements: &req.qc_statements,
                recover: &req.recover,
            },
        )
        .map_err(|e| Refusal::invalid(&e.field, e.reason))?;
        let subject = &checked.subject;
        let server_side = plan
            .actions
            .iter()
            .any(|a| !matches!(a, PlannedAction::GenerateLocal { .. }));
        let archive_side = plan.actions.iter().any(|a| {
            matches!(
                a,
                PlannedAction::Archive { .. } | PlannedAction::Recover { .. }
            )
        });
        if archive_side && !self.kra.can_archive() {
            return Err(Refusal::unsupported(format!(
                "token procedure {} archives or recovers keys, but this server has no archive key (kra.archive-key in cm.conf)",
                resolved.token.name
            )));
        }
        let server_pin = self.token_pins.server_pin(officer, &resolved, req).await?;
        let needs_transport = server_side || server_pin.is_some();
        let transport = match (&req.transport_key, needs_transport) {
            (Some(der), true) => Some(
                Kra::transport_key(der).map_err(|e| Refusal::invalid("transport_key", e.to_string()))?,
            ),
            (None, true) => {
                return Err(Refusal::invalid(
                    "transport_key",
                    "the token plan has server-side keys or a server-chosen PIN: the request must carry a one-time transport key",
                ))
            }
            (_, false) => None,
        };
        let steps = self.steps(&resolved, &plan.actions, &checked, req).await?;
        // The line the RA showed before submit: with the old certificates a recovery revokes.
        let key_management = if plan.revocations().is_empty() {
            plan.to_string()
        } else {
            let found: Vec<(&str, Vec<String>)> = steps
                .iter()
                .filter_map(|s| match s {
                    Step::Recover {
                        key_procedure,
                        keys,
                        ..
                    } => Some((
                        key_procedure.as_str(),
                        keys.iter().map(|k| k.certificate.id.to_string()).collect(),
                    )),
                    _ => None,
                })
                .collect();
            plan.key_management_with(&found)
        };
        let approval = self
            .approvals
            .recovery_approval(officer, &resolved, req, &steps)
            .await?;

        let pin = match (server_pin, &transport) {
            (Some(pin), Some(recipient)) => Some((pin, recipient.clone())),
            _ => None,
        };
        let inputs = Inputs {
            subject: subject.clone(),
            email: req.email.clone(),
            dns_names: checked.dns_names.clone(),
            ip_addresses: checked.ip_addresses.clone(),
            key_spec,
            transport,
            request_id: req.request_id.clone(),
        };
        let (ca, kra) = (self.ca.clone(), self.kra.clone());
        let ac_procedure = resolved.attribute_certificate.clone();
        let (outputs, attribute) = tokio::task::spawn_blocking(move || {
            let outputs = produce(&ca, &kra, steps, &inputs)?;
            let ac = super::attribute::issue(&ca, &outputs, ac_procedure.as_ref(), unix_now())?;
            Ok::<_, Refusal>((outputs, ac))
        })
        .await
        .map_err(|_| Refusal::internal("key generation or signing task failed"))??;
        crash_point("after-sign");

        let record = self.record(Produced {
            officer,
            req,
            key,
            resolved: &resolved,
            key_management,
            key_spec,
            subject,
            outputs,
            attribute,
            pin,
            approval,
        });
        timed(metrics, DbOperation::RecordIssuance, record).await
    }

    /// Turns the plan's actions into steps, with the certificate procedures the content check
    /// prepared, and finds the keys to recover.
    async fn steps(
        &self,
        resolved: &ResolvedToken,
        actions: &[PlannedAction],
        checked: &Checked,
        req: &IssueRequest,
    ) -> Result<Vec<Step>, Refusal> {
        let subject = &checked.subject;
        let selected = self.selected_keys(&req.recover).await?;
        let mut claimed = vec![false; selected.len()];
        let mut steps = Vec::new();
        for action in actions {
            match action {
                PlannedAction::GenerateLocal {
                    certificate_procedure,
                    key_usage,
                    ..
                } => {
                    let procedure = prepared(checked, certificate_procedure)?;
                    let mut csrs = req
                        .csrs
                        .iter()
                        .filter(|c| &c.certificate_procedure == certificate_procedure);
                    let csr = match (csrs.next(), csrs.next()) {
                        (Some(csr), None) => csr.csr.clone(),
                        _ => {
                            return Err(Refusal::invalid(
                                "csrs",
                                format!("expected exactly one CSR for certificate procedure {certificate_procedure}"),
                            ))
                        }
                    };
                    steps.push(Step::Local {
                        procedure,
                        key_usage: key_usage.to_string(),
                        csr,
                    });
                }
                PlannedAction::Archive {
                    key_procedure,
                    certificate_procedures,
                    key_usage,
                    key_spec,
                } => steps.push(Step::Server {
                    procedures: validated(checked, certificate_procedures)?,
                    key_usage: key_usage.to_string(),
                    spec: *key_spec,
                    archive: Some(key_procedure.clone()),
                }),
                PlannedAction::GenerateServer {
                    certificate_procedures,
                    key_usage,
                } => steps.push(Step::Server {
                    procedures: validated(checked, certificate_procedures)?,
                    key_usage: key_usage.to_string(),
                    spec: self.server_key_spec,
                    archive: None,
                }),
                PlannedAction::Recover {
                    key_procedure,
                    key_usage,
                    scope,
                    certificate,
                    revoke_old,
                } => {
                    let new_certificate = match certificate {
                        RecoverCertificate::New {
                            certificate_procedure,
                        } => Some(prepared(checked, certificate_procedure)?),
                        RecoverCertificate::Reuse => None,
                    };
                    let keys = self
                        .keys_to_recover(
                            key_procedure,
                            &key_usage.to_string(),
                            *scope,
                            subject,
                            &selected,
                            &mut claimed,
                        )
                        .await?;
                    steps.push(Step::Recover {
                        key_procedure: key_procedure.clone(),
                        keys,
                        new_certificate,
                        revoke_old: *revoke_old,
                    });
                }
            }
        }
        if let Some(i) = claimed.iter().position(|c| !c) {
            let key = &selected[i];
            return Err(Refusal::invalid(
                "recover",
                format!(
                    "the key of Certificate ID {} has key usage {}, which no key procedure of token procedure {} recovers",
                    key.certificate.id, key.key_usage, resolved.token.name
                ),
            ));
        }
        let local = steps
            .iter()
            .filter(|s| matches!(s, Step::Local { .. }))
            .count();
        if req.csrs.len() != local {
            return Err(Refusal::invalid(
                "csrs",
                format!(
                    "the token plan has {local} local key(s) but the request carries {} CSR(s)",
                    req.csrs.len()
                ),
            ));
        }
        Ok(steps)
    }
}

fn validated(checked: &Checked, names: &[String]) -> Result<Vec<CertificateProcedure>, Refusal> {
    names.iter().map(|name| prepared(checked, name)).collect()
}
