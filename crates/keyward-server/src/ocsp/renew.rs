//! The delegated OCSP signing certificate: issued (by `keyward init`) and renewed (by the CA
//! host, when less than a third of its validity is left) through the one issuance path,
//! [`CertificateAuthority::issue`] with the `ocsp-signing` certificate procedure; recorded and
//! audited in one transaction like every certificate. Renewal keeps the key.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use serde_json::json;

use keyward_ca::{CertificateAuthority, IssueRequest};
use keyward_policy::{CertificateProcedure, DistinguishedName};
use keyward_proto::KeyOrigin;
use keyward_store::{AuditCategory, NewAudit, Outcome, Store};

use super::load::responder;
use super::OcspService;
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::service::{certificate_record, name_to_string, unix_now, RecordContext};

/// The certificate procedure of OCSP signing certificates.
pub const PROCEDURE: &str = "ocsp-signing";
/// How often the CA host looks at the certificate's remaining validity.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// The actor named in the audit records of renewals.
const ACTOR: &str = "keyward-server";

/// Issues an OCSP signing certificate for `public` named `subject` from `ca` with
/// `procedure` (`ocsp-signing`: OCSPSigning, id-pkix-ocsp-nocheck, short validity).
pub fn issue(
    ca: &CertificateAuthority,
    public: &PKey<Public>,
    subject: &DistinguishedName,
    procedure: &CertificateProcedure,
) -> Result<X509, String> {
    let serial = keyward_crypto::random_serial().map_err(|e| e.to_string())?;
    ca.issue(&IssueRequest {
        public_key: public,
        subject,
        email: None,
        procedure,
        serial,
        not_before: unix_now(),
        dns_names: &[],
        ip_addresses: &[],
        qc_statements: &procedure.qc_statements,
    })
    .map_err(|e| e.to_string())
}

/// Records `cert` (issued by `ca_cert`) with the audit record `action` by `actor`, in one
/// transaction.
pub async fn record(
    store: &Store,
    ca_cert: &X509,
    cert: &X509,
    actor: &str,
    action: &str,
) -> Result<(), String> {
    let subject = name_to_string(cert.subject_name());
    let row = certificate_record(
        ca_cert,
        cert,
        &RecordContext {
            subject: &subject,
            certificate_procedure: PROCEDURE,
            token_procedure: "-",
            key_origin: KeyOrigin::Server,
            key_usage: "digitalSignature",
            officer: actor,
            email: None,
        },
    )
    .map_err(|e| e.to_string())?;
    let serial = row.serial_hex.clone();
    let audit = NewAudit {
        category: AuditCategory::CertificatesIssued,
        action: action.into(),
        officer: Some(actor.into()),
        outcome: Outcome::Success,
        object: None,
        detail: json!({ "subject": subject, "serial": serial, "procedure": PROCEDURE }),
    };
    store
        .record_issuance(&[row], &audit)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Whether a certificate valid from `not_before` to `not_after` is due for renewal at `now`:
/// less than a third of its validity left.
pub fn due(not_before: SystemTime, not_after: SystemTime, now: SystemTime) -> bool {
    let total = not_after.duration_since(not_before).unwrap_or_default();
    let left = not_after.duration_since(now).unwrap_or_default();
    left < total / 3
}

/// Renews the responder's certificate on the CA host.
pub struct Renewer {
    service: Arc<OcspService>,
    ca: Arc<CertificateAuthority>,
    store: Store,
    config: ServerConfig,
}

impl Renewer {
    /// A renewer of `service`'s certificate (cm.conf `ocsp.certificate`) by `ca`, recording in
    /// `store`.
    pub fn new(
        service: Arc<OcspService>,
        ca: Arc<CertificateAuthority>,
        store: Store,
        config: ServerConfig,
    ) -> Renewer {
        Renewer {
            service,
            ca,
            store,
            config,
        }
    }

    fn path(&self) -> Result<PathBuf, ServerError> {
        self.config
            .ocsp
            .as_ref()
            .map(|o| o.certificate.clone())
            .ok_or_else(|| super::refuse(&self.config, "ocsp.certificate", "is not set"))
    }

    /// Renews the certificate if it is due at `now`; returns whether it did. The new
    /// certificate is recorded and audited, written over `ocsp.certificate` atomically, and put
    /// in use without a restart.
    pub async fn renew_if_due(&self, now: SystemTime) -> Result<bool, ServerError> {
        let current = self.service.certificate();
        let (from, to) = (
            asn1_time(current.not_before()),
            asn1_time(current.not_after()),
        );
        if !due(from, to, now) {
            return Ok(false);
        }
        let fail = |reason: String| super::refuse(&self.config, "ocsp.certificate", reason);
        let procedures = self.store.procedures().await?;
        let procedure = procedures
            .certificate
            .iter()
            .find(|c| c.name == PROCEDURE)
            .ok_or_else(|| {
                fail(format!(
                    "renewal: no certificate procedure {PROCEDURE} in the procedures in force"
                ))
            })?;
        let public = current
            .public_key()
            .map_err(|e| fail(format!("renewal: {e}")))?;
        let subject = DistinguishedName::parse(&name_to_string(current.subject_name()))
            .map_err(|e| fail(format!("renewal: subject: {e}")))?;
        let cert = issue(&self.ca, &public, &subject, procedure)
            .map_err(|e| fail(format!("renewal: {e}")))?;
        record(
            &self.store,
            self.ca.certificate(),
            &cert,
            ACTOR,
            "renew-ocsp-certificate",
        )
        .await
        .map_err(|e| fail(format!("renewal: {e}")))?;
        let pem = cert.to_pem().map_err(|e| fail(format!("renewal: {e}")))?;
        let path = self.path()?;
        keyward_crypto::files::write_secret(&path, &pem).map_err(|e| ServerError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let ocsp = self
            .config
            .ocsp
            .as_ref()
            .ok_or_else(|| fail("is not set".into()))?;
        let responder = responder(&self.config, ocsp, &cert)?;
        self.service.swap_responder(responder, cert);
        tracing::info!("OCSP signing certificate renewed ({})", path.display());
        Ok(true)
    }

    /// Checks every [`CHECK_INTERVAL`] until aborted; a failure is logged and retried.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(CHECK_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(e) = self.renew_if_due(SystemTime::now()).await {
                tracing::error!("OCSP signing certificate renewal failed: {e}");
            }
        }
    }
}

fn asn1_time(t: &openssl::asn1::Asn1TimeRef) -> SystemTime {
    let secs = openssl::asn1::Asn1Time::from_unix(0)
        .ok()
        .and_then(|epoch| epoch.diff(t).ok())
        .map_or(0, |d| i64::from(d.days) * 86_400 + i64::from(d.secs));
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_with_less_than_a_third_left() {
        let day = Duration::from_secs(86_400);
        let from = UNIX_EPOCH + day * 1000;
        let to = from + day * 6;
        assert!(!due(from, to, from));
        assert!(!due(from, to, from + day * 4 - Duration::from_secs(1)));
        assert!(due(from, to, from + day * 4 + Duration::from_secs(1)));
        assert!(due(from, to, to + day));
    }
}
