//! Where secrets come from: the officer's Signature PIN and the token PIN.
//!
//! Interactive use prompts without echo; scripts use files, the environment or stdin. Secrets
//! live in zeroizing buffers and are never logged.

use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use keyward_crypto::Pin;
use keyward_policy::letter_id;
use keyward_policy::pin::check_pin;
use keyward_policy::postal::postal_address;
use keyward_policy::PinProcedure;
use keyward_ra::issue::PinSource;
use zeroize::Zeroizing;

use crate::output::{input_error, read_small_text};

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

/// What the officer gave for the token PIN on the command line (`ra issue`).
#[derive(Debug, Default)]
pub(crate) struct PinOptions {
    /// `--pin-stdin`.
    pub pin_stdin: bool,
    /// `--pin-letter`.
    pub letter: Option<String>,
    /// `--unchecked-letter-id`.
    pub unchecked_letter_id: bool,
    /// `--pin-email`.
    pub email: Option<String>,
    /// `--pin-postal-address`.
    pub postal: Option<String>,
    /// `--pin-postal-address-file` (`-`: standard input).
    pub postal_file: Option<PathBuf>,
}

impl PinOptions {
    /// Checks what can be checked without the token procedure, before the server is asked
    /// anything: the letter ID's check digits, the postal address given as a flag.
    pub(crate) fn precheck(&self) -> anyhow::Result<()> {
        if let Some(letter) = &self.letter {
            checked_letter(letter, self.unchecked_letter_id)?;
        }
        if let Some(postal) = &self.postal {
            checked_postal(postal, "--pin-postal-address")?;
        }
        Ok(())
    }
}

/// A typed letter ID, its check digits right (or a bare number with `--unchecked-letter-id`).
fn checked_letter(text: &str, unchecked: bool) -> anyhow::Result<String> {
    letter_id::parse_required(text, unchecked)
        .map(|id| id.to_string())
        .map_err(|e| input_error(format!("--pin-letter: {e}")))
}

/// A postal address in its stored form; errors name `flag`.
fn checked_postal(text: &str, flag: &str) -> anyhow::Result<String> {
    postal_address(text).map_err(|e| input_error(format!("{flag}: {e}")))
}

/// The token PIN as the token procedure's PIN procedure says: typed or generated here
/// (`enter`, `show`), or chosen by the server (`letter`: the letter ID; `email`: the e-mail
/// or postal address), prompted for when interactive and not given.
pub(crate) fn token_pin(rules: &PinProcedure, given: PinOptions) -> anyhow::Result<TokenPin> {
    use keyward_policy::{MailDelivery, PinMethod};
    let not_here = |flag: &str| {
        input_error(format!(
            "{flag}: the PIN procedure {} has method {}, which does not use it",
            rules.name,
            rules.method.name()
        ))
    };
    let email = rules.method == PinMethod::Email;
    let print = email && rules.delivery == MailDelivery::Print;
    let postal_given = given.postal.is_some() || given.postal_file.is_some();
    if given.letter.is_some() && rules.method != PinMethod::Letter {
        return Err(not_here("--pin-letter"));
    }
    if given.unchecked_letter_id && rules.method != PinMethod::Letter {
        return Err(not_here("--unchecked-letter-id"));
    }
    if given.email.is_some() && !email {
        return Err(not_here("--pin-email"));
    }
    if given.email.is_some() && print {
        return Err(input_error(format!(
            "--pin-email: the PIN procedure {} prints the PIN letter for posting (delivery print): give the postal address with --pin-postal-address (or --pin-postal-address-file)",
            rules.name
        )));
    }
    if postal_given && !email {
        return Err(not_here("--pin-postal-address"));
    }
    if postal_given && !print {
        return Err(input_error(format!(
            "--pin-postal-address: the PIN procedure {} sends the PIN by e-mail (delivery smtp): give the e-mail address with --pin-email",
            rules.name
        )));
    }
    if given.pin_stdin && rules.method != PinMethod::Enter {
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
    let server = |source: PinSource| TokenPin {
        source,
        shown: None,
    };
    match rules.method {
        PinMethod::Show => Ok(local(keyward_crypto::generate_for(rules)?, true)),
        PinMethod::Enter if given.pin_stdin => {
            let pin = pin_from_stdin()?;
            check_pin(pin.as_str(), rules).map_err(|e| input_error(e.to_string()))?;
            Ok(local(pin, false))
        }
        PinMethod::Enter if std::io::stdin().is_terminal() => prompt_twice(rules),
        PinMethod::Enter => Err(input_error(
            "PIN: the PIN procedure is `enter`: pass --pin-stdin, or run interactively",
        )),
        PinMethod::Letter => {
            let typed = given_or_prompt(
                given.letter,
                "--pin-letter",
                "PIN letter ID, as printed with its check digits (NUMBER-CC): ",
            )?;
            Ok(server(PinSource::Letter {
                id: checked_letter(&typed, given.unchecked_letter_id)?,
                unchecked: given.unchecked_letter_id,
            }))
        }
        PinMethod::Email if print => Ok(server(PinSource::Post(postal(given)?))),
        PinMethod::Email => Ok(server(PinSource::Mail(given_or_prompt(
            given.email,
            "--pin-email",
            "PIN mailer address (e-mail): ",
        )?))),
    }
}

/// The postal address of a printed PIN letter: `--pin-postal-address`, else
/// `--pin-postal-address-file` (`-`: standard input), else typed at a prompt, one line at a
/// time, ending with an empty line.
fn postal(given: PinOptions) -> anyhow::Result<String> {
    if let Some(text) = given.postal {
        return checked_postal(&text, "--pin-postal-address");
    }
    let flag = "--pin-postal-address-file";
    if let Some(path) = given.postal_file {
        let text = if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .lock()
                .take(64 * 1024)
                .read_to_string(&mut text)
                .map_err(|e| input_error(format!("{flag} -: {e}")))?;
            text
        } else {
            read_small_text(&path, &flag[2..])?
        };
        return checked_postal(&text, flag);
    }
    if !std::io::stdin().is_terminal() {
        return Err(input_error(
            "--pin-postal-address: required by this token procedure's PIN procedure (or --pin-postal-address-file FILE, - for standard input, or run interactively)",
        ));
    }
    eprintln!("Postal address (end with an empty line):");
    let mut lines = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading standard input")?;
        if line.trim().is_empty() {
            break;
        }
        lines.push(line);
    }
    checked_postal(&lines.join("\n"), "--pin-postal-address")
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
