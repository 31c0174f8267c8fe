//! Helpers for tests that issue tokens: issue with `--json`, read a PKCS#12 back with the
//! `openssl pkcs12` command, archive a key, create an officer.

use std::path::{Path, PathBuf};

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde_json::Value;

use super::{keyward, run, text, Installation};

pub(crate) const PIN: &str = "Correct-Horse-7";
pub(crate) const ALICE: &str = "CN=Alice Example,O=Example,C=SE";

/// Every private key and certificate in a PKCS#12 sealed with [`PIN`], read by the
/// `openssl pkcs12` command.
pub(crate) fn p12_contents(p12: &Path) -> (Vec<PKey<Private>>, Vec<X509>) {
    p12_contents_with(p12, PIN)
}

/// Every private key and certificate in a PKCS#12 sealed with `pin`, read by the
/// `openssl pkcs12` command.
pub(crate) fn p12_contents_with(p12: &Path, pin: &str) -> (Vec<PKey<Private>>, Vec<X509>) {
    let out = keyward_testkit::tool("openssl")
        .args(["pkcs12", "-nodes", "-passin", "env:KW_PIN", "-in"])
        .arg(p12)
        .env("KW_PIN", pin)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl pkcs12 {}: {}",
        p12.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = String::from_utf8_lossy(&out.stdout).into_owned();
    let blocks = |kind: &str| -> Vec<String> {
        let begin = format!("-----BEGIN {kind}-----");
        let end = format!("-----END {kind}-----");
        pem.match_indices(&begin)
            .map(|(i, _)| {
                let stop = pem[i..].find(&end).expect("PEM end") + i + end.len();
                pem[i..stop].to_string()
            })
            .collect()
    };
    let keys = blocks("PRIVATE KEY")
        .iter()
        .map(|b| PKey::private_key_from_pem(b.as_bytes()).expect("key PEM"))
        .collect();
    let certs = blocks("CERTIFICATE")
        .iter()
        .map(|b| X509::from_pem(b.as_bytes()).expect("certificate PEM"))
        .collect();
    (keys, certs)
}

pub(crate) fn serial_of(cert: &X509) -> String {
    cert.serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap()
        .to_lowercase()
}

/// Issues a token with `--json` and returns the parsed output; panics with the output on failure.
pub(crate) fn issue(inst: &Installation, conf: Option<(&Path, &Path)>, args: &[&str]) -> Value {
    let mut all = vec!["issue", "--pin-stdin", "--json"];
    all.extend_from_slice(args);
    let cmd = match conf {
        Some((c, p)) => inst.ra_as(c, p, &all),
        None => inst.ra(&all),
    };
    let out = run(cmd, Some(&format!("{PIN}\n")));
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("issue --json")
}

/// Runs `ra issue --pin-stdin ARGS` with [`PIN`] on stdin and returns its output, whatever the
/// outcome (for refusals).
pub(crate) fn try_issue(inst: &Installation, args: &[&str]) -> std::process::Output {
    let all = [&["issue", "--pin-stdin"][..], args].concat();
    run(inst.ra(&all), Some(&format!("{PIN}\n")))
}

pub(crate) fn p12_arg(inst: &Installation, name: &str) -> String {
    inst.out.join(name).to_str().unwrap().to_string()
}

pub(crate) fn archive(inst: &Installation, subject: &str, name: &str) -> Value {
    let p12 = p12_arg(inst, name);
    let json = issue(
        inst,
        None,
        &[
            "--procedure",
            "soft-encryption-archived",
            "--subject",
            subject,
            "--p12",
            &p12,
        ],
    );
    assert_eq!(
        json["key_management"],
        "Key Management: archive 1 key in the server"
    );
    assert_eq!(json["certificates"][0]["key_origin"], "archived");
    json
}

pub(crate) fn create_officer(inst: &Installation, name: &str, roles: &str) -> (PathBuf, PathBuf) {
    let mut create = keyward();
    create
        .args(["officer", "create", name, "--roles", roles, "--dir"])
        .arg(&inst.dir);
    let out = run(create, None);
    assert!(out.status.success(), "{}", text(&out));
    (
        inst.client_conf_for(name),
        inst.dir.join(format!("officer/{name}.pin")),
    )
}
