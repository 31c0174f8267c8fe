//! What an officer reads about one issued certificate (`ra certificates --id N --details`):
//! serial as OpenSSL prints it, key usage, extended key usage, subjectAltNames, every other
//! extension by name, and the SHA-1 and SHA-256 fingerprints. Parsed with `x509-cert` (typed
//! extensions) and OpenSSL (names of object identifiers, digests), never by hand.

use std::fmt::Write as _;

use der::asn1::ObjectIdentifier;
use der::Decode;
use openssl::asn1::Asn1Object;
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};
use x509_cert::Certificate;

use crate::CaError;

/// One extension of the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionInfo {
    /// Its object identifier, dotted.
    pub oid: String,
    /// Its name, as `openssl x509 -text` shows it (e.g. `X509v3 Key Usage`).
    pub name: String,
    /// Marked critical.
    pub critical: bool,
}

/// The parts of a certificate a search result does not carry, in the forms OpenSSL prints:
/// the serial as `openssl x509 -serial` does (uppercase hex, whole bytes) with colons between
/// the bytes, the fingerprints as `openssl x509 -fingerprint` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateDetails {
    /// Serial number: uppercase hex bytes joined by `:`.
    pub serial: String,
    /// keyUsage bits set, by their RFC 5280 names (empty without the extension).
    pub key_usage: Vec<String>,
    /// extendedKeyUsage purposes by OpenSSL's short names (`clientAuth`), else OIDs (empty
    /// without the extension).
    pub extended_key_usage: Vec<String>,
    /// subjectAltName entries, `email:…`, `DNS:…`, `IP:…`, `URI:…`, `DirName:…`,
    /// `othername:OID`, … (empty without the extension).
    pub subject_alt_names: Vec<String>,
    /// Every extension, in certificate order.
    pub extensions: Vec<ExtensionInfo>,
    /// SHA-1 of the DER.
    pub sha1_fingerprint: String,
    /// SHA-256 of the DER.
    pub sha256_fingerprint: String,
}

/// Reads `der` as an X.509 certificate.
pub fn describe_certificate(der: &[u8]) -> Result<CertificateDetails, CaError> {
    let bad = |e: &dyn std::fmt::Display| CaError::OpenSsl {
        context: "reading the certificate",
        detail: e.to_string(),
    };
    let x509 = X509::from_der(der).map_err(|e| bad(&e))?;
    let cert = Certificate::from_der(der).map_err(|e| bad(&e))?;
    let tbs = cert.tbs_certificate();
    let serial = x509
        .serial_number()
        .to_bn()
        .and_then(|bn| bn.to_hex_str().map(|s| s.to_string()))
        .map_err(|e| bad(&e))?;
    let key_usage = match tbs.get_extension::<KeyUsage>().map_err(|e| bad(&e))? {
        Some((_, ku)) => key_usage_names(&ku),
        None => Vec::new(),
    };
    let extended_key_usage = match tbs
        .get_extension::<ExtendedKeyUsage>()
        .map_err(|e| bad(&e))?
    {
        Some((_, eku)) => eku.0.iter().map(|oid| oid_name(oid, false)).collect(),
        None => Vec::new(),
    };
    let subject_alt_names = match tbs.get_extension::<SubjectAltName>().map_err(|e| bad(&e))? {
        Some((_, san)) => san.0.iter().map(general_name).collect(),
        None => Vec::new(),
    };
    let extensions = tbs
        .extensions()
        .map(|list| {
            list.iter()
                .map(|e| ExtensionInfo {
                    oid: e.extn_id.to_string(),
                    name: oid_name(&e.extn_id, true),
                    critical: e.critical,
                })
                .collect()
        })
        .unwrap_or_default();
    let fingerprint =
        |md: MessageDigest| x509.digest(md).map(|d| colon_hex(&d)).map_err(|e| bad(&e));
    Ok(CertificateDetails {
        serial: colon_hex_str(&serial),
        key_usage,
        extended_key_usage,
        subject_alt_names,
        extensions,
        sha1_fingerprint: fingerprint(MessageDigest::sha1())?,
        sha256_fingerprint: fingerprint(MessageDigest::sha256())?,
    })
}

/// Bytes as uppercase hex joined by `:` (`5D:E9:36`).
fn colon_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// OpenSSL's hex of a number (`5DE936`, perhaps odd-length or with a `-`) as whole bytes with
/// colons, as `openssl x509 -serial` prints them without the colons.
fn colon_hex_str(hex: &str) -> String {
    let digits = hex.trim_start_matches('-');
    let padded = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits.to_string()
    };
    let pairs: Vec<&str> = padded
        .as_bytes()
        .chunks(2)
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .collect();
    let sign = if hex.starts_with('-') { "-" } else { "" };
    format!("{sign}{}", pairs.join(":"))
}

/// The keyUsage bits set, by their RFC 5280 names, in bit order.
fn key_usage_names(ku: &KeyUsage) -> Vec<String> {
    const NAMES: [(KeyUsages, &str); 9] = [
        (KeyUsages::DigitalSignature, "digitalSignature"),
        (KeyUsages::NonRepudiation, "nonRepudiation"),
        (KeyUsages::KeyEncipherment, "keyEncipherment"),
        (KeyUsages::DataEncipherment, "dataEncipherment"),
        (KeyUsages::KeyAgreement, "keyAgreement"),
        (KeyUsages::KeyCertSign, "keyCertSign"),
        (KeyUsages::CRLSign, "cRLSign"),
        (KeyUsages::EncipherOnly, "encipherOnly"),
        (KeyUsages::DecipherOnly, "decipherOnly"),
    ];
    NAMES
        .iter()
        .filter(|(bit, _)| ku.0.contains(*bit))
        .map(|(_, name)| (*name).to_string())
        .collect()
}

/// OpenSSL's name of `oid` (long: `X509v3 Key Usage`; short: `clientAuth`), else the OID.
fn oid_name(oid: &ObjectIdentifier, long: bool) -> String {
    let dotted = oid.to_string();
    let nid = Asn1Object::from_str(&dotted).ok().map(|o| o.nid());
    let name = nid.and_then(|nid| {
        if long {
            nid.long_name().ok()
        } else {
            nid.short_name().ok()
        }
    });
    match name {
        // OpenSSL names an OID it does not know by the OID itself (NID_undef has no name).
        Some(name) if !name.is_empty() && name != "UNDEF" && name != "undefined" => {
            name.to_string()
        }
        _ => dotted,
    }
}

/// One subjectAltName entry, as `openssl x509 -text` writes it.
fn general_name(name: &GeneralName) -> String {
    match name {
        GeneralName::Rfc822Name(s) => format!("email:{}", s.as_str()),
        GeneralName::DnsName(s) => format!("DNS:{}", s.as_str()),
        GeneralName::UniformResourceIdentifier(s) => format!("URI:{}", s.as_str()),
        GeneralName::IpAddress(octets) => {
            let bytes = octets.as_bytes();
            let ip = <[u8; 4]>::try_from(bytes)
                .map(|a| std::net::IpAddr::from(a).to_string())
                .or_else(|_| {
                    <[u8; 16]>::try_from(bytes).map(|a| std::net::IpAddr::from(a).to_string())
                });
            match ip {
                Ok(ip) => format!("IP:{ip}"),
                Err(_) => format!("IP:{}", colon_hex(bytes)),
            }
        }
        GeneralName::DirectoryName(dn) => format!("DirName:{dn}"),
        GeneralName::RegisteredId(oid) => format!("Registered ID:{oid}"),
        GeneralName::OtherName(other) => format!("othername:{}", oid_name(&other.type_id, false)),
        GeneralName::EdiPartyName(_) => "EdiPartyName".to_string(),
    }
    .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::{
        BasicConstraints, ExtendedKeyUsage as Eku, KeyUsage as Ku, SubjectAlternativeName,
    };
    use openssl::x509::{X509Builder, X509NameBuilder};

    fn sample(serial_hex: &str) -> Vec<u8> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "Alice Example").unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_hex_str(serial_hex).unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.append_extension(BasicConstraints::new().critical().build().unwrap())
            .unwrap();
        b.append_extension(
            Ku::new()
                .critical()
                .digital_signature()
                .non_repudiation()
                .build()
                .unwrap(),
        )
        .unwrap();
        b.append_extension(Eku::new().client_auth().email_protection().build().unwrap())
            .unwrap();
        let san = SubjectAlternativeName::new()
            .email("alice@example.org")
            .dns("alice.example.org")
            .ip("192.0.2.7")
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(san).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        b.build().to_der().unwrap()
    }

    #[test]
    fn names_every_part_as_openssl_prints_it() {
        let der = sample("5DE936A1");
        let d = describe_certificate(&der).unwrap();
        assert_eq!(d.serial, "5D:E9:36:A1");
        assert_eq!(d.key_usage, ["digitalSignature", "nonRepudiation"]);
        assert_eq!(d.extended_key_usage, ["clientAuth", "emailProtection"]);
        assert_eq!(
            d.subject_alt_names,
            [
                "email:alice@example.org",
                "DNS:alice.example.org",
                "IP:192.0.2.7"
            ]
        );
        let names: Vec<(&str, bool)> = d
            .extensions
            .iter()
            .map(|e| (e.name.as_str(), e.critical))
            .collect();
        assert_eq!(
            names,
            [
                ("X509v3 Basic Constraints", true),
                ("X509v3 Key Usage", true),
                ("X509v3 Extended Key Usage", false),
                ("X509v3 Subject Alternative Name", false),
            ]
        );
        let x509 = X509::from_der(&der).unwrap();
        let sha256 = x509.digest(MessageDigest::sha256()).unwrap();
        assert_eq!(d.sha256_fingerprint, colon_hex(&sha256));
        assert_eq!(d.sha256_fingerprint.len(), 32 * 3 - 1);
        assert_eq!(d.sha1_fingerprint.len(), 20 * 3 - 1);
    }

    #[test]
    fn serials_are_whole_bytes() {
        assert_eq!(colon_hex_str("ABC"), "0A:BC");
        assert_eq!(colon_hex_str("0"), "00");
        assert_eq!(colon_hex_str("-1F"), "-1F");
        assert_eq!(
            describe_certificate(&sample("0F0A")).unwrap().serial,
            "0F:0A"
        );
    }

    #[test]
    fn unknown_oids_are_named_by_themselves_and_garbage_is_refused() {
        let oid = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1");
        assert_eq!(oid_name(&oid, true), "1.3.6.1.4.1.99999.1");
        let qc = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.3");
        assert_eq!(oid_name(&qc, false), "qcStatements");
        assert!(describe_certificate(b"not a certificate").is_err());
    }
}
