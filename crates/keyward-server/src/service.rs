//! The issuance service: the RA policy applied on the server, which is the authority.
//!
//! It recomputes the token plan, checks roles, subject and proof of possession, has the CA sign,
//! and stores certificates and their audit record in one transaction. Every refusal of a
//! state-changing request is audited here too.

use std::sync::Arc;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::{X509NameRef, X509};
use serde_json::json;

use keyward_ca::CertificateAuthority;
use keyward_kra::Kra;
use keyward_policy::KeySpec;
use keyward_proto::{
    ArchivedKeyInfo, CertificateInfo, IssueRequest, IssueResponse, KeyOrigin, ProcedureList,
    RaConfig,
};
use keyward_store::{
    ArchivedKeyQuery, AuditCategory, CertificateQuery, NewAudit, NewCertificate, Officer, Outcome,
    RequestKey, Store,
};

use crate::config::ServerConfig;
use crate::error::ServerError;

mod answers;
mod approvals;
mod attribute;
mod issue;
mod keys;
mod pin_letters;
mod pin_mail;
mod produce;
mod recovery;
mod refusal;
mod token_pin;
pub use answers::Answer;
pub use keys::{load_ca, load_kra};
pub use pin_letters::Letters;
pub use pin_mail::{pin_mail_text, PinMailer, PIN_MAIL_SUBJECT};
pub use refusal::{Refusal, RefusalKind};

/// The answer to an idempotent issue request ([`Service::issue_request`]): issued now, or a
/// retry of a completed request answered with its recorded answer, whose keys and PINs are
/// sealed to that request's one-time transport key.
pub type Issued = Answer<Box<IssueResponse>>;

/// The server's issuance service. Cheap to share behind an `Arc`.
pub struct Service {
    store: Store,
    ca: Arc<CertificateAuthority>,
    kra: Arc<Kra>,
    ra_key_generation: String,
    server_key_spec: KeySpec,
    pin_mailer: Option<Arc<pin_mail::PinMailer>>,
    /// When this process last cleared old recorded answers (Unix seconds): at most once a
    /// minute, not on every request. Only an optimisation: any node may prune.
    answers_pruned_at: std::sync::atomic::AtomicI64,
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
            pin_mailer: None,
            answers_pruned_at: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// Clears recorded answers older than `keep_secs` (see
    /// [`Store::prune_request_answers`]), at most once a minute per process.
    pub async fn prune_answers_if_due(&self, keep_secs: i64) {
        use std::sync::atomic::Ordering;
        let now = unix_now();
        let last = self.answers_pruned_at.load(Ordering::Relaxed);
        if now - last < 60
            || self
                .answers_pruned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Err(e) = self.store.prune_request_answers(keep_secs).await {
            tracing::warn!("could not clear old recorded answers: {e}");
        }
    }

    /// Opens the database and loads the issuing CA and the archive key named by cm.conf.
    pub async fn open(config: &ServerConfig) -> Result<Service, ServerError> {
        let ca = load_ca(config)?;
        let kra = load_kra(config)?;
        let pin_mailer = load_pin_mailer(config)?;
        let store = Store::open(&config.database_url).await?;
        let service = Service::new(store, ca, kra, config.ra_key_generation.clone());
        Ok(match pin_mailer {
            Some(mailer) => service.with_pin_mailer(mailer),
            None => service,
        })
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The KRA's key pool (cm.conf `kra.key-pool`), if it has one.
    pub fn key_pool(&self) -> Option<Arc<keyward_crypto::KeyPool>> {
        self.kra.key_pool().cloned()
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

    /// The attribute certificates held by Certificate `holder`, oldest first.
    pub async fn attribute_certificates(
        &self,
        holder: i64,
    ) -> Result<Vec<keyward_proto::IssuedAttributeCertificate>, Refusal> {
        let found = self
            .store
            .attribute_certificates_of(holder)
            .await
            .map_err(Refusal::internal)?;
        Ok(found
            .into_iter()
            .map(|ac| keyward_proto::IssuedAttributeCertificate {
                serial: ac.serial_hex,
                procedure: ac.procedure,
                holder_certificate_id: ac.holder_certificate_id.to_string(),
                der: ac.der,
            })
            .collect())
    }

    /// Issues one token for an authenticated officer; refusals are audited (as a recovery when
    /// the token procedure recovers keys). Nothing makes a retry safe: the API uses
    /// [`Service::issue_request`].
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
        let mut category = AuditCategory::CertificatesIssued;
        let attempt = self.try_issue(officer, &req, key, &mut category);
        let result = self
            .idempotent(key, issue_category, async { attempt.await.map(Box::new) })
            .await;
        match result {
            Ok(Answer::New(response)) => {
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
        self.require_role(
            officer,
            keyward_policy::Role::RecoverKey,
            AuditCategory::KeysRecovered,
            "search-archived-keys",
        )
        .await?;
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

    /// Refuses an officer without `role`, naming the action, and audits the refusal under
    /// `category`.
    pub(crate) async fn require_role(
        &self,
        officer: &Officer,
        role: keyward_policy::Role,
        category: AuditCategory,
        action: &str,
    ) -> Result<(), Refusal> {
        if officer.roles.contains(&role) {
            return Ok(());
        }
        let refusal = Refusal::forbidden(format!(
            "officer {} lacks the role {} needed to {}",
            officer.name,
            role.name(),
            action.replace('-', " ")
        ));
        self.audit_refusal(category, action, Some(&officer.name), &refusal, json!({}))
            .await;
        Err(refusal)
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

/// Builds the PIN mailer's SMTP transport from cm.conf's `pin-mailer.*`, if configured.
pub fn load_pin_mailer(config: &ServerConfig) -> Result<Option<PinMailer>, ServerError> {
    let Some(pm) = &config.pin_mailer else {
        return Ok(None);
    };
    let mut smtp = pm.smtp.clone();
    if let Some(file) = &pm.password_file {
        let bytes = zeroize::Zeroizing::new(read(file)?);
        let text = std::str::from_utf8(&bytes).map_err(|_| ServerError::File {
            path: file.clone(),
            reason: "not UTF-8 text".into(),
        })?;
        smtp.password = Some(zeroize::Zeroizing::new(
            text.trim_end_matches(['\r', '\n']).to_string(),
        ));
    }
    let mailer = keyward_mailer::smtp::Mailer::new(&smtp).map_err(|e| ServerError::Config {
        path: config.path.clone(),
        reason: format!("pin-mailer: {e}"),
    })?;
    Ok(Some(PinMailer {
        mailer,
        max_attempts: pm.max_attempts,
    }))
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
        attribute_certificate: None,
    })
}

/// A sealed secret in its wire form.
pub(crate) fn wire(sealed: keyward_crypto::transport::SealedKey) -> keyward_proto::SealedKey {
    keyward_proto::SealedKey {
        ephemeral_key: sealed.ephemeral_key,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
    }
}

/// Seals a secret that is not a key (a PIN, a batch of PIN letters) to a client's transport
/// key, bound to the request and to `what` (see `keyward_crypto::transport::secret_context`).
pub(crate) fn seal_for(
    recipient: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
    secret: &[u8],
    request_id: &str,
    what: &str,
) -> Result<keyward_proto::SealedKey, Refusal> {
    let context = keyward_crypto::transport::secret_context(request_id, what);
    keyward_crypto::transport::seal(recipient, secret, &context)
        .map(wire)
        .map_err(Refusal::internal)
}

/// Longest request ID accepted (clients send 32 hex digits).
const MAX_REQUEST_ID: usize = 64;

/// A request ID: 1 to 64 printable ASCII characters.
pub(crate) fn check_request_id(id: &str) -> Result<(), Refusal> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Refusal::invalid(
            "request_id",
            format!("must be 1 to {MAX_REQUEST_ID} printable ASCII characters"),
        ));
    }
    Ok(())
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

pub(crate) fn asn1_unix(t: &Asn1TimeRef) -> Result<i64, Refusal> {
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
