//! Officers on the CM host: the officer certificate (certificate procedure `officer`), its
//! record and the officer's registration (each audited), virtual officers (a PKCS#12 and its
//! Signature PIN file), and a client.conf per officer.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use openssl::pkey::PKey;
use openssl::x509::X509;
use serde::Serialize;
use serde_json::json;

use keyward_ca::{CertificateAuthority, IssueRequest};
use keyward_crypto::files::write_secret;
use keyward_policy::keyspec::Curve;
use keyward_policy::roles::{format_roles, parse_roles, Role};
use keyward_policy::{
    CertificateProcedure, DistinguishedName, KeySpec, ProcedureSet, OFFICER_TLS_EKU,
};
use keyward_proto::KeyOrigin;
use keyward_server::service::{certificate_record, RecordContext};
use keyward_store::{AuditCategory, NewAudit, NewOfficer, Outcome, Store};

use crate::error::{context, input_error, AdminError};

/// A virtual officer just enrolled.
#[derive(Debug, Serialize)]
pub struct Enrolled {
    /// Officer name.
    pub name: String,
    /// Roles.
    pub roles: String,
    /// Its PKCS#12.
    pub p12: PathBuf,
    /// Its Signature PIN file.
    pub pin_file: PathBuf,
    /// Certificate ID of the officer certificate.
    pub certificate_id: String,
}

/// Has the CA certify `key` (a key pair, or only its public half) for a subject the server
/// itself needs (TLS, officers).
pub fn issue<T: openssl::pkey::HasPublic>(
    ca: &CertificateAuthority,
    key: &openssl::pkey::PKeyRef<T>,
    dn: &DistinguishedName,
    procedure: &CertificateProcedure,
    dns_names: &[String],
    ip_addresses: &[IpAddr],
) -> Result<X509, AdminError> {
    let public = PKey::public_key_from_der(&key.public_key_to_der()?)?;
    Ok(ca.issue(&IssueRequest {
        public_key: &public,
        subject: dn,
        email: None,
        procedure,
        serial: keyward_crypto::random_serial()?,
        not_before: keyward_server::service::unix_now(),
        dns_names,
        ip_addresses,
        qc_statements: &procedure.qc_statements,
    })?)
}

fn check_name(name: &str) -> Result<(), AdminError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(input_error(
            "NAME: use 1-64 letters, digits, '.', '_' or '-' (not starting with '.')",
        ))
    }
}

/// The validated subject (`CN=NAME,O=Keyward`) and the certificate procedure for a new
/// officer NAME: procedure `officer` with clientAuth and the officers' TLS marker
/// [`OFFICER_TLS_EKU`] added, the only certificates the API accepts at the handshake (procedures
/// cannot list the marker: keyward-policy refuses it). Refused if NAME is malformed or taken.
pub async fn officer_subject(
    store: &Store,
    procedures: &ProcedureSet,
    name: &str,
) -> Result<(DistinguishedName, CertificateProcedure), AdminError> {
    check_name(name)?;
    if store.officer_by_name(name).await?.is_some() {
        return Err(input_error(format!("NAME: an officer named {name} exists")));
    }
    let procedure = procedures
        .certificate
        .iter()
        .find(|c| c.name == "officer")
        .ok_or_else(|| {
            AdminError::Other("there is no certificate procedure named officer".into())
        })?;
    let dn = DistinguishedName::parse(&format!("CN={name},O=Keyward"))?;
    dn.validate(procedure, None)?;
    Ok((dn, officer_procedure(procedure)))
}

/// `procedure` with the extended key usages every officer TLS certificate needs: clientAuth
/// (rustls's client verifier asks for it) and the officers' marker.
pub fn officer_procedure(procedure: &CertificateProcedure) -> CertificateProcedure {
    let mut officer = procedure.clone();
    for usage in ["clientAuth", OFFICER_TLS_EKU] {
        if !officer.extended_key_usage.iter().any(|u| u == usage) {
            officer.extended_key_usage.push(usage.to_string());
        }
    }
    officer
}

/// An officer about to be registered: its new certificate, subject, name, roles, and where its
/// key lives (`pkcs12` or `pkcs11`).
pub struct Registration<'a> {
    /// The officer certificate just issued.
    pub cert: &'a X509,
    /// Its subject.
    pub dn: &'a DistinguishedName,
    /// Officer name.
    pub name: &'a str,
    /// Roles.
    pub roles: &'a BTreeSet<Role>,
    /// `pkcs12` (virtual officer) or `pkcs11` (smart card).
    pub credential: &'a str,
}

/// Records an officer certificate and registers the officer with its roles (each change audited
/// in its own transaction, as `officer create` always did). Returns the Certificate ID.
pub async fn register_officer(
    ca: &CertificateAuthority,
    store: &Store,
    officer: &Registration<'_>,
    actor: &str,
) -> Result<String, AdminError> {
    let Registration {
        cert,
        dn,
        name,
        roles,
        credential,
    } = *officer;
    let der = cert.to_der()?;
    let roles_text = format_roles(roles);
    let audit = |action: &str, detail: serde_json::Value| NewAudit {
        category: AuditCategory::Administration,
        action: action.into(),
        officer: Some(actor.to_string()),
        outcome: Outcome::Success,
        object: Some(name.to_string()),
        detail,
    };
    let subject = dn.to_string();
    let record = certificate_record(
        ca.certificate(),
        cert,
        &RecordContext {
            subject: &subject,
            certificate_procedure: "officer",
            token_procedure: "officer",
            key_origin: KeyOrigin::Server,
            key_usage: "(none)",
            officer: actor,
            email: None,
        },
    )?;
    let stored = store
        .record_issuance(
            &[record],
            &NewAudit {
                category: AuditCategory::CertificatesIssued,
                ..audit("issue-officer-certificate", json!({ "subject": subject }))
            },
        )
        .await?;
    store
        .add_officer(
            &NewOfficer {
                name: name.to_string(),
                cert_fingerprint: keyward_crypto::sha256_hex(&der),
                cert_der: der,
                roles: roles.clone(),
            },
            &audit(
                "create-officer",
                json!({ "name": name, "roles": roles_text, "credential": credential }),
            ),
        )
        .await?;
    Ok(stored.first().map(|c| c.id.to_string()).unwrap_or_default())
}

/// A virtual officer to enroll.
pub struct VirtualOfficer<'a> {
    /// Officer name.
    pub name: &'a str,
    /// Roles.
    pub roles: &'a BTreeSet<Role>,
    /// Who enrolls it (the audit records' officer).
    pub actor: &'a str,
}

/// Issues an officer certificate (P-256: rustls accepts it for TLS client authentication),
/// writes `DIR/officer/NAME.p12` and `NAME.pin` (0600), and registers the officer.
pub async fn enroll_virtual(
    dir: &Path,
    ca: &CertificateAuthority,
    store: &Store,
    procedures: &ProcedureSet,
    officer: &VirtualOfficer<'_>,
) -> Result<Enrolled, AdminError> {
    let VirtualOfficer { name, roles, actor } = *officer;
    check_name(name)?;
    let p12_path = dir.join(format!("officer/{name}.p12"));
    let pin_path = dir.join(format!("officer/{name}.pin"));
    if p12_path.exists() || pin_path.exists() {
        return Err(input_error(format!("NAME: {} exists", p12_path.display())));
    }
    let (dn, procedure) = officer_subject(store, procedures, name).await?;
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1))?;
    let cert = issue(ca, &key, &dn, &procedure, &[], &[])?;
    let pin = keyward_crypto::generate_pin(16, keyward_policy::pin::PIN_ALPHABET)?;
    let p12 = keyward_crypto::build_p12(
        &key,
        &cert,
        ca.chain(),
        name,
        pin.as_str(),
        &Default::default(),
    )?;
    let registration = Registration {
        cert: &cert,
        dn: &dn,
        name,
        roles,
        credential: "pkcs12",
    };
    let certificate_id = register_officer(ca, store, &registration, actor).await?;
    std::fs::create_dir_all(dir.join("officer"))?;
    write_secret(&p12_path, &p12)?;
    write_secret(&pin_path, format!("{}\n", pin.as_str()).as_bytes())?;
    Ok(Enrolled {
        name: name.to_string(),
        roles: format_roles(roles),
        p12: p12_path,
        pin_file: pin_path,
        certificate_id,
    })
}

/// Writes `DIR/client-NAME.conf`: the installation's client.conf with this officer's
/// credential settings (`credential`, e.g. `officer.p12 = …`) in place of the officer settings
/// it names, for an officer working on the CM host. Skipped (None) without a client.conf or if
/// the file exists.
pub fn client_conf_for(
    dir: &Path,
    name: &str,
    credential: &[String],
) -> Result<Option<PathBuf>, AdminError> {
    let Ok(body) = std::fs::read_to_string(dir.join("client.conf")) else {
        return Ok(None);
    };
    let path = dir.join(format!("client-{name}.conf"));
    if path.exists() {
        return Ok(None);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut placed = false;
    for line in body.lines() {
        let is_officer = line.split_once('=').is_some_and(|(key, _)| {
            let key = key.trim();
            key == "officer.p12" || key.starts_with("officer.pkcs11-")
        });
        if !is_officer {
            lines.push(line.to_string());
        } else if !placed {
            lines.extend(credential.iter().cloned());
            placed = true;
        }
    }
    if !placed {
        lines.extend(credential.iter().cloned());
    }
    keyward_crypto::files::write_public(&path, (lines.join("\n") + "\n").as_bytes())
        .map_err(context(|| format!("writing {}", path.display())))?;
    Ok(Some(path))
}

/// The `--roles` of a new officer: at least one.
pub fn officer_roles(text: &str) -> Result<BTreeSet<Role>, AdminError> {
    let roles = parse_roles(text).map_err(|e| input_error(format!("--roles: {e}")))?;
    if roles.is_empty() {
        return Err(input_error("--roles: give at least one role"));
    }
    Ok(roles)
}

/// Revokes officer `name` (audited, by `actor`): the server refuses it from then on.
pub async fn revoke(store: &Store, name: &str, actor: &str) -> Result<(), AdminError> {
    let audit = NewAudit {
        category: AuditCategory::Administration,
        action: "revoke-officer".into(),
        officer: Some(actor.into()),
        outcome: Outcome::Success,
        object: Some(name.to_string()),
        detail: json!({ "name": name }),
    };
    if !store.revoke_officer(name, &audit).await? {
        return Err(input_error(format!("NAME: no active officer named {name}")));
    }
    Ok(())
}
