//! PIN mail end to end: the server generates the PIN and queues it; the Secure Printer (an
//! officer with `manage-pin-letters`) has the server send it to a real SMTP server (Debian's
//! aiosmtpd, started here) or prints it as a PDF; the PIN taken from the mail or the PDF opens
//! the PKCS#12; failures are retried and reported; delivered PINs are deleted.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::pins::{assert_nowhere, officer_run, pdf_pin, printer};
use common::tokens::{p12_arg, p12_contents_with, ALICE};
use common::{block_on, on_both_engines, run, text, Engine, Installation};
use keyward_testkit::smtp::SmtpServer;
use serde_json::Value;

/// cm.conf lines for a plain SMTP server on 127.0.0.1:`port`.
pub(crate) fn smtp_conf(port: u16, max_attempts: u32) -> String {
    format!(
        "pin-mailer.smtp-host = 127.0.0.1\n\
         pin-mailer.smtp-port = {port}\n\
         pin-mailer.smtp-security = none\n\
         pin-mailer.from = Keyward PIN mailer <pin-mailer@example.org>\n\
         pin-mailer.max-attempts = {max_attempts}"
    )
}

/// `ra issue --pin-email ADDRESS --json` with `procedure` for Alice; the JSON answer.
pub(crate) fn issue_email(inst: &Installation, procedure: &str, address: &str, p12: &str) -> Value {
    let out = run(
        inst.ra(&[
            "issue",
            "--procedure",
            procedure,
            "--subject",
            ALICE,
            "--p12",
            p12,
            "--pin-email",
            address,
            "--json",
        ]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let issued: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(issued.get("pin").is_none(), "a mailed PIN is never shown");
    issued
}

/// `ra issue --procedure soft-signing-post` for Alice with the postal address options
/// `address` (and `stdin`); the JSON answer.
fn issue_post(inst: &Installation, address: &[&str], stdin: Option<&str>, p12: &str) -> Value {
    let mut args = vec![
        "issue",
        "--procedure",
        "soft-signing-post",
        "--subject",
        ALICE,
        "--p12",
        p12,
        "--json",
    ];
    args.extend(address);
    let out = run(inst.ra(&args), stdin);
    assert!(out.status.success(), "{}", text(&out));
    let issued: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(issued.get("pin").is_none(), "a posted PIN is never shown");
    issued
}

/// The PIN in a PIN mail: the line after "The PIN that opens it is:".
pub(crate) fn pin_in(mail: &str) -> String {
    let mut lines = mail.lines().map(str::trim).filter(|l| !l.is_empty());
    lines
        .by_ref()
        .find(|l| l.ends_with("The PIN that opens it is:"))
        .unwrap_or_else(|| panic!("no PIN in mail:\n{mail}"));
    lines.next().expect("PIN line").to_string()
}

fn sealed_pins_left(inst: &Installation) -> i64 {
    block_on(async {
        let pool = inst.raw().await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pin_mail WHERE sealed IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    })
}

on_both_engines!(mailed_and_printed_pins_open_their_tokens);

fn mailed_and_printed_pins_open_their_tokens(engine: Engine) {
    let smtp = SmtpServer::start();
    let inst = Installation::with_cm_conf_on(engine, &smtp_conf(smtp.port(), 5));
    let printer = printer(&inst);

    let mailed = p12_arg(&inst, "alice-mail.p12");
    let issued = issue_email(&inst, "soft-signing-email", "alice@example.org", &mailed);
    assert_eq!(issued["pin_delivery"]["recipient"], "alice@example.org");
    assert_eq!(issued["pin_delivery"]["delivery"], "smtp");
    let posted = p12_arg(&inst, "alice-post.p12");
    issue_post(
        &inst,
        &[
            "--pin-postal-address",
            "Alice Example\\nStorgatan 1\\n111 22 Stockholm",
        ],
        None,
        &posted,
    );
    assert_eq!(sealed_pins_left(&inst), 2);

    // An officer without manage-pin-letters cannot drain the queue.
    let admin = (inst.client_conf(), inst.dir.join("officer/admin.pin"));
    let out = officer_run(
        "secure-printer",
        &admin,
        &["run", "--out-dir", inst.out.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));

    let out = officer_run(
        "secure-printer",
        &printer,
        &["run", "--out-dir", inst.out.to_str().unwrap(), "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sent"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["printed"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["failed"].as_array().unwrap().len(), 0, "{report}");

    let mails = smtp.wait_for(1, Duration::from_secs(10));
    assert!(mails[0].contains("To: alice@example.org"), "{}", mails[0]);
    let mail_pin = pin_in(&mails[0]);
    let (keys, _) = p12_contents_with(Path::new(&mailed), &mail_pin);
    assert_eq!(keys.len(), 1);

    let pdf = report["pdf"].as_str().unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(pdf).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let printed_id = report["printed"][0]["id"].as_str().unwrap();
    let print_pin = pdf_pin(Path::new(pdf), &format!("PIN mail {printed_id}"));
    let (keys, _) = p12_contents_with(Path::new(&posted), &print_pin);
    assert_eq!(keys.len(), 1);

    // Delivered: the PINs are gone from the server, and a second run has nothing to do.
    assert_eq!(sealed_pins_left(&inst), 0);
    let out = officer_run("secure-printer", &printer, &["queue", "--json"]);
    let queue: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["state"] == "delivered"),
        "{queue}"
    );
    let out = officer_run(
        "secure-printer",
        &printer,
        &["run", "--out-dir", inst.out.to_str().unwrap(), "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(smtp.messages().len(), 1);

    assert_nowhere(&inst, &[mail_pin, print_pin]);
}

on_both_engines!(failed_deliveries_are_retried_reported_and_requeued);

fn failed_deliveries_are_retried_reported_and_requeued(engine: Engine) {
    // A port nobody listens on: every send fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let inst = Installation::with_cm_conf_on(engine, &smtp_conf(closed, 2));
    let printer = printer(&inst);
    issue_email(
        &inst,
        "soft-signing-email",
        "bob@example.org",
        &p12_arg(&inst, "bob.p12"),
    );
    let drain = || {
        officer_run(
            "secure-printer",
            &printer,
            &["run", "--out-dir", inst.out.to_str().unwrap()],
        )
    };

    let out = drain();
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAILED") && stdout.contains("attempt 1, now queued"),
        "{stdout}"
    );
    // Issue 17, item 7: the error names the SMTP server and what to check, never a secret.
    let server = format!("SMTP server 127.0.0.1:{closed}: ");
    assert!(stdout.contains(&server), "{stdout}");
    assert!(
        stdout.contains("check pin-mailer.smtp-host and pin-mailer.smtp-port in cm.conf"),
        "{stdout}"
    );
    // … and the hint names the state the mail is in: still queued, for the next run.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 still queued") && stderr.contains("queue --state queued"),
        "{stderr}"
    );
    assert!(!stderr.contains("--state failed"), "{stderr}");
    let out = officer_run(
        "secure-printer",
        &printer,
        &["queue", "--state", "queued", "--json"],
    );
    let queued: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(queued[0]["attempts"], 1, "{queued}");
    assert!(
        queued[0]["last_error"]
            .as_str()
            .unwrap()
            .starts_with(&server),
        "{queued}"
    );
    let out = drain();
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("attempt 2, now failed"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 marked failed") && stderr.contains("queue --state failed"),
        "{stderr}"
    );
    // Failed: no more attempts, but the PIN is kept for a requeue.
    let out = drain();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sealed_pins_left(&inst), 1);

    let out = officer_run(
        "secure-printer",
        &printer,
        &["queue", "--state", "failed", "--json"],
    );
    let failed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(failed[0]["attempts"], 2);
    assert!(
        failed[0]["last_error"]
            .as_str()
            .unwrap()
            .starts_with(&server),
        "{failed}"
    );
    let id = failed[0]["id"].as_str().unwrap().to_string();
    let out = officer_run("secure-printer", &printer, &["requeue", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let out = officer_run("secure-printer", &printer, &["requeue", "999"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let out = officer_run(
        "secure-printer",
        &printer,
        &["queue", "--state", "queued", "--json"],
    );
    let queued: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(queued[0]["attempts"], 0);

    // Every attempt is in the audit log, without the PIN.
    let records = block_on(async { inst.store().await.audit_records(100).await.unwrap() });
    let attempts = records
        .iter()
        .filter(|r| r.action == "send-pin-mail" && r.outcome == keyward_store::Outcome::Failure)
        .count();
    assert_eq!(attempts, 2);
}

on_both_engines!(bad_pin_mailer_addresses_are_refused);

fn bad_pin_mailer_addresses_are_refused(engine: Engine) {
    let inst = Installation::on(engine);
    for (address, code) in [
        ("not-an-address", 6),
        ("alice@example.org\r\nBcc: eve@example.org", 6),
        ("", 2),
    ] {
        let out = run(
            inst.ra(&[
                "issue",
                "--procedure",
                "soft-signing-email",
                "--subject",
                ALICE,
                "--p12",
                &p12_arg(&inst, "x.p12"),
                "--pin-email",
                address,
            ]),
            None,
        );
        assert_eq!(out.status.code(), Some(code), "{address:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("pin"),
            "{}",
            text(&out)
        );
        assert!(!inst.out.join("x.p12").exists());
    }
    // --pin-stdin does not apply: the server chooses the PIN.
    let out = run(
        inst.ra(&[
            "issue",
            "--procedure",
            "soft-signing-email",
            "--subject",
            ALICE,
            "--p12",
            &p12_arg(&inst, "x.p12"),
            "--pin-email",
            "alice@example.org",
            "--pin-stdin",
        ]),
        Some("Correct-Horse-7\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// Issue 17, item 13: the postal procedure takes a postal address of several lines (flag with
/// `\n`, file, standard input, batch column), not an e-mail address, and the other way round;
/// the printed letter has each address line on a line of its own.
#[test]
fn the_postal_procedure_takes_a_postal_address() {
    let inst = Installation::new();
    let printer = printer(&inst);
    let p12 = p12_arg(&inst, "post.p12");
    let refused = |args: &[&str], names: &[&str]| {
        let mut all = vec!["issue", "--subject", ALICE, "--p12", &p12];
        all.extend(args);
        let out = run(inst.ra(&all), None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        for name in names {
            assert!(err.contains(name), "{args:?}: {err}");
        }
    };
    refused(
        &[
            "--procedure",
            "soft-signing-post",
            "--pin-email",
            "alice@example.org",
        ],
        &["--pin-email", "--pin-postal-address"],
    );
    refused(
        &[
            "--procedure",
            "soft-signing-email",
            "--pin-postal-address",
            "Alice\\nStorgatan 1",
        ],
        &["--pin-postal-address", "--pin-email"],
    );
    refused(
        &[
            "--procedure",
            "soft-signing-letter",
            "--pin-postal-address",
            "Alice",
        ],
        &["--pin-postal-address", "does not use it"],
    );
    refused(
        &["--procedure", "soft-signing-post"],
        &["--pin-postal-address"],
    );
    refused(
        &[
            "--procedure",
            "soft-signing-post",
            "--pin-postal-address",
            "1\\n2\\n3\\n4\\n5\\n6\\n7",
        ],
        &["--pin-postal-address", "7 lines"],
    );
    assert!(!Path::new(&p12).exists());

    // `\n` in the flag, a file (CRLF, blank line), standard input.
    let issued = issue_post(
        &inst,
        &[
            "--pin-postal-address",
            "Alice Example\\nStorgatan 1\\n111 22 Stockholm",
        ],
        None,
        &p12,
    );
    assert_eq!(
        issued["pin_delivery"]["recipient"],
        "Alice Example\nStorgatan 1\n111 22 Stockholm"
    );
    assert_eq!(issued["pin_delivery"]["delivery"], "print");
    let file = inst.out.join("address.txt");
    std::fs::write(&file, "Carol Example\r\nc/o Example AB\r\n\r\nBox 7\r\n").unwrap();
    let issued = issue_post(
        &inst,
        &["--pin-postal-address-file", file.to_str().unwrap()],
        None,
        &p12_arg(&inst, "post-file.p12"),
    );
    assert_eq!(
        issued["pin_delivery"]["recipient"],
        "Carol Example\nc/o Example AB\nBox 7"
    );
    let issued = issue_post(
        &inst,
        &["--pin-postal-address-file", "-"],
        Some("Bob Example\nLillgatan 2\n222 33 Uppsala\n"),
        &p12_arg(&inst, "post-stdin.p12"),
    );
    assert_eq!(
        issued["pin_delivery"]["recipient"],
        "Bob Example\nLillgatan 2\n222 33 Uppsala"
    );

    // The batch column: pin_postal_address (a quoted cell with line breaks), and pin_email
    // refused for the postal procedure naming it.
    let csv = inst.out.join("post.csv");
    std::fs::write(
        &csv,
        "subject,pin_email\n\"CN=Dan Example\",dan@example.org\n",
    )
    .unwrap();
    let batch = |dir: &str| {
        run(
            inst.ra(&[
                "batch",
                "--csv",
                csv.to_str().unwrap(),
                "--procedure",
                "soft-signing-post",
                "--out-dir",
                inst.out.join(dir).to_str().unwrap(),
                "--key-spec",
                "EC:secp256r1",
            ]),
            None,
        )
    };
    let out = batch("refused");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("column pin_email"), "{err}");
    assert!(err.contains("pin_postal_address"), "{err}");
    std::fs::write(
        &csv,
        "subject,pin_postal_address\n\"CN=Dan Example\",\"Dan Example\nBox 1\n333 44 Lund\"\n",
    )
    .unwrap();
    let out = batch("tokens");
    assert!(out.status.success(), "{}", text(&out));

    // Printed: every address line on a line of its own.
    let out = officer_run(
        "secure-printer",
        &printer,
        &["run", "--out-dir", inst.out.to_str().unwrap(), "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["printed"].as_array().unwrap().len(), 4, "{report}");
    let pages = common::pins::pdf_pages(Path::new(report["pdf"].as_str().unwrap()));
    for lines in [
        ["Alice Example", "Storgatan 1", "111 22 Stockholm"],
        ["Carol Example", "c/o Example AB", "Box 7"],
        ["Bob Example", "Lillgatan 2", "222 33 Uppsala"],
        ["Dan Example", "Box 1", "333 44 Lund"],
    ] {
        let page = pages
            .iter()
            .map(|(page, _, _)| page)
            .find(|page| page.contains(lines[1]))
            .unwrap_or_else(|| panic!("no letter for {}", lines[1]));
        for line in lines {
            assert!(
                page.lines().any(|l| l.trim() == line),
                "{line:?} is not a line of its own:\n{page}"
            );
        }
    }
}

/// Runs `cmd` on a pseudo-terminal (util-linux `script`), typing `input`; stdout and stderr
/// arrive together in `stdout`.
fn on_terminal(cmd: &std::process::Command, input: &str) -> std::process::Output {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
    let line = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = keyward_testkit::tool("script");
    script.args(["-qec", &line, "/dev/null"]);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    run(script, Some(input))
}

/// On a terminal, the postal procedure asks for the address line by line, and the letter
/// procedure for the letter ID (a typo is refused there too).
#[test]
fn on_a_terminal_the_postal_address_and_the_letter_id_are_prompted_for() {
    let inst = Installation::new();
    let p12 = p12_arg(&inst, "prompted.p12");
    let cmd = inst.ra(&[
        "issue",
        "--procedure",
        "soft-signing-post",
        "--subject",
        ALICE,
        "--p12",
        &p12,
    ]);
    let out = on_terminal(&cmd, "Eve Example\nBox 9\n999 99 Visby\n\n");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        said.contains("Postal address (end with an empty line):"),
        "{said}"
    );
    assert!(!said.contains("PIN mailer address"), "{said}");
    let recipients = block_on(async {
        let store = inst.store().await;
        let mail = store.pin_mail(&Default::default()).await.unwrap();
        store.close().await;
        mail.into_iter().map(|m| m.recipient).collect::<Vec<_>>()
    });
    assert_eq!(recipients, ["Eve Example\nBox 9\n999 99 Visby"]);

    let cmd = inst.ra(&[
        "issue",
        "--procedure",
        "soft-signing-letter",
        "--subject",
        ALICE,
        "--p12",
        &p12_arg(&inst, "prompted-letter.p12"),
    ]);
    let out = on_terminal(&cmd, "100002-61\n");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(said.contains("PIN letter ID, as printed"), "{said}");
    assert!(
        said.contains("--pin-letter: 100002-61: the check digits do not match"),
        "{said}"
    );
}
