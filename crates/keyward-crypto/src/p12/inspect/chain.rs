//! Certificates and keys of an inspected PKCS#12: who issued whom, which key a certificate
//! certifies, and whether the stored certificates form a path to a root.

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509NameRef, X509Ref, X509VerifyResult, X509};

use super::{
    AttributeCheck, BagReport, CertificateInfo, CertificateReport, ChainReport, KeyReport,
};

/// A certificate read from a bag, with its report.
pub(super) struct CertEntry {
    pub(super) x509: X509,
    pub(super) report: CertificateReport,
}

impl CertEntry {
    pub(super) fn new(index: usize, bag: &BagReport, x509: X509) -> CertEntry {
        CertEntry {
            report: CertificateReport {
                index,
                location: bag.location.clone(),
                info: info(&x509),
                self_signed: false,
                issued_by: None,
                end_entity_of: None,
                friendly_name: bag.friendly_name.clone(),
                local_key_id: bag.local_key_id.clone(),
            },
            x509,
        }
    }
}

/// A key bag, with the key once readable. No `Debug`: it holds a private key.
pub(super) struct KeyEntry {
    key: Option<PKey<Private>>,
    pub(super) report: KeyReport,
}

impl KeyEntry {
    pub(super) fn new(index: usize, bag: &BagReport, key: Option<PKey<Private>>) -> KeyEntry {
        KeyEntry {
            key,
            report: KeyReport {
                index,
                location: bag.location.clone(),
                bag_type: bag.bag_type.clone(),
                key_type: bag.key_type.clone(),
                friendly_name: bag.friendly_name.clone(),
                local_key_id: bag.local_key_id.clone(),
                certificate: None,
                matched_by: None,
                attributes: AttributeCheck {
                    key_friendly_name: bag.friendly_name.is_some(),
                    key_local_key_id: bag.local_key_id.is_some(),
                    certificate_friendly_name: false,
                    certificate_local_key_id: false,
                    complete: false,
                },
                chain: Vec::new(),
                chain_ends_at_root: false,
                missing_issuer: None,
            },
        }
    }
}

/// Subject, issuer, serial and end of validity.
pub(super) fn info(x509: &X509Ref) -> CertificateInfo {
    CertificateInfo {
        subject: name(x509.subject_name()),
        issuer: name(x509.issuer_name()),
        serial: x509
            .serial_number()
            .to_bn()
            .and_then(|bn| bn.to_hex_str().map(|h| h.to_lowercase()))
            .unwrap_or_default(),
        not_after: rfc3339(x509.not_after()),
    }
}

/// A DN the way officers type it: most specific attribute first.
fn name(name: &X509NameRef) -> String {
    let mut parts: Vec<String> = name
        .entries()
        .map(|e| {
            let nid = e.object().nid();
            let key = nid
                .short_name()
                .map_or_else(|_| e.object().to_string(), str::to_string);
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={}", value.replace(',', "\\,"))
        })
        .collect();
    parts.reverse();
    parts.join(",")
}

fn rfc3339(t: &Asn1TimeRef) -> String {
    let seconds = Asn1Time::from_unix(0)
        .and_then(|epoch| epoch.diff(t))
        .map(|d| i64::from(d.days) * 86_400 + i64::from(d.secs));
    seconds
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// `issuer` issued `subject`: names (and key identifiers) match and the signature verifies.
fn issued(issuer: &X509Ref, subject: &X509Ref) -> bool {
    issuer.issued(subject) == X509VerifyResult::OK
        && issuer
            .public_key()
            .and_then(|key| subject.verify(&key))
            .unwrap_or(false)
}

/// Links certificates to their issuers and keys to their certificates, and judges the path.
pub(super) fn link(
    certs: &mut [CertEntry],
    keys: &mut [KeyEntry],
    all_visible: bool,
) -> ChainReport {
    let n = certs.len();
    for i in 0..n {
        let self_signed = issued(&certs[i].x509, &certs[i].x509);
        certs[i].report.self_signed = self_signed;
        if !self_signed {
            certs[i].report.issued_by = (0..n)
                .find(|&j| j != i && issued(&certs[j].x509, &certs[i].x509))
                .map(|j| j + 1);
        }
    }
    let mut claimed = vec![false; n];
    for key in keys.iter_mut() {
        let Some((c, how)) = find_certificate(certs, &claimed, key) else {
            continue;
        };
        claimed[c] = true;
        let cert = &mut certs[c].report;
        cert.end_entity_of = Some(key.report.index);
        let report = &mut key.report;
        report.certificate = Some(c + 1);
        report.matched_by = Some(how.into());
        let a = &mut report.attributes;
        a.certificate_friendly_name = cert.friendly_name.is_some();
        a.certificate_local_key_id = cert.local_key_id.is_some();
        a.complete = a.key_friendly_name
            && a.key_local_key_id
            && a.certificate_friendly_name
            && a.certificate_local_key_id;
        report.chain = path(certs, c);
        let top = report.chain.last().map_or(c, |&last| last - 1);
        report.chain_ends_at_root = certs[top].report.self_signed;
        if !report.chain_ends_at_root && certs[top].report.issued_by.is_none() {
            report.missing_issuer = Some(certs[top].report.info.issuer.clone());
        }
    }

    let chains: Vec<Vec<usize>> = if keys.iter().any(|k| k.report.certificate.is_some()) {
        keys.iter()
            .filter(|k| k.report.certificate.is_some())
            .map(|k| k.report.chain.clone())
            .collect()
    } else {
        // No key: the chains up from the leaves (certificates that issued none).
        (0..n)
            .filter(|&i| !certs.iter().any(|c| c.report.issued_by == Some(i + 1)))
            .map(|i| path(certs, i))
            .collect()
    };
    let on_chain = |i: usize| chains.iter().any(|c| c.contains(&(i + 1)));
    let has_keys = keys.iter().any(|k| k.report.certificate.is_some());
    let forms_path = n > 0 && (0..n).all(on_chain) && (has_keys || chains.len() == 1);
    let ends_at_root = !chains.is_empty()
        && chains.iter().all(|c| {
            c.last()
                .is_some_and(|&top| certs[top - 1].report.self_signed)
        });
    ChainReport {
        all_visible,
        forms_path,
        ends_at_root,
        order: order(certs).into(),
    }
}

/// The certificate a key goes with: same localKeyId (and, if the key is readable, same public
/// key), else the first unclaimed certificate of the same public key.
fn find_certificate(
    certs: &[CertEntry],
    claimed: &[bool],
    key: &KeyEntry,
) -> Option<(usize, &'static str)> {
    let certifies = |c: &CertEntry| match &key.key {
        Some(k) => c.x509.public_key().map(|p| p.public_eq(k)).unwrap_or(false),
        None => true,
    };
    if let Some(id) = &key.report.local_key_id {
        let by_id = (0..certs.len()).find(|&i| {
            !claimed[i] && certs[i].report.local_key_id.as_ref() == Some(id) && certifies(&certs[i])
        });
        if let Some(i) = by_id {
            return Some((i, "localKeyId"));
        }
    }
    key.key.as_ref()?;
    (0..certs.len())
        .find(|&i| !claimed[i] && certifies(&certs[i]))
        .map(|i| (i, "public key"))
}

/// Indexes (from 1) from certificate `start` (from 0) up its issuers, stopping at a
/// self-signed certificate, a missing issuer or a loop.
fn path(certs: &[CertEntry], start: usize) -> Vec<usize> {
    let mut chain = vec![start + 1];
    let mut current = start;
    while !certs[current].report.self_signed {
        match certs[current].report.issued_by {
            Some(next) if !chain.contains(&next) => {
                chain.push(next);
                current = next - 1;
            }
            _ => break,
        }
    }
    chain
}

/// How the certificates are stored: each followed by its issuer (`leaf-first`), each
/// preceded by it (`root-first`), otherwise `mixed`.
fn order(certs: &[CertEntry]) -> &'static str {
    let n = certs.len();
    let issued_by = |i: usize| certs[i].report.issued_by;
    match n {
        0 => "none",
        1 => "single",
        _ if (0..n - 1).all(|i| issued_by(i) == Some(i + 2)) => "leaf-first",
        _ if (1..n).all(|i| issued_by(i) == Some(i)) => "root-first",
        _ => "mixed",
    }
}
