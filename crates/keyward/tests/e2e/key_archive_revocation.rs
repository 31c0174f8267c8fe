//! Revocation at key recovery through the real binary (issue 16): a recover key procedure with
//! `revoke_old` revokes the old certificate of the recovered key in the transaction that
//! records the new one. `recover-encryption-new` revokes as `superseded`,
//! `recover-encryption-lost` as `keyCompromise`, `recover-encryption-reuse` nothing; the RA
//! names the certificate before submit, `ra issue --json` carries the revoked list,
//! `ra certificates --status revoked` and the audit log show it.

use crate::common;

use common::tokens::{archive, issue, p12_arg, try_issue, ALICE};
use common::{block_on, on_both_engines, run, text, Engine, Installation};
use keyward_store::AuditCategory;
use serde_json::Value;

on_both_engines!(key_archive_recovery_revokes_the_old_certificate);

fn ok_json(inst: &Installation, args: &[&str]) -> Value {
    let out = run(inst.ra(args), None);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("--json")
}

/// The Certificate ID of the first certificate of an `ra issue --json` answer.
fn first_id(json: &Value) -> String {
    json["certificates"][0]["certificate_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The status of Certificate ID `id` as `ra certificates --id ID --json` shows it.
fn status_of(inst: &Installation, id: &str) -> Value {
    let listed = ok_json(inst, &["certificates", "--id", id, "--json"]);
    listed[0].clone()
}

fn key_archive_recovery_revokes_the_old_certificate(engine: Engine) {
    let inst = Installation::on(engine);

    // -new: the RA names the certificate it will revoke, the server revokes it as superseded.
    let old = first_id(&archive(&inst, ALICE, "alice.p12"));
    let p12 = p12_arg(&inst, "alice-new.p12");
    let out = try_issue(
        &inst,
        &[
            "--procedure",
            "recover-encryption-new",
            "--subject",
            ALICE,
            "--p12",
            &p12,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let line = format!(
        "Key Management: recover 1 key, issue 1 new certificate, revoke certificate {old} (superseded)"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&line),
        "{}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("Old certificate {old} revoked (superseded)")),
        "{}",
        text(&out)
    );
    let status = status_of(&inst, &old);
    assert_eq!(
        (
            status["status"].as_str(),
            status["revocation_reason"].as_str()
        ),
        (Some("revoked"), Some("superseded"))
    );
    let revoked = ok_json(&inst, &["certificates", "--status", "revoked", "--json"]);
    let ids: Vec<&str> = revoked
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["certificate_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [old.as_str()], "only the old certificate: {revoked}");
    let records = block_on(async { inst.store().await.audit_records(1000).await.unwrap() });
    let revocations: Vec<_> = records
        .iter()
        .filter(|r| r.category == AuditCategory::CertificatesRevoked)
        .collect();
    assert_eq!(revocations.len(), 1, "{records:#?}");
    assert_eq!(revocations[0].action, "revoke-certificate");
    assert_eq!(revocations[0].object.as_deref(), Some(old.as_str()));
    assert_eq!(revocations[0].detail["reason"], "superseded");
    assert_eq!(revocations[0].detail["recovery"], true);
    assert_eq!(
        revocations[0].detail["token_procedure"],
        "recover-encryption-new"
    );
    // The issuance record names the same line as the RA showed, and the old certificate.
    let issued = records
        .iter()
        .find(|r| {
            r.action == "issue-token" && r.detail["token_procedure"] == "recover-encryption-new"
        })
        .expect("the recovery's issuance record");
    assert_eq!(issued.detail["key_management"], line.as_str());
    assert_eq!(
        issued.detail["revoked_old"][0]["certificate_id"].as_i64(),
        old.parse::<i64>().ok()
    );

    // -lost: keyCompromise, in the JSON answer too.
    let bob = "CN=Bob Example,O=Example";
    let bob_old = first_id(&archive(&inst, bob, "bob.p12"));
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-lost",
            "--subject",
            bob,
            "--p12",
            &p12_arg(&inst, "bob-new.p12"),
        ],
    );
    assert_eq!(
        json["key_management"],
        format!(
            "Key Management: recover 1 key, issue 1 new certificate, revoke certificate {bob_old} (keyCompromise)"
        )
    );
    let listed = json["revoked"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{json}");
    assert_eq!(listed[0]["certificate_id"], bob_old.as_str());
    assert_eq!(listed[0]["reason"], "keyCompromise");
    assert!(listed[0]["revoked_at"].as_str().unwrap().ends_with('Z'));
    assert!(listed[0].get("kept").is_none(), "{json}");
    let status = status_of(&inst, &bob_old);
    assert_eq!(status["revocation_reason"], "keyCompromise");
    assert_eq!(status_of(&inst, &first_id(&json))["status"], "valid");

    // Recovering Alice's key again: her old certificate is revoked already and stays as it
    // is (superseded), which the answer says.
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-lost",
            "--subject",
            ALICE,
            "--p12",
            &p12_arg(&inst, "alice-again.p12"),
        ],
    );
    let listed = json["revoked"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{json}");
    assert_eq!(
        (listed[0]["reason"].as_str(), listed[0]["kept"].as_bool()),
        (Some("superseded"), Some(true))
    );
    assert_eq!(status_of(&inst, &old)["revocation_reason"], "superseded");

    // -reuse: the old certificate is the one delivered; nothing is revoked.
    let carol = "CN=Carol Example,O=Example";
    let carol_old = first_id(&archive(&inst, carol, "carol.p12"));
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-reuse",
            "--subject",
            carol,
            "--p12",
            &p12_arg(&inst, "carol-keys.p12"),
        ],
    );
    assert_eq!(first_id(&json), carol_old);
    assert!(json["revoked"].as_array().unwrap().is_empty(), "{json}");
    assert_eq!(status_of(&inst, &carol_old)["status"], "valid");
    let records = block_on(async { inst.store().await.audit_records(1000).await.unwrap() });
    let revocations = records
        .iter()
        .filter(|r| r.category == AuditCategory::CertificatesRevoked)
        .count();
    assert_eq!(
        revocations, 2,
        "Alice's and Bob's old certificates, once each"
    );
}
