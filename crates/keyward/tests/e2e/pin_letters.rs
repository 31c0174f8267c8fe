//! PIN/PUK letters end to end: created by an officer with `manage-pin-letters`, printed as a
//! PDF read back with `pdftotext`, chosen by letter ID at issuance, and used only once.

use crate::common;

use common::pins::{assert_nowhere, officer_run, pdf_pages, pdf_pin, printer};
use common::tokens::{p12_arg, p12_contents_with, ALICE};
use common::{on_both_engines, run, text, Engine, Installation};
use serde_json::Value;

fn issue_with_letter(inst: &Installation, letter: &str, p12: &str) -> std::process::Output {
    run(
        inst.ra(&[
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
        ]),
        None,
    )
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
        assert!(
            page.contains(&format!("Letter ID {}", 100001 + i)),
            "{page}"
        );
        assert_eq!(pin.len(), 12, "{page}");
        assert_eq!(puk.as_deref().map(str::len), Some(12), "{page}");
    }
    let pin = pdf_pin(&pdf, "Letter ID 100002");

    let p12 = p12_arg(&inst, "alice.p12");
    let out = issue_with_letter(&inst, "100002", &p12);
    assert!(out.status.success(), "{}", text(&out));
    let issued: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(issued.get("pin").is_none(), "a letter PIN is never shown");
    assert_eq!(issued["pin_delivery"]["letter_id"], "100002");
    let (keys, certs) = p12_contents_with(std::path::Path::new(&p12), &pin);
    assert_eq!(keys.len(), 1);
    assert!(!certs.is_empty());

    // Used: refused, and nothing is written or issued.
    let again = p12_arg(&inst, "again.p12");
    let out = issue_with_letter(&inst, "100002", &again);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PIN letter 100002 has been used already")
    );
    assert!(!std::path::Path::new(&again).exists());

    // Unknown and malformed IDs.
    let out = issue_with_letter(&inst, "999", &again);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no PIN letter 999"));
    let out = issue_with_letter(&inst, "12ab", &again);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pin-letter"));

    // The letter is listed as used, with the certificate issued with it.
    let out = officer_run("pin-letters", &printer, &["list", "--used", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let used: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(used.as_array().unwrap().len(), 1);
    assert_eq!(used[0]["letter_id"], "100002");
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
            "10",
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
