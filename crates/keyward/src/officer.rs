//! `keyward officer …`: officer administration on the CM host (direct database access, like
//! `init`; every change is audited in the same transaction).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde_json::json;

use keyward_ca::CertificateAuthority;
use keyward_crypto::files::write_secret;
use keyward_policy::keyspec::Curve;
use keyward_policy::roles::{format_roles, parse_roles, Role};
use keyward_policy::{CertificateProcedure, DistinguishedName, KeySpec, ProcedureSet};
use keyward_proto::KeyOrigin;
use keyward_server::service::{certificate_record, load_ca, RecordContext};
use keyward_store::{AuditCategory, NewAudit, NewOfficer, Outcome, Store};
use openssl::x509::X509;

use crate::cli::{OfficerArgs, OfficerCommand};
use crate::output::{input_error, print_json, print_table};

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

fn check_name(name: &str) -> anyhow::Result<()> {
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

/// The validated subject (`CN=NAME,O=Keyward`) and the certificate procedure `officer` for a
/// new officer NAME; refused if NAME is malformed or taken.
pub(crate) async fn officer_subject<'p>(
    store: &Store,
    procedures: &'p ProcedureSet,
    name: &str,
) -> anyhow::Result<(DistinguishedName, &'p CertificateProcedure)> {
    check_name(name)?;
    if store.officer_by_name(name).await?.is_some() {
        return Err(input_error(format!("NAME: an officer named {name} exists")));
    }
    let procedure = procedures
        .certificate
        .iter()
        .find(|c| c.name == "officer")
        .context("there is no certificate procedure named officer")?;
    let dn = DistinguishedName::parse(&format!("CN={name},O=Keyward"))?;
    dn.validate(procedure, None)?;
    Ok((dn, procedure))
}

/// An officer about to be registered: its new certificate, subject, name, roles, and where its
/// key lives (`pkcs12` or `pkcs11`).
pub(crate) struct Registration<'a> {
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
pub(crate) async fn register_officer(
    ca: &CertificateAuthority,
    store: &Store,
    officer: &Registration<'_>,
    actor: &str,
) -> anyhow::Result<String> {
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

/// Issues an officer certificate (P-256: rustls accepts it for TLS client authentication),
/// writes `DIR/officer/NAME.p12` and `NAME.pin` (0600), and registers the officer.
pub async fn enroll_virtual(
    dir: &Path,
    ca: &CertificateAuthority,
    store: &Store,
    procedures: &ProcedureSet,
    name: &str,
    roles: &BTreeSet<Role>,
    actor: &str,
) -> anyhow::Result<Enrolled> {
    check_name(name)?;
    let p12_path = dir.join(format!("officer/{name}.p12"));
    let pin_path = dir.join(format!("officer/{name}.pin"));
    if p12_path.exists() || pin_path.exists() {
        return Err(input_error(format!("NAME: {} exists", p12_path.display())));
    }
    let (dn, procedure) = officer_subject(store, procedures, name).await?;
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1))?;
    let cert = crate::init::issue(ca, &key, &dn, procedure, &[], &[])?;
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
pub(crate) fn client_conf_for(
    dir: &Path,
    name: &str,
    credential: &[String],
) -> anyhow::Result<Option<PathBuf>> {
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
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Some(path))
}

/// `keyward officer`.
pub async fn run(args: OfficerArgs) -> anyhow::Result<()> {
    let config = crate::server::load_config(&args.dir, args.database.as_deref())?;
    let store = crate::server::open_store(&config, args.database.is_some()).await?;
    match args.command {
        OfficerCommand::Create { name, roles, json } => {
            let roles = parse_roles(&roles).map_err(|e| input_error(format!("--roles: {e}")))?;
            if roles.is_empty() {
                return Err(input_error("--roles: give at least one role"));
            }
            let ca = load_ca(&config)?;
            let procedures = store.procedures().await?;
            let enrolled = enroll_virtual(
                &args.dir,
                &ca,
                &store,
                &procedures,
                &name,
                &roles,
                "keyward-admin",
            )
            .await?;
            let client_conf = client_conf_for(
                &args.dir,
                &enrolled.name,
                &[format!("officer.p12 = officer/{}.p12", enrolled.name)],
            )?;
            if json {
                let mut out = serde_json::to_value(&enrolled)?;
                out["client_conf"] = json!(client_conf);
                return print_json(&out);
            }
            println!(
                "Officer {} created with roles {}",
                enrolled.name, enrolled.roles
            );
            println!("  virtual officer  {}", enrolled.p12.display());
            println!("  Signature PIN in {}", enrolled.pin_file.display());
            if let Some(conf) = &client_conf {
                println!("  client config    {}", conf.display());
            }
            eprintln!("warning: hand the PIN over separately and delete the PIN file; prefer smart-card officers.");
            Ok(())
        }
        OfficerCommand::List { json } => {
            let officers = store.list_officers().await?;
            if json {
                let rows: Vec<_> = officers
                    .iter()
                    .map(|o| json!({ "name": o.name, "roles": format_roles(&o.roles), "certificate_sha256": o.cert_fingerprint, "revoked": o.revoked_at.is_some() }))
                    .collect();
                return print_json(&rows);
            }
            let rows: Vec<Vec<String>> = officers
                .iter()
                .map(|o| {
                    vec![
                        o.name.clone(),
                        format_roles(&o.roles),
                        if o.revoked_at.is_some() {
                            "revoked".into()
                        } else {
                            "active".into()
                        },
                    ]
                })
                .collect();
            print_table(&["OFFICER", "ROLES", "STATE"], &rows);
            Ok(())
        }
        OfficerCommand::EnrollCard {
            name,
            roles,
            module,
            token_label,
            pin_file,
            json,
        } => {
            let roles = parse_roles(&roles).map_err(|e| input_error(format!("--roles: {e}")))?;
            if roles.is_empty() {
                return Err(input_error("--roles: give at least one role"));
            }
            let pin = crate::secrets::signature_pin_from(pin_file.as_deref(), "--pin-file")?;
            let ca = load_ca(&config)?;
            let procedures = store.procedures().await?;
            let request = crate::officer_card::CardEnrollment {
                name: &name,
                roles: &roles,
                module: &module,
                token_label: &token_label,
                pin: pin.as_str(),
            };
            let enrolled = crate::officer_card::enroll_card(
                &args.dir,
                &ca,
                &store,
                &procedures,
                &request,
                "keyward-admin",
            )
            .await?;
            crate::officer_card::report(&enrolled, json)
        }
        OfficerCommand::Revoke { name } => {
            let audit = NewAudit {
                category: AuditCategory::Administration,
                action: "revoke-officer".into(),
                officer: Some("keyward-admin".into()),
                outcome: Outcome::Success,
                object: Some(name.clone()),
                detail: json!({ "name": name }),
            };
            if !store.revoke_officer(&name, &audit).await? {
                return Err(input_error(format!("NAME: no active officer named {name}")));
            }
            println!("Officer {name} revoked; the server refuses it from now on.");
            Ok(())
        }
    }
}
