//! `keyward init`: a complete installation in one directory (see [`keyward_admin::init`]).

use keyward_admin::ca::HsmCa;
use keyward_admin::init::{create_with, FIRST_OFFICER};

use crate::cli::InitArgs;
use crate::output::{admin_error, print_json};

/// The `--hsm-*` options of `init`, if given.
fn hsm_ca(args: &InitArgs) -> Option<HsmCa> {
    let (module, token, pin_file) = (
        args.hsm_module.as_ref()?,
        args.hsm_token.as_ref()?,
        args.hsm_pin_file.as_ref()?,
    );
    Some(HsmCa::new(
        module.clone(),
        token.clone(),
        pin_file,
        args.hsm_key_label.clone(),
    ))
}

/// `keyward init`.
pub(crate) async fn run(args: InitArgs) -> anyhow::Result<()> {
    let hsm = hsm_ca(&args);
    let report = create_with(
        &args.dir,
        args.listen,
        hsm.as_ref(),
        args.database.as_deref(),
        Some(&args.public_url),
    )
    .await
    .map_err(admin_error)?;
    if args.json {
        return print_json(&report);
    }
    println!("Created a Keyward installation in {}", report.dir.display());
    println!("  server configuration  {}", report.cm_conf.display());
    println!("  RA configuration      {}", report.client_conf.display());
    println!("  root CA certificate   {}", report.root_ca.display());
    println!(
        "  token procedures      {}",
        report.token_procedures.join(", ")
    );
    println!(
        "  first officer         {} (roles issue-certificate, recover-key, admin, revoke-certificate)",
        FIRST_OFFICER
    );
    println!("    virtual officer     {}", report.officer_p12.display());
    println!(
        "    Signature PIN in    {}",
        report.officer_pin_file.display()
    );
    eprintln!(
        "warning: the first officer is a virtual officer whose Signature PIN is stored in a file next to its key.\n\
         Move the PIN to a safe place (or delete the file) and enroll smart-card officers for production."
    );
    if let Some(hsm) = &hsm {
        println!("  issuing CA key        {}", hsm.describe());
    }
    println!("\nNext: keyward server --dir {}", report.dir.display());
    Ok(())
}
