//! `keyward p12 inspect`: the structure of any PKCS#12, as an indented tree or as JSON.
//!
//! The PIN comes from `--pin-file`, `--pin-stdin`, `--ask-pin` (a terminal prompt) or
//! `KEYWARD_P12_PIN`, in that order; without one only what is readable without it is shown.
//! Exit codes: 0 ok, 2 not a PKCS#12 / damaged / bad input, 4 wrong PIN (the report is still
//! printed: the outer structure does not need the PIN).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use keyward_crypto::p12_inspect::{inspect, render, MacStatus, P12Report};
use keyward_crypto::CryptoError;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::{P12Args, P12Command, P12InspectArgs};
use crate::output::{input_error, print_json};

/// Environment variable holding the PKCS#12 PIN for scripts.
pub(crate) const P12_PIN_ENV: &str = "KEYWARD_P12_PIN";

/// Exit code for a wrong PIN (README, "Exit codes").
/// Exit code of a wrong PIN (as for a wrong Signature PIN).
pub(crate) const EXIT_WRONG_PIN: i32 = 4;

/// The PIN given does not open the file (the report was printed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct WrongPin(pub String);

/// Runs a `keyward p12` command.
pub(crate) fn run(args: P12Args) -> anyhow::Result<()> {
    match args.command {
        P12Command::Inspect(args) => inspect_command(args),
    }
}

/// Where the PIN came from, for messages.
struct GivenPin {
    pin: Zeroizing<String>,
    source: String,
}

fn first_line(text: &str) -> Zeroizing<String> {
    Zeroizing::new(
        text.lines()
            .next()
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string(),
    )
}

fn read_pin(args: &P12InspectArgs) -> anyhow::Result<Option<GivenPin>> {
    if let Some(path) = &args.pin_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| input_error(format!("--pin-file {}: {e}", path.display())))?,
        );
        return Ok(Some(GivenPin {
            pin: first_line(&text),
            source: format!("--pin-file {}", path.display()),
        }));
    }
    if args.pin_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the PIN from standard input")?;
        return Ok(Some(GivenPin {
            pin: first_line(&line),
            source: "--pin-stdin".into(),
        }));
    }
    if args.ask_pin {
        if !std::io::stdin().is_terminal() {
            return Err(input_error(
                "--ask-pin: standard input is not a terminal; use --pin-stdin or --pin-file",
            ));
        }
        let pin = Zeroizing::new(rpassword::prompt_password("PIN: ").context("reading the PIN")?);
        return Ok(Some(GivenPin {
            pin,
            source: "the prompt".into(),
        }));
    }
    Ok(std::env::var(P12_PIN_ENV).ok().map(|pin| GivenPin {
        pin: Zeroizing::new(pin),
        source: P12_PIN_ENV.into(),
    }))
}

/// The JSON document: the file name and the library's report.
#[derive(Serialize)]
struct JsonOut<'a> {
    file: String,
    #[serde(flatten)]
    report: &'a P12Report,
}

fn inspect_command(args: P12InspectArgs) -> anyhow::Result<()> {
    let file = args.file.display().to_string();
    let der = std::fs::read(&args.file).map_err(|e| input_error(format!("{file}: {e}")))?;
    let given = read_pin(&args)?;
    // RC2-40 (`openssl pkcs12 -export -legacy`, Windows) and RC4 live in OpenSSL 3's legacy
    // provider; without it those safes are reported as not decryptable.
    let _legacy = openssl::provider::Provider::try_load(None, "legacy", true).ok();
    let report = match inspect(&der, given.as_ref().map(|g| g.pin.as_str())) {
        Ok(report) => report,
        Err(CryptoError::NotPkcs12(detail)) => {
            let detail = if der.starts_with(b"-----BEGIN") {
                "PEM text; a PKCS#12 file is binary".to_string()
            } else {
                detail
            };
            return Err(input_error(format!(
                "{file}: not a PKCS#12 file ({detail})"
            )));
        }
        Err(CryptoError::BadPkcs12(detail)) => {
            return Err(input_error(format!("{file}: {detail}")))
        }
        Err(CryptoError::WrongPin) => {
            let source = given.as_ref().map_or("", |g| g.source.as_str());
            return Err(WrongPin(format!(
                "{file}: wrong PIN (from {source}): it holds a NUL character"
            ))
            .into());
        }
        Err(other) => return Err(anyhow::Error::new(other).context(file)),
    };
    if args.json {
        print_json(&JsonOut {
            file: file.clone(),
            report: &report,
        })?;
    } else {
        print!("{}", render(&file, &report));
    }

    let source = given.as_ref().map_or(String::new(), |g| g.source.clone());
    drop(given);
    if let Some(why) = report.wrong_pin_reason() {
        std::io::stdout().flush().context("writing the report")?;
        return Err(WrongPin(format!("{file}: wrong PIN (from {source}): {why}")).into());
    }
    if report.mac.as_ref().map(|m| m.status) == Some(MacStatus::Damaged) {
        return Err(input_error(format!(
            "{file}: damaged: the MAC does not verify although the PIN (from {source}) opens the \
             contents (or the MAC has its own password)"
        )));
    }
    Ok(())
}
