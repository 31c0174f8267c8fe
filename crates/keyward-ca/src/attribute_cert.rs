//! Attribute certificates (RFC 5755): roles and groups bound to the holder of a public-key
//! certificate, signed by the CA.
//!
//! OpenSSL has no attribute-certificate builder, so the structure is encoded with `der` derive
//! types, the AttributeCertificateInfo is signed through [`Signer::sign_data`](crate::Signer),
//! and the result is checked against the CA certificate's public key before it is returned.

use std::time::Duration;

use der::asn1::{Any, BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString, SetOfVec};
use der::{Choice, Decode, Encode, Sequence};
use openssl::x509::X509Ref;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::{GeneralName, GeneralNames};
use x509_cert::ext::pkix::AuthorityKeyIdentifier;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::{AlgorithmIdentifier, Certificate};

use keyward_policy::AttributeCertificateProcedure;

use crate::{der_err, ossl, CaError, CertificateAuthority};

const ID_AT_ROLE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.72");
const ID_ACA_GROUP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.10.4");
const ID_CE_AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const ID_CE_NO_REV_AVAIL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.56");

/// AttCertVersion v2.
const V2: u8 = 1;

/// What to put in an attribute certificate.
pub struct AttributeCertificateRequest<'a> {
    /// The holder's public-key certificate: the AC names it by its issuer and serial number.
    pub holder: &'a X509Ref,
    /// The attribute-certificate procedure (validity, roles, groups).
    pub procedure: &'a AttributeCertificateProcedure,
    /// Serial number bytes (positive).
    pub serial: [u8; 16],
    /// Start of validity, Unix seconds.
    pub not_before: i64,
}

/// `AttributeCertificate ::= SEQUENCE { acinfo, signatureAlgorithm, signatureValue BIT STRING }`.
#[derive(Sequence)]
struct AttributeCertificate {
    acinfo: AttributeCertificateInfo,
    signature_algorithm: AlgorithmIdentifier,
    signature_value: BitString,
}

/// RFC 5755 4.1 `AttributeCertificateInfo` (no issuerUniqueID: 4.2.8 says it MUST NOT be used).
#[derive(Sequence)]
struct AttributeCertificateInfo {
    version: u8,
    holder: Holder,
    issuer: AttCertIssuer,
    signature: AlgorithmIdentifier,
    serial_number: SerialNumber,
    attr_cert_validity_period: AttCertValidityPeriod,
    attributes: Vec<Attribute>,
    extensions: Option<Vec<Extension>>,
}

/// `Holder ::= SEQUENCE { baseCertificateID [0] IssuerSerial OPTIONAL, … }` (the module is
/// IMPLICIT TAGS); only baseCertificateID is used (RFC 5755 4.2.2).
#[derive(Sequence)]
struct Holder {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    base_certificate_id: Option<IssuerSerial>,
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serial CertificateSerialNumber }`.
#[derive(Sequence)]
struct IssuerSerial {
    issuer: GeneralNames,
    serial: SerialNumber,
}

/// `AttCertIssuer ::= CHOICE { v1Form GeneralNames, v2Form [0] V2Form }`: only v2Form is
/// allowed (RFC 5755 4.2.3).
#[derive(Choice)]
enum AttCertIssuer {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", constructed = "true")]
    V2Form(V2Form),
}

/// `V2Form ::= SEQUENCE { issuerName GeneralNames OPTIONAL, … }`; issuerName only, one
/// directoryName (RFC 5755 4.2.3).
#[derive(Sequence)]
struct V2Form {
    issuer_name: Option<GeneralNames>,
}

/// `AttCertValidityPeriod ::= SEQUENCE { notBeforeTime, notAfterTime GeneralizedTime }`.
#[derive(Sequence)]
struct AttCertValidityPeriod {
    not_before_time: GeneralizedTime,
    not_after_time: GeneralizedTime,
}

/// `RoleSyntax ::= SEQUENCE { roleAuthority [0] GeneralNames OPTIONAL, roleName [1] GeneralName }`.
/// GeneralName is a CHOICE, so its [1] tag is explicit even in an IMPLICIT TAGS module.
#[derive(Sequence)]
struct RoleSyntax {
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    role_name: GeneralName,
}

/// `IetfAttrSyntax ::= SEQUENCE { policyAuthority [0] GeneralNames OPTIONAL, values SEQUENCE OF
/// CHOICE { octets, oid, string UTF8String } }`; groups are UTF8Strings.
#[derive(Sequence)]
struct IetfAttrSyntax {
    values: Vec<String>,
}

/// Seconds since the Unix epoch as a GeneralizedTime; `field` names the time in errors.
fn generalized_time(unix: i64, field: &str) -> Result<GeneralizedTime, CaError> {
    let secs = u64::try_from(unix).map_err(|_| CaError::Encoding {
        field: field.to_string(),
        reason: format!("{unix} is before 1970"),
    })?;
    GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).map_err(der_err(field))
}

fn procedure_err(procedure: &AttributeCertificateProcedure, reason: String) -> CaError {
    CaError::Procedure {
        procedure: procedure.name.clone(),
        reason,
    }
}

/// The attributes: one id-at-role with a RoleSyntax per role, one id-aca-group with all groups.
fn attributes(procedure: &AttributeCertificateProcedure) -> Result<Vec<Attribute>, CaError> {
    let mut attributes = Vec::new();
    if !procedure.roles.is_empty() {
        let mut values = SetOfVec::new();
        for role in &procedure.roles {
            let name = der::asn1::Ia5String::new(role).map_err(|e| {
                procedure_err(
                    procedure,
                    format!("roles: {role:?} is not an IA5String: {e}"),
                )
            })?;
            let syntax = RoleSyntax {
                role_name: GeneralName::UniformResourceIdentifier(name),
            };
            let value = Any::encode_from(&syntax).map_err(der_err("roles"))?;
            // A SET OF is sorted in DER; two equal roles are one value.
            if !values.iter().any(|v| v == &value) {
                values.insert(value).map_err(der_err("roles"))?;
            }
        }
        attributes.push(Attribute {
            oid: ID_AT_ROLE,
            values,
        });
    }
    if !procedure.groups.is_empty() {
        let syntax = IetfAttrSyntax {
            values: procedure.groups.clone(),
        };
        let mut values = SetOfVec::new();
        values
            .insert(Any::encode_from(&syntax).map_err(der_err("groups"))?)
            .map_err(der_err("groups"))?;
        attributes.push(Attribute {
            oid: ID_ACA_GROUP,
            values,
        });
    }
    Ok(attributes)
}

/// authorityKeyIdentifier (keyid = the CA's subjectKeyIdentifier) and noRevAvail (no revocation
/// information is published for these ACs, RFC 5755 4.3.6); both non-critical.
fn extensions(ca: &X509Ref) -> Result<Vec<Extension>, CaError> {
    let ski = ca.subject_key_id().ok_or_else(|| {
        CaError::Assembly("the CA certificate has no subjectKeyIdentifier".into())
    })?;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(
            OctetString::new(ski.as_slice()).map_err(der_err("authorityKeyIdentifier"))?,
        ),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let aki = aki.to_der().map_err(der_err("authorityKeyIdentifier"))?;
    let null = Null.to_der().map_err(der_err("noRevAvail"))?;
    Ok(vec![
        Extension {
            extn_id: ID_CE_AUTHORITY_KEY_IDENTIFIER,
            critical: false,
            extn_value: OctetString::new(aki).map_err(der_err("authorityKeyIdentifier"))?,
        },
        Extension {
            extn_id: ID_CE_NO_REV_AVAIL,
            critical: false,
            extn_value: OctetString::new(null).map_err(der_err("noRevAvail"))?,
        },
    ])
}

/// A certificate as `x509-cert` sees it, to copy its names and serial without re-encoding.
fn parse(cert: &X509Ref, what: &'static str) -> Result<Certificate, CaError> {
    let der = cert.to_der().map_err(ossl(what))?;
    Certificate::from_der(&der).map_err(der_err(what))
}

impl CertificateAuthority {
    /// Issues an RFC 5755 attribute certificate (DER) for the holder of `req.holder`, with the
    /// procedure's roles and groups, valid from `req.not_before` for the procedure's days but
    /// never beyond the holder certificate's or this CA's notAfter. Its signature is checked
    /// with the CA certificate's public key before it is returned.
    pub fn issue_attribute_certificate(
        &self,
        req: &AttributeCertificateRequest<'_>,
    ) -> Result<Vec<u8>, CaError> {
        let procedure = req.procedure;
        procedure
            .validate()
            .map_err(|reason| procedure_err(procedure, reason))?;
        let holder = parse(req.holder, "holder certificate")?;
        let ca = parse(&self.cert, "CA certificate")?;

        let holder_end = holder
            .tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration()
            .as_secs();
        let ca_end = ca
            .tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration()
            .as_secs();
        let wanted_end = req
            .not_before
            .saturating_add(i64::from(procedure.validity_days) * 86_400);
        let end = [holder_end, ca_end]
            .into_iter()
            .map(|t| i64::try_from(t).unwrap_or(i64::MAX))
            .fold(wanted_end, i64::min);
        if end <= req.not_before {
            return Err(procedure_err(
                procedure,
                "the holder certificate (or the CA) expires before the attribute certificate \
                 would start"
                    .into(),
            ));
        }

        let ca_public = self.cert.public_key().map_err(ossl("CA public key"))?;
        // The TBS names its signature algorithm before it is signed: the one the signer will
        // use for this key, checked against what it reports below.
        let algorithm_der = crate::signature_algorithm(
            ca_public.id(),
            keyward_crypto::message_digest_for(&ca_public),
        )?;
        let algorithm = AlgorithmIdentifier::from_der(&algorithm_der)
            .map_err(der_err("signature algorithm"))?;

        let acinfo = AttributeCertificateInfo {
            version: V2,
            holder: Holder {
                base_certificate_id: Some(IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(
                        holder.tbs_certificate().issuer().clone(),
                    )],
                    serial: holder.tbs_certificate().serial_number().clone(),
                }),
            },
            issuer: AttCertIssuer::V2Form(V2Form {
                issuer_name: Some(vec![GeneralName::DirectoryName(
                    ca.tbs_certificate().subject().clone(),
                )]),
            }),
            signature: algorithm.clone(),
            serial_number: SerialNumber::new(&req.serial).map_err(der_err("serial"))?,
            attr_cert_validity_period: AttCertValidityPeriod {
                not_before_time: generalized_time(req.not_before, "not_before")?,
                not_after_time: generalized_time(end, "validity_days")?,
            },
            attributes: attributes(procedure)?,
            extensions: Some(extensions(&self.cert)?),
        };
        let tbs = acinfo.to_der().map_err(der_err("attribute certificate"))?;
        let (signed_algorithm, signature) = self.signer.sign_data(&tbs)?;
        if signed_algorithm != algorithm_der {
            return Err(CaError::Assembly(
                "the CA key signed with another algorithm than its certificate implies".into(),
            ));
        }
        let ac = AttributeCertificate {
            acinfo,
            signature_algorithm: algorithm,
            signature_value: BitString::from_bytes(&signature).map_err(der_err("signature"))?,
        }
        .to_der()
        .map_err(der_err("attribute certificate"))?;

        // Check what leaves: decode the assembled AC and verify its acinfo's signature with the
        // public key relying parties will use, the CA certificate's.
        let back = AttributeCertificate::from_der(&ac).map_err(der_err("attribute certificate"))?;
        let tbs_back = back
            .acinfo
            .to_der()
            .map_err(der_err("attribute certificate"))?;
        let sig_back = back.signature_value.as_bytes().unwrap_or_default();
        if !keyward_crypto::verify_message(&ca_public, &tbs_back, sig_back)? {
            return Err(CaError::Assembly(
                "the attribute certificate's signature does not verify with the CA certificate"
                    .into(),
            ));
        }
        Ok(ac)
    }
}
