//! `keyward quickstart`: the whole path on an embedded default, nothing to install.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;

use keyward_admin::init::{self, FIRST_OFFICER};
use keyward_ra::issue::{Prepared, TokenOrder};
use keyward_ra::{ClientConfig, OfficerCredential, RaClient};

use crate::cli::QuickstartArgs;
use crate::output::{admin_error, print_json};
use crate::secrets;

/// Token procedure the quickstart issues.
const PROCEDURE: &str = "soft-signing-show";
/// Subject of the quickstart token.
const SUBJECT: &str = "CN=Quickstart User,O=Keyward,C=SE";

/// `keyward quickstart`.
pub(crate) async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let dir = args.dir;
    let created = !dir.join("cm.conf").exists();
    if created {
        init::create(&dir, SocketAddr::from((Ipv4Addr::LOCALHOST, 8443)))
            .await
            .map_err(admin_error)?;
    }
    let bound = keyward_admin::serve::bind(&dir, Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))))
        .await
        .map_err(admin_error)?;
    let addr = bound.addr;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(async {
        let _ = stopped.await;
    }));

    let result = issue_one(&dir, addr).await;
    let _ = stop.send(());
    let _ = server.await;
    let (token, pin) = result?;
    let elapsed = started.elapsed();

    if args.json {
        return print_json(&json!({
            "dir": dir,
            "initialised": created,
            "server": format!("https://{addr}"),
            "token_procedure": PROCEDURE,
            "key_spec": token.key_spec.to_string(),
            "key_management": token.key_management,
            "certificates": token.certificates,
            "p12": token.p12_path,
            "certificate_files": token.cert_paths,
            "pin": pin.as_str(),
            "seconds": elapsed.as_secs_f64(),
        }));
    }
    if created {
        println!("Initialised a new installation in {}", dir.display());
    }
    println!("Started the server in-process on https://{addr} and issued one token through it:");
    println!("  {}", token.key_management);
    for c in &token.certificates {
        println!(
            "  Certificate ID {}  serial {}  {}  ({} key {}, {})",
            c.certificate_id,
            c.serial,
            c.subject,
            c.key_origin.name(),
            token.key_spec,
            c.certificate_procedure
        );
    }
    println!("  PKCS#12      {} (mode 0600)", token.p12_path.display());
    for path in &token.cert_paths {
        println!("  certificate  {}", path.display());
    }
    println!("  PIN          {}", pin.as_str());
    println!(
        "Done in {:.1} s. Check it with a tool we did not write:",
        elapsed.as_secs_f64()
    );
    println!(
        "  openssl pkcs12 -in {} -info -noout   # enter the PIN above",
        token.p12_path.display()
    );
    println!(
        "Next: keyward server --dir {0}   and   keyward ra --config {0}/client.conf procedures",
        dir.display()
    );
    Ok(())
}

async fn issue_one(
    dir: &std::path::Path,
    addr: SocketAddr,
) -> anyhow::Result<(keyward_ra::issue::IssuedToken, keyward_crypto::Pin)> {
    let mut config = ClientConfig::load(&dir.join("client.conf"))?;
    config.server_url = format!("https://{addr}");
    keyward_ra::seed::start(&config.path)?;
    let pin_file = dir.join(format!("officer/{FIRST_OFFICER}.pin"));
    let signature_pin = secrets::signature_pin(Some(&pin_file))
        .with_context(|| format!("the first officer's Signature PIN ({})", pin_file.display()))?;
    let officer = OfficerCredential::open(&config, signature_pin.as_str())?;
    let client = RaClient::new(&config, Arc::new(officer))?;

    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).with_context(|| format!("creating {}", tokens.display()))?;
    let n = (1..)
        .find(|n| !tokens.join(format!("quickstart-{n}.p12")).exists())
        .unwrap_or(1);
    let order = TokenOrder {
        qc_statements: Default::default(),
        ac_path: None,
        alt_names: Default::default(),
        procedure: PROCEDURE.into(),
        subject: SUBJECT.into(),
        email: Some("quickstart.user@example.com".into()),
        key_spec: None,
        p12_path: tokens.join(format!("quickstart-{n}.p12")),
        cert_path: Some(tokens.join(format!("quickstart-{n}.pem"))),
        force: false,
        recover: Vec::new(),
        approval: None,
        request_id: None,
    };
    let prepared = Prepared::new(&client, &config, order).await?;
    let pin = keyward_crypto::generate_for(prepared.pin_procedure())?;
    let token = prepared
        .execute(&client, keyward_ra::issue::PinSource::Local(pin.clone()))
        .await?;
    Ok((token, pin))
}
