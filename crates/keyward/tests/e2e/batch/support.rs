//! Helpers of `tests/e2e/batch.rs`: reading results.csv and pins.csv, writing input CSVs, and
//! checking the tokens a batch wrote.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::tokens::{p12_contents_with, serial_of};
use crate::common::{run, text, Installation};

/// A results.csv or pins.csv as maps from column to value, by row number. A record that does
/// not parse (the last line, torn by a kill) is left out.
pub(super) fn read_table(path: &Path) -> BTreeMap<usize, HashMap<String, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().expect("header").clone();
    let mut rows = BTreeMap::new();
    for record in reader.records() {
        let Ok(record) = record else { continue };
        if record.len() != headers.len() {
            continue;
        }
        let map: HashMap<String, String> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        let Ok(row) = map["row"].parse::<usize>() else {
            continue;
        };
        rows.insert(row, map);
    }
    rows
}

pub(super) fn write_csv(path: &Path, header: &str, rows: &[String]) {
    let mut body = format!("{header}\n");
    for r in rows {
        body.push_str(r);
        body.push('\n');
    }
    std::fs::write(path, body).expect("write csv");
}

pub(super) fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

pub(super) fn batch_args<'a>(csv: &'a str, procedure: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "batch",
        "--csv",
        csv,
        "--procedure",
        procedure,
        "--out-dir",
        out,
    ]
}

/// Certificates on the server whose subject contains `text`, by subject.
pub(super) fn certificates_by_subject(
    inst: &Installation,
    text_in_subject: &str,
) -> HashMap<String, usize> {
    certificates_in(inst.ra(&["certificates", "--subject", text_in_subject, "--json"]))
}

/// The answer of a `ra certificates … --json` command, counted by subject.
pub(super) fn certificates_in(cmd: std::process::Command) -> HashMap<String, usize> {
    let out = run(cmd, None);
    assert!(out.status.success(), "{}", text(&out));
    let found: Value = serde_json::from_slice(&out.stdout).expect("certificates --json");
    let mut counts = HashMap::new();
    for c in found.as_array().expect("array") {
        *counts
            .entry(c["subject"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    counts
}

/// Opens every issued row's PKCS#12 with the `openssl pkcs12` command and the PIN pins.csv
/// gives for it, and checks key, certificate and the results record against each other.
pub(super) fn check_tokens(results: &BTreeMap<usize, HashMap<String, String>>, pins: &Path) {
    assert_eq!(mode(pins), 0o600, "pins.csv mode");
    let pins = read_table(pins);
    assert_eq!(pins.len(), results.len(), "one PIN per issued row");
    let mut ids = HashSet::new();
    for (row, r) in results {
        assert_eq!(r["status"], "issued", "row {row}: {r:?}");
        assert_eq!(r["pin"], "shown in pins.csv", "row {row}");
        assert!(r["error"].is_empty(), "row {row}: {r:?}");
        assert!(
            ids.insert(r["certificate_ids"].clone()),
            "row {row}: Certificate ID twice"
        );
        let p12 = PathBuf::from(&r["p12"]);
        assert_eq!(mode(&p12), 0o600, "{}", p12.display());
        assert_eq!(pins[row]["p12"], r["p12"], "row {row}");
        assert_eq!(pins[row]["subject"], r["subject"], "row {row}");
        let (keys, certs) = p12_contents_with(&p12, &pins[row]["pin"]);
        assert_eq!(keys.len(), 1, "row {row}: one key");
        let leaf = &certs[0];
        assert!(
            leaf.public_key().unwrap().public_eq(keys[0].as_ref()),
            "row {row}: the key is the certificate's"
        );
        assert_eq!(serial_of(leaf), r["serials"], "row {row}");
        let cn = String::from_utf8_lossy(
            leaf.subject_name()
                .entries_by_nid(openssl::nid::Nid::COMMONNAME)
                .next()
                .unwrap()
                .data()
                .as_slice(),
        )
        .into_owned();
        assert!(
            r["subject"].contains(&format!("CN={cn}")),
            "row {row}: {cn}"
        );
        let pem = std::fs::read(&r["certificate_files"]).expect("certificate file");
        assert_eq!(
            openssl::x509::X509::from_pem(&pem)
                .unwrap()
                .to_der()
                .unwrap(),
            leaf.to_der().unwrap(),
            "row {row}: certificate file"
        );
    }
}
