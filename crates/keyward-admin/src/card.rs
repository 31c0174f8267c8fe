//! Smart-card officers (`keyward officer enroll-card`). The key pair is generated on the token
//! (EC P-256, private key sensitive and not extractable), the CA issues the officer certificate
//! exactly as for a virtual officer (certificate procedure `officer`), the certificate and the
//! CA certificates above it are stored on the token, and the officer is registered.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use openssl::pkey::PKey;
use serde::Serialize;

use keyward_ca::CertificateAuthority;
use keyward_pkcs11::{EcCurve, Token};
use keyward_policy::roles::{format_roles, Role};
use keyward_store::Store;

use crate::error::{context, AdminError};
use crate::officer::{client_conf_for, issue, officer_subject, register_officer, Registration};

/// What `enroll-card` was asked to do.
pub struct CardEnrollment<'a> {
    /// Officer name; also the label of the key and certificate on the token.
    pub name: &'a str,
    /// Roles.
    pub roles: &'a BTreeSet<Role>,
    /// The PKCS#11 module.
    pub module: &'a Path,
    /// The token label.
    pub token_label: &'a str,
    /// The token's user PIN (the officer's Signature PIN).
    pub pin: &'a str,
}

/// A smart-card officer just enrolled.
#[derive(Debug, Serialize)]
pub struct CardEnrolled {
    /// Officer name.
    pub name: String,
    /// Roles.
    pub roles: String,
    /// The PKCS#11 module.
    pub module: PathBuf,
    /// The token label.
    pub token: String,
    /// Label of the key and certificate on the token.
    pub key_label: String,
    /// CKA_ID of the key and certificate, hex.
    pub key_id: String,
    /// Certificate ID of the officer certificate.
    pub certificate_id: String,
    /// The client.conf written for this officer, if any.
    pub client_conf: Option<PathBuf>,
}

/// The token label for a CA certificate stored beside an officer key.
fn ca_label(cert: &openssl::x509::X509Ref) -> String {
    let cn = cert
        .subject_name()
        .entries_by_nid(openssl::nid::Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .unwrap_or_else(|| "CA".into());
    format!("CA {cn}")
}

/// Enrolls a smart-card officer (see the module documentation). Nothing is registered when the
/// token part fails; when registration fails, the new key and certificate are removed from
/// the token again.
pub async fn enroll_card(
    dir: &Path,
    ca: &CertificateAuthority,
    store: &Store,
    procedures: &keyward_policy::ProcedureSet,
    req: &CardEnrollment<'_>,
    actor: &str,
) -> Result<CardEnrolled, AdminError> {
    let (dn, procedure) = officer_subject(store, procedures, req.name).await?;
    let token = Token::open(req.module, req.token_label)?;
    token.login(req.pin)?;
    let (key, spki) = token.generate_ec_key(req.name, EcCurve::P256)?;
    let stored = async {
        let public = PKey::public_key_from_der(&spki)
            .map_err(context(|| "the token's public key".to_string()))?;
        let cert = issue(ca, &public, &dn, &procedure, &[], &[])?;
        token.store_certificate(req.name, &key.id, &cert.to_der()?)?;
        for ca_cert in ca.chain() {
            let der = ca_cert.to_der()?;
            let id = &openssl::sha::sha256(&der)[..16];
            token.store_certificate(&ca_label(ca_cert), id, &der)?;
        }
        let registration = Registration {
            cert: &cert,
            dn: &dn,
            name: req.name,
            roles: req.roles,
            credential: "pkcs11",
        };
        register_officer(ca, store, &registration, actor).await
    }
    .await;
    let certificate_id = match stored {
        Ok(id) => id,
        Err(e) => {
            if let Err(cleanup) = token.destroy_by_id(&key.id) {
                tracing::warn!("could not remove the new key from the token: {cleanup}");
            }
            return Err(e);
        }
    };
    let client_conf = client_conf_for(
        dir,
        req.name,
        &[
            format!("officer.pkcs11-module = {}", req.module.display()),
            format!("officer.pkcs11-token = {}", req.token_label),
            format!("officer.pkcs11-key = {}", req.name),
        ],
    )?;
    Ok(CardEnrolled {
        name: req.name.to_string(),
        roles: format_roles(req.roles),
        module: req.module.to_path_buf(),
        token: req.token_label.to_string(),
        key_label: req.name.to_string(),
        key_id: hex::encode(&key.id),
        certificate_id,
        client_conf,
    })
}
