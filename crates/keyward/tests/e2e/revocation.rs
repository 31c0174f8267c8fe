//! Revocation through the real binary on both engines: `ra revoke` by Certificate ID and by
//! serial, holds and `ra unhold`, every refusal with its exit code and the field named, an
//! idempotent resend answered once, `--status` filters and status columns in `ra certificates`
//! and `ra archived-keys`, and every action in the audit log (`keyward audit verify` still
//! passes). The CA's serial is read with the `openssl` command.

use crate::common;

use std::process::Output;

use common::signed::{admin_client, unix_now};
use common::tokens::{archive, create_officer, issue, p12_arg, ALICE};
use common::{block_on, keyward, on_both_engines, run, text, Engine, Installation};
use keyward_policy::RevocationReason;
use keyward_proto::{signed_message, RevokeRequest, REVOKE_PATH};
use keyward_ra::revoke::Certificate;
use keyward_ra::RaError;
use keyward_store::{AuditCategory, Outcome};
use serde_json::Value;

on_both_engines!(revoke_hold_unhold_refuse_and_audit);

/// Issues a soft-signing token for `subject`: (Certificate ID, serial).
fn signing_token(inst: &Installation, subject: &str, file: &str) -> (String, String) {
    let p12 = p12_arg(inst, file);
    let json = issue(
        inst,
        None,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            subject,
            "--p12",
            &p12,
        ],
    );
    let cert = &json["certificates"][0];
    (
        cert["certificate_id"].as_str().unwrap().to_string(),
        cert["serial"].as_str().unwrap().to_string(),
    )
}

fn ra(inst: &Installation, args: &[&str]) -> Output {
    run(inst.ra(args), None)
}

fn ok_json(inst: &Installation, args: &[&str]) -> Value {
    let out = ra(inst, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// The issuing CA's serial, as the `openssl x509` command prints it.
fn ca_serial(inst: &Installation) -> String {
    let out = keyward_testkit::tool("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(inst.dir.join("ca/issuing.pem"))
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    line.strip_prefix("serial=").unwrap().to_string()
}

/// The Certificate IDs of a `--json` listing.
fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["certificate_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn revoke_hold_unhold_refuse_and_audit(engine: Engine) {
    let inst = Installation::on(engine);
    let archived = archive(&inst, ALICE, "alice.p12");
    let alice = archived["certificates"][0]["certificate_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (bob, bob_serial) = signing_token(&inst, "CN=Bob Example,O=Example,C=SE", "bob.p12");
    let (carol, _) = signing_token(&inst, "CN=Carol Example,O=Example,C=SE", "carol.p12");
    let (erin, _) = signing_token(&inst, "CN=Erin Example,O=Example,C=SE", "erin.p12");

    // By Certificate ID, with an invalidity date (a day, UTC).
    let done = ok_json(
        &inst,
        &[
            "revoke",
            "--id",
            &alice,
            "--reason",
            "keyCompromise",
            "--invalidity-date",
            "2026-11-30",
            "--json",
        ],
    );
    assert_eq!(done["certificate_id"], alice.as_str());
    assert_eq!(done["status"], "revoked");
    assert_eq!(done["revocation_reason"], "keyCompromise");
    assert_eq!(done["invalidity_date"], "2026-11-30T00:00:00Z");
    // By serial, in upper case with colons; the text output names the new status.
    let spelled: String = bob_serial.to_uppercase();
    let out = ra(
        &inst,
        &["revoke", "--serial", &spelled, "--reason", "superseded"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        line.contains(&format!("Certificate ID {bob}")) && line.contains("revoked (superseded, "),
        "{line}"
    );

    // Hold, then release.
    let held = ok_json(
        &inst,
        &[
            "revoke",
            "--id",
            &carol,
            "--reason",
            "certificateHold",
            "--json",
        ],
    );
    assert_eq!(held["status"], "on-hold");
    let on_hold = ok_json(&inst, &["certificates", "--status", "on-hold", "--json"]);
    assert_eq!(ids(&on_hold), vec![carol.clone()]);
    let released = ok_json(&inst, &["unhold", "--id", &carol, "--json"]);
    assert_eq!(released["status"], "valid");
    assert!(released["hold_released_at"].is_string(), "{released}");

    // Refusals: (arguments, exit code, what stderr names).
    let dave = create_officer(&inst, "dave", "issue-certificate");
    let ca = ca_serial(&inst);
    let refusals: Vec<(Vec<&str>, i32, Vec<&str>)> = vec![
        (
            vec!["revoke", "--id", &alice, "--reason", "superseded"],
            6,
            vec![
                "field certificate_id",
                "revoked already (keyCompromise, at ",
            ],
        ),
        (
            vec![
                "revoke",
                "--serial",
                &bob_serial,
                "--reason",
                "keyCompromise",
            ],
            6,
            vec!["field serial_hex", "revoked already (superseded"],
        ),
        (
            vec!["revoke", "--id", "999999", "--reason", "superseded"],
            6,
            vec![
                "404",
                "field certificate_id",
                "no certificate with Certificate ID 999999",
            ],
        ),
        (
            vec![
                "revoke",
                "--serial",
                "abcdef0123456789",
                "--reason",
                "superseded",
            ],
            6,
            vec![
                "field serial_hex",
                "no certificate with serial abcdef0123456789",
            ],
        ),
        (
            vec!["revoke", "--serial", &ca, "--reason", "superseded"],
            6,
            vec!["400", "field serial_hex", "CA certificates are not revoked"],
        ),
        (
            vec!["revoke", "--id", &erin, "--reason", "removeFromCRL"],
            2,
            vec!["--reason: removeFromCRL is not a reason an officer gives"],
        ),
        (
            vec!["revoke", "--id", &erin, "--reason", "cACompromise"],
            2,
            vec!["--reason"],
        ),
        (
            vec!["revoke", "--id", &erin, "--reason", "stolen"],
            2,
            vec!["unknown revocation reason \"stolen\""],
        ),
        (
            vec![
                "revoke",
                "--id",
                &erin,
                "--reason",
                "superseded",
                "--invalidity-date",
                "2999-01-01",
            ],
            2,
            vec!["--invalidity-date", "in the future"],
        ),
        (
            vec![
                "revoke",
                "--id",
                &erin,
                "--serial",
                "ab",
                "--reason",
                "superseded",
            ],
            2,
            vec!["--serial"],
        ),
        (
            vec!["unhold", "--id", &bob],
            6,
            vec!["409", "is not on hold: it is revoked already (superseded"],
        ),
        (
            vec!["unhold", "--id", &carol],
            6,
            vec!["not on hold: it is not revoked"],
        ),
    ];
    for (args, code, names) in &refusals {
        let out = ra(&inst, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {}", text(&out));
        for name in names {
            assert!(
                stderr.contains(name),
                "{args:?} should name {name:?}: {stderr}"
            );
        }
    }
    let out = run(
        inst.ra_as(
            &dave.0,
            &dave.1,
            &["revoke", "--id", &erin, "--reason", "superseded"],
        ),
        None,
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lacks the role revoke-certificate"));

    // What the CLI refuses before sending, the server refuses too (hand-made requests).
    block_on(async {
        let (_, client) = admin_client(&inst);
        let erin_id = Certificate::Id(erin.clone());
        for (reason, date, field) in [
            (RevocationReason::RemoveFromCrl, None, "reason"),
            (RevocationReason::AaCompromise, None, "reason"),
            (
                RevocationReason::Superseded,
                Some(unix_now() + 3600),
                "invalidity_date",
            ),
        ] {
            match client.revoke(&erin_id, reason, date).await {
                Err(RaError::Refused { status, error }) => {
                    assert_eq!(
                        (status, error.field.as_deref()),
                        (400, Some(field)),
                        "{}",
                        error.message
                    )
                }
                other => panic!("{reason}: {other:?}"),
            }
        }
    });

    // The same signed request twice: one revocation, the same answer.
    let (first, again) = block_on(async {
        let (officer, client) = admin_client(&inst);
        let request = RevokeRequest {
            request_id: "revoke-retry-1".into(),
            timestamp: unix_now(),
            nonce: "0123456789abcdef0123456789abcdef".into(),
            certificate_id: Some(erin.clone()),
            serial_hex: None,
            reason: RevocationReason::CessationOfOperation,
            invalidity_date: None,
        };
        let body = serde_json::to_vec(&request).unwrap();
        let signature = officer.sign(&signed_message(REVOKE_PATH, &body)).unwrap();
        let first: Value = client
            .post_with_signature(REVOKE_PATH, body.clone(), &signature)
            .await
            .unwrap();
        let again: Value = client
            .post_with_signature(REVOKE_PATH, body, &signature)
            .await
            .unwrap();
        (first, again)
    });
    assert_eq!(first, again, "a resend gets the recorded answer");
    assert_eq!(first["revocation_reason"], "cessationOfOperation");

    // Status everywhere: filters are applied by the server, the columns name the status.
    let revoked = ok_json(
        &inst,
        &[
            "certificates",
            "--subject",
            "example",
            "--status",
            "revoked",
            "--json",
        ],
    );
    let mut want = vec![alice.clone(), bob.clone(), erin.clone()];
    want.sort();
    assert_eq!(ids(&revoked), want);
    let valid = ok_json(
        &inst,
        &[
            "certificates",
            "--subject",
            "example",
            "--status",
            "valid",
            "--json",
        ],
    );
    assert_eq!(ids(&valid), vec![carol.clone()]);
    let out = ra(&inst, &["certificates", "--id", &alice]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        table.contains("STATUS") && table.contains("revoked (keyCompromise, "),
        "{table}"
    );
    let keys = ok_json(
        &inst,
        &[
            "archived-keys",
            "--subject",
            "alice",
            "--status",
            "revoked",
            "--json",
        ],
    );
    assert_eq!(ids(&keys), vec![alice.clone()]);
    assert_eq!(keys[0]["revocation_reason"], "keyCompromise");
    let none = ok_json(
        &inst,
        &[
            "archived-keys",
            "--subject",
            "alice",
            "--status",
            "valid",
            "--json",
        ],
    );
    assert_eq!(ids(&none), Vec::<String>::new());
    let out = ra(&inst, &["certificates", "--status", "gone"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // The audit log: each action once, each refusal, and the chain intact.
    block_on(async {
        let store = inst.store().await;
        let records = store.audit_records(500).await.unwrap();
        let revocations: Vec<_> = records
            .iter()
            .filter(|r| r.category == AuditCategory::CertificatesRevoked)
            .collect();
        let count = |action: &str, outcome: Outcome, object: Option<&str>| {
            revocations
                .iter()
                .filter(|r| r.action == action && r.outcome == outcome)
                .filter(|r| object.is_none() || r.object.as_deref() == object)
                .count()
        };
        assert_eq!(
            count("revoke-certificate", Outcome::Success, None),
            4,
            "alice, bob, carol, erin"
        );
        assert_eq!(
            count("revoke-certificate", Outcome::Success, Some(&erin)),
            1,
            "the resend did not revoke again"
        );
        assert_eq!(
            count("unhold-certificate", Outcome::Success, Some(&carol)),
            1
        );
        assert_eq!(count("answer-retry", Outcome::Success, None), 1);
        // Server refusals: 5 revoke (CLI table) + 1 role + 3 hand-made; 2 unhold.
        assert_eq!(count("revoke-certificate", Outcome::Failure, None), 9);
        assert_eq!(count("unhold-certificate", Outcome::Failure, None), 2);
        let status = store
            .certificate_status(revoked[0]["issuer"].as_str().unwrap(), &bob_serial)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            status.revocation.unwrap().reason,
            RevocationReason::Superseded
        );
        store.close().await;
    });
    let mut verify = keyward();
    verify.args(["audit", "verify", "--dir"]).arg(&inst.dir);
    let out = run(verify, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
