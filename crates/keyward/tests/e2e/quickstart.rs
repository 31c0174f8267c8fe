//! `keyward quickstart` initialises, serves in-process over HTTPS and issues a token that
//! OpenSSL opens with the PIN it prints.

use crate::common;
use crate::support;

use common::{keyward, run, text};

#[test]
fn quickstart_issues_a_token_openssl_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    for round in 1..=2 {
        let mut cmd = keyward();
        cmd.args(["quickstart", "--json", "--dir"]).arg(&dir);
        let out = run(cmd, None);
        assert!(out.status.success(), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains('\u{1b}') && !stderr.contains("INFO"),
            "quickstart's stderr holds log lines or colour codes: {stderr:?}"
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["initialised"], round == 1);
        let p12 = std::path::PathBuf::from(json["p12"].as_str().unwrap());
        assert!(p12.ends_with(format!("quickstart-{round}.p12")));
        let pin = json["pin"].as_str().unwrap();
        support::interop::openssl_pkcs12(&p12, pin, json["key_spec"].as_str().unwrap(), 2).unwrap();
        eprintln!(
            "quickstart round {round}: {:.2} s",
            json["seconds"].as_f64().unwrap()
        );
    }
}

/// Logs on a pipe have no colour codes, the server says where it listens once in its log, and
/// `RUST_LOG` is honoured unless `KEYWARD_LOG` says otherwise.
#[test]
fn logs_are_plain_on_a_pipe_and_follow_rust_log() {
    let inst = common::Installation::new();
    let log = inst.log();
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log: {log:?}"
    );
    assert_eq!(log.matches("listening on").count(), 1, "{log}");
    let fetch = |env: &[(&str, &str)]| {
        let mut cmd = keyward();
        cmd.args(["crl", "fetch", "http://127.0.0.1:1/none.crl"])
            .env_remove("RUST_LOG")
            .env_remove("KEYWARD_LOG")
            .envs(env.iter().copied());
        let out = run(cmd, None);
        assert!(!out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(!fetch(&[]).contains("DEBUG"));
    let debug = fetch(&[("RUST_LOG", "debug")]);
    assert!(
        debug.contains("DEBUG") && !debug.contains('\u{1b}'),
        "{debug}"
    );
    assert!(!fetch(&[("RUST_LOG", "debug"), ("KEYWARD_LOG", "error")]).contains("DEBUG"));
}
