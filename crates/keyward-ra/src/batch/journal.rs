//! The files of a batch in its output directory: the batch state, `results.csv`, `pins.csv`
//! and the `.pending/row-N.json` files, written as rows finish and read back on a resume.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use keyward_crypto::files::write_secret;
use keyward_proto::IssueRequest;

use super::error::{file_error, BatchError};

pub(super) const STATE_FILE: &str = ".keyward-batch.json";
pub(super) const PENDING_DIR: &str = ".pending";
pub(super) const PINS_FILE: &str = "pins.csv";
pub(super) const RESULTS_FILE: &str = "results.csv";

/// `.keyward-batch.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct State {
    pub(super) version: u32,
    pub(super) batch_id: String,
    pub(super) procedure: String,
    pub(super) key_spec: Option<String>,
    pub(super) csv: String,
    pub(super) results: PathBuf,
    pub(super) started: i64,
}

/// One record of the results CSV. Holds no secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultRecord {
    /// The row number (1 for the first row after the header).
    pub row: usize,
    /// The row's subject.
    pub subject: String,
    /// `issued`, `failed`, or `skipped` (not attempted: the batch stopped first).
    pub status: String,
    /// Space-separated when the token holds several certificates.
    pub certificate_ids: String,
    /// The certificates' serial numbers (hex), space-separated.
    pub serials: String,
    /// The PKCS#12 written.
    pub p12: String,
    /// The certificate files written, space-separated.
    pub certificate_files: String,
    /// `shown in pins.csv`, `emailed to X`, `posted to X`, `letter N`.
    pub pin: String,
    /// The row's request ID.
    pub request_id: String,
    /// Why the row failed or was skipped.
    pub error: String,
}

/// A line of pins.csv.
pub(super) struct PinLine {
    pub(super) subject: String,
    pub(super) p12: String,
    pub(super) pin: Zeroizing<String>,
}

/// `.pending/row-N.json`: a row whose request may have reached the server.
#[derive(Serialize, Deserialize)]
pub(super) struct PendingFile {
    pub(super) row: usize,
    pub(super) request_id: String,
    pub(super) file: String,
    /// The exact request (PIN procedure `show`, RA-local keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) request: Option<IssueRequest>,
    /// The token PIN the keys are encrypted under (the same protection as the finished token
    /// beside pins.csv).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) pin: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) keys: Vec<PendingKey>,
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let Some(pin) = self.pin.as_mut() {
            pin.zeroize();
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct PendingKey {
    pub(super) certificate_procedure: String,
    /// Encrypted PKCS#8 PEM (AES-256-CBC, PBKDF2) under the row's PIN.
    pub(super) pkcs8: String,
}

/// The files of the run, behind one lock.
pub(super) struct Journal {
    pub(super) results_path: PathBuf,
    pub(super) results: File,
    pub(super) pins_path: Option<PathBuf>,
    pub(super) pins: Option<File>,
    pub(super) records: BTreeMap<usize, ResultRecord>,
    pub(super) pin_lines: BTreeMap<usize, PinLine>,
}

impl Journal {
    pub(super) fn append_result(&mut self, record: ResultRecord) -> Result<(), BatchError> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        w.serialize(&record)?;
        let bytes = w
            .into_inner()
            .map_err(|e| BatchError::Other(e.to_string()))?;
        let path = &self.results_path;
        self.results
            .write_all(&bytes)
            .and_then(|()| self.results.sync_data())
            .map_err(file_error(|| format!("writing {}", path.display())))?;
        self.records.insert(record.row, record);
        Ok(())
    }

    pub(super) fn append_pin(&mut self, row: usize, line: PinLine) -> Result<(), BatchError> {
        let (Some(path), Some(file)) = (&self.pins_path, self.pins.as_mut()) else {
            return Err(BatchError::Other("no PIN file for this batch".into()));
        };
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(SecretBuf::default());
        w.write_record([
            row.to_string().as_str(),
            &line.subject,
            &line.p12,
            line.pin.as_str(),
        ])?;
        let bytes = w
            .into_inner()
            .map_err(|e| BatchError::Other(e.error().to_string()))?;
        file.write_all(&bytes.0)
            .and_then(|()| file.sync_data())
            .map_err(file_error(|| format!("writing {}", path.display())))?;
        self.pin_lines.insert(row, line);
        Ok(())
    }

    /// Rewrites both files atomically: one record per row, sorted.
    pub(super) fn compact(&mut self) -> Result<(), BatchError> {
        write_results(&self.results_path, self.records.values())?;
        self.results = append_to(&self.results_path)?;
        if let Some(path) = &self.pins_path {
            write_pins(path, &self.pin_lines)?;
            self.pins = Some(append_to(path)?);
        }
        Ok(())
    }
}

pub(super) fn pending_path(dir: &Path, row: usize) -> PathBuf {
    dir.join(format!("row-{row}.json"))
}

/// A buffer for CSV lines with PINs, wiped when dropped.
#[derive(Default)]
struct SecretBuf(Zeroizing<Vec<u8>>);

impl Write for SecretBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(super) fn placeholder_file() -> Result<File, BatchError> {
    Ok(tempfile::tempfile()?)
}

fn append_to(path: &Path) -> Result<File, BatchError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(file_error(|| format!("opening {}", path.display())))
}

fn write_results<'a>(
    path: &Path,
    records: impl Iterator<Item = &'a ResultRecord>,
) -> Result<(), BatchError> {
    // The header by hand, so that it is there before the first record.
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record([
        "row",
        "subject",
        "status",
        "certificate_ids",
        "serials",
        "p12",
        "certificate_files",
        "pin",
        "request_id",
        "error",
    ])?;
    for r in records {
        w.serialize(r)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| BatchError::Other(e.to_string()))?;
    write_secret(path, &bytes).map_err(file_error(|| format!("writing {}", path.display())))
}

fn write_pins(path: &Path, lines: &BTreeMap<usize, PinLine>) -> Result<(), BatchError> {
    let mut w = csv::Writer::from_writer(SecretBuf::default());
    w.write_record(["row", "subject", "p12", "pin"])?;
    for (row, line) in lines {
        w.write_record([
            row.to_string().as_str(),
            &line.subject,
            &line.p12,
            line.pin.as_str(),
        ])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| BatchError::Other(e.error().to_string()))?;
    write_secret(path, &bytes.0).map_err(file_error(|| format!("writing {}", path.display())))
}

/// The records of an earlier run, the last one of each row. A record torn by a kill (the last
/// line, half written) is ignored: its row is not recorded, so it is issued or re-sent.
pub(super) fn load_results(path: &Path) -> Result<BTreeMap<usize, ResultRecord>, BatchError> {
    let mut records = BTreeMap::new();
    if !path.exists() {
        return Ok(records);
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(file_error(|| format!("reading {}", path.display())))?;
    for record in reader.deserialize::<ResultRecord>() {
        match record {
            Ok(r) if matches!(r.status.as_str(), "issued" | "failed" | "skipped") && r.row > 0 => {
                records.insert(r.row, r);
            }
            _ => continue,
        }
    }
    Ok(records)
}

pub(super) fn load_pins(path: &Path) -> Result<BTreeMap<usize, PinLine>, BatchError> {
    let mut lines = BTreeMap::new();
    if !path.exists() {
        return Ok(lines);
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(file_error(|| format!("reading {}", path.display())))?;
    for record in reader.records() {
        let Ok(record) = record else { continue };
        if record.len() != 4 {
            continue;
        }
        let Ok(row) = record[0].parse::<usize>() else {
            continue;
        };
        lines.insert(
            row,
            PinLine {
                subject: record[1].to_string(),
                p12: record[2].to_string(),
                pin: Zeroizing::new(record[3].to_string()),
            },
        );
    }
    Ok(lines)
}

pub(super) fn load_pending(dir: &Path) -> Result<BTreeMap<usize, PendingFile>, BatchError> {
    let mut pending = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(pending);
    };
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A kill in the middle of an atomic write leaves its temporary file (it holds the
        // row's PIN and keys, and may be cut short): the row is still in flight, as if the
        // write had not started, so the remainder is removed rather than read.
        if name.starts_with(".row-") && name.ends_with(".tmp") {
            std::fs::remove_file(&path)
                .map_err(file_error(|| format!("removing {}", path.display())))?;
            continue;
        }
        if !(name.starts_with("row-") && name.ends_with(".json")) {
            continue;
        }
        let bytes = Zeroizing::new(
            std::fs::read(&path).map_err(file_error(|| format!("reading {}", path.display())))?,
        );
        let file: PendingFile = serde_json::from_slice(&bytes)
            .map_err(file_error(|| format!("{} is damaged", path.display())))?;
        pending.insert(file.row, file);
    }
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_pending_write_is_removed_and_whole_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let whole = r#"{"row":2,"request_id":"r2","file":"t2.p12"}"#;
        std::fs::write(dir.path().join("row-2.json"), whole).unwrap();
        let cut = dir.path().join(".row-4.json.c3d4a6970798c8a1.tmp");
        std::fs::write(&cut, r#"{"row":4,"requ"#).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "kept").unwrap();

        let pending = load_pending(dir.path()).unwrap();

        assert_eq!(pending.keys().copied().collect::<Vec<_>>(), vec![2]);
        assert_eq!(pending[&2].request_id, "r2");
        assert!(!cut.exists(), "the cut temporary file is removed");
        assert!(dir.path().join("notes.txt").exists());
    }

    #[test]
    fn a_damaged_pending_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("row-3.json"), "{not json").unwrap();
        let err = load_pending(dir.path()).err().expect("refused").to_string();
        assert!(err.contains("row-3.json"), "{err}");
    }
}
