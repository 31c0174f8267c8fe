//! The API contract (issue 15): the live server serves, to officers only, the very OpenAPI
//! description committed as docs/openapi.json, on both engines.

use crate::common;

use common::signed::{admin_client, officer_client};
use common::{block_on, keyward, on_both_engines, run, text, Engine, Installation};
use keyward_ra::RaError;

on_both_engines!(
    the_served_description_is_the_committed_one_for_officers_only,
    malformed_query_parameters_are_refused_as_api_errors_naming_them
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
