//! `keyward ocsp`, the standalone responder: it starts and answers from a copy of the
//! installation without the CA key, the KRA and the audit key, checked with `openssl ocsp`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::common::{keyward, Installation};

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

    let mut responder = keyward()
        .args(["ocsp", "--listen", "127.0.0.1:0", "--dir"])
        .arg(&copy)
        .args(["--database", &inst.database_url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn keyward ocsp");
    let mut banner = String::new();
    BufReader::new(responder.stdout.take().expect("stdout"))
        .read_line(&mut banner)
        .expect("banner");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in the banner {banner:?}"))
        .to_string();
    let answer = std::process::Command::new("openssl")
        .args(["ocsp", "-issuer"])
        .arg(inst.dir.join("ca/issuing.pem"))
        .arg("-cert")
        .arg(inst.dir.join("ocsp/signer.pem"))
        .arg("-CAfile")
        .arg(inst.dir.join("ca/root.pem"))
        .args(["-url", &url])
        .output()
        .expect("openssl ocsp");
    let _ = responder.kill();
    let _ = responder.wait();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&answer.stdout),
        String::from_utf8_lossy(&answer.stderr)
    );
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains("signer.pem: good"), "{text}");
}
