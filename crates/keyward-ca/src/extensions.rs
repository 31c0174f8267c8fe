//! X.509 extensions of end-entity certificates.

use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Ref};

use keyward_policy::usage::KeyUsage as Bit;

use crate::{ossl, CaError, IssueRequest};

/// EKU names Keyward knows (RFC 5280 4.2.1.12); anything else must be a dotted OID.
const EKU_NAMES: &[&str] = &[
    "serverAuth",
    "clientAuth",
    "codeSigning",
    "emailProtection",
    "timeStamping",
    "OCSPSigning",
];

/// Adds basicConstraints, keyUsage, extendedKeyUsage, SKI, AKI, subjectAltName, then the
/// procedure's certificatePolicies, cRLDistributionPoints and authorityInfoAccess, and the
/// request's qcStatements.
pub(crate) fn end_entity(
    b: &mut X509Builder,
    ca: &X509Ref,
    req: &IssueRequest<'_>,
) -> Result<(), CaError> {
    let procedure = req.procedure;
    let bc = BasicConstraints::new()
        .critical()
        .build()
        .map_err(ossl("basicConstraints"))?;
    b.append_extension(bc).map_err(ossl("basicConstraints"))?;
    if !procedure.key_usage.is_empty() {
        let mut ku = KeyUsage::new();
        ku.critical();
        for bit in procedure.key_usage.iter() {
            match bit {
                Bit::DigitalSignature => ku.digital_signature(),
                Bit::NonRepudiation => ku.non_repudiation(),
                Bit::KeyEncipherment => ku.key_encipherment(),
                Bit::DataEncipherment => ku.data_encipherment(),
                Bit::KeyAgreement => ku.key_agreement(),
                Bit::KeyCertSign => ku.key_cert_sign(),
                Bit::CrlSign => ku.crl_sign(),
            };
        }
        b.append_extension(ku.build().map_err(ossl("keyUsage"))?)
            .map_err(ossl("keyUsage"))?;
    }
    if !procedure.extended_key_usage.is_empty() {
        let mut eku = ExtendedKeyUsage::new();
        for usage in &procedure.extended_key_usage {
            let is_oid = !usage.is_empty()
                && usage.split('.').count() >= 2
                && usage
                    .split('.')
                    .all(|arc| !arc.is_empty() && arc.chars().all(|c| c.is_ascii_digit()));
            if !EKU_NAMES.contains(&usage.as_str()) && !is_oid {
                return Err(CaError::Procedure {
                    procedure: procedure.name.clone(),
                    reason: format!(
                        "unknown extended key usage {usage:?}; use {} or a dotted OID",
                        EKU_NAMES.join(", ")
                    ),
                });
            }
            eku.other(usage);
        }
        b.append_extension(eku.build().map_err(ossl("extendedKeyUsage"))?)
            .map_err(ossl("extendedKeyUsage"))?;
    }
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(Some(ca), None))
        .map_err(ossl("subjectKeyIdentifier"))?;
    b.append_extension(ski)
        .map_err(ossl("subjectKeyIdentifier"))?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(Some(ca), None))
        .map_err(ossl("authorityKeyIdentifier"))?;
    b.append_extension(aki)
        .map_err(ossl("authorityKeyIdentifier"))?;
    if req.email.is_some() || !req.dns_names.is_empty() || !req.ip_addresses.is_empty() {
        let mut san = SubjectAlternativeName::new();
        if let Some(email) = req.email {
            san.email(email);
        }
        for dns in req.dns_names {
            san.dns(dns);
        }
        for ip in req.ip_addresses {
            san.ip(&ip.to_string());
        }
        let ext = san
            .build(&b.x509v3_context(Some(ca), None))
            .map_err(ossl("subjectAltName"))?;
        b.append_extension(ext).map_err(ossl("subjectAltName"))?;
    }
    crate::policies::append(b, procedure)?;
    crate::qc::append(b, req.qc_statements)?;
    Ok(())
}
