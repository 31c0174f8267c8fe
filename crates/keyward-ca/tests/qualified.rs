//! Qualified certificates: certificatePolicies, cRLDistributionPoints, authorityInfoAccess and
//! qcStatements, checked with tools nobody here wrote: the `openssl` CLI, pyasn1 with
//! pyasn1_alt_modules (RFC 3739) and pkilint's ETSI ASN.1 modules, and pkilint's PKIX linter.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::path::Path;
use std::process::Command;

use keyward_policy::keyspec::Curve;
use keyward_policy::procedure::{CertificateProcedure, EmailRule, PolicyInfo};
use keyward_policy::qc::{
    LimitValue, PdsLocation, Psd2, Psd2Role, QcStatements, QcType, Semantics,
};
use keyward_policy::usage::{KeyUsage, KeyUsageSet};
use keyward_policy::{DistinguishedName, KeySpec};

use keyward_ca::*;
use openssl::pkey::PKey;
use openssl::x509::X509;

fn ca() -> CertificateAuthority {
    let h = create_hierarchy(
        &DistinguishedName::parse("CN=Test Root,O=Keyward").unwrap(),
        &DistinguishedName::parse("CN=Test Issuing,O=Keyward").unwrap(),
    )
    .unwrap();
    CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert, h.root_cert],
        Box::new(SoftwareSigner::new(h.issuing_key)),
    )
}

/// A procedure for qualified seals with two policies, two CRL URLs, OCSP and caIssuers.
fn qualified_procedure() -> CertificateProcedure {
    CertificateProcedure {
        name: "qualified-seal".into(),
        validity_days: 365,
        key_usage: KeyUsageSet::of(&[KeyUsage::DigitalSignature, KeyUsage::NonRepudiation]),
        email: EmailRule::Optional,
        certificate_policies: vec![
            PolicyInfo {
                oid: "0.4.0.194112.1.3".into(),
                cps: Some("https://pki.example.com/cps.pdf".into()),
                notice: Some("Qualified seal – Räksmörgås AB".into()),
            },
            PolicyInfo {
                oid: "1.3.6.1.4.1.55555.1.2".into(),
                cps: None,
                notice: None,
            },
        ],
        crl_urls: vec![
            "http://crl.example.com/issuing.crl".into(),
            "http://crl2.example.com/issuing.crl".into(),
        ],
        ocsp_urls: vec!["http://ocsp.example.com".into()],
        ca_issuers_urls: vec!["http://pki.example.com/issuing.crt".into()],
        ..Default::default()
    }
}

/// Every kind of statement.
fn every_statement() -> QcStatements {
    QcStatements {
        compliance: true,
        sscd: true,
        qc_type: vec![QcType::Eseal],
        pds: vec![
            PdsLocation {
                url: "https://pki.example.com/pds-en.pdf".into(),
                language: "en".into(),
            },
            PdsLocation {
                url: "https://pki.example.com/pds-sv.pdf".into(),
                language: "sv".into(),
            },
        ],
        retention_period: Some(15),
        limit_value: Some(LimitValue {
            currency: "EUR".into(),
            amount: 10_000,
            exponent: 2,
        }),
        semantics: Some(Semantics::EidasLegal),
        psd2: Some(Psd2 {
            roles: vec![Psd2Role::PaymentInitiation, Psd2Role::AccountInformation],
            nca_name: "Finansinspektionen".into(),
            nca_id: "SE-FI".into(),
        }),
    }
}

fn issue(ca: &CertificateAuthority, procedure: &CertificateProcedure, qc: &QcStatements) -> X509 {
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let subject = DistinguishedName::parse(
        "CN=Example Bank,O=Example Bank AB,organizationIdentifier=PSDSE-FI-123456,C=SE",
    )
    .unwrap();
    ca.issue(&IssueRequest {
        public_key: &public,
        subject: &subject,
        email: None,
        procedure,
        serial: keyward_crypto::random_serial().unwrap(),
        not_before: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
        dns_names: &[],
        ip_addresses: &[],
        qc_statements: qc,
    })
    .unwrap()
}

fn run(mut cmd: Command, args: &[&str]) -> (bool, String, String) {
    let out = cmd
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{:?}: {e}", cmd.get_program()));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Decodes the certificate (PEM file in argv[1]) with pyasn1 and prints its qcStatements, one
/// line per statement, in the order they appear.
const DECODE_QC: &str = r#"
import sys, base64
from pyasn1.codec.der.decoder import decode
from pyasn1.type import univ
from pyasn1_alt_modules import rfc5280, rfc3739
from pkilint.etsi.asn1 import en_319_412_5 as e5, ts_119_495 as psd2

pem = open(sys.argv[1]).read()
der = base64.b64decode("".join(l for l in pem.splitlines() if "-----" not in l))
cert, rest = decode(der, asn1Spec=rfc5280.Certificate())
assert not rest
def full(raw, spec):
    value, rest = decode(raw, asn1Spec=spec)
    assert not rest, "trailing bytes"
    return value
found = False
for ext in cert["tbsCertificate"]["extensions"]:
    if ext["extnID"] != rfc3739.id_pe_qcStatements:
        continue
    found = True
    print("critical=%s" % bool(ext["critical"]))
    for s in full(ext["extnValue"].asOctets(), rfc3739.QCStatements()):
        oid = str(s["statementId"])
        info = s["statementInfo"]
        if not info.isValue:
            print(oid)
            continue
        raw = info.asOctets()
        if oid == "0.4.0.1862.1.6":
            print(oid, "type", ",".join(str(o) for o in full(raw, e5.QcType())))
        elif oid == "0.4.0.1862.1.5":
            print(oid, "pds", ",".join("%s@%s" % (l["url"], l["language"]) for l in full(raw, e5.PdsLocations())))
        elif oid == "0.4.0.1862.1.3":
            print(oid, "retention", int(full(raw, univ.Integer())))
        elif oid == "0.4.0.1862.1.2":
            v = full(raw, e5.MonetaryValue())
            c = v["currency"]
            print(oid, "limit", c.getName(), c.getComponent(), int(v["amount"]), int(v["exponent"]))
        elif oid == "1.3.6.1.5.5.7.11.2":
            v = full(raw, rfc3739.SemanticsInformation())
            print(oid, "semantics", v["semanticsIdentifier"], v["nameRegistrationAuthorities"].isValue)
        elif oid == "0.4.0.19495.2":
            v = full(raw, psd2.PSD2QcType())
            roles = ",".join("%s=%s" % (r["roleOfPspOid"], r["roleOfPspName"]) for r in v["rolesOfPSP"])
            print(oid, "psd2", roles, v["nCAName"], v["nCAId"])
        else:
            print(oid, "unexpected info")
if not found:
    print("no qcStatements")
"#;

fn decode_qc(pem: &Path) -> Vec<String> {
    let (ok, out, err) = run(
        keyward_testkit::python_script(DECODE_QC),
        &[pem.to_str().unwrap()],
    );
    assert!(ok, "python3 (pyasn1, pyasn1_alt_modules, pkilint): {err}");
    out.lines().map(str::to_string).collect()
}

#[test]
fn every_qc_statement_policies_crl_and_aia_decode_independently_and_lint_clean() {
    let ca = ca();
    let procedure = qualified_procedure();
    let qc = every_statement();
    qc.validate().unwrap();
    let cert = issue(&ca, &procedure, &qc);
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("qualified.pem");
    std::fs::write(&pem, cert.to_pem().unwrap()).unwrap();

    let (ok, text, err) = run(
        keyward_testkit::tool("openssl"),
        &["x509", "-in", pem.to_str().unwrap(), "-noout", "-text"],
    );
    assert!(ok, "openssl x509: {err}");
    for needle in [
        "X509v3 Certificate Policies:",
        "Policy: 0.4.0.194112.1.3",
        "CPS: https://pki.example.com/cps.pdf",
        "Explicit Text: Qualified seal – Räksmörgås AB",
        "Policy: 1.3.6.1.4.1.55555.1.2",
        "X509v3 CRL Distribution Points:",
        "URI:http://crl.example.com/issuing.crl",
        "URI:http://crl2.example.com/issuing.crl",
        "OCSP - URI:http://ocsp.example.com",
        "CA Issuers - URI:http://pki.example.com/issuing.crt",
        "X509v3 Key Usage: critical",
        "Digital Signature, Non Repudiation",
        "CA:FALSE",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        "qcStatements",
    ] {
        assert!(text.contains(needle), "missing {needle:?}:\n{text}");
    }
    // The extensions OpenSSL understands are not critical (keyUsage and basicConstraints are).
    for name in [
        "Certificate Policies",
        "CRL Distribution Points",
        "Authority Information Access",
    ] {
        assert!(
            !text.contains(&format!("{name}: critical")),
            "{name} is critical:\n{text}"
        );
    }
    // One distribution point (the two URLs are one fullName): "Full Name:" appears once.
    assert_eq!(text.matches("Full Name:").count(), 1, "{text}");
    // AIA lists OCSP before caIssuers.
    assert!(text.find("OCSP - URI").unwrap() < text.find("CA Issuers - URI").unwrap());

    assert_eq!(
        decode_qc(&pem),
        [
            "critical=False",
            "0.4.0.1862.1.1",
            "0.4.0.1862.1.4",
            "0.4.0.1862.1.6 type 0.4.0.1862.1.6.2",
            "0.4.0.1862.1.5 pds https://pki.example.com/pds-en.pdf@en,https://pki.example.com/pds-sv.pdf@sv",
            "0.4.0.1862.1.3 retention 15",
            "0.4.0.1862.1.2 limit alphabetic EUR 10000 2",
            "1.3.6.1.5.5.7.11.2 semantics 0.4.0.194121.1.4 False",
            "0.4.0.19495.2 psd2 0.4.0.19495.1.2=PSP_PI,0.4.0.19495.1.3=PSP_AI Finansinspektionen SE-FI",
        ]
    );

    // pkilint's PKIX linter: findings of INFO/NOTICE/WARNING are allowed, ERROR/FATAL are not.
    let (_, report, err) = run(
        keyward_testkit::tool("lint_pkix_cert"),
        &["lint", pem.to_str().unwrap()],
    );
    println!("lint_pkix_cert:\n{report}{err}");
    assert!(
        !report.is_empty() || err.is_empty(),
        "lint_pkix_cert failed: {err}"
    );
    let bad: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("(ERROR)") || l.contains("(FATAL)"))
        .collect();
    assert!(bad.is_empty(), "pkilint findings:\n{}", bad.join("\n"));
}

#[test]
fn numeric_currency_and_single_statements_encode_in_order() {
    let qc = QcStatements {
        limit_value: Some(LimitValue {
            currency: "978".into(),
            amount: 500,
            exponent: -1,
        }),
        semantics: Some(Semantics::Natural),
        ..Default::default()
    };
    let cert = issue(&ca(), &qualified_procedure(), &qc);
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("numeric.pem");
    std::fs::write(&pem, cert.to_pem().unwrap()).unwrap();
    assert_eq!(
        decode_qc(&pem),
        [
            "critical=False",
            "0.4.0.1862.1.2 limit numeric 978 500 -1",
            "1.3.6.1.5.5.7.11.2 semantics 0.4.0.194121.1.1 False",
        ]
    );
    // The extension value is exactly what qc_statements_der gives.
    let der = qc_statements_der(&qc).unwrap();
    let cert_der = cert.to_der().unwrap();
    assert!(
        cert_der.windows(der.len()).any(|w| w == der.as_slice()),
        "qc_statements_der differs from the certificate's extension"
    );
}

#[test]
fn empty_statements_and_lists_give_no_extensions() {
    let procedure = CertificateProcedure {
        name: "plain".into(),
        validity_days: 30,
        key_usage: KeyUsageSet::of(&[KeyUsage::DigitalSignature]),
        ..Default::default()
    };
    let cert = issue(&ca(), &procedure, &QcStatements::default());
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("plain.pem");
    std::fs::write(&pem, cert.to_pem().unwrap()).unwrap();
    assert_eq!(decode_qc(&pem), ["no qcStatements"]);
    let text = String::from_utf8_lossy(&cert.to_text().unwrap()).into_owned();
    for absent in [
        "Certificate Policies",
        "CRL Distribution Points",
        "Authority Information Access",
        "qcStatements",
    ] {
        assert!(!text.contains(absent), "{absent} present:\n{text}");
    }
    assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
    // An empty set encodes as an empty SEQUENCE, which issue() never writes.
    assert_eq!(
        qc_statements_der(&QcStatements::default()).unwrap(),
        [0x30, 0x00]
    );
}

#[test]
fn bad_procedure_content_is_refused_naming_the_field() {
    let ca = ca();
    let mut procedure = qualified_procedure();
    procedure.crl_urls = vec!["http://crl.example.com/é.crl".into()];
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let subject = DistinguishedName::parse("CN=x").unwrap();
    let qc = QcStatements::default();
    let mut req = IssueRequest {
        public_key: &public,
        subject: &subject,
        email: None,
        procedure: &procedure,
        serial: keyward_crypto::random_serial().unwrap(),
        not_before: 1_700_000_000,
        dns_names: &[],
        ip_addresses: &[],
        qc_statements: &qc,
    };
    let err = ca.issue(&req).unwrap_err().to_string();
    assert!(
        err.contains("qualified-seal") && err.contains("crl_urls"),
        "{err}"
    );

    let mut twice = qualified_procedure();
    twice.certificate_policies[1].oid = twice.certificate_policies[0].oid.clone();
    req.procedure = &twice;
    let err = ca.issue(&req).unwrap_err().to_string();
    assert!(
        err.contains("certificate_policies") && err.contains("twice"),
        "{err}"
    );

    let bad_qc = QcStatements {
        pds: vec![PdsLocation {
            url: "https://pki.example.com/pds.pdf".into(),
            language: "e*".into(),
        }],
        ..Default::default()
    };
    let plain = CertificateProcedure {
        name: "plain".into(),
        validity_days: 1,
        ..Default::default()
    };
    req.procedure = &plain;
    req.qc_statements = &bad_qc;
    let err = ca.issue(&req).unwrap_err().to_string();
    assert!(err.contains("qc_statements.pds.language"), "{err}");
}
