//! The API contract (issue 15): the live server serves, to officers only, the very OpenAPI
//! description committed as docs/openapi.json, on both engines.

use crate::common;

use common::signed::{admin_client, officer_client, unix_now};
use common::{block_on, keyward, on_both_engines, run, text, Engine, Installation};
use keyward_ra::RaError;

on_both_engines!(
    the_served_description_is_the_committed_one_for_officers_only,
    malformed_query_parameters_are_refused_as_api_errors_naming_them,
    a_request_id_with_a_nul_byte_is_refused_naming_it
);

/// docs/openapi.json, parsed.
fn committed() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn the_served_description_is_the_committed_one_for_officers_only(engine: Engine) {
    let inst = Installation::on(engine);
    let mut create = keyward();
    create
        .args([
            "officer",
            "create",
            "reader",
            "--roles",
            "recover-key",
            "--dir",
        ])
        .arg(&inst.dir);
    let out = run(create, None);
    assert!(out.status.success(), "{}", text(&out));
    let (_, reader) = officer_client(
        &inst.client_conf_for("reader"),
        &inst.dir.join("officer/reader.pin"),
    );
    block_on(async {
        let (_, admin) = admin_client(&inst);
        let served = admin.openapi().await.unwrap();
        assert!(
            served == committed(),
            "the server describes another API than docs/openapi.json"
        );
        // Any officer reads it, whatever their roles.
        assert_eq!(reader.openapi().await.unwrap(), served);
    });

    let mut revoke = keyward();
    revoke
        .args(["officer", "revoke", "reader", "--dir"])
        .arg(&inst.dir);
    let out = run(revoke, None);
    assert!(out.status.success(), "{}", text(&out));
    block_on(async {
        match reader.openapi().await {
            Err(RaError::Refused { status, error }) => {
                assert_eq!((status, error.code.as_str()), (401, "unauthenticated"));
            }
            other => panic!("a revoked officer read the description: {other:?}"),
        }
    });
}

/// A GET whose query has a parameter of the wrong type, or lacks a required one, is refused
/// as the contract says: 400, an `ApiError` of code `invalid` naming the parameter (axum's
/// `Query` answered plain text that named nothing).
fn malformed_query_parameters_are_refused_as_api_errors_naming_them(engine: Engine) {
    let inst = Installation::on(engine);
    block_on(async {
        let (_, admin) = admin_client(&inst);
        // (path, query parameter and its value, the field named); `holder` is required.
        let cases = [
            ("/v1/pin-letters", Some(("used", "maybe")), "used"),
            ("/v1/pin-mail", Some(("limit", "ten")), "limit"),
            ("/v1/attribute-certificates", None, "holder"),
            ("/v1/approvals", Some(("all", "yes please")), "all"),
            // Found by hand (Schemathesis sends such values): a NUL byte reached PostgreSQL,
            // which refused it (500).
            ("/v1/certificates", Some(("subject", "a\0b")), "subject"),
            ("/v1/archived-keys", Some(("subject", "a\0b")), "subject"),
            // Found by Schemathesis on PostgreSQL (500), the same way.
            ("/v1/pin-letters", Some(("procedure", "a\0b")), "procedure"),
        ];
        for (path, parameter, field) in cases {
            let query: Vec<(&str, String)> = parameter
                .map(|(name, value)| (name, value.to_string()))
                .into_iter()
                .collect();
            match admin.get_json(path, &query).await {
                Err(RaError::Refused { status, error }) => {
                    assert_eq!(
                        (status, error.code.as_str(), error.field.as_deref()),
                        (400, "invalid", Some(field)),
                        "{path}: {error:?}"
                    );
                }
                other => panic!("{path}: expected a refusal, got {other:?}"),
            }
        }
    });
}

/// Found by hand (Schemathesis sends such values): a token request whose request ID holds a
/// NUL byte failed with 500 on PostgreSQL (the recorded-answer lookup ran before the ID was
/// checked); it is refused, 400 naming `request_id`, on both engines, and nothing is issued.
fn a_request_id_with_a_nul_byte_is_refused_naming_it(engine: Engine) {
    let inst = Installation::on(engine);
    block_on(async {
        let (_, admin) = admin_client(&inst);
        let body = serde_json::json!({
            "request_id": "a\u{0}b",
            "timestamp": unix_now(),
            "nonce": "0123456789abcdef0123456789abcdef",
            "token_procedure": "soft-signing",
            "subject": "CN=Nul Request",
            "key_spec": "EC:secp256r1",
            "csrs": [],
        });
        let sent = admin
            .post_signed::<serde_json::Value>(
                keyward_proto::TOKENS_PATH,
                serde_json::to_vec(&body).unwrap(),
            )
            .await;
        match sent {
            Err(RaError::Refused { status, error }) => assert_eq!(
                (status, error.code.as_str(), error.field.as_deref()),
                (400, "invalid", Some("request_id")),
                "{error:?}"
            ),
            other => panic!("expected a refusal, got {other:?}"),
        }
    });
    assert!(block_on(inst.certificate_ids("Nul Request")).is_empty());
}
