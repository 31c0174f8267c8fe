//! Key archive and recovery through the real binary, HTTPS and SQLite: archived keys come back
//! as the same private key (checked with OpenSSL's own PKCS#12 parser), `last`/`all` and
//! `new`/`reuse` do what the key procedure says, and a two-key token opens in Java.

use crate::common;
use crate::support;

use std::path::Path;

use common::tokens::{archive, issue, p12_arg, p12_contents, serial_of, ALICE, PIN};
use common::{block_on, on_both_engines, run, text, Engine, Installation};
use keyward_store::{AuditCategory, Outcome};
use serde_json::Value;

on_both_engines!(archive_then_recover_by_serial_with_reuse_and_with_new);

fn archive_then_recover_by_serial_with_reuse_and_with_new(engine: Engine) {
    archive_then_recover(&Installation::on(engine));
}

/// The same, with the archive key (KEK) on a SoftHSM2 token: every data key is wrapped and
/// unwrapped on the token.
#[test]
fn archive_then_recover_with_the_archive_key_on_softhsm2() {
    let hsm = common::softhsm::SoftHsm::new();
    let inst = hsm.installation_with_kek();
    archive_then_recover(&inst);
    let rows = block_on(async {
        inst.store()
            .await
            .find_archived_keys(&Default::default())
            .await
            .unwrap()
    });
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|k| k.kek_id.starts_with("kek-pkcs11-")),
        "every envelope names the token-held archive key"
    );
}

fn archive_then_recover(inst: &Installation) {
    let json = archive(inst, ALICE, "archived.p12");
    let cert = &json["certificates"][0];
    let serial = cert["serial"].as_str().unwrap().to_string();
    let id = cert["certificate_id"].as_str().unwrap().to_string();
    let (keys, certs) = p12_contents(&inst.out.join("archived.p12"));
    assert_eq!(keys.len(), 1);
    let original = &keys[0];
    assert_eq!(
        original.bits(),
        2048,
        "the key procedure's RSA:2048, not the officer's choice"
    );
    assert!(certs.iter().any(|c| serial_of(c) == serial));

    // Select Archived Key: the criteria refer to the certificate issued with the key.
    let out = run(
        inst.ra(&[
            "archived-keys",
            "--serial",
            &serial.to_uppercase(),
            "--json",
        ]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["certificate_id"], id.as_str());
    assert_eq!(listed[0]["serial"], serial.as_str());
    assert_eq!(listed[0]["subject"], ALICE);
    assert_eq!(listed[0]["key_usage"], "keyEncipherment");
    assert!(listed[0]["archived_at"].as_str().unwrap().ends_with('Z'));
    let out = run(
        inst.ra(&["archived-keys", "--subject", "alice example"]),
        None,
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&serial),
        "{}",
        text(&out)
    );

    // reuse: the same key and the same certificate.
    let reused_p12 = p12_arg(inst, "reused.p12");
    let json = issue(
        inst,
        None,
        &[
            "--procedure",
            "recover-encryption-reuse",
            "--subject",
            ALICE,
            "--recover-serial",
            &serial,
            "--p12",
            &reused_p12,
        ],
    );
    assert_eq!(
        json["key_management"],
        "Key Management: recover all keys with the reused certificate"
    );
    let c = &json["certificates"][0];
    assert_eq!(json["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(
        (c["serial"].as_str(), c["certificate_id"].as_str()),
        (Some(serial.as_str()), Some(id.as_str()))
    );
    assert_eq!(
        (c["key_origin"].as_str(), c["reused"].as_bool()),
        (Some("recovered"), Some(true))
    );
    let (keys, certs) = p12_contents(Path::new(&reused_p12));
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].public_eq(original),
        "the recovered key is the archived key"
    );
    assert_eq!(
        serial_of(&certs[0]),
        serial,
        "the old certificate comes back"
    );

    // new: the same key, a new certificate with a new serial and Certificate ID.
    let new_p12 = p12_arg(inst, "renewed.p12");
    let new_cert = inst.out.join("renewed.pem");
    let json = issue(
        inst,
        None,
        &[
            "--procedure",
            "recover-encryption-new",
            "--subject",
            ALICE,
            "--recover-id",
            &id,
            "--p12",
            &new_p12,
            "--cert",
            new_cert.to_str().unwrap(),
        ],
    );
    let c = &json["certificates"][0];
    assert_eq!(
        (c["key_origin"].as_str(), c["reused"].as_bool()),
        (Some("recovered"), Some(false))
    );
    assert_ne!(c["serial"].as_str(), Some(serial.as_str()));
    assert_ne!(c["certificate_id"].as_str(), Some(id.as_str()));
    let (keys, certs) = p12_contents(Path::new(&new_p12));
    assert_eq!(keys.len(), 1);
    assert!(keys[0].public_eq(original));
    let new_ee = certs
        .iter()
        .find(|x| serial_of(x) == c["serial"].as_str().unwrap())
        .expect("the new certificate is in the token");
    assert!(new_ee.public_key().unwrap().public_eq(original));
    support::interop::openssl_verify(
        &new_cert,
        &inst.dir.join("ca/issuing.pem"),
        &inst.dir.join("ca/root.pem"),
    )
    .expect("openssl verify of the new certificate");
    support::interop::keytool(Path::new(&new_p12), PIN, "RSA:2048", "Alice Example", 2)
        .expect("keytool reads the recovered token");

    // Every recovery is audited with the archived key's Certificate ID.
    let records = block_on(async { inst.store().await.audit_records(1000).await.unwrap() });
    let recoveries: Vec<_> = records
        .iter()
        .filter(|r| r.category == AuditCategory::KeysRecovered && r.action == "recover-key")
        .collect();
    assert_eq!(recoveries.len(), 2, "{records:#?}");
    assert!(recoveries
        .iter()
        .all(|r| r.object.as_deref() == Some(id.as_str()) && r.outcome == Outcome::Success));
    assert!(records
        .iter()
        .any(|r| r.category == AuditCategory::KeysArchived
            && r.object.as_deref() == Some(id.as_str())));
}

on_both_engines!(scope_last_returns_one_key_and_all_returns_both);

fn scope_last_returns_one_key_and_all_returns_both(engine: Engine) {
    let inst = Installation::on(engine);
    let bob = "CN=Bob Example,O=Example";
    let first = archive(&inst, bob, "bob-1.p12");
    let second = archive(&inst, bob, "bob-2.p12");
    // Another user's key, and a longer subject containing Bob's, must not be found.
    archive(&inst, "CN=Bob Example Junior,O=Example", "junior.p12");
    let key_of = |name: &str| p12_contents(&inst.out.join(name)).0.remove(0);
    let (k1, k2) = (key_of("bob-1.p12"), key_of("bob-2.p12"));
    assert!(!k1.public_eq(&k2));

    let last = p12_arg(&inst, "last.p12");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-new",
            "--subject",
            bob,
            "--p12",
            &last,
        ],
    );
    assert_eq!(json["certificates"].as_array().unwrap().len(), 1);
    let (keys, _) = p12_contents(Path::new(&last));
    assert_eq!(keys.len(), 1, "scope = last");
    assert!(
        keys[0].public_eq(&k2),
        "the key of the last issued certificate"
    );

    let all = p12_arg(&inst, "all.p12");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-reuse",
            "--subject",
            bob,
            "--p12",
            &all,
        ],
    );
    let ids: Vec<&str> = json["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["certificate_id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = [&first, &second]
        .iter()
        .map(|j| j["certificates"][0]["certificate_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, expected, "scope = all, oldest first");
    let (keys, certs) = p12_contents(Path::new(&all));
    assert_eq!(keys.len(), 2, "scope = all");
    assert!(keys.iter().any(|k| k.public_eq(&k1)) && keys.iter().any(|k| k.public_eq(&k2)));
    assert_eq!(certs.len(), 4, "two reused certificates and the CA chain");
    // One alias per key in Java.
    let aliases: Vec<String> = ids
        .iter()
        .map(|id| format!("Bob Example (encryption #{id})"))
        .collect();
    support::interop::keytool_aliases(Path::new(&all), PIN, &aliases)
        .expect("keytool reads a two-key token");
    let der_files = json["certificate_files"].as_array().unwrap();
    assert_eq!(der_files.len(), 2, "one DER file per certificate: {json}");
}

on_both_engines!(soft_dual_holds_a_local_signing_key_and_an_archived_encryption_key);

fn soft_dual_holds_a_local_signing_key_and_an_archived_encryption_key(engine: Engine) {
    let inst = Installation::on(engine);
    let p12 = p12_arg(&inst, "dual.p12");
    let pem = inst.out.join("dual.pem");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-dual",
            "--subject",
            ALICE,
            "--email",
            "alice@example.com",
            "--key-spec",
            "EC:brainpoolP320r1",
            "--p12",
            &p12,
            "--cert",
            pem.to_str().unwrap(),
        ],
    );
    assert_eq!(
        json["key_management"],
        "Key Management: archive 1 key in the server, generate 1 key locally"
    );
    let origins: Vec<&str> = json["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key_origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, ["local", "archived"]);
    let (keys, certs) = p12_contents(Path::new(&p12));
    assert_eq!(keys.len(), 2);
    assert_eq!(
        certs.len(),
        4,
        "two end-entity certificates and the CA chain"
    );
    let specs: Vec<String> = keys
        .iter()
        .map(|k| keyward_crypto::key_spec_of(k).unwrap().to_string())
        .collect();
    assert_eq!(specs, ["EC:brainpoolP320r1", "RSA:2048"]);
    for k in &keys {
        assert!(certs.iter().any(|c| c.public_key().unwrap().public_eq(k)));
    }
    let pem_text = std::fs::read_to_string(&pem).unwrap();
    assert_eq!(
        pem_text.matches("BEGIN CERTIFICATE").count(),
        2,
        "only the PKCs"
    );
    let aliases: Vec<String> = json["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "Alice Example ({} #{})",
                c["certificate_procedure"].as_str().unwrap(),
                c["certificate_id"].as_str().unwrap()
            )
        })
        .collect();
    support::interop::keytool_aliases(Path::new(&p12), PIN, &aliases)
        .expect("keytool reads the dual token");
}
