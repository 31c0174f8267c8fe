//! Qualified certificates through the real binary, HTTPS and both databases: the demo procedures
//! `qualified-natural-person` and `psd2-qseal` issue certificates whose QC statements (the
//! procedure's and the officer's) are read back by an independent parser and pass pkilint's
//! PKIX and ETSI linters; an officer cannot override a procedure's statements or add kinds it
//! does not open.

use crate::common;
use crate::support;

use std::path::Path;

use common::tokens::{issue, p12_arg, try_issue};
use common::{on_both_engines, text, Engine, Installation};
use support::pkilint;

const ANNA: &str = "CN=Anna Svensson,GN=Anna,SN=Svensson,serialNumber=PNOSE-197001010007,C=SE";
const BANK: &str =
    "CN=Example Bank AB,organizationIdentifier=PSDSE-FI-123456,O=Example Bank AB,L=Stockholm,C=SE";

/// The qcStatements of a PEM certificate as Python `pyasn1_alt_modules` (rfc3739) decodes them:
/// one line per statement, `OID` or `OID <statementInfo DER in hex>`.
fn qc_statements(pem: &Path) -> String {
    let script = r#"
import sys
from pyasn1.codec.der import decoder
from pyasn1_alt_modules import rfc5280, rfc3739
from cryptography import x509
cert = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier('1.3.6.1.5.5.7.1.3'))
assert not ext.critical
stmts, rest = decoder.decode(ext.value.value, asn1Spec=rfc3739.QCStatements())
assert not rest
for s in stmts:
    info = s['statementInfo']
    text = ' ' + bytes(info).hex() if info.isValue else ''
    print(str(s['statementId']) + text)
"#;
    support::python::run(script, &[pem])
}

/// `openssl x509 -text` of a PEM certificate.
fn x509_text(pem: &Path) -> String {
    let out = keyward_testkit::tool("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(pem)
        .output()
        .expect("openssl");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lint_both(what: &str, pem: &Path) {
    let pkix = pkilint::pkix(pem);
    pkilint::assert_clean(&format!("{what} (lint_pkix_cert)"), &pkix);
    let etsi = pkilint::etsi(pem);
    pkilint::assert_clean(&format!("{what} (lint_etsi_cert -d)"), &etsi);
    // The demo profiles are also free of warnings (INFO and NOTICE findings remain).
    assert!(
        pkix.warnings.is_empty() && etsi.warnings.is_empty(),
        "{what}: pkilint warnings:\n{}\n{}",
        pkix.report,
        etsi.report
    );
}

on_both_engines!(
    qualified_natural_person_carries_its_statements_and_passes_pkilint,
    psd2_qseal_takes_the_officers_psd2_statement_and_passes_pkilint,
    officers_cannot_override_or_add_what_the_procedure_does_not_open
);

fn qualified_natural_person_carries_its_statements_and_passes_pkilint(engine: Engine) {
    let inst = Installation::on(engine);
    let cert = inst.out.join("anna.pem");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "qualified-natural-person",
            "--subject",
            ANNA,
            "--p12",
            &p12_arg(&inst, "anna.p12"),
            "--cert",
            cert.to_str().unwrap(),
            "--qc-statement",
            "limit_value=EUR:10000",
            "--qc-statement",
            "retention-period=20",
        ],
    );
    assert_eq!(
        json["certificates"][0]["certificate_procedure"],
        "qualified-natural-person"
    );
    let stmts = qc_statements(&cert);
    let ids: Vec<&str> = stmts
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    // QcCompliance, QcType, QcPDS, QcRetentionPeriod, QcLimitValue, semantics; no QcSSCD.
    assert_eq!(
        ids,
        [
            "0.4.0.1862.1.1",
            "0.4.0.1862.1.6",
            "0.4.0.1862.1.5",
            "0.4.0.1862.1.3",
            "0.4.0.1862.1.2",
            "1.3.6.1.5.5.7.11.2"
        ],
        "{stmts}"
    );
    let text = x509_text(&cert);
    for needle in [
        "0.4.0.194112.1.0",
        "https://pki.example.com/cps",
        "http://127.0.0.1:8080/crl/issuing.crl",
        "OCSP - URI:http://127.0.0.1:8080/ocsp",
        "CA Issuers - URI:http://pki.example.com/certs/issuing.der",
        "Non Repudiation",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    lint_both("qualified-natural-person", &cert);
}

fn psd2_qseal_takes_the_officers_psd2_statement_and_passes_pkilint(engine: Engine) {
    let inst = Installation::on(engine);
    let cert = inst.out.join("bank.pem");
    let p12 = p12_arg(&inst, "bank.p12");
    let args = [
        "--procedure",
        "psd2-qseal",
        "--subject",
        BANK,
        "--p12",
        p12.as_str(),
        "--cert",
        cert.to_str().unwrap(),
    ];
    // PSD2 is required of the officer: refused before anything is sent.
    let out = try_issue(&inst, &args);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(text(&out).contains("qc_statements.psd2"), "{}", text(&out));
    assert!(!cert.exists());

    let psd2 = "psd2=PSP_AI+PSP_PI:SE-FI:Finansinspektionen";
    issue(
        &inst,
        None,
        &[&args[..], &["--qc-statement", psd2]].concat(),
    );
    let stmts = qc_statements(&cert);
    assert!(stmts.contains("0.4.0.19495.2"), "{stmts}");
    assert!(stmts.contains("0.4.0.1862.1.6"), "{stmts}");
    let text = x509_text(&cert);
    assert!(text.contains("0.4.0.194112.1.1"), "{text}");
    lint_both("psd2-qseal", &cert);

    // An NCA ID other than the one in organizationIdentifier is refused by the server's rule.
    let other = inst.out.join("other.pem");
    let p12b = p12_arg(&inst, "other.p12");
    let out = try_issue(
        &inst,
        &[
            "--procedure",
            "psd2-qseal",
            "--subject",
            BANK,
            "--p12",
            &p12b,
            "--cert",
            other.to_str().unwrap(),
            "--qc-statement",
            "psd2=PSP_AI:DE-BAFIN:BaFin",
        ],
    );
    assert_ne!(out.status.code(), Some(0), "{}", common::text(&out));
    assert!(
        common::text(&out).contains("qc_statements.psd2.nca_id"),
        "{}",
        common::text(&out)
    );
    assert!(!other.exists());
}

fn officers_cannot_override_or_add_what_the_procedure_does_not_open(engine: Engine) {
    let inst = Installation::on(engine);
    let cases: [(&str, &str, &str); 4] = [
        ("qualified-natural-person", "type=web", "qc_statements.type"),
        ("qualified-natural-person", "sscd", "qc_statements.sscd"),
        (
            "qualified-natural-person",
            "psd2=PSP_AI:SE-FI:FI",
            "qc_statements.psd2",
        ),
        ("soft-signing", "compliance", "qc_statements.compliance"),
    ];
    for (i, (procedure, flag, field)) in cases.into_iter().enumerate() {
        let subject = if procedure == "soft-signing" {
            common::tokens::ALICE
        } else {
            ANNA
        };
        let p12 = p12_arg(&inst, &format!("refused-{i}.p12"));
        let out = try_issue(
            &inst,
            &[
                "--procedure",
                procedure,
                "--subject",
                subject,
                "--p12",
                &p12,
                "--qc-statement",
                flag,
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", text(&out));
        assert!(text(&out).contains(field), "{flag}: {}", text(&out));
        assert!(!Path::new(&p12).exists());
    }
    // A malformed statements file names the option.
    let file = inst.out.join("qc.toml");
    std::fs::write(&file, "qualified = true\n").unwrap();
    let out = try_issue(
        &inst,
        &[
            "--procedure",
            "qualified-natural-person",
            "--subject",
            ANNA,
            "--p12",
            &p12_arg(&inst, "file.p12"),
            "--qc-statements",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--qc-statements"), "{}", text(&out));
    // The same limit from a file is accepted.
    std::fs::write(
        &file,
        "limit_value = { currency = \"SEK\", amount = 5, exponent = 4 }\n",
    )
    .unwrap();
    issue(
        &inst,
        None,
        &[
            "--procedure",
            "qualified-natural-person",
            "--subject",
            ANNA,
            "--p12",
            &p12_arg(&inst, "file.p12"),
            "--qc-statements",
            file.to_str().unwrap(),
        ],
    );
}

on_both_engines!(the_server_refuses_an_override_even_from_a_client_that_does_not_check);

/// The RA checks officer statements before it sends anything; the server applies the same rule
/// to what it receives: a hand-made, correctly signed request that overrides the procedure's
/// QcType is refused naming the statement, audited, and nothing is issued.
fn the_server_refuses_an_override_even_from_a_client_that_does_not_check(engine: Engine) {
    use keyward_ra::{ClientConfig, OfficerCredential, RaClient, RaError};
    use keyward_store::{AuditCategory, Outcome};

    let inst = Installation::on(engine);
    common::block_on(async {
        let config = ClientConfig::load(&inst.client_conf()).unwrap();
        let pin = std::fs::read_to_string(inst.dir.join("officer/admin.pin")).unwrap();
        let officer = std::sync::Arc::new(OfficerCredential::open(&config, pin.trim()).unwrap());
        let client = RaClient::new(&config, officer.clone()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let body = serde_json::to_vec(&serde_json::json!({
            "request_id": "0123456789abcdef0123456789abcdef", "timestamp": now,
            "nonce": "00112233445566778899aabbccddeeff",
            "token_procedure": "qualified-natural-person", "subject": ANNA,
            "key_spec": "EC:secp256r1", "csrs": [],
            "qc_statements": { "type": ["web"] }
        }))
        .unwrap();
        let signature = officer
            .sign(&keyward_proto::signed_message("/v1/tokens", &body))
            .unwrap();
        let result = client
            .post_with_signature::<serde_json::Value>("/v1/tokens", body, &signature)
            .await;
        match result {
            Err(RaError::Refused { status, error }) => {
                assert_eq!(status, 400, "{error:?}");
                assert_eq!(error.field.as_deref(), Some("qc_statements.type"));
                assert!(
                    error.message.contains("cannot override"),
                    "{}",
                    error.message
                );
            }
            other => panic!("override accepted or wrongly refused: {other:?}"),
        }
        let store = inst.store().await;
        let records = store.audit_records(100).await.unwrap();
        assert!(
            records
                .iter()
                .any(|r| r.category == AuditCategory::CertificatesIssued
                    && r.outcome == Outcome::Failure
                    && r.detail.to_string().contains("qc_statements.type")),
            "the refusal is audited"
        );
        let issued = store.find_certificates(&Default::default()).await.unwrap();
        assert!(issued
            .iter()
            .all(|c| c.certificate_procedure != "qualified-natural-person"));
        store.close().await;
    });
}
