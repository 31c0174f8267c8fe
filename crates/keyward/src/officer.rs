//! `keyward officer …`: officer administration on the CM host (direct database access, like
//! `init`; every change is audited in the same transaction). See [`keyward_admin::officer`].

use serde_json::json;

use keyward_admin::card::{enroll_card, CardEnrolled, CardEnrollment};
use keyward_admin::install::{load_config, open_store};
use keyward_admin::officer::{
    client_conf_for, enroll_virtual, officer_roles, revoke, VirtualOfficer,
};
use keyward_policy::roles::format_roles;
use keyward_server::service::load_ca;

use crate::cli::{OfficerArgs, OfficerCommand};
use crate::output::{admin_error, print_json, print_table};

/// `keyward officer`.
pub(crate) async fn run(args: OfficerArgs) -> anyhow::Result<()> {
    let config = load_config(&args.dir, args.database.as_deref())?;
    let store = open_store(&config, args.database.is_some()).await?;
    match args.command {
        OfficerCommand::Create { name, roles, json } => {
            let roles = officer_roles(&roles).map_err(admin_error)?;
            let ca = load_ca(&config)?;
            let procedures = store.procedures().await?;
            let officer = VirtualOfficer {
                name: &name,
                roles: &roles,
                actor: "keyward-admin",
            };
            let enrolled = enroll_virtual(&args.dir, &ca, &store, &procedures, &officer)
                .await
                .map_err(admin_error)?;
            let client_conf = client_conf_for(
                &args.dir,
                &enrolled.name,
                &[format!("officer.p12 = officer/{}.p12", enrolled.name)],
            )
            .map_err(admin_error)?;
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
                    .map(|o| {
                        // An array of role names, as `ra whoami --json` gives them.
                        let roles: Vec<&str> = o.roles.iter().map(|r| r.name()).collect();
                        json!({ "name": o.name, "roles": roles, "certificate_sha256": o.cert_fingerprint, "revoked": o.revoked_at.is_some() })
                    })
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
            let roles = officer_roles(&roles).map_err(admin_error)?;
            let pin = crate::secrets::signature_pin_from(pin_file.as_deref(), "--pin-file")?;
            let ca = load_ca(&config)?;
            let procedures = store.procedures().await?;
            let request = CardEnrollment {
                name: &name,
                roles: &roles,
                module: &module,
                token_label: &token_label,
                pin: pin.as_str(),
            };
            let enrolled = enroll_card(
                &args.dir,
                &ca,
                &store,
                &procedures,
                &request,
                "keyward-admin",
            )
            .await
            .map_err(admin_error)?;
            report(&enrolled, json)
        }
        OfficerCommand::Revoke { name } => {
            revoke(&store, &name, "keyward-admin")
                .await
                .map_err(admin_error)?;
            println!("Officer {name} revoked; the server refuses it from now on.");
            Ok(())
        }
    }
}

/// Prints the result of `enroll-card`.
fn report(enrolled: &CardEnrolled, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&json!(enrolled));
    }
    println!(
        "Officer {} enrolled on a smart card with roles {}",
        enrolled.name, enrolled.roles
    );
    println!(
        "  token            {:?} ({})",
        enrolled.token,
        enrolled.module.display()
    );
    println!(
        "  key, certificate labelled {:?}, CKA_ID {}",
        enrolled.key_label, enrolled.key_id
    );
    println!("  Certificate ID   {}", enrolled.certificate_id);
    if let Some(conf) = &enrolled.client_conf {
        println!("  client config    {}", conf.display());
    }
    Ok(())
}
