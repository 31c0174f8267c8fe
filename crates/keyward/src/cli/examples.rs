//! Every example in every `--help` is a command that parses, and fits 80 columns, so that an
//! officer can copy it from a terminal of that width (clap wraps longer lines, in the middle of an
//! argument if need be).

use clap::{CommandFactory as _, Parser as _};

use super::Cli;

/// Widest example line: two spaces short of 80 columns.
const MAX_LINE: usize = 78;

/// Every (command path, example command) of `cmd` and its subcommands.
fn examples(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, Vec<String>)>) {
    let path = format!("{path} {}", cmd.get_name()).trim().to_string();
    if let Some(text) = cmd.get_after_help() {
        let text = text.to_string();
        let mut joined = String::new();
        let mut lines = Vec::new();
        for line in text.lines().filter(|l| l.starts_with("  ")) {
            lines.push(line.to_string());
            match line.strip_suffix('\\') {
                Some(head) => joined.push_str(head),
                None => {
                    joined.push_str(line);
                    out.push((path.clone(), std::mem::take(&mut joined), lines.clone()));
                    lines.clear();
                }
            }
        }
    }
    for sub in cmd.get_subcommands() {
        examples(sub, &path, out);
    }
}

/// The `keyward …` commands of an example line: its pipeline and `&&` parts that run keyward
/// (after `sudo`), without redirections or a trailing comment; `None` if it does not split as a
/// shell line. Parts that run another program (`openssl`, `man`, `less`) are not ours to parse.
fn keyward_commands(example: &str) -> Option<Vec<Vec<String>>> {
    let words = shlex::split(example)?;
    let mut commands = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut words = words.into_iter().peekable();
    while let Some(word) = words.next() {
        match word.as_str() {
            "|" | "&&" | ";" => commands.push(std::mem::take(&mut current)),
            ">" | "<" | ">>" => {
                words.next();
            }
            w if w.starts_with('#') => break,
            _ => current.push(word),
        }
    }
    commands.push(current);
    Some(
        commands
            .into_iter()
            .map(|c| match c.first().map(String::as_str) {
                Some("sudo") => c[1..].to_vec(),
                _ => c,
            })
            .filter(|c| c.first().map(String::as_str) == Some("keyward"))
            .collect(),
    )
}

#[test]
fn every_help_example_parses_and_fits_80_columns() {
    let mut all = Vec::new();
    examples(&Cli::command(), "", &mut all);
    let mut problems = Vec::new();
    let mut parsed = 0;
    for (path, example, lines) in &all {
        for line in lines {
            if line.chars().count() > MAX_LINE {
                problems.push(format!("{path}: longer than {MAX_LINE}: {line}"));
            }
        }
        match keyward_commands(example) {
            None => problems.push(format!("{path}: not a shell line: {example}")),
            Some(commands) => {
                parsed += commands.len();
                for words in commands {
                    if let Err(e) = Cli::try_parse_from(&words) {
                        let kind = e.kind();
                        problems.push(format!("{path}: {example}: {kind:?}: {e}"));
                    }
                }
            }
        }
    }
    assert!(parsed > 40, "keyward commands parsed: {parsed}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
