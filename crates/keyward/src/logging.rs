//! Where logs go and how they look: always stderr (stdout is the commands' output), colour
//! only on a terminal and never with `NO_COLOR`, the level from `KEYWARD_LOG` (else the
//! conventional `RUST_LOG`), by default `info` for the long-running commands and `warn` for the
//! others, so that a command's own output is not mixed with log lines.

use std::io::IsTerminal;

/// The default filter of the long-running commands (`server`, `ocsp`).
const SERVICE_DEFAULT: &str = "info,hyper=warn,sqlx=warn";
/// The default filter of every other command.
const COMMAND_DEFAULT: &str = "warn";

/// The filter directives: `KEYWARD_LOG`, else `RUST_LOG`, else the default (empty values count
/// as unset).
pub(crate) fn filter(keyward_log: Option<&str>, rust_log: Option<&str>, service: bool) -> String {
    let set = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    set(keyward_log)
        .or_else(|| set(rust_log))
        .unwrap_or_else(|| {
            if service {
                SERVICE_DEFAULT
            } else {
                COMMAND_DEFAULT
            }
            .to_string()
        })
}

/// Whether to colour: stderr is a terminal and `NO_COLOR` is unset or empty (no-color.org).
pub(crate) fn colour(stderr_is_terminal: bool, no_color: Option<&str>) -> bool {
    stderr_is_terminal && no_color.is_none_or(str::is_empty)
}

/// Installs the subscriber for this process.
pub(crate) fn init(service: bool) {
    let var = |name: &str| std::env::var(name).ok();
    let directives = filter(
        var("KEYWARD_LOG").as_deref(),
        var("RUST_LOG").as_deref(),
        service,
    );
    // A filter that does not parse falls back to the default rather than to no logs at all.
    let env_filter = tracing_subscriber::EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("warning: KEYWARD_LOG/RUST_LOG {directives:?} ignored: {e}");
        tracing_subscriber::EnvFilter::new(filter(None, None, service))
    });
    tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            var("NO_COLOR").as_deref(),
        ))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_comes_from_keyward_log_then_rust_log() {
        for (keyward, rust, service, want) in [
            (None, None, true, SERVICE_DEFAULT),
            (None, None, false, COMMAND_DEFAULT),
            (Some("debug"), Some("trace"), false, "debug"),
            (None, Some("trace"), false, "trace"),
            (Some(""), Some("info"), false, "info"),
            (Some("  "), None, true, SERVICE_DEFAULT),
        ] {
            assert_eq!(filter(keyward, rust, service), want, "{keyward:?} {rust:?}");
        }
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("")));
        assert!(!colour(true, Some("1")));
        assert!(!colour(false, None));
    }
}
