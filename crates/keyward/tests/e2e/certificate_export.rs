//! A certificate saved again and looked at in detail (`ra certificates --id N --out FILE` and
//! `--details`), checked against `openssl x509`; and duplicates seen before issuance (`ra issue`
//! notes the valid certificates the subject already holds of the same certificate procedure).
//! Issue 17, item 9.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::tokens::{archive, issue, p12_arg, try_issue, ALICE};
use common::{on_both_engines, run, text, Engine, Installation};
use serde_json::Value;

/// `openssl x509 -inform FORM -in FILE -noout ARGS…`, its output after the first `=`
/// (`sha256 Fingerprint=AB:…` gives `AB:…`).
fn openssl_x509(form: &str, file: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-inform", form, "-in"])
        .arg(file)
        .arg("-noout")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl x509 {args:?}: {}",
        text(&out)
    );
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    line.split_once('=')
        .map(|(_, v)| v.to_string())
        .unwrap_or(line)
}

/// A line of the `--details` text: the label and its colon in a column as wide as the longest
/// label (`Certificate procedure:`), a space, the value.
fn field_line(key: &str, value: &str) -> String {
    format!("{:22} {value}", format!("{key}:"))
}

/// Runs `ra ARGS` and returns its JSON; panics with the output on failure.
fn ra_json(inst: &Installation, args: &[&str]) -> Value {
    let out = run(inst.ra(args), None);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// `ra issue` of a signing token in text mode: its standard error.
/// `ra issue --json` of a token of `procedure` for Alice into `name`.
fn issue_as_alice(inst: &Installation, procedure: &str, name: &str) -> serde_json::Value {
    let p12 = p12_arg(inst, name);
    issue(
        inst,
        None,
        &["--procedure", procedure, "--subject", ALICE, "--p12", &p12],
    )
}

fn issue_text(inst: &Installation, name: &str) -> String {
    let p12 = p12_arg(inst, name);
    let out = try_issue(
        inst,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            ALICE,
            "--p12",
            &p12,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

on_both_engines!(a_certificate_is_saved_again_and_shown_in_detail);

fn a_certificate_is_saved_again_and_shown_in_detail(engine: Engine) {
    let inst = Installation::on(engine);
    let p12 = p12_arg(&inst, "alice.p12");
    let issued_der = inst.out.join("alice-issued.der");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            ALICE,
            "--email",
            "alice@example.org",
            "--p12",
            &p12,
            "--cert",
            issued_der.to_str().unwrap(),
        ],
    );
    let id = json["certificates"][0]["certificate_id"]
        .as_str()
        .unwrap()
        .to_string();

    // DER and PEM by the extension, byte for byte the certificate issued.
    let der = inst.out.join("again.der");
    let saved = ra_json(
        &inst,
        &[
            "certificates",
            "--id",
            &id,
            "--out",
            der.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(saved["file"], der.to_str().unwrap());
    assert_eq!(saved["certificate_id"], id.as_str());
    assert!(saved.get("der").is_none(), "no base64 on the screen");
    assert_eq!(
        std::fs::read(&der).unwrap(),
        std::fs::read(&issued_der).unwrap()
    );
    let pem = inst.out.join("again.pem");
    let out = run(
        inst.ra(&["certificates", "--id", &id, "--out", pem.to_str().unwrap()]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("Saved Certificate ID {id}")),
        "{}",
        text(&out)
    );
    assert!(std::fs::read_to_string(&pem)
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----\n"));

    // --details --json against OpenSSL's own reading of both files.
    let d = ra_json(&inst, &["certificates", "--id", &id, "--details", "--json"]);
    let sha256 = d["sha256_fingerprint"].as_str().unwrap();
    assert_eq!(
        openssl_x509("DER", &der, &["-fingerprint", "-sha256"]),
        sha256
    );
    assert_eq!(
        openssl_x509("PEM", &pem, &["-fingerprint", "-sha256"]),
        sha256
    );
    assert_eq!(
        openssl_x509("DER", &der, &["-fingerprint", "-sha1"]),
        d["sha1_fingerprint"].as_str().unwrap()
    );
    let serial = d["serial_colons"].as_str().unwrap();
    assert_eq!(
        openssl_x509("DER", &der, &["-serial"]),
        serial.replace(':', ""),
        "the serial as openssl x509 -serial prints it, with colons"
    );
    assert_eq!(
        serial
            .replace(':', "")
            .to_lowercase()
            .trim_start_matches('0'),
        json["certificates"][0]["serial"].as_str().unwrap()
    );
    assert_eq!(
        d["key_usage_bits"],
        serde_json::json!(["digitalSignature", "nonRepudiation"])
    );
    assert_eq!(
        d["extended_key_usage"],
        serde_json::json!(["emailProtection", "clientAuth"])
    );
    assert_eq!(
        d["subject_alt_names"],
        serde_json::json!(["email:alice@example.org"])
    );
    let names: Vec<&str> = d["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for name in [
        "X509v3 Key Usage",
        "X509v3 Extended Key Usage",
        "X509v3 Subject Alternative Name",
        "X509v3 Authority Key Identifier",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let me = ra_json(&inst, &["whoami", "--json"]);
    assert_eq!(d["officer"], me["name"]);
    assert_eq!(
        (
            d["token_procedure"].as_str(),
            d["certificate_procedure"].as_str(),
            d["status"].as_str(),
            d["subject"].as_str(),
        ),
        (
            Some("soft-signing"),
            Some("signing"),
            Some("valid"),
            Some(ALICE)
        )
    );
    assert_eq!(d["archived_key"], Value::Null);
    assert!(d["issuer"].as_str().unwrap().contains("CN="), "{d}");

    // The text view: one line per field.
    let out = run(inst.ra(&["certificates", "--id", &id, "--details"]), None);
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    let name = me["name"].as_str().unwrap();
    for (key, value) in [
        ("Serial", serial),
        ("SHA-256 fingerprint", sha256),
        ("Key usage", "digitalSignature, nonRepudiation"),
        ("Subject alt names", "email:alice@example.org"),
        ("Token procedure", "soft-signing"),
        ("Certificate procedure", "signing"),
        ("Status", "valid"),
        ("Archived key", "none"),
        ("Issued by officer", name),
    ] {
        let line = field_line(key, value);
        assert!(shown.lines().any(|l| l == line), "{line:?} in\n{shown}");
    }

    // An existing --out is kept without --force (exit 2 naming --out); --force replaces it.
    std::fs::write(&der, b"keep me").unwrap();
    let out = run(
        inst.ra(&["certificates", "--id", &id, "--out", der.to_str().unwrap()]),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--out:"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&der).unwrap(), b"keep me");
    let out = run(
        inst.ra(&[
            "certificates",
            "--id",
            &id,
            "--out",
            der.to_str().unwrap(),
            "--json",
        ]),
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with('{')).unwrap_or("");
    let failure: Value = serde_json::from_str(line).expect("a JSON failure on stderr");
    assert_eq!(
        (failure["exit"].as_i64(), failure["field"].as_str()),
        (Some(2), Some("out")),
        "{failure}"
    );
    assert_eq!(std::fs::read(&der).unwrap(), b"keep me");
    let missing_dir = inst.out.join("no-such-dir/x.der");
    let out = run(
        inst.ra(&[
            "certificates",
            "--id",
            &id,
            "--out",
            missing_dir.to_str().unwrap(),
        ]),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out: directory"));
    let out = run(
        inst.ra(&[
            "certificates",
            "--id",
            &id,
            "--out",
            der.to_str().unwrap(),
            "--force",
        ]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(&der).unwrap(),
        std::fs::read(&issued_der).unwrap()
    );
    // --out and --details need --id (clap: exit 2); an unknown ID is exit 2 too.
    let out = run(
        inst.ra(&["certificates", "--subject", "alice", "--details"]),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = run(
        inst.ra(&["certificates", "--id", "999999", "--details"]),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // A revoked certificate says so.
    let out = run(
        inst.ra(&["revoke", "--id", &id, "--reason", "superseded"]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let d = ra_json(&inst, &["certificates", "--id", &id, "--details", "--json"]);
    assert_eq!(d["status"], "revoked");
    assert_eq!(d["revocation_reason"], "superseded");
}

on_both_engines!(the_details_name_the_archived_key_a_certificate_came_with);

fn the_details_name_the_archived_key_a_certificate_came_with(engine: Engine) {
    let inst = Installation::on(engine);
    let archived = archive(&inst, ALICE, "alice-enc.p12");
    let old_id = archived["certificates"][0]["certificate_id"]
        .as_str()
        .unwrap()
        .to_string();
    let old_serial = archived["certificates"][0]["serial"].as_str().unwrap();
    let d = ra_json(
        &inst,
        &["certificates", "--id", &old_id, "--details", "--json"],
    );
    assert_eq!(
        d["archived_key"],
        serde_json::json!({"certificate_id": old_id, "serial": old_serial})
    );
    let p12 = p12_arg(&inst, "alice-new.p12");
    let recovered = issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-new",
            "--subject",
            ALICE,
            "--recover-id",
            &old_id,
            "--p12",
            &p12,
        ],
    );
    let new_id = recovered["certificates"][0]["certificate_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_id, old_id);
    let d = ra_json(
        &inst,
        &["certificates", "--id", &new_id, "--details", "--json"],
    );
    assert_eq!(d["key_origin"], "recovered");
    assert_eq!(
        d["archived_key"],
        serde_json::json!({"certificate_id": old_id, "serial": old_serial})
    );
    // As `ra archived-keys` names the key.
    let keys = ra_json(&inst, &["archived-keys", "--id", &old_id, "--json"]);
    assert_eq!(keys[0]["serial"], old_serial);
    let out = run(
        inst.ra(&["certificates", "--id", &new_id, "--details"]),
        None,
    );
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        shown.contains(&field_line(
            "Archived key",
            &format!("Certificate ID {old_id} serial {old_serial} (recovered")
        )),
        "{shown}"
    );
}

on_both_engines!(a_second_issuance_notes_the_subject_s_valid_certificates);

fn a_second_issuance_notes_the_subject_s_valid_certificates(engine: Engine) {
    let inst = Installation::on(engine);
    // Another subject containing Alice's DN as text does not count.
    let p12 = p12_arg(&inst, "alice-lund.p12");
    issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            "title=Boss,CN=Alice Example,O=Example,C=SE",
            "--p12",
            &p12,
        ],
    );
    let first = issue_text(&inst, "alice-1.p12");
    assert!(!first.contains("already holds"), "{first}");
    let ids = |json: &Value| {
        json["certificates"][0]["certificate_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let listed = ra_json(&inst, &["certificates", "--subject", ALICE, "--json"]);
    let first_id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"] == ALICE)
        .map(|c| c["certificate_id"].as_str().unwrap().to_string())
        .unwrap();

    let second = issue_text(&inst, "alice-2.p12");
    assert!(
        second.lines().any(|l| l
            == format!(
                "note: {ALICE} already holds 1 valid certificate of certificate procedure signing (ID {first_id})"
            )),
        "{second}"
    );
    let third = issue_as_alice(&inst, "soft-signing", "alice-3.p12");
    let existing = third["existing"].as_array().unwrap();
    assert_eq!(existing.len(), 1, "{third}");
    assert_eq!(existing[0]["certificate_procedure"], "signing");
    assert_eq!(existing[0]["capped"], false);
    let held: Vec<&str> = existing[0]["certificate_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(held.len(), 2, "{third}");
    assert_eq!(held[0], first_id);
    assert!(!held.contains(&ids(&third).as_str()));

    // A revoked certificate is no longer held; another procedure's does not count.
    let out = run(
        inst.ra(&["revoke", "--id", &first_id, "--reason", "superseded"]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let fourth = issue_as_alice(&inst, "soft-encryption-archived", "alice-enc.p12");
    assert_eq!(fourth["existing"], serde_json::json!([]), "{fourth}");
    let fifth = issue_as_alice(&inst, "soft-signing", "alice-5.p12");
    let held = fifth["existing"][0]["certificate_ids"].as_array().unwrap();
    assert_eq!(held.len(), 2, "{fifth}");
    assert!(!held.contains(&Value::from(first_id.as_str())));
}
