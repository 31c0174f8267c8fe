//! Private keys on a token: find, generate (EC), sign.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;

use crate::{Pkcs11Error, Token};

const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The NIST curves Keyward uses on tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcCurve {
    /// secp256r1 (officers: rustls accepts it for TLS client authentication).
    P256,
    /// secp384r1 (Keyward's CA keys).
    P384,
    /// secp521r1.
    P521,
}

impl EcCurve {
    fn oid(self) -> ObjectIdentifier {
        match self {
            EcCurve::P256 => P256,
            EcCurve::P384 => P384,
            EcCurve::P521 => P521,
        }
    }

    fn nid(self) -> Nid {
        match self {
            EcCurve::P256 => Nid::X9_62_PRIME256V1,
            EcCurve::P384 => Nid::SECP384R1,
            EcCurve::P521 => Nid::SECP521R1,
        }
    }

    /// Bytes of one coordinate (and of r and s in a signature).
    pub fn field_bytes(self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
            EcCurve::P521 => 66,
        }
    }

    fn from_params(params: &[u8]) -> Option<EcCurve> {
        let oid = ObjectIdentifier::from_der(params).ok()?;
        [EcCurve::P256, EcCurve::P384, EcCurve::P521]
            .into_iter()
            .find(|c| c.oid() == oid)
    }
}

/// What kind of key a token key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An EC key on a named curve.
    Ec(EcCurve),
    /// An RSA key of so many bits.
    Rsa(usize),
}

/// The hash a signature is made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Digest {
    /// The digest OpenSSL names `md`, if it is one of these.
    pub fn from_openssl(md: MessageDigest) -> Option<Digest> {
        match md.type_() {
            Nid::SHA256 => Some(Digest::Sha256),
            Nid::SHA384 => Some(Digest::Sha384),
            Nid::SHA512 => Some(Digest::Sha512),
            _ => None,
        }
    }

    fn openssl(self) -> MessageDigest {
        match self {
            Digest::Sha256 => MessageDigest::sha256(),
            Digest::Sha384 => MessageDigest::sha384(),
            Digest::Sha512 => MessageDigest::sha512(),
        }
    }
}

/// A private key on a token. Only a handle: the key itself never leaves the token.
#[derive(Debug, Clone)]
pub struct PrivateKey {
    handle: ObjectHandle,
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID (the certificate stored for this key carries the same).
    pub id: Vec<u8>,
    /// Its algorithm and size.
    pub kind: KeyKind,
}

/// How a private key is protected on its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProtection {
    /// CKA_SENSITIVE: its value cannot be read.
    pub sensitive: bool,
    /// CKA_EXTRACTABLE: it could be wrapped out of the token.
    pub extractable: bool,
}

impl Token {
    /// The private key labelled `label`.
    pub fn private_key(&self, label: &str) -> Result<PrivateKey, Pkcs11Error> {
        let handle = self.find_one(ObjectClass::PRIVATE_KEY, label, "private key")?;
        let attributes = self
            .session()
            .get_attributes(
                handle,
                &[
                    AttributeType::Id,
                    AttributeType::KeyType,
                    AttributeType::EcParams,
                    AttributeType::Modulus,
                ],
            )
            .map_err(self.op_err("read private key attributes"))?;
        let (mut id, mut key_type, mut params, mut modulus) = (Vec::new(), None, None, None);
        for attribute in attributes {
            match attribute {
                Attribute::Id(v) => id = v,
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::EcParams(p) => params = Some(p),
                Attribute::Modulus(m) => modulus = Some(m),
                _ => {}
            }
        }
        let unsupported = || {
            self.object_err(format!("private key {label:?}: unsupported key type (Keyward signs with EC P-256/P-384/P-521 and RSA keys)"))
        };
        let kind = match key_type {
            Some(t) if t == KeyType::EC => KeyKind::Ec(
                params
                    .as_deref()
                    .and_then(EcCurve::from_params)
                    .ok_or_else(unsupported)?,
            ),
            Some(t) if t == KeyType::RSA => {
                KeyKind::Rsa(modulus.ok_or_else(unsupported)?.len() * 8)
            }
            _ => return Err(unsupported()),
        };
        Ok(PrivateKey {
            handle,
            label: label.to_string(),
            id,
            kind,
        })
    }

    /// Whether a private key can ever leave the token.
    pub fn protection(&self, key: &PrivateKey) -> Result<KeyProtection, Pkcs11Error> {
        let attributes = self
            .session()
            .get_attributes(
                key.handle,
                &[AttributeType::Sensitive, AttributeType::Extractable],
            )
            .map_err(self.op_err("read key protection"))?;
        let mut protection = KeyProtection {
            sensitive: false,
            extractable: true,
        };
        for attribute in attributes {
            match attribute {
                Attribute::Sensitive(s) => protection.sensitive = s,
                Attribute::Extractable(e) => protection.extractable = e,
                _ => {}
            }
        }
        Ok(protection)
    }

    /// Generates an EC key pair on the token: the private key is sensitive and not extractable,
    /// both halves carry `label` and a fresh random CKA_ID. Returns the key and its public key
    /// as DER SubjectPublicKeyInfo. Refused if a private key with that label exists.
    pub fn generate_ec_key(
        &self,
        label: &str,
        curve: EcCurve,
    ) -> Result<(PrivateKey, Vec<u8>), Pkcs11Error> {
        if self.exists(ObjectClass::PRIVATE_KEY, label)? {
            return Err(self.object_err(format!("a private key labelled {label:?} exists")));
        }
        let mut id = [0u8; 16];
        openssl::rand::rand_bytes(&mut id)
            .map_err(|_| self.object_err("random generator failed".into()))?;
        let params = curve
            .oid()
            .to_der()
            .map_err(|_| self.object_err("EC parameters".into()))?;
        let common = |private: bool| {
            vec![
                Attribute::Token(true),
                Attribute::Private(private),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.to_vec()),
            ]
        };
        let mut public_template = common(false);
        public_template.extend([Attribute::EcParams(params), Attribute::Verify(true)]);
        let mut private_template = common(true);
        private_template.extend([
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
        ]);
        let (public, private) = self
            .session()
            .generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &public_template,
                &private_template,
            )
            .map_err(self.op_err("generate EC key pair"))?;
        let point = self
            .session()
            .get_attributes(public, &[AttributeType::EcPoint])
            .map_err(self.op_err("read EC public key"))?
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .ok_or_else(|| self.object_err(format!("public key {label:?} has no CKA_EC_POINT")))?;
        let spki = ec_spki(curve, &point)
            .ok_or_else(|| self.object_err(format!("public key {label:?}: unusable EC point")))?;
        let key = PrivateKey {
            handle: private,
            label: label.to_string(),
            id: id.to_vec(),
            kind: KeyKind::Ec(curve),
        };
        Ok((key, spki))
    }

    /// Signs `message` with `key` over `digest`: for EC keys the digest is computed here and
    /// `CKM_ECDSA` signs it on the token (the result is a DER ECDSA-Sig-Value); for RSA keys
    /// the digest is computed here too and `CKM_RSA_PKCS` signs its DigestInfo (PKCS#1 v1.5,
    /// the same signature `CKM_SHA*_RSA_PKCS` makes).
    pub fn sign(
        &self,
        key: &PrivateKey,
        digest: Digest,
        message: &[u8],
    ) -> Result<Vec<u8>, Pkcs11Error> {
        match key.kind {
            KeyKind::Ec(curve) => {
                let hash = openssl::hash::hash(digest.openssl(), message)
                    .map_err(|_| self.object_err("hashing failed".into()))?;
                let raw = self
                    .session()
                    .sign(&Mechanism::Ecdsa, key.handle, &hash)
                    .map_err(self.op_err("ECDSA signature"))?;
                ecdsa_der(curve, &raw).ok_or_else(|| {
                    self.object_err(format!(
                        "private key {:?}: the ECDSA signature has {} bytes",
                        key.label,
                        raw.len()
                    ))
                })
            }
            KeyKind::Rsa(_) => {
                // Hashed here and signed as a DigestInfo with CKM_RSA_PKCS, like ECDSA: a CRL
                // of a million entries is ~50 MB, which CKM_SHA*_RSA_PKCS would send (and the
                // module copy) in one C_Sign, and network HSMs limit message sizes.
                let hash = openssl::hash::hash(digest.openssl(), message)
                    .map_err(|_| self.object_err("hashing failed".into()))?;
                let mut info = digest_info_prefix(digest).to_vec();
                info.extend_from_slice(&hash);
                self.session()
                    .sign(&Mechanism::RsaPkcs, key.handle, &info)
                    .map_err(self.op_err("RSA signature"))
            }
        }
    }
}

/// The DER DigestInfo before the hash value (RFC 8017 §9.2, note 1): SEQUENCE { AlgorithmIdentifier
/// { hash OID, NULL }, OCTET STRING of the hash length }.
fn digest_info_prefix(digest: Digest) -> &'static [u8] {
    match digest {
        Digest::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        Digest::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        Digest::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// `r || s` as a DER ECDSA-Sig-Value.
fn ecdsa_der(curve: EcCurve, raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() != 2 * curve.field_bytes() {
        return None;
    }
    let (r, s) = raw.split_at(curve.field_bytes());
    let r = BigNum::from_slice(r).ok()?;
    let s = BigNum::from_slice(s).ok()?;
    EcdsaSig::from_private_components(r, s).ok()?.to_der().ok()
}

/// SubjectPublicKeyInfo DER from CKA_EC_POINT (a DER OCTET STRING holding the point, or, from
/// some modules, the bare point).
fn ec_spki(curve: EcCurve, point: &[u8]) -> Option<Vec<u8>> {
    let bare_len = 2 * curve.field_bytes() + 1;
    let wrapped;
    let bare = if point.len() == bare_len {
        point
    } else {
        wrapped = OctetString::from_der(point).ok()?;
        wrapped.as_bytes()
    };
    let mut group = EcGroup::from_curve_name(curve.nid()).ok()?;
    group.set_asn1_flag(openssl::ec::Asn1Flag::NAMED_CURVE);
    let mut ctx = openssl::bn::BigNumContext::new().ok()?;
    let point = EcPoint::from_bytes(&group, bare, &mut ctx).ok()?;
    let key = EcKey::from_public_key(&group, &point).ok()?;
    PKey::from_ec_key(key).ok()?.public_key_to_der().ok()
}
