//! Every kind of certificate an installation issues passes pkilint's `lint_pkix_cert` with no
//! error-level finding: the root and issuing CA, the server's TLS certificate, the first
//! officer's, and one certificate from every demo certificate procedure, issued through the
//! demo token procedures (RA-generated, server-generated and archived, recovered keys).

use crate::common;
use crate::support;

use std::path::{Path, PathBuf};

use common::tokens::{archive, issue, p12_arg, ALICE};
use common::{on_both_engines, Engine, Installation};
use support::pkilint;

/// Writes the first PEM certificate of `pem` to `out` (pkilint reads one certificate).
fn first_pem(pem: &str, out: &Path) -> PathBuf {
    let start = pem
        .find("-----BEGIN CERTIFICATE-----")
        .expect("a PEM certificate");
    let end_marker = "-----END CERTIFICATE-----";
    let end = pem[start..].find(end_marker).expect("PEM end") + start + end_marker.len();
    std::fs::write(out, format!("{}\n", &pem[start..end])).unwrap();
    out.to_path_buf()
}

fn officer_certificate(inst: &Installation, out: &Path) -> PathBuf {
    let pin_file = inst.dir.join("officer/admin.pin");
    let output = keyward_testkit::tool("openssl")
        .args(["pkcs12", "-nokeys", "-clcerts", "-passin"])
        .arg(format!("file:{}", pin_file.display()))
        .arg("-in")
        .arg(inst.dir.join("officer/admin.p12"))
        .output()
        .expect("openssl");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    first_pem(&String::from_utf8_lossy(&output.stdout), out)
}

on_both_engines!(every_certificate_kind_passes_pkilint);

fn every_certificate_kind_passes_pkilint(engine: Engine) {
    let inst = Installation::on(engine);
    let mut certs: Vec<(String, PathBuf)> = Vec::new();
    for (name, path) in [
        ("root CA", "ca/root.pem"),
        ("issuing CA", "ca/issuing.pem"),
        ("OCSP signing", "ocsp/signer.pem"),
    ] {
        certs.push((name.into(), inst.dir.join(path)));
    }
    let tls = std::fs::read_to_string(inst.dir.join("tls/server.pem")).unwrap();
    certs.push((
        "TLS server".into(),
        first_pem(&tls, &inst.out.join("tls.pem")),
    ));
    certs.push((
        "officer".into(),
        officer_certificate(&inst, &inst.out.join("officer.pem")),
    ));

    let anna = "CN=Anna Svensson,GN=Anna,SN=Svensson,serialNumber=PNOSE-197001010007,C=SE";
    let bank = "CN=Example Bank AB,organizationIdentifier=PSDSE-FI-123456,O=Example Bank AB,C=SE";
    let tokens: [(&str, &str, &[&str]); 8] = [
        (
            "soft-tls-server",
            "CN=www.example.com,O=Example,C=SE",
            &["--dns-name", "www.example.com", "--ip", "192.0.2.10"],
        ),
        ("soft-signing", ALICE, &["--email", "alice@example.org"]),
        ("soft-signing-legacy", ALICE, &[]),
        ("soft-dual", "CN=Bob Example,O=Example,C=SE", &[]),
        ("soft-signing-roles", ALICE, &[]),
        ("qualified-natural-person", anna, &[]),
        (
            "psd2-qseal",
            bank,
            &["--qc-statement", "psd2=PSP_AS:SE-FI:Finansinspektionen"],
        ),
        (
            "recover-encryption-new",
            "CN=Carol Example,O=Example,C=SE",
            &[],
        ),
    ];
    archive(
        &inst,
        "CN=Carol Example,O=Example,C=SE",
        "carol-archived.p12",
    );
    for (i, (procedure, subject, extra)) in tokens.into_iter().enumerate() {
        let cert = inst.out.join(format!("token-{i}.pem"));
        let p12 = p12_arg(&inst, &format!("token-{i}.p12"));
        let mut args = vec![
            "--procedure",
            procedure,
            "--subject",
            subject,
            "--p12",
            p12.as_str(),
            "--cert",
            cert.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let json = issue(&inst, None, &args);
        let pem = std::fs::read_to_string(&cert).unwrap();
        // One PEM file holds every certificate of the token: lint each.
        for (n, block) in pem
            .split_inclusive("-----END CERTIFICATE-----\n")
            .enumerate()
        {
            if !block.contains("BEGIN CERTIFICATE") {
                continue;
            }
            let procedure_name = json["certificates"][n]["certificate_procedure"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            let file = first_pem(block, &inst.out.join(format!("token-{i}-{n}.pem")));
            certs.push((format!("{procedure} / {procedure_name}"), file));
        }
    }
    let procedures: std::collections::BTreeSet<&str> = certs
        .iter()
        .filter_map(|(name, _)| name.split(" / ").nth(1))
        .collect();
    assert_eq!(
        procedures.into_iter().collect::<Vec<_>>(),
        [
            "encryption",
            "psd2-qseal",
            "qualified-natural-person",
            "signing",
            "tls-server"
        ],
        "one certificate of every end-entity demo procedure (and the officer's above)"
    );
    for (what, file) in &certs {
        pkilint::assert_clean(what, &pkilint::pkix(file));
    }
}
