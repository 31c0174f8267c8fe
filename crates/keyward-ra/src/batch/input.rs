//! Reading the input CSV: its header, columns and field sizes, one [`Row`] per data row.

use std::collections::HashMap;
use std::path::Path;

use super::error::{input_error, BatchError};

const COLUMNS: [&str; 6] = [
    "subject",
    "email",
    "key_spec",
    "pin_email",
    "pin_letter",
    "file",
];
const MAX_CSV_BYTES: u64 = 64 << 20;
const MAX_FIELD_CHARS: usize = 4096;

/// One data row of the input CSV.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1 for the first row after the header.
    pub number: usize,
    /// Line in the file (a quoted field may span lines: the line the row starts on).
    pub line: u64,
    /// Column `subject`.
    pub subject: String,
    /// Column `email`.
    pub email: Option<String>,
    /// Column `key_spec`.
    pub key_spec: Option<String>,
    /// Column `pin_email`.
    pub pin_email: Option<String>,
    /// Column `pin_letter`.
    pub pin_letter: Option<String>,
    /// Column `file`.
    pub file: Option<String>,
}

impl Row {
    pub(super) fn at(&self) -> String {
        format!("row {} (line {})", self.number, self.line)
    }
}

/// Reads and checks the CSV's structure: header, known columns, field sizes, a subject per row.
pub(super) fn read_rows(path: &Path) -> Result<Vec<Row>, BatchError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| input_error(format!("--csv {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(input_error(format!("--csv {shown}: not a file")));
    }
    if meta.len() > MAX_CSV_BYTES {
        return Err(input_error(format!(
            "--csv {shown}: larger than {} MiB",
            MAX_CSV_BYTES >> 20
        )));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| input_error(format!("--csv {shown}: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| input_error(format!("--csv {shown}: header row: {}", csv_reason(&e))))?
        .clone();
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.to_ascii_lowercase().replace('-', "_");
        let Some(known) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(input_error(format!(
                "--csv {shown}: header row, column {}: unknown column {:?} (the columns are {})",
                i + 1,
                shorten(h),
                COLUMNS.join(", ")
            )));
        };
        if index.insert(known, i).is_some() {
            return Err(input_error(format!(
                "--csv {shown}: header row: column {known} appears twice"
            )));
        }
    }
    if !index.contains_key("subject") {
        return Err(input_error(format!(
            "--csv {shown}: header row: no subject column (the columns are {}; subject is required)",
            COLUMNS.join(", ")
        )));
    }
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let number = n + 1;
        let record = record
            .map_err(|e| input_error(format!("--csv {shown}: row {number}: {}", csv_reason(&e))))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let at = format!("--csv {shown}: row {number} (line {line})");
        for (column, &i) in &index {
            if record
                .get(i)
                .is_some_and(|v| v.chars().count() > MAX_FIELD_CHARS)
            {
                return Err(input_error(format!(
                    "{at}, column {column}: longer than {MAX_FIELD_CHARS} characters"
                )));
            }
            if record
                .get(i)
                .is_some_and(|v| v.chars().any(|c| c.is_control() && c != '\n'))
            {
                return Err(input_error(format!(
                    "{at}, column {column}: contains control characters"
                )));
            }
        }
        let get = |column: &str| {
            index
                .get(column)
                .and_then(|&i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let subject = get("subject").ok_or_else(|| {
            input_error(format!(
                "{at}, column subject: empty (every row needs a subject)"
            ))
        })?;
        rows.push(Row {
            number,
            line,
            subject,
            email: get("email"),
            key_spec: get("key_spec"),
            pin_email: get("pin_email"),
            pin_letter: get("pin_letter"),
            file: get("file"),
        });
    }
    if rows.is_empty() {
        return Err(input_error(format!(
            "--csv {shown}: no rows after the header"
        )));
    }
    Ok(rows)
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len,
            len,
            pos,
        } => format!(
            "{}{len} fields where the header has {expected_len}",
            pos.as_ref()
                .map(|p| format!("line {}: ", p.line()))
                .unwrap_or_default()
        ),
        csv::ErrorKind::Utf8 { pos, err } => format!(
            "{}field {} is not UTF-8 text",
            pos.as_ref()
                .map(|p| format!("line {}: ", p.line()))
                .unwrap_or_default(),
            err.field() + 1
        ),
        _ => e.to_string(),
    }
}

pub(super) fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}
