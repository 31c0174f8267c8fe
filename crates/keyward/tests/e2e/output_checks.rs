//! The RA's output files: a directory where no file can be created is refused before anything
//! is issued; a token that still cannot be written after issuance names its Certificate IDs,
//! exits 11 and is recorded in the audit log through the API; a `server.url` that is no URL is
//! a configuration error naming the setting.
//!
//! In a batch the row's pending file keeps the request and key, so the rerun finishes the token.
//!
//! The tests run as root, whom directory permissions do not stop, so the failures are made
//! otherwise: `/proc` takes no new file even from root (the refusal before issuance), and a
//! file-size limit (`ulimit -f 1`, SIGXFSZ ignored) lets the checks' empty probe file be
//! created but makes the PKCS#12 write fail with EFBIG after the server issued — as a full
//! disk or an exhausted quota would.

use crate::common;

use std::process::Command;

use common::signed::{admin_client, officer_client};
use common::tokens::create_officer;
use common::{block_on, keyward, on_both_engines, run, text, Engine, Installation};
use keyward_ra::RaError;
use keyward_store::{AuditQuery, Outcome};

const PIN: Option<&str> = Some("Correct-Horse-7\n");

fn issue_args<'a>(p12: &'a str, subject: &'a str) -> Vec<&'a str> {
    vec![
        "issue",
        "--procedure",
        "soft-signing",
        "--subject",
        subject,
        "--key-spec",
        "EC:secp256r1",
        "--p12",
        p12,
        "--pin-stdin",
    ]
}

/// Certificate IDs of the certificates whose subject contains `text`.
fn certificate_ids(inst: &Installation, text: &str) -> Vec<i64> {
    block_on(inst.certificate_ids(text))
}

/// The audit records of `action`, newest first.
fn audit_of(inst: &Installation, action: &str) -> Vec<keyward_store::AuditRecord> {
    block_on(async {
        let store = inst.store().await;
        let records = store
            .search_audit(&AuditQuery {
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .unwrap();
        store.close().await;
        records.into_iter().filter(|r| r.action == action).collect()
    })
}

/// `cmd` under a file-size limit of `blocks` × 512 bytes (sh's unit), SIGXFSZ ignored: a write
/// past it fails with EFBIG instead of killing the process.
fn with_file_size_limit(cmd: &Command, blocks: u32) -> Command {
    let mut limited = Command::new("sh");
    limited
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\""
        ))
        .arg(cmd.get_program())
        .args(cmd.get_args());
    limited
}

on_both_engines!(an_unwritable_output_directory_is_refused_before_anything_is_issued);

fn an_unwritable_output_directory_is_refused_before_anything_is_issued(engine: Engine) {
    let inst = Installation::on(engine);
    let p12 = inst.out.join("a.p12");
    let subject = "CN=unwritable output,O=Example";
    for (args, needle) in [
        (
            issue_args("/proc/keyward-a.p12", subject),
            "p12: cannot create files in /proc",
        ),
        (
            [
                issue_args(p12.to_str().unwrap(), subject),
                vec!["--cert", "/proc/keyward-a.pem"],
            ]
            .concat(),
            "cert: cannot create files in /proc",
        ),
    ] {
        let out = run(inst.ra(&args), PIN);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{needle}: {}",
            text(&out)
        );
    }
    assert!(!p12.exists());
    assert_eq!(
        certificate_ids(&inst, "unwritable output"),
        Vec::<i64>::new()
    );

    let csv = inst.out.join("rows.csv");
    std::fs::write(&csv, "subject\n\"CN=unwritable batch,O=Example\"\n").unwrap();
    let out = run(
        inst.ra(&[
            "batch",
            "--csv",
            csv.to_str().unwrap(),
            "--procedure",
            "soft-signing-show",
            "--out-dir",
            "/proc",
        ]),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--out-dir: cannot create files in /proc"),
        "{}",
        text(&out)
    );
    assert_eq!(
        certificate_ids(&inst, "unwritable batch"),
        Vec::<i64>::new()
    );
}

on_both_engines!(a_token_not_written_after_issuance_is_named_and_audited);

fn a_token_not_written_after_issuance_is_named_and_audited(engine: Engine) {
    let inst = Installation::on(engine);
    let p12 = inst.out.join("full-disk.p12");
    let subject = "CN=full disk,O=Example";
    let cmd = inst.ra(&issue_args(p12.to_str().unwrap(), subject));
    let out = run(with_file_size_limit(&cmd, 1), PIN);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(11), "{all}");
    let ids = certificate_ids(&inst, "full disk");
    assert_eq!(ids.len(), 1, "the server issued it: {all}");
    let id = ids[0].to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        format!("issued Certificate ID(s) {id} "),
        "File too large".into(),
        format!("The key of Certificate ID {id} is lost"),
        "revoked".into(),
        "recorded this in the audit log".into(),
    ] {
        assert!(stderr.contains(&needle), "stderr lacks {needle:?}: {all}");
    }
    assert!(!p12.exists(), "nothing half-written");
    assert!(!p12.with_extension("der").exists());
    let reports = audit_of(&inst, "report-undelivered-token");
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let report = &reports[0];
    assert_eq!(report.object.as_deref(), Some(id.as_str()));
    assert_eq!(report.officer.as_deref(), Some("admin"));
    assert_eq!(report.outcome, Outcome::Success);
    let reason = report.detail["reason"].as_str().unwrap();
    assert!(
        reason.contains("full-disk.p12") && reason.contains("File too large"),
        "{reason}"
    );
    assert!(
        stderr.contains(&format!("audit record {}", report.id)),
        "{all}"
    );
}

on_both_engines!(a_batch_token_not_written_is_finished_by_the_rerun);

fn a_batch_token_not_written_is_finished_by_the_rerun(engine: Engine) {
    let inst = Installation::on(engine);
    let csv = inst.out.join("rows.csv");
    std::fs::write(&csv, "subject\n\"CN=batch full disk,O=Example\"\n").unwrap();
    let out_dir = inst.out.join("tokens");
    let args = [
        "batch",
        "--csv",
        csv.to_str().unwrap(),
        "--procedure",
        "soft-signing-show",
        "--out-dir",
        out_dir.to_str().unwrap(),
    ];
    // 3.5 KiB: the row's pending file (its request and key, about 3.2 KiB) is written before
    // the request is sent; the PKCS#12 (about 3.7 KiB, three certificates) is not.
    let out = run(with_file_size_limit(&inst.ra(&args), 7), None);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(11), "{all}");
    let ids = certificate_ids(&inst, "batch full disk");
    assert_eq!(ids.len(), 1, "{all}");
    let id = ids[0].to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        format!("issued Certificate ID(s) {id} "),
        "row-1.json".into(),
        "rerun the same command".into(),
    ] {
        assert!(stderr.contains(&needle), "stderr lacks {needle:?}: {all}");
    }
    assert!(!stderr.contains("is lost"), "the key is kept: {all}");
    assert_eq!(audit_of(&inst, "report-undelivered-token").len(), 1);

    // Without the limit the same command finishes the token from the server's answer: the
    // same certificate, no second one.
    let out = run(inst.ra(&args), None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(certificate_ids(&inst, "batch full disk"), ids);
    assert!(out_dir.join("batch_full_disk.p12").exists());
}

on_both_engines!(reports_of_undelivered_tokens_are_checked_and_refusals_audited);

fn reports_of_undelivered_tokens_are_checked_and_refusals_audited(engine: Engine) {
    let inst = Installation::on(engine);
    let p12 = inst.out.join("delivered.p12");
    let out = run(
        inst.ra(&issue_args(p12.to_str().unwrap(), "CN=delivered,O=Example")),
        PIN,
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = certificate_ids(&inst, "delivered")[0].to_string();
    let (other_conf, other_pin) = create_officer(&inst, "other", "issue-certificate");
    let (rec_conf, rec_pin) = create_officer(&inst, "recoverer", "recover-key");
    let (_, admin) = admin_client(&inst);
    let (_, other) = officer_client(&other_conf, &other_pin);
    let (_, recoverer) = officer_client(&rec_conf, &rec_pin);
    let status = |r: Result<keyward_proto::UndeliveredRecorded, RaError>| match r {
        Err(RaError::Refused { status, error }) => (status, error.field),
        other => panic!("expected a refusal: {other:?}"),
    };
    block_on(async {
        let reason = "x.p12: File too large";
        let r = admin
            .report_undelivered("r1", &["999999".into()], reason)
            .await;
        assert_eq!(status(r), (404, Some("certificate_ids".into())));
        let r = admin
            .report_undelivered("r1", &["12a".into()], reason)
            .await;
        assert_eq!(status(r), (400, Some("certificate_ids".into())));
        let r = admin.report_undelivered("r1", &[], reason).await;
        assert_eq!(status(r), (400, Some("certificate_ids".into())));
        let r = admin
            .report_undelivered("r1", std::slice::from_ref(&id), "")
            .await;
        assert_eq!(status(r), (400, Some("reason".into())));
        let r = other
            .report_undelivered("r1", std::slice::from_ref(&id), reason)
            .await;
        assert_eq!(status(r).0, 403, "another officer's certificate");
        let r = recoverer
            .report_undelivered("r1", std::slice::from_ref(&id), reason)
            .await;
        assert_eq!(status(r).0, 403, "no issue-certificate role");
        let ok = admin
            .report_undelivered("r1", &[id.clone(), id.clone()], reason)
            .await
            .unwrap();
        assert_eq!(ok.certificate_ids, vec![id.clone()]);
    });
    let records = audit_of(&inst, "report-undelivered-token");
    let refused = records
        .iter()
        .filter(|r| r.outcome == Outcome::Failure)
        .count();
    assert_eq!(refused, 6, "every refusal audited: {records:#?}");
    assert_eq!(records.len(), 7);
}

#[test]
fn a_server_url_that_is_no_url_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("client.conf");
    for url in ["https://127.0.0.1:99999", "https://127.0.0.1:8443\u{0}"] {
        std::fs::write(
            &conf,
            format!("server.url = {url}\nserver.ca = root.pem\nofficer.p12 = admin.p12\n"),
        )
        .unwrap();
        let mut cmd = keyward();
        cmd.arg("ra").arg("--config").arg(&conf).arg("whoami");
        let out = run(cmd, None);
        assert_eq!(out.status.code(), Some(3), "{url:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("server.url"),
            "{url:?}: {}",
            text(&out)
        );
    }
}
