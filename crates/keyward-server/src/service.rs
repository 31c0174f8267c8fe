//! The issuance service: the RA policy applied on the server, which is the authority.
//!
//! It recomputes the token plan, checks roles, subject and proof of possession, has the CA sign,
//! and stores certificates and their audit record in one transaction. Every refusal of a
//! state-changing request is audited here too.

use std::sync::Arc;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::{X509NameRef, X509};
use serde_json::json;

use keyward_ca::{CertificateAuthority, SoftwareSigner};
use keyward_kra::{Kra, SoftwareArchiveKey};
use keyward_policy::KeySpec;
use keyward_proto::{
    ArchivedKeyInfo, CertificateInfo, IssueRequest, IssueResponse, KeyOrigin, ProcedureList,
    RaConfig,
};
use keyward_store::{
    ArchivedKeyQuery, AuditCategory, CertificateQuery, NewAudit, NewCertificate, Officer, Outcome,
    Store,
};

use crate::config::ServerConfig;
use crate::error::ServerError;

mod issue;
mod produce;
mod recovery;
mod refusal;
pub use refusal::{Refusal, RefusalKind};

/// The server's issuance service. Cheap to share behind an `Arc`.
pub struct Service {
    store: Store,
    ca: Arc<CertificateAuthority>,
    kra: Arc<Kra>,
    ra_key_generation: String,
    server_key_spec: KeySpec,
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
    pub fn new(
        store: Store,
        ca: CertificateAuthority,
        kra: Kra,
        ra_key_generation: String,
    ) -> Service {
        // Keys the server generates for no certificate procedure of its own (shared key usage)
        // get the installation's default spec.
        let server_key_spec = keyward_policy::KeySpecList::parse(&ra_key_generation)
            .map(|l| l.default_spec())
            .unwrap_or(KeySpec::Rsa(2048));
        Service {
            store,
            ca: Arc::new(ca),
            kra: Arc::new(kra),
            ra_key_generation,
            server_key_spec,
        }
    }

    /// Opens the database and loads the issuing CA and the archive key named by cm.conf.
    pub async fn open(config: &ServerConfig) -> Result<Service, ServerError> {
        let ca = load_ca(config)?;
        let kra = load_kra(config)?;
        let store = Store::open(&config.database_url).await?;
        Ok(Service::new(
            store,
            ca,
            kra,
            config.ra_key_generation.clone(),
        ))
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

    /// Issues one token for an authenticated officer; refusals are audited (as a recovery when
    /// the token procedure recovers keys).
    pub async fn issue(
        &self,
        officer: &Officer,
        req: IssueRequest,
    ) -> Result<IssueResponse, Refusal> {
        let mut category = AuditCategory::CertificatesIssued;
        match self.try_issue(officer, &req, &mut category).await {
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
                    category,
                    "issue-token",
                    Some(&officer.name),
                    &refusal,
                    json!({
                        "request_id": shorten(&req.request_id),
                        "token_procedure": shorten(&req.token_procedure),
                        "subject": shorten(&req.subject),
                    }),
                )
                .await;
                Err(refusal)
            }
        }
    }

    /// Searches archived keys (Select Archived Key); needs the `recover-key` role, and a
    /// refusal is audited.
    pub async fn archived_keys(
        &self,
        officer: &Officer,
        query: &ArchivedKeyQuery,
    ) -> Result<Vec<ArchivedKeyInfo>, Refusal> {
        if !officer.roles.contains(&keyward_policy::Role::RecoverKey) {
            let refusal = Refusal::forbidden(format!(
                "officer {} lacks the role recover-key needed to search archived keys",
                officer.name
            ));
            self.audit_refusal(
                AuditCategory::KeysRecovered,
                "search-archived-keys",
                Some(&officer.name),
                &refusal,
                json!({}),
            )
            .await;
            return Err(refusal);
        }
        let found = self
            .store
            .find_archived_keys(query)
            .await
            .map_err(Refusal::internal)?;
        Ok(found
            .into_iter()
            .map(|k| ArchivedKeyInfo {
                certificate_id: k.certificate.id.to_string(),
                serial: k.certificate.serial_hex,
                subject: k.certificate.subject,
                key_usage: k.key_usage,
                key_spec: k.key_spec,
                key_procedure: k.key_procedure,
                archived_at: rfc3339(k.archived_at),
                not_after: rfc3339(k.certificate.not_after),
            })
            .collect())
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
}

/// Reads a file named by cm.conf; an error names the file.
fn read(path: &std::path::Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|e| ServerError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Loads the issuing CA (certificate, chain and decrypted key) named by cm.conf.
pub fn load_ca(config: &ServerConfig) -> Result<CertificateAuthority, ServerError> {
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

/// Loads the archive key named by cm.conf; without one the KRA generates but never archives.
pub fn load_kra(config: &ServerConfig) -> Result<Kra, ServerError> {
    let Some((key_file, pass_file)) = &config.kra_archive_key else {
        return Ok(Kra::new(None));
    };
    let passphrase = zeroize::Zeroizing::new(read(pass_file)?);
    let key = SoftwareArchiveKey::from_file(&read(key_file)?, passphrase.trim_ascii_end())
        .map_err(|e| ServerError::File {
            path: key_file.clone(),
            reason: e.to_string(),
        })?;
    Ok(Kra::new(Some(Box::new(key))))
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
        archived_key: None,
    })
}

pub(crate) fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

/// A certificate's serial as lowercase hex without leading zeros.
pub(crate) fn serial_hex(cert: &X509) -> Result<String, Refusal> {
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

pub(crate) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
