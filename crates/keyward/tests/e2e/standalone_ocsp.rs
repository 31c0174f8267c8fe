//! `keyward ocsp`, the standalone responder: it starts and answers from a copy of the
//! installation without the CA key, the KRA and the audit key, checked with `openssl ocsp`.

use std::time::{Duration, Instant};

use crate::common::tokens::{issue, p12_arg, p12_contents};
use crate::common::{keyward, run, start_responder, text, Installation, KillOnDrop};

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
        let answer = std::process::Command::new("openssl")
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
