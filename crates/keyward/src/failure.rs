//! How a failed command ends: its exit code (README, "Exit codes") and its message on stderr,
//! a line of text, or with `--json` one JSON object that a script can read:
//! `{"code": "...", "exit": N, "field": "..." | null, "message": "..."}`.

use serde::Serialize;

use crate::{audit, batch, output, p12, secure_printer, EXIT_INPUT};

/// A failure as `--json` prints it.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Report {
    /// A stable machine name of what went wrong: the server's code for a refusal (`invalid`,
    /// `forbidden`, `conflict`, …), else the kind of failure (`input`, `config`, `unreachable`, …).
    pub code: String,
    /// The exit code the command ends with.
    pub exit: i32,
    /// The option (without its dashes: `key-spec`), request field (`subject`, `CN`) or
    /// setting (`server.ca`) at fault, when one is named.
    pub field: Option<String>,
    /// The message the text form prints after `error: `.
    pub message: String,
}

impl Report {
    /// The report of `err`.
    pub(crate) fn of(err: &anyhow::Error) -> Report {
        let (code, field) = kind(err);
        let message = match err.downcast_ref::<keyward_ra::RaError>() {
            // Not a failure of the officer's: the expected first step of an M-of-N recovery.
            Some(keyward_ra::RaError::Refused { error, .. })
                if error.code == keyward_ra::APPROVAL_REQUIRED =>
            {
                format!("approval needed: {}", error.message)
            }
            _ => format!("{err:#}"),
        };
        Report {
            code: code.into(),
            exit: exit_code(err),
            field,
            message,
        }
    }

    /// The text form: `error: …`, but for a request that waits for approvals, which says so.
    fn line(&self) -> String {
        if self.code == keyward_ra::APPROVAL_REQUIRED {
            self.message.clone()
        } else {
            format!("error: {}", self.message)
        }
    }
}

/// Prints `err` on stderr (as JSON when `json`) and returns the exit code.
pub(crate) fn report(err: &anyhow::Error, json: bool) -> i32 {
    let report = Report::of(err);
    match serde_json::to_string(&report) {
        Ok(line) if json => eprintln!("{line}"),
        _ => eprintln!("{}", report.line()),
    }
    report.exit
}

/// Whether the command that clap matched (at any depth of subcommands) was given `--json`.
pub(crate) fn wants_json(matches: &clap::ArgMatches) -> bool {
    let mut m = matches;
    loop {
        if let Ok(Some(true)) = m.try_get_one::<bool>("json") {
            return true;
        }
        match m.subcommand() {
            Some((_, sub)) => m = sub,
            None => return false,
        }
    }
}

/// The machine code and the field at fault of `err`.
fn kind(err: &anyhow::Error) -> (&str, Option<String>) {
    use keyward_ra::RaError;
    if let Some(ra) = err.downcast_ref::<RaError>() {
        return match ra {
            RaError::Config { .. } => ("config", None),
            RaError::Officer { .. } => ("officer-credential", None),
            RaError::WrongSignaturePin(_) => ("wrong-signature-pin", None),
            RaError::Transport { .. } => ("unreachable", None),
            RaError::Untrusted { .. } => ("untrusted-server", Some("server.ca".into())),
            RaError::Refused { error, .. } => (error.code.as_str(), error.field.clone()),
            RaError::Input { field, .. } => ("input", Some(field.clone())),
            RaError::Crypto(_) => ("crypto", None),
            RaError::Internal(_) => ("internal", None),
            RaError::Undelivered(_) => ("undelivered", None),
            RaError::Io { .. } => ("io", None),
        };
    }
    if err.downcast_ref::<keyward_pkcs11::Pkcs11Error>().is_some() {
        return ("token", None);
    }
    if err.downcast_ref::<p12::WrongPin>().is_some() {
        return ("wrong-pin", None);
    }
    if err
        .downcast_ref::<secure_printer::DeliveryFailed>()
        .is_some()
    {
        return ("delivery-failed", None);
    }
    if err.downcast_ref::<batch::BatchIncomplete>().is_some() {
        return ("batch-incomplete", None);
    }
    if let Some(input) = err.downcast_ref::<output::InputError>() {
        return ("input", leading_option(&input.0));
    }
    if err.downcast_ref::<audit::AuditBroken>().is_some() {
        return ("audit-broken", None);
    }
    if err.downcast_ref::<keyward_server::ServerError>().is_some() {
        return ("config", None);
    }
    ("error", None)
}

/// The option an input error's message starts with (`--serial: …`, `--pin-letter 12 …`),
/// without its dashes as the RA's own input errors name it (`serial`, `pin-letter`): input
/// errors name the option first.
fn leading_option(message: &str) -> Option<String> {
    let rest = message.strip_prefix("--")?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_string())
}

/// Maps an error to a documented exit code (README, "Exit codes").
pub(crate) fn exit_code(err: &anyhow::Error) -> i32 {
    if let Some(ra) = err.downcast_ref::<keyward_ra::RaError>() {
        return ra.exit_code();
    }
    if let Some(token) = err.downcast_ref::<keyward_pkcs11::Pkcs11Error>() {
        return token.exit_code();
    }
    if err.downcast_ref::<p12::WrongPin>().is_some() {
        return p12::EXIT_WRONG_PIN;
    }
    if err
        .downcast_ref::<secure_printer::DeliveryFailed>()
        .is_some()
    {
        return secure_printer::EXIT_DELIVERY_FAILED;
    }
    if let Some(batch) = err.downcast_ref::<batch::BatchIncomplete>() {
        return batch.code;
    }
    if err.downcast_ref::<output::InputError>().is_some() {
        return EXIT_INPUT;
    }
    if err.downcast_ref::<audit::AuditBroken>().is_some() {
        return audit::EXIT_BROKEN;
    }
    if err.downcast_ref::<keyward_server::ServerError>().is_some() {
        return 3;
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_proto::ApiError;
    use keyward_ra::RaError;

    #[test]
    fn reports_carry_code_exit_field_and_message() {
        let refused = anyhow::Error::new(RaError::Refused {
            status: 400,
            error: ApiError {
                code: "invalid".into(),
                field: Some("subject".into()),
                message: "CN is missing".into(),
            },
        });
        assert_eq!(
            Report::of(&refused),
            Report {
                code: "invalid".into(),
                exit: 6,
                field: Some("subject".into()),
                message: "refused by the server (400, field subject): CN is missing".into(),
            }
        );
        let input = output::input_error("--serial 5g: not a hexadecimal serial");
        let report = Report::of(&input);
        assert_eq!(
            (report.code.as_str(), report.exit, report.field.as_deref()),
            ("input", 2, Some("serial"))
        );
        let waiting = Report::of(&anyhow::Error::new(RaError::Refused {
            status: 409,
            error: ApiError {
                code: "approval-required".into(),
                field: None,
                message: "approval request 4 is open until …".into(),
            },
        }));
        assert_eq!(
            (waiting.exit, waiting.code.as_str()),
            (13, "approval-required")
        );
        assert_eq!(
            waiting.line(),
            "approval needed: approval request 4 is open until …"
        );
        let other = Report::of(&anyhow::anyhow!("disk on fire"));
        assert_eq!(other.line(), "error: disk on fire");
        assert_eq!(
            (other.code.as_str(), other.exit, other.field),
            ("error", 1, None)
        );
        let json = serde_json::to_value(Report::of(&input)).unwrap();
        assert_eq!(
            json.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["code", "exit", "field", "message"]
        );
    }

    #[test]
    fn the_leading_option_is_the_field() {
        assert_eq!(
            leading_option("--pin-letter 12: no such letter").as_deref(),
            Some("pin-letter")
        );
        assert_eq!(leading_option("--out: exists").as_deref(), Some("out"));
        assert_eq!(leading_option("no option here"), None);
        assert_eq!(leading_option("-- alone"), None);
    }
}
