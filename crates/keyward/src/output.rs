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

/// Prints a value as pretty JSON on stdout.
pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints rows as an aligned table with a header.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                out.push_str(cell);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
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
