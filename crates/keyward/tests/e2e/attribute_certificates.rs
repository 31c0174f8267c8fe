//! Attribute certificates (RFC 5755) through the real binary, HTTPS and both databases: the demo
//! token procedure `soft-signing-roles` issues an AC bound to the token's certificate by its
//! holder field; the RA saves it apart (`--ac FILE`, never in the PKCS#12 or the certificate
//! file); Python's `pyasn1_alt_modules` parses it and `cryptography` verifies its signature with
//! the issuing CA's key; it is recorded and audited in the issuance transaction.

use crate::common;
use crate::support;

use std::path::Path;

use common::tokens::{issue, p12_arg, p12_contents, serial_of, try_issue, ALICE};
use common::{block_on, on_both_engines, run, text, Engine, Installation};
use openssl::x509::X509;

/// Parses the AC (DER or PEM) with pyasn1_alt_modules.rfc5755 and verifies its signature with
/// the CA certificate; prints `key=value` lines.
const CHECK_AC: &str = r#"
import sys, base64
from pyasn1.codec.der import decoder, encoder
from pyasn1_alt_modules import rfc5755, rfc5280
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
data = open(sys.argv[1], 'rb').read()
if data.startswith(b'-----BEGIN ATTRIBUTE CERTIFICATE-----'):
    body = b''.join(l for l in data.splitlines() if not l.startswith(b'-----'))
    data = base64.b64decode(body)
ac, rest = decoder.decode(data, asn1Spec=rfc5755.AttributeCertificate())
assert not rest, 'trailing bytes'
assert encoder.encode(ac) == data, 'not DER'
info = ac['acinfo']
print('version=%d' % int(info['version']))
base = info['holder']['baseCertificateID']
print('holder_serial=%x' % int(base['serial']))
issuer_name = base['issuer'][0]['directoryName']
print('holder_issuer_der=%s' % encoder.encode(issuer_name).hex())
print('ac_issuer_der=%s' % encoder.encode(info['issuer']['v2Form']['issuerName'][0]['directoryName']).hex())
print('serial=%x' % int(info['serialNumber']))
v = info['attrCertValidityPeriod']
print('not_before=%s' % v['notBeforeTime'].asDateTime.isoformat())
print('not_after=%s' % v['notAfterTime'].asDateTime.isoformat())
for attr in info['attributes']:
    oid = str(attr['type'])
    for value in attr['values']:
        if oid == str(rfc5755.id_at_role):
            role, _ = decoder.decode(value, asn1Spec=rfc5755.RoleSyntax())
            print('role=%s' % role['roleName']['uniformResourceIdentifier'])
        elif oid == str(rfc5755.id_aca_group):
            group, _ = decoder.decode(value, asn1Spec=rfc5755.IetfAttrSyntax())
            for g in group['values']:
                print('group=%s' % g['string'])
ca = x509.load_pem_x509_certificate(open(sys.argv[2], 'rb').read())
print('ca_subject_der=%s' % ca.subject.public_bytes().hex())
tbs = encoder.encode(info)
sig = ac['signatureValue'].asOctets()
alg = str(ac['signatureAlgorithm']['algorithm'])
digest = {'1.2.840.10045.4.3.2': hashes.SHA256(), '1.2.840.10045.4.3.3': hashes.SHA384(),
          '1.2.840.10045.4.3.4': hashes.SHA512(), '1.2.840.113549.1.1.11': hashes.SHA256(),
          '1.2.840.113549.1.1.12': hashes.SHA384(), '1.2.840.113549.1.1.13': hashes.SHA512()}[alg]
key = ca.public_key()
try:
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(sig, tbs, ec.ECDSA(digest))
    else:
        key.verify(sig, tbs, padding.PKCS1v15(), digest)
    print('signature=valid')
except Exception as e:
    print('signature=invalid %r' % e)
"#;

fn check_ac(ac: &Path, ca: &Path) -> Vec<(String, String)> {
    support::python::run(CHECK_AC, &[ac, ca])
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

on_both_engines!(an_attribute_certificate_is_bound_to_the_token_and_saved_apart);

fn an_attribute_certificate_is_bound_to_the_token_and_saved_apart(engine: Engine) {
    let inst = Installation::on(engine);
    let p12 = p12_arg(&inst, "alice.p12");
    let cert = inst.out.join("alice.pem");
    let ac = inst.out.join("alice-ac.pem");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-signing-roles",
            "--subject",
            ALICE,
            "--p12",
            &p12,
            "--cert",
            cert.to_str().unwrap(),
            "--ac",
            ac.to_str().unwrap(),
        ],
    );
    let issued = X509::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let ac_json = &json["attribute_certificate"];
    assert_eq!(ac_json["procedure"], "staff-roles");
    assert_eq!(
        ac_json["holder_certificate_id"],
        json["certificates"][0]["certificate_id"]
    );

    let ca_pem = inst.dir.join("ca/issuing.pem");
    let fields = check_ac(&ac, &ca_pem);
    assert_eq!(field(&fields, "signature"), ["valid"], "{fields:?}");
    assert_eq!(field(&fields, "version"), ["1"]);
    assert_eq!(
        field(&fields, "holder_serial"),
        [serial_of(&issued).as_str()]
    );
    assert_eq!(
        field(&fields, "serial"),
        [ac_json["serial"].as_str().unwrap()]
    );
    // Holder issuer and AC issuer: both the issuing CA's name (pyasn1 encodes the GeneralName's
    // [4] directoryName tag around it).
    let ca_der = field(&fields, "ca_subject_der")[0];
    for name in ["holder_issuer_der", "ac_issuer_der"] {
        let der = field(&fields, name)[0];
        assert!(
            der.starts_with("a4") && der.ends_with(ca_der),
            "{name}: {der} vs {ca_der}"
        );
    }
    assert_eq!(field(&fields, "role"), ["urn:keyward:role:signer"]);
    assert_eq!(field(&fields, "group"), ["staff"]);

    // Never in the PKCS#12 (the certificate and the CA chain only) or the certificate file.
    let (keys, certs) = p12_contents(Path::new(&p12));
    assert_eq!((keys.len(), certs.len()), (1, 3));
    let cert_text = std::fs::read_to_string(&cert).unwrap();
    assert_eq!(cert_text.matches("BEGIN").count(), 1);
    assert!(!cert_text.contains("ATTRIBUTE"));

    // A changed byte breaks the signature (the check above can fail).
    let der = inst.out.join("tampered.der");
    let pem = std::fs::read_to_string(&ac).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut bytes = base64_decode(&body);
    let pos = bytes
        .windows(6)
        .position(|w| w == b"signer")
        .expect("role in the AC");
    bytes[pos] ^= 0x01;
    std::fs::write(&der, &bytes).unwrap();
    assert_ne!(field(&check_ac(&der, &ca_pem), "signature"), ["valid"]);

    // Recorded with its holder and audited.
    let holder_id: i64 = ac_json["holder_certificate_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let stored = block_on(async {
        inst.store()
            .await
            .attribute_certificates_of(holder_id)
            .await
            .unwrap()
    });
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].der, bytes_of_pem(&pem));
    let mut search = common::keyward();
    search
        .args([
            "audit",
            "search",
            "--json",
            "--object",
            &holder_id.to_string(),
            "--dir",
        ])
        .arg(&inst.dir);
    let out = run(search, None);
    assert!(
        text(&out).contains("issue-attribute-certificate"),
        "{}",
        text(&out)
    );

    // Saved again later, as the same bytes, by the holder's Certificate ID.
    let again = inst.out.join("again-ac.der");
    let out = run(
        inst.ra(&[
            "attribute-certificates",
            "--holder",
            &holder_id.to_string(),
            "--out",
            again.to_str().unwrap(),
        ]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(&again).unwrap(), bytes_of_pem(&pem));
    let out = run(inst.ra(&["attribute-certificates", "--holder", "x1"]), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // Default path; --ac for a token procedure without one is refused.
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-signing-roles",
            "--subject",
            ALICE,
            "--p12",
            &p12_arg(&inst, "again.p12"),
        ],
    );
    let default = inst.out.join("again.ac.der");
    assert_eq!(
        json["attribute_certificate"]["file"],
        default.to_str().unwrap()
    );
    assert_eq!(field(&check_ac(&default, &ca_pem), "signature"), ["valid"]);
    let out = try_issue(
        &inst,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            ALICE,
            "--p12",
            &p12_arg(&inst, "none.p12"),
            "--ac",
            inst.out.join("none-ac.der").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("ac"), "{}", text(&out));
}

fn bytes_of_pem(pem: &str) -> Vec<u8> {
    base64_decode(
        &pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>(),
    )
}

fn base64_decode(text: &str) -> Vec<u8> {
    openssl::base64::decode_block(text).expect("base64")
}
