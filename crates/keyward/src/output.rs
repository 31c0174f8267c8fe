//! Output helpers: JSON for scripts, aligned text for people.

use serde::Serialize;

/// Bad command-line input that clap cannot check (exit code 2). Names the option at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct InputError(pub String);

/// Refuses with an [`InputError`].
pub(crate) fn input_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(message.into()))
}

/// Reads a small UTF-8 text file named by option `--field` (at most 64 KiB); every failure is
/// an input error naming the option.
pub(crate) fn read_small_text(path: &std::path::Path, field: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| input_error(format!("--{field} {}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(64 * 1024 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| input_error(format!("--{field} {}: {e}", path.display())))?;
    if bytes.len() > 64 * 1024 {
        return Err(input_error(format!(
            "--{field} {}: larger than 64 KiB",
            path.display()
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| input_error(format!("--{field} {}: not UTF-8 text", path.display())))
}

/// Prints a value as pretty JSON on stdout, with every invisible or reordering character
/// written as a JSON `\uXXXX` escape: the same JSON to a program, and a terminal shows a name
/// issued with a bidi control as it is stored.
pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!(
        "{}",
        escape_hidden_json(&serde_json::to_string_pretty(value)?)
    );
    Ok(())
}

/// `json` with the characters [`keyward_policy::subject::is_hidden`] finds escaped, but for the
/// layout's own line breaks (serde already escapes controls inside strings, and other raw
/// characters only occur inside strings, where an escape means the same).
fn escape_hidden_json(json: &str) -> std::borrow::Cow<'_, str> {
    let is_hidden = |c: char| c != '\n' && keyward_policy::subject::is_hidden(c);
    if !json.chars().any(is_hidden) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_hidden(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Prints rows as an aligned table with a header; a cell with an invisible or reordering
/// character shows it escaped (`\u{202E}`), so that no name can hide or reorder the text
/// around it.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) {
    print_table_fitted(header, rows, true);
}

/// As [`print_table`], fitted to [`crate::table::WIDTH`] columns unless `wide`: the widest
/// cells wrap onto continuation lines.
pub(crate) fn print_table_fitted(header: &[&str], rows: &[Vec<String>], wide: bool) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| keyward_policy::subject::printable(cell).into_owned())
                .collect()
        })
        .collect();
    let width = (!wide).then_some(crate::table::WIDTH);
    for line in crate::table::render(header, &rows, width) {
        println!("{line}");
    }
}

/// A table fitted to [`crate::table::WIDTH`] columns with a note under each row (indented,
/// wrapped): for a long text such as a description, which would make a column of its own too
/// narrow to read.
pub(crate) fn print_table_noted(header: &[&str], rows: &[Vec<String>], notes: &[String]) {
    let shown = |text: &str| keyward_policy::subject::printable(text).into_owned();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| shown(cell)).collect())
        .collect();
    let width = crate::table::WIDTH;
    let mut blocks = crate::table::render_rows(header, &rows, Some(width)).into_iter();
    for line in blocks.next().unwrap_or_default() {
        println!("{line}");
    }
    for (block, note) in blocks.zip(notes) {
        for line in block {
            println!("{line}");
        }
        if !note.is_empty() {
            for line in crate::table::wrap(&shown(note), width - 4) {
                println!("    {line}");
            }
        }
    }
}

/// Search results: JSON for scripts, else a table with one row per item and a note on stderr
/// when nothing matched.
pub(crate) fn print_results<T: Serialize>(
    items: &[T],
    json: bool,
    header: &[&str],
    row: impl Fn(&T) -> Vec<String>,
    none: &str,
) -> anyhow::Result<()> {
    if json {
        return print_json(&items);
    }
    let rows: Vec<Vec<String>> = items.iter().map(row).collect();
    print_table(header, &rows);
    if items.is_empty() {
        eprintln!("{none}");
    }
    Ok(())
}

/// An administration error with the exit code it has always had: 2 for input, the token's
/// (wrong PIN 4) or the configuration's (3) own codes, else 1.
pub(crate) fn admin_error(e: keyward_admin::AdminError) -> anyhow::Error {
    use keyward_admin::AdminError as A;
    match e {
        A::Input(message) => input_error(message),
        A::Server(e) => anyhow::Error::new(e),
        A::Token(e) => anyhow::Error::new(e),
        other => anyhow::Error::new(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_output_escapes_hidden_characters_and_means_the_same() {
        let value = serde_json::json!({ "subject": "CN=Eve\u{202E}gnp.exe", "tag": "a\u{E0041}" });
        let raw = serde_json::to_string_pretty(&value).unwrap();
        let shown = escape_hidden_json(&raw);
        assert!(shown.contains("Eve\\u202egnp.exe"), "{shown}");
        assert!(shown.contains("a\\udb40\\udc41"), "{shown}");
        assert!(!shown
            .chars()
            .any(|c| c != '\n' && keyward_policy::subject::is_hidden(c)));
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, value);
        let plain = serde_json::to_string(&serde_json::json!({ "subject": "CN=Jörg" })).unwrap();
        assert!(matches!(
            escape_hidden_json(&plain),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
