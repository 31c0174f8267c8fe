//! `keyward secure-printer …`: drains the PIN mail queue. The server sends SMTP mail itself;
//! PIN letters that must be printed come back here and are written as a PDF.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use keyward_mailer::letters::pin_mail_letters;
use keyward_mailer::pdf;
use keyward_proto::{PinMailInfo, PinMailSecret};
use keyward_ra::pins::Delivery;
use keyward_store::PinMailState;

use crate::cli::{SecurePrinterArgs, SecurePrinterCommand};
use crate::output::{input_error, print_json, print_results};
use crate::ra::Session;

/// Exit code of a run in which some PIN mail could not be delivered.
pub(crate) const EXIT_DELIVERY_FAILED: i32 = 8;

/// Some PIN mail was not delivered. A failed attempt below `pin-mailer.max-attempts` leaves
/// the mail `queued` for the next run; the last allowed attempt marks it `failed`, and only a
/// requeue brings it back. The message points to the state each of them is in.
#[derive(Debug, thiserror::Error)]
#[error("{}", delivery_failed_text(*.retried, *.given_up))]
pub(crate) struct DeliveryFailed {
    /// Still `queued`: tried again on the next run.
    pub retried: usize,
    /// Now `failed`: no more attempts until requeued.
    pub given_up: usize,
}

fn delivery_failed_text(retried: usize, given_up: usize) -> String {
    let mut parts = Vec::new();
    if retried > 0 {
        parts.push(format!(
            "{retried} still queued, tried again on the next run (attempts and last error: \
             `keyward secure-printer queue --state queued`)"
        ));
    }
    if given_up > 0 {
        parts.push(format!(
            "{given_up} marked failed after its last attempt (pin-mailer.max-attempts): \
             `keyward secure-printer queue --state failed`, and once the cause is fixed \
             `keyward secure-printer requeue ID`"
        ));
    }
    format!(
        "{} PIN mail(s) not delivered: {}",
        retried + given_up,
        parts.join("; ")
    )
}

/// `keyward secure-printer`.
pub(crate) async fn run(args: SecurePrinterArgs) -> anyhow::Result<()> {
    let session = Session::from_args(&args.client)?;
    match args.command {
        SecurePrinterCommand::Run {
            out_dir,
            limit,
            watch,
            json,
        } => {
            if !out_dir.is_dir() {
                return Err(input_error(format!(
                    "--out-dir: {} is not a directory",
                    out_dir.display()
                )));
            }
            if !(1..=1000).contains(&limit) {
                return Err(input_error("--limit: 1 to 1000"));
            }
            let Some(every) = watch else {
                return round(&session, &out_dir, limit, json).await;
            };
            loop {
                if let Err(e) = round(&session, &out_dir, limit, json).await {
                    eprintln!("error: {e:#}");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(every.max(1))) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            }
        }
        SecurePrinterCommand::Queue { state, limit, json } => {
            let found = session.client.pin_mail(state.as_deref(), limit).await?;
            let none = match &state {
                Some(state) => format!("No PIN mail is {state}."),
                None => "The PIN mail queue is empty.".to_string(),
            };
            print_results(
                &found,
                json,
                &[
                    "ID",
                    "STATE",
                    "DELIVERY",
                    "RECIPIENT",
                    "CERTIFICATE IDS",
                    "ATTEMPTS",
                    "LAST ERROR",
                ],
                |m| {
                    vec![
                        m.id.clone(),
                        m.state.clone(),
                        m.delivery.clone(),
                        m.recipient.clone(),
                        m.certificate_ids.clone(),
                        m.attempts.to_string(),
                        m.last_error.clone().unwrap_or_else(|| "-".into()),
                    ]
                },
                &none,
            )
        }
        SecurePrinterCommand::Requeue { ids } => {
            let done = session.client.requeue_pin_mail(&ids).await?;
            println!("Requeued PIN mail {}", done.join(", "));
            Ok(())
        }
    }
}

/// Writes the PIN letters to print and returns the PDF path.
async fn print(
    out_dir: &Path,
    to_print: &[PinMailInfo],
    secrets: &[PinMailSecret],
) -> anyhow::Result<std::path::PathBuf> {
    let letters = pin_mail_letters(to_print, secrets).map_err(anyhow::Error::msg)?;
    let bytes = tokio::task::spawn_blocking(move || pdf::render(&letters))
        .await
        .context("PDF rendering was interrupted")??;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let first = to_print.first().map(|m| m.id.as_str()).unwrap_or("0");
    let path = out_dir.join(format!("pin-mail-{stamp}-{first}.pdf"));
    keyward_crypto::files::write_secret(&path, &bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// One round: deliver, print, confirm, report.
async fn round(s: &Session, out_dir: &Path, limit: u32, json: bool) -> anyhow::Result<()> {
    let Delivery { report, to_print } = s.client.deliver_pin_mail(limit).await?;
    let mut printed = Vec::new();
    let mut pdf_path = None;
    if !report.to_print.is_empty() {
        let path = print(out_dir, &report.to_print, &to_print).await?;
        let ids: Vec<String> = report.to_print.iter().map(|m| m.id.clone()).collect();
        printed = s.client.pin_mail_printed(&ids).await?;
        pdf_path = Some(path);
    }
    drop(to_print);
    if json {
        print_json(&json!({
            "sent": report.sent,
            "printed": printed,
            "pdf": pdf_path,
            "failed": report.failed,
        }))?;
    } else {
        for m in &report.sent {
            println!(
                "sent     PIN mail {} to {} (Certificate ID {})",
                m.id, m.recipient, m.certificate_ids
            );
        }
        for m in &printed {
            println!(
                "printed  PIN mail {} for {} (Certificate ID {})",
                m.id, m.recipient, m.certificate_ids
            );
        }
        if let Some(path) = &pdf_path {
            println!(
                "Wrote {} (mode 0600): print it, then destroy the file.",
                path.display()
            );
        }
        for m in &report.failed {
            println!(
                "FAILED   PIN mail {} to {} (attempt {}, now {}): {}",
                m.id,
                m.recipient,
                m.attempts,
                m.state,
                m.last_error.as_deref().unwrap_or("?")
            );
        }
        if report.sent.is_empty() && printed.is_empty() && report.failed.is_empty() {
            println!("The PIN mail queue is empty.");
        }
    }
    if !report.failed.is_empty() {
        let given_up = report
            .failed
            .iter()
            .filter(|m| m.state == PinMailState::Failed.as_str())
            .count();
        return Err(DeliveryFailed {
            retried: report.failed.len() - given_up,
            given_up,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_names_the_state_each_mail_is_in() {
        let retried = DeliveryFailed {
            retried: 2,
            given_up: 0,
        }
        .to_string();
        assert!(retried.starts_with("2 PIN mail(s) not delivered: 2 still queued"));
        assert!(retried.contains("queue --state queued") && !retried.contains("--state failed"));
        let both = DeliveryFailed {
            retried: 1,
            given_up: 1,
        }
        .to_string();
        assert!(both.contains("queue --state queued") && both.contains("queue --state failed"));
        assert!(both.contains("requeue ID"), "{both}");
    }
}
