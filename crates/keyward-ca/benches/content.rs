//! What a qualified profile and an attribute certificate add to the CA's work, as ratios to a
//! plain end-entity certificate measured in the same run (the machine is shared and noisy).
//!
//! `cargo bench -p keyward-ca --bench content [-- N]` (N certificates per contender, default
//! 2000; each contender runs three times and its median per-certificate time is kept).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::time::Instant;

use keyward_ca::{
    create_hierarchy, AttributeCertificateRequest, CertificateAuthority, IssueRequest,
    SoftwareSigner,
};
use keyward_policy::keyspec::Curve;
use keyward_policy::procedure::{CertificateProcedure, EmailRule, PolicyInfo, SubjectRule};
use keyward_policy::qc::{PdsLocation, QcStatements, QcType, Semantics};
use keyward_policy::usage::{KeyUsage, KeyUsageSet};
use keyward_policy::{AttributeCertificateProcedure, DistinguishedName, KeySpec};
use openssl::pkey::{PKey, Public};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let h = create_hierarchy(
        &DistinguishedName::parse("CN=Bench Root,O=Keyward,C=SE")?,
        &DistinguishedName::parse("CN=Bench Issuing,O=Keyward,C=SE")?,
    )?;
    let ca = CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert, h.root_cert],
        Box::new(SoftwareSigner::new(h.issuing_key)),
    );
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1))?;
    let public: PKey<Public> = PKey::public_key_from_der(&key.public_key_to_der()?)?;
    let subject = DistinguishedName::parse(
        "CN=Anna Svensson,GN=Anna,SN=Svensson,serialNumber=PNOSE-197001010007,C=SE",
    )?;
    let plain = CertificateProcedure {
        name: "plain".into(),
        validity_days: 730,
        key_usage: KeyUsageSet::of(&[KeyUsage::NonRepudiation]),
        subject: vec![SubjectRule {
            attribute: "CN".into(),
            required: true,
            max_len: 64,
            multiple: false,
        }],
        email: EmailRule::Optional,
        ..Default::default()
    };
    let qualified = CertificateProcedure {
        name: "qualified".into(),
        certificate_policies: vec![PolicyInfo {
            oid: "0.4.0.194112.1.0".into(),
            cps: Some("https://pki.example.com/cps".into()),
            notice: None,
        }],
        crl_urls: vec!["http://pki.example.com/crl/issuing.crl".into()],
        ocsp_urls: vec!["http://ocsp.pki.example.com".into()],
        ca_issuers_urls: vec!["http://pki.example.com/certs/issuing.der".into()],
        qc_statements: QcStatements {
            compliance: true,
            qc_type: vec![QcType::Esign],
            pds: vec![PdsLocation {
                url: "https://pki.example.com/pds-en.pdf".into(),
                language: "en".into(),
            }],
            retention_period: Some(20),
            semantics: Some(Semantics::Natural),
            ..Default::default()
        },
        ..plain.clone()
    };
    let roles = AttributeCertificateProcedure {
        name: "roles".into(),
        validity_days: 365,
        roles: vec!["urn:keyward:role:signer".into()],
        groups: vec!["staff".into()],
        ..Default::default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let issue = |procedure: &CertificateProcedure| {
        ca.issue(&IssueRequest {
            public_key: &public,
            subject: &subject,
            email: None,
            procedure,
            serial: keyward_crypto::random_serial()?,
            not_before: now,
            dns_names: &[],
            ip_addresses: &[],
            qc_statements: &procedure.qc_statements,
        })
        .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
    };
    let holder = issue(&plain)?;

    let median_us = |f: &dyn Fn() -> Result<(), Box<dyn std::error::Error>>| {
        let mut runs = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            for _ in 0..n {
                f()?;
            }
            runs.push(start.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        runs.sort_by(f64::total_cmp);
        Ok::<f64, Box<dyn std::error::Error>>(runs[1])
    };
    let base = median_us(&|| issue(&plain).map(drop))?;
    let qual = median_us(&|| issue(&qualified).map(drop))?;
    let ac = median_us(&|| {
        ca.issue_attribute_certificate(&AttributeCertificateRequest {
            holder: &holder,
            procedure: &roles,
            serial: keyward_crypto::random_serial()?,
            not_before: now,
        })
        .map(drop)
        .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
    })?;
    println!("CA: P-384 issuing key; subject key EC P-256; {n} per contender, median of 3 runs");
    println!("| contender | µs each | × plain certificate |");
    println!("|---|---:|---:|");
    for (name, us) in [
        ("plain end-entity certificate (baseline)", base),
        ("qualified: policies, CRL DP, AIA, 5 QC statements", qual),
        ("attribute certificate (role + group), checked", ac),
        ("qualified certificate + attribute certificate", qual + ac),
    ] {
        println!("| {name} | {us:.0} | {:.2} |", us / base);
    }
    Ok(())
}
