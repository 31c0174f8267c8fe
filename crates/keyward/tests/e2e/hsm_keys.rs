//! The server's own keys on SoftHSM2, through the real binary: the KRA's archive key (KEK) and
//! the issuing CA key. Refusals name the setting; tampering is detected on the token.

use crate::common;
use crate::support;

use std::process::Stdio;

use common::softhsm::{SoftHsm, CA_TOKEN, HSM_PIN, KRA_TOKEN, MODULE};
use common::tokens::{archive, issue, p12_contents, ALICE, PIN};
use common::{block_on, keyward, run, text, Installation};

/// Reads, changes and writes back the envelope of the archived key of certificate `id`.
fn edit_envelope(inst: &Installation, id: i64, edit: impl FnOnce(&mut Vec<u8>)) {
    block_on(async {
        use sqlx::{Connection, Row};
        let url = format!("sqlite://{}", inst.dir.join("keyward.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let row = sqlx::query("SELECT sealed FROM archived_keys WHERE certificate_id = ?")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let mut sealed: Vec<u8> = row.get("sealed");
        edit(&mut sealed);
        sqlx::query("UPDATE archived_keys SET sealed = ? WHERE certificate_id = ?")
            .bind(sealed)
            .bind(id)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
}

fn recover(inst: &Installation) -> std::process::Output {
    let p12 = inst.out.join("recovered.p12");
    let _ = std::fs::remove_file(&p12);
    run(
        inst.ra(&[
            "issue",
            "--procedure",
            "recover-encryption-new",
            "--subject",
            ALICE,
            "--p12",
            p12.to_str().unwrap(),
            "--pin-stdin",
        ]),
        Some(&format!("{PIN}\n")),
    )
}

#[test]
fn an_altered_iv_ciphertext_or_tag_of_the_token_wrapped_data_key_is_refused() {
    let hsm = SoftHsm::new();
    let inst = hsm.installation_with_kek();
    let json = archive(&inst, ALICE, "a.p12");
    let id: i64 = json["certificates"][0]["certificate_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The envelope: version, length, then the token-wrapped data key: format || IV (12) ||
    // ciphertext (32) || tag (16).
    for (what, offset) in [
        ("IV", 2 + 1 + 4),
        ("ciphertext", 2 + 13 + 7),
        ("tag", 2 + 45 + 3),
    ] {
        edit_envelope(&inst, id, |s| s[offset] ^= 0x20);
        let out = recover(&inst);
        assert_eq!(out.status.code(), Some(6), "{what}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("damaged") && stderr.contains(&format!("Certificate ID {id}")),
            "{what}: {stderr}"
        );
        edit_envelope(&inst, id, |s| s[offset] ^= 0x20);
    }
    let out = recover(&inst);
    assert!(
        out.status.success(),
        "the restored envelope opens: {}",
        text(&out)
    );
}

#[test]
fn the_server_refuses_to_start_with_a_wrong_hsm_pin_naming_the_setting() {
    let hsm = SoftHsm::new();
    let inst = hsm.installation_with_kek();
    std::fs::write(hsm.dir.join("hsm.pin"), "not-the-pin\n").unwrap();
    let mut server = keyward();
    server
        .args(["server", "--listen", "127.0.0.1:0", "--dir"])
        .arg(&inst.dir)
        .stdout(Stdio::piped());
    hsm.env(&mut server);
    let out = run(server, None);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kra.pkcs11-key") && stderr.contains("wrong PIN"),
        "{stderr}"
    );
    assert!(stderr.contains(KRA_TOKEN), "{stderr}");
    assert!(
        !stderr.contains("not-the-pin") && !stderr.contains(HSM_PIN),
        "{stderr}"
    );
}

#[test]
fn init_hsm_key_configure_refuses_an_archive_that_holds_envelopes() {
    let hsm = SoftHsm::new();
    hsm.init_token(KRA_TOKEN, HSM_PIN);
    let inst = Installation::new();
    archive(&inst, ALICE, "a.p12");
    let before = std::fs::read_to_string(inst.dir.join("cm.conf")).unwrap();
    let mut cmd = keyward();
    cmd.args(["kra", "init-hsm-key", "--dir"])
        .arg(&inst.dir)
        .args(["--module", MODULE, "--token-label", KRA_TOKEN, "--pin-file"])
        .arg(hsm.hsm_pin_file())
        .arg("--configure");
    hsm.env(&mut cmd);
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("envelopes"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(inst.dir.join("cm.conf")).unwrap(),
        before
    );

    // Without --configure the key is made and the settings are printed; a wrong PIN exits 4.
    let wrong = hsm.dir.join("wrong.pin");
    std::fs::write(&wrong, "wrong\n").unwrap();
    let mut cmd = keyward();
    cmd.args(["kra", "init-hsm-key", "--dir"])
        .arg(&inst.dir)
        .args(["--module", MODULE, "--token-label", KRA_TOKEN, "--pin-file"])
        .arg(&wrong);
    hsm.env(&mut cmd);
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let mut cmd = keyward();
    cmd.args(["kra", "init-hsm-key", "--dir"])
        .arg(&inst.dir)
        .args(["--module", MODULE, "--token-label", KRA_TOKEN, "--pin-file"])
        .arg(hsm.hsm_pin_file());
    hsm.env(&mut cmd);
    let out = run(cmd, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kra.pkcs11-token = KRA"),
        "{}",
        text(&out)
    );
}

#[test]
fn certificates_signed_by_the_token_held_ca_key_pass_openssl_verify() {
    let hsm = SoftHsm::new();
    let inst = hsm.installation_with_ca_key();
    let conf = std::fs::read_to_string(inst.dir.join("cm.conf")).unwrap();
    assert!(
        conf.contains("ca.issuing.pkcs11-key = keyward-issuing-ca"),
        "{conf}"
    );
    assert!(!conf.contains("ca.issuing.key ="), "{conf}");
    assert!(
        !inst.dir.join("ca/issuing.key.pem").exists(),
        "no software copy of the issuing CA key"
    );
    // The OCSP signing key is on the token too (the server started: its start-up check found
    // it fits ocsp.certificate).
    assert!(
        conf.contains("ocsp.pkcs11-key = keyward-issuing-ca-ocsp"),
        "{conf}"
    );
    assert!(!inst.dir.join("ocsp/signer.key.pem").exists());
    let (issuing, root) = (
        inst.dir.join("ca/issuing.pem"),
        inst.dir.join("ca/root.pem"),
    );

    // The server signs on the token, through the real HTTPS path.
    let p12 = inst.out.join("alice.p12");
    let cert = inst.out.join("alice.pem");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            ALICE,
            "--key-spec",
            "EC:secp256r1",
        ]
        .into_iter()
        .chain([
            "--p12",
            p12.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
        ])
        .collect::<Vec<_>>(),
    );
    assert_eq!(json["certificates"].as_array().unwrap().len(), 1, "{json}");
    support::interop::openssl_verify(&cert, &issuing, &root).expect("openssl verify");
    let (keys, certs) = p12_contents(&p12);
    assert_eq!(keys.len(), 1);
    assert!(certs
        .iter()
        .any(|c| c.public_key().unwrap().public_eq(&keys[0])));

    // So are the installation's own certificates, signed on the token during init.
    let tls = openssl::x509::X509::stack_from_pem(
        &std::fs::read(inst.dir.join("tls/server.pem")).unwrap(),
    )
    .unwrap();
    let first = inst.out.join("server.pem");
    std::fs::write(&first, tls[0].to_pem().unwrap()).unwrap();
    support::interop::openssl_verify(&first, &issuing, &root).expect("TLS certificate");

    // The issuing CA key on the token is sensitive and was never extractable.
    let listed = hsm.pkcs11_tool(&[
        "--token-label",
        CA_TOKEN,
        "--login",
        "--pin",
        HSM_PIN,
        "--list-objects",
        "--type",
        "privkey",
    ]);
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(listing.contains("keyward-issuing-ca"), "{listing}");
    assert!(listing.contains("keyward-issuing-ca-ocsp"), "{listing}");
    let access = listing
        .lines()
        .find_map(|l| l.trim().strip_prefix("Access:"))
        .expect("Access line");
    let flags: Vec<&str> = access.split(',').map(str::trim).collect();
    assert!(
        flags.contains(&"sensitive") && !flags.contains(&"extractable"),
        "{listing}"
    );
}
