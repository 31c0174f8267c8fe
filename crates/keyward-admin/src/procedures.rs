//! procedures.toml after `init`: `keyward procedures check` validates the file (the parser and
//! validation `init` uses, with the file, line and column of a fault), `keyward procedures load`
//! makes it the next version in the database (audited with its diff, in the same transaction),
//! and the server warns at start when the file differs from the version in force.
//!
//! The server reads the procedures from the database on every request that needs them (no
//! cache), so a loaded version is in force on every node at once, without a restart.

mod diff;
mod locate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use keyward_policy::procedure::ProcedureError;
use keyward_policy::ProcedureSet;
use keyward_store::StoreError;
use keyward_store::{AuditCategory, ConflictOn, NewAudit, NewProcedureVersion, Outcome, Store};

pub use diff::{diff, Changed, Diff};

use crate::error::AdminError;

/// Largest procedures.toml read (the default is about 12 KiB).
const MAX_FILE: u64 = 1024 * 1024;

/// A procedures.toml that parsed and validated.
#[derive(Debug, Clone)]
pub struct ProcedureFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// SHA-256 of the text, lowercase hex.
    pub sha256: String,
    /// The procedures.
    pub set: ProcedureSet,
}

/// What a file or set holds: procedure names by kind (the table names of procedures.toml).
pub fn summary(set: &ProcedureSet) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut push = |kind: &str, name: &str| {
        out.entry(kind.to_string())
            .or_default()
            .push(name.to_string())
    };
    set.certificate
        .iter()
        .for_each(|p| push("certificate-procedure", &p.name));
    set.key.iter().for_each(|p| push("key-procedure", &p.name));
    set.token
        .iter()
        .for_each(|p| push("token-procedure", &p.name));
    set.pin.iter().for_each(|p| push("pin-procedure", &p.name));
    set.p12.iter().for_each(|p| push("p12-profile", &p.name));
    set.attribute
        .iter()
        .for_each(|p| push("attribute-certificate-procedure", &p.name));
    out
}

/// Reads, parses and validates `path`. A fault is an [`AdminError::ProcedureFile`] with the
/// line and column, the table and key at fault.
pub fn read(path: &Path) -> Result<ProcedureFile, AdminError> {
    use std::io::Read;
    let fault_at = |line: usize, column: usize, message: String| AdminError::ProcedureFile {
        file: path.display().to_string(),
        line,
        column,
        table: None,
        field: None,
        message,
    };
    let fault = |message: String| fault_at(0, 0, message);
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| fault(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(fault(format!("larger than {MAX_FILE} bytes")));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
        let at = locate::position(&text, valid);
        fault_at(at.line, at.column, "not UTF-8 text".into())
    })?;
    let set = parse(path, &text)?;
    Ok(ProcedureFile {
        path: path.to_path_buf(),
        sha256: keyward_crypto::sha256_hex(text.as_bytes()),
        text,
        set,
    })
}

/// Parses and validates `text` (read from `path`, named in errors) as `init` does.
pub fn parse(path: &Path, text: &str) -> Result<ProcedureSet, AdminError> {
    let file = path.display().to_string();
    let set: ProcedureSet = toml::from_str(text).map_err(|e| {
        let at = locate::position(text, e.span().map_or(0, |s| s.start));
        let (table, field) = locate::key_at(text, at.line).unzip();
        AdminError::ProcedureFile {
            file: file.clone(),
            line: at.line,
            column: at.column,
            table,
            field: field.flatten(),
            message: e.message().trim().to_string(),
        }
    })?;
    set.validate()
        .map_err(|e| semantic_fault(&file, text, &set, &e))?;
    Ok(set)
}

/// A validation error placed in the file: at the table of the procedure, and the key the
/// reason names if there is one.
fn semantic_fault(file: &str, text: &str, set: &ProcedureSet, e: &ProcedureError) -> AdminError {
    let kind = kind_of(set, e);
    let (at, table, field) = match locate::semantic(text, kind, &e.procedure, &e.reason) {
        Some((at, table, field)) => (at, Some(table), field),
        None => (locate::position(text, 0), None, None),
    };
    AdminError::ProcedureFile {
        file: file.to_string(),
        line: at.line,
        column: at.column,
        table,
        field,
        message: e.to_string(),
    }
}

/// Which kind of procedure (table name) validation error `e` is about, found by repeating the
/// check of each kind that has a procedure of that name (names repeat across kinds).
fn kind_of(set: &ProcedureSet, e: &ProcedureError) -> Option<&'static str> {
    let name = e.procedure.as_str();
    let reason = Err(e.reason.clone());
    if let Some(kind) = e.reason.strip_prefix("two ") {
        return [
            ("certificate ", "certificate-procedure"),
            ("key ", "key-procedure"),
            ("token ", "token-procedure"),
            ("PIN ", "pin-procedure"),
            ("PKCS#12 profile ", "p12-profile"),
            ("attribute-certificate ", "attribute-certificate-procedure"),
        ]
        .into_iter()
        .find(|(label, _)| kind.starts_with(label))
        .map(|(_, table)| table);
    }
    if set
        .certificate
        .iter()
        .any(|p| p.name == name && p.validate() == reason)
    {
        return Some("certificate-procedure");
    }
    if set
        .attribute
        .iter()
        .any(|p| p.name == name && p.validate() == reason)
    {
        return Some("attribute-certificate-procedure");
    }
    if set
        .pin
        .iter()
        .any(|p| p.name == name && p.validate() == reason)
    {
        return Some("pin-procedure");
    }
    if set
        .p12
        .iter()
        .any(|p| p.name == name && p.validate() == reason)
    {
        return Some("p12-profile");
    }
    if set.token.iter().any(|p| p.name == name) && set.resolve(name).err().as_ref() == Some(e) {
        return Some("token-procedure");
    }
    if set.key.iter().any(|p| p.name == name) {
        return Some("key-procedure");
    }
    None
}

/// A load's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Loaded {
    /// The version now in force.
    pub version: i64,
    /// The version it replaced (`None` for the first versioned load).
    pub previous: Option<i64>,
    /// SHA-256 of the file.
    pub sha256: String,
    /// What changed (empty when the file was the version in force already).
    pub diff: Diff,
    /// False when the file was already the version in force: nothing was written.
    pub loaded: bool,
}

/// Certificate procedures the CM host itself needs: `officer` for `keyward officer create` and
/// `enroll-card`.
const REQUIRED_CERTIFICATE_PROCEDURES: &[&str] = &["officer"];

/// Loads `file` as the next version of the procedures, by `actor` (who runs the CLI on the CM
/// host, like `keyward officer`), audited with its diff in the same transaction. Refused if it
/// lacks a procedure the CM host needs, or one that open recovery requests or unused PIN
/// letters still name (the store checks that inside the transaction). A file equal to the
/// version in force (same SHA-256) changes nothing.
pub async fn load(store: &Store, file: &ProcedureFile, actor: &str) -> Result<Loaded, AdminError> {
    let where_ = file.path.display().to_string();
    for name in REQUIRED_CERTIFICATE_PROCEDURES {
        if !file.set.certificate.iter().any(|c| c.name == *name) {
            return Err(AdminError::Input(format!(
                "{where_}: certificate procedure {name} is needed by the CM host (officer certificates): keep it"
            )));
        }
    }
    let current = store.current_procedure_version().await?;
    let previous = current.as_ref().map(|v| v.version);
    if let Some(current) = current.as_ref().filter(|c| c.sha256 == file.sha256) {
        return Ok(Loaded {
            version: current.version,
            previous,
            sha256: file.sha256.clone(),
            diff: Diff::default(),
            loaded: false,
        });
    }
    let before = store.procedures().await?;
    let changes = diff(&before, &file.set);
    let audit = NewAudit {
        category: AuditCategory::Administration,
        action: "load-procedures".into(),
        officer: Some(actor.to_string()),
        outcome: Outcome::Success,
        object: Some("procedures".into()),
        detail: json!({
            "source": where_,
            "sha256": file.sha256,
            "previous_version": previous,
            "added": changes.added,
            "removed": changes.removed,
            "changed": changes.changed,
        }),
    };
    let new = NewProcedureVersion {
        set: &file.set,
        source: &file.text,
        sha256: &file.sha256,
        loaded_by: actor,
        previous,
    };
    let version = store
        .load_procedure_version(&new, &audit)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(reason) => AdminError::Input(format!("{where_}: {reason}")),
            StoreError::Conflict(ConflictOn::ProcedureVersion(v)) => AdminError::Other(format!(
                "another version of the procedures ({}) was loaded meanwhile: check the file and load it again",
                v.map_or_else(|| "?".to_string(), |v| v.to_string())
            )),
            other => AdminError::Store(other),
        })?;
    Ok(Loaded {
        version,
        previous,
        sha256: file.sha256.clone(),
        diff: changes,
        loaded: true,
    })
}

/// Why procedures.toml at `path` is not what the database has in force, `None` when it is (or
/// there is no file). Compared by content: a file that differs only in comments or layout from
/// the procedures in force is the same.
pub async fn differs_from_loaded(store: &Store, path: &Path) -> Result<Option<String>, AdminError> {
    if !path.exists() {
        return Ok(None);
    }
    let current = store.current_procedure_version().await?;
    let version = current.as_ref().map_or_else(
        || "the procedures in the database".to_string(),
        |v| format!("version {}", v.version),
    );
    let file = match read(path) {
        Ok(file) => file,
        Err(e) => {
            return Ok(Some(format!(
                "it does not load ({e}), so {version} stays in force"
            )))
        }
    };
    if current.as_ref().is_some_and(|c| c.sha256 == file.sha256) {
        return Ok(None);
    }
    let changes = diff(&store.procedures().await?, &file.set);
    if changes.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "it differs from {version} in force ({} added, {} removed, {} changed); run `keyward procedures check` and `keyward procedures load` to use it",
        changes.added.len(),
        changes.removed.len(),
        changes.changed.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::DEFAULT_PROCEDURES;

    /// The fault of `text` as (line, column, table, field, message).
    fn fault(text: &str) -> (usize, usize, Option<String>, Option<String>, String) {
        match parse(Path::new("p.toml"), text) {
            Err(AdminError::ProcedureFile {
                line,
                column,
                table,
                field,
                message,
                ..
            }) => (line, column, table, field, message),
            other => panic!("wants a fault: {other:?}"),
        }
    }

    fn line_of(text: &str, wanted: &str) -> usize {
        text.lines().position(|l| l == wanted).unwrap() + 1
    }

    #[test]
    fn the_default_file_parses() {
        let set = parse(Path::new("p.toml"), DEFAULT_PROCEDURES).unwrap();
        assert!(summary(&set)["certificate-procedure"].contains(&"officer".to_string()));
    }

    #[test]
    fn a_fault_of_one_kind_is_placed_in_that_kind_of_table() {
        // `officer` is the name of a certificate and of a token procedure: the broken
        // reference is the token procedure's.
        let text = DEFAULT_PROCEDURES.replace(
            "certificate_procedures = [\"officer\"]\npin_procedure = \"show-16\"",
            "certificate_procedures = [\"officer\"]\npin_procedure = \"show-17\"",
        );
        let (line, column, table, field, message) = fault(&text);
        let wanted = line_of(&text, "pin_procedure = \"show-17\"");
        assert_eq!((line, column), (wanted, 1), "{message}");
        assert_eq!(table.as_deref(), Some("[[token-procedure]] officer"));
        assert_eq!(field.as_deref(), Some("pin_procedure"));
        assert!(
            message.contains("PIN procedure show-17 does not exist"),
            "{message}"
        );

        // The certificate procedure's own rule, in the certificate procedure's table.
        let text = DEFAULT_PROCEDURES.replacen("validity_days = 365", "validity_days = 0", 1);
        let (line, _, table, field, _) = fault(&text);
        assert_eq!(line, line_of(&text, "validity_days = 0"));
        assert_eq!(table.as_deref(), Some("[[certificate-procedure]] officer"));
        assert_eq!(field.as_deref(), Some("validity_days"));
    }

    #[test]
    fn syntax_errors_and_unknown_keys_have_their_position() {
        let text = DEFAULT_PROCEDURES.replacen("validity_days = 730", "validity_dayz = 730", 1);
        let (line, column, table, field, message) = fault(&text);
        assert_eq!((line, column), (line_of(&text, "validity_dayz = 730"), 1));
        assert_eq!(table.as_deref(), Some("[[certificate-procedure]] signing"));
        assert_eq!(field.as_deref(), Some("validity_dayz"));
        assert!(
            message.contains("unknown field `validity_dayz`"),
            "{message}"
        );

        let (line, column, _, _, _) = fault("[[token-procedure]\nname = 1\n");
        assert_eq!((line, column), (1, 18), "the lone `]`");
    }
}
