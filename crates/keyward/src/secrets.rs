//! Where secrets come from: the officer's Signature PIN and the token PIN.
//!
//! Interactive use prompts without echo; scripts use files, the environment or stdin. Secrets
//! live in zeroizing buffers and are never logged.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use anyhow::Context;
use keyward_crypto::Pin;
use keyward_policy::pin::check_pin;
use keyward_policy::PinProcedure;
use keyward_ra::issue::PinSource;
use zeroize::Zeroizing;

use crate::output::input_error;

/// Environment variable holding the Signature PIN for scripts.
pub(crate) const SIGNATURE_PIN_ENV: &str = "KEYWARD_SIGNATURE_PIN";

/// The officer's Signature PIN: `--signature-pin-file`, else the environment, else a prompt.
pub(crate) fn signature_pin(file: Option<&Path>) -> anyhow::Result<Pin> {
    signature_pin_from(file, "--signature-pin-file")
}

/// The Signature PIN from the file given with `flag`, else [`SIGNATURE_PIN_ENV`], else a
/// prompt (also the user PIN of a smart card being enrolled).
pub(crate) fn signature_pin_from(file: Option<&Path>, flag: &str) -> anyhow::Result<Pin> {
    if let Some(path) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).with_context(|| format!("{flag} {}", path.display()))?,
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
        "no Signature PIN: use {flag} FILE, set {SIGNATURE_PIN_ENV}, or run interactively"
    )))
}

/// Where the token PIN comes from, and the PIN to show the officer once (generated here).
pub(crate) struct TokenPin {
    /// For the RA client.
    pub source: PinSource,
    /// Generated here: show it once.
    pub shown: Option<Pin>,
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

/// The token PIN as the token procedure's PIN procedure says: typed or generated here
/// (`enter`, `show`), or chosen by the server (`letter`: the letter ID; `email`: the PIN mailer
/// address), prompted for when interactive and not given.
pub(crate) fn token_pin(
    rules: &PinProcedure,
    pin_stdin: bool,
    letter: Option<String>,
    email: Option<String>,
) -> anyhow::Result<TokenPin> {
    use keyward_policy::PinMethod;
    let not_here = |flag: &str| {
        input_error(format!(
            "{flag}: the PIN procedure {} has method {}, which does not use it",
            rules.name,
            rules.method.name()
        ))
    };
    if letter.is_some() && rules.method != PinMethod::Letter {
        return Err(not_here("--pin-letter"));
    }
    if email.is_some() && rules.method != PinMethod::Email {
        return Err(not_here("--pin-email"));
    }
    if pin_stdin && rules.method != PinMethod::Enter {
        return Err(input_error(format!(
            "--pin-stdin: the PIN procedure {} has method {}: the PIN is not typed",
            rules.name,
            rules.method.name()
        )));
    }
    let local = |pin: Pin, show: bool| TokenPin {
        source: PinSource::Local(pin.clone()),
        shown: show.then_some(pin),
    };
    match rules.method {
        PinMethod::Show => Ok(local(keyward_crypto::generate_for(rules)?, true)),
        PinMethod::Enter if pin_stdin => {
            let pin = pin_from_stdin()?;
            check_pin(pin.as_str(), rules).map_err(|e| input_error(e.to_string()))?;
            Ok(local(pin, false))
        }
        PinMethod::Enter if std::io::stdin().is_terminal() => prompt_twice(rules),
        PinMethod::Enter => Err(input_error(
            "PIN: the PIN procedure is `enter`: pass --pin-stdin, or run interactively",
        )),
        PinMethod::Letter => Ok(TokenPin {
            source: PinSource::Letter(given_or_prompt(letter, "--pin-letter", "PIN letter ID: ")?),
            shown: None,
        }),
        PinMethod::Email => Ok(TokenPin {
            source: PinSource::Mail(given_or_prompt(
                email,
                "--pin-email",
                "PIN mailer address: ",
            )?),
            shown: None,
        }),
    }
}

/// A value from its flag, else typed at an interactive prompt.
fn given_or_prompt(value: Option<String>, flag: &str, prompt: &str) -> anyhow::Result<String> {
    if let Some(v) = value {
        return Ok(v);
    }
    if !std::io::stdin().is_terminal() {
        return Err(input_error(format!(
            "{flag}: required by this token procedure's PIN procedure (or run interactively)"
        )));
    }
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading standard input")?;
    let line = line.trim().to_string();
    if line.is_empty() {
        return Err(input_error(format!("{flag}: nothing entered")));
    }
    Ok(line)
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
            let pin = keyward_crypto::generate_for(rules)?;
            return Ok(TokenPin {
                source: PinSource::Local(pin.clone()),
                shown: Some(pin),
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
            source: PinSource::Local(Pin::new(first.to_string())),
            shown: None,
        });
    }
}
