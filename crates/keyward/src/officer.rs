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
use keyward_policy::{DistinguishedName, KeySpec, ProcedureSet};
use keyward_proto::KeyOrigin;
use keyward_server::service::{certificate_record, load_ca, RecordContext};
use keyward_server::ServerConfig;
use keyward_store::{AuditCategory, NewAudit, NewOfficer, Outcome, Store};

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
    if store.officer_by_name(name).await?.is_some() {
        return Err(input_error(format!("NAME: an officer named {name} exists")));
    }
    let p12_path = dir.join(format!("officer/{name}.p12"));
    let pin_path = dir.join(format!("officer/{name}.pin"));
    if p12_path.exists() || pin_path.exists() {
        return Err(input_error(format!("NAME: {} exists", p12_path.display())));
    }
    let procedure = procedures
        .certificate
        .iter()
        .find(|c| c.name == "officer")
        .context("there is no certificate procedure named officer")?;
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1))?;
    let dn = DistinguishedName::parse(&format!("CN={name},O=Keyward"))?;
    dn.validate(procedure, None)?;
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
        &cert,
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
                json!({ "name": name, "roles": roles_text }),
            ),
        )
        .await?;
    std::fs::create_dir_all(dir.join("officer"))?;
    write_secret(&p12_path, &p12)?;
    write_secret(&pin_path, format!("{}\n", pin.as_str()).as_bytes())?;
    Ok(Enrolled {
        name: name.to_string(),
        roles: roles_text,
        p12: p12_path,
        pin_file: pin_path,
        certificate_id: stored.first().map(|c| c.id.to_string()).unwrap_or_default(),
    })
}

/// `keyward officer`.
pub async fn run(args: OfficerArgs) -> anyhow::Result<()> {
    let config = ServerConfig::load(&args.dir.join("cm.conf"))?;
    let store = Store::open(&config.database_url).await?;
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
            if json {
                return print_json(&enrolled);
            }
            println!(
                "Officer {} created with roles {}",
                enrolled.name, enrolled.roles
            );
            println!("  virtual officer  {}", enrolled.p12.display());
            println!("  Signature PIN in {}", enrolled.pin_file.display());
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
