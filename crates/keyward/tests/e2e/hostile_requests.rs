//! Hostile request content from a registered officer, through the real server on both engines
//! (issue 15, defects 4, 5 and 9): properly signed requests whose timestamp is far off (near
//! `i64::MIN` or `i64::MAX`, where the freshness check overflowed), whose JSON has a wrong type
//! or an unknown field, whose body is not declared JSON, or whose subject hides or spoofs
//! characters. Each is refused naming the field, audited, and issues nothing.

use crate::common;

use common::signed::{admin_client, unix_now};
use common::{block_on, on_both_engines, run, text, Engine, Installation};
use keyward_ra::{RaClient, RaError};
use keyward_store::Outcome;
use serde_json::{json, Value};

on_both_engines!(
    timestamps_far_from_the_clock_are_refused_and_audited,
    json_errors_name_the_field_and_unknown_fields_are_refused,
    bodies_not_sent_as_json_are_refused_with_415,
    deceptive_subjects_are_refused_by_the_server_and_the_ra
);

/// Every signed POST path.
const POST_PATHS: [&str; 7] = [
    "/v1/tokens",
    "/v1/pin-letters",
    "/v1/pin-letters/void",
    "/v1/approvals/vote",
    "/v1/pin-mail/deliver",
    "/v1/pin-mail/printed",
    "/v1/pin-mail/requeue",
];

/// A nonce of its own for request `n` (16 to 64 printable characters).
fn nonce(n: usize) -> String {
    format!("hostile-request-nonce-{n:04}")
}

/// An issue request of the demo procedure `soft-signing` for `subject`.
fn token(n: usize, timestamp: i64, subject: &str) -> Value {
    json!({
        "request_id": format!("hostile-{n}"), "timestamp": timestamp, "nonce": nonce(n),
        "token_procedure": "soft-signing", "subject": subject,
        "key_spec": "EC:secp256r1", "csrs": []
    })
}

/// Signs `body` as the officer and POSTs it to `path` with `content_type`; the refusal's
/// (status, code, field, message).
async fn refused(
    officer: &keyward_ra::OfficerCredential,
    client: &RaClient,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, String, Option<String>, String) {
    let signature = officer
        .sign(&keyward_proto::signed_message(path, &body))
        .unwrap();
    let result: Result<Value, RaError> = client
        .post_with_content_type(path, content_type, body, &signature)
        .await;
    match result {
        Err(RaError::Refused { status, error }) => (status, error.code, error.field, error.message),
        other => panic!("{path}: expected a refusal, got {other:?}"),
    }
}

/// The failure records of the audit log whose refusal named `field`.
async fn audited_refusals(inst: &Installation, field: &str) -> usize {
    let store = inst.store().await;
    let records = store.audit_records(1000).await.unwrap();
    store.close().await;
    records
        .iter()
        .filter(|r| {
            r.outcome == Outcome::Failure
                && r.officer.as_deref() == Some("admin")
                && r.detail["field"].as_str() == Some(field)
        })
        .count()
}

async fn issued(inst: &Installation, subject: &str) -> usize {
    inst.certificate_ids(subject).await.len()
}

fn timestamps_far_from_the_clock_are_refused_and_audited(engine: Engine) {
    let inst = Installation::on(engine);
    block_on(async {
        let (officer, client) = admin_client(&inst);
        let now = unix_now();
        let far = [
            i64::MIN + now,
            i64::MIN,
            i64::MAX,
            i64::MAX - now,
            // Well past the 300 s allowed: the server's clock runs on while the test waits.
            now - 600,
            now + 600,
        ];
        for (n, timestamp) in far.into_iter().enumerate() {
            let body = serde_json::to_vec(&token(n, timestamp, "CN=hostile timestamp")).unwrap();
            let (status, _, field, message) = refused(
                &officer,
                &client,
                "/v1/tokens",
                Some("application/json"),
                body,
            )
            .await;
            assert_eq!(
                (status, field.as_deref()),
                (400, Some("timestamp")),
                "timestamp {timestamp}: {message}"
            );
        }
        assert_eq!(audited_refusals(&inst, "timestamp").await, far.len());
        assert_eq!(issued(&inst, "hostile").await, 0);
    });
}

fn json_errors_name_the_field_and_unknown_fields_are_refused(engine: Engine) {
    let inst = Installation::on(engine);
    block_on(async {
        let (officer, client) = admin_client(&inst);
        let now = unix_now();
        let head = |n: usize| json!({ "request_id": format!("hostile-json-{n}"), "timestamp": now, "nonce": nonce(n) });
        let with = |n: usize, fields: Value| {
            let mut body = head(n);
            for (k, v) in fields.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        let issue = |n: usize, change: (&str, Value)| {
            let mut body = token(n, now, "CN=hostile json");
            body[change.0] = change.1;
            body
        };
        let letters = json!({
            "pin_procedure": "letter", "first_id": "1", "count": 1, "transport_key": ""
        });
        // (path, body, the field named): one wrong type in each kind of field of every signed
        // request, then unknown fields, at the top level and nested.
        let cases: Vec<(&str, Value, &str)> = vec![
            ("/v1/tokens", issue(100, ("subject", json!(123))), "subject"),
            (
                "/v1/tokens",
                issue(101, ("timestamp", json!("now"))),
                "timestamp",
            ),
            ("/v1/tokens", issue(102, ("csrs", json!({}))), "csrs"),
            ("/v1/tokens", issue(103, ("email", json!(5))), "email"),
            (
                "/v1/tokens",
                issue(104, ("alt_names", json!({ "dns": 5 }))),
                "alt_names.dns",
            ),
            (
                "/v1/pin-letters",
                with(
                    105,
                    json!({ "pin_procedure": "letter", "first_id": "1",
                    "count": "two", "transport_key": "" }),
                ),
                "count",
            ),
            (
                "/v1/pin-mail/deliver",
                with(106, json!({ "limit": -1, "transport_key": "" })),
                "limit",
            ),
            (
                "/v1/pin-mail/printed",
                with(107, json!({ "ids": "1" })),
                "ids",
            ),
            (
                "/v1/approvals/vote",
                with(108, json!({ "approval_id": "1", "approve": "yes" })),
                "approve",
            ),
            ("/v1/tokens", issue(109, ("admin", json!(true))), "admin"),
            (
                "/v1/tokens",
                issue(
                    110,
                    (
                        "csrs",
                        json!([{ "certificate_procedure": "signing", "csr": "", "extra": 1 }]),
                    ),
                ),
                "csrs[0].extra",
            ),
            (
                "/v1/pin-letters",
                with(111, {
                    let mut l = letters.clone();
                    l["role"] = json!("admin");
                    l
                }),
                "role",
            ),
            (
                "/v1/approvals/vote",
                with(
                    112,
                    json!({ "approval_id": "1", "approve": true, "weight": 9 }),
                ),
                "weight",
            ),
            (
                "/v1/pin-mail/requeue",
                with(113, json!({ "ids": ["1"], "all": true })),
                "all",
            ),
            (
                "/v1/pin-letters/void",
                with(114, json!({ "letter_id": 7, "reason": "torn" })),
                "letter_id",
            ),
        ];
        for (path, body, field) in &cases {
            let bytes = serde_json::to_vec(body).unwrap();
            let (status, code, named, message) =
                refused(&officer, &client, path, Some("application/json"), bytes).await;
            assert_eq!(
                (status, code.as_str(), named.as_deref()),
                (400, "invalid", Some(*field)),
                "{path} {body}: {message}"
            );
        }
        for (_, _, field) in &cases {
            assert_eq!(audited_refusals(&inst, field).await, 1, "audit of {field}");
        }
        // Broken JSON is still about the body.
        let (status, _, field, _) = refused(
            &officer,
            &client,
            "/v1/tokens",
            Some("application/json"),
            b"{\"request_id\":".to_vec(),
        )
        .await;
        assert_eq!((status, field.as_deref()), (400, Some("body")));
        assert_eq!(issued(&inst, "hostile").await, 0);
    });
}

fn bodies_not_sent_as_json_are_refused_with_415(engine: Engine) {
    let inst = Installation::on(engine);
    block_on(async {
        let (officer, client) = admin_client(&inst);
        let now = unix_now();
        let mut n = 200;
        let mut refusals = 0;
        for path in POST_PATHS {
            for content_type in [
                None,
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
                Some("application/json; charset=iso-8859-1"),
            ] {
                n += 1;
                let body = serde_json::to_vec(&token(n, now, "CN=hostile type")).unwrap();
                let (status, code, field, message) =
                    refused(&officer, &client, path, content_type, body).await;
                assert_eq!(
                    (status, code.as_str(), field.as_deref()),
                    (415, "unsupported-media-type", Some("Content-Type")),
                    "{path} {content_type:?}: {message}"
                );
                refusals += 1;
            }
        }
        assert_eq!(audited_refusals(&inst, "Content-Type").await, refusals);
        // Declared JSON, with parameters, passes that check (and fails later for its content).
        n += 1;
        let body = serde_json::to_vec(&token(n, now, "CN=hostile type")).unwrap();
        let (status, _, field, _) = refused(
            &officer,
            &client,
            "/v1/tokens",
            Some("Application/JSON; charset=UTF-8"),
            body,
        )
        .await;
        assert_ne!(field.as_deref(), Some("Content-Type"), "status {status}");
        assert_eq!(issued(&inst, "hostile").await, 0);
    });
}

fn deceptive_subjects_are_refused_by_the_server_and_the_ra(engine: Engine) {
    let inst = Installation::on(engine);
    block_on(async {
        let (officer, client) = admin_client(&inst);
        let now = unix_now();
        // Straight to the server, past any RA check.
        let cases = [
            ("CN=hostile Eve\u{202E}gnp.exe", "CN", "U+202E"),
            ("CN=hostile ad\u{200B}min", "CN", "U+200B"),
            ("CN=hostile a\u{E000}", "CN", "private-use"),
            ("CN=hostile\u{2028}x", "CN", "line separator"),
            ("CN=hostile,O=\u{0430}dm\u{0456}n", "O", "mixes"),
            (r"CN=\20\20\20", "CN", "is blank"),
        ];
        for (n, (subject, field, words)) in cases.iter().enumerate() {
            let body = serde_json::to_vec(&token(300 + n, now, subject)).unwrap();
            let (status, _, named, message) = refused(
                &officer,
                &client,
                "/v1/tokens",
                Some("application/json"),
                body,
            )
            .await;
            assert_eq!(
                (status, named.as_deref()),
                (400, Some(*field)),
                "{subject:?}: {message}"
            );
            assert!(message.contains(words), "{subject:?}: {message}");
            assert!(
                !message.contains('\u{202E}'),
                "no raw bidi control in {message:?}"
            );
        }
    });
    // Through the RA: refused before any key is made, the message naming the character.
    let p12 = inst.out.join("hostile.p12");
    let args = |subject: &'static str| {
        vec![
            "issue",
            "--procedure",
            "soft-signing",
            "--subject",
            subject,
            "--key-spec",
            "EC:secp256r1",
            "--p12",
            p12.to_str().unwrap(),
            "--pin-stdin",
        ]
    };
    let pin = Some("Correct-Horse-7\n");
    for (subject, needles) in [
        ("CN=Eve\u{202E}gnp.exe", &["CN", "U+202E"][..]),
        ("CN=\u{0430}dm\u{0456}n", &["CN", "Cyrillic", "Latin"][..]),
        (r"CN=\20\20\20", &["CN", "is blank"][..]),
    ] {
        let out = run(inst.ra(&args(subject)), pin);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{subject:?}: {all}");
        for needle in needles {
            assert!(all.contains(needle), "{subject:?}: no {needle:?} in {all}");
        }
        assert!(!all.contains("lone backslash"), "{all}");
        assert!(
            !all.contains('\u{202E}'),
            "the RA prints no raw bidi control: {all}"
        );
        assert!(!p12.exists());
    }
    block_on(async {
        assert_eq!(issued(&inst, "hostile").await, 0);
        assert_eq!(issued(&inst, "Eve").await, 0);
    });
}
