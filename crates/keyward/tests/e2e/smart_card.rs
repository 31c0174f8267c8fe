//! Smart-card officers on SoftHSM2, through the real binary and server: `officer enroll-card`
//! generates the key on the token, the officer issues a token over TLS authenticated by the card
//! and signs the request on it, a wrong token PIN stops the RA before anything is sent, and the
//! private key is sensitive and was never extractable (generated on the token).

use crate::common;

use std::path::{Path, PathBuf};

use common::softhsm::{SoftHsm, MODULE};
use common::tokens::p12_contents_with;
use common::{block_on, keyward, run, text, Installation};
use serde_json::Value;

const CARD_PIN: &str = "card-4711";
const CARD: &str = "Carol card";

/// Enrolls `name` on a fresh token labelled [`CARD`]; returns its client.conf and PIN file.
fn enroll(inst: &Installation, hsm: &SoftHsm, name: &str, roles: &str) -> (PathBuf, PathBuf) {
    hsm.init_token(CARD, CARD_PIN);
    let pin_file = inst.out.join("card.pin");
    std::fs::write(&pin_file, format!("{CARD_PIN}\n")).unwrap();
    let mut cmd = keyward();
    cmd.args(["officer", "enroll-card", "--dir"])
        .arg(&inst.dir)
        .args(["--module", MODULE, "--token-label", CARD, "--pin-file"])
        .arg(&pin_file)
        .args([name, "--roles", roles, "--json"]);
    hsm.env(&mut cmd);
    let out = run(cmd, None);
    assert!(out.status.success(), "enroll-card: {}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["name"], name);
    assert_eq!(json["token"], CARD);
    assert_eq!(json["key_label"], name);
    let conf = PathBuf::from(json["client_conf"].as_str().expect("client conf written"));
    (conf, pin_file)
}

/// `keyward ra --config CONF --signature-pin-file PIN ARGS…` with SoftHSM2's token directory.
fn ra(
    inst: &Installation,
    hsm: &SoftHsm,
    conf: &Path,
    pin: &Path,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = inst.ra_as(conf, pin, args);
    hsm.env(&mut cmd);
    run(cmd, None)
}

#[test]
fn smart_card_officer_issues_a_token_signed_on_the_card() {
    let hsm = SoftHsm::new();
    let inst = Installation::new();
    let (conf, pin_file) = enroll(&inst, &hsm, "carol", "issue-certificate");

    let body = std::fs::read_to_string(&conf).unwrap();
    assert!(
        body.contains(&format!("officer.pkcs11-module = {MODULE}")),
        "{body}"
    );
    assert!(
        body.contains(&format!("officer.pkcs11-token = {CARD}")),
        "{body}"
    );
    assert!(body.contains("officer.pkcs11-key = carol"), "{body}");
    assert!(!body.contains("officer.p12"), "{body}");

    // The card holds the key pair, the officer certificate and the CA chain.
    let listed = hsm.pkcs11_tool(&[
        "--token-label",
        CARD,
        "--login",
        "--pin",
        CARD_PIN,
        "--list-objects",
    ]);
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listing}");
    assert!(listing.contains("Private Key Object; EC"), "{listing}");
    assert!(listing.contains("Certificate Object"), "{listing}");
    assert!(listing.contains("CN=carol"), "{listing}");
    assert!(listing.contains("Keyward Issuing CA"), "{listing}");

    let who = ra(&inst, &hsm, &conf, &pin_file, &["whoami", "--json"]);
    assert!(who.status.success(), "{}", text(&who));
    let me: Value = serde_json::from_slice(&who.stdout).unwrap();
    assert_eq!(me["name"], "carol");
    assert!(
        !String::from_utf8_lossy(&who.stderr).contains("virtual officer"),
        "a smart-card officer gets no virtual-officer warning: {}",
        text(&who)
    );

    let p12 = inst.out.join("dave.p12");
    let out = ra(
        &inst,
        &hsm,
        &conf,
        &pin_file,
        &[
            "issue",
            "--procedure",
            "soft-signing-show",
            "--subject",
            "CN=Dave Example,O=Example,C=SE",
            "--p12",
            p12.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("virtual officer"),
        "{}",
        text(&out)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pin = json["pin"].as_str().expect("show PIN");
    let (keys, certs) = p12_contents_with(&p12, pin);
    assert_eq!(keys.len(), 1);
    assert!(certs
        .iter()
        .any(|c| format!("{:?}", c.subject_name()).contains("Dave Example")));

    // The server recorded carol as the issuing officer (it verified her card's signature).
    let records = block_on(async { inst.store().await.audit_records(20).await.unwrap() });
    assert!(
        records.iter().any(|r| r.officer.as_deref() == Some("carol")
            && r.action.contains("issue")
            && r.outcome == keyward_store::Outcome::Success),
        "{records:#?}"
    );
    let created = records
        .iter()
        .find(|r| r.action == "create-officer" && r.object.as_deref() == Some("carol"))
        .expect("create-officer audited");
    assert_eq!(created.detail["credential"], "pkcs11");

    // The virtual officer keeps working, and keeps its warning.
    let admin = run(inst.ra(&["whoami"]), None);
    assert!(admin.status.success(), "{}", text(&admin));
    assert!(
        String::from_utf8_lossy(&admin.stderr).contains("virtual officer"),
        "{}",
        text(&admin)
    );
}

#[test]
fn wrong_card_pin_exits_4_before_anything_is_sent() {
    let hsm = SoftHsm::new();
    let inst = Installation::new();
    let (conf, _) = enroll(&inst, &hsm, "erin", "issue-certificate");
    let before = block_on(async { inst.store().await.audit_records(1000).await.unwrap().len() });
    let wrong = inst.out.join("wrong.pin");
    std::fs::write(&wrong, "wrong-9999\n").unwrap();
    let p12 = inst.out.join("never.p12");
    let out = ra(
        &inst,
        &hsm,
        &conf,
        &wrong,
        &[
            "issue",
            "--procedure",
            "soft-signing-show",
            "--subject",
            "CN=Nobody",
            "--p12",
            p12.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("wrong Signature PIN") && stderr.contains(CARD),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-9999") && !stderr.contains(CARD_PIN),
        "{stderr}"
    );
    assert!(!p12.exists());
    let after = block_on(async { inst.store().await.audit_records(1000).await.unwrap().len() });
    assert_eq!(before, after, "nothing reached the server");
    assert!(!inst.log().contains("erin"), "{}", inst.log());
}

#[test]
fn the_officer_key_cannot_leave_the_card() {
    let hsm = SoftHsm::new();
    let inst = Installation::new();
    enroll(&inst, &hsm, "frank", "issue-certificate");
    let listed = hsm.pkcs11_tool(&[
        "--token-label",
        CARD,
        "--login",
        "--pin",
        CARD_PIN,
        "--list-objects",
        "--type",
        "privkey",
    ]);
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listing}");
    assert!(listing.contains("label:      frank"), "{listing}");
    // OpenSC prints CKA_SENSITIVE as "sensitive" and CKA_EXTRACTABLE as "extractable".
    let access: Vec<&str> = listing
        .lines()
        .find_map(|l| l.trim().strip_prefix("Access:"))
        .expect("Access line")
        .split(',')
        .map(str::trim)
        .collect();
    assert!(access.contains(&"sensitive"), "CKA_SENSITIVE: {listing}");
    assert!(
        !access.contains(&"extractable"),
        "CKA_EXTRACTABLE: {listing}"
    );
    assert!(
        access.contains(&"never extractable") && access.contains(&"local"),
        "{listing}"
    );

    // A second enrollment of the same name is refused before the card is touched.
    let mut again = keyward();
    again
        .args(["officer", "enroll-card", "--dir"])
        .arg(&inst.dir)
        .args([
            "--module",
            MODULE,
            "--token-label",
            CARD,
            "frank",
            "--roles",
            "issue-certificate",
        ])
        .env("KEYWARD_SIGNATURE_PIN", CARD_PIN);
    hsm.env(&mut again);
    let out = run(again, None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exists"),
        "{}",
        text(&out)
    );
}
