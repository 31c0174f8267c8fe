//! Where secrets come from: the officer's Signature PIN and the token PIN.
//!
//! Interactive use prompts without echo; scripts use files, the environment or stdin. Secrets
//! live in zeroizing buffers and are never logged.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use anyhow::Context;
use keyward_crypto::Pin;
use keyward_policy::pin::{check_pin, PIN_ALPHABET};
use keyward_policy::PinProcedure;
use zeroize::Zeroizing;

use crate::output::input_error;

/// Environment variable holding the Signature PIN for scripts.
pub const SIGNATURE_PIN_ENV: &str = "KEYWARD_SIGNATURE_PIN";

/// The officer's Signature PIN: `--signature-pin-file`, else the environment, else a prompt.
pub fn signature_pin(file: Option<&Path>) -> anyhow::Result<Pin> {
    if let Some(path) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("--signature-pin-file {}", path.display()))?,
        );
        return Ok(Pin::new(text.trim_end_matches(['\r', '\n']).to_string()));
    }
    if let Ok(pin) = std::env::var(SIGNATURE_PIN_ENV) {
        return Ok(Pin::new(pin));
    }
    if std::io::stdin().is_terminal() {
        let pin =
            rpassword::prompt_password("Signature PIN: ").context("reading the Signature PIN")?;
        return Ok(Pin::new(pin));
    }
    Err(input_error(format!(
        "no Signature PIN: use --signature-pin-file FILE, set {SIGNATURE_PIN_ENV}, or run interactively"
    )))
}

/// A token PIN and whether it must be shown to the officer.
pub struct TokenPin {
    /// The PIN.
    pub pin: Pin,
    /// Generated here: show it once.
    pub show: bool,
}

/// Reads one line of stdin as the token PIN.
fn pin_from_stdin() -> anyhow::Result<Pin> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the PIN from standard input")?;
    Ok(Pin::new(line.trim_end_matches(['\r', '\n']).to_string()))
}

/// Generates a PIN the PIN procedure accepts.
pub fn generate(rules: &PinProcedure) -> anyhow::Result<Pin> {
    for _ in 0..100 {
        let pin = keyward_crypto::generate_pin(rules.generated_length, PIN_ALPHABET)?;
        if check_pin(pin.as_str(), rules).is_ok() {
            return Ok(pin);
        }
    }
    anyhow::bail!("could not generate a PIN that satisfies the PIN procedure")
}

/// The token PIN as the token procedure's PIN procedure says.
pub fn token_pin(rules: &PinProcedure, pin_stdin: bool) -> anyhow::Result<TokenPin> {
    use keyward_policy::PinMethod;
    match rules.method {
        PinMethod::Show => {
            if pin_stdin {
                return Err(input_error(
                    "--pin-stdin: this token procedure generates the PIN and shows it (PIN procedure show)",
                ));
            }
            Ok(TokenPin {
                pin: generate(rules)?,
                show: true,
            })
        }
        PinMethod::Enter if pin_stdin => {
            let pin = pin_from_stdin()?;
            check_pin(pin.as_str(), rules).map_err(|e| input_error(e.to_string()))?;
            Ok(TokenPin { pin, show: false })
        }
        PinMethod::Enter if std::io::stdin().is_terminal() => prompt_twice(rules),
        PinMethod::Enter => Err(input_error(
            "PIN: the PIN procedure is `enter`: pass --pin-stdin, or run interactively",
        )),
        other => Err(input_error(format!(
            "PIN: the PIN procedure `{}` is not available in this version",
            other.name()
        ))),
    }
}

/// Prompts twice; an empty first answer cancels, and (as in the seed) a generated PIN is shown
/// instead.
fn prompt_twice(rules: &PinProcedure) -> anyhow::Result<TokenPin> {
    loop {
        let first = Zeroizing::new(
            rpassword::prompt_password(format!(
                "Token PIN ({}-{} characters; empty to cancel and get a generated PIN): ",
                rules.min_length, rules.max_length
            ))
            .context("reading the PIN")?,
        );
        if first.is_empty() {
            eprintln!("Enter PIN cancelled: a generated PIN will be shown instead.");
            return Ok(TokenPin {
                pin: generate(rules)?,
                show: true,
            });
        }
        if let Err(e) = check_pin(&first, rules) {
            eprintln!("{e}");
            continue;
        }
        let second = Zeroizing::new(
            rpassword::prompt_password("Repeat the PIN: ").context("reading the PIN")?,
        );
        if *first != *second {
            eprintln!("The PINs differ; try again.");
            continue;
        }
        return Ok(TokenPin {
            pin: Pin::new(first.to_string()),
            show: false,
        });
    }
}
