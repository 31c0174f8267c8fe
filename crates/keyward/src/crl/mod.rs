//! `keyward crl`: the latest CRL of the issuing CA from the database (`show`), or a CRL
//! fetched over plain HTTP as relying parties fetch it (`fetch`); both checked by OpenSSL's
//! parser and shown, and written with `--out` (DER, or PEM by extension).

mod http;

use std::path::Path;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::{CrlNumber, X509Crl, X509};
use serde_json::json;

use keyward_admin::audit::rfc3339;
use keyward_admin::install::{load_config, open_store};
use keyward_store::{CrlFacts, CrlKind};

use crate::cli::{CrlArgs, CrlCommand};
use crate::output::{input_error, print_json};

/// What a CRL says about itself, as OpenSSL reads it.
struct Summary {
    issuer: String,
    number: Option<String>,
    this_update: Option<i64>,
    next_update: Option<i64>,
    entries: usize,
    size: usize,
}

/// `keyward crl`.
pub(crate) async fn run(args: CrlArgs) -> anyhow::Result<()> {
    match args.command {
        CrlCommand::Show {
            dir,
            database,
            delta,
            out,
            json,
        } => {
            let config = load_config(&dir, database.as_deref())?;
            let pem = std::fs::read(&config.ca_issuing_certificate)
                .map_err(|e| anyhow::anyhow!("{}: {e}", config.ca_issuing_certificate.display()))?;
            let ca = X509::from_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{}: {e}", config.ca_issuing_certificate.display()))?;
            let issuer = keyward_server::service::name_to_string(ca.subject_name());
            let store = open_store(&config, database.is_some()).await?;
            let kind = if delta { CrlKind::Delta } else { CrlKind::Full };
            let latest = store.latest_crl(&issuer, kind).await?;
            store.close().await;
            let Some(crl) = latest else {
                anyhow::bail!("no {} CRL of {issuer} is recorded yet", kind.as_str());
            };
            let summary = summarize(&crl.der)?;
            if let Some(out) = &out {
                write_crl(out, &crl.der)?;
            }
            print(&summary, Some(&crl.facts), out.as_deref(), json)
        }
        CrlCommand::Fetch { url, out, json } => {
            if let Err(why) = http::check_url(&url) {
                return Err(input_error(why));
            }
            let der = http::get(&url, http::MAX_BYTES)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            let summary = summarize(&der)?;
            if let Some(out) = &out {
                write_crl(out, &der)?;
            }
            print(&summary, None, out.as_deref(), json)
        }
    }
}

/// Reads `der` with OpenSSL: a CRL, or an error saying it is not one.
fn summarize(der: &[u8]) -> anyhow::Result<Summary> {
    let crl = X509Crl::from_der(der).map_err(|e| anyhow::anyhow!("not a DER CRL: {e}"))?;
    let number = crl
        .extension::<CrlNumber>()
        .ok()
        .flatten()
        .and_then(|(_, n)| n.to_bn().ok())
        .and_then(|n| n.to_dec_str().ok())
        .map(|n| n.to_string());
    Ok(Summary {
        issuer: keyward_server::service::name_to_string(crl.issuer_name()),
        number,
        this_update: unix(crl.last_update()),
        next_update: crl.next_update().and_then(unix),
        entries: crl.get_revoked().map_or(0, |r| r.len()),
        size: der.len(),
    })
}

/// Seconds since the epoch of an ASN.1 time.
fn unix(at: &Asn1TimeRef) -> Option<i64> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(at).ok()?;
    Some(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

/// Writes the CRL to `out`: PEM when its name ends in `.pem`, else DER.
fn write_crl(out: &Path, der: &[u8]) -> anyhow::Result<()> {
    let pem = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pem"));
    let bytes = if pem {
        X509Crl::from_der(der)
            .and_then(|c| c.to_pem())
            .map_err(|e| anyhow::anyhow!("{}: encoding PEM: {e}", out.display()))?
    } else {
        der.to_vec()
    };
    keyward_crypto::files::write_public(out, &bytes)
        .map_err(|e| anyhow::anyhow!("--out {}: {e}", out.display()))
}

fn print(
    s: &Summary,
    facts: Option<&CrlFacts>,
    out: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    let time = |t: Option<i64>| t.map(rfc3339);
    if json {
        return print_json(&json!({
            "issuer": s.issuer,
            "number": s.number,
            "kind": facts.map(|f| f.kind().as_str()),
            "base_number": facts.and_then(|f| f.base_number),
            "this_update": time(s.this_update),
            "next_update": time(s.next_update),
            "entries": s.entries,
            "size": s.size,
            "out": out.map(|o| o.display().to_string()),
        }));
    }
    let kind = match facts {
        Some(f) => match f.base_number {
            Some(base) => format!(" (delta on CRL {base})"),
            None => " (full)".into(),
        },
        None => String::new(),
    };
    println!(
        "CRL {}{kind} of {}",
        s.number.as_deref().unwrap_or("without a number"),
        s.issuer
    );
    println!("this update: {}", time(s.this_update).unwrap_or_default());
    println!(
        "next update: {}",
        time(s.next_update).unwrap_or_else(|| "none".into())
    );
    println!("entries:     {}", s.entries);
    println!("size:        {} bytes", s.size);
    if let Some(out) = out {
        println!("written to   {}", out.display());
    }
    Ok(())
}
