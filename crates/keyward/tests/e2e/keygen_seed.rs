//! The seed step: `ra init-keygen` mixes extra entropy in and keeps a 0600 seed file that every
//! RA start mixes in and replaces; too little entropy is refused. The configured key-spec list
//! of client.conf overrides the server's.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use common::{run, text, Installation};

#[test]
fn init_keygen_keeps_a_private_seed_file_that_each_start_replaces() {
    let inst = Installation::new();
    let seed = inst.dir.join("ra-seed");
    let out = run(inst.ra(&["init-keygen"]), Some("too short"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at least 32 bytes"),
        "{}",
        text(&out)
    );
    assert!(!seed.exists());

    let out = run(
        inst.ra(&["init-keygen"]),
        Some("the officer types random text here: 8f7a6s5d4f3g2h1j"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::metadata(&seed).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let first = std::fs::read(&seed).unwrap();
    assert_eq!(first.len(), 64);

    let out = run(inst.ra(&["whoami"]), None);
    assert!(out.status.success(), "{}", text(&out));
    let second = std::fs::read(&seed).unwrap();
    assert_eq!(second.len(), 64);
    assert_ne!(first, second, "each RA start replaces the seed file");
}

#[test]
fn client_conf_key_specs_override_the_servers() {
    let inst = Installation::new();
    let out = run(inst.ra(&["key-specs", "--json"]), None);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["key_specs"].as_array().unwrap().len(), 12);
    assert_eq!(json["key_specs"][0]["key_spec"], "RSA:2048");
    assert_eq!(json["key_specs"][0]["default"], true);
    for spec in json["key_specs"].as_array().unwrap() {
        let dsa = spec["key_spec"].as_str().unwrap().starts_with("DSA:");
        assert_eq!(spec["legacy"], dsa, "{spec}");
    }
    let out = run(inst.ra(&["key-specs"]), None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("DSA:1024  (legacy)\n"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("legacy: DSA is legacy"),
        "{}",
        text(&out)
    );

    let conf = inst.client_conf();
    let mut body = std::fs::read_to_string(&conf).unwrap();
    body.push_str("ra-key-generation = EC:secp384r1, \\\n    EC:secp256r1*\n");
    std::fs::write(&conf, body).unwrap();
    let out = run(inst.ra(&["key-specs"]), None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "EC:secp384r1\nEC:secp256r1*\n"
    );

    let p12 = inst.out.join("t.p12");
    let out = run(
        inst.ra(&[
            "issue",
            "--procedure",
            "soft-signing-show",
            "--subject",
            "CN=Override",
            "--p12",
            p12.to_str().unwrap(),
            "--json",
        ]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["key_spec"], "EC:secp256r1",
        "the local default applies"
    );
    let out = run(
        inst.ra(&[
            "issue",
            "--procedure",
            "soft-signing-show",
            "--subject",
            "CN=Override",
            "--key-spec",
            "RSA:2048",
            "--p12",
            p12.to_str().unwrap(),
            "--force",
        ]),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("not offered here; allowed: EC:secp384r1, EC:secp256r1*"),
        "{}",
        text(&out)
    );
}
