//! `keyward ra certificates`: search, and for one certificate (`--id`) save it again (`--out`)
//! or show it in detail (`--details`).

use std::path::{Path, PathBuf};

use serde_json::json;

use keyward_proto::CertificateInfo;
use keyward_ra::client::CertificateSearch;
use keyward_ra::RaError;

use super::{search_given, Session};
use crate::output::{input_error, print_json, print_results};

/// What to do with the certificate `--id` names, besides listing it.
pub(crate) struct OneCertificate {
    /// `--out`: save it there.
    pub out: Option<PathBuf>,
    /// `--force`: overwrite `--out`.
    pub force: bool,
    /// `--details`: show everything about it.
    pub details: bool,
}

/// `keyward ra certificates`.
pub(crate) async fn certificates(
    s: &Session,
    search: CertificateSearch,
    one: OneCertificate,
    json: bool,
) -> anyhow::Result<()> {
    let mut search = search_given(search)?;
    if one.out.is_none() && !one.details {
        return list(&s.client.certificates(&search).await?, json);
    }
    // clap requires --id for them, but not beside --serial or --subject (which conflict with it).
    let Some(id) = search.id.clone() else {
        let option = if one.details { "--details" } else { "--out" };
        return Err(input_error(format!(
            "{option}: give the certificate by --id (find its Certificate ID with --serial or --subject first)"
        )));
    };
    search.der = true;
    let found = s.client.certificates(&search).await?;
    let Some(cert) = found.first() else {
        let status = match &search.status {
            Some(status) => format!(" and status {status}"),
            None => String::new(),
        };
        return Err(input_error(format!(
            "--id: no certificate has Certificate ID {id}{status}"
        )));
    };
    let der = cert
        .der
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("the server sent Certificate ID {id} without its DER"))?;
    if let Some(path) = &one.out {
        save(path, der, one.force)?;
    }
    if one.details {
        let archived_key = archived_key(s, cert).await?;
        return details(cert, der, one.out.as_deref(), archived_key.as_ref(), json);
    }
    let Some(path) = &one.out else {
        return Ok(());
    };
    if json {
        let mut out = serde_json::to_value(cert)?;
        strip_der(&mut out);
        out["file"] = json!(path);
        return print_json(&out);
    }
    println!(
        "Saved Certificate ID {}  serial {}  {} to {}",
        cert.certificate_id,
        cert.serial,
        keyward_policy::subject::printable(&cert.subject),
        path.display()
    );
    Ok(())
}

/// The search results as a table, or JSON.
fn list(found: &[CertificateInfo], json: bool) -> anyhow::Result<()> {
    print_results(
        found,
        json,
        &[
            "CERTIFICATE ID",
            "SERIAL",
            "SUBJECT",
            "PROCEDURE",
            "KEY",
            "NOT AFTER",
            "STATUS",
        ],
        |c| {
            vec![
                c.certificate_id.clone(),
                c.serial.clone(),
                c.subject.clone(),
                c.certificate_procedure.clone(),
                c.key_origin.clone(),
                c.not_after.clone(),
                c.status.describe(),
            ]
        },
        "no certificate matches",
    )
}

/// Writes the certificate as `ra issue` writes its certificate file (DER, or PEM for `.pem`,
/// atomically); an unusable path is exit 2 naming `--out`, before anything is written.
fn save(path: &Path, der: &[u8], force: bool) -> anyhow::Result<()> {
    keyward_ra::token::save_certificate(path, der, "out", force).map_err(|e| match e {
        RaError::Input { reason, .. } => input_error(format!("--out: {reason}")),
        other => other.into(),
    })
}

/// The archived key a certificate's key is, as `ra archived-keys` names it: the Certificate ID
/// and serial of the certificate it was archived with (this one, or for a recovered key's new
/// certificate the older one, looked up).
struct ArchivedKey {
    certificate_id: String,
    serial: String,
}

async fn archived_key(s: &Session, cert: &CertificateInfo) -> anyhow::Result<Option<ArchivedKey>> {
    let Some(id) = &cert.archived_key_certificate_id else {
        return Ok(None);
    };
    if *id == cert.certificate_id {
        return Ok(Some(ArchivedKey {
            certificate_id: id.clone(),
            serial: cert.serial.clone(),
        }));
    }
    let found = s
        .client
        .certificates(&CertificateSearch {
            id: Some(id.clone()),
            ..Default::default()
        })
        .await?;
    Ok(Some(ArchivedKey {
        certificate_id: id.clone(),
        serial: found.first().map(|c| c.serial.clone()).unwrap_or_default(),
    }))
}

/// Removes the base64 DER from a certificate's JSON (the file holds it; the details show its
/// fingerprints).
fn strip_der(value: &mut serde_json::Value) {
    if let Some(map) = value.as_object_mut() {
        map.remove("der");
    }
}

/// `--details`: the search's fields with what the certificate itself says.
fn details(
    cert: &CertificateInfo,
    der: &[u8],
    saved: Option<&Path>,
    archived_key: Option<&ArchivedKey>,
    json: bool,
) -> anyhow::Result<()> {
    let d = keyward_ca::describe_certificate(der)
        .map_err(|e| anyhow::anyhow!("Certificate ID {}: {e}", cert.certificate_id))?;
    if json {
        let mut out = serde_json::to_value(cert)?;
        strip_der(&mut out);
        out["serial_colons"] = json!(d.serial);
        out["key_usage_bits"] = json!(d.key_usage);
        out["extended_key_usage"] = json!(d.extended_key_usage);
        out["subject_alt_names"] = json!(d.subject_alt_names);
        out["extensions"] = d
            .extensions
            .iter()
            .map(|e| json!({"oid": e.oid, "name": e.name, "critical": e.critical}))
            .collect();
        out["sha1_fingerprint"] = json!(d.sha1_fingerprint);
        out["sha256_fingerprint"] = json!(d.sha256_fingerprint);
        out["archived_key"] = match archived_key {
            Some(k) => json!({"certificate_id": k.certificate_id, "serial": k.serial}),
            None => serde_json::Value::Null,
        };
        if let Some(path) = saved {
            out["file"] = json!(path);
        }
        return print_json(&out);
    }
    let printable = |t: &str| keyward_policy::subject::printable(t).into_owned();
    let or_none = |list: &[String]| {
        if list.is_empty() {
            "(none)".to_string()
        } else {
            list.join(", ")
        }
    };
    let mut lines = vec![
        ("Certificate ID", cert.certificate_id.clone()),
        ("Subject", printable(&cert.subject)),
        ("Issuer", printable(&cert.issuer)),
        ("Serial", d.serial.clone()),
        ("Not before", cert.not_before.clone()),
        ("Not after", cert.not_after.clone()),
        ("Status", cert.status.describe()),
        ("Key usage", or_none(&d.key_usage)),
        ("Extended key usage", or_none(&d.extended_key_usage)),
        (
            "Subject alt names",
            printable(&or_none(&d.subject_alt_names)),
        ),
    ];
    let extensions: Vec<String> = d
        .extensions
        .iter()
        .map(|e| {
            if e.critical {
                format!("{} (critical)", e.name)
            } else {
                e.name.clone()
            }
        })
        .collect();
    lines.push(("Extensions", or_none(&extensions)));
    lines.push(("SHA-1 fingerprint", d.sha1_fingerprint.clone()));
    lines.push(("SHA-256 fingerprint", d.sha256_fingerprint.clone()));
    lines.push(("Token procedure", cert.token_procedure.clone()));
    lines.push(("Certificate procedure", cert.certificate_procedure.clone()));
    lines.push(("Key", format!("{} ({})", cert.key_origin, cert.key_usage)));
    lines.push((
        "Archived key",
        match archived_key {
            Some(k) if k.certificate_id == cert.certificate_id => format!(
                "Certificate ID {} (this certificate's key is archived)",
                k.certificate_id
            ),
            Some(k) => format!(
                "Certificate ID {} serial {} (recovered; see `ra archived-keys --id {}`)",
                k.certificate_id, k.serial, k.certificate_id
            ),
            None if cert.key_origin == "recovered" => {
                "recovered (recorded before Keyward kept the link)".to_string()
            }
            None => "none".to_string(),
        },
    ));
    lines.push(("Issued by officer", printable(&cert.officer)));
    lines.push(("Issued at", cert.issued_at.clone()));
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    for (key, value) in &lines {
        println!("{:width$} {value}", format!("{key}:"));
    }
    if let Some(path) = saved {
        eprintln!("Saved to {}", path.display());
    }
    Ok(())
}
