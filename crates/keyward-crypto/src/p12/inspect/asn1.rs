//! The PKCS#12 structures (RFC 7292, RFC 8018, RFC 9579) as `der` types, decode-only.
//!
//! Every decoder takes the reader's encoding rules, so one set of types reads strict DER or,
//! as a fallback, BER (indefinite lengths, constructed OCTET STRINGs). Nothing here derives
//! `Debug`: a keyBag holds a private key in clear and a secretBag a secret.

use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{
    Decode, DecodeValue, EncodingRules, ErrorKind, FixedTag, Header, Reader, Sequence, SliceReader,
    Tag, TagNumber,
};
use zeroize::Zeroizing;

use super::oid;

/// Decodes one `T` filling `bytes` under `rules`.
pub(super) fn decode<'a, T>(bytes: &'a [u8], rules: EncodingRules) -> der::Result<T>
where
    T: Decode<'a, Error = der::Error>,
{
    let mut reader = SliceReader::new_with_encoding_rules(bytes, rules)?;
    let value = T::decode(&mut reader)?;
    reader.finish()?;
    Ok(value)
}

/// An `[0] EXPLICIT` field that must be present.
fn explicit0<'a, T, R>(reader: &mut R) -> der::Result<T>
where
    T: Decode<'a, Error = der::Error>,
    R: Reader<'a>,
{
    match der::asn1::ContextSpecific::<T>::decode_explicit(reader, TagNumber(0))? {
        Some(field) => Ok(field.value),
        None => {
            let actual = Tag::peek(reader)?;
            let expected = Some(Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(0),
            });
            Err(reader.error(ErrorKind::TagUnexpected { expected, actual }))
        }
    }
}

/// One whole TLV, kept as bytes (wiped on drop: it may be a key or a secret).
pub(super) struct Tlv(pub(super) Zeroizing<Vec<u8>>);

impl<'a> Decode<'a> for Tlv {
    type Error = der::Error;

    fn decode<R: Reader<'a>>(reader: &mut R) -> der::Result<Self> {
        Ok(Tlv(Zeroizing::new(reader.tlv_bytes()?.to_vec())))
    }
}

/// `AlgorithmIdentifier`.
#[derive(Clone, Sequence)]
pub(super) struct AlgId {
    pub(super) oid: ObjectIdentifier,
    pub(super) parameters: Option<Any>,
}

impl AlgId {
    /// The parameters decoded as `T` (absent parameters are an error).
    pub(super) fn params<'a, T>(&'a self, rules: EncodingRules) -> Option<T>
    where
        T: der::Choice<'a> + DecodeValue<'a, Error = der::Error>,
    {
        self.parameters.as_ref()?.decode_as_encoding(rules).ok()
    }
}

/// `PFX`.
pub(super) struct Pfx {
    pub(super) version: u64,
    /// The authSafe content type and, for `data`, the AuthenticatedSafe encoding.
    pub(super) auth_safe_type: ObjectIdentifier,
    pub(super) auth_safe: Option<Vec<u8>>,
    pub(super) mac_data: Option<MacData>,
}

impl<'a> DecodeValue<'a> for Pfx {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let version = reader.decode()?;
        let info: ContentInfo = reader.decode()?;
        let auth_safe = match info.content {
            Content::Data(bytes) => Some(bytes),
            _ => None,
        };
        Ok(Pfx {
            version,
            auth_safe_type: info.content_type,
            auth_safe,
            mac_data: reader.decode()?,
        })
    }
}

impl Sequence<'_> for Pfx {}

/// `MacData`.
#[derive(Sequence)]
pub(super) struct MacData {
    pub(super) mac: DigestInfo,
    pub(super) mac_salt: OctetString,
    #[asn1(default = "one")]
    pub(super) iterations: u64,
}

fn one() -> u64 {
    1
}

/// `DigestInfo`.
#[derive(Sequence)]
pub(super) struct DigestInfo {
    pub(super) algorithm: AlgId,
    pub(super) digest: OctetString,
}

/// What a `ContentInfo` of the AuthenticatedSafe carries.
pub(super) enum Content {
    /// `data`: the SafeContents encoding.
    Data(Vec<u8>),
    /// `encryptedData`.
    Encrypted(EncryptedData),
    /// Anything else (envelopedData, …), or no content.
    Other,
}

/// `ContentInfo`.
pub(super) struct ContentInfo {
    pub(super) content_type: ObjectIdentifier,
    pub(super) content: Content,
}

impl<'a> DecodeValue<'a> for ContentInfo {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let content_type: ObjectIdentifier = reader.decode()?;
        let content = if reader.is_finished() {
            Content::Other
        } else if content_type == oid::DATA {
            Content::Data(explicit0::<OctetString, _>(reader)?.into_bytes().into_vec())
        } else if content_type == oid::ENCRYPTED_DATA {
            Content::Encrypted(explicit0(reader)?)
        } else {
            explicit0::<Tlv, _>(reader)?;
            Content::Other
        };
        Ok(ContentInfo {
            content_type,
            content,
        })
    }
}

impl Sequence<'_> for ContentInfo {}

/// `EncryptedData` (CMS): its `unprotectedAttrs` are skipped.
pub(super) struct EncryptedData {
    pub(super) info: EncryptedContentInfo,
}

impl<'a> DecodeValue<'a> for EncryptedData {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let _version: u64 = reader.decode()?;
        let info = reader.decode()?;
        while !reader.is_finished() {
            reader.decode::<Tlv>()?;
        }
        Ok(EncryptedData { info })
    }
}

impl Sequence<'_> for EncryptedData {}

/// `EncryptedContentInfo`.
#[derive(Sequence)]
pub(super) struct EncryptedContentInfo {
    pub(super) content_type: ObjectIdentifier,
    pub(super) algorithm: AlgId,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub(super) encrypted_content: Option<OctetString>,
}

/// `EncryptedPrivateKeyInfo` (PKCS#8).
#[derive(Sequence)]
pub(super) struct EncryptedPrivateKeyInfo {
    pub(super) algorithm: AlgId,
    pub(super) encrypted_data: OctetString,
}

/// What a `SafeBag` holds.
pub(super) enum BagValue {
    /// keyBag: the PrivateKeyInfo encoding (a key in clear, wiped on drop).
    Key(Tlv),
    /// pkcs8ShroudedKeyBag.
    Shrouded(EncryptedPrivateKeyInfo),
    /// certBag or crlBag: the type and, for X.509, the DER.
    Cert {
        kind: ObjectIdentifier,
        der: Option<Vec<u8>>,
    },
    /// secretBag: only its type (the value is never kept).
    Secret(ObjectIdentifier),
    /// safeContentsBag.
    Nested(Vec<SafeBag>),
    /// A bag type this code does not know.
    Other,
}

/// `SafeBag`.
pub(super) struct SafeBag {
    pub(super) bag_id: ObjectIdentifier,
    pub(super) value: BagValue,
    pub(super) attributes: Vec<Attribute>,
}

impl<'a> DecodeValue<'a> for SafeBag {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let bag_id: ObjectIdentifier = reader.decode()?;
        let value = match bag_id {
            oid::KEY_BAG => BagValue::Key(explicit0(reader)?),
            oid::SHROUDED_KEY_BAG => BagValue::Shrouded(explicit0(reader)?),
            oid::CERT_BAG | oid::CRL_BAG => {
                let TypedValue { kind, der } = explicit0(reader)?;
                BagValue::Cert { kind, der }
            }
            oid::SECRET_BAG => BagValue::Secret(explicit0::<SecretValue, _>(reader)?.0),
            oid::SAFE_CONTENTS_BAG => BagValue::Nested(explicit0(reader)?),
            _ => {
                explicit0::<Tlv, _>(reader)?;
                BagValue::Other
            }
        };
        let attributes = match reader.decode::<Option<Attributes>>()? {
            Some(set) => set.0,
            None => Vec::new(),
        };
        Ok(SafeBag {
            bag_id,
            value,
            attributes,
        })
    }
}

impl Sequence<'_> for SafeBag {}

/// `CertBag` / `CRLBag`: `{ type OID, [0] EXPLICIT value }`; X.509 values are OCTET STRINGs.
struct TypedValue {
    kind: ObjectIdentifier,
    der: Option<Vec<u8>>,
}

impl<'a> DecodeValue<'a> for TypedValue {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let kind: ObjectIdentifier = reader.decode()?;
        let der = if kind == oid::X509_CERTIFICATE || kind == oid::X509_CRL {
            Some(explicit0::<OctetString, _>(reader)?.into_bytes().into_vec())
        } else {
            explicit0::<Tlv, _>(reader)?;
            None
        };
        Ok(TypedValue { kind, der })
    }
}

impl Sequence<'_> for TypedValue {}

/// `SecretBag`: the type is kept, the value is read and dropped (wiped).
struct SecretValue(ObjectIdentifier);

impl<'a> DecodeValue<'a> for SecretValue {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let kind = reader.decode()?;
        explicit0::<Tlv, _>(reader)?;
        Ok(SecretValue(kind))
    }
}

impl Sequence<'_> for SecretValue {}

/// `SET OF Attribute`, in file order (DER would sort it; an inspector shows what is there).
struct Attributes(Vec<Attribute>);

impl<'a> DecodeValue<'a> for Attributes {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let mut items = Vec::new();
        while !reader.is_finished() {
            items.push(reader.decode()?);
        }
        Ok(Attributes(items))
    }
}

impl FixedTag for Attributes {
    const TAG: Tag = Tag::Set;
}

/// `Attribute`: its type and each value as (tag, content octets).
pub(super) struct Attribute {
    pub(super) oid: ObjectIdentifier,
    pub(super) values: Vec<Any>,
}

impl<'a> DecodeValue<'a> for Attribute {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let oid = reader.decode()?;
        let values = reader.decode::<AnySet>()?.0;
        Ok(Attribute { oid, values })
    }
}

impl Sequence<'_> for Attribute {}

/// `SET OF ANY` in file order.
struct AnySet(Vec<Any>);

impl<'a> DecodeValue<'a> for AnySet {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let mut items = Vec::new();
        while !reader.is_finished() {
            items.push(reader.decode()?);
        }
        Ok(AnySet(items))
    }
}

impl FixedTag for AnySet {
    const TAG: Tag = Tag::Set;
}

/// Everything of a PFX that is readable without the PIN.
pub(super) struct Outer {
    pub(super) pfx: Pfx,
    pub(super) safes: Vec<ParsedSafe>,
}

/// One AuthenticatedSafe entry.
pub(super) struct ParsedSafe {
    pub(super) content_type: ObjectIdentifier,
    pub(super) body: SafeBody,
}

/// The content of an AuthenticatedSafe entry.
pub(super) enum SafeBody {
    /// `data`: its bags.
    Plain(Vec<SafeBag>),
    /// `encryptedData`: algorithm and ciphertext.
    Encrypted(EncryptedContentInfo),
    /// Anything else.
    Other,
}

/// The PFX, its AuthenticatedSafe and the bags of its plain safes, all under `rules`.
pub(super) fn outer(bytes: &[u8], rules: EncodingRules) -> der::Result<Outer> {
    let pfx: Pfx = decode(bytes, rules)?;
    let mut safes = Vec::new();
    if let Some(auth_safe) = &pfx.auth_safe {
        for info in decode::<Vec<ContentInfo>>(auth_safe, rules)? {
            let body = match info.content {
                Content::Data(bytes) => SafeBody::Plain(decode(&bytes, rules)?),
                Content::Encrypted(data) => SafeBody::Encrypted(data.info),
                Content::Other => SafeBody::Other,
            };
            safes.push(ParsedSafe {
                content_type: info.content_type,
                body,
            });
        }
    }
    Ok(Outer { pfx, safes })
}
