//! `keyward pin-letters …`: pre-generated PIN/PUK letters, printed for sealed mailers.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use keyward_mailer::letters::pin_letter;
use keyward_mailer::pdf::{self, Letter};
use keyward_policy::letter_id;
use keyward_ra::pins::PinLetterSearch;

use crate::cli::{PinLettersArgs, PinLettersCommand};
use crate::output::{input_error, print_json, print_results};
use crate::ra::Session;

/// `keyward pin-letters`.
pub(crate) async fn run(args: PinLettersArgs) -> anyhow::Result<()> {
    match args.command {
        PinLettersCommand::Create {
            count,
            first_id,
            pin_procedure,
            out,
            force,
            json,
        } => {
            check_out(&out, force)?;
            let session = Session::from_args(&args.client)?;
            create(&session, count, &first_id, &pin_procedure, &out, json).await
        }
        PinLettersCommand::List {
            first,
            unused,
            used,
            voided,
            next_free,
            procedure,
            limit,
            json,
        } => {
            if let Some(first) = &first {
                letter_id::parse(first).map_err(|e| input_error(format!("--first: {e}")))?;
            }
            let session = Session::from_args(&args.client)?;
            if next_free {
                return self::next_free(&session, first, procedure, json).await;
            }
            let search = PinLetterSearch {
                first,
                used: match (used, unused) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                voided: voided.then_some(true),
                procedure,
                limit,
            };
            let found = session.client.pin_letters(&search).await?;
            print_results(
                &found,
                json,
                &[
                    "LETTER ID",
                    "PIN PROCEDURE",
                    "CREATED",
                    "CREATED BY",
                    "USED",
                    "CERTIFICATE IDS",
                    "VOIDED",
                ],
                |l| {
                    vec![
                        l.printed_id.clone(),
                        l.pin_procedure.clone(),
                        l.created_at.clone(),
                        l.created_by.clone(),
                        l.used_at.clone().unwrap_or_else(|| "-".into()),
                        l.certificate_ids.clone().unwrap_or_else(|| "-".into()),
                        match (&l.voided_at, &l.void_reason) {
                            (Some(at), Some(reason)) => format!("{at} ({reason})"),
                            _ => "-".into(),
                        },
                    ]
                },
                "No PIN letters match.",
            )
        }
        PinLettersCommand::Void {
            id,
            reason,
            unchecked_letter_id,
            json,
        } => {
            // The ID is checked before the officer's key is even opened: a typo voids nothing.
            letter_id::parse_required(&id, unchecked_letter_id)
                .map_err(|e| input_error(format!("ID: {e}")))?;
            if reason.trim().is_empty() {
                return Err(input_error("--reason: say why the letter is voided"));
            }
            let session = Session::from_args(&args.client)?;
            let letter = session
                .client
                .void_pin_letter(&id, unchecked_letter_id, &reason)
                .await?;
            if json {
                return print_json(&letter);
            }
            println!(
                "Voided PIN letter {} (PIN procedure {}): it will never seal a token. Destroy the letter.",
                letter.printed_id, letter.pin_procedure
            );
            Ok(())
        }
    }
}

/// `pin-letters list --next-free`: the lowest unused, not voided letter of `procedure`.
async fn next_free(
    s: &Session,
    first: Option<String>,
    procedure: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let procedure = procedure.unwrap_or_default();
    let search = PinLetterSearch {
        first: first.clone(),
        used: Some(false),
        voided: Some(false),
        procedure: Some(procedure.clone()),
        limit: Some(1),
    };
    let next = s.client.pin_letters(&search).await?.into_iter().next();
    if json {
        return print_json(&next);
    }
    match next {
        Some(l) => println!(
            "Next free PIN letter of PIN procedure {procedure}: {} (created {} by {})",
            l.printed_id, l.created_at, l.created_by
        ),
        None => println!(
            "No free PIN letter of PIN procedure {procedure}{}: create more with `keyward pin-letters create`.",
            first.map(|f| format!(" from {f} on")).unwrap_or_default()
        ),
    }
    Ok(())
}

/// Refuses an output file that exists (without --force) or whose directory does not.
pub(crate) fn check_out(path: &Path, force: bool) -> anyhow::Result<()> {
    if path.is_dir() {
        return Err(input_error(format!(
            "--out: {} is a directory",
            path.display()
        )));
    }
    if path.exists() && !force {
        return Err(input_error(format!(
            "--out: {} exists (use --force to overwrite)",
            path.display()
        )));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(input_error(format!(
            "--out: directory {} does not exist",
            parent.display()
        )));
    }
    Ok(())
}

async fn create(
    s: &Session,
    count: u32,
    first_id: &str,
    pin_procedure: &str,
    out: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let spinner = indicatif::ProgressBar::new_spinner();
    if std::io::stderr().is_terminal() && !json {
        spinner.set_message(format!("creating {count} PIN/PUK letters…"));
        spinner.enable_steady_tick(Duration::from_millis(120));
    } else {
        spinner.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let created = s
        .client
        .create_pin_letters(pin_procedure, first_id, count)
        .await?;
    spinner.set_message(format!("rendering {count} letters as PDF…"));
    let procedure = created.batch.pin_procedure.clone();
    let letters: Vec<Letter> = created
        .letters
        .iter()
        .map(|l| pin_letter(l, &procedure))
        .collect();
    drop(created.letters);
    let bytes = tokio::task::spawn_blocking(move || pdf::render(&letters))
        .await
        .context("PDF rendering was interrupted")??;
    keyward_crypto::files::write_secret(out, &bytes)
        .with_context(|| format!("writing {}", out.display()))?;
    spinner.finish_and_clear();
    let batch = created.batch;
    if json {
        return print_json(&json!({
            "batch": batch.batch,
            "pin_procedure": batch.pin_procedure,
            "first_id": batch.first_id,
            "last_id": batch.last_id,
            "count": count,
            "pdf": out,
        }));
    }
    println!(
        "Created PIN letters {} to {} ({count}, PIN procedure {}) in {:.1} s",
        batch.first_id,
        batch.last_id,
        batch.pin_procedure,
        started.elapsed().as_secs_f64()
    );
    println!(
        "Wrote {} (mode 0600): print it for sealed mailers, then destroy the file.",
        out.display()
    );
    Ok(())
}
