//! PKCS#12 tokens: one or several private keys, each with its certificate, and the CA chain.
//!
//! Sealing mirrors OpenSSL's `PKCS12_create` bag by bag (it only takes one key): the certificate
//! bags (each entry's certificate, then the CA certificates) in an encrypted safe, the shrouded
//! key bags in a plain data safe, an HMAC over the whole; the algorithms are the profile's
//! ([`P12Scheme`]). OpenSSL writes DER. Each key bag and its
//! certificate bag share the friendlyName and the localKeyId (SHA-1 of the certificate's DER);
//! CA certificate bags carry neither.

mod ffi;
pub mod inspect;
mod open;

use std::collections::HashSet;
use std::fmt;

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::x509::{X509Ref, X509};
use zeroize::Zeroizing;

use crate::{ossl, CryptoError};

/// The algorithms of a PKCS#12 profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P12Scheme {
    /// PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC) for key and certificate bags, HMAC-SHA-256 MAC
    /// with a 16-byte salt: OpenSSL 3, Java 11+, NSS, GnuTLS, Windows Server 2019+.
    Modern,
    /// pbeWithSHA1And3-KeyTripleDES-CBC for key and certificate bags, HMAC-SHA-1 MAC with an
    /// 8-byte salt: what Windows Server 2016, macOS keychain import and Java 8 read.
    Legacy,
}

impl P12Scheme {
    /// The configuration name (`modern`, `legacy`).
    pub fn name(self) -> &'static str {
        match self {
            P12Scheme::Modern => "modern",
            P12Scheme::Legacy => "legacy",
        }
    }

    /// The bag encryption: a cipher NID (PBES2) or a PKCS#12 PBE NID.
    fn bag_nid(self) -> Nid {
        match self {
            P12Scheme::Modern => Nid::AES_256_CBC,
            P12Scheme::Legacy => Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC,
        }
    }

    /// Salt length of bag encryption and MAC: 16 bytes for PBKDF2/HMAC-SHA-256, the classic 8
    /// for the PKCS#12 KDF of the legacy scheme.
    fn salt_len(self) -> i32 {
        match self {
            P12Scheme::Modern => 16,
            P12Scheme::Legacy => 8,
        }
    }

    fn mac_digest(self) -> MessageDigest {
        match self {
            P12Scheme::Modern => MessageDigest::sha256(),
            P12Scheme::Legacy => MessageDigest::sha1(),
        }
    }
}

/// How a PKCS#12 is sealed: the scheme and the iteration counts (0 means 2048, OpenSSL's
/// default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs12Profile {
    /// Algorithms.
    pub scheme: P12Scheme,
    /// PBKDF2 (modern) or PKCS#12 KDF (legacy) iterations for key and certificate bags.
    pub iterations: u32,
    /// MAC key derivation iterations.
    pub mac_iterations: u32,
}

impl Pkcs12Profile {
    /// The `modern` profile at 2048 iterations.
    pub fn modern() -> Pkcs12Profile {
        Pkcs12Profile {
            scheme: P12Scheme::Modern,
            iterations: 2048,
            mac_iterations: 2048,
        }
    }

    /// The `legacy` profile at 2048 iterations.
    pub fn legacy() -> Pkcs12Profile {
        Pkcs12Profile {
            scheme: P12Scheme::Legacy,
            ..Pkcs12Profile::modern()
        }
    }
}

impl From<&keyward_policy::P12Profile> for Pkcs12Profile {
    fn from(p: &keyward_policy::P12Profile) -> Pkcs12Profile {
        Pkcs12Profile {
            scheme: match p.scheme {
                keyward_policy::P12Scheme::Modern => P12Scheme::Modern,
                keyward_policy::P12Scheme::Legacy => P12Scheme::Legacy,
            },
            iterations: p.iterations,
            mac_iterations: p.mac_iterations,
        }
    }
}

impl Default for Pkcs12Profile {
    fn default() -> Self {
        Pkcs12Profile::modern()
    }
}

fn iterations(n: u32) -> i32 {
    match n {
        0 => 2048,
        n => i32::try_from(n).unwrap_or(i32::MAX),
    }
}

/// One private key with its certificate and friendlyName.
pub struct P12Entry<'a> {
    /// The private key.
    pub key: &'a PKeyRef<Private>,
    /// Its certificate (must certify `key`).
    pub certificate: &'a X509Ref,
    /// The friendlyName of both bags (keytool shows it, lowercased, as the alias).
    pub friendly_name: &'a str,
}

impl fmt::Debug for P12Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P12Entry")
            .field("friendly_name", &self.friendly_name)
            .field("subject", &self.certificate.subject_name())
            .finish_non_exhaustive()
    }
}

/// Seals a key, its certificate and the CA chain. Both bags get the friendlyName and the
/// localKeyId (SHA-1 of the certificate).
pub fn build_p12(
    key: &PKeyRef<Private>,
    cert: &X509Ref,
    chain: &[X509],
    friendly_name: &str,
    pin: &str,
    profile: &Pkcs12Profile,
) -> Result<Vec<u8>, CryptoError> {
    let entry = P12Entry {
        key,
        certificate: cert,
        friendly_name,
    };
    build_p12_entries(std::slice::from_ref(&entry), chain, pin, profile)
}

/// Seals every entry (key bag + cert bag sharing friendlyName and localKeyId) and the CA chain.
///
/// Key bags and the certificate safe are encrypted and the whole is MACed as `profile` says.
/// Each key must match its certificate and no two entries may share a certificate (their
/// localKeyIds would collide).
pub fn build_p12_entries(
    entries: &[P12Entry<'_>],
    chain: &[X509],
    pin: &str,
    profile: &Pkcs12Profile,
) -> Result<Vec<u8>, CryptoError> {
    if entries.is_empty() {
        return Err(CryptoError::BadPkcs12("no key to seal".into()));
    }
    let pass = ffi::Pass::new(pin)
        .ok_or_else(|| CryptoError::BadPkcs12("the PIN contains a NUL character".into()))?;
    let iter = iterations(profile.iterations);

    struct Prepared {
        cert_der: Vec<u8>,
        pkcs8: Zeroizing<Vec<u8>>,
        local_key_id: Vec<u8>,
    }
    let mut prepared = Vec::with_capacity(entries.len());
    let mut ids = HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let number = i + 1;
        let cert_key = entry
            .certificate
            .public_key()
            .map_err(ossl("PKCS#12 certificate key"))?;
        if !cert_key.public_eq(entry.key) {
            return Err(CryptoError::BadPkcs12(format!(
                "entry {number}: the private key does not match its certificate"
            )));
        }
        if entry.friendly_name.contains('\0') {
            return Err(CryptoError::BadPkcs12(format!(
                "entry {number}: the friendly name contains a NUL character"
            )));
        }
        let local_key_id = entry
            .certificate
            .digest(MessageDigest::sha1())
            .map_err(ossl("PKCS#12 localKeyId"))?
            .to_vec();
        if !ids.insert(local_key_id.clone()) {
            return Err(CryptoError::BadPkcs12(format!(
                "entry {number}: another entry holds the same certificate"
            )));
        }
        prepared.push(Prepared {
            cert_der: entry
                .certificate
                .to_der()
                .map_err(ossl("PKCS#12 certificate"))?,
            pkcs8: Zeroizing::new(
                entry
                    .key
                    .private_key_to_pkcs8()
                    .map_err(ossl("PKCS#12 private key"))?,
            ),
            local_key_id,
        });
    }

    let encryption = ffi::Encryption {
        nid: profile.scheme.bag_nid().as_raw(),
        iter,
        salt_len: profile.scheme.salt_len(),
        pass: &pass,
    };
    let mut cert_bags = ffi::SafeBags::new();
    for (entry, p) in entries.iter().zip(&prepared) {
        let attributes = ffi::BagAttributes {
            friendly_name: entry.friendly_name,
            local_key_id: &p.local_key_id,
        };
        cert_bags.add_cert(&p.cert_der, Some(&attributes))?;
    }
    for ca in chain {
        cert_bags.add_cert(&ca.to_der().map_err(ossl("PKCS#12 chain"))?, None)?;
    }
    let mut key_bags = ffi::SafeBags::new();
    for (entry, p) in entries.iter().zip(&prepared) {
        let attributes = ffi::BagAttributes {
            friendly_name: entry.friendly_name,
            local_key_id: &p.local_key_id,
        };
        key_bags.add_shrouded_key(&p.pkcs8, &encryption, &attributes)?;
    }
    drop(prepared);

    let mut safes = ffi::Safes::new();
    safes.add(&cert_bags, Some(&encryption))?;
    safes.add(&key_bags, None)?;
    drop(key_bags);
    safes.seal(
        &pass,
        iterations(profile.mac_iterations),
        profile.scheme.mac_digest(),
        profile.scheme.salt_len(),
    )
}

/// Every private key (with its certificate and friendlyName) and the CA certificates of a
/// PKCS#12.
pub struct ParsedP12 {
    /// The keys, in file order.
    pub entries: Vec<ParsedEntry>,
    /// The certificates no key claims, in file order.
    pub ca: Vec<X509>,
}

impl fmt::Debug for ParsedP12 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedP12")
            .field("entries", &self.entries)
            .field(
                "ca",
                &self.ca.iter().map(|c| c.subject_name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// One private key of a PKCS#12 with its certificate. `Debug` shows only the friendly name and
/// the certificate subject.
pub struct ParsedEntry {
    /// The private key.
    pub key: PKey<Private>,
    /// Its certificate.
    pub certificate: X509,
    /// The friendlyName of the key bag (else of the certificate bag).
    pub friendly_name: Option<String>,
}

impl fmt::Debug for ParsedEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedEntry")
            .field("friendly_name", &self.friendly_name)
            .field("subject", &self.certificate.subject_name())
            .finish_non_exhaustive()
    }
}

/// Every private key (with its certificate and friendlyName) and the CA certificates of a PKCS#12.
///
/// A key is matched to the certificate bag with the same localKeyId, else to the first
/// certificate of the same public key; a key without a certificate is an error. Certificates
/// left over are the CA certificates. A wrong PIN gives [`CryptoError::WrongPin`], a damaged
/// or incomplete file [`CryptoError::BadPkcs12`].
pub fn parse_p12_entries(der: &[u8], pin: &str) -> Result<ParsedP12, CryptoError> {
    struct Cert {
        cert: X509,
        local_key_id: Option<Vec<u8>>,
        friendly_name: Option<String>,
        claimed: bool,
    }
    let mut keys = Vec::new();
    let mut certs = Vec::new();
    for bag in open::open(der, pin)? {
        match bag.content {
            open::BagContent::Key(key) => keys.push((key, bag.local_key_id, bag.friendly_name)),
            open::BagContent::Certificate(cert) => certs.push(Cert {
                cert,
                local_key_id: bag.local_key_id,
                friendly_name: bag.friendly_name,
                claimed: false,
            }),
        }
    }
    let certifies = |cert: &X509, key: &PKey<Private>| {
        cert.public_key()
            .map(|public| public.public_eq(key))
            .unwrap_or(false)
    };

    let mut entries = Vec::with_capacity(keys.len());
    for (number, (key, local_key_id, friendly_name)) in keys.into_iter().enumerate() {
        let number = number + 1;
        let by_id = local_key_id.as_ref().and_then(|id| {
            certs
                .iter()
                .position(|c| !c.claimed && c.local_key_id.as_ref() == Some(id))
        });
        let index = match by_id {
            Some(index) if !certifies(&certs[index].cert, &key) => {
                return Err(CryptoError::BadPkcs12(format!(
                    "key {number} does not match the certificate with its localKeyId"
                )))
            }
            Some(index) => index,
            None => certs
                .iter()
                .position(|c| !c.claimed && certifies(&c.cert, &key))
                .ok_or_else(|| {
                    CryptoError::BadPkcs12(format!("key {number} has no certificate"))
                })?,
        };
        let cert = &mut certs[index];
        cert.claimed = true;
        entries.push(ParsedEntry {
            key,
            certificate: cert.cert.clone(),
            friendly_name: friendly_name.or_else(|| cert.friendly_name.clone()),
        });
    }
    let ca = certs
        .into_iter()
        .filter(|c| !c.claimed)
        .map(|c| c.cert)
        .collect();
    Ok(ParsedP12 { entries, ca })
}

/// Opens a PKCS#12: its (first) key, that key's certificate and the CA certificates.
pub fn parse_p12(der: &[u8], pin: &str) -> Result<(PKey<Private>, X509, Vec<X509>), CryptoError> {
    let parsed = parse_p12_entries(der, pin)?;
    let entry = parsed
        .entries
        .into_iter()
        .next()
        .ok_or_else(|| CryptoError::BadPkcs12("no private key".into()))?;
    Ok((entry.key, entry.certificate, parsed.ca))
}

#[cfg(test)]
mod tests;
