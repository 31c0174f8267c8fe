//! The interop checks themselves can fail: files made with the OpenSSL CLI (not with Keyward)
//! pass when right and fail on a wrong PIN, a wrong key type, legacy algorithms or a foreign
//! issuer.

use crate::support;

use std::path::Path;

use support::interop::{self, Outcome};

fn openssl(dir: &Path, args: &[&str]) {
    let out = keyward_testkit::tool("openssl")
        .current_dir(dir)
        .args(args)
        .env("KW_PIN", "Selftest-Pin-9")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            &format!("/CN={name}"),
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

#[test]
fn checks_pass_on_good_files_and_fail_on_bad_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ca(d, "root");
    ca(d, "other");
    std::fs::write(
        d.join("ext.cnf"),
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "issuing.key",
            "-out",
            "issuing.csr",
            "-subj",
            "/CN=issuing",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "issuing.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-out",
            "issuing.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:brainpoolP384r1",
            "-nodes",
            "-keyout",
            "ee.key",
            "-out",
            "ee.csr",
            "-subj",
            "/CN=Alice Example",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "ee.csr",
            "-CA",
            "issuing.pem",
            "-CAkey",
            "issuing.key",
            "-out",
            "ee.pem",
            "-days",
            "2",
        ],
    );
    std::fs::write(
        d.join("chain.pem"),
        [
            std::fs::read(d.join("issuing.pem")).unwrap(),
            std::fs::read(d.join("root.pem")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let export = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "pkcs12",
            "-export",
            "-inkey",
            "ee.key",
            "-in",
            "ee.pem",
            "-certfile",
            "chain.pem",
            "-name",
            "Alice Example",
            "-passout",
            "env:KW_PIN",
            "-out",
            out,
        ];
        args.extend_from_slice(extra);
        openssl(d, &args);
    };
    export(
        "modern.p12",
        &[
            "-keypbe",
            "AES-256-CBC",
            "-certpbe",
            "AES-256-CBC",
            "-macalg",
            "sha256",
        ],
    );
    export(
        "legacy.p12",
        &[
            "-legacy",
            "-keypbe",
            "PBE-SHA1-3DES",
            "-certpbe",
            "PBE-SHA1-3DES",
            "-macalg",
            "sha1",
        ],
    );
    let pin = "Selftest-Pin-9";
    let modern = d.join("modern.p12");

    interop::openssl_pkcs12(&modern, pin, "EC:brainpoolP384r1", 2).unwrap();
    interop::openssl_verify(
        &d.join("ee.pem"),
        &d.join("issuing.pem"),
        &d.join("root.pem"),
    )
    .unwrap();
    assert_eq!(
        interop::python_cryptography(&modern, pin, "EC:brainpoolP384r1").unwrap(),
        Outcome::Checked
    );
    assert_eq!(
        interop::keytool(&modern, pin, "EC:brainpoolP384r1", "Alice Example", 2).unwrap(),
        Outcome::Checked
    );

    assert!(
        interop::openssl_pkcs12(&modern, "wrong-pin", "EC:brainpoolP384r1", 2).is_err(),
        "wrong PIN"
    );
    assert!(
        interop::openssl_pkcs12(&modern, pin, "RSA:2048", 2).is_err(),
        "wrong key type"
    );
    assert!(
        interop::openssl_pkcs12(&modern, pin, "EC:brainpoolP384r1", 1).is_err(),
        "wrong chain length"
    );
    assert!(
        interop::openssl_pkcs12(&d.join("legacy.p12"), pin, "EC:brainpoolP384r1", 2).is_err(),
        "3DES is not modern"
    );
    assert!(
        interop::openssl_verify(
            &d.join("ee.pem"),
            &d.join("issuing.pem"),
            &d.join("other.pem")
        )
        .is_err(),
        "foreign root"
    );
    assert!(
        interop::python_cryptography(&modern, pin, "EC:secp256r1").is_err(),
        "python sees the real curve"
    );
    assert!(
        interop::keytool(&modern, pin, "EC:brainpoolP384r1", "Bob", 2).is_err(),
        "keytool alias"
    );
    assert!(
        interop::keytool(
            &modern,
            "wrong-pin",
            "EC:brainpoolP384r1",
            "Alice Example",
            2
        )
        .is_err(),
        "keytool PIN"
    );
}
