//! Recording one issued token: its certificate rows, audit records and the parts of its answer
//! are built first, without I/O; then they are written, with the answer, in one transaction.
//! Only then do sealed keys leave.

use openssl::pkey::{PKey, Public};
use serde_json::json;

use keyward_policy::procedure::{ChainRule, ResolvedToken};
use keyward_policy::{DistinguishedName, KeySpec};
use keyward_proto::{
    IssueRequest, IssueResponse, IssuedAttributeCertificate, IssuedCertificate, KeyOrigin,
    PinDeliveryInfo, RevokedByRecovery, SealedKey,
};
use keyward_store::{
    Answered, ApprovalUse, AuditCategory, NewAttributeCertificate, NewAudit, NewCertificate,
    Officer, OldRevocation, Outcome, Recorded, RequestAnswer, RequestKey, StoreError, TokenRecord,
    UsedItem,
};

use super::produce::{Output, RecoveredFrom};
use super::token_pin::ServerPin;
use super::{certificate_record, rfc3339, Issuance, RecordContext, Refusal};

/// One token between signing and recording: what was asked, and what was made for it.
pub(super) struct Produced<'a> {
    pub(super) officer: &'a Officer,
    pub(super) req: &'a IssueRequest,
    /// The idempotent request's key, whose answer is recorded with the token.
    pub(super) key: Option<&'a RequestKey>,
    pub(super) resolved: &'a ResolvedToken,
    /// The token plan, as the issuance record names it.
    pub(super) key_management: String,
    pub(super) key_spec: KeySpec,
    pub(super) subject: &'a DistinguishedName,
    pub(super) outputs: Vec<Output>,
    pub(super) attribute: Option<NewAttributeCertificate>,
    /// The PIN the server chose, and the transport key it is sealed to.
    pub(super) pin: Option<(ServerPin, PKey<Public>)>,
    pub(super) approval: Option<ApprovalUse>,
}

/// What one token writes, and everything its answer needs besides the Certificate IDs: built
/// before the transaction, so that the answer is recorded in it (a retry is answered with it).
struct Records {
    certificates: Vec<NewCertificate>,
    audit: NewAudit,
    /// One `recover-key` record per recovered key.
    recoveries: Vec<NewAudit>,
    /// The old certificates of recovered keys to revoke with the new ones.
    revoke: Vec<OldRevocation>,
    chain: Vec<Vec<u8>>,
    sealed_pin: Option<SealedKey>,
    pin_delivery: Option<PinDeliveryInfo>,
}

/// A refusal for what the issuance transaction refused.
fn to_refusal(e: StoreError) -> Refusal {
    match e {
        StoreError::Used(what @ UsedItem::Approval(_)) => Refusal::conflict(
            "approval",
            format!("{what} is no longer approved (used, or expired)"),
        ),
        // Checked before, so used or voided by another request since.
        StoreError::Used(what) => Refusal::conflict(
            "pin_letter",
            format!("{what} has been used already, or voided"),
        ),
        StoreError::Conflict(what) => {
            Refusal::conflict("request_id", format!("{what} exists already"))
        }
        other => Refusal::internal(other),
    }
}

impl Issuance {
    /// Records the new certificates (with archived keys), the issuance record, one record per
    /// recovered key and the revocations of recovered keys' old certificates (`revoke_old`)
    /// in one transaction, and builds the answer; with a request `key`, the
    /// answer is recorded in the same transaction (see [`Issuance::issue_request`]).
    pub(super) async fn record(&self, token: Produced<'_>) -> Result<IssueResponse, Refusal> {
        let records = self.records(&token)?;
        self.write(token, records).await
    }

    /// Builds the token's rows, audit records, CA chain and sealed PIN.
    fn records(&self, token: &Produced<'_>) -> Result<Records, Refusal> {
        let Produced {
            officer,
            req,
            resolved,
            ..
        } = *token;
        let subject_text = token.subject.to_string();
        let mut new_certs = Vec::new();
        let mut recoveries = Vec::new();
        for output in &token.outputs {
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
                    row.archived_key = archive.as_deref().cloned();
                    // So that the certificate names the archived key it certifies.
                    row.recovered_from = recovered_from.as_ref().map(|r| r.certificate_id);
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
                    revoke_old: None,
                }),
            }
        }
        // The attribute certificate is bound to the token's first new certificate.
        if let Some(first) = new_certs.first_mut() {
            first.attribute_certificate = token.attribute.clone();
        }
        let mut audit = NewAudit {
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
                "key_spec": token.key_spec.to_string(),
                "key_management": token.key_management,
                "pin_procedure": resolved.pin.name,
                "pin_method": resolved.pin.method.name(),
            }),
        };
        if !req.qc_statements.is_empty() {
            // What the officer added is part of what the officer did.
            audit.detail["officer_qc_statements"] = json!(req.qc_statements);
        }
        let revoke = recoveries
            .iter()
            .filter_map(|r| {
                let reason = r.revoke_old?;
                Some(OldRevocation {
                    certificate_id: r.certificate_id,
                    reason,
                    audit: NewAudit {
                        category: AuditCategory::CertificatesRevoked,
                        action: "revoke-certificate".into(),
                        officer: Some(officer.name.clone()),
                        outcome: Outcome::Success,
                        object: None,
                        detail: json!({
                            "request_id": req.request_id,
                            "recovery": true,
                            "token_procedure": resolved.token.name,
                            "key_procedure": r.key_procedure,
                        }),
                    },
                })
            })
            .collect();
        let recoveries: Vec<NewAudit> = recoveries
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
        let mut chain = Vec::new();
        for (i, ca_cert) in self.ca.chain().iter().enumerate() {
            if i > 0 && resolved.token.chain == ChainRule::IssuingOnly {
                break;
            }
            chain.push(ca_cert.to_der().map_err(Refusal::internal)?);
        }
        let (sealed_pin, pin_delivery) = match &token.pin {
            Some((pin, recipient)) => (
                Some(pin.seal(recipient, &req.request_id)?),
                Some(pin.info.clone()),
            ),
            None => (None, None),
        };
        Ok(Records {
            certificates: new_certs,
            audit,
            recoveries,
            revoke,
            chain,
            sealed_pin,
            pin_delivery,
        })
    }

    /// Writes the records in one transaction (with the answer, for a request `key`) and
    /// returns the answer.
    async fn write(&self, token: Produced<'_>, records: Records) -> Result<IssueResponse, Refusal> {
        let Produced {
            req,
            key,
            outputs,
            attribute,
            pin,
            approval,
            ..
        } = token;
        let Records {
            certificates,
            audit,
            recoveries,
            revoke,
            chain,
            sealed_pin,
            pin_delivery,
        } = records;
        let written = TokenRecord {
            certificates: &certificates,
            audit: &audit,
            extra: &recoveries,
            pin: pin.as_ref().map(|(p, _)| &p.record),
            approval: approval.as_ref(),
            revoke: &revoke,
        };
        let build = move |recorded: &Recorded| {
            answer(
                outputs,
                recorded,
                chain,
                sealed_pin,
                pin_delivery,
                attribute,
                &req.request_id,
            )
        };
        match key {
            Some(key) => {
                let mut built = None;
                let respond = |recorded: &Recorded| -> Answered {
                    let response = build(recorded).map_err(|r| r.message)?;
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
                    .record_token_answered(&written, key, respond)
                    .await
                    .map_err(to_refusal)?;
                built.ok_or_else(|| Refusal::internal("the answer was not built"))
            }
            None => {
                let recorded = self
                    .store
                    .record_token_once(&written)
                    .await
                    .map_err(to_refusal)?;
                build(&recorded)
            }
        }
    }
}

/// The answer to an issue request: the stored certificates in plan order with the keys sealed
/// for the RA, the CA chain and the sealed PIN.
fn answer(
    outputs: Vec<Output>,
    recorded: &Recorded,
    chain: Vec<Vec<u8>>,
    sealed_pin: Option<SealedKey>,
    pin_delivery: Option<PinDeliveryInfo>,
    attribute: Option<NewAttributeCertificate>,
    request_id: &str,
) -> Result<IssueResponse, Refusal> {
    let stored = &recorded.certificates;
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
        revoked: recorded
            .revoked
            .iter()
            .map(|r| RevokedByRecovery {
                certificate_id: r.certificate_id.to_string(),
                serial: r.serial_hex.clone(),
                reason: r.reason,
                revoked_at: rfc3339(r.revoked_at),
                kept: r.kept,
                hold_replaced: r.hold_replaced,
            })
            .collect(),
    })
}
