//! `keyward ra …`: the officer's RA client.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use keyward_policy::{plan_token, KeySpecList};
use keyward_proto::KeySelection;
use keyward_ra::client::CertificateSearch;
use keyward_ra::issue::{key_spec_list, IssuedToken, Prepared, TokenOrder};
use keyward_ra::officer::VIRTUAL_OFFICER_WARNING;
use keyward_ra::{ClientConfig, OfficerCredential, RaClient, RaError};

use crate::cli::{ApprovalsCommand, ClientArgs, IssueArgs, RaArgs, RaCommand};
use crate::output::{
    input_error, print_json, print_results, print_table_fitted, print_table_noted,
};
use crate::secrets::{signature_pin, token_pin, PinOptions};

mod certificates;

/// An RA session: configuration, officer credential, HTTPS client.
pub(crate) struct Session {
    /// client.conf.
    pub config: ClientConfig,
    /// Connected client.
    pub client: RaClient,
}

impl Session {
    /// Opens client.conf and the officer credential, runs the generator health check.
    pub(crate) fn open(config: ClientConfig, pin_file: Option<&Path>) -> anyhow::Result<Session> {
        keyward_ra::seed::start(&config.path)?;
        let pin = signature_pin(pin_file)?;
        let officer = OfficerCredential::open(&config, pin.as_str())?;
        let today = time::OffsetDateTime::now_utc().date().to_string();
        if officer.is_virtual() && keyward_ra::officer::virtual_warning_due(&config, &today) {
            eprintln!("{VIRTUAL_OFFICER_WARNING}");
        }
        let client = RaClient::new(&config, Arc::new(officer))?;
        Ok(Session { config, client })
    }

    /// Opens the client.conf and Signature PIN named on the command line.
    pub(crate) fn from_args(args: &ClientArgs) -> anyhow::Result<Session> {
        let config = ClientConfig::load(&args.config)?;
        Session::open(config, args.signature_pin_file.as_deref())
    }
}

/// `keyward ra`.
pub(crate) async fn run(args: RaArgs) -> anyhow::Result<()> {
    if let RaCommand::InitKeygen { from_file } = &args.command {
        return init_keygen(&args.client.config, from_file.as_deref());
    }
    let session = Session::from_args(&args.client)?;
    match args.command {
        RaCommand::Procedures { filter, json, wide } => {
            procedures(&session, filter.as_deref(), json, wide).await
        }
        RaCommand::KeySpecs { json } => key_specs(&session, json).await,
        RaCommand::Plan {
            procedure,
            key_spec,
            json,
        } => plan(&session, &procedure, key_spec.as_deref(), json).await,
        RaCommand::Issue(issue_args) => issue(&session, *issue_args).await,
        RaCommand::Batch(batch_args) => {
            crate::batch::run(session.config, session.client, batch_args).await
        }
        RaCommand::Certificates {
            id,
            serial,
            subject,
            status,
            out,
            force,
            details,
            json,
        } => {
            certificates::certificates(
                &session,
                CertificateSearch {
                    id,
                    serial,
                    subject,
                    status,
                    ..Default::default()
                },
                certificates::OneCertificate {
                    out,
                    force,
                    details,
                },
                json,
            )
            .await
        }
        RaCommand::AttributeCertificates {
            holder,
            out,
            force,
            json,
        } => attribute_certificates(&session, &holder, out.as_deref(), force, json).await,
        RaCommand::ArchivedKeys {
            id,
            serial,
            subject,
            status,
            json,
        } => {
            archived_keys(
                &session,
                CertificateSearch {
                    id,
                    serial,
                    subject,
                    status,
                    ..Default::default()
                },
                json,
            )
            .await
        }
        RaCommand::Whoami { json } => {
            let me = session.client.whoami().await?;
            if json {
                return print_json(&me);
            }
            println!("officer {} with roles {}", me.name, me.roles.join(", "));
            Ok(())
        }
        RaCommand::InitKeygen { .. } => Ok(()),
        RaCommand::Approvals { command } => approvals(&session, command).await,
        RaCommand::Revoke(args) => crate::revoke::revoke(&session, args).await,
        RaCommand::Unhold(args) => crate::revoke::unhold(&session, args).await,
    }
}

async fn procedures(
    s: &Session,
    filter: Option<&str>,
    json: bool,
    wide: bool,
) -> anyhow::Result<()> {
    let list = s.client.procedures(filter).await?;
    if json {
        return print_json(&list);
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut descriptions = Vec::new();
    for t in &list.token_procedures {
        let mut certs: Vec<String> = t
            .certificates
            .iter()
            .map(|c| {
                // Spaces between the usages, so that a fitted table can wrap between them.
                let usage = c.key_usage.to_string().replace('+', ", ");
                format!("{} [{usage}]{}", c.name, c.qc_summary())
            })
            .collect();
        if let Some(ac) = &t.attribute_certificate {
            certs.push(format!("+ attribute certificate {}", ac.name));
        }
        let keys: Vec<String> = t.keys.iter().map(|k| k.name.clone()).collect();
        rows.push(vec![
            t.token.name.clone(),
            t.pin.method.name().to_string(),
            t.p12.name.clone(),
            certs.join(", "),
            if keys.is_empty() {
                "-".into()
            } else {
                keys.join(", ")
            },
        ]);
        descriptions.push(t.token.description.clone());
    }
    let header = [
        "TOKEN PROCEDURE",
        "PIN",
        "PKCS#12",
        "CERTIFICATE PROCEDURES",
        "KEY PROCEDURES",
    ];
    if wide {
        for (row, description) in rows.iter_mut().zip(descriptions) {
            row.push(description);
        }
        let mut header = header.to_vec();
        header.push("DESCRIPTION");
        print_table_fitted(&header, &rows, true);
    } else {
        // Fitted: the description on lines of its own under each row.
        print_table_noted(&header, &rows, &descriptions);
    }
    Ok(())
}

async fn key_specs(s: &Session, json: bool) -> anyhow::Result<()> {
    let list: KeySpecList = key_spec_list(&s.client, &s.config).await?;
    let source = if s.config.ra_key_generation.is_some() {
        "client.conf ra-key-generation"
    } else {
        "server client.ra-key-generation"
    };
    if json {
        let specs: Vec<_> = list
            .specs()
            .iter()
            .map(|spec| {
                json!({
                    "key_spec": spec.to_string(),
                    "default": *spec == list.default_spec(),
                    "legacy": spec.legacy().is_some(),
                })
            })
            .collect();
        return print_json(&json!({ "source": source, "key_specs": specs }));
    }
    for spec in list.specs() {
        let mark = if *spec == list.default_spec() {
            "*"
        } else {
            ""
        };
        match spec.legacy() {
            Some(_) => println!("{spec}{mark}  (legacy)"),
            None => println!("{spec}{mark}"),
        }
    }
    if let Some(why) = list.specs().iter().find_map(|s| s.legacy()) {
        eprintln!("legacy: {why}");
    }
    eprintln!("(from {source})");
    Ok(())
}

async fn plan(
    s: &Session,
    procedure: &str,
    key_spec: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let list = key_spec_list(&s.client, &s.config).await?;
    let spec = list
        .choose(key_spec)
        .map_err(|e| input_error(format!("--key-spec: {e}")))?;
    let procedures = s.client.procedures(None).await?;
    let token = procedures
        .token_procedures
        .iter()
        .find(|t| t.token.name == procedure)
        .ok_or_else(|| {
            input_error(format!(
                "--procedure: no token procedure named {procedure:?}"
            ))
        })?;
    let plan = plan_token(token, spec).map_err(|e| input_error(format!("--key-spec: {e}")))?;
    if json {
        let roles: Vec<&str> = plan.required_roles().iter().map(|r| r.name()).collect();
        return print_json(&json!({
            "token_procedure": procedure,
            "key_spec": spec.to_string(),
            "key_management": plan.to_string(),
            "required_roles": roles,
            "actions": plan.actions,
        }));
    }
    println!("{plan}");
    let roles: Vec<&str> = plan.required_roles().iter().map(|r| r.name()).collect();
    println!("Roles needed: {}", roles.join(", "));
    Ok(())
}

async fn issue(s: &Session, args: IssueArgs) -> anyhow::Result<()> {
    let pin_options = PinOptions {
        pin_stdin: args.pin_stdin,
        letter: args.pin_letter,
        unchecked_letter_id: args.unchecked_letter_id,
        email: args.pin_email,
        postal: args.pin_postal_address,
        postal_file: args.pin_postal_address_file,
    };
    // A mistyped letter ID is refused here, before the server is asked anything.
    pin_options.precheck()?;
    let order = TokenOrder {
        procedure: args.procedure,
        subject: args.subject,
        email: args.email,
        key_spec: args.key_spec,
        p12_path: args.p12,
        cert_path: args.cert,
        force: args.force,
        recover: args
            .recover_id
            .into_iter()
            .map(KeySelection::CertificateId)
            .chain(args.recover_serial.into_iter().map(KeySelection::Serial))
            .collect(),
        approval: args.approval,
        request_id: None,
        qc_statements: officer_qc_statements(&args.qc_statement, args.qc_statements.as_deref())?,
        ac_path: args.ac,
        alt_names: keyward_policy::AltNames {
            dns: args.dns_name,
            ip: args.ip,
        },
    };
    let mut prepared = Prepared::new(&s.client, &s.config, order).await?;
    if let Some(why) = prepared.key_spec().legacy() {
        eprintln!(
            "warning: {} is a legacy key spec. {why}",
            prepared.key_spec()
        );
    }
    prepared.preview_recovery(&s.client).await?;
    if !args.json {
        eprintln!("{}", prepared.key_management());
    }
    // Duplicates are shown before anything is sent; officers renew, so they never block.
    let existing = match prepared.existing(&s.client).await {
        Ok(existing) => existing,
        Err(e) => {
            eprintln!("note: could not look for the subject's valid certificates: {e}");
            Vec::new()
        }
    };
    if !args.json {
        let subject = prepared.subject().to_string();
        let subject = keyward_policy::subject::printable(&subject);
        for e in &existing {
            eprintln!("{}", e.note(&subject));
        }
    }
    let pin = token_pin(prepared.pin_procedure(), pin_options)?;
    let spinner = indicatif::ProgressBar::new_spinner();
    if std::io::stderr().is_terminal() && !args.json {
        spinner.set_message(format!(
            "generating a {} key and requesting the certificate…",
            prepared.key_spec()
        ));
        spinner.enable_steady_tick(Duration::from_millis(120));
    } else {
        spinner.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    // The letter as the officer typed it (with its check digits), for the text below.
    let letter_typed = match &pin.source {
        keyward_ra::issue::PinSource::Letter { id, .. } => Some(id.clone()),
        _ => None,
    };
    let result = prepared.execute(&s.client, pin.source).await;
    spinner.finish_and_clear();
    let token: IssuedToken = result?;
    if args.json {
        let mut out = json!({
            "token_procedure": token.token_procedure,
            "key_spec": token.key_spec.to_string(),
            "key_management": token.key_management,
            "certificates": token.certificates,
            "p12": token.p12_path,
            "certificate_files": token.cert_paths,
            "revoked": token.revoked,
            "existing": existing,
        });
        if let Some(shown) = &pin.shown {
            out["pin"] = json!(shown.as_str());
        }
        if let Some(delivery) = &token.pin_delivery {
            out["pin_delivery"] = json!(delivery);
        }
        if let Some(ac) = &token.attribute_certificate {
            out["attribute_certificate"] = json!({
                "serial": ac.serial,
                "procedure": ac.procedure,
                "holder_certificate_id": ac.holder_certificate_id,
                "file": ac.path,
            });
        }
        return print_json(&out);
    }
    for c in &token.certificates {
        println!(
            "Certificate ID {}  serial {}  {}  ({}, key {}{})",
            c.certificate_id,
            c.serial,
            keyward_policy::subject::printable(&c.subject),
            c.certificate_procedure,
            c.key_origin.name(),
            if c.reused { ", reused certificate" } else { "" }
        );
    }
    for r in &token.revoked {
        println!("Old {}", r.describe());
    }
    let files: Vec<String> = token
        .cert_paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    println!(
        "Wrote {} (PKCS#12, mode 0600) and {}",
        token.p12_path.display(),
        files.join(", ")
    );
    if let Some(shown) = &pin.shown {
        println!("PIN: {}", shown.as_str());
        eprintln!("Note the PIN now: it is shown once and stored nowhere.");
    }
    match &token.pin_delivery {
        Some(d) if d.letter_id.is_some() => println!(
            "Sealed with the PIN of PIN/PUK letter {} (the letter is now used).",
            letter_typed
                .as_deref()
                .or(d.letter_id.as_deref())
                .unwrap_or_default()
        ),
        Some(d) if d.delivery.as_deref() == Some("print") => println!(
            "The PIN goes by post to {} (a PIN letter the Secure Printer prints): run `keyward secure-printer run` to print it.",
            d.recipient.as_deref().unwrap_or("?").replace('\n', ", ")
        ),
        Some(d) => println!(
            "The PIN goes to {} by the PIN mailer ({}): run `keyward secure-printer run` to deliver it.",
            d.recipient.as_deref().unwrap_or("?"),
            d.delivery.as_deref().unwrap_or("smtp")
        ),
        None => {}
    }
    if let Some(ac) = &token.attribute_certificate {
        println!(
            "Attribute certificate serial {} ({}), holder Certificate ID {}: saved apart in {}",
            ac.serial,
            ac.procedure,
            ac.holder_certificate_id,
            ac.path.display()
        );
    }
    Ok(())
}

/// The officer's QC statements: the `--qc-statements` file, then each `--qc-statement`.
fn officer_qc_statements(
    flags: &[String],
    file: Option<&Path>,
) -> anyhow::Result<keyward_policy::QcStatements> {
    let text = match file {
        Some(path) => Some((
            path.display().to_string(),
            crate::output::read_small_text(path, "qc-statements")?,
        )),
        None => None,
    };
    let file = text.as_ref().map(|(shown, t)| (shown.as_str(), t.as_str()));
    keyward_policy::QcStatements::officer(file, flags).map_err(input_error)
}

async fn approvals(s: &Session, command: ApprovalsCommand) -> anyhow::Result<()> {
    let (id, approve, json) = match command {
        ApprovalsCommand::List { all, json } => {
            let found = s.client.approvals(all).await?;
            return print_results(
                &found,
                json,
                &[
                    "ID",
                    "STATE",
                    "REQUESTER",
                    "TOKEN PROCEDURE",
                    "SUBJECT",
                    "KEYS",
                    "APPROVALS",
                    "EXPIRES",
                ],
                |a| {
                    vec![
                        a.id.clone(),
                        a.state.clone(),
                        a.requester.clone(),
                        a.token_procedure.clone(),
                        a.subject.clone(),
                        a.key_certificate_ids.clone(),
                        format!("{} of {}", a.approved_by.len(), a.required),
                        a.expires_at.clone(),
                    ]
                },
                "No approval requests.",
            );
        }
        ApprovalsCommand::Approve { id, json } => (id, true, json),
        ApprovalsCommand::Reject { id, json } => (id, false, json),
    };
    let a = s.client.vote_approval(&id, approve).await?;
    if json {
        return print_json(&a);
    }
    println!(
        "Approval request {} ({} of {} approvals): {}",
        a.id,
        a.approved_by.len(),
        a.required,
        a.state
    );
    Ok(())
}

/// Checks that a search names something, and reads `--serial` as officers copy serials (see
/// [`keyward_policy::serial::normalize`]), so that a typo is exit 2 here, not a refusal.
fn search_given(mut search: CertificateSearch) -> anyhow::Result<CertificateSearch> {
    if search.id.is_none()
        && search.serial.is_none()
        && search.subject.is_none()
        && search.status.is_none()
    {
        return Err(input_error("give --id, --serial, --subject or --status"));
    }
    if let Some(text) = &search.serial {
        let serial = keyward_policy::serial::normalize(text)
            .map_err(|why| input_error(format!("--serial: {why}")))?;
        search.serial = Some(serial);
    }
    Ok(search)
}

async fn attribute_certificates(
    s: &Session,
    holder: &str,
    out: Option<&Path>,
    force: bool,
    json: bool,
) -> anyhow::Result<()> {
    if holder.parse::<u64>().is_err() {
        return Err(input_error(
            "--holder: a Certificate ID is a decimal number",
        ));
    }
    if let Some(path) = out {
        if path.exists() && !force {
            return Err(input_error(format!(
                "--out: {} exists (use --force to overwrite)",
                path.display()
            )));
        }
    }
    let found = s.client.attribute_certificates(holder).await?;
    if let (Some(path), Some(newest)) = (out, found.last()) {
        keyward_ra::token::write_attribute_certificate(path, &newest.der)?;
        if !json {
            eprintln!(
                "Saved attribute certificate {} to {}",
                newest.serial,
                path.display()
            );
        }
    }
    if out.is_some() && found.is_empty() {
        return Err(input_error(format!(
            "--holder: Certificate ID {holder} holds no attribute certificate"
        )));
    }
    print_results(
        &found,
        json,
        &["SERIAL", "PROCEDURE", "HOLDER CERTIFICATE ID", "BYTES"],
        |ac| {
            vec![
                ac.serial.clone(),
                ac.procedure.clone(),
                ac.holder_certificate_id.clone(),
                ac.der.len().to_string(),
            ]
        },
        "no attribute certificate",
    )
}

async fn archived_keys(s: &Session, search: CertificateSearch, json: bool) -> anyhow::Result<()> {
    let search = search_given(search)?;
    let found = s.client.archived_keys(&search).await?;
    print_results(
        &found,
        json,
        &[
            "CERTIFICATE ID",
            "SERIAL",
            "SUBJECT",
            "KEY USAGE",
            "KEY SPEC",
            "ARCHIVED AT",
            "STATUS",
        ],
        |k| {
            vec![
                k.certificate_id.clone(),
                k.serial.clone(),
                k.subject.clone(),
                k.key_usage.clone(),
                k.key_spec.clone(),
                k.archived_at.clone(),
                k.status.describe(),
            ]
        },
        "no archived key matches",
    )
}

fn init_keygen(config_path: &Path, from_file: Option<&Path>) -> anyhow::Result<()> {
    let mut extra = zeroize::Zeroizing::new(Vec::new());
    match from_file {
        Some(path) => {
            std::fs::File::open(path)
                .with_context(|| format!("--from-file {}", path.display()))?
                .take(4096)
                .read_to_end(&mut extra)
                .with_context(|| format!("--from-file {}", path.display()))?;
        }
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("Type at least 32 random characters, then Enter (the text and its timing are mixed in):");
            }
            let start = std::time::Instant::now();
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                let mut line = zeroize::Zeroizing::new(String::new());
                stdin
                    .read_line(&mut line)
                    .context("reading entropy from the keyboard")?;
                extra.extend_from_slice(line.as_bytes());
            } else {
                stdin
                    .take(4096)
                    .read_to_end(&mut extra)
                    .context("reading entropy from standard input")?;
            }
            extra.extend_from_slice(&start.elapsed().as_nanos().to_le_bytes());
        }
    }
    let config_dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !config_dir.is_dir() {
        return Err(
            RaError::input("config", format!("{} does not exist", config_dir.display())).into(),
        );
    }
    let path = keyward_ra::seed::init_keygen(config_path, &extra)?;
    println!("Key generation initialised; seed file {} (mode 0600) is mixed in and replaced on every RA start.", path.display());
    Ok(())
}
