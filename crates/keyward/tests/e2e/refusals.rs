//! Bad input is refused with a non-zero exit, a message naming the cause, nothing written, and
//! (where the request reached the server) an audit record.

use crate::common;

use std::path::Path;

use common::signed::{admin_client, unix_now};
use common::{block_on, keyward, on_both_engines, run, text, Engine, Installation};
use keyward_ra::RaError;
use keyward_store::{AuditCategory, CertificateQuery, Outcome};

fn certificate_count(inst: &Installation) -> usize {
    block_on(async {
        let store = inst.store().await;
        let n = store
            .find_certificates(&CertificateQuery {
                subject: Some("refused".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .len();
        store.close().await;
        n
    })
}

fn refused(
    inst: &Installation,
    out: &std::process::Output,
    code: i32,
    needles: &[&str],
    p12: &Path,
) {
    let all = text(out);
    assert_eq!(out.status.code(), Some(code), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {all}");
    }
    assert!(!p12.exists(), "nothing may be written: {}", p12.display());
    assert!(
        !p12.with_extension("der").exists(),
        "nothing may be written"
    );
    assert_eq!(certificate_count(inst), 0, "no certificate may be issued");
}

fn issue_args<'a>(
    p12: &'a str,
    subject: &'a str,
    procedure: &'a str,
    spec: &'a str,
) -> Vec<&'a str> {
    vec![
        "issue",
        "--procedure",
        procedure,
        "--subject",
        subject,
        "--key-spec",
        spec,
        "--p12",
        p12,
        "--pin-stdin",
    ]
}

on_both_engines!(bad_input_is_refused_before_anything_is_issued);

fn bad_input_is_refused_before_anything_is_issued(engine: Engine) {
    let inst = Installation::on(engine);
    let p12 = inst.out.join("refused.p12");
    let p = p12.to_str().unwrap();
    let pin = Some("Correct-Horse-7\n");
    let good = "CN=refused person,O=Example";

    let out = run(
        inst.ra(&issue_args(p, good, "no-such-procedure", "EC:secp256r1")),
        pin,
    );
    refused(&inst, &out, 2, &["procedure", "no-such-procedure"], &p12);

    let out = run(
        inst.ra(&issue_args(
            p,
            "CN=refused,,O=x",
            "soft-signing",
            "EC:secp256r1",
        )),
        pin,
    );
    refused(&inst, &out, 2, &["subject", "stray comma"], &p12);
    let out = run(
        inst.ra(&issue_args(
            p,
            "CN=refused,C=Sweden",
            "soft-signing",
            "EC:secp256r1",
        )),
        pin,
    );
    refused(&inst, &out, 2, &["C:", "two-letter"], &p12);
    let out = run(
        inst.ra(&issue_args(
            p,
            "CN=refused,DC=example",
            "soft-signing",
            "EC:secp256r1",
        )),
        pin,
    );
    refused(
        &inst,
        &out,
        2,
        &["DC", "not allowed by certificate procedure signing"],
        &p12,
    );
    let big = format!("CN={}", "x".repeat(5000));
    let out = run(
        inst.ra(&issue_args(p, &big, "soft-signing", "EC:secp256r1")),
        pin,
    );
    refused(&inst, &out, 2, &["subject", "longer than"], &p12);

    let out = run(
        inst.ra(&issue_args(p, good, "soft-signing", "RSA:1000")),
        pin,
    );
    refused(
        &inst,
        &out,
        2,
        &["key-spec", "allowed: RSA:2048*", "DSA:1024"],
        &p12,
    );
    let out = run(
        inst.ra(&issue_args(p, good, "soft-signing", "EC:P-256")),
        pin,
    );
    refused(&inst, &out, 2, &["key-spec", "allowed:"], &p12);

    let out = run(
        inst.ra(&issue_args(p, good, "soft-signing", "EC:secp256r1")),
        Some("1234\n"),
    );
    refused(&inst, &out, 2, &["PIN", "at least 8"], &p12);
    let out = run(
        inst.ra(&issue_args(p, good, "soft-signing", "EC:secp256r1")),
        Some("11111111\n"),
    );
    refused(&inst, &out, 2, &["PIN", "trivial"], &p12);

    let wrong = inst.out.join("wrong.pin");
    std::fs::write(&wrong, "not-the-pin\n").unwrap();
    let out = run(
        inst.ra_as(
            &inst.client_conf(),
            &wrong,
            &issue_args(p, good, "soft-signing", "EC:secp256r1"),
        ),
        pin,
    );
    refused(&inst, &out, 4, &["wrong Signature PIN"], &p12);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("not-the-pin"),
        "the PIN is never echoed"
    );
}

on_both_engines!(officers_without_the_role_or_revoked_are_refused_and_audited);

fn officers_without_the_role_or_revoked_are_refused_and_audited(engine: Engine) {
    let inst = Installation::on(engine);
    let mut create = keyward();
    create
        .args([
            "officer",
            "create",
            "recoverer",
            "--roles",
            "recover-key",
            "--dir",
        ])
        .arg(&inst.dir);
    let out = run(create, None);
    assert!(out.status.success(), "{}", text(&out));
    let conf = inst.client_conf_for("recoverer");
    let pin = inst.dir.join("officer/recoverer.pin");
    let p12 = inst.out.join("refused.p12");
    let args = issue_args(
        p12.to_str().unwrap(),
        "CN=refused person",
        "soft-signing",
        "EC:secp256r1",
    );
    let out = run(inst.ra_as(&conf, &pin, &args), Some("Correct-Horse-7\n"));
    refused(
        &inst,
        &out,
        5,
        &["lacks the role issue-certificate", "soft-signing"],
        &p12,
    );

    let mut revoke = keyward();
    revoke
        .args(["officer", "revoke", "recoverer", "--dir"])
        .arg(&inst.dir);
    let out = run(revoke, None);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(inst.ra_as(&conf, &pin, &["whoami"]), None);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("revoked"),
        "{}",
        text(&out)
    );

    let records = block_on(async { inst.store().await.audit_records(1000).await.unwrap() });
    let role_refusal = records.iter().any(|r| {
        r.category == AuditCategory::CertificatesIssued
            && r.outcome == Outcome::Failure
            && r.officer.as_deref() == Some("recoverer")
            && r.detail["reason"]
                .as_str()
                .unwrap_or("")
                .contains("lacks the role")
    });
    assert!(role_refusal, "role refusal audited: {records:#?}");
    let revoked_refusal = records.iter().any(|r| {
        r.category == AuditCategory::Authentication
            && r.outcome == Outcome::Failure
            && r.officer.as_deref() == Some("recoverer")
    });
    assert!(revoked_refusal, "revoked officer's attempt audited");
}

on_both_engines!(a_tampered_request_body_is_refused_and_audited);

fn a_tampered_request_body_is_refused_and_audited(engine: Engine) {
    let inst = Installation::on(engine);
    block_on(async {
        let (officer, client) = admin_client(&inst);
        let now = unix_now();
        let signed = serde_json::json!({
            "request_id": "r1", "timestamp": now, "nonce": "n1", "token_procedure": "soft-signing",
            "subject": "CN=refused person", "key_spec": "EC:secp256r1", "csrs": []
        });
        let signed_bytes = serde_json::to_vec(&signed).unwrap();
        let signature = officer
            .sign(&keyward_proto::signed_message("/v1/tokens", &signed_bytes))
            .unwrap();
        let mut tampered = signed.clone();
        tampered["subject"] = "CN=refused mallory".into();
        let result: Result<serde_json::Value, RaError> = client
            .post_with_signature(
                "/v1/tokens",
                serde_json::to_vec(&tampered).unwrap(),
                &signature,
            )
            .await;
        match result {
            Err(RaError::Refused { status, error }) => {
                assert_eq!(status, 401);
                assert_eq!(error.code, "bad-signature");
                assert!(
                    error.message.contains("does not match"),
                    "{}",
                    error.message
                );
            }
            other => panic!("tampered body accepted or wrongly refused: {other:?}"),
        }
        let store = inst.store().await;
        let records = store.audit_records(100).await.unwrap();
        assert!(records
            .iter()
            .any(|r| r.category == AuditCategory::Authentication
                && r.action == "verify-signature"
                && r.outcome == Outcome::Failure
                && r.officer.as_deref() == Some("admin")));
        store.close().await;
    });
    assert_eq!(certificate_count(&inst), 0);
}

on_both_engines!(broken_configuration_names_the_setting);

fn broken_configuration_names_the_setting(engine: Engine) {
    let inst = Installation::on(engine);
    let conf = inst.out.join("cm-broken");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("cm.conf"),
        "server.listen = 127.0.0.1:0\nclient.ra-key-generation = RSA:2048*, EC:nope\n",
    )
    .unwrap();
    let mut server = keyward();
    server.args(["server", "--dir"]).arg(&conf);
    let out = run(server, None);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("client.ra-key-generation"),
        "{}",
        text(&out)
    );

    let mut init = keyward();
    init.args(["init", "--dir"]).arg(&inst.dir);
    let out = run(init, None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{}",
        text(&out)
    );

    let missing = inst.out.join("nowhere/client.conf");
    let out = run(
        inst.ra_as(
            &missing,
            &inst.dir.join("officer/admin.pin"),
            &["procedures"],
        ),
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("keyward init"),
        "{}",
        text(&out)
    );
    if engine == Engine::Postgres {
        database_errors_name_the_setting_and_hide_the_password(&inst);
    }
}

/// `init` and `server` on a PostgreSQL database that does not exist, and `init` on one in use:
/// refused at once, naming database.url, never showing the password of the URL.
fn database_errors_name_the_setting_and_hide_the_password(inst: &Installation) {
    const PASSWORD: &str = "s3cret-Pa55word";
    // The test server's URL with a password (ignored by trust authentication) if it has none,
    // and a database name nobody created.
    let (scheme, rest) = inst.database_url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let host = host.split_once('/').unwrap().0;
    let user = if user.contains(':') {
        user.to_string()
    } else {
        format!("{user}:{PASSWORD}")
    };
    let password = user.split_once(':').unwrap().1.to_string();
    let missing = format!(
        "{scheme}://{user}@{host}/keyward_missing_{}",
        std::process::id()
    );
    let check = |out: &std::process::Output, code: i32, needles: &[&str]| {
        let all = text(out);
        assert_eq!(out.status.code(), Some(code), "{all}");
        for needle in needles {
            assert!(all.contains(needle), "lacks {needle:?}: {all}");
        }
        assert!(!all.contains(&password), "the password is shown: {all}");
    };
    let fresh = inst.out.join("fresh");
    let mut init = keyward();
    init.args(["init", "--dir"])
        .arg(&fresh)
        .args(["--database", &missing]);
    check(
        &run(init, None),
        2,
        &["database.url", "keyward_missing_", "does not exist"],
    );
    assert!(!fresh.exists(), "init leaves nothing behind");
    let mut server = keyward();
    server
        .args(["server", "--listen", "127.0.0.1:0", "--dir"])
        .arg(&inst.dir)
        .args(["--database", &missing]);
    check(
        &run(server, None),
        3,
        &["database.url", "--database", "does not exist"],
    );
    // The other commands that open the database on the CM host take --database the same way.
    for args in [
        &["officer", "list"][..],
        &["audit", "verify"][..],
        &[
            "kra",
            "init-hsm-key",
            "--module",
            "/nonexistent.so",
            "--token-label",
            "t",
            "--pin-file",
            "/nonexistent",
        ][..],
    ] {
        let mut cmd = keyward();
        cmd.args(args)
            .arg("--dir")
            .arg(&inst.dir)
            .args(["--database", &missing]);
        check(
            &run(cmd, None),
            3,
            &["database.url", "--database", "does not exist"],
        );
    }
    let mut cmd = keyward();
    cmd.args(["officer", "list", "--json", "--dir"])
        .arg(&inst.dir)
        .args(["--database", &inst.database_url]);
    let out = run(cmd, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("admin"), "{}", text(&out));
    let mut init = keyward();
    init.args(["init", "--dir"])
        .arg(&fresh)
        .args(["--database", &inst.database_url]);
    check(
        &run(init, None),
        2,
        &["database.url", "Keyward data already"],
    );
    assert!(!fresh.exists(), "init leaves nothing behind");
}

on_both_engines!(a_replayed_request_is_refused);

fn a_replayed_request_is_refused(engine: Engine) {
    let inst = Installation::on(engine);
    block_on(async {
        let (officer, client) = admin_client(&inst);
        let now = unix_now();
        let post = |path: &'static str, body: serde_json::Value| {
            let body = serde_json::to_vec(&body).unwrap();
            let signature = officer
                .sign(&keyward_proto::signed_message(path, &body))
                .unwrap();
            let client = &client;
            async move {
                client
                    .post_with_signature::<serde_json::Value>(path, body, &signature)
                    .await
            }
        };
        let token = |nonce: &str, subject: &str| {
            serde_json::json!({
                "request_id": "replay-1", "timestamp": now, "nonce": nonce,
                "token_procedure": "no-such-procedure", "subject": subject,
                "key_spec": "EC:secp256r1", "csrs": []
            })
        };
        let refusal = |result: Result<serde_json::Value, RaError>| match result {
            Err(RaError::Refused { status, error }) => (status, error.field, error.message),
            other => panic!("expected a refusal: {other:?}"),
        };
        let nonce = "0123456789abcdef0123456789abcdef";
        // First sight: the request is processed (and refused for its procedure).
        let (status, field, _) = refusal(post("/v1/tokens", token(nonce, "CN=Replay")).await);
        assert_eq!((status, field.as_deref()), (404, Some("token_procedure")));
        // Issuance is idempotent: the very same signed bytes again are a retry, processed
        // again (and refused again the same way; a completed one gets its recorded answer).
        let (status, field, _) = refusal(post("/v1/tokens", token(nonce, "CN=Replay")).await);
        assert_eq!((status, field.as_deref()), (404, Some("token_procedure")));
        // The nonce with other bytes: a replay.
        let (status, field, message) = refusal(post("/v1/tokens", token(nonce, "CN=Other")).await);
        assert_eq!(
            (status, field.as_deref()),
            (409, Some("nonce")),
            "{message}"
        );
        assert!(message.contains("replayed"), "{message}");
        // A request that is not idempotent: the very same signed bytes again are a replay.
        let requeue = serde_json::json!({
            "request_id": "replay-2", "timestamp": now,
            "nonce": "fedcba9876543210fedcba9876543210", "ids": ["1"]
        });
        let (status, _, _) = refusal(post("/v1/pin-mail/requeue", requeue.clone()).await);
        assert_eq!(status, 403, "admin lacks manage-pin-letters");
        let (status, field, message) = refusal(post("/v1/pin-mail/requeue", requeue).await);
        assert_eq!(
            (status, field.as_deref()),
            (409, Some("nonce")),
            "{message}"
        );
        let (status, field, _) = refusal(post("/v1/tokens", token("short", "CN=Replay")).await);
        assert_eq!((status, field.as_deref()), (400, Some("nonce")));

        let store = inst.store().await;
        let records = store.audit_records(100).await.unwrap();
        let replays = records
            .iter()
            .filter(|r| {
                r.outcome == Outcome::Failure
                    && r.detail["reason"]
                        .as_str()
                        .is_some_and(|m| m.contains("replayed"))
            })
            .count();
        assert_eq!(replays, 2, "{records:#?}");
        store.close().await;
    });
}
