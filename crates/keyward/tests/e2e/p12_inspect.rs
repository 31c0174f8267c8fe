//! `keyward p12 inspect` through the real binary, on PKCS#12 files made by Keyward itself and
//! by foreign tools: the OpenSSL CLI (default and -legacy), a BER rewrite, Java keytool,
//! GnuTLS certtool and NSS pk12util (the last three are skipped, with a note, if missing).

use crate::common;
mod support;

use common::{keyward, run, text};
use keyward_crypto::Pkcs12Profile;
use serde_json::Value;
use support::*;

#[test]
fn own_tokens_in_both_profiles() {
    let pki = pki();
    for (profile, name) in [
        (Pkcs12Profile::modern(), "modern.p12"),
        (Pkcs12Profile::legacy(), "legacy.p12"),
    ] {
        let file = pki.own(name, &profile);
        let closed = report(&file, None);
        assert_eq!(
            (closed["encoding"].as_str(), closed["version"].as_u64()),
            (Some("DER"), Some(3))
        );
        assert_eq!(closed["pin"], "not-given");
        let (mac, cert_safe, key) = (&closed["mac"], &closed["safes"][0], key_bag(&closed));
        assert_eq!(mac["algorithm"], "HMAC");
        assert_eq!(mac["iterations"], 2048);
        assert_eq!(cert_safe["content_type"], "encryptedData");
        assert_eq!(cert_safe["status"], "encrypted", "{closed}");
        assert_eq!(cert_safe["bags"], serde_json::json!([]));
        assert_eq!(key["friendly_name"], "alice");
        assert!(key["local_key_id"]
            .as_str()
            .is_some_and(|id| id.len() == 40));
        assert!(key["key_type"].is_null());
        if profile == Pkcs12Profile::modern() {
            assert_eq!(
                (mac["digest"].as_str(), mac["salt_length"].as_u64()),
                (Some("sha256"), Some(16))
            );
            pbes2(&cert_safe["encryption"], "AES-256-CBC", 2048, 16);
            pbes2(&key["encryption"], "AES-256-CBC", 2048, 16);
        } else {
            assert_eq!(
                (mac["digest"].as_str(), mac["salt_length"].as_u64()),
                (Some("sha1"), Some(8))
            );
            for e in [&cert_safe["encryption"], &key["encryption"]] {
                assert_eq!(e["algorithm"], "pbeWithSHA1And3-KeyTripleDES-CBC", "{e}");
                assert_eq!(
                    (e["iterations"].as_u64(), e["salt_length"].as_u64()),
                    (Some(2048), Some(8))
                );
            }
        }
        let human = inspect(&file, &[], None);
        assert!(
            String::from_utf8_lossy(&human.stdout).contains("encrypted: give the PIN"),
            "{}",
            text(&human)
        );

        let open = report(&file, Some(PIN));
        check_opened(&open, "EC secp256r1");
        let ee = &open["certificates"][0];
        assert_eq!(
            (ee["subject"].as_str(), ee["issuer"].as_str()),
            (Some("CN=Alice Example"), Some("CN=Example Root"))
        );
        assert_eq!(
            (ee["serial"].as_str(), ee["issued_by"].as_u64()),
            (Some("4f0a"), Some(2))
        );
        assert_eq!(ee["friendly_name"], "alice");
        assert_eq!(open["certificates"][1]["self_signed"], true);
        let key = &open["keys"][0];
        assert_eq!(key["matched_by"], "localKeyId");
        assert_eq!(key["attributes"]["complete"], true, "{key}");
        assert_eq!(key["chain"], serde_json::json!([1, 2]));
        assert_eq!(open["chain"]["order"], "leaf-first");
    }
}

#[test]
fn openssl_cli_default_and_legacy() {
    let pki = pki();
    let default = pki.openssl("default.p12", &[]);
    let r = report(&default, None);
    assert_eq!(r["encoding"], "DER");
    assert_eq!(r["mac"]["digest"], "sha256");
    pbes2(&r["safes"][0]["encryption"], "AES-256-CBC", 2048, 8);
    pbes2(&key_bag(&r)["encryption"], "AES-256-CBC", 2048, 8);
    check_opened(&report(&default, Some(PIN)), "EC secp256r1");

    let legacy = pki.openssl("legacy.p12", &["-legacy"]);
    let r = report(&legacy, None);
    assert_eq!(r["mac"]["digest"], "sha1");
    assert_eq!(
        r["safes"][0]["encryption"]["algorithm"], "pbeWithSHA1And40BitRC2-CBC",
        "{r}"
    );
    assert_eq!(
        key_bag(&r)["encryption"]["algorithm"],
        "pbeWithSHA1And3-KeyTripleDES-CBC"
    );
    // `-legacy` needs OpenSSL's legacy provider, so it is there for the inspector too.
    let open = report(&legacy, Some(PIN));
    assert_eq!(open["safes"][0]["status"], "decrypted", "{open}");
    check_opened(&open, "EC secp256r1");

    // No encryption, no MAC: everything, key type included, shows without the PIN.
    let plain = pki.openssl(
        "plain.p12",
        &["-keypbe", "NONE", "-certpbe", "NONE", "-nomac"],
    );
    let r = report(&plain, None);
    assert!(r["mac"].is_null(), "{r}");
    assert_eq!(r["keys"][0]["bag_type"], "keyBag");
    assert_eq!(r["keys"][0]["key_type"], "EC secp256r1");
    assert_eq!(r["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(r["chain"]["all_visible"], true);
}

#[test]
fn ber_files_read_as_ber() {
    let pki = pki();
    let der = std::fs::read(pki.own("der.p12", &Pkcs12Profile::modern())).unwrap();
    let ber = pki.path("ber.p12");
    std::fs::write(&ber, der_to_ber(&der)).unwrap();
    let check = keyward_testkit::tool("openssl")
        .args(["pkcs12", "-noout", "-passin", "env:KW_PIN", "-in"])
        .arg(&ber)
        .env("KW_PIN", PIN)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "OpenSSL must read the BER rewrite: {check:?}"
    );
    assert_eq!(report(&ber, None)["encoding"], "BER");
    let open = report(&ber, Some(PIN));
    assert_eq!(open["encoding"], "BER");
    check_opened(&open, "EC secp256r1");
}

#[test]
fn java_keytool_p12() {
    let pki = pki();
    let file = pki.path("java.p12");
    let keytool = |args: &[&str]| {
        let out = keyward_testkit::tool("keytool")
            .args(["-storetype", "PKCS12", "-keystore"])
            .arg(&file)
            .args(["-storepass", PIN, "-noprompt"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "keytool: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    keytool(&[
        "-genkeypair",
        "-alias",
        "bob",
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-dname",
        "CN=Bob",
        "-validity",
        "30",
    ]);
    let root = pki.path("root.pem");
    keytool(&[
        "-importcert",
        "-alias",
        "ca",
        "-file",
        root.to_str().unwrap(),
    ]);
    let r = report(&file, None);
    assert_eq!(r["encoding"], "DER");
    assert_eq!(key_bag(&r)["friendly_name"], "bob");
    assert_eq!(key_bag(&r)["encryption"]["algorithm"], "PBES2");
    let r = report(&file, Some(PIN));
    assert_eq!(r["mac"]["status"], "verified", "{r}");
    let key = &r["keys"][0];
    assert_eq!(
        (key["key_type"].as_str(), key["friendly_name"].as_str()),
        (Some("RSA 2048"), Some("bob"))
    );
    assert_eq!(key["attributes"]["complete"], true, "{key}");
    // The trusted certificate entry carries Java's trusted-key-usage attribute.
    let trusted = r["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"] == "CN=Example Root")
        .unwrap();
    assert_eq!(trusted["friendly_name"], "ca");
    let bags = r["safes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["bags"].as_array().unwrap().clone());
    assert!(
        bags.into_iter()
            .any(|b| b["other_attributes"] == serde_json::json!(["oracleTrustedKeyUsage"])),
        "{r}"
    );
}

#[test]
fn gnutls_and_nss_p12() {
    let pki = pki();
    // GnuTLS certtool writes one…
    {
        let file = pki.path("gnutls.p12");
        let out = keyward_testkit::tool("certtool")
            .args([
                "--to-p12",
                "--p12-name=carol",
                "--outder",
                "--password",
                PIN,
            ])
            .args([
                "--load-privkey",
                "key.pem",
                "--load-certificate",
                "ee.pem",
                "--outfile",
                "gnutls.p12",
            ])
            .current_dir(pki.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "certtool: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = report(&file, Some(PIN));
        assert_eq!(r["mac"]["status"], "verified", "{r}");
        assert_eq!(r["keys"][0]["key_type"], "EC secp256r1");
        assert_eq!(r["keys"][0]["friendly_name"], "carol");
    }
    // … and NSS another.
    {
        let db = format!("sql:{}", pki.path("nssdb").display());
        std::fs::create_dir(pki.path("nssdb")).unwrap();
        let source = pki.openssl("for-nss.p12", &[]);
        let nss = pki.path("nss.p12");
        for args in [
            vec!["certutil", "-N", "-d", &db, "--empty-password"],
            vec![
                "pk12util",
                "-i",
                source.to_str().unwrap(),
                "-d",
                &db,
                "-W",
                PIN,
            ],
            vec![
                "pk12util",
                "-o",
                nss.to_str().unwrap(),
                "-n",
                "alice",
                "-d",
                &db,
                "-W",
                PIN,
            ],
        ] {
            let out = keyward_testkit::tool(args[0])
                .args(&args[1..])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // NSS writes indefinite lengths throughout.
        let r = report(&nss, Some(PIN));
        assert_eq!(r["encoding"], "BER");
        check_opened(&r, "EC secp256r1");
    }
}

#[test]
fn wrong_pin_and_bad_files() {
    let pki = pki();
    let file = pki.own("alice.p12", &Pkcs12Profile::modern());
    let out = inspect(&file, &["--pin-stdin"], Some("not-the-pin\n"));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wrong PIN (from --pin-stdin)"), "{stderr}");
    // The structure outside the encrypted parts is still shown.
    assert!(String::from_utf8_lossy(&out.stdout).contains("encoding: DER"));
    let json = inspect(&file, &["--pin-stdin", "--json"], Some("not-the-pin\n"));
    assert_eq!(json.status.code(), Some(4));
    let r: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (r["pin"].as_str(), r["mac"]["status"].as_str()),
        (Some("wrong"), Some("wrong-pin-or-damaged"))
    );

    let der = std::fs::read(&file).unwrap();
    let truncated = pki.path("truncated.p12");
    std::fs::write(&truncated, &der[..der.len() - 100]).unwrap();
    let text_file = pki.path("notes.txt");
    std::fs::write(&text_file, "hello, world\n").unwrap();
    for bad in [truncated, text_file, pki.path("ee.pem")] {
        let out = inspect(&bad, &[], None);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let expected = format!("{}: not a PKCS#12 file", bad.display());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&expected),
            "{}",
            text(&out)
        );
    }
    let missing = inspect(&pki.path("missing.p12"), &[], None);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}

#[test]
fn pin_sources_and_human_output() {
    let pki = pki();
    let file = pki.own("alice.p12", &Pkcs12Profile::modern());
    let pin_file = pki.path("pin.txt");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    let by_file = inspect(&file, &["--pin-file", pin_file.to_str().unwrap()], None);
    let mut env = keyward();
    env.env("KEYWARD_P12_PIN", PIN)
        .args(["p12", "inspect"])
        .arg(&file);
    let by_env = run(env, None);
    for out in [&by_file, &by_env] {
        assert!(out.status.success(), "{}", text(out));
        let human = String::from_utf8_lossy(&out.stdout);
        for line in [
            "  encoding: DER",
            "  MAC: HMAC sha256, 2048 iterations, 16-byte salt, 32-byte MAC: verified",
            "  safe 1: encryptedData, PBES2 (PBKDF2, hmacWithSHA256, AES-256-CBC, 2048 iterations, 16-byte salt): decrypted",
            "    bag 1.1: certBag (x509Certificate)",
            "      key: EC secp256r1",
            "      friendlyName: \"alice\"",
            "      chain: 1 -> 2 (ends at a self-signed root)",
            "  chain: stored leaf first, forms a path, ends at a self-signed root",
        ] {
            assert!(human.lines().any(|l| l == line), "missing {line:?} in\n{human}");
        }
        assert!(!human.contains(PIN) && !String::from_utf8_lossy(&out.stderr).contains(PIN));
    }
    // Never a prompt without a terminal.
    let asked = inspect(&file, &["--ask-pin"], Some(&format!("{PIN}\n")));
    assert_eq!(asked.status.code(), Some(2), "{}", text(&asked));
    assert!(String::from_utf8_lossy(&asked.stderr).contains("--ask-pin"));
    let help = run(
        {
            let mut c = keyward();
            c.args(["p12", "inspect", "--help"]);
            c
        },
        None,
    );
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("keyward p12 inspect alice.p12 --pin-stdin --json < pin.txt"),
        "{help}"
    );
}
