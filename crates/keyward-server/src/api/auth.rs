//! Officer authentication: the TLS client certificate names the officer; POSTs also carry the
//! officer's signature over the exact request bytes, made with that certificate's key.

use std::sync::{Arc, OnceLock};

use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use serde_json::json;

use keyward_proto::{signed_message, SIGNATURE_HEADER};
use keyward_store::{AuditCategory, Officer};

use super::ApiFailure;
use crate::service::{Gate, Refusal};

/// The certificate the client authenticated the TLS connection with, made once per connection:
/// every request on a kept-alive connection shares its fingerprint and, once a signed request
/// needed it, its parsed public key (OpenSSL's DER decoders cost a quarter of a millisecond, on
/// every request before).
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Option<Arc<Peer>>);

/// The end-entity certificate of one TLS connection.
#[derive(Debug)]
pub struct Peer {
    der: Vec<u8>,
    fingerprint: String,
    key: OnceLock<Option<PKey<Public>>>,
}

impl Peer {
    /// A peer certificate from its DER bytes.
    pub fn new(der: Vec<u8>) -> Peer {
        Peer {
            fingerprint: keyward_crypto::sha256_hex(&der),
            der,
            key: OnceLock::new(),
        }
    }

    /// SHA-256 of the DER certificate, lowercase hex (how officers are registered).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The certificate's public key, parsed on first use; `None` if it does not parse.
    fn key(&self) -> Option<&PKey<Public>> {
        self.key
            .get_or_init(|| X509::from_der(&self.der).and_then(|c| c.public_key()).ok())
            .as_ref()
    }
}

impl PeerCertificate {
    /// Takes the end-entity certificate of a finished handshake.
    pub fn from_connection(conn: &rustls::ServerConnection) -> PeerCertificate {
        PeerCertificate(
            conn.peer_certificates()
                .and_then(|chain| chain.first())
                .map(|cert| Arc::new(Peer::new(cert.to_vec()))),
        )
    }
}

fn unauthenticated(message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(StatusCode::UNAUTHORIZED, "unauthenticated", None, message)
}

/// The registered, unrevoked officer behind the connection; refusals are audited.
pub(super) async fn officer(gate: &Gate, peer: &PeerCertificate) -> Result<Officer, ApiFailure> {
    let Some(cert) = &peer.0 else {
        return Err(unauthenticated("no client certificate"));
    };
    let fingerprint = cert.fingerprint();
    let found = gate.officer(fingerprint).await.map_err(ApiFailure::from)?;
    let reason = match &found {
        None => "the client certificate does not belong to a registered officer",
        Some(o) if o.revoked_at.is_some() => "the officer has been revoked",
        Some(_) => "",
    };
    if !reason.is_empty() {
        let refusal = Refusal::forbidden(reason);
        gate.audit_refusal(
            AuditCategory::Authentication,
            "authenticate",
            found.as_ref().map(|o| o.name.as_str()),
            &refusal,
            json!({ "certificate_sha256": fingerprint }),
        )
        .await;
        return Err(unauthenticated(reason));
    }
    found.ok_or_else(|| unauthenticated("unknown officer"))
}

/// Checks the officer's signature over `path` and `body`; refusals are audited.
pub(super) async fn verify_signature(
    gate: &Gate,
    officer: &Officer,
    peer: &PeerCertificate,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
) -> Result<(), ApiFailure> {
    let verdict = check_signature(peer, headers, path, body);
    if let Err(reason) = verdict {
        let refusal = Refusal::invalid("signature", reason);
        gate.audit_refusal(
            AuditCategory::Authentication,
            "verify-signature",
            Some(&officer.name),
            &refusal,
            json!({ "path": path, "body_bytes": body.len() }),
        )
        .await;
        return Err(ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            "bad-signature",
            Some("signature".into()),
            refusal.message,
        ));
    }
    Ok(())
}

/// Checks the [`SIGNATURE_HEADER`] of a POST to `path` with `body` against the peer
/// certificate's key; the reason when it does not verify. No audit: [`verify_signature`] (the
/// server's path) records refusals; this is its pure part, public for the fuzzer.
pub fn check_signature(
    peer: &PeerCertificate,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
) -> Result<(), String> {
    let cert = peer.0.as_ref().ok_or("no client certificate")?;
    let header = headers
        .get(SIGNATURE_HEADER)
        .ok_or("the request carries no officer signature")?;
    let signature = STANDARD
        .decode(header.as_bytes())
        .map_err(|_| "the officer signature is not base64")?;
    let key = cert.key().ok_or("unreadable officer certificate")?;
    match keyward_crypto::verify_message(key, &signed_message(path, body), &signature) {
        Ok(true) => Ok(()),
        _ => Err("the officer signature does not match the request (tampered or wrong key)".into()),
    }
}
