//! Issuing one token. The token plan becomes steps (async: store look-ups); the steps become
//! certificates and sealed keys (blocking: key generation, signing, decryption); everything is
//! recorded with its audit records in one transaction; only then do sealed keys leave.

use serde_json::json;

use keyward_kra::Kra;
use keyward_policy::procedure::{ChainRule, KeyAction, RecoverCertificate, ResolvedToken};
use keyward_policy::{
    check_content, plan_token, CertificateProcedure, Checked, ContentFields, DistinguishedName,
    KeySpec, PlannedAction, ProcedureSet,
};
use keyward_proto::{
    IssueRequest, IssueResponse, IssuedAttributeCertificate, IssuedCertificate, KeyOrigin,
    PinDeliveryInfo, SealedKey,
};
use keyward_store::{
    crash_point, Answered, ApprovalUse, AuditCategory, NewAttributeCertificate, NewAudit, Officer,
    Outcome, RequestAnswer, RequestKey, StoreError, StoredCertificate,
};
use openssl::pkey::{PKey, Public};

use super::produce::{produce, Inputs, Output, RecoveredFrom, Step};
use super::token_pin::ServerPin;
use super::{
    certificate_record, check_request_id, shorten, unix_now, RecordContext, Refusal, Service,
};

/// The certificate procedure `name` of the token as the content check left it: the subject,
/// e-mail and alt names checked against it, its QC statements merged with the officer's.
fn prepared(checked: &Checked, name: &str) -> Result<CertificateProcedure, Refusal> {
    checked
        .procedure(name)
        .cloned()
        .ok_or_else(|| Refusal::internal("the plan names an unknown certificate procedure"))
}

impl Service {
    pub(super) async fn try_issue(
        &self,
        officer: &Officer,
        req: &IssueRequest,
        key: Option<&RequestKey>,
        category: &mut AuditCategory,
    ) -> Result<IssueResponse, Refusal> {
        check_request_id(&req.request_id)?;
        let procedures: ProcedureSet = self.store.procedures().await.map_err(Refusal::internal)?;
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
            *category = AuditCategory::KeysRecovered;
        }
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
        let server_pin = self.server_pin(officer, &resolved, req).await?;
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
        let approval = self
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

        self.record(
            officer,
            req,
            key,
            &resolved,
            &plan.to_string(),
            key_spec,
            subject,
            outputs,
            attribute,
            pin,
            approval,
        )
        .await
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

    /// Records the new certificates (with archived keys), the issuance record and one record
    /// per recovered key in one transaction, and builds the answer; with a request `key`, the
    /// answer is recorded in the same transaction (see [`Service::issue_request`]).
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        officer: &Officer,
        req: &IssueRequest,
        key: Option<&RequestKey>,
        resolved: &ResolvedToken,
        key_management: &str,
        key_spec: KeySpec,
        subject: &DistinguishedName,
        outputs: Vec<Output>,
        attribute: Option<NewAttributeCertificate>,
        pin: Option<(ServerPin, PKey<Public>)>,
        approval: Option<ApprovalUse>,
    ) -> Result<IssueResponse, Refusal> {
        let subject_text = subject.to_string();
        let mut new_certs = Vec::new();
        let mut recoveries = Vec::new();
        for output in &outputs {
            match output {
                Output::New {
                    cert,
                    procedure,
                    key_usage,
                    origin,
                    archive,
                    recovered_from,
                    ..
                } => {
                    let context = RecordContext {
                        subject: &subject_text,
                        certificate_procedure: procedure,
                        token_procedure: &resolved.token.name,
                        key_origin: *origin,
                        key_usage,
                        officer: &officer.name,
                        email: req.email.as_deref(),
                    };
                    let mut row = certificate_record(self.ca.certificate(), cert, &context)?;
                    row.archived_key = archive.clone();
                    new_certs.push(row);
                    recoveries.extend(recovered_from.clone());
                }
                Output::Reused {
                    key, key_procedure, ..
                } => recoveries.push(RecoveredFrom {
                    certificate_id: key.certificate.id,
                    serial: key.certificate.serial_hex.clone(),
                    key_procedure: key_procedure.clone(),
                    certificate: "reuse",
                }),
            }
        }
        // The attribute certificate is bound to the token's first new certificate.
        if let Some(first) = new_certs.first_mut() {
            first.attribute_certificate = attribute.clone();
        }
        let audit = NewAudit {
            category: if new_certs.is_empty() {
                AuditCategory::KeysRecovered
            } else {
                AuditCategory::CertificatesIssued
            },
            action: "issue-token".into(),
            officer: Some(officer.name.clone()),
            outcome: Outcome::Success,
            object: None,
            detail: json!({
                "request_id": req.request_id,
                "token_procedure": resolved.token.name,
                "subject": subject_text,
                "key_spec": key_spec.to_string(),
                "key_management": key_management,
                "pin_procedure": resolved.pin.name,
                "pin_method": resolved.pin.method.name(),
            }),
        };
        let mut audit = audit;
        if !req.qc_statements.is_empty() {
            // What the officer added is part of what the officer did.
            audit.detail["officer_qc_statements"] = json!(req.qc_statements);
        }
        let extra: Vec<NewAudit> = recoveries
            .iter()
            .map(|r| NewAudit {
                category: AuditCategory::KeysRecovered,
                action: "recover-key".into(),
                officer: Some(officer.name.clone()),
                outcome: Outcome::Success,
                object: Some(r.certificate_id.to_string()),
                detail: json!({
                    "request_id": req.request_id,
                    "token_procedure": resolved.token.name,
                    "key_procedure": r.key_procedure,
                    "serial": r.serial,
                    "certificate": r.certificate,
                    "subject": subject_text,
                }),
            })
            .collect();
        // Everything the answer needs besides the Certificate IDs is ready before the
        // transaction, so that the answer is recorded in it (a retry is answered with it).
        let mut chain = Vec::new();
        for (i, ca_cert) in self.ca.chain().iter().enumerate() {
            if i > 0 && resolved.token.chain == ChainRule::IssuingOnly {
                break;
            }
            chain.push(ca_cert.to_der().map_err(Refusal::internal)?);
        }
        let (sealed_pin, pin_delivery) = match &pin {
            Some((pin, recipient)) => (
                Some(pin.seal(recipient, &req.request_id)?),
                Some(pin.info.clone()),
            ),
            None => (None, None),
        };
        let pin_record = pin.as_ref().map(|(p, _)| &p.record);
        let build = move |stored: &[StoredCertificate]| {
            answer(
                outputs,
                stored,
                chain,
                sealed_pin,
                pin_delivery,
                attribute,
                &req.request_id,
            )
        };
        let to_refusal = |e: StoreError| match e {
            StoreError::Used(what) if what.starts_with("approval") => Refusal::conflict(
                "approval",
                format!("{what} is no longer approved (used, or expired)"),
            ),
            StoreError::Used(what) => {
                Refusal::conflict("pin_letter", format!("{what} has been used already"))
            }
            StoreError::Conflict(what) => {
                Refusal::conflict("request_id", format!("{what} exists already"))
            }
            other => Refusal::internal(other),
        };
        match key {
            Some(key) => {
                let mut built = None;
                let respond = |stored: &[StoredCertificate]| -> Answered {
                    let response = build(stored).map_err(|r| r.message)?;
                    let json = serde_json::to_string(&response).map_err(|e| e.to_string())?;
                    let certificate_ids = response
                        .certificates
                        .iter()
                        .map(|c| c.certificate_id.clone())
                        .collect();
                    built = Some(response);
                    Ok(RequestAnswer {
                        response: json,
                        certificate_ids,
                    })
                };
                self.store
                    .record_token_answered(
                        &new_certs,
                        &audit,
                        &extra,
                        pin_record,
                        approval.as_ref(),
                        key,
                        respond,
                    )
                    .await
                    .map_err(to_refusal)?;
                built.ok_or_else(|| Refusal::internal("the answer was not built"))
            }
            None => {
                let stored = self
                    .store
                    .record_token_with(&new_certs, &audit, &extra, pin_record, approval.as_ref())
                    .await
                    .map_err(to_refusal)?;
                build(&stored)
            }
        }
    }
}

/// The answer to an issue request: the stored certificates in plan order with the keys sealed
/// for the RA, the CA chain and the sealed PIN.
fn answer(
    outputs: Vec<Output>,
    stored: &[StoredCertificate],
    chain: Vec<Vec<u8>>,
    sealed_pin: Option<SealedKey>,
    pin_delivery: Option<PinDeliveryInfo>,
    attribute: Option<NewAttributeCertificate>,
    request_id: &str,
) -> Result<IssueResponse, Refusal> {
    let attribute_certificate = match (attribute, stored.first()) {
        (Some(ac), Some(holder)) => Some(IssuedAttributeCertificate {
            serial: ac.serial_hex,
            procedure: ac.procedure,
            holder_certificate_id: holder.id.to_string(),
            der: ac.der,
        }),
        _ => None,
    };
    let mut stored = stored.iter();
    let mut certificates = Vec::with_capacity(outputs.len());
    for output in outputs {
        certificates.push(match output {
            Output::New { origin, sealed, .. } => {
                let c = stored
                    .next()
                    .ok_or_else(|| Refusal::internal("fewer certificates stored than issued"))?;
                IssuedCertificate {
                    certificate_id: c.id.to_string(),
                    serial: c.serial_hex.clone(),
                    subject: c.subject.clone(),
                    certificate_procedure: c.certificate_procedure.clone(),
                    key_origin: origin,
                    reused: false,
                    certificate: c.der.clone(),
                    sealed_key: sealed,
                }
            }
            Output::Reused { key, sealed, .. } => {
                let c = key.certificate;
                IssuedCertificate {
                    certificate_id: c.id.to_string(),
                    serial: c.serial_hex,
                    subject: c.subject,
                    certificate_procedure: c.certificate_procedure,
                    key_origin: KeyOrigin::Recovered,
                    reused: true,
                    certificate: c.der,
                    sealed_key: Some(sealed),
                }
            }
        });
    }
    Ok(IssueResponse {
        request_id: request_id.to_string(),
        certificates,
        chain,
        sealed_pin,
        pin_delivery,
        attribute_certificate,
    })
}

fn validated(checked: &Checked, names: &[String]) -> Result<Vec<CertificateProcedure>, Refusal> {
    names.iter().map(|name| prepared(checked, name)).collect()
}
