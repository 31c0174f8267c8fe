//! `keyward p12 inspect`: the structure of any PKCS#12 (ours or foreign, DER or BER), read
//! without the PIN as far as it is readable without it, and opened further with the PIN.
//!
//! The structure is parsed with the `der` crate: strict DER first, then BER (indefinite
//! lengths), then OpenSSL's reading re-encoded (`d2i_PKCS12` + `i2d_PKCS12`). The MAC check
//! and the decryption are OpenSSL's (`PKCS12_verify_mac`, `PKCS12_pbe_crypt`). Key material
//! is decrypted only to name the key type and match keys to certificates; it is never put in a
//! report, and the decrypted buffers are wiped.

mod asn1;
mod chain;
mod crypt;
mod names;
mod oid;
mod params;
mod render;
mod walk;

use std::fmt;

use serde::Serialize;

use crate::CryptoError;

pub use render::render;

/// What [`inspect`] found. Serialized (`--json`) with these fields, always present (`null`
/// when not applicable or not known):
///
/// - `encoding`: `"DER"`, or `"BER"` when the file is not strict DER (indefinite lengths,
///   non-minimal lengths, constructed strings).
/// - `version`: the PFX version (3).
/// - `pin`: [`PinStatus`]: `"not-given"`, `"empty"`, `"accepted"`, `"unverified"`, `"wrong"`.
/// - `mac`: [`MacReport`], or `null` when the file has no MAC.
/// - `safes`: one [`SafeReport`] per AuthenticatedSafe entry, in file order.
/// - `certificates`: every readable X.509 certificate ([`CertificateReport`]), numbered from 1
///   in file order.
/// - `keys`: every key bag ([`KeyReport`]), numbered from 1 in file order.
/// - `chain`: [`ChainReport`], how the certificates link.
#[derive(Debug, Clone, Serialize)]
pub struct P12Report {
    /// DER or BER.
    pub encoding: Encoding,
    /// The PFX version.
    pub version: u64,
    /// What the PIN did.
    pub pin: PinStatus,
    /// The integrity check, if any.
    pub mac: Option<MacReport>,
    /// The AuthenticatedSafe entries.
    pub safes: Vec<SafeReport>,
    /// The certificates read.
    pub certificates: Vec<CertificateReport>,
    /// The key bags.
    pub keys: Vec<KeyReport>,
    /// How the certificates chain.
    pub chain: ChainReport,
}

/// The encoding of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Encoding {
    /// DER throughout the structure read (the outer PFX, the AuthenticatedSafe, every
    /// readable SafeContents).
    #[serde(rename = "DER")]
    Der,
    /// BER somewhere in it (indefinite or non-minimal lengths, constructed strings).
    #[serde(rename = "BER")]
    Ber,
}

/// What the PIN did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinStatus {
    /// No PIN was given (and the empty PIN does not open the file).
    NotGiven,
    /// No PIN was given and the file opens with the empty PIN.
    Empty,
    /// The PIN verifies the MAC or, without a MAC, decrypts the contents.
    Accepted,
    /// A PIN was given but nothing could check it (no MAC and nothing encrypted, or a MAC
    /// this OpenSSL cannot verify and nothing encrypted).
    Unverified,
    /// The PIN fails the MAC and decrypts nothing (or, without a MAC, does not decrypt).
    Wrong,
}

/// The MAC (`MacData`). JSON: `algorithm` (`"HMAC"` or `"PBMAC1"`), `digest` (`"sha256"`;
/// for PBMAC1 the MAC scheme, `"hmacWithSHA256"`), `iterations`, `salt_length`, `mac_length`,
/// `kdf` (PBMAC1: its PBKDF2 parameters as an [`Encryption`]), `status` ([`MacStatus`]) and
/// `note`.
#[derive(Debug, Clone, Serialize)]
pub struct MacReport {
    /// `HMAC` (RFC 7292) or `PBMAC1` (RFC 9579).
    pub algorithm: String,
    /// The HMAC digest, or PBMAC1's message authentication scheme.
    pub digest: String,
    /// Key derivation iterations (PBMAC1: PBKDF2's).
    pub iterations: Option<u64>,
    /// Salt length in bytes (PBMAC1: PBKDF2's).
    pub salt_length: Option<usize>,
    /// Length of the MAC value in bytes.
    pub mac_length: usize,
    /// PBMAC1 only: the key derivation.
    pub kdf: Option<Encryption>,
    /// The outcome of the check.
    pub status: MacStatus,
    /// Why the MAC could not be checked, if it could not.
    pub note: Option<String>,
}

/// The outcome of the MAC check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MacStatus {
    /// No PIN to check it with.
    NotChecked,
    /// The MAC verifies.
    Verified,
    /// The MAC does not verify and the PIN opens nothing: a wrong PIN, or damage.
    WrongPinOrDamaged,
    /// The MAC does not verify although the PIN decrypts the contents: damaged (or sealed
    /// with a separate MAC password).
    Damaged,
    /// This OpenSSL cannot verify it (PBMAC1 needs OpenSSL 3.4, or an unknown digest).
    Unsupported,
}

impl MacStatus {
    /// Human wording.
    pub fn label(self) -> &'static str {
        match self {
            MacStatus::NotChecked => "not checked (give the PIN)",
            MacStatus::Verified => "verified",
            MacStatus::WrongPinOrDamaged => "wrong PIN or damaged",
            MacStatus::Damaged => "damaged: does not verify, although the PIN opens the contents",
            MacStatus::Unsupported => "cannot be verified here",
        }
    }
}

/// A password-based encryption (or PBMAC1 key derivation). JSON: `algorithm` (`"PBES2"`, a
/// PBE scheme such as `"pbeWithSHA1And3-KeyTripleDES-CBC"`, or the dotted OID), `oid`, `kdf`
/// (`"PBKDF2"`, `"scrypt"`), `prf` (`"hmacWithSHA256"`), `iterations`, `salt_length`,
/// `key_length` and `cipher` (`"AES-256-CBC"`); `null` where the scheme has no such part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Encryption {
    /// The scheme's name, or its OID if unknown.
    pub algorithm: String,
    /// The scheme's OID.
    pub oid: String,
    /// PBES2: the key derivation function.
    pub kdf: Option<String>,
    /// PBKDF2: the pseudo-random function.
    pub prf: Option<String>,
    /// Iterations (scrypt: the cost N).
    pub iterations: Option<u64>,
    /// Salt length in bytes.
    pub salt_length: Option<usize>,
    /// PBKDF2: the key length, when stated.
    pub key_length: Option<u64>,
    /// PBES2: the cipher.
    pub cipher: Option<String>,
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.algorithm)?;
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.kdf.clone());
        parts.extend(self.prf.clone());
        parts.extend(self.cipher.clone());
        parts.extend(self.iterations.map(|n| format!("{n} iterations")));
        parts.extend(self.salt_length.map(|n| format!("{n}-byte salt")));
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// One AuthenticatedSafe entry. JSON: `index` (from 1), `content_type` (`"data"`,
/// `"encryptedData"`, …), `encryption` (encryptedData), `status` ([`SafeStatus`]), `note`,
/// `bags` (listed when readable, else empty).
#[derive(Debug, Clone, Serialize)]
pub struct SafeReport {
    /// Position in the AuthenticatedSafe, from 1.
    pub index: usize,
    /// The content type.
    pub content_type: String,
    /// encryptedData: how it is encrypted.
    pub encryption: Option<Encryption>,
    /// Whether its bags could be read.
    pub status: SafeStatus,
    /// Why not, if not.
    pub note: Option<String>,
    /// Its bags (when readable).
    pub bags: Vec<BagReport>,
}

/// Whether a safe's bags could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SafeStatus {
    /// A `data` safe: readable without the PIN.
    Plain,
    /// Encrypted and not opened: give the PIN.
    Encrypted,
    /// Encrypted and opened with the PIN.
    Decrypted,
    /// Encrypted and not opened with the PIN (wrong PIN, damage, or a missing algorithm).
    Undecryptable,
    /// A content type the inspector does not open (envelopedData, …).
    Unsupported,
}

/// One SafeBag. JSON: `location` (`"2.1"` = safe 2, bag 1; nested bags append `.N`),
/// `bag_type`, `encryption` (pkcs8ShroudedKeyBag), `key_type` (`"EC secp256r1"`, when
/// known), `value_type` (certBag/crlBag/secretBag type), `certificate` ([`CertificateInfo`]),
/// `friendly_name`, `local_key_id` (hex), `other_attributes` (names or OIDs), `bags`
/// (safeContentsBag) and `note`.
#[derive(Debug, Clone, Serialize)]
pub struct BagReport {
    /// Where the bag is: safe, bag (and nested bag) numbers from 1.
    pub location: String,
    /// `keyBag`, `pkcs8ShroudedKeyBag`, `certBag`, `crlBag`, `secretBag`, `safeContentsBag`.
    pub bag_type: String,
    /// pkcs8ShroudedKeyBag: how the key is encrypted.
    pub encryption: Option<Encryption>,
    /// Key bags: the key type, once readable.
    pub key_type: Option<String>,
    /// certBag, crlBag, secretBag: the value type.
    pub value_type: Option<String>,
    /// certBag with an X.509 certificate.
    pub certificate: Option<CertificateInfo>,
    /// The friendlyName attribute.
    pub friendly_name: Option<String>,
    /// The localKeyId attribute, hex.
    pub local_key_id: Option<String>,
    /// Other attributes, by name or OID.
    pub other_attributes: Vec<String>,
    /// safeContentsBag: the nested bags.
    pub bags: Vec<BagReport>,
    /// A problem with this bag (a key that does not decrypt, an unreadable certificate).
    pub note: Option<String>,
}

/// A certificate's identity. JSON: `subject`, `issuer` (most specific RDN first),
/// `serial` (lowercase hex), `not_after` (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// Subject DN, most specific first.
    pub subject: String,
    /// Issuer DN, most specific first.
    pub issuer: String,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
}

/// A certificate of the file. JSON: `index` (from 1), `location`, the [`CertificateInfo`]
/// fields, `self_signed`, `issued_by` (index of its issuer's certificate in this file),
/// `end_entity_of` (index of the key it certifies), `friendly_name`, `local_key_id`.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateReport {
    /// Number in file order, from 1.
    pub index: usize,
    /// Its bag's location.
    pub location: String,
    /// Subject, issuer, serial, validity.
    #[serde(flatten)]
    pub info: CertificateInfo,
    /// Issued by its own key.
    pub self_signed: bool,
    /// The certificate of this file that issued it.
    pub issued_by: Option<usize>,
    /// The key this certificate certifies (it is that key's end-entity certificate).
    pub end_entity_of: Option<usize>,
    /// Its bag's friendlyName.
    pub friendly_name: Option<String>,
    /// Its bag's localKeyId, hex.
    pub local_key_id: Option<String>,
}

/// A key bag. JSON: `index` (from 1), `location`, `bag_type`, `key_type` (`null` until the
/// PIN opens it), `friendly_name`, `local_key_id`, `certificate` (index of its end-entity
/// certificate), `matched_by` (`"localKeyId"` or `"public key"`), `attributes`
/// ([`AttributeCheck`]), `chain` (certificate indexes from its certificate up),
/// `chain_ends_at_root`, `missing_issuer` (issuer DN of the first certificate whose issuer is
/// not in the file).
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    /// Number in file order, from 1.
    pub index: usize,
    /// Its bag's location.
    pub location: String,
    /// `keyBag` or `pkcs8ShroudedKeyBag`.
    pub bag_type: String,
    /// The key type, once readable.
    pub key_type: Option<String>,
    /// Its bag's friendlyName.
    pub friendly_name: Option<String>,
    /// Its bag's localKeyId, hex.
    pub local_key_id: Option<String>,
    /// Its end-entity certificate.
    pub certificate: Option<usize>,
    /// How the certificate was found.
    pub matched_by: Option<String>,
    /// Whether both bags carry friendlyName and localKeyId.
    pub attributes: AttributeCheck,
    /// Its certificate and the issuers above it, as indexes.
    pub chain: Vec<usize>,
    /// The chain reaches a self-signed certificate.
    pub chain_ends_at_root: bool,
    /// Where the chain breaks: the issuer not in the file.
    pub missing_issuer: Option<String>,
}

/// friendlyName and localKeyId on a key bag and its certificate bag (Java takes the alias
/// from friendlyName; OpenSSL and Windows pair the bags by localKeyId). JSON: the four
/// booleans and `complete` (all four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AttributeCheck {
    /// The key bag has a friendlyName.
    pub key_friendly_name: bool,
    /// The key bag has a localKeyId.
    pub key_local_key_id: bool,
    /// The certificate bag has a friendlyName (false without a certificate).
    pub certificate_friendly_name: bool,
    /// The certificate bag has a localKeyId (false without a certificate).
    pub certificate_local_key_id: bool,
    /// All four.
    pub complete: bool,
}

/// How the certificates link. JSON: `all_visible` (every safe was read), `forms_path` (every
/// certificate is on a key's chain, or with no key on one chain from a leaf), `ends_at_root`
/// (every such chain reaches a self-signed certificate), `order` (`"leaf-first"`,
/// `"root-first"`, `"mixed"`, `"single"`, `"none"`).
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    /// Every safe was read, so no certificate is hidden.
    pub all_visible: bool,
    /// The certificates form one path with no stray or unlinked certificate.
    pub forms_path: bool,
    /// The path ends at a self-signed root.
    pub ends_at_root: bool,
    /// The stored order.
    pub order: String,
}

/// Inspects a PKCS#12 (DER or BER).
///
/// Without a PIN everything outside the encrypted parts is shown (and the empty PIN is
/// tried, so a file without a PIN opens completely). With a PIN the MAC is checked and the
/// encrypted safes and shrouded keys are opened; a wrong PIN is reported in the result
/// ([`PinStatus::Wrong`], [`MacStatus::WrongPinOrDamaged`]), not as an error, so the outer
/// structure can still be shown. RC2/RC4-encrypted parts open only if OpenSSL's legacy
/// provider is loaded (the CLI loads it); otherwise they are [`SafeStatus::Undecryptable`]
/// with OpenSSL's reason.
///
/// Errors: [`CryptoError::NotPkcs12`] when the bytes are no PKCS#12 (or truncated),
/// [`CryptoError::BadPkcs12`] for a PKCS#12 the inspector cannot read (a signedData
/// authSafe), [`CryptoError::WrongPin`] for a PIN holding a NUL character.
pub fn inspect(der: &[u8], pin: Option<&str>) -> Result<P12Report, CryptoError> {
    walk::inspect(der, pin)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bags;
