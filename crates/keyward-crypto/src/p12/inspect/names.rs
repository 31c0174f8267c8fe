//! Object identifiers and their names (as OpenSSL and RFC 7292 / RFC 8018 spell them), and
//! the description of an encryption AlgorithmIdentifier.

use der::asn1::ObjectIdentifier;
use der::{EncodingRules, Tag, Tagged};

use super::asn1::AlgId;
use super::oid;
use super::params::{PbeParams, Pbes2Params, Pbkdf2Params, ScryptParams};
use super::Encryption;

/// `(dotted OID, name)` tables.
type Table = &'static [(&'static str, &'static str)];

const CONTENT_TYPES: Table = &[
    ("1.2.840.113549.1.7.1", "data"),
    ("1.2.840.113549.1.7.2", "signedData"),
    ("1.2.840.113549.1.7.3", "envelopedData"),
    ("1.2.840.113549.1.7.6", "encryptedData"),
];

const BAG_TYPES: Table = &[
    ("1.2.840.113549.1.12.10.1.1", "keyBag"),
    ("1.2.840.113549.1.12.10.1.2", "pkcs8ShroudedKeyBag"),
    ("1.2.840.113549.1.12.10.1.3", "certBag"),
    ("1.2.840.113549.1.12.10.1.4", "crlBag"),
    ("1.2.840.113549.1.12.10.1.5", "secretBag"),
    ("1.2.840.113549.1.12.10.1.6", "safeContentsBag"),
];

const VALUE_TYPES: Table = &[
    ("1.2.840.113549.1.9.22.1", "x509Certificate"),
    ("1.2.840.113549.1.9.22.2", "sdsiCertificate"),
    ("1.2.840.113549.1.9.23.1", "x509CRL"),
];

const ATTRIBUTES: Table = &[
    ("1.2.840.113549.1.9.20", "friendlyName"),
    ("1.2.840.113549.1.9.21", "localKeyId"),
    ("1.3.6.1.4.1.311.17.1", "msCSPName"),
    ("1.3.6.1.4.1.311.17.2", "msLocalMachineKeySet"),
    ("1.3.6.1.4.1.311.17.3.71", "msKeyProviderName"),
    ("1.3.6.1.4.1.311.10.11.1", "msCertKeyProvInfo"),
    ("2.16.840.1.113894.746875.1.1", "oracleTrustedKeyUsage"),
];

/// PKCS#12 (RFC 7292 appendix C) and PKCS#5 v1.5 password-based encryption schemes.
const PBE_SCHEMES: Table = &[
    ("1.2.840.113549.1.12.1.1", "pbeWithSHA1And128BitRC4"),
    ("1.2.840.113549.1.12.1.2", "pbeWithSHA1And40BitRC4"),
    (
        "1.2.840.113549.1.12.1.3",
        "pbeWithSHA1And3-KeyTripleDES-CBC",
    ),
    (
        "1.2.840.113549.1.12.1.4",
        "pbeWithSHA1And2-KeyTripleDES-CBC",
    ),
    ("1.2.840.113549.1.12.1.5", "pbeWithSHA1And128BitRC2-CBC"),
    ("1.2.840.113549.1.12.1.6", "pbeWithSHA1And40BitRC2-CBC"),
    ("1.2.840.113549.1.5.1", "pbeWithMD2AndDES-CBC"),
    ("1.2.840.113549.1.5.3", "pbeWithMD5AndDES-CBC"),
    ("1.2.840.113549.1.5.4", "pbeWithMD2AndRC2-CBC"),
    ("1.2.840.113549.1.5.6", "pbeWithMD5AndRC2-CBC"),
    ("1.2.840.113549.1.5.10", "pbeWithSHA1AndDES-CBC"),
    ("1.2.840.113549.1.5.11", "pbeWithSHA1AndRC2-CBC"),
];

const PRFS: Table = &[
    ("1.2.840.113549.2.7", "hmacWithSHA1"),
    ("1.2.840.113549.2.8", "hmacWithSHA224"),
    ("1.2.840.113549.2.9", "hmacWithSHA256"),
    ("1.2.840.113549.2.10", "hmacWithSHA384"),
    ("1.2.840.113549.2.11", "hmacWithSHA512"),
    ("1.2.840.113549.2.12", "hmacWithSHA512-224"),
    ("1.2.840.113549.2.13", "hmacWithSHA512-256"),
    ("2.16.840.1.101.3.4.2.13", "hmacWithSHA3-224"),
    ("2.16.840.1.101.3.4.2.14", "hmacWithSHA3-256"),
    ("2.16.840.1.101.3.4.2.15", "hmacWithSHA3-384"),
    ("2.16.840.1.101.3.4.2.16", "hmacWithSHA3-512"),
];

const CIPHERS: Table = &[
    ("2.16.840.1.101.3.4.1.2", "AES-128-CBC"),
    ("2.16.840.1.101.3.4.1.22", "AES-192-CBC"),
    ("2.16.840.1.101.3.4.1.42", "AES-256-CBC"),
    ("2.16.840.1.101.3.4.1.6", "AES-128-GCM"),
    ("2.16.840.1.101.3.4.1.26", "AES-192-GCM"),
    ("2.16.840.1.101.3.4.1.46", "AES-256-GCM"),
    ("1.2.840.113549.3.7", "DES-EDE3-CBC"),
    ("1.3.14.3.2.7", "DES-CBC"),
    ("1.2.840.113549.3.2", "RC2-CBC"),
    ("1.2.410.200004.1.4", "SEED-CBC"),
    ("1.2.392.200011.61.1.1.1.4", "CAMELLIA-256-CBC"),
    ("1.2.643.7.1.1.5.1.1", "kuznyechik-CTR-ACPKM"),
];

/// Digests of an HMAC `MacData`, with their output lengths.
const DIGESTS: &[(&str, &str, usize)] = &[
    ("1.3.14.3.2.26", "sha1", 20),
    ("2.16.840.1.101.3.4.2.4", "sha224", 28),
    ("2.16.840.1.101.3.4.2.1", "sha256", 32),
    ("2.16.840.1.101.3.4.2.2", "sha384", 48),
    ("2.16.840.1.101.3.4.2.3", "sha512", 64),
    ("2.16.840.1.101.3.4.2.5", "sha512-224", 28),
    ("2.16.840.1.101.3.4.2.6", "sha512-256", 32),
    ("2.16.840.1.101.3.4.2.7", "sha3-224", 28),
    ("2.16.840.1.101.3.4.2.8", "sha3-256", 32),
    ("2.16.840.1.101.3.4.2.9", "sha3-384", 48),
    ("2.16.840.1.101.3.4.2.10", "sha3-512", 64),
    ("1.2.840.113549.2.5", "md5", 16),
    ("1.2.840.113549.2.2", "md2", 16),
    ("1.2.643.7.1.1.2.2", "md_gost12_256", 32),
    ("1.2.643.7.1.1.2.3", "md_gost12_512", 64),
];

fn lookup(table: Table, oid: &ObjectIdentifier) -> Option<&'static str> {
    let dotted = oid.to_string();
    table.iter().find(|(o, _)| *o == dotted).map(|(_, n)| *n)
}

fn named(table: Table, oid: &ObjectIdentifier) -> String {
    lookup(table, oid).map_or_else(|| oid.to_string(), str::to_string)
}

/// `data`, `encryptedData`, … or the dotted OID.
pub(super) fn content_type(oid: &ObjectIdentifier) -> String {
    named(CONTENT_TYPES, oid)
}

/// `keyBag`, `certBag`, … or the dotted OID.
pub(super) fn bag_type(oid: &ObjectIdentifier) -> String {
    named(BAG_TYPES, oid)
}

/// `x509Certificate`, `x509CRL`, … or the dotted OID.
pub(super) fn value_type(oid: &ObjectIdentifier) -> String {
    named(VALUE_TYPES, oid)
}

/// `friendlyName`, `msCSPName`, … or the dotted OID.
pub(super) fn attribute(oid: &ObjectIdentifier) -> String {
    named(ATTRIBUTES, oid)
}

/// `hmacWithSHA256`, … or the dotted OID.
pub(super) fn prf(oid: &ObjectIdentifier) -> String {
    named(PRFS, oid)
}

/// `AES-256-CBC`, … or the dotted OID.
pub(super) fn cipher(oid: &ObjectIdentifier) -> String {
    named(CIPHERS, oid)
}

/// A MAC digest's name and output length (`None` for an unknown digest).
pub(super) fn digest(oid: &ObjectIdentifier) -> (String, Option<usize>) {
    let dotted = oid.to_string();
    match DIGESTS.iter().find(|(o, _, _)| *o == dotted) {
        Some((_, name, len)) => (name.to_string(), Some(*len)),
        None => (dotted, None),
    }
}

/// The length of a `specified` PBKDF2 salt (an `otherSource` salt has none).
fn salt_len(salt: &der::asn1::Any) -> Option<usize> {
    (salt.tag() == Tag::OctetString).then(|| salt.value().len())
}

/// A key derivation (PBMAC1's): PBKDF2 or scrypt with their parameters.
pub(super) fn kdf(alg: &AlgId, rules: EncodingRules) -> Encryption {
    let mut e = blank(alg);
    kdf_into(alg, rules, &mut e);
    e.algorithm = e.kdf.clone().unwrap_or_else(|| alg.oid.to_string());
    e
}

fn blank(alg: &AlgId) -> Encryption {
    Encryption {
        algorithm: alg.oid.to_string(),
        oid: alg.oid.to_string(),
        kdf: None,
        prf: None,
        iterations: None,
        salt_length: None,
        key_length: None,
        cipher: None,
    }
}

/// A KDF AlgorithmIdentifier (PBKDF2 or scrypt) into `e`.
fn kdf_into(kdf: &AlgId, rules: EncodingRules, e: &mut Encryption) {
    if kdf.oid == oid::PBKDF2 {
        e.kdf = Some("PBKDF2".into());
        if let Some(p) = kdf.params::<Pbkdf2Params>(rules) {
            e.iterations = Some(p.iteration_count);
            e.salt_length = salt_len(&p.salt);
            e.key_length = p.key_length;
            e.prf = Some(p.prf.map_or_else(|| "hmacWithSHA1".into(), |a| prf(&a.oid)));
        }
    } else if kdf.oid == oid::SCRYPT {
        e.kdf = Some("scrypt".into());
        if let Some(p) = kdf.params::<ScryptParams>(rules) {
            e.salt_length = Some(p.salt.as_bytes().len());
            e.key_length = p.key_length;
            e.iterations = Some(p.cost);
        }
    } else {
        e.kdf = Some(kdf.oid.to_string());
    }
}

/// Describes a password-based encryption AlgorithmIdentifier (PBES2 or a PBE scheme).
/// Parameters that do not parse are left out (`None`), never an error: this is an inspector.
pub(super) fn encryption(alg: &AlgId, rules: EncodingRules) -> Encryption {
    let mut e = blank(alg);
    if alg.oid == oid::PBES2 {
        e.algorithm = "PBES2".into();
        if let Some(p) = alg.params::<Pbes2Params>(rules) {
            kdf_into(&p.kdf, rules, &mut e);
            e.cipher = Some(cipher(&p.encryption_scheme.oid));
        }
    } else if let Some(name) = lookup(PBE_SCHEMES, &alg.oid) {
        e.algorithm = name.into();
        if let Some(p) = alg.params::<PbeParams>(rules) {
            e.iterations = Some(p.iterations);
            e.salt_length = Some(p.salt.as_bytes().len());
        }
    }
    e
}

/// A BMPString (UCS-2 / UTF-16BE) as text; unpaired surrogates become U+FFFD, an odd
/// trailing byte is dropped, and a trailing NUL (some writers add one) is removed.
pub(super) fn decode_bmp(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    let text: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    text.trim_end_matches('\0').to_string()
}
