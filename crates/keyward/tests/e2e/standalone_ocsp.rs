//! `keyward ocsp`, the standalone responder: it starts and answers from a copy of the
//! installation without the CA key, the KRA and the audit key, checked with `openssl ocsp`; a
//! copy whose OCSP signing certificate has expired starts on the newer one the database holds.

use std::time::{Duration, Instant};

use openssl::pkey::PKey;
use openssl::x509::X509;

use keyward_policy::usage::{KeyUsage, KeyUsageSet};
use keyward_policy::{CertificateProcedure, DistinguishedName};
use keyward_server::service::{load_ca, name_to_string};
use keyward_server::ServerConfig;

use crate::common::tokens::{issue, p12_arg, p12_contents};
use crate::common::{
    keyward, on_both_engines, run, start_responder, text, Engine, Installation, KillOnDrop,
};

on_both_engines!(an_expired_certificate_file_starts_on_the_renewal_in_the_database);

/// Copies `from` to `to` (files and folders, recursively).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn standalone_responder_needs_no_ca_key_kra_or_audit_key() {
    let inst = Installation::new();
    let copy = inst.out.join("responder");
    copy_dir(&inst.dir, &copy);
    std::fs::remove_file(copy.join("ca/issuing.key.pem")).expect("remove CA key");
    std::fs::remove_file(copy.join("ca/ca.pass")).expect("remove CA passphrase");
    std::fs::remove_file(copy.join("audit/audit-key.pem")).expect("remove audit key");
    std::fs::remove_dir_all(copy.join("kra")).expect("remove KRA");

    // Without a listen address anywhere: a configuration error naming the setting, exit 3.
    let refused = keyward()
        .args(["ocsp", "--dir"])
        .arg(&copy)
        .args(["--database", &inst.database_url])
        .output()
        .expect("run keyward ocsp");
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("public.listen"));

    let (responder, url) = start_responder(&copy, &inst.database_url);
    let _responder = KillOnDrop(responder);
    let ask = |cert: &std::path::Path| {
        let answer = keyward_testkit::tool("openssl")
            .args(["ocsp", "-no_nonce", "-issuer"])
            .arg(inst.dir.join("ca/issuing.pem"))
            .arg("-cert")
            .arg(cert)
            .arg("-CAfile")
            .arg(inst.dir.join("ca/root.pem"))
            .args(["-url", &url])
            .output()
            .expect("openssl ocsp");
        format!(
            "{}{}",
            String::from_utf8_lossy(&answer.stdout),
            String::from_utf8_lossy(&answer.stderr)
        )
    };
    let text_signer = ask(&inst.dir.join("ocsp/signer.pem"));

    // Revoked through the server: the standalone responder sees it through the database.
    let p12 = p12_arg(&inst, "carol.p12");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            "CN=Carol Standalone,O=Example,C=SE",
            "--p12",
            &p12,
        ],
    );
    let id = json["certificates"][0]["certificate_id"]
        .as_str()
        .expect("id")
        .to_string();
    let (_, certs) = p12_contents(&inst.out.join("carol.p12"));
    let carol = inst.out.join("carol.pem");
    std::fs::write(&carol, certs[0].to_pem().expect("pem")).expect("write carol.pem");
    let good = ask(&carol);
    let out = run(
        inst.ra(&["revoke", "--id", &id, "--reason", "keyCompromise"]),
        None,
    );
    let committed = Instant::now();
    let revoked = loop {
        let out_text = ask(&carol);
        if out_text.contains("carol.pem: revoked") {
            // A figure for the report, not an assertion (speed is for benches).
            eprintln!(
                "standalone OCSP: revoked seen {} ms after `ra revoke` returned",
                committed.elapsed().as_millis()
            );
            break Ok(out_text);
        }
        if committed.elapsed() > Duration::from_secs(5) {
            break Err(out_text);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(text_signer.contains("Response verify OK"), "{text_signer}");
    assert!(text_signer.contains("signer.pem: good"), "{text_signer}");
    assert!(good.contains("carol.pem: good"), "{good}");
    assert!(out.status.success(), "{}", text(&out));
    let revoked = revoked.unwrap_or_else(|last| panic!("still not revoked after 5 s: {last}"));
    assert!(revoked.contains("Reason: keyCompromise"), "{revoked}");
    assert!(revoked.contains("Response verify OK"), "{revoked}");
}

/// The serial of `cert` as `openssl ocsp -resp_text` prints it, without colons, lowercase.
fn serial_text(cert: &X509) -> String {
    let hex = cert
        .serial_number()
        .to_bn()
        .expect("bn")
        .to_hex_str()
        .expect("hex")
        .to_string();
    hex.to_lowercase()
}

fn an_expired_certificate_file_starts_on_the_renewal_in_the_database(engine: Engine) {
    let inst = Installation::on(engine);
    let copy = inst.out.join("responder");
    copy_dir(&inst.dir, &copy);
    std::fs::remove_file(copy.join("ca/issuing.key.pem")).expect("remove CA key");
    std::fs::remove_file(copy.join("ca/ca.pass")).expect("remove CA passphrase");

    // The copy's file: a certificate of the same key from the same CA that expired a week ago
    // (not recorded: a file left behind). The database holds the one `init` issued, later.
    let config = ServerConfig::load(&inst.dir.join("cm.conf")).expect("cm.conf");
    let ca = load_ca(&config).expect("CA");
    let in_db = X509::from_pem(&std::fs::read(inst.dir.join("ocsp/signer.pem")).expect("pem"))
        .expect("signer.pem");
    let public = in_db.public_key().expect("public key");
    let public = PKey::public_key_from_der(&public.public_key_to_der().expect("der")).expect("key");
    let procedure = CertificateProcedure {
        name: "ocsp-signing".into(),
        validity_days: 7,
        key_usage: KeyUsageSet::of(&[KeyUsage::DigitalSignature]),
        extended_key_usage: vec!["OCSPSigning".into()],
        ocsp_no_check: true,
        ..Default::default()
    };
    let now = keyward_server::service::unix_now();
    let expired = ca
        .issue(&keyward_ca::IssueRequest {
            public_key: &public,
            subject: &DistinguishedName::parse(&name_to_string(in_db.subject_name()))
                .expect("subject"),
            email: None,
            procedure: &procedure,
            serial: keyward_crypto::random_serial().expect("serial"),
            not_before: now - 14 * 86_400,
            dns_names: &[],
            ip_addresses: &[],
            qc_statements: &procedure.qc_statements,
        })
        .expect("issue");
    std::fs::write(copy.join("ocsp/signer.pem"), expired.to_pem().expect("pem"))
        .expect("write the expired certificate");

    let (responder, url) = start_responder(&copy, &inst.database_url);
    let responder = KillOnDrop(responder);
    let answer = keyward_testkit::tool("openssl")
        .args(["ocsp", "-no_nonce", "-resp_text", "-issuer"])
        .arg(inst.dir.join("ca/issuing.pem"))
        .arg("-cert")
        .arg(inst.dir.join("ocsp/signer.pem"))
        .arg("-CAfile")
        .arg(inst.dir.join("ca/root.pem"))
        .args(["-url", &url])
        .output()
        .expect("openssl ocsp");
    drop(responder);
    let answer = text(&answer);
    assert!(answer.contains("Response verify OK"), "{answer}");
    assert!(answer.contains("signer.pem: good"), "{answer}");
    // Signed with the certificate from the database, not the expired one of the file, which
    // stays as it was (the responder writes no file).
    // Its serial is printed twice: in the CertID asked about, and in the signer's certificate.
    let printed = answer.to_lowercase().replace(':', "");
    assert_eq!(printed.matches(&serial_text(&in_db)).count(), 2, "{answer}");
    assert!(!printed.contains(&serial_text(&expired)), "{answer}");
    let file = std::fs::read(copy.join("ocsp/signer.pem")).expect("read the file");
    assert_eq!(file, expired.to_pem().expect("pem"));
}
