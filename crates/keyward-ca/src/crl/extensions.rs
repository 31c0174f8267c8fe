//! crlExtensions (RFC 5280 §5.2): authorityKeyIdentifier, cRLNumber, deltaCRLIndicator and
//! issuingDistributionPoint, encoded once when a CRL begins.

use der::asn1::{ContextSpecific, Ia5String, ObjectIdentifier, OctetString, Uint};
use der::{Encode, TagMode, TagNumber};
use openssl::x509::X509Ref;
use x509_cert::ext::pkix::crl::dp::{DistributionPoint, IssuingDistributionPoint};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BaseCrlNumber, CrlNumber, FreshestCrl};
use x509_cert::ext::Extension;

use super::{crl_err, CrlParams};
use crate::CaError;

const ID_CE_AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const ID_CE_CRL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.20");
const ID_CE_FRESHEST_CRL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.46");
const ID_CE_DELTA_CRL_INDICATOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.27");
// Spelled out: x509-cert 0.3.0 gives IssuingDistributionPoint the OID of subjectInfoAccess.
const ID_CE_ISSUING_DISTRIBUTION_POINT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.28");

fn extension(
    oid: ObjectIdentifier,
    critical: bool,
    value: &impl Encode,
    what: &str,
) -> Result<Extension, CaError> {
    let der = value.to_der().map_err(|e| crl_err(what, e.to_string()))?;
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(der).map_err(|e| crl_err(what, e.to_string()))?,
    })
}

/// `[0] fullName { uniformResourceIdentifier url }`; `what` names the field in errors.
fn full_name(url: &str, what: &str) -> Result<DistributionPointName, CaError> {
    let uri = Ia5String::new(url).map_err(|e| crl_err(what, e.to_string()))?;
    Ok(DistributionPointName::FullName(vec![
        GeneralName::UniformResourceIdentifier(uri),
    ]))
}

fn number(n: u64, what: &str) -> Result<Uint, CaError> {
    Uint::try_from(n).map_err(|e| crl_err(what, e.to_string()))
}

/// The DER of `[0] EXPLICIT Extensions` for a CRL of `ca` as `params` say; the caller has
/// checked `params` (see `CrlWriter::begin`).
pub(super) fn crl_extensions(ca: &X509Ref, params: &CrlParams) -> Result<Vec<u8>, CaError> {
    let ski = ca.subject_key_id().ok_or_else(|| {
        CaError::Assembly("the CA certificate has no subjectKeyIdentifier".into())
    })?;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(
            OctetString::new(ski.as_slice())
                .map_err(|e| crl_err("authorityKeyIdentifier", e.to_string()))?,
        ),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    // RFC 5280 order does not matter; this is the order OpenSSL's `ca -gencrl` writes.
    let mut extensions = vec![
        extension(
            ID_CE_AUTHORITY_KEY_IDENTIFIER,
            false,
            &aki,
            "authorityKeyIdentifier",
        )?,
        extension(
            ID_CE_CRL_NUMBER,
            false,
            &CrlNumber(number(params.number, "number")?),
            "number",
        )?,
    ];
    if let Some(base) = params.delta_of {
        extensions.push(extension(
            ID_CE_DELTA_CRL_INDICATOR,
            true,
            &BaseCrlNumber(number(base, "delta_of")?),
            "delta_of",
        )?);
    }
    if let Some(url) = &params.idp_url {
        let idp = IssuingDistributionPoint {
            distribution_point: Some(full_name(url, "idp_url")?),
            only_contains_user_certs: false,
            only_contains_ca_certs: false,
            only_some_reasons: None,
            indirect_crl: false,
            only_contains_attribute_certs: false,
        };
        extensions.push(extension(
            ID_CE_ISSUING_DISTRIBUTION_POINT,
            true,
            &idp,
            "idp_url",
        )?);
    }
    if let Some(url) = &params.freshest_url {
        let freshest = FreshestCrl(vec![DistributionPoint {
            distribution_point: Some(full_name(url, "freshest_url")?),
            reasons: None,
            crl_issuer: None,
        }]);
        extensions.push(extension(
            ID_CE_FRESHEST_CRL,
            false,
            &freshest,
            "freshest_url",
        )?);
    }
    ContextSpecific {
        tag_number: TagNumber(0),
        tag_mode: TagMode::Explicit,
        value: extensions,
    }
    .to_der()
    .map_err(|e| crl_err("crlExtensions", e.to_string()))
}
