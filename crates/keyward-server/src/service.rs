//! The issuance service: the RA policy applied on the server, which is the authority.
//!
//! It recomputes the token plan, checks roles, subject and proof of possession, has the CA sign,
//! and stores certificates and their audit record in one transaction. Every refusal of a
//! state-changing request is audited here too.

use std::sync::Arc;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::{X509NameRef, X509};
use serde_json::json;

use keyward_ca::{CertificateAuthority, IssueRequest as CaRequest, SoftwareSigner};
use keyward_policy::procedure::ChainRule;
use keyward_policy::{plan_token, DistinguishedName, KeySpec, PlannedAction, ProcedureSet};
use keyward_proto::{
    CertificateInfo, IssueRequest, IssueResponse, IssuedCertificate, KeyOrigin, ProcedureList,
    RaConfig,
};
use keyward_store::{
    AuditCategory, CertificateQuery, NewAudit, NewCertificate, Officer, Outcome, Store,
};

use crate::config::ServerConfig;
use crate::error::ServerError;

mod refusal;
pub use refusal::{Refusal, RefusalKind};

/// The server's issuance service. Cheap to share behind an `Arc`.
pub struct Service {
    store: Store,
    ca: Arc<CertificateAuthority>,
    ra_key_generation: String,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Service {
    /// Builds a service from its parts.
    pub fn new(store: Store, ca: CertificateAuthority, ra_key_generation: String) -> Service {
        Service {
            store,
            ca: Arc::new(ca),
            ra_key_generation,
        }
    }

    /// Opens the database and loads the issuing CA named by cm.conf.
    pub async fn open(config: &ServerConfig) -> Result<Service, ServerError> {
        let ca = load_ca(config)?;
        let store = Store::open(&config.database_url).await?;
        Ok(Service::new(store, ca, config.ra_key_generation.clone()))
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What the RA needs to know from cm.conf.
    pub fn ra_config(&self) -> RaConfig {
        RaConfig {
            ra_key_generation: self.ra_key_generation.clone(),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Token procedures whose name or description contains `filter` (case-insensitive).
    pub async fn procedures(&self, filter: Option<&str>) -> Result<ProcedureList, Refusal> {
        let set = self.store.procedures().await.map_err(Refusal::internal)?;
        let filter = filter.map(str::to_lowercase);
        let mut token_procedures = Vec::new();
        for token in &set.token {
            let text = format!("{} {}", token.name, token.description).to_lowercase();
            if filter.as_ref().is_some_and(|f| !text.contains(f.as_str())) {
                continue;
            }
            match set.resolve(&token.name) {
                Ok(resolved) => token_procedures.push(resolved),
                Err(e) => tracing::warn!("skipping broken token procedure: {e}"),
            }
        }
        Ok(ProcedureList { token_procedures })
    }

    /// Searches issued certificates.
    pub async fn certificates(
        &self,
        query: &CertificateQuery,
    ) -> Result<Vec<CertificateInfo>, Refusal> {
        let found = self
            .store
            .find_certificates(query)
            .await
            .map_err(Refusal::internal)?;
        Ok(found
            .into_iter()
            .map(|c| CertificateInfo {
                certificate_id: c.id.to_string(),
                serial: c.serial_hex,
                subject: c.subject,
                issuer: c.issuer,
                not_before: rfc3339(c.not_before),
                not_after: rfc3339(c.not_after),
                certificate_procedure: c.certificate_procedure,
                token_procedure: c.token_procedure,
                key_origin: c.key_origin,
                key_usage: c.key_usage,
                officer: c.officer,
                issued_at: rfc3339(c.issued_at),
            })
            .collect())
    }

    /// Issues one token for an authenticated officer; refusals are audited.
    pub async fn issue(
        &self,
        officer: &Officer,
        req: IssueRequest,
    ) -> Result<IssueResponse, Refusal> {
        match self.try_issue(officer, &req).await {
            Ok(response) => {
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
                Ok(response)
            }
            Err(refusal) => {
                tracing::warn!(officer = %officer.name, token_procedure = %shorten(&req.token_procedure), "refused: {refusal}");
                self.audit_refusal(
                    AuditCategory::CertificatesIssued,
                    "issue-token",
                    Some(&officer.name),
                    &refusal,
                    json!({
                        "request_id": req.request_id,
                        "token_procedure": req.token_procedure,
                        "subject": req.subject,
                    }),
                )
                .await;
                Err(refusal)
            }
        }
    }

    /// Writes a failure audit record; if even that fails, the refusal still stands and the
    /// failure is logged.
    pub async fn audit_refusal(
        &self,
        category: AuditCategory,
        action: &str,
        officer: Option<&str>,
        refusal: &Refusal,
        mut detail: serde_json::Value,
    ) {
        detail["reason"] = json!(refusal.message);
        if let Some(field) = &refusal.field {
            detail["field"] = json!(field);
        }
        let record = NewAudit {
            category,
            action: action.to_string(),
            officer: officer.map(str::to_string),
            outcome: Outcome::Failure,
            object: None,
            detail,
        };
        if let Err(e) = self.store.append_audit(&record).await {
            tracing::error!("could not write audit record for a refusal: {e}");
        }
    }

    async fn try_issue(
        &self,
        officer: &Officer,
        req: &IssueRequest,
    ) -> Result<IssueResponse, Refusal> {
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
                "officer {} lacks the role {} needed by token procedure {}",
                officer.name,
                missing.join(" and "),
                resolved.token.name
            )));
        }
        let subject = DistinguishedName::parse(&req.subject)
            .map_err(|e| Refusal::invalid(&e.field, e.reason))?;
        let email = req.email.as_deref();

        let mut jobs = Vec::new();
        for action in &plan.actions {
            let PlannedAction::GenerateLocal {
                certificate_procedure,
                key_usage,
                ..
            } = action
            else {
                return Err(Refusal::unsupported(format!(
                    "token procedure {} needs server-side keys (archive, recovery or shared key usage), which this server version does not provide yet",
                    resolved.token.name
                )));
            };
            let procedure = resolved
                .certificates
                .iter()
                .find(|c| &c.name == certificate_procedure)
                .ok_or_else(|| Refusal::internal("plan names an unknown certificate procedure"))?
                .clone();
            subject.validate(&procedure, email).map_err(|e| {
                Refusal::invalid(
                    &e.field,
                    format!("{} (certificate procedure {})", e.reason, procedure.name),
                )
            })?;
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
            jobs.push((procedure, key_usage.to_string(), csr));
        }
        if req.csrs.len() != jobs.len() {
            return Err(Refusal::invalid(
                "csrs",
                format!(
                    "the token plan has {} local key(s) but the request carries {} CSR(s)",
                    jobs.len(),
                    req.csrs.len()
                ),
            ));
        }

        let ca = self.ca.clone();
        let subject_for_ca = subject.clone();
        let email_owned = req.email.clone();
        let signed = tokio::task::spawn_blocking(move || {
            sign_all(
                &ca,
                &jobs,
                &subject_for_ca,
                email_owned.as_deref(),
                key_spec,
            )
        })
        .await
        .map_err(|_| Refusal::internal("signing task failed"))??;

        let mut new_certs = Vec::new();
        let subject_text = subject.to_string();
        for (cert, procedure, key_usage) in &signed {
            let context = RecordContext {
                subject: &subject_text,
                certificate_procedure: procedure,
                token_procedure: &resolved.token.name,
                key_origin: KeyOrigin::Local,
                key_usage,
                officer: &officer.name,
                email: req.email.as_deref(),
            };
            new_certs.push(certificate_record(self.ca.certificate(), cert, &context)?);
        }
        let audit = NewAudit {
            category: AuditCategory::CertificatesIssued,
            action: "issue-token".into(),
            officer: Some(officer.name.clone()),
            outcome: Outcome::Success,
            object: None,
            detail: json!({
                "request_id": req.request_id,
                "token_procedure": resolved.token.name,
                "subject": subject.to_string(),
                "key_spec": key_spec.to_string(),
                "key_management": plan.to_string(),
            }),
        };
        let stored = self
            .store
            .record_issuance(&new_certs, &audit)
            .await
            .map_err(Refusal::internal)?;

        let mut chain = Vec::new();
        for (i, ca_cert) in self.ca.chain().iter().enumerate() {
            if i > 0 && resolved.token.chain == ChainRule::IssuingOnly {
                break;
            }
            chain.push(ca_cert.to_der().map_err(Refusal::internal)?);
        }
        Ok(IssueResponse {
            request_id: req.request_id.clone(),
            certificates: stored
                .into_iter()
                .map(|c| IssuedCertificate {
                    certificate_id: c.id.to_string(),
                    serial: c.serial_hex,
                    subject: c.subject,
                    certificate_procedure: c.certificate_procedure,
                    key_origin: KeyOrigin::Local,
                    certificate: c.der,
                })
                .collect(),
            chain,
        })
    }
}

/// Loads the issuing CA (certificate, chain and decrypted key) named by cm.conf.
pub fn load_ca(config: &ServerConfig) -> Result<CertificateAuthority, ServerError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| ServerError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    let pem_cert = |path: &std::path::Path| {
        X509::from_pem(&read(path)?).map_err(|_| ServerError::File {
            path: path.to_path_buf(),
            reason: "not a PEM certificate".into(),
        })
    };
    let issuing = pem_cert(&config.ca_issuing_certificate)?;
    let root = pem_cert(&config.ca_root)?;
    let passphrase = zeroize::Zeroizing::new(read(&config.ca_key_passphrase_file)?);
    let key =
        keyward_ca::decrypt_key_pem(&read(&config.ca_issuing_key)?, passphrase.trim_ascii_end())
            .map_err(|e| ServerError::File {
                path: config.ca_issuing_key.clone(),
                reason: e.to_string(),
            })?;
    Ok(CertificateAuthority::new(
        issuing.clone(),
        vec![issuing, root],
        Box::new(SoftwareSigner::new(key)),
    ))
}

/// What the store records about a certificate besides the certificate itself.
pub struct RecordContext<'a> {
    /// Subject as the officer typed it.
    pub subject: &'a str,
    /// Certificate procedure.
    pub certificate_procedure: &'a str,
    /// Token procedure (`-` for none).
    pub token_procedure: &'a str,
    /// Where the key came from.
    pub key_origin: KeyOrigin,
    /// Key usage definition, as text.
    pub key_usage: &'a str,
    /// Issuing officer.
    pub officer: &'a str,
    /// E-mail field.
    pub email: Option<&'a str>,
}

/// The store row for a certificate the CA `ca_cert` signed.
pub fn certificate_record(
    ca_cert: &X509,
    cert: &X509,
    ctx: &RecordContext<'_>,
) -> Result<NewCertificate, Refusal> {
    Ok(NewCertificate {
        serial_hex: serial_hex(cert)?,
        subject: ctx.subject.to_string(),
        issuer: name_to_string(ca_cert.subject_name()),
        not_before: asn1_unix(cert.not_before())?,
        not_after: asn1_unix(cert.not_after())?,
        der: cert.to_der().map_err(Refusal::internal)?,
        certificate_procedure: ctx.certificate_procedure.to_string(),
        token_procedure: ctx.token_procedure.to_string(),
        key_origin: ctx.key_origin.name().to_string(),
        key_usage: ctx.key_usage.to_string(),
        officer: ctx.officer.to_string(),
        email: ctx.email.map(str::to_string),
    })
}

type Job = (keyward_policy::CertificateProcedure, String, Vec<u8>);

fn sign_all(
    ca: &CertificateAuthority,
    jobs: &[Job],
    subject: &DistinguishedName,
    email: Option<&str>,
    key_spec: KeySpec,
) -> Result<Vec<(X509, String, String)>, Refusal> {
    let now = unix_now();
    let mut out = Vec::new();
    for (procedure, key_usage, csr) in jobs {
        let public_key = keyward_crypto::verify_csr(csr)
            .map_err(|e| Refusal::invalid("csrs", format!("CSR for {}: {e}", procedure.name)))?;
        let actual = keyward_crypto::key_spec_of(&public_key)
            .map_err(|e| Refusal::invalid("csrs", format!("CSR for {}: {e}", procedure.name)))?;
        if actual != key_spec {
            return Err(Refusal::invalid(
                "key_spec",
                format!(
                    "the CSR for {} holds a {actual} key, the request says {key_spec}",
                    procedure.name
                ),
            ));
        }
        let serial = keyward_crypto::random_serial().map_err(Refusal::internal)?;
        let cert = ca
            .issue(&CaRequest {
                public_key: &public_key,
                subject,
                email,
                procedure,
                serial,
                not_before: now,
                dns_names: &[],
                ip_addresses: &[],
            })
            .map_err(Refusal::internal)?;
        out.push((cert, procedure.name.clone(), key_usage.clone()));
    }
    Ok(out)
}

fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

/// A certificate's serial as lowercase hex without leading zeros.
fn serial_hex(cert: &X509) -> Result<String, Refusal> {
    let bn = cert.serial_number().to_bn().map_err(Refusal::internal)?;
    Ok(bn.to_hex_str().map_err(Refusal::internal)?.to_lowercase())
}

/// Formats a name the way officers type it: most specific attribute first.
pub fn name_to_string(name: &X509NameRef) -> String {
    let mut parts: Vec<String> = name
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={}", value.replace(',', "\\,"))
        })
        .collect();
    parts.reverse();
    parts.join(",")
}

fn asn1_unix(t: &Asn1TimeRef) -> Result<i64, Refusal> {
    let epoch = Asn1Time::from_unix(0).map_err(Refusal::internal)?;
    let diff = epoch.diff(t).map_err(Refusal::internal)?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
