//! Checking every row before anything is issued: as `ra issue` would, and against what earlier
//! runs of the batch recorded; each row's file name and request ID.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::issue::{PinSource, Prepared, TokenOrder};
use crate::RaError;
use keyward_policy::{KeySpecList, MailDelivery, PinMethod, PinProcedure};
use keyward_proto::ProcedureList;

use super::error::{input_error, BatchError};
use super::input::{Row, RowReader};
use super::journal::{pending_path, PendingFile, ResultRecord, PENDING_DIR};
use super::names::{derived_base, file_base, Names};
use super::Progress;

const MAX_ERRORS_SHOWN: usize = 20;
/// Rows between two reports to the progress bar.
const REPORT_EVERY: usize = 1000;

pub(super) struct CheckInput<'a> {
    pub(super) csv: &'a Path,
    /// Rows in the CSV ([`RowReader::count`]).
    pub(super) rows: usize,
    pub(super) list: &'a KeySpecList,
    pub(super) procedures: &'a ProcedureList,
    pub(super) procedure: &'a str,
    pub(super) rules: &'a PinProcedure,
    pub(super) unchecked_letter_ids: bool,
    pub(super) key_spec: Option<&'a str>,
    pub(super) batch_id: &'a str,
    pub(super) dir: &'a Path,
    pub(super) records: &'a BTreeMap<usize, ResultRecord>,
    pub(super) pending: &'a BTreeMap<usize, PendingFile>,
    pub(super) progress: &'a dyn Progress,
}

/// A checked row's file name and request ID (the row itself is read again to be issued), kept
/// small: a million rows are held as these while the last ones are checked.
pub(super) struct Planned {
    pub(super) number: usize,
    pub(super) file: Box<str>,
    /// The request ID's 16 bytes (it is their hex).
    request_id: [u8; 16],
}

impl Planned {
    pub(super) fn new(number: usize, file: String, request_id: &str) -> Planned {
        let mut bytes = [0u8; 16];
        // A request ID is always 32 hex digits (see [`request_id`]).
        let _ = hex::decode_to_slice(request_id, &mut bytes);
        Planned {
            number,
            file: file.into_boxed_str(),
            request_id: bytes,
        }
    }

    /// The request ID, hex.
    pub(super) fn request_id(&self) -> String {
        hex::encode(self.request_id)
    }
}

/// The row errors: the first [`MAX_ERRORS_SHOWN`] kept for the message, the rest counted (a
/// CSV of a million bad rows must not hold a million messages).
#[derive(Default)]
struct Errors {
    shown: Vec<String>,
    total: usize,
}

impl Errors {
    fn push(&mut self, error: String) {
        self.total += 1;
        if self.shown.len() < MAX_ERRORS_SHOWN {
            self.shown.push(error);
        }
    }
}

/// A row's file name kept from an earlier run or given in its file column (or why the column
/// is wrong); `None` when it is to be derived from the CN.
fn given_name(c: &CheckInput<'_>, row: &Row) -> Option<Result<String, String>> {
    let kept = c
        .records
        .get(&row.number)
        .and_then(|r| {
            Path::new(&r.p12)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .or_else(|| c.pending.get(&row.number).map(|p| p.file.clone()));
    match (kept, &row.file) {
        (Some(name), _) => Some(Ok(name)),
        (None, Some(given)) => Some(file_base(given)),
        (None, None) => None,
    }
}

/// Checks every row as `ra issue` would (subject rules, e-mail, key spec, PIN columns, output
/// files) and against what earlier runs recorded; returns each row's file name and request ID,
/// or one error listing the first bad rows and counting the rest.
///
/// Two passes over the CSV, each linear: the first takes the names kept from earlier runs and
/// given in the file column, the second derives the others from the CN (so that a derived name
/// never takes one a later row gives) and checks each row. Rows are kept only while none is
/// bad, and then only their names and request IDs.
pub(super) fn check_rows(
    c: &CheckInput<'_>,
    rows: &mut RowReader,
) -> Result<Vec<Planned>, BatchError> {
    let mut errors = Errors::default();
    let shown = c.csv.display();
    for &row in c.records.keys().chain(c.pending.keys()) {
        if row > c.rows {
            errors.push(format!(
                "row {row}: {} records it, but the CSV has {} rows (resume with the CSV the batch started with)",
                if c.records.contains_key(&row) { "the results file" } else { "a pending request" },
                c.rows
            ));
        }
    }
    // File names: kept from earlier runs and the file column, else derived from the CN.
    let mut names = Names::default();
    rows.rewind()?;
    while let Some(row) = rows.next_row()? {
        match given_name(c, &row) {
            Some(Ok(name)) if !names.take(&name) => errors.push(format!(
                "{}, column file: {name:?} is used by another row",
                row.at()
            )),
            Some(Ok(_)) | None => {}
            Some(Err(reason)) => errors.push(format!("{}, column file: {reason}", row.at())),
        }
        report(c, "checking file names", row.number);
    }
    c.progress.checking("checking file names", c.rows, c.rows);

    rows.rewind()?;
    let mut letters: HashMap<i64, usize> = HashMap::new();
    let mut out = Vec::new();
    while let Some(row) = rows.next_row()? {
        report(c, "checking rows", row.number);
        let file = match given_name(c, &row) {
            Some(Ok(name)) => name,
            Some(Err(_)) => continue,
            None => names.derive(derived_base(&row)),
        };
        let key_spec = row.key_spec.as_deref().or(c.key_spec);
        let request_id = request_id(c.batch_id, c.procedure, key_spec, &row);
        let good = check_row(c, &row, &file, &request_id, &mut letters, &mut errors);
        if good && errors.total == 0 {
            out.push(Planned::new(row.number, file, &request_id));
        } else if !out.is_empty() {
            out = Vec::new();
        }
    }
    c.progress.checking("checking rows", c.rows, c.rows);
    if errors.total == 0 {
        return Ok(out);
    }
    let more = errors.total.saturating_sub(MAX_ERRORS_SHOWN);
    let mut message = format!(
        "--csv {shown}: {} row error(s); nothing was issued:",
        errors.total
    );
    for e in &errors.shown {
        message.push_str("\n  ");
        message.push_str(e);
    }
    if more > 0 {
        message.push_str(&format!("\n  … and {more} more"));
    }
    Err(input_error(message))
}

/// Tells the progress bar every [`REPORT_EVERY`] rows.
fn report(c: &CheckInput<'_>, phase: &'static str, row: usize) {
    if row.is_multiple_of(REPORT_EVERY) {
        c.progress.checking(phase, row, c.rows);
    }
}

/// Checks one row (its file name resolved); false when it is left out of the plan. Errors go
/// to `errors`; `letters` holds the PIN letters of the rows before.
fn check_row(
    c: &CheckInput<'_>,
    row: &Row,
    file: &str,
    request_id: &str,
    letters: &mut HashMap<i64, usize>,
    errors: &mut Errors,
) -> bool {
    if let Some(done) = c.records.get(&row.number) {
        if done.request_id != request_id {
            errors.push(format!(
                "{}: issued by an earlier run of this batch as request {} ({}), but the row has changed since; restore it, or issue the change in another batch",
                row.at(),
                done.request_id,
                done.subject
            ));
        }
        return true;
    }
    if let Some(p) = c.pending.get(&row.number) {
        if p.request_id != request_id {
            errors.push(format!(
                "{}: its request {} was sent to the server before an interruption, but the row has changed since; restore it, or delete {} to give that request up",
                row.at(),
                p.request_id,
                pending_path(&c.dir.join(PENDING_DIR), row.number).display()
            ));
        }
    }
    let source = match pin_columns(row, c.rules, c.unchecked_letter_ids) {
        Ok(s) => s,
        Err((column, reason)) => {
            errors.push(format!("{}, column {column}: {reason}", row.at()));
            return false;
        }
    };
    if let Some(source) = &source {
        if let Err(e) = source.check(c.rules, c.procedure) {
            errors.push(row_error(row, &e));
            return false;
        }
    }
    if let Some(PinSource::Letter { id, .. }) = &source {
        // Checked above: the same letter typed as `7-06` and `07-06` is one letter.
        let number = keyward_policy::letter_id::parse(id).map_or(0, |l| l.number);
        if let Some(first) = letters.insert(number, row.number) {
            errors.push(format!(
                "{}, column pin_letter: PIN letter {} is also given in row {first} (a letter seals one token)",
                row.at(),
                id.trim()
            ));
        }
    }
    let order = TokenOrder {
        qc_statements: Default::default(),
        ac_path: None,
        alt_names: Default::default(),
        procedure: c.procedure.to_string(),
        subject: row.subject.clone(),
        email: row.email.clone(),
        key_spec: row
            .key_spec
            .clone()
            .or_else(|| c.key_spec.map(str::to_string)),
        p12_path: c.dir.join(format!("{file}.p12")),
        cert_path: Some(c.dir.join(format!("{file}.pem"))),
        force: c.pending.contains_key(&row.number),
        recover: Vec::new(),
        approval: None,
        request_id: Some(request_id.to_string()),
    };
    // The output directory was checked once for the batch (a file created and removed).
    if let Err(e) = Prepared::checked(c.list, c.procedures, order, false) {
        errors.push(row_error(row, &e));
        return false;
    }
    true
}

/// The PIN source a row's columns give, checked against the PIN method (the values themselves
/// are checked by [`PinSource::check`]); `unchecked_letter_ids`: bare letter numbers allowed.
pub(super) fn pin_columns(
    row: &Row,
    rules: &PinProcedure,
    unchecked_letter_ids: bool,
) -> Result<Option<PinSource>, (&'static str, String)> {
    let unused = |column: &'static str| {
        (
            column,
            format!(
                "the token procedure's PIN procedure {} has method {}, which takes no {column}; leave it empty",
                rules.name,
                rules.method.name()
            ),
        )
    };
    let required = |column: &'static str, what: &str| {
        (
            column,
            format!(
                "empty, but the PIN procedure {} (method {}) needs {what} for every row",
                rules.name,
                rules.method.name()
            ),
        )
    };
    let instead = |column: &'static str, right: &str, delivery: &str| {
        (
            column,
            format!(
                "the PIN procedure {} {delivery}: put the address in column {right}",
                rules.name
            ),
        )
    };
    let print = rules.delivery == MailDelivery::Print;
    match rules.method {
        PinMethod::Show | PinMethod::Enter => {
            for (column, value) in [
                ("pin_email", &row.pin_email),
                ("pin_postal_address", &row.pin_postal_address),
                ("pin_letter", &row.pin_letter),
            ] {
                if value.is_some() {
                    return Err(unused(column));
                }
            }
            Ok(None)
        }
        PinMethod::Email => {
            if row.pin_letter.is_some() {
                return Err(unused("pin_letter"));
            }
            if print {
                if row.pin_email.is_some() {
                    return Err(instead(
                        "pin_email",
                        "pin_postal_address",
                        "prints the PIN letter for posting (delivery print)",
                    ));
                }
                let to = row
                    .pin_postal_address
                    .clone()
                    .ok_or_else(|| required("pin_postal_address", "a postal address"))?;
                return Ok(Some(PinSource::Post(to)));
            }
            if row.pin_postal_address.is_some() {
                return Err(instead(
                    "pin_postal_address",
                    "pin_email",
                    "sends the PIN by e-mail (delivery smtp)",
                ));
            }
            let to = row
                .pin_email
                .clone()
                .ok_or_else(|| required("pin_email", "a PIN mailer address"))?;
            Ok(Some(PinSource::Mail(to)))
        }
        PinMethod::Letter => {
            if row.pin_email.is_some() {
                return Err(unused("pin_email"));
            }
            if row.pin_postal_address.is_some() {
                return Err(unused("pin_postal_address"));
            }
            let id = row
                .pin_letter
                .clone()
                .ok_or_else(|| required("pin_letter", "a PIN/PUK letter ID"))?;
            Ok(Some(PinSource::Letter {
                id,
                unchecked: unchecked_letter_ids,
            }))
        }
    }
}

/// An RA input error as "row N (line L), column C: reason".
fn row_error(row: &Row, e: &RaError) -> String {
    let (field, reason) = match e {
        RaError::Input { field, reason } => (field.as_str(), reason.clone()),
        other => ("subject", other.to_string()),
    };
    let column = match field {
        "key-spec" => "key_spec",
        "email" => "email",
        "p12" | "cert" => "file",
        "pin-email" => "pin_email",
        "pin-postal-address" => "pin_postal_address",
        "pin-letter" => "pin_letter",
        _ => "subject",
    };
    let reason = if column == "subject" && field != "subject" {
        format!("{field}: {reason}")
    } else {
        reason.replace(
            "(use --force to overwrite)",
            "(give the row another file name, or move that file away)",
        )
    };
    format!("{}, column {column}: {reason}", row.at())
}

/// The request ID of a row: the same for the same batch, procedure, key spec and row content.
pub(super) fn request_id(
    batch_id: &str,
    procedure: &str,
    key_spec: Option<&str>,
    row: &Row,
) -> String {
    let mut data = Vec::new();
    let mut part = |value: Option<&str>| match value {
        None => data.push(0u8),
        Some(v) => {
            data.push(1u8);
            data.extend_from_slice(&(v.len() as u64).to_be_bytes());
            data.extend_from_slice(v.as_bytes());
        }
    };
    part(Some("keyward batch row v1"));
    part(Some(batch_id));
    part(Some(procedure));
    part(key_spec);
    part(Some(&row.number.to_string()));
    part(Some(&row.subject));
    part(row.email.as_deref());
    part(row.pin_email.as_deref());
    part(row.pin_letter.as_deref());
    // Added after the other columns, and only when given: rows without it keep the request
    // IDs they had, so a batch started before the column existed resumes.
    if row.pin_postal_address.is_some() {
        part(row.pin_postal_address.as_deref());
    }
    hex::encode(openssl::sha::sha256(&data))[..32].to_string()
}
