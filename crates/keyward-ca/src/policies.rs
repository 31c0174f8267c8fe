//! certificatePolicies, cRLDistributionPoints and authorityInfoAccess from a certificate
//! procedure (RFC 5280 4.2.1.4, 4.2.1.13, 4.2.2.1), as typed `x509-cert` structures.
//!
//! OpenSSL's text configuration could write these too, but only through its config-string
//! syntax, where a URL or a notice containing `,` or `@` changes meaning; DER built from types
//! has no such escaping problem.

use der::asn1::{Any, Ia5String, ObjectIdentifier};
use der::Encode;
use openssl::x509::X509Builder;
use x509_cert::ext::pkix::certpolicy::{
    DisplayText, PolicyInformation, PolicyQualifierInfo, UserNotice,
};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, CertificatePolicies, CrlDistributionPoints,
};

use keyward_policy::CertificateProcedure;

use crate::der_extension::append_der;
use crate::CaError;

const ID_CE_CERTIFICATE_POLICIES: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32");
const ID_CE_CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const ID_PE_AUTHORITY_INFO_ACCESS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const ID_QT_CPS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.2.1");
const ID_QT_UNOTICE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.2.2");
const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1).
const ID_PKIX_OCSP_NOCHECK: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");
/// Its extension value: an ASN.1 NULL.
const NULL_DER: [u8; 2] = [0x05, 0x00];
const ID_AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// A procedure error naming the field.
fn field_err(procedure: &CertificateProcedure, field: &str, reason: String) -> CaError {
    CaError::Procedure {
        procedure: procedure.name.clone(),
        reason: format!("{field}: {reason}"),
    }
}

/// A URI GeneralName; URIs are IA5String, so non-ASCII is refused here, naming the field.
fn uri(procedure: &CertificateProcedure, field: &str, url: &str) -> Result<GeneralName, CaError> {
    Ia5String::new(url)
        .map(GeneralName::UniformResourceIdentifier)
        .map_err(|e| {
            field_err(
                procedure,
                field,
                format!("{url:?} is not an IA5String URI: {e}"),
            )
        })
}

/// Appends the three extensions the procedure asks for; each is absent when its list is empty.
/// All are non-critical (RFC 5280: certificatePolicies SHOULD NOT be critical for interoperability,
/// the others MUST NOT / SHOULD NOT be).
pub(crate) fn append(b: &mut X509Builder, procedure: &CertificateProcedure) -> Result<(), CaError> {
    if let Some(der) = certificate_policies(procedure)? {
        append_der(
            b,
            ID_CE_CERTIFICATE_POLICIES,
            false,
            &der,
            "certificatePolicies",
        )?;
    }
    if let Some(der) = crl_distribution_points(procedure)? {
        append_der(
            b,
            ID_CE_CRL_DISTRIBUTION_POINTS,
            false,
            &der,
            "cRLDistributionPoints",
        )?;
    }
    if let Some(der) = authority_info_access(procedure)? {
        append_der(
            b,
            ID_PE_AUTHORITY_INFO_ACCESS,
            false,
            &der,
            "authorityInfoAccess",
        )?;
    }
    if procedure.ocsp_no_check {
        // Non-critical with a NULL value, as RFC 6960 §4.2.2.2.1 defines it.
        append_der(
            b,
            ID_PKIX_OCSP_NOCHECK,
            false,
            &NULL_DER,
            "id-pkix-ocsp-nocheck",
        )?;
    }
    Ok(())
}

fn certificate_policies(procedure: &CertificateProcedure) -> Result<Option<Vec<u8>>, CaError> {
    if procedure.certificate_policies.is_empty() {
        return Ok(None);
    }
    let mut policies = Vec::with_capacity(procedure.certificate_policies.len());
    for policy in &procedure.certificate_policies {
        let oid = ObjectIdentifier::new(&policy.oid).map_err(|e| {
            field_err(
                procedure,
                "certificate_policies",
                format!("{:?} is not a dotted OID: {e}", policy.oid),
            )
        })?;
        // RFC 5280 4.2.1.4: a policy OID MUST NOT appear more than once.
        if policies
            .iter()
            .any(|p: &PolicyInformation| p.policy_identifier == oid)
        {
            return Err(field_err(
                procedure,
                "certificate_policies",
                format!("{} is listed twice", policy.oid),
            ));
        }
        let mut qualifiers = Vec::new();
        if let Some(cps) = &policy.cps {
            let cps = Ia5String::new(cps).map_err(|e| {
                field_err(
                    procedure,
                    "certificate_policies.cps",
                    format!("{cps:?} is not an IA5String URI: {e}"),
                )
            })?;
            qualifiers.push(PolicyQualifierInfo {
                policy_qualifier_id: ID_QT_CPS,
                qualifier: Some(Any::encode_from(&cps).map_err(|e| {
                    field_err(procedure, "certificate_policies.cps", e.to_string())
                })?),
            });
        }
        if let Some(notice) = &policy.notice {
            // RFC 5280 says explicitText SHOULD be UTF8String.
            let notice = UserNotice {
                notice_ref: None,
                explicit_text: Some(DisplayText::Utf8String(notice.clone())),
            };
            qualifiers.push(PolicyQualifierInfo {
                policy_qualifier_id: ID_QT_UNOTICE,
                qualifier: Some(Any::encode_from(&notice).map_err(|e| {
                    field_err(procedure, "certificate_policies.notice", e.to_string())
                })?),
            });
        }
        policies.push(PolicyInformation {
            policy_identifier: oid,
            policy_qualifiers: (!qualifiers.is_empty()).then_some(qualifiers),
        });
    }
    CertificatePolicies(policies)
        .to_der()
        .map(Some)
        .map_err(|e| field_err(procedure, "certificate_policies", e.to_string()))
}

fn crl_distribution_points(procedure: &CertificateProcedure) -> Result<Option<Vec<u8>>, CaError> {
    if procedure.crl_urls.is_empty() {
        return Ok(None);
    }
    let names = procedure
        .crl_urls
        .iter()
        .map(|url| uri(procedure, "crl_urls", url))
        .collect::<Result<Vec<_>, _>>()?;
    // One distribution point whose fullName lists every URL: they are the same CRL, served in
    // several places (RFC 5280 4.2.1.13).
    CrlDistributionPoints(vec![DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(names)),
        reasons: None,
        crl_issuer: None,
    }])
    .to_der()
    .map(Some)
    .map_err(|e| field_err(procedure, "crl_urls", e.to_string()))
}

fn authority_info_access(procedure: &CertificateProcedure) -> Result<Option<Vec<u8>>, CaError> {
    if procedure.ocsp_urls.is_empty() && procedure.ca_issuers_urls.is_empty() {
        return Ok(None);
    }
    let mut access = Vec::new();
    for url in &procedure.ocsp_urls {
        access.push(AccessDescription {
            access_method: ID_AD_OCSP,
            access_location: uri(procedure, "ocsp_urls", url)?,
        });
    }
    for url in &procedure.ca_issuers_urls {
        access.push(AccessDescription {
            access_method: ID_AD_CA_ISSUERS,
            access_location: uri(procedure, "ca_issuers_urls", url)?,
        });
    }
    AuthorityInfoAccessSyntax(access)
        .to_der()
        .map(Some)
        .map_err(|e| field_err(procedure, "ocsp_urls, ca_issuers_urls", e.to_string()))
}
