//! The inspection itself: parse, check the MAC, walk every safe and bag, link the chain.

use der::{EncodingRules, Tag, Tagged};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use super::asn1::{self, Attribute, BagValue, MacData, Outer, SafeBag, SafeBody};
use super::chain::{self, CertEntry, KeyEntry};
use super::crypt::{self, Decrypted, MacCheck, Password};
use super::names;
use super::oid;
use super::params::{Pbkdf2Params, Pbmac1Params};
use super::*;

/// The structure, strict DER first, then BER, then OpenSSL's re-encoding (then BER inside).
fn parse(der: &[u8]) -> Result<(Outer, Encoding, EncodingRules), CryptoError> {
    let strict = match asn1::outer(der, EncodingRules::Der) {
        Ok(outer) => return Ok((outer, Encoding::Der, EncodingRules::Der)),
        Err(e) => e,
    };
    if let Ok(outer) = asn1::outer(der, EncodingRules::Ber) {
        return Ok((outer, Encoding::Ber, EncodingRules::Ber));
    }
    let reencoded =
        crypt::reencode(der).ok_or_else(|| CryptoError::NotPkcs12(strict.to_string()))?;
    match asn1::outer(&reencoded, EncodingRules::Der) {
        Ok(outer) => Ok((outer, Encoding::Ber, EncodingRules::Der)),
        Err(_) => asn1::outer(&reencoded, EncodingRules::Ber)
            .map(|outer| (outer, Encoding::Ber, EncodingRules::Ber))
            .map_err(|e| CryptoError::BadPkcs12(format!("unreadable contents: {e}"))),
    }
}

/// The MacData, unchecked.
fn mac_report(mac: &MacData, rules: EncodingRules) -> MacReport {
    let alg = &mac.mac.algorithm;
    let mac_length = mac.mac.digest.as_bytes().len();
    if alg.oid == oid::PBMAC1 {
        let params = alg.params::<Pbmac1Params>(rules);
        let kdf = params.as_ref().map(|p| names::kdf(&p.kdf, rules));
        let pbkdf2 = params
            .as_ref()
            .and_then(|p| p.kdf.params::<Pbkdf2Params>(rules));
        return MacReport {
            algorithm: "PBMAC1".into(),
            digest: params.map_or_else(
                || "unreadable parameters".into(),
                |p| names::prf(&p.message_auth_scheme.oid),
            ),
            iterations: pbkdf2.as_ref().map(|p| p.iteration_count),
            salt_length: kdf.as_ref().and_then(|k| k.salt_length),
            mac_length,
            kdf,
            status: MacStatus::NotChecked,
            note: None,
        };
    }
    MacReport {
        algorithm: "HMAC".into(),
        digest: names::digest(&alg.oid).0,
        iterations: Some(mac.iterations),
        salt_length: Some(mac.mac_salt.as_bytes().len()),
        mac_length,
        kdf: None,
        status: MacStatus::NotChecked,
        note: None,
    }
}

/// The password to open the contents with, and the MAC's status.
fn unlock(der: &[u8], pin: Option<&str>, mac: Option<&mut MacReport>) -> Option<Password> {
    let given = || pin.map(Password::for_pin);
    let Some(mac) = mac else { return given() };
    if mac.algorithm != "HMAC" {
        mac.status = MacStatus::Unsupported;
        mac.note = Some("PBMAC1 (RFC 9579) is verified by OpenSSL 3.4 and later only".into());
        return given();
    }
    match crypt::check_mac(der, Password::candidates(pin)) {
        MacCheck::Verified(password) => {
            mac.status = MacStatus::Verified;
            Some(password)
        }
        MacCheck::Mismatch if pin.is_some() => {
            mac.status = MacStatus::WrongPinOrDamaged;
            given()
        }
        MacCheck::Mismatch => None,
        MacCheck::Failed(reason) => {
            mac.status = MacStatus::Unsupported;
            mac.note = Some(reason);
            given()
        }
    }
}

pub(super) fn inspect(der: &[u8], pin: Option<&str>) -> Result<P12Report, CryptoError> {
    if pin.is_some_and(|p| p.contains('\0')) {
        return Err(CryptoError::WrongPin);
    }
    let (outer, encoding, rules) = parse(der)?;
    if outer.pfx.auth_safe.is_none() {
        return Err(CryptoError::BadPkcs12(format!(
            "the authSafe is {}, not data (public-key integrity mode is not supported)",
            names::content_type(&outer.pfx.auth_safe_type)
        )));
    }
    let mut mac = outer.pfx.mac_data.as_ref().map(|m| mac_report(m, rules));
    let password = unlock(der, pin, mac.as_mut());

    let mac_verified = mac.as_ref().map(|m| m.status) == Some(MacStatus::Verified);
    let mut walker = Walker {
        password: password.as_ref(),
        refusal: if mac_verified {
            "damaged: does not decrypt, although the PIN verifies the MAC"
        } else {
            "does not decrypt with this PIN (wrong PIN or damaged)"
        },
        ber_inside: false,
        certs: Vec::new(),
        keys: Vec::new(),
        opened: 0,
        refused: 0,
    };
    let safes: Vec<SafeReport> = outer
        .safes
        .iter()
        .enumerate()
        .map(|(i, safe)| walker.safe(i + 1, safe, rules))
        .collect();

    let pin_status = match pin {
        None if mac_verified => PinStatus::Empty,
        None => PinStatus::NotGiven,
        Some(_) if mac_verified => PinStatus::Accepted,
        Some(_) if walker.opened > 0 => PinStatus::Accepted,
        Some(_) if walker.refused > 0 => PinStatus::Wrong,
        Some(_) => match mac.as_ref().map(|m| m.status) {
            Some(MacStatus::WrongPinOrDamaged) => PinStatus::Wrong,
            _ => PinStatus::Unverified,
        },
    };
    if let Some(mac) = mac.as_mut() {
        if mac.status == MacStatus::WrongPinOrDamaged && walker.opened > 0 {
            mac.status = MacStatus::Damaged;
        }
    }
    let all_visible = safes
        .iter()
        .all(|s| matches!(s.status, SafeStatus::Plain | SafeStatus::Decrypted));
    let chain = chain::link(&mut walker.certs, &mut walker.keys, all_visible);
    Ok(P12Report {
        encoding: if walker.ber_inside {
            Encoding::Ber
        } else {
            encoding
        },
        version: outer.pfx.version,
        pin: pin_status,
        mac,
        safes,
        certificates: walker.certs.into_iter().map(|c| c.report).collect(),
        keys: walker.keys.into_iter().map(|k| k.report).collect(),
        chain,
    })
}

/// An encrypted safe's status, note (empty if none) and bags with their encoding rules.
type Opening = (SafeStatus, String, Option<(Vec<SafeBag>, EncodingRules)>);

/// Collects certificates and keys while listing the bags.
struct Walker<'p> {
    password: Option<&'p Password>,
    /// Why a part did not decrypt (damage if the MAC vouched for the password).
    refusal: &'static str,
    /// A decrypted safe is BER.
    ber_inside: bool,
    certs: Vec<CertEntry>,
    keys: Vec<KeyEntry>,
    /// Encrypted parts the password opened.
    opened: usize,
    /// Encrypted parts that did not decrypt with it (wrong password or damage).
    refused: usize,
}

impl Walker<'_> {
    fn safe(&mut self, index: usize, safe: &asn1::ParsedSafe, rules: EncodingRules) -> SafeReport {
        let mut report = SafeReport {
            index,
            content_type: names::content_type(&safe.content_type),
            encryption: None,
            status: SafeStatus::Unsupported,
            note: None,
            bags: Vec::new(),
        };
        let prefix = index.to_string();
        match &safe.body {
            SafeBody::Plain(bags) => {
                report.status = SafeStatus::Plain;
                report.bags = self.bags(bags, &prefix, rules);
            }
            SafeBody::Encrypted(info) => {
                report.encryption = Some(names::encryption(&info.algorithm, rules));
                let (status, note, bags) = match (self.password, &info.encrypted_content) {
                    (None, _) => (
                        SafeStatus::Encrypted,
                        "encrypted: give the PIN".into(),
                        None,
                    ),
                    (Some(_), None) => (SafeStatus::Undecryptable, "no content".into(), None),
                    (Some(pw), Some(ct)) => self.open_safe(&info.algorithm, ct.as_bytes(), pw),
                };
                report.status = status;
                report.note = (!note.is_empty()).then_some(note);
                if let Some((bags, inner_rules)) = bags {
                    report.bags = self.bags(&bags, &prefix, inner_rules);
                }
            }
            SafeBody::Other => report.note = Some("not opened by the inspector".into()),
        }
        report
    }

    fn open_safe(&mut self, alg: &asn1::AlgId, ciphertext: &[u8], password: &Password) -> Opening {
        match crypt::decrypt(alg, ciphertext, password) {
            Decrypted::Plain(plain) => {
                let parsed = asn1::decode::<Vec<SafeBag>>(&plain, EncodingRules::Der)
                    .map(|b| (b, EncodingRules::Der))
                    .or_else(|_| {
                        asn1::decode::<Vec<SafeBag>>(&plain, EncodingRules::Ber)
                            .map(|b| (b, EncodingRules::Ber))
                    });
                match parsed {
                    Ok(bags) => {
                        self.opened += 1;
                        self.ber_inside |= bags.1 == EncodingRules::Ber;
                        (SafeStatus::Decrypted, String::new(), Some(bags))
                    }
                    Err(_) => {
                        self.refused += 1;
                        (SafeStatus::Undecryptable, self.refusal.into(), None)
                    }
                }
            }
            Decrypted::BadDecrypt => {
                self.refused += 1;
                (SafeStatus::Undecryptable, self.refusal.into(), None)
            }
            Decrypted::Failed(reason) => (
                SafeStatus::Undecryptable,
                cannot_decrypt(alg, &reason),
                None,
            ),
        }
    }

    fn bags(&mut self, bags: &[SafeBag], prefix: &str, rules: EncodingRules) -> Vec<BagReport> {
        bags.iter()
            .enumerate()
            .map(|(i, bag)| self.bag(bag, format!("{prefix}.{}", i + 1), rules))
            .collect()
    }

    fn bag(&mut self, bag: &SafeBag, location: String, rules: EncodingRules) -> BagReport {
        let attrs = Attrs::of(&bag.attributes);
        let mut report = BagReport {
            location,
            bag_type: names::bag_type(&bag.bag_id),
            encryption: None,
            key_type: None,
            value_type: None,
            certificate: None,
            friendly_name: attrs.friendly_name,
            local_key_id: attrs.local_key_id,
            other_attributes: attrs.other,
            bags: Vec::new(),
            note: None,
        };
        match &bag.value {
            BagValue::Key(tlv) => {
                let key = crypt::private_key(&tlv.0);
                if key.is_none() {
                    report.note = Some("unreadable private key".into());
                }
                self.add_key(&mut report, key);
            }
            BagValue::Shrouded(info) => {
                report.encryption = Some(names::encryption(&info.algorithm, rules));
                let key = self.password.and_then(|pw| {
                    self.open_key(
                        &info.algorithm,
                        info.encrypted_data.as_bytes(),
                        pw,
                        &mut report,
                    )
                });
                self.add_key(&mut report, key);
            }
            BagValue::Cert { kind, der } => {
                report.value_type = Some(names::value_type(kind));
                if let (oid::CERT_BAG, oid::X509_CERTIFICATE, Some(der)) = (bag.bag_id, *kind, der)
                {
                    match X509::from_der(der) {
                        Ok(x509) => self.add_cert(&mut report, x509),
                        Err(_) => report.note = Some("unreadable certificate".into()),
                    }
                }
            }
            BagValue::Secret(kind) => report.value_type = Some(names::value_type(kind)),
            BagValue::Nested(inner) => {
                let location = report.location.clone();
                report.bags = self.bags(inner, &location, rules);
            }
            BagValue::Other => {}
        }
        report
    }

    fn open_key(
        &mut self,
        alg: &asn1::AlgId,
        ciphertext: &[u8],
        password: &Password,
        report: &mut BagReport,
    ) -> Option<PKey<Private>> {
        let note = match crypt::decrypt(alg, ciphertext, password) {
            Decrypted::Plain(plain) => match crypt::private_key(&plain) {
                Some(key) => {
                    self.opened += 1;
                    return Some(key);
                }
                None => {
                    self.refused += 1;
                    self.refusal.into()
                }
            },
            Decrypted::BadDecrypt => {
                self.refused += 1;
                self.refusal.into()
            }
            Decrypted::Failed(reason) => cannot_decrypt(alg, &reason),
        };
        report.note = Some(note);
        None
    }

    fn add_key(&mut self, report: &mut BagReport, key: Option<PKey<Private>>) {
        report.key_type = key.as_deref().map(crypt::key_type);
        self.keys
            .push(KeyEntry::new(self.keys.len() + 1, report, key));
    }

    fn add_cert(&mut self, report: &mut BagReport, x509: X509) {
        let entry = CertEntry::new(self.certs.len() + 1, report, x509);
        report.certificate = Some(entry.report.info.clone());
        self.certs.push(entry);
    }
}

/// Why OpenSSL could not even try, with a hint for the algorithms of its legacy provider.
fn cannot_decrypt(alg: &asn1::AlgId, reason: &str) -> String {
    let scheme = names::encryption(alg, EncodingRules::Ber).to_string();
    let legacy = ["RC2", "RC4", "DES-CBC", "MD5", "MD2"];
    let hint = if legacy.iter().any(|l| scheme.contains(l)) {
        " (this algorithm needs OpenSSL's legacy provider)"
    } else {
        ""
    };
    format!("cannot decrypt here: {reason}{hint}")
}

/// A bag's attributes.
struct Attrs {
    friendly_name: Option<String>,
    local_key_id: Option<String>,
    other: Vec<String>,
}

impl Attrs {
    fn of(attributes: &[Attribute]) -> Attrs {
        let mut attrs = Attrs {
            friendly_name: None,
            local_key_id: None,
            other: Vec::new(),
        };
        for attribute in attributes {
            let first = attribute.values.first();
            match (attribute.oid, first) {
                (oid::FRIENDLY_NAME, Some(v)) if v.tag() == Tag::BmpString => {
                    attrs.friendly_name = Some(names::decode_bmp(v.value()));
                }
                (oid::FRIENDLY_NAME, Some(v)) if v.tag() == Tag::Utf8String => {
                    attrs.friendly_name = Some(String::from_utf8_lossy(v.value()).into_owned());
                }
                (oid::LOCAL_KEY_ID, Some(v)) if v.tag() == Tag::OctetString => {
                    attrs.local_key_id = Some(hex::encode(v.value()));
                }
                (other, _) => attrs.other.push(names::attribute(&other)),
            }
        }
        attrs
    }
}
