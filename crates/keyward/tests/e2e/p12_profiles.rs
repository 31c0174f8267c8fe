//! The token procedure's PKCS#12 profile decides how the RA seals the token: checked on tokens
//! issued through the real binary and server, read back by `openssl pkcs12 -info`.

use crate::common;

use common::tokens::{issue, p12_arg, p12_contents, ALICE, PIN};
use common::Installation;

fn openssl_info(p12: &str) -> String {
    let out = keyward_testkit::tool("openssl")
        .args([
            "pkcs12",
            "-info",
            "-nokeys",
            "-passin",
            "env:KW_PIN",
            "-in",
            p12,
        ])
        .env("KW_PIN", PIN)
        .output()
        .expect("openssl");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{p12}: {text}");
    text
}

#[test]
fn modern_and_legacy_tokens_carry_their_algorithms() {
    let inst = Installation::new();
    let cases = [
        (
            "soft-signing",
            [
                "MAC: sha256, Iteration 2048",
                "salt length: 16",
                "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
                "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
            ],
        ),
        (
            "soft-signing-legacy",
            [
                "MAC: sha1, Iteration 2048",
                "salt length: 8",
                "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048",
                "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048",
            ],
        ),
    ];
    for (procedure, expected) in cases {
        let p12 = p12_arg(&inst, &format!("{procedure}.p12"));
        issue(
            &inst,
            None,
            &[
                "--procedure",
                procedure,
                "--subject",
                ALICE,
                "--key-spec",
                "EC:brainpoolP384r1",
                "--p12",
                &p12,
            ],
        );
        let info = openssl_info(&p12);
        for needle in expected {
            assert!(
                info.contains(needle),
                "{procedure}: missing {needle:?} in\n{info}"
            );
        }
        assert!(
            info.contains("friendlyName: Alice Example"),
            "{procedure}: the friendlyName is the CN:\n{info}"
        );
        let (keys, certs) = p12_contents(std::path::Path::new(&p12));
        assert_eq!(keys.len(), 1, "{procedure}");
        assert_eq!(
            certs.len(),
            3,
            "{procedure}: end entity, issuing CA and root"
        );
    }
}
