//! Adopting a renewal of the delegated OCSP signing certificate that another node recorded.
//!
//! Every CA node and every standalone responder of one database signs with the same OCSP key
//! (cm.conf and the key copied), but only one of them issues each renewal (see
//! [`super::Renewer`]); the others find it in the database and put it in use, without a
//! restart and without issuing one of their own.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::x509::X509;

use super::load::{check_responder_certificate, responder};
use super::renew::{CHECK_INTERVAL, PROCEDURE};
use super::{refuse, OcspService};
use crate::config::ServerConfig;
use crate::error::ServerError;

/// How many unexpired OCSP signing certificates of the CA are looked through, newest first: a
/// renewal every few days and a validity of a week leave a handful.
pub const LOOK_THROUGH: u32 = 16;

/// The certificate `service` should sign with instead of the one in use, if the database holds
/// one: an `ocsp-signing` certificate of the issuing CA, unexpired at `now`, not revoked (nor
/// on hold), for the same public key as the one in use (the key this node has), issued by the
/// issuing CA for OCSP signing (checked as at start-up), and with a later notAfter. The newest
/// such certificate; `None` when the one in use is the newest.
///
/// notBefore is not compared with `now`: a renewal is valid from its issuance, and a node whose
/// clock is a second behind the issuing node's must adopt it rather than issue another.
pub async fn newer_certificate(
    service: &OcspService,
    config: &ServerConfig,
    now: SystemTime,
) -> Result<Option<X509>, ServerError> {
    let current = service.certificate();
    let key = current
        .public_key()
        .map_err(|e| refuse(config, "ocsp.certificate", e))?;
    let source = service.source();
    let candidates = source
        .store()
        .unexpired_certificates(PROCEDURE, source.issuer(), unix(now), LOOK_THROUGH)
        .await?;
    for stored in candidates {
        if stored.revocation.as_ref().is_some_and(|r| r.in_force()) {
            continue;
        }
        // Rows are the CA nodes' records; one that does not parse or fit is skipped (and
        // named), never a reason to stop answering with the certificate in use.
        let Ok(cert) = X509::from_der(&stored.der) else {
            tracing::warn!("OCSP signing certificate {}: not DER", stored.id);
            continue;
        };
        let same_key = cert.public_key().is_ok_and(|k| k.public_eq(&key));
        if !same_key || cert.not_after() <= current.not_after() {
            continue;
        }
        if let Err(e) = check_responder_certificate(config, &cert, service.issuing()) {
            tracing::warn!("OCSP signing certificate {} not adopted: {e}", stored.id);
            continue;
        }
        return Ok(Some(cert));
    }
    Ok(None)
}

/// Puts the certificate [`newer_certificate`] finds in use in `service`, in memory only;
/// returns it. The responder is rebuilt with cm.conf's OCSP key (file or token), which must be
/// the certificate's.
pub async fn adopt(
    service: &OcspService,
    config: &ServerConfig,
    now: SystemTime,
) -> Result<Option<X509>, ServerError> {
    let Some(cert) = newer_certificate(service, config, now).await? else {
        return Ok(None);
    };
    let ocsp = config
        .ocsp
        .as_ref()
        .ok_or_else(|| refuse(config, "ocsp.certificate", "is not set"))?;
    let signer = responder(config, ocsp, &cert)?;
    service.swap_responder(signer, cert.clone());
    Ok(Some(cert))
}

/// The standalone responder's loop (`keyward ocsp`): every [`CHECK_INTERVAL`], adopts a
/// renewal recorded by a CA node, until aborted; a failure is logged and retried.
///
/// It changes nothing but memory. It must not write the database (a responder has read access
/// only, so that it can run apart from the CA host), and it does not write `ocsp.certificate`
/// either: that file is the CA host's (a responder's may be a read-only copy or mount, shared by
/// several responders), and at every start the responder adopts from the database again, so a
/// file left behind costs nothing.
pub async fn keep_adopting(service: Arc<OcspService>, config: ServerConfig) {
    let mut tick = tokio::time::interval(CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match adopt(&service, &config, SystemTime::now()).await {
            Ok(Some(cert)) => tracing::info!(
                "OCSP signing certificate {} adopted from the database",
                serial_hex(&cert)
            ),
            Ok(None) => {}
            Err(e) => tracing::error!("OCSP signing certificate adoption failed: {e}"),
        }
    }
}

/// `cert`'s serial number in lowercase hex, for logs.
pub fn serial_hex(cert: &X509) -> String {
    cert.serial_number()
        .to_bn()
        .and_then(|bn| bn.to_hex_str().map(|s| s.to_lowercase()))
        .unwrap_or_else(|_| "?".into())
}

fn unix(t: SystemTime) -> i64 {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    i64::try_from(secs).unwrap_or(i64::MAX)
}
