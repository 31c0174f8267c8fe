//! RFC 5755 attribute certificates, decoded with pyasn1_alt_modules (rfc5755) and their
//! signatures verified with Python `cryptography`: nothing here trusts our own encoder.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::path::Path;

use keyward_policy::keyspec::Curve;
use keyward_policy::procedure::CertificateProcedure;
use keyward_policy::usage::{KeyUsage, KeyUsageSet};
use keyward_policy::{AttributeCertificateProcedure, DistinguishedName, KeySpec};

use keyward_ca::*;
use openssl::asn1::Asn1Time;
use openssl::pkey::PKey;
use openssl::x509::X509;

/// An issuing CA on P-384 (create_hierarchy's default).
fn ec_ca() -> CertificateAuthority {
    let h = create_hierarchy(
        &DistinguishedName::parse("CN=AC Root,O=Keyward").unwrap(),
        &DistinguishedName::parse("CN=AC Issuing EC,O=Keyward,C=SE").unwrap(),
    )
    .unwrap();
    CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert, h.root_cert],
        Box::new(SoftwareSigner::new(h.issuing_key)),
    )
}

/// An issuing CA with an RSA-2048 key, certified by a P-384 root.
fn rsa_ca() -> CertificateAuthority {
    let key = keyward_crypto::generate_key(KeySpec::Rsa(2048)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let h = create_hierarchy_with_issuing_key(
        &DistinguishedName::parse("CN=AC Root,O=Keyward").unwrap(),
        &DistinguishedName::parse("CN=AC Issuing RSA,O=Keyward,C=SE").unwrap(),
        &public,
    )
    .unwrap();
    CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert, h.root_cert],
        Box::new(SoftwareSigner::new(key)),
    )
}

/// Now, whole seconds, the same for every call in a test binary.
fn now() -> i64 {
    static NOW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *NOW.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    })
}
const DAY: i64 = 86_400;

/// A holder certificate valid `days` from now.
fn holder(ca: &CertificateAuthority, days: u32) -> X509 {
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let procedure = CertificateProcedure {
        name: "holder".into(),
        validity_days: days,
        key_usage: KeyUsageSet::of(&[KeyUsage::DigitalSignature]),
        ..Default::default()
    };
    ca.issue(&IssueRequest {
        public_key: &public,
        subject: &DistinguishedName::parse("CN=Holder Person,O=Example,C=SE").unwrap(),
        email: None,
        procedure: &procedure,
        serial: keyward_crypto::random_serial().unwrap(),
        not_before: now(),
        dns_names: &[],
        ip_addresses: &[],
        qc_statements: &Default::default(),
    })
    .unwrap()
}

fn ac_procedure(days: u32) -> AttributeCertificateProcedure {
    AttributeCertificateProcedure {
        name: "signer-roles".into(),
        description: String::new(),
        validity_days: days,
        roles: vec![
            "urn:example:role:signer".into(),
            "https://roles.example.com/approver".into(),
        ],
        groups: vec!["Finance".into(), "Ekonomi – Göteborg".into()],
    }
}

fn unix(t: &openssl::asn1::Asn1TimeRef) -> i64 {
    let diff = Asn1Time::from_unix(0).unwrap().diff(t).unwrap();
    i64::from(diff.days) * DAY + i64::from(diff.secs)
}

/// Decodes the AC (DER file argv[1]) with pyasn1_alt_modules.rfc5755, prints what it says, and
/// verifies its signature over the acinfo bytes with the CA certificate (PEM file argv[2]).
const CHECK_AC: &str = r#"
import sys
from pyasn1.codec.der.decoder import decode
from pyasn1.codec.der.encoder import encode
from pyasn1_alt_modules import rfc5280, rfc5755
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa, padding

der = open(sys.argv[1], "rb").read()
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())

def tlv(buf, i):
    # (start of value, end of element) of the DER element at i
    n = buf[i + 1]
    if n < 0x80:
        return i + 2, i + 2 + n
    k = n & 0x7F
    length = int.from_bytes(buf[i + 2:i + 2 + k], "big")
    return i + 2 + k, i + 2 + k + length

ac, rest = decode(der, asn1Spec=rfc5755.AttributeCertificate())
assert not rest, "trailing bytes"
assert encode(ac) == der, "not DER (re-encoding differs)"
info = ac["acinfo"]
print("version=%d" % int(info["version"]))
base = info["holder"]["baseCertificateID"]
print("holder.serial=%d" % int(base["serial"]))
print("holder.issuer=%s" % encode(base["issuer"][0]["directoryName"]["rdnSequence"]).hex())
print("issuer.v2Form=%s" % ",".join(encode(n["directoryName"]["rdnSequence"]).hex() for n in info["issuer"]["v2Form"]["issuerName"]))
print("serial=%d" % int(info["serialNumber"]))
period = info["attrCertValidityPeriod"]
print("notBefore=%d" % int(period["notBeforeTime"].asDateTime.timestamp()))
print("notAfter=%d" % int(period["notAfterTime"].asDateTime.timestamp()))
for attr in info["attributes"]:
    if attr["type"] == rfc5755.id_at_role:
        for v in attr["values"]:
            role, rest = decode(v, asn1Spec=rfc5755.RoleSyntax())
            assert not rest
            print("role=%s" % role["roleName"]["uniformResourceIdentifier"])
    elif attr["type"] == rfc5755.id_aca_group:
        assert len(attr["values"]) == 1
        groups, rest = decode(attr["values"][0], asn1Spec=rfc5755.IetfAttrSyntax())
        assert not rest
        for g in groups["values"]:
            print("group=%s" % g["string"])
    else:
        print("attribute=%s" % attr["type"])
for ext in info["extensions"]:
    if ext["extnID"] == rfc5280.id_ce_authorityKeyIdentifier:
        aki, _ = decode(ext["extnValue"], asn1Spec=rfc5280.AuthorityKeyIdentifier())
        print("aki=%s critical=%s" % (bytes(aki["keyIdentifier"]).hex(), bool(ext["critical"])))
    elif ext["extnID"] == rfc5755.id_ce_noRevAvail:
        print("noRevAvail=%s critical=%s" % (ext["extnValue"].asOctets().hex(), bool(ext["critical"])))
    else:
        print("extension=%s" % ext["extnID"])
alg = ac["signatureAlgorithm"]
assert info["signature"] == alg, "acinfo.signature differs from signatureAlgorithm"
print("algorithm=%s" % alg["algorithm"])

# The signed bytes are the acinfo exactly as they appear in the file.
start, _ = tlv(der, 0)
_, end = tlv(der, start)
tbs = der[start:end]
signature = ac["signatureValue"].asOctets()
key = ca.public_key()
try:
    if isinstance(key, ec.EllipticCurvePublicKey):
        h = {"1.2.840.10045.4.3.2": hashes.SHA256(), "1.2.840.10045.4.3.3": hashes.SHA384(), "1.2.840.10045.4.3.4": hashes.SHA512()}[str(alg["algorithm"])]
        key.verify(signature, tbs, ec.ECDSA(h))
    else:
        assert isinstance(key, rsa.RSAPublicKey)
        assert alg["parameters"].asOctets() == b"\x05\x00", "RSA parameters must be NULL"
        h = {"1.2.840.113549.1.1.11": hashes.SHA256(), "1.2.840.113549.1.1.12": hashes.SHA384(), "1.2.840.113549.1.1.13": hashes.SHA512()}[str(alg["algorithm"])]
        key.verify(signature, tbs, padding.PKCS1v15(), h)
    print("signature=valid")
except InvalidSignature:
    print("signature=invalid")
"#;

fn check(ac: &Path, ca_pem: &Path) -> Vec<String> {
    let out = keyward_testkit::python_script(CHECK_AC)
        .args([ac.to_str().unwrap(), ca_pem.to_str().unwrap()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python3 (pyasn1_alt_modules, cryptography): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Issues a holder certificate (30 days) and an AC (365 days: clamped to the holder's end),
/// checks everything in Python, then flips a byte of a role and expects the signature to fail.
fn issue_and_check(ca: &CertificateAuthority, algorithm: &str) {
    let dir = tempfile::tempdir().unwrap();
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.certificate().to_pem().unwrap()).unwrap();
    let holder = holder(ca, 30);
    let procedure = ac_procedure(365);
    let serial = keyward_crypto::random_serial().unwrap();
    let ac = ca
        .issue_attribute_certificate(&AttributeCertificateRequest {
            holder: &holder,
            procedure: &procedure,
            serial,
            not_before: now(),
        })
        .unwrap();
    let path = dir.path().join("ac.der");
    std::fs::write(&path, &ac).unwrap();

    let holder_serial = holder
        .serial_number()
        .to_bn()
        .unwrap()
        .to_dec_str()
        .unwrap();
    let ca_dn = hex::encode(ca.certificate().subject_name().to_der().unwrap());
    let ski = hex::encode(ca.certificate().subject_key_id().unwrap().as_slice());
    let ac_serial = openssl::bn::BigNum::from_slice(&serial)
        .unwrap()
        .to_dec_str()
        .unwrap();
    let holder_end = unix(holder.not_after());
    assert_eq!(holder_end, now() + 30 * DAY);
    let lines = check(&path, &ca_pem);
    // Roles are a SET OF: DER order, not procedure order.
    let mut roles = vec![
        "role=https://roles.example.com/approver".to_string(),
        "role=urn:example:role:signer".to_string(),
    ];
    let got_roles: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("role="))
        .cloned()
        .collect();
    let mut sorted = got_roles.clone();
    sorted.sort();
    roles.sort();
    assert_eq!(sorted, roles, "{lines:#?}");
    let expected: Vec<String> = [
        "version=1".to_string(),
        format!("holder.serial={holder_serial}"),
        format!("holder.issuer={ca_dn}"),
        format!("issuer.v2Form={ca_dn}"),
        format!("serial={ac_serial}"),
        format!("notBefore={}", now()),
        format!("notAfter={holder_end}"),
    ]
    .into_iter()
    .chain(got_roles)
    .chain([
        "group=Finance".to_string(),
        "group=Ekonomi – Göteborg".to_string(),
        format!("aki={ski} critical=False"),
        "noRevAvail=0500 critical=False".to_string(),
        format!("algorithm={algorithm}"),
        "signature=valid".to_string(),
    ])
    .collect();
    assert_eq!(lines, expected);

    // One byte of a role changed: the AC still decodes, its signature no longer verifies.
    let needle = b"urn:example:role:signer";
    let at = ac
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("role in the AC");
    let mut tampered = ac.clone();
    tampered[at + 4] ^= 0x01; // 'e' -> 'd'
    let bad = dir.path().join("tampered.der");
    std::fs::write(&bad, &tampered).unwrap();
    let lines = check(&bad, &ca_pem);
    assert!(
        lines.contains(&"role=urn:dxample:role:signer".to_string()),
        "{lines:#?}"
    );
    assert_eq!(lines.last().map(String::as_str), Some("signature=invalid"));
}

#[test]
fn p384_ca_attribute_certificate_decodes_and_verifies_independently() {
    issue_and_check(&ec_ca(), "1.2.840.10045.4.3.3");
}

#[test]
fn rsa_ca_attribute_certificate_decodes_and_verifies_independently() {
    issue_and_check(&rsa_ca(), "1.2.840.113549.1.1.11");
}

#[test]
fn validity_is_the_procedures_when_the_holder_outlives_it() {
    let ca = ec_ca();
    let holder = holder(&ca, 365);
    let dir = tempfile::tempdir().unwrap();
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.certificate().to_pem().unwrap()).unwrap();
    let ac = ca
        .issue_attribute_certificate(&AttributeCertificateRequest {
            holder: &holder,
            procedure: &ac_procedure(7),
            serial: keyward_crypto::random_serial().unwrap(),
            not_before: now(),
        })
        .unwrap();
    let path = dir.path().join("ac.der");
    std::fs::write(&path, &ac).unwrap();
    let lines = check(&path, &ca_pem);
    assert!(
        lines.contains(&format!("notAfter={}", now() + 7 * DAY)),
        "{lines:#?}"
    );
    assert!(lines.contains(&"signature=valid".to_string()));
}

#[test]
fn refuses_an_expired_holder_and_an_empty_procedure_naming_them() {
    let ca = ec_ca();
    let holder = holder(&ca, 30);
    let procedure = ac_procedure(30);
    let err = ca
        .issue_attribute_certificate(&AttributeCertificateRequest {
            holder: &holder,
            procedure: &procedure,
            serial: keyward_crypto::random_serial().unwrap(),
            not_before: now() + 31 * DAY,
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("signer-roles") && err.contains("holder certificate"),
        "{err}"
    );
    let empty = AttributeCertificateProcedure {
        name: "nothing".into(),
        validity_days: 30,
        ..Default::default()
    };
    let err = ca
        .issue_attribute_certificate(&AttributeCertificateRequest {
            holder: &holder,
            procedure: &empty,
            serial: keyward_crypto::random_serial().unwrap(),
            not_before: now(),
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nothing") && err.contains("at least one role or group"),
        "{err}"
    );
}
