//! `keyward ra batch`: one token per CSV row through the real binary, HTTPS and the server; the
//! tokens are opened by the `openssl pkcs12` command with the PINs from pins.csv; a malformed
//! row is refused before anything is issued; a batch killed with SIGKILL is resumed by the same
//! command without issuing any row twice.

mod support;
use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::tokens::p12_contents_with;
use common::{on_both_engines, run, text, Engine, Installation};
use support::*;

on_both_engines!(twelve_show_tokens_with_three_jobs);

fn twelve_show_tokens_with_three_jobs(engine: Engine) {
    let inst = Installation::on(engine);
    let csv = inst.out.join("staff.csv");
    let mut rows: Vec<String> = (1..=10)
        .map(|i| format!("\"CN=Batch Holder {i},O=Example,C=SE\",holder{i}@example.com,,"))
        .collect();
    rows[2] = "\"CN=Batch Holder 3,O=Example,C=SE\",,custom-three,".into();
    rows[3] = "\"CN=Batch Holder 4,O=Example,C=SE\",,,EC:secp384r1".into();
    // The same CN twice: the second file name gets a suffix.
    rows.push("\"CN=Same Name,O=First,C=SE\",,,".into());
    rows.push("\"CN=Same Name,O=Second,C=SE\",,,".into());
    write_csv(&csv, "subject,email,file,key_spec", &rows);
    let out_dir = inst.out.join("tokens");
    let (c, o) = (csv.to_str().unwrap(), out_dir.to_str().unwrap());
    let mut args = batch_args(c, "soft-signing-show", o);
    args.extend(["--jobs", "3", "--key-spec", "EC:secp256r1", "--json"]);
    let started = Instant::now();
    let out = run(inst.ra(&args), None);
    assert!(out.status.success(), "{}", text(&out));
    eprintln!("12 tokens in {:.2} s", started.elapsed().as_secs_f64());
    let json: Value = serde_json::from_slice(&out.stdout).expect("batch --json");
    assert_eq!(json["summary"]["issued"], 12, "{json}");
    assert_eq!(json["summary"]["issued_now"], 12);
    assert_eq!(json["summary"]["failed"], 0);
    assert_eq!(json["rows"].as_array().unwrap().len(), 12);

    let results_path = out_dir.join("results.csv");
    let results = read_table(&results_path);
    assert_eq!(results.len(), 12);
    assert_eq!(mode(&results_path), 0o600);
    check_tokens(&results, &out_dir.join("pins.csv"));
    assert_eq!(
        results[&3]["p12"],
        out_dir.join("custom-three.p12").display().to_string()
    );
    assert_eq!(
        results[&1]["p12"],
        out_dir.join("Batch_Holder_1.p12").display().to_string()
    );
    assert!(out_dir.join("Same_Name.p12").exists());
    assert!(out_dir.join("Same_Name-2.p12").exists());
    assert!(
        !out_dir.join(".pending").exists(),
        "no pending request left"
    );

    // The PINs are in pins.csv only: not on stdout or stderr, not in results.csv.
    let printed = format!(
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&results_path).unwrap()
    );
    for pin in read_table(&out_dir.join("pins.csv")).values() {
        assert!(!printed.contains(&pin["pin"]), "a PIN was printed");
    }

    // One certificate per row on the server, with the row's key spec.
    let counts = certificates_by_subject(&inst, "Batch Holder");
    assert_eq!(counts.len(), 10, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    let key = p12_contents_with(
        Path::new(&results[&4]["p12"]),
        &read_table(&out_dir.join("pins.csv"))[&4]["pin"],
    )
    .0
    .remove(0);
    assert_eq!(key.bits(), 384, "row 4's key_spec column");

    // The same command again: nothing left to do.
    let out = run(inst.ra(&args), None);
    assert!(out.status.success(), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["already_issued"], 12);
    assert_eq!(json["summary"]["issued_now"], 0);
    assert_eq!(certificates_by_subject(&inst, "Batch Holder").len(), 10);
}

#[test]
fn malformed_csv_is_refused_before_anything_is_issued() {
    let inst = Installation::new();
    let out_dir = inst.out.join("tokens");
    let o = out_dir.to_str().unwrap();
    let refused = |name: &str, header: &str, rows: &[String], procedure: &str| -> String {
        let csv = inst.out.join(name);
        write_csv(&csv, header, rows);
        let out = run(
            inst.ra(&batch_args(csv.to_str().unwrap(), procedure, o)),
            None,
        );
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert!(!out_dir.exists(), "{name}: nothing written");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // A bad subject in row 5 (of 8).
    let mut rows: Vec<String> = (1..=8)
        .map(|i| format!("\"CN=Malformed Batch {i},O=Example\""))
        .collect();
    rows[4] = "\"CN=Malformed Batch 5,XX\"".into();
    let err = refused("bad-subject.csv", "subject", &rows, "soft-signing-show");
    assert!(err.contains("row 5 (line 6), column subject"), "{err}");
    assert!(!err.contains("row 4"), "{err}");

    // A subject the certificate procedure does not allow (no CN), and a bad key spec: every
    // bad row is named.
    let rows = vec![
        "\"CN=Malformed Batch 1\",".to_string(),
        "\"O=Example\",".to_string(),
        "\"CN=Malformed Batch 3\",RSA:1000".to_string(),
    ];
    let err = refused("rules.csv", "subject,key_spec", &rows, "soft-signing-show");
    assert!(err.contains("row 2 (line 3), column subject: CN"), "{err}");
    assert!(err.contains("row 3 (line 4), column key_spec"), "{err}");

    // An unknown column.
    let err = refused(
        "unknown.csv",
        "subject,colour",
        &["\"CN=Malformed Batch 1\",blue".to_string()],
        "soft-signing-show",
    );
    assert!(err.contains("unknown column \"colour\""), "{err}");

    // A row with a field too many.
    let err = refused(
        "fields.csv",
        "subject,email",
        &[
            "\"CN=Malformed Batch 1\",a@example.com".to_string(),
            "\"CN=Malformed Batch 2\",b@example.com,extra".to_string(),
        ],
        "soft-signing-show",
    );
    assert!(err.contains("row 2"), "{err}");
    assert!(err.contains("3 fields where the header has 2"), "{err}");

    // A PIN column the PIN procedure does not use, and one it needs but is empty.
    let err = refused(
        "pin-letter.csv",
        "subject,pin_letter",
        &["\"CN=Malformed Batch 1\",100001".to_string()],
        "soft-signing-show",
    );
    assert!(err.contains("row 1 (line 2), column pin_letter"), "{err}");
    let err = refused(
        "pin-email.csv",
        "subject,pin_email",
        &[
            "\"CN=Malformed Batch 1\",one@example.org".to_string(),
            "\"CN=Malformed Batch 2\",".to_string(),
        ],
        "soft-signing-email",
    );
    assert!(
        err.contains("row 2 (line 3), column pin_email: empty"),
        "{err}"
    );
    // A mistyped letter ID (the check digits of 100001 are 19): refused before anything is
    // issued, as by `ra issue`.
    let err = refused(
        "letter-typo.csv",
        "subject,pin_letter",
        &[
            "\"CN=Malformed Batch 1\",100001-19".to_string(),
            "\"CN=Malformed Batch 2\",100001-91".to_string(),
            "\"CN=Malformed Batch 3\",100002".to_string(),
        ],
        "soft-signing-letter",
    );
    assert!(
        err.contains("row 2 (line 3), column pin_letter: 100001-91: the check digits do not match"),
        "{err}"
    );
    assert!(
        err.contains("row 3 (line 4), column pin_letter: 100002: the two check digits"),
        "{err}"
    );
    assert!(!err.contains("row 1 "), "{err}");
    // The postal procedure's address goes in pin_postal_address, not pin_email.
    let err = refused(
        "post-email.csv",
        "subject,pin_email",
        &["\"CN=Malformed Batch 1\",one@example.org".to_string()],
        "soft-signing-post",
    );
    assert!(
        err.contains("row 1 (line 2), column pin_email: the PIN procedure post prints"),
        "{err}"
    );
    assert!(err.contains("column pin_postal_address"), "{err}");

    // PIN procedure enter: refused for a batch.
    let err = refused(
        "enter.csv",
        "subject",
        &["\"CN=Malformed Batch 1\"".to_string()],
        "soft-signing",
    );
    assert!(err.contains("method enter"), "{err}");

    // --jobs is 1 to 16.
    let csv = inst.out.join("bad-subject.csv");
    let mut args = batch_args(csv.to_str().unwrap(), "soft-signing-show", o);
    args.extend(["--jobs", "17"]);
    let out = run(inst.ra(&args), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    assert!(
        certificates_by_subject(&inst, "Malformed Batch").is_empty(),
        "nothing issued"
    );
}

on_both_engines!(killed_batch_resumes_without_issuing_twice);

fn killed_batch_resumes_without_issuing_twice(engine: Engine) {
    const ROWS: usize = 20;
    let inst = Installation::on(engine);
    let csv = inst.out.join("resume.csv");
    let rows: Vec<String> = (1..=ROWS)
        .map(|i| format!("\"CN=Resume Holder {i:02},O=Example,C=SE\""))
        .collect();
    write_csv(&csv, "subject", &rows);
    let out_dir = inst.out.join("tokens");
    let (c, o) = (csv.to_str().unwrap(), out_dir.to_str().unwrap());
    let mut args = batch_args(c, "soft-signing-show", o);
    // RSA:3072 keys take long enough to kill the batch half way.
    args.extend(["--jobs", "2", "--key-spec", "RSA:3072", "--json"]);
    let results_path = out_dir.join("results.csv");

    // Start, wait for a few rows to be recorded, then SIGKILL.
    let log = inst.out.join("first-run.log");
    let mut first = inst.ra(&args);
    let mut child = first
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn batch");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let recorded = if results_path.exists() {
            read_table(&results_path)
                .values()
                .filter(|r| r["status"] == "issued")
                .count()
        } else {
            0
        };
        if recorded >= 3 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the batch ended before it was killed ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "no rows recorded in time");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL the batch"); // Child::kill sends SIGKILL on Unix
    child.wait().unwrap();
    let before = read_table(&results_path);
    let before_issued: BTreeMap<usize, String> = before
        .iter()
        .filter(|(_, r)| r["status"] == "issued")
        .map(|(row, r)| (*row, r["certificate_ids"].clone()))
        .collect();
    assert!(
        before_issued.len() >= 3 && before_issued.len() < ROWS,
        "{before_issued:?}"
    );
    eprintln!(
        "killed with {} rows recorded; pending: {:?}",
        before_issued.len(),
        std::fs::read_dir(out_dir.join(".pending"))
            .map(|d| d
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .collect::<Vec<_>>())
            .unwrap_or_default()
    );

    // The same command resumes: recorded rows are skipped, the rest issued.
    let out = run(inst.ra(&args), None);
    // The server's log too: a refusal the RA reports as "internal server error" is explained
    // only there.
    assert!(
        out.status.success(),
        "{}\n--- server log\n{}",
        text(&out),
        inst.log()
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("batch --json");
    assert_eq!(json["summary"]["issued"], ROWS, "{json}");
    let skipped: HashSet<usize> = json["already_issued_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    for row in before_issued.keys() {
        assert!(
            skipped.contains(row),
            "row {row} recorded before the kill was skipped"
        );
    }
    assert_eq!(
        json["summary"]["issued_now"].as_u64().unwrap() as usize,
        ROWS - skipped.len()
    );
    let after = read_table(&results_path);
    assert_eq!(after.len(), ROWS);
    for (row, ids) in &before_issued {
        assert_eq!(
            &after[row]["certificate_ids"], ids,
            "row {row} was not issued again"
        );
    }
    check_tokens(&after, &out_dir.join("pins.csv"));
    assert!(
        !out_dir.join(".pending").exists(),
        "no pending request left"
    );

    // Exactly one certificate per row on the server. A row whose request the server had
    // completed when the batch was killed, but whose result was not recorded yet, is re-sent
    // byte for byte from .pending/; that it then gets the stored answer instead of a second
    // certificate depends on the server's request-ID idempotency (issue 7, engineer J).
    let counts = certificates_by_subject(&inst, "Resume Holder");
    assert_eq!(counts.len(), ROWS, "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "one certificate per row: {counts:?}"
    );
}

on_both_engines!(a_row_lost_after_issuance_is_not_issued_twice);

fn a_row_lost_after_issuance_is_not_issued_twice(engine: Engine) {
    let inst = Installation::on(engine);
    let csv = inst.out.join("lost.csv");
    write_csv(
        &csv,
        "subject",
        &[
            "\"CN=Lost Holder 1,O=Example\"".to_string(),
            "\"CN=Lost Holder 2,O=Example\"".to_string(),
        ],
    );
    let out_dir = inst.out.join("tokens");
    let (c, o) = (csv.to_str().unwrap(), out_dir.to_str().unwrap());
    let mut args = batch_args(c, "soft-signing-show", o);
    args.extend(["--key-spec", "EC:secp256r1", "--json"]);
    let out = run(inst.ra(&args), None);
    assert!(out.status.success(), "{}", text(&out));
    let results_path = out_dir.join("results.csv");
    let first = read_table(&results_path);

    // Issued on the server but lost here, pending state included: row 2's record, PIN and files go.
    let lines: Vec<String> = std::fs::read_to_string(&results_path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("2,"))
        .map(str::to_string)
        .collect();
    std::fs::write(&results_path, lines.join("\n") + "\n").unwrap();
    std::fs::remove_file(&first[&2]["p12"]).unwrap();
    std::fs::remove_file(&first[&2]["certificate_files"]).unwrap();

    // The rerun sends row 2 again with the same request ID (new keys: the old ones are lost).
    let out = run(inst.ra(&args), None);
    let json: Value = serde_json::from_slice(&out.stdout).expect("batch --json");
    let row2 = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["row"] == 2)
        .unwrap()
        .clone();
    assert_eq!(
        row2["request_id"],
        first[&2]["request_id"].as_str(),
        "same request ID"
    );
    // Depends on the server's request-ID idempotency (engineer J): the same request ID with
    // another body is refused (409, naming the Certificate ID it issued), never issued again.
    assert_eq!(out.status.code(), Some(10), "{}", text(&out));
    assert_eq!(row2["status"], "failed", "{row2}");
    assert!(
        row2["error"]
            .as_str()
            .unwrap()
            .contains(first[&2]["certificate_ids"].as_str()),
        "{row2}"
    );
    let counts = certificates_by_subject(&inst, "Lost Holder");
    assert_eq!(
        counts.get("CN=Lost Holder 2,O=Example"),
        Some(&1),
        "{counts:?}"
    );
}

/// `ra batch` with PIN letters: the letter ID comes from the pin_letter column, no PIN file is
/// written, and the results name each letter; a row the server refuses (an unknown letter)
/// fails alone, and the batch exits 10.
#[test]
fn letter_pins_come_from_the_csv() {
    let inst = Installation::new();
    let printer = common::pins::printer(&inst);
    let letters = inst.out.join("letters.pdf");
    let out = common::pins::officer_run(
        "pin-letters",
        &printer,
        &[
            "create",
            "--count",
            "3",
            "--first-id",
            "500001",
            "--pin-procedure",
            "letter",
            "--out",
            letters.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let csv = inst.out.join("letters.csv");
    write_csv(
        &csv,
        "subject,pin_letter",
        &[
            "\"CN=Letter Holder 1\",500001-06".to_string(),
            "\"CN=Letter Holder 2\",500099-03".to_string(),
            "\"CN=Letter Holder 3\",500003-97".to_string(),
        ],
    );
    let out_dir = inst.out.join("tokens");
    let mut args = batch_args(
        csv.to_str().unwrap(),
        "soft-signing-letter",
        out_dir.to_str().unwrap(),
    );
    args.extend(["--key-spec", "EC:secp256r1"]);
    let out = run(inst.ra(&args), None);
    assert_eq!(out.status.code(), Some(10), "{}", text(&out));
    assert!(!out_dir.join("pins.csv").exists());
    let results = read_table(&out_dir.join("results.csv"));
    assert_eq!(results[&1]["status"], "issued");
    assert_eq!(results[&1]["pin"], "letter 500001");
    assert_eq!(results[&2]["status"], "failed");
    assert!(results[&2]["error"].contains("500099"), "{:?}", results[&2]);
    assert!(!Path::new(&results[&2]["p12"]).exists());
    assert_eq!(results[&3]["status"], "issued");
    assert_eq!(results[&3]["pin"], "letter 500003");
    let pin = common::pins::pdf_pin(&letters, "Letter ID 500003-97");
    let (keys, _) = p12_contents_with(Path::new(&results[&3]["p12"]), &pin);
    assert_eq!(keys.len(), 1);

    // Fixed in the CSV, the failed row alone is issued by the rerun.
    let fixed = std::fs::read_to_string(&csv)
        .unwrap()
        .replace("500099-03", "500002-03");
    std::fs::write(&csv, fixed).unwrap();
    let out = run(inst.ra(&args), None);
    assert!(out.status.success(), "{}", text(&out));
    let again = read_table(&out_dir.join("results.csv"));
    assert_eq!(again[&2]["pin"], "letter 500002");
    assert_eq!(again[&1]["certificate_ids"], results[&1]["certificate_ids"]);
    assert_eq!(again[&3]["certificate_ids"], results[&3]["certificate_ids"]);
}

on_both_engines!(
    a_request_in_flight_at_the_kill_is_sent_again,
    a_request_issued_at_the_kill_is_answered_from_the_server
);

fn a_request_in_flight_at_the_kill_is_sent_again(engine: Engine) {
    in_flight_at_the_kill(engine, Freeze::Server);
}

fn a_request_issued_at_the_kill_is_answered_from_the_server(engine: Engine) {
    in_flight_at_the_kill(engine, Freeze::Ra);
}

/// Which process is frozen (SIGSTOP) when a row's pending file appears.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Freeze {
    /// The server: the request is in flight for sure, and not issued.
    Server,
    /// The RA, until the server has issued the row: issued on the server, not recorded here.
    Ra,
}

/// The batch is killed (SIGKILL) while a row's request is in flight: the rerun re-sends that
/// request byte for byte from `.pending/`, with the same keys and PIN, and finishes the token.
/// With [`Freeze::Ra`] the server had issued the row before the kill, and answers the resend
/// with its stored answer (the server's request-ID idempotency, engineer J's part of issue 7):
/// the token holds that certificate, and the server still holds one certificate for the row.
fn in_flight_at_the_kill(engine: Engine, freeze: Freeze) {
    const ROWS: usize = 40;
    let mut inst = Installation::on(engine);
    // A server of our own, so that it can be frozen and thawed.
    inst.stop_server();
    let (mut server, url) =
        common::start_server(&inst.dir, &[], &[], &inst.out.join("server2.log"));
    let conf = inst.dir.join("client-frozen.conf");
    common::point_client_conf(&inst.client_conf(), &conf, &url);
    let pin_file = inst.dir.join("officer/admin.pin");
    let signal = |sig: &str, pid: u32| {
        let ok = keyward_testkit::tool("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} {pid}");
    };
    let on_server = |row: usize| -> Option<String> {
        let search = format!("In Flight Holder {row:02},");
        let out = run(
            inst.ra_as(
                &conf,
                &pin_file,
                &["certificates", "--subject", &search, "--json"],
            ),
            None,
        );
        assert!(out.status.success(), "{}", text(&out));
        let found: Value = serde_json::from_slice(&out.stdout).unwrap();
        let found = found.as_array().unwrap();
        assert!(found.len() <= 1, "row {row}: {found:?}");
        found
            .first()
            .map(|c| c["certificate_id"].as_str().unwrap().to_string())
    };

    let csv = inst.out.join("inflight.csv");
    let rows: Vec<String> = (1..=ROWS)
        .map(|i| format!("\"CN=In Flight Holder {i:02},O=Example,C=SE\""))
        .collect();
    write_csv(&csv, "subject", &rows);
    let out_dir = inst.out.join("tokens");
    let (c, o) = (csv.to_str().unwrap(), out_dir.to_str().unwrap());
    let mut args = batch_args(c, "soft-signing-show", o);
    args.extend(["--jobs", "1", "--key-spec", "EC:secp256r1", "--json"]);
    let pending_dir = out_dir.join(".pending");

    let log = inst.out.join("first-run.log");
    let mut child = inst
        .ra_as(&conf, &pin_file, &args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn batch");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut tries = 0u64;
    let (in_flight, issued_before): (PathBuf, Option<String>) = loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the batch ended before a request was caught in flight: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert!(Instant::now() < deadline, "no request caught in flight");
        let found = std::fs::read_dir(&pending_dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path());
        let Some(path) = found else {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        tries += 1;
        match freeze {
            Freeze::Server => {
                signal("-STOP", server.id());
                std::thread::sleep(Duration::from_millis(300));
                if path.exists() {
                    break (path, None);
                }
                // That row was recorded just before the server froze: try the next.
                signal("-CONT", server.id());
            }
            Freeze::Ra => {
                // A little later each time, so that the request has left the RA.
                std::thread::sleep(Duration::from_millis(tries % 20));
                signal("-STOP", child.id());
                let Ok(bytes) = std::fs::read(&path) else {
                    signal("-CONT", child.id());
                    continue;
                };
                let row = serde_json::from_slice::<Value>(&bytes).unwrap()["row"]
                    .as_u64()
                    .unwrap() as usize;
                let mut issued = None;
                for _ in 0..5 {
                    issued = on_server(row);
                    if issued.is_some() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                if issued.is_some() && path.exists() {
                    break (path, issued);
                }
                signal("-CONT", child.id());
            }
        }
    };
    child.kill().expect("SIGKILL the batch");
    child.wait().unwrap();
    if freeze == Freeze::Server {
        signal("-CONT", server.id());
        std::thread::sleep(Duration::from_millis(500));
    }
    let pending: Value = serde_json::from_slice(&std::fs::read(&in_flight).unwrap()).unwrap();
    let row = pending["row"].as_u64().unwrap() as usize;
    assert!(pending["request"].is_object(), "the exact request is kept");
    assert_eq!(mode(&in_flight), 0o600);
    let before = on_server(row);
    eprintln!(
        "{freeze:?} frozen: killed with row {row} in flight (after {tries} tries); issued on the server: {before:?}"
    );
    if freeze == Freeze::Ra {
        assert_eq!(before, issued_before);
    }

    let out = run(inst.ra_as(&conf, &pin_file, &args), None);
    assert!(out.status.success(), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["issued"], ROWS, "{json}");
    let results = read_table(&out_dir.join("results.csv"));
    assert_eq!(results.len(), ROWS);
    check_tokens(&results, &out_dir.join("pins.csv"));
    assert_eq!(
        results[&row]["request_id"],
        pending["request_id"].as_str().unwrap()
    );
    if let Some(id) = &before {
        // Depends on engineer J's request-ID idempotency: the stored answer, not a new one.
        assert_eq!(&results[&row]["certificate_ids"], id, "the stored answer");
    }
    assert!(!pending_dir.exists());
    let counts = certificates_in(inst.ra_as(
        &conf,
        &pin_file,
        &["certificates", "--subject", "In Flight Holder", "--json"],
    ));
    assert_eq!(counts.len(), ROWS, "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "one certificate per row: {counts:?}"
    );
    let _ = server.kill();
    let _ = server.wait();
}
