//! The delegated OCSP signing certificate: issued (by `keyward init`) and renewed (by the CA
//! host, when less than a third of its validity is left) through the one issuance path,
//! [`CertificateAuthority::issue`] with the `ocsp-signing` certificate procedure; recorded and
//! audited in one transaction like every certificate. Renewal keeps the key. Of several CA nodes
//! sharing a database, the one holding the [`LEASE`] renews; the others adopt its renewal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::x509::X509;

use keyward_ca::CertificateAuthority;
use keyward_policy::DistinguishedName;
use keyward_store::Store;

use super::load::responder;
use super::{adopt, OcspService};
use crate::config::ServerConfig;
use crate::crl::schedule::random_holder;
use crate::error::ServerError;
use crate::service::name_to_string;

pub use super::issue::{issue, record};

/// The certificate procedure of OCSP signing certificates.
pub const PROCEDURE: &str = "ocsp-signing";
/// How often the CA host looks at the certificate's remaining validity.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// The actor named in the audit records of renewals.
const ACTOR: &str = "keyward-server";

/// Whether a certificate valid from `not_before` to `not_after` is due for renewal at `now`:
/// less than a third of its validity left.
pub fn due(not_before: SystemTime, not_after: SystemTime, now: SystemTime) -> bool {
    let total = not_after.duration_since(not_before).unwrap_or_default();
    let left = not_after.duration_since(now).unwrap_or_default();
    left < total / 3
}

/// What one check of [`Renewer::renew_if_due`] did.
#[derive(Debug, Clone)]
pub enum Renewal {
    /// Nothing: the certificate in use is not due, and the database holds no newer one.
    Nothing,
    /// Due, but another node holds the [`LEASE`]: it is renewing, and its renewal is adopted
    /// at a next check.
    Deferred,
    /// A newer certificate another node recorded was put in use (and is not due).
    Adopted(X509),
    /// This node issued, recorded and put in use this renewal.
    Renewed(X509),
}

/// The lease the CA nodes of one database take to renew: one renewal among them.
pub const LEASE: &str = "ocsp-renewal";
/// How long the lease lasts: far longer than an issuance takes, short enough that a node that
/// died holding it is replaced at one of the next checks.
pub const LEASE_TTL: Duration = Duration::from_secs(120);

/// Renews the responder's certificate on the CA host, once among the CA nodes sharing the
/// database: a node adopts a renewal another recorded, and issues only under the [`LEASE`].
pub struct Renewer {
    service: Arc<OcspService>,
    ca: Arc<CertificateAuthority>,
    store: Store,
    config: ServerConfig,
    /// This node's name as the lease's holder ([`random_holder`]).
    holder: String,
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
            holder: random_holder(),
        }
    }

    fn path(&self) -> Result<PathBuf, ServerError> {
        self.config
            .ocsp
            .as_ref()
            .map(|o| o.certificate.clone())
            .ok_or_else(|| super::refuse(&self.config, "ocsp.certificate", "is not set"))
    }

    /// One check at `now`. First adopts a newer certificate another node recorded (see
    /// [`adopt::newer_certificate`]); then, if the one in use is due, takes the [`LEASE`],
    /// looks again under it (the holder before may just have renewed), and only then renews:
    /// the new certificate is recorded and audited (`renew-ocsp-certificate`) in one
    /// transaction. What is put in use is written over `ocsp.certificate` atomically and used
    /// without a restart. The lease is released after the renewal, failed or not.
    pub async fn renew_if_due(&self, now: SystemTime) -> Result<Renewal, ServerError> {
        let adopted = self.adopt(now).await?;
        if !self.is_due(now) {
            return Ok(adopted.map_or(Renewal::Nothing, Renewal::Adopted));
        }
        if !self.store.try_lease(LEASE, &self.holder, LEASE_TTL).await? {
            return Ok(adopted.map_or(Renewal::Deferred, Renewal::Adopted));
        }
        let renewal = self.renew_under_lease(now).await;
        if let Err(e) = self.store.release_lease(LEASE, &self.holder).await {
            // It expires by itself: another node renews after LEASE_TTL at the latest.
            tracing::warn!("OCSP signing certificate: releasing the {LEASE} lease: {e}");
        }
        match renewal? {
            Some(cert) => Ok(Renewal::Renewed(cert)),
            None => Ok(Renewal::Adopted(self.service.certificate())),
        }
    }

    fn is_due(&self, now: SystemTime) -> bool {
        let current = self.service.certificate();
        due(
            asn1_time(current.not_before()),
            asn1_time(current.not_after()),
            now,
        )
    }

    /// Under the lease: adopts what a node recorded meanwhile (`None`), else renews.
    async fn renew_under_lease(&self, now: SystemTime) -> Result<Option<X509>, ServerError> {
        if self.adopt(now).await?.is_some() {
            return Ok(None);
        }
        let fail = |reason: String| super::refuse(&self.config, "ocsp.certificate", reason);
        let current = self.service.certificate();
        // A revoked signer's key (keyCompromise, most likely) must not get a new certificate.
        let serial = current
            .serial_number()
            .to_bn()
            .and_then(|n| n.to_hex_str().map(|h| h.to_string()))
            .map_err(|e| fail(format!("renewal: serial: {e}")))?;
        let status = self
            .store
            .certificate_status(self.service.source().issuer(), &serial)
            .await?;
        if let Some(r) = status.and_then(|s| s.revocation).filter(|r| r.in_force()) {
            return Err(fail(format!(
                "renewal: the certificate in use (serial {serial}) is revoked ({}): its key \
                 is not renewed; issue a new OCSP signing key and certificate",
                r.reason.name()
            )));
        }
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
        self.put_in_use(&cert)?;
        Ok(Some(cert))
    }

    /// Adopts a newer certificate from the database, if there is one: in use, and written over
    /// `ocsp.certificate` (the CA host's file is what its next start reads).
    async fn adopt(&self, now: SystemTime) -> Result<Option<X509>, ServerError> {
        let found = adopt::newer_certificate(&self.service, &self.config, now).await?;
        if let Some(cert) = &found {
            self.put_in_use(cert)?;
        }
        Ok(found)
    }

    /// Writes `cert` over `ocsp.certificate` atomically and signs with it from now on. The
    /// responder is built first, so that a certificate the key does not fit is refused before
    /// the file is touched.
    fn put_in_use(&self, cert: &X509) -> Result<(), ServerError> {
        let fail = |reason: String| super::refuse(&self.config, "ocsp.certificate", reason);
        let ocsp = self
            .config
            .ocsp
            .as_ref()
            .ok_or_else(|| fail("is not set".into()))?;
        let responder = responder(&self.config, ocsp, cert)?;
        let pem = cert.to_pem().map_err(|e| fail(e.to_string()))?;
        let path = self.path()?;
        keyward_crypto::files::write_secret(&path, &pem).map_err(|e| ServerError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        self.service.swap_responder(responder, cert.clone());
        Ok(())
    }

    /// Checks every [`CHECK_INTERVAL`] until aborted, logging what happened; a failure is
    /// logged and retried at the next check.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(CHECK_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.renew_if_due(SystemTime::now()).await {
                Ok(renewal) => self.log(&renewal),
                Err(e) => tracing::error!("OCSP signing certificate renewal failed: {e}"),
            }
        }
    }

    /// Logs what a check did (nothing, when it did nothing).
    pub fn log(&self, renewal: &Renewal) {
        let file = self
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        match renewal {
            Renewal::Nothing => {}
            Renewal::Deferred => tracing::info!(
                "OCSP signing certificate due; another node holds the {LEASE} lease and renews it"
            ),
            Renewal::Adopted(cert) => tracing::info!(
                "OCSP signing certificate {} adopted from the database ({file})",
                adopt::serial_hex(cert)
            ),
            Renewal::Renewed(cert) => tracing::info!(
                "OCSP signing certificate renewed: {} ({file})",
                adopt::serial_hex(cert)
            ),
        }
    }
}

pub(super) fn asn1_time(t: &openssl::asn1::Asn1TimeRef) -> SystemTime {
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
