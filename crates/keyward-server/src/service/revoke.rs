//! Revoking certificates, holds and their release (role `revoke-certificate`). A revocation is
//! a row and an audit record in one transaction, never a CRL rebuild; every refusal is
//! audited. Idempotent by request ID like issuance.

use serde_json::json;

use keyward_policy::{RevocationReason, Role};
use keyward_proto::{RevocationInfo, RevokeRequest, StatusInfo, UnholdRequest};
use keyward_store::{
    Answered, AuditCategory, CertificateQuery, NewAudit, NewRevocation, Officer, Outcome,
    RequestAnswer, RequestKey, StoreError, StoredCertificate, Unhold,
};

use super::answers::{idempotent, request_id_taken};
use super::{
    audit_refusal, check_request_id, require_role, rfc3339, shorten, unix_now, Answer, Refusal,
    RefusalKind, Revocations,
};

/// The status an officer sees, at `now`.
pub(crate) fn status_info(cert: &StoredCertificate, now: i64) -> StatusInfo {
    let status = cert.status(now);
    let rev = cert.revocation.as_ref();
    let in_force = rev.filter(|r| r.in_force());
    StatusInfo {
        status: status.filter().name().to_string(),
        revocation_reason: in_force.map(|r| r.reason),
        revoked_at: in_force.map(|r| rfc3339(r.revoked_at)),
        invalidity_date: in_force.and_then(|r| r.invalidity_date).map(rfc3339),
        hold_released_at: rev.and_then(|r| r.released_at).map(rfc3339),
    }
}

fn info(cert: &StoredCertificate) -> RevocationInfo {
    RevocationInfo {
        certificate_id: cert.id.to_string(),
        serial: cert.serial_hex.clone(),
        subject: cert.subject.clone(),
        issuer: cert.issuer.clone(),
        status: status_info(cert, unix_now()),
    }
}

/// Whether a certificate's DER says it is a CA (basicConstraints cA).
fn is_ca(der: &[u8]) -> bool {
    use der::Decode;
    let Ok(cert) = x509_cert::Certificate::from_der(der) else {
        return false;
    };
    let Some(extensions) = cert.tbs_certificate().extensions() else {
        return false;
    };
    extensions
        .iter()
        .filter(|e| e.extn_id == const_oid_basic_constraints())
        .any(|e| {
            x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes())
                .is_ok_and(|bc| bc.ca)
        })
}

fn const_oid_basic_constraints() -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.19")
}

/// The certificate a request names: by ID or by serial, and the request field that named it.
struct Target {
    field: &'static str,
    id: Option<i64>,
    serial: Option<String>,
}

fn target(certificate_id: Option<&str>, serial_hex: Option<&str>) -> Result<Target, Refusal> {
    match (certificate_id, serial_hex) {
        (Some(text), None) => {
            let id = text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                Refusal::invalid(
                    "certificate_id",
                    "a Certificate ID is a positive decimal number",
                )
            })?;
            Ok(Target {
                field: "certificate_id",
                id: Some(id),
                serial: None,
            })
        }
        (None, Some(serial)) => {
            let serial = keyward_policy::serial::normalize(serial)
                .map_err(|why| Refusal::invalid("serial_hex", why))?;
            Ok(Target {
                field: "serial_hex",
                id: None,
                serial: Some(serial),
            })
        }
        _ => Err(Refusal::invalid(
            "certificate_id",
            "name the certificate by exactly one of certificate_id and serial_hex",
        )),
    }
}

/// How a refusal names an existing revocation.
fn revoked_text(reason: RevocationReason, revoked_at: i64) -> String {
    if reason == RevocationReason::CertificateHold {
        format!("on hold since {}", rfc3339(revoked_at))
    } else {
        format!("revoked already ({reason}, at {})", rfc3339(revoked_at))
    }
}

impl Revocations {
    /// The certificate `t` names; refusals name the field.
    async fn find(&self, t: &Target) -> Result<StoredCertificate, Refusal> {
        if let Some(serial) = &t.serial {
            if let Some(ca) = self.ca_certificates.iter().find(|(s, _)| s == serial) {
                return Err(Refusal::invalid(
                    t.field,
                    format!("serial {serial} is the certificate of CA {}: CA certificates are not revoked by officers", ca.1),
                ));
            }
        }
        let query = CertificateQuery {
            id: t.id,
            serial_hex: t.serial.clone(),
            ..Default::default()
        };
        let found = self
            .store
            .find_certificates(&query)
            .await
            .map_err(Refusal::internal)?;
        let Some(cert) = found.into_iter().next() else {
            let what = match (t.id, &t.serial) {
                (Some(id), _) => format!("no certificate with Certificate ID {id}"),
                (_, Some(serial)) => format!("no certificate with serial {serial}"),
                _ => "no certificate".into(),
            };
            return Err(Refusal::not_found(t.field, what));
        };
        if is_ca(&cert.der) {
            return Err(Refusal::invalid(
                t.field,
                format!("Certificate ID {} is a CA certificate: CA certificates are not revoked by officers", cert.id),
            ));
        }
        Ok(cert)
    }

    /// Revokes a certificate (or puts it on hold) as an idempotent request: a resend of the
    /// same signed bytes gets the recorded answer. Refusals are audited.
    pub async fn revoke_request(
        &self,
        officer: &Officer,
        req: RevokeRequest,
        key: &RequestKey,
    ) -> Result<Answer<RevocationInfo>, Refusal> {
        let action = "revoke-certificate";
        let detail = json!({
            "request_id": shorten(&req.request_id),
            "certificate_id": req.certificate_id.as_deref().map(shorten),
            "serial": req.serial_hex.as_deref().map(shorten),
            "reason": req.reason.name(),
        });
        self.require_revoke_certificate(officer, action).await?;
        let attempt = self.try_revoke(officer, &req, key);
        self.finish(officer, action, detail, key, attempt).await
    }

    async fn try_revoke(
        &self,
        officer: &Officer,
        req: &RevokeRequest,
        key: &RequestKey,
    ) -> Result<RevocationInfo, Refusal> {
        check_request_id(&req.request_id)?;
        let t = target(req.certificate_id.as_deref(), req.serial_hex.as_deref())?;
        if !req.reason.officer_may_give() {
            let known: Vec<&str> = RevocationReason::FOR_OFFICERS
                .iter()
                .map(|r| r.name())
                .collect();
            return Err(Refusal::invalid(
                "reason",
                format!("{} is not a reason an officer gives (a released hold becomes removeFromCRL by unhold); give one of {}", req.reason, known.join(", ")),
            ));
        }
        if let Some(date) = req.invalidity_date {
            if date > unix_now() {
                return Err(Refusal::invalid(
                    "invalidity_date",
                    format!("{} is in the future", rfc3339(date)),
                ));
            }
            if date < 0 {
                return Err(Refusal::invalid("invalidity_date", "before 1970"));
            }
        }
        let cert = self.find(&t).await?;
        let audit = NewAudit {
            category: AuditCategory::CertificatesRevoked,
            action: "revoke-certificate".into(),
            officer: Some(officer.name.clone()),
            outcome: Outcome::Success,
            object: None,
            detail: json!({ "request_id": req.request_id }),
        };
        let rev = NewRevocation {
            certificate_id: cert.id,
            reason: req.reason,
            invalidity_date: req.invalidity_date,
            audit: &audit,
        };
        self.store
            .revoke(&rev, Some((key, respond)))
            .await
            .map(|c| info(&c))
            .map_err(|e| store_refusal(e, t.field, &req.request_id, &officer.name))
    }

    /// Releases a hold as an idempotent request; refusals are audited.
    pub async fn unhold_request(
        &self,
        officer: &Officer,
        req: UnholdRequest,
        key: &RequestKey,
    ) -> Result<Answer<RevocationInfo>, Refusal> {
        let action = "unhold-certificate";
        let detail = json!({
            "request_id": shorten(&req.request_id),
            "certificate_id": req.certificate_id.as_deref().map(shorten),
            "serial": req.serial_hex.as_deref().map(shorten),
        });
        self.require_revoke_certificate(officer, action).await?;
        let attempt = self.try_unhold(officer, &req, key);
        self.finish(officer, action, detail, key, attempt).await
    }

    async fn try_unhold(
        &self,
        officer: &Officer,
        req: &UnholdRequest,
        key: &RequestKey,
    ) -> Result<RevocationInfo, Refusal> {
        check_request_id(&req.request_id)?;
        let t = target(req.certificate_id.as_deref(), req.serial_hex.as_deref())?;
        let cert = self.find(&t).await?;
        let audit = NewAudit {
            category: AuditCategory::CertificatesRevoked,
            action: "unhold-certificate".into(),
            officer: Some(officer.name.clone()),
            outcome: Outcome::Success,
            object: None,
            detail: json!({ "request_id": req.request_id }),
        };
        let unhold = Unhold {
            certificate_id: cert.id,
            audit: &audit,
        };
        self.store
            .unhold(&unhold, Some((key, respond)))
            .await
            .map(|c| info(&c))
            .map_err(|e| store_refusal(e, t.field, &req.request_id, &officer.name))
    }

    /// Refuses (and audits) an officer without `revoke-certificate`.
    async fn require_revoke_certificate(
        &self,
        officer: &Officer,
        action: &str,
    ) -> Result<(), Refusal> {
        require_role(
            &self.store,
            officer,
            Role::RevokeCertificate,
            AuditCategory::CertificatesRevoked,
            action,
        )
        .await
    }

    /// Runs `attempt` idempotently and audits a refusal (internal failures are logged, not
    /// audited, as elsewhere).
    async fn finish(
        &self,
        officer: &Officer,
        action: &str,
        detail: serde_json::Value,
        key: &RequestKey,
        attempt: impl std::future::Future<Output = Result<RevocationInfo, Refusal>>,
    ) -> Result<Answer<RevocationInfo>, Refusal> {
        let result = idempotent(
            &self.store,
            Some(key),
            |_| AuditCategory::CertificatesRevoked,
            attempt,
        )
        .await;
        match result {
            Err(refusal) if refusal.kind != RefusalKind::Internal => {
                audit_refusal(
                    &self.store,
                    AuditCategory::CertificatesRevoked,
                    action,
                    Some(&officer.name),
                    &refusal,
                    detail,
                )
                .await;
                Err(refusal)
            }
            other => other,
        }
    }
}

/// The recorded answer of a revocation or an unhold: the JSON the API sends.
fn respond(cert: &StoredCertificate) -> Answered {
    Ok(RequestAnswer {
        response: serde_json::to_string(&info(cert)).map_err(|e| e.to_string())?,
        certificate_ids: vec![cert.id.to_string()],
    })
}

/// A refusal for what the revocation transaction refused; `field` named the certificate.
fn store_refusal(e: StoreError, field: &str, request_id: &str, officer: &str) -> Refusal {
    if let Some(refusal) = request_id_taken(&e, request_id, officer) {
        return refusal;
    }
    match e {
        StoreError::AlreadyRevoked {
            certificate_id,
            reason,
            revoked_at,
        } => Refusal::conflict(
            field,
            format!(
                "Certificate ID {certificate_id} is {}",
                revoked_text(reason, revoked_at)
            ),
        ),
        StoreError::NotOnHold {
            certificate_id,
            revocation,
        } => {
            let now = match revocation.filter(|r| r.in_force()) {
                Some(r) => revoked_text(r.reason, r.revoked_at),
                None => "not revoked".into(),
            };
            Refusal::conflict(
                field,
                format!("Certificate ID {certificate_id} is not on hold: it is {now}"),
            )
        }
        StoreError::UnknownCertificate(id) => {
            Refusal::not_found(field, format!("no certificate with Certificate ID {id}"))
        }
        other => Refusal::internal(other),
    }
}

/// The serial (lowercase hex, no leading zeros) and subject of a CA certificate, for the
/// refusal of its revocation.
pub(super) fn ca_entry(cert: &openssl::x509::X509Ref) -> Option<(String, String)> {
    let serial = cert
        .serial_number()
        .to_bn()
        .ok()?
        .to_hex_str()
        .ok()?
        .to_lowercase();
    Some((
        serial.trim_start_matches('0').to_string(),
        super::name_to_string(cert.subject_name()),
    ))
}
