//! The description's own tests: committed copy, security, envelopes, typing, validity.

use super::*;

/// Where the description is committed.
const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

/// docs/openapi.json is the description the code generates. After an API change,
/// regenerate it with `UPDATE_OPENAPI=1 cargo test -p keyward-server openapi` and commit it.
#[test]
fn committed_description_is_current() {
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(COMMITTED, document()).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == document(),
        "docs/openapi.json differs from the API the code describes; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p keyward-server openapi` and commit it"
    );
}

#[test]
fn description_is_openapi_3_1_with_both_security_schemes() {
    let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes[TLS_SCHEME]["type"], "mutualTLS");
    assert_eq!(schemes[SIGNATURE_SCHEME]["type"], "apiKey");
    assert_eq!(schemes[SIGNATURE_SCHEME]["in"], "header");
    assert_eq!(schemes[SIGNATURE_SCHEME]["name"], SIGNATURE_HEADER);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let needs: Vec<&str> = op["security"][0]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let expected = match method.as_str() {
                "post" => vec![TLS_SCHEME, SIGNATURE_SCHEME],
                _ => vec![TLS_SCHEME],
            };
            assert_eq!(needs, expected, "{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            for status in ["200", "401", "500"] {
                assert!(responses.contains_key(status), "{method} {path}: {status}");
            }
            if method == "post" {
                for status in ["400", "403", "408", "409", "413", "415"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
                let body = &op["requestBody"]["content"]["application/json"]["schema"];
                assert!(body["$ref"].is_string(), "{method} {path}: request body");
            }
        }
    }
}

#[test]
fn signed_request_schemas_refuse_unknown_fields_and_carry_bytes_as_base64() {
    let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for name in [
        "IssueRequest",
        "CreatePinLetters",
        "DeliverPinMail",
        "PinMailIds",
        "ApprovalVote",
    ] {
        assert_eq!(schemas[name]["additionalProperties"], false, "{name}");
        let required = schemas[name]["required"].as_array().unwrap();
        for field in ["request_id", "timestamp", "nonce"] {
            assert!(required.iter().any(|r| r == field), "{name}.{field}");
        }
    }
    assert_eq!(
        schemas["CsrEntry"]["properties"]["csr"]["contentEncoding"],
        "base64"
    );
    // Every signed request's envelope is described as the server checks it.
    let envelopes: Vec<_> = (schemas.as_object().unwrap().iter())
        .filter(|(_, schema)| schema["properties"].get("timestamp").is_some())
        .collect();
    for (name, schema) in &envelopes {
        let (nonce, id) = (
            &schema["properties"]["nonce"],
            &schema["properties"]["request_id"],
        );
        assert_eq!(
            (&nonce["pattern"], &id["pattern"]),
            (&"^[!-~]{16,64}$".into(), &"^[!-~]{1,64}$".into()),
            "{name}"
        );
    }
    assert!(
        envelopes.len() >= 8,
        "{} signed request schemas",
        envelopes.len()
    );
    let required = schemas["IssueRequest"]["required"].as_array().unwrap();
    assert!(!required
        .iter()
        .any(|r| r == "transport_key" || r == "email"));
}

/// The schema problems of `schema` (at `at`) and of the schemas inside it: one with no type
/// at all (`{}`, what an untyped `serde_json::Value` gives), or an object whose members
/// are not described. `opaque` names the schemas allowed to be bare objects.
fn untyped(at: &str, schema: &serde_json::Value, opaque: &[&str], found: &mut Vec<String>) {
    let Some(object) = schema.as_object() else {
        return found.push(format!("{at}: not a schema object"));
    };
    let typed = ["type", "$ref", "oneOf", "allOf", "anyOf", "enum", "const"]
        .iter()
        .any(|k| object.contains_key(*k));
    if !typed {
        found.push(format!("{at}: no type"));
    }
    let bare = object.get("type").is_some_and(|t| t == "object")
        && !object.contains_key("properties")
        && !object.contains_key("additionalProperties");
    if bare && !opaque.iter().any(|o| at.starts_with(o)) {
        found.push(format!("{at}: an object without members"));
    }
    for (name, inner) in object
        .get("properties")
        .and_then(|p| p.as_object())
        .into_iter()
        .flatten()
    {
        untyped(&format!("{at}.{name}"), inner, opaque, found);
    }
    for key in ["oneOf", "allOf", "anyOf"] {
        for (i, inner) in object
            .get(key)
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
            .enumerate()
        {
            untyped(&format!("{at}.{key}[{i}]"), inner, opaque, found);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = object.get(key).filter(|i| i.is_object()) {
            untyped(&format!("{at}.{key}"), inner, opaque, found);
        }
    }
}

/// Every body, parameter and component has a schema that says what it holds: no
/// `serde_json::Value` or `Vec<Object>` left (the procedures' types were such once). The
/// one exception is the members of the OpenAPI document itself, whose schema is the
/// OpenAPI Specification's.
#[test]
fn every_schema_is_typed() {
    let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
    let opaque = ["OpenApiDocument."];
    let mut found = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        untyped(name, schema, &opaque, &mut found);
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap_or("?");
                untyped(
                    &format!("{at} ?{name}"),
                    &parameter["schema"],
                    &opaque,
                    &mut found,
                );
            }
            for (media, content) in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                untyped(
                    &format!("{at} body {media}"),
                    &content["schema"],
                    &opaque,
                    &mut found,
                );
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    untyped(
                        &format!("{at} {status} {media}"),
                        &content["schema"],
                        &opaque,
                        &mut found,
                    );
                }
            }
        }
    }
    assert!(found.is_empty(), "untyped schemas:\n{}", found.join("\n"));
    // The check does see what it is for: an untyped member and a bare object.
    let mut probe = Vec::new();
    untyped(
        "probe",
        &serde_json::json!({"type": "object", "properties": {"v": {}, "o": {"type": "object"}}}),
        &opaque,
        &mut probe,
    );
    assert_eq!(
        probe,
        ["probe.o: an object without members", "probe.v: no type"]
    );
}

/// Runs the independent validator (PyPI `openapi-spec-validator`, installed by
/// scripts/install-test-tools) on
/// `document`; its verdict and output.
fn independent_verdict(document: &str) -> (bool, String) {
    use std::io::Write;
    let script = "import json, sys\n\
        from openapi_spec_validator import validate\n\
        validate(json.load(sys.stdin))\n";
    let mut child = keyward_testkit::python_script(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(document.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stderr)
}

#[test]
fn an_independent_validator_accepts_the_description() {
    let (valid, output) = independent_verdict(document());
    assert!(
        valid,
        "openapi-spec-validator refuses the description:\n{output}"
    );
    // The validator does refuse an invalid document (a parameter without `in`).
    let mut broken: serde_json::Value = serde_json::from_str(document()).unwrap();
    broken["paths"]["/v1/procedures"]["get"]["parameters"][0]
        .as_object_mut()
        .unwrap()
        .remove("in");
    let (valid, _) = independent_verdict(&broken.to_string());
    assert!(!valid, "the validator accepted a parameter without `in`");
}
