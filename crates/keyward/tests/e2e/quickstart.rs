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
