//! PIN/PUK letters end to end: created by an officer with `manage-pin-letters`, printed as a
//! PDF read back with `pdftotext`, chosen by letter ID (with its check digits) at issuance,
//! used only once, voided when damaged; a mistyped ID is refused before anything is sent.

use crate::common;

use std::path::{Path, PathBuf};

use common::pins::{assert_nowhere, officer_run, pdf_pages, pdf_pin, printer};
use common::signed::{admin_client, unix_now};
use common::tokens::{p12_arg, p12_contents_with, ALICE};
use common::{block_on, on_both_engines, run, text, Engine, Installation};
use keyward_policy::letter_id::printed;
use keyward_store::{Outcome, PinLetterQuery};
use serde_json::{json, Value};

fn issue_with_letter(inst: &Installation, letter: &str, p12: &str) -> std::process::Output {
    issue_with_letter_and(inst, letter, p12, &[])
}

fn issue_with_letter_and(
    inst: &Installation,
    letter: &str,
    p12: &str,
    more: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "issue",
        "--procedure",
        "soft-signing-letter",
        "--subject",
        ALICE,
        "--p12",
        p12,
        "--pin-letter",
        letter,
        "--json",
    ];
    args.extend(more);
    run(inst.ra(&args), None)
}

/// Creates `count` letters from `first` as `printer`; the PDF.
fn create_letters(
    inst: &Installation,
    printer: &(PathBuf, PathBuf),
    first: i64,
    count: u32,
) -> PathBuf {
    let pdf = inst.out.join(format!("letters-{first}.pdf"));
    let out = officer_run(
        "pin-letters",
        printer,
        &[
            "create",
            "--count",
            &count.to_string(),
            "--first-id",
            &first.to_string(),
            "--pin-procedure",
            "letter",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    pdf
}

/// `pin-letters ARGS --json` as `printer`, parsed.
fn letters_json(printer: &(PathBuf, PathBuf), args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = officer_run("pin-letters", printer, &args);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The IDs of the used letters.
fn used_letters(printer: &(PathBuf, PathBuf)) -> Vec<String> {
    let used = letters_json(printer, &["list", "--used"]);
    used.as_array()
        .unwrap()
        .iter()
        .map(|l| l["letter_id"].as_str().unwrap().to_string())
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

on_both_engines!(a_letter_pin_opens_the_token_once);

fn a_letter_pin_opens_the_token_once(engine: Engine) {
    let inst = Installation::on(engine);
    let printer = printer(&inst);
    let pdf = inst.out.join("letters.pdf");
    let pdf_arg = pdf.to_str().unwrap();
    let out = officer_run(
        "pin-letters",
        &printer,
        &[
            "create",
            "--count",
            "3",
            "--first-id",
            "100001",
            "--pin-procedure",
            "letter",
            "--out",
            pdf_arg,
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let batch: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(batch["first_id"], "100001");
    assert_eq!(batch["last_id"], "100003");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&pdf).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the letters PDF holds PINs");

    let pages = pdf_pages(&pdf);
    assert_eq!(pages.len(), 3);
    for (i, (page, pin, puk)) in pages.iter().enumerate() {
        // Printed with the check digits the officer types.
        let id = printed(100001 + i as i64);
        assert!(page.contains(&format!("Letter ID {id}")), "{page}");
        assert_eq!(pin.len(), 12, "{page}");
        assert_eq!(puk.as_deref().map(str::len), Some(12), "{page}");
    }
    assert_eq!(printed(100002), "100002-16");
    let pin = pdf_pin(&pdf, "Letter ID 100002-16");

    let p12 = p12_arg(&inst, "alice.p12");
    let out = issue_with_letter(&inst, "100002-16", &p12);
    assert!(out.status.success(), "{}", text(&out));
    let issued: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(issued.get("pin").is_none(), "a letter PIN is never shown");
    assert_eq!(issued["pin_delivery"]["letter_id"], "100002");
    let (keys, certs) = p12_contents_with(std::path::Path::new(&p12), &pin);
    assert_eq!(keys.len(), 1);
    assert!(!certs.is_empty());

    // Used: refused, and nothing is written or issued.
    let again = p12_arg(&inst, "again.p12");
    let out = issue_with_letter(&inst, "100002-16", &again);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PIN letter 100002 has been used already")
    );
    assert!(!std::path::Path::new(&again).exists());

    // Unknown and malformed IDs.
    let out = issue_with_letter(&inst, &printed(999), &again);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no PIN letter 999"));
    let out = issue_with_letter(&inst, "12ab", &again);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pin-letter"));

    // The letter is listed as used, with the certificate issued with it.
    let out = officer_run("pin-letters", &printer, &["list", "--used", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let used: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(used.as_array().unwrap().len(), 1);
    assert_eq!(used[0]["letter_id"], "100002");
    assert_eq!(used[0]["printed_id"], "100002-16");
    assert_eq!(
        used[0]["certificate_ids"],
        issued["certificates"][0]["certificate_id"]
    );

    let all: Vec<String> = pages
        .iter()
        .flat_map(|(_, pin, puk)| [pin.clone(), puk.clone().unwrap()])
        .collect();
    assert_nowhere(&inst, &all);
}

on_both_engines!(letters_need_the_role_and_free_ids);

fn letters_need_the_role_and_free_ids(engine: Engine) {
    let inst = Installation::on(engine);
    let printer = printer(&inst);
    let pdf = inst.out.join("letters.pdf");
    let create =
        |officer: &(std::path::PathBuf, std::path::PathBuf), first: &str, procedure: &str| {
            officer_run(
                "pin-letters",
                officer,
                &[
                    "create",
                    "--count",
                    "5",
                    "--first-id",
                    first,
                    "--pin-procedure",
                    procedure,
                    "--out",
                    pdf.to_str().unwrap(),
                    "--force",
                ],
            )
        };
    let admin = (inst.client_conf(), inst.dir.join("officer/admin.pin"));
    let out = create(&admin, "1", "letter");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("manage-pin-letters"));

    assert!(create(&printer, "10", "letter").status.success());
    let out = create(&printer, "12", "letter");
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PIN letter ID 12 exists already"));
    let out = create(&printer, "20", "show");
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("method letter"));
    let out = create(&printer, "20", "no-such-procedure");
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));

    let out = officer_run("pin-letters", &printer, &["list", "--json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["letter_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["10", "11", "12", "13", "14"],
        "the refused batch wrote nothing"
    );

    // The token procedure decides: a letter ID for a procedure that does not use letters.
    let out = run(
        inst.ra(&[
            "issue",
            "--procedure",
            "soft-signing-show",
            "--subject",
            ALICE,
            "--p12",
            &p12_arg(&inst, "x.p12"),
            "--pin-letter",
            &printed(10),
        ]),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pin-letter"));
    // Without a letter ID and without a terminal: the flag is named.
    let out = run(
        inst.ra(&[
            "issue",
            "--procedure",
            "soft-signing-letter",
            "--subject",
            ALICE,
            "--p12",
            &p12_arg(&inst, "x.p12"),
        ]),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pin-letter"));
}

on_both_engines!(
    a_mistyped_letter_id_is_refused_before_anything_is_sent,
    void_and_next_free
);

/// The failure records of the audit log whose refusal named `field`.
async fn refusals_naming(inst: &Installation, field: &str) -> usize {
    let store = inst.store().await;
    let records = store.audit_records(1000).await.unwrap();
    store.close().await;
    records
        .iter()
        .filter(|r| r.outcome == Outcome::Failure && r.detail["field"].as_str() == Some(field))
        .count()
}

async fn audit_len(inst: &Installation) -> usize {
    let store = inst.store().await;
    let n = store.audit_records(100_000).await.unwrap().len();
    store.close().await;
    n
}

fn a_mistyped_letter_id_is_refused_before_anything_is_sent(engine: Engine) {
    let inst = Installation::on(engine);
    let printer = printer(&inst);
    let pdf = create_letters(&inst, &printer, 100001, 3);
    let audit_before = block_on(audit_len(&inst));
    let p12 = p12_arg(&inst, "alice.p12");
    // Letter 100002-16 as printed, mistyped: the first typo hits another unused letter, which
    // sealed the token and was used up before check digits existed.
    for (typed, why) in [
        ("100003-16", "check digits do not match"),
        ("100020-16", "check digits do not match"),
        ("100002-61", "check digits do not match"),
        ("100002", "check digits after the dash are missing"),
        ("10000216", "check digits after the dash are missing"),
        ("100002-1", "is not a PIN letter ID"),
    ] {
        let out = issue_with_letter(&inst, typed, &p12);
        assert_eq!(out.status.code(), Some(2), "{typed}: {}", text(&out));
        let err = stderr(&out);
        assert!(err.contains("--pin-letter"), "{typed}: {err}");
        assert!(err.contains(why), "{typed}: {err}");
        assert!(!Path::new(&p12).exists(), "{typed}: nothing written");
    }
    assert_eq!(
        block_on(audit_len(&inst)),
        audit_before,
        "nothing reached the server"
    );
    assert!(used_letters(&printer).is_empty(), "no letter used");

    // The server checks too: a hand-made request with wrong check digits, or with the bare
    // number of a letter printed with check digits, is refused naming the field and audited.
    block_on(async {
        let (officer, client) = admin_client(&inst);
        for (n, typed) in ["100003-16", "100002"].into_iter().enumerate() {
            let body = json!({
                "request_id": format!("letter-typo-{n}"), "timestamp": unix_now(),
                "nonce": format!("letter-typo-nonce-{n:04}"),
                "token_procedure": "soft-signing-letter", "subject": ALICE,
                "key_spec": "EC:secp256r1", "csrs": [], "pin_letter": typed
            });
            let bytes = serde_json::to_vec(&body).unwrap();
            let signature = officer
                .sign(&keyward_proto::signed_message("/v1/tokens", &bytes))
                .unwrap();
            let result: Result<Value, keyward_ra::RaError> = client
                .post_with_content_type("/v1/tokens", Some("application/json"), bytes, &signature)
                .await;
            match result {
                Err(keyward_ra::RaError::Refused { status, error }) => {
                    assert_eq!(
                        (status, error.field.as_deref()),
                        (400, Some("pin_letter")),
                        "{typed}: {}",
                        error.message
                    );
                    assert!(error.message.contains("check digits"), "{}", error.message);
                }
                other => panic!("{typed}: expected a refusal, got {other:?}"),
            }
        }
    });
    assert_eq!(block_on(refusals_naming(&inst, "pin_letter")), 2);
    // The RA sends a bare number only when told the letter has no check digits; the server
    // knows better for this one.
    let out = issue_with_letter_and(&inst, "100002", &p12, &["--unchecked-letter-id"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(stderr(&out).contains("check digits"), "{}", text(&out));
    assert!(used_letters(&printer).is_empty(), "no letter used");

    // A letter printed before check digits existed (as letters created by an older Keyward):
    // listed by its bare number, chosen by it only with --unchecked-letter-id.
    block_on(async {
        let pool = inst.raw().await;
        sqlx::query("UPDATE pin_letters SET check_printed = 0 WHERE letter_id = 100003")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let listed = letters_json(&printer, &["list", "--first", "100003", "--limit", "1"]);
    assert_eq!(listed[0]["printed_id"], "100003", "{listed}");
    assert_eq!(listed[0]["check_printed"], false, "{listed}");
    let out = issue_with_letter(&inst, "100003", &p12);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("--pin-letter"), "{}", text(&out));
    let out = issue_with_letter_and(&inst, "100003", &p12, &["--unchecked-letter-id"]);
    assert!(out.status.success(), "{}", text(&out));
    let pin = pdf_pin(&pdf, "Letter ID 100003");
    let (keys, _) = p12_contents_with(Path::new(&p12), &pin);
    assert_eq!(keys.len(), 1);
    assert_eq!(used_letters(&printer), ["100003"]);
}

fn void_and_next_free(engine: Engine) {
    let inst = Installation::on(engine);
    let printer = printer(&inst);
    create_letters(&inst, &printer, 100001, 5);
    let next_free = || letters_json(&printer, &["list", "--next-free", "--procedure", "letter"]);
    assert_eq!(next_free()["printed_id"], "100001-19");
    let p12 = p12_arg(&inst, "alice.p12");
    let out = issue_with_letter(&inst, "100001-19", &p12);
    assert!(out.status.success(), "{}", text(&out));

    let voided = letters_json(
        &printer,
        &["void", "100002-16", "--reason", "torn in the printer"],
    );
    assert_eq!(voided["printed_id"], "100002-16", "{voided}");
    assert_eq!(voided["voided_by"], "printer", "{voided}");
    assert_eq!(voided["void_reason"], "torn in the printer", "{voided}");
    let out = officer_run(
        "pin-letters",
        &printer,
        &["void", "100003-13", "--reason", "envelope opened"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Voided PIN letter 100003-13"),
        "{}",
        text(&out)
    );
    // Skips the used letter and the voided ones.
    assert_eq!(next_free()["printed_id"], "100004-10");
    let out = officer_run(
        "pin-letters",
        &printer,
        &["list", "--next-free", "--procedure", "letter"],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("100004-10"),
        "{}",
        text(&out)
    );

    // Refused, naming why; nothing changes.
    let void = |id: &str, officer: &(PathBuf, PathBuf)| {
        officer_run("pin-letters", officer, &["void", id, "--reason", "damaged"])
    };
    let admin = (inst.client_conf(), inst.dir.join("officer/admin.pin"));
    for (id, officer, code, why) in [
        ("100001-19", &printer, 6, "a used letter cannot be voided"),
        ("100002-16", &printer, 6, "voided already by printer"),
        ("100004-01", &printer, 2, "check digits do not match"),
        (
            "100004",
            &printer,
            2,
            "check digits after the dash are missing",
        ),
        (&*printed(999), &printer, 6, "no PIN letter 999"),
        ("100004-10", &admin, 5, "manage-pin-letters"),
    ] {
        let out = void(id, officer);
        assert_eq!(out.status.code(), Some(code), "{id}: {}", text(&out));
        assert!(stderr(&out).contains(why), "{id}: {}", text(&out));
    }
    assert_eq!(next_free()["printed_id"], "100004-10");

    // A voided letter never seals a token.
    let bob = p12_arg(&inst, "bob.p12");
    let out = issue_with_letter(&inst, "100002-16", &bob);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(stderr(&out).contains("voided"), "{}", text(&out));
    assert!(!Path::new(&bob).exists());
    assert_eq!(used_letters(&printer), ["100001"]);

    let listed = letters_json(&printer, &["list", "--voided"]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["printed_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["100002-16", "100003-13"]);

    // Each voiding is audited with its reason, each refusal too.
    let (done, refused) = block_on(async {
        let store = inst.store().await;
        let records = store.audit_records(1000).await.unwrap();
        store.close().await;
        let voids: Vec<_> = records
            .into_iter()
            .filter(|r| r.action == "void-pin-letter")
            .collect();
        let done: Vec<String> = voids
            .iter()
            .filter(|r| r.outcome == Outcome::Success)
            .map(|r| {
                format!(
                    "{} {}",
                    r.object.as_deref().unwrap_or(""),
                    r.detail["reason"]
                )
            })
            .collect();
        let refused = voids
            .iter()
            .filter(|r| r.outcome == Outcome::Failure)
            .count();
        (done, refused)
    });
    assert_eq!(
        done,
        [
            "100002 \"torn in the printer\"",
            "100003 \"envelope opened\""
        ]
    );
    assert!(refused >= 4, "{refused}");

    // None left: said so (JSON null).
    for id in ["100004-10", "100005-07"] {
        assert!(void(id, &printer).status.success());
    }
    assert_eq!(next_free(), Value::Null);
    let out = officer_run(
        "pin-letters",
        &printer,
        &["list", "--next-free", "--procedure", "letter"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No free PIN letter"),
        "{}",
        text(&out)
    );
    block_on(async {
        let store = inst.store().await;
        let n = store
            .pin_letters(&PinLetterQuery {
                voided: Some(true),
                ..Default::default()
            })
            .await
            .unwrap()
            .len();
        store.close().await;
        assert_eq!(n, 4);
    });
}
