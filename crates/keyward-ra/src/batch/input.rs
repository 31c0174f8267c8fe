//! Reading the input CSV: its header, columns and field sizes, one [`Row`] per data row.

use std::collections::HashMap;
use std::path::Path;

use super::error::{input_error, BatchError};
use super::Progress;

const COLUMNS: [&str; 7] = [
    "subject",
    "email",
    "key_spec",
    "pin_email",
    "pin_postal_address",
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
    /// Column `pin_postal_address`: lines separated by line breaks (a quoted cell) or `\n`.
    pub pin_postal_address: Option<String>,
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

/// The input CSV, read one row at a time (rows are never all held here): its header checked
/// by [`RowReader::open`], every row's structure by [`RowReader::count`], and read again from
/// the first row after [`RowReader::rewind`].
pub(super) struct RowReader<R = std::fs::File> {
    shown: String,
    reader: csv::Reader<R>,
    /// The known columns present, in [`COLUMNS`] order, with their index in the file.
    index: Vec<(&'static str, usize)>,
    /// Where the first data row starts.
    start: csv::Position,
    record: csv::StringRecord,
    /// Rows read since the start (or the last rewind).
    number: usize,
}

impl RowReader {
    /// Opens the CSV and checks its size and header: known columns, none twice, a subject.
    pub(super) fn open(path: &Path) -> Result<RowReader, BatchError> {
        let shown = path.display().to_string();
        let meta =
            std::fs::metadata(path).map_err(|e| input_error(format!("--csv {shown}: {e}")))?;
        if !meta.is_file() {
            return Err(input_error(format!("--csv {shown}: not a file")));
        }
        if meta.len() > MAX_CSV_BYTES {
            return Err(input_error(format!(
                "--csv {shown}: larger than {} MiB",
                MAX_CSV_BYTES >> 20
            )));
        }
        let file =
            std::fs::File::open(path).map_err(|e| input_error(format!("--csv {shown}: {e}")))?;
        RowReader::from_reader(shown, file)
    }
}

impl<R: std::io::Read + std::io::Seek> RowReader<R> {
    /// Checks the header of the CSV in `input` (`shown` names it in errors).
    pub(super) fn from_reader(shown: String, input: R) -> Result<RowReader<R>, BatchError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(input);
        let headers = reader
            .headers()
            .map_err(|e| input_error(format!("--csv {shown}: header row: {}", csv_reason(&e))))?
            .clone();
        let mut found: HashMap<&'static str, usize> = HashMap::new();
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
            if found.insert(known, i).is_some() {
                return Err(input_error(format!(
                    "--csv {shown}: header row: column {known} appears twice"
                )));
            }
        }
        if !found.contains_key("subject") {
            return Err(input_error(format!(
                "--csv {shown}: header row: no subject column (the columns are {}; subject is required)",
                COLUMNS.join(", ")
            )));
        }
        let index = COLUMNS
            .iter()
            .filter_map(|c| found.get(c).map(|&i| (*c, i)))
            .collect();
        let start = reader.position().clone();
        Ok(RowReader {
            shown,
            reader,
            index,
            start,
            record: csv::StringRecord::new(),
            number: 0,
        })
    }

    /// Reads every row once, checking its structure (field count, UTF-8, sizes, control
    /// characters, a subject), and rewinds: the number of rows, or the first bad row's error.
    pub(super) fn count(&mut self, progress: &dyn Progress) -> Result<usize, BatchError> {
        while self.next_row()?.is_some() {
            if self.number.is_multiple_of(1000) {
                progress.checking("reading rows", self.number, 0);
            }
        }
        let rows = self.number;
        if rows == 0 {
            return Err(input_error(format!(
                "--csv {}: no rows after the header",
                self.shown
            )));
        }
        self.rewind()?;
        Ok(rows)
    }

    /// Back to the first data row.
    pub(super) fn rewind(&mut self) -> Result<(), BatchError> {
        self.reader
            .seek(self.start.clone())
            .map_err(|e| input_error(format!("--csv {}: {e}", self.shown)))?;
        self.number = 0;
        Ok(())
    }

    /// The next row, checked as [`RowReader::count`] says; `None` after the last.
    pub(super) fn next_row(&mut self) -> Result<Option<Row>, BatchError> {
        let number = self.number + 1;
        let shown = &self.shown;
        let more = self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| input_error(format!("--csv {shown}: row {number}: {}", csv_reason(&e))))?;
        if !more {
            return Ok(None);
        }
        self.number = number;
        let record = &self.record;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let at = || format!("--csv {shown}: row {number} (line {line})");
        for &(column, i) in &self.index {
            if record
                .get(i)
                .is_some_and(|v| v.chars().count() > MAX_FIELD_CHARS)
            {
                return Err(input_error(format!(
                    "{}, column {column}: longer than {MAX_FIELD_CHARS} characters",
                    at()
                )));
            }
            if record
                .get(i)
                .is_some_and(|v| v.chars().any(|c| c.is_control() && c != '\n'))
            {
                return Err(input_error(format!(
                    "{}, column {column}: contains control characters",
                    at()
                )));
            }
        }
        let get = |column: &str| {
            self.index
                .iter()
                .find(|(c, _)| *c == column)
                .and_then(|&(_, i)| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let subject = get("subject").ok_or_else(|| {
            input_error(format!(
                "{}, column subject: empty (every row needs a subject)",
                at()
            ))
        })?;
        Ok(Some(Row {
            number,
            line,
            subject,
            email: get("email"),
            key_spec: get("key_spec"),
            pin_email: get("pin_email"),
            pin_postal_address: get("pin_postal_address"),
            pin_letter: get("pin_letter"),
            file: get("file"),
        }))
    }
}

/// Checks a whole CSV held in memory as `keyward ra batch` does (header, columns, field sizes,
/// control characters, a subject per row: [`RowReader::count`], then every row read again),
/// naming it `shown` in errors. For the fuzzer; `ra batch` streams the file instead.
pub fn parse_rows(shown: &str, csv: &[u8]) -> Result<Vec<Row>, BatchError> {
    struct Silent;
    impl Progress for Silent {
        fn row_started(&self, _: &Row) {}
        fn row_finished(&self, _: &Row, _: &super::ResultRecord) {}
    }
    let mut reader = RowReader::from_reader(shown.to_string(), std::io::Cursor::new(csv))?;
    let count = reader.count(&Silent)?;
    let mut rows = Vec::with_capacity(count);
    while let Some(row) = reader.next_row()? {
        rows.push(row);
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
