//! Procedures are data: certificate, key and token procedures, as the administrator writes them
//! in `procedures.toml` and as the store keeps them.

use serde::{Deserialize, Serialize};

use crate::attribute::AttributeCertificateProcedure;
use crate::keyspec::KeySpec;
use crate::p12::{FriendlyName, P12Profile};
use crate::pin::PinProcedure;
use crate::qc::{QcKind, QcStatements};
use crate::usage::KeyUsageSet;

mod revoke_old;
mod set;

pub use revoke_old::RevokeOld;

/// One subject attribute a certificate procedure accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubjectRule {
    /// Short name: `CN`, `O`, `OU`, `C`, `L`, `ST`, `serialNumber`, `GN`, `SN`, …
    pub attribute: String,
    /// The officer must fill it in.
    #[serde(default)]
    pub required: bool,
    /// Longest value accepted, in characters.
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// May appear more than once.
    #[serde(default)]
    pub multiple: bool,
}

fn default_max_len() -> usize {
    64
}

/// Whether a field is asked for: the e-mail (an rfc822Name subjectAltName), DNS names, IP
/// addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EmailRule {
    /// Refused if given.
    #[default]
    Forbidden,
    /// Used if given.
    Optional,
    /// Must be given.
    Required,
}

fn is_forbidden(rule: &EmailRule) -> bool {
    *rule == EmailRule::Forbidden
}

/// One certificatePolicies entry (RFC 5280 4.2.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyInfo {
    /// The policy's OID, dotted (`0.4.0.194112.1.0` for QCP-n).
    pub oid: String,
    /// A CPS pointer qualifier: the URL of the certification practice statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cps: Option<String>,
    /// A user notice qualifier's explicit text (at most 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// Longest validity a certificate procedure may give, in days (100 years): a certificate must
/// end in a year X.509 can write, and an end time so far off is a typing error anyway.
pub const MAX_VALIDITY_DAYS: u32 = 36_525;

/// A certificate profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateProcedure {
    /// Unique name.
    pub name: String,
    /// Text shown to officers.
    #[serde(default)]
    pub description: String,
    /// Validity of issued certificates, in days.
    pub validity_days: u32,
    /// The key usage definition (may be empty: no keyUsage extension).
    #[serde(default)]
    pub key_usage: KeyUsageSet,
    /// Extended key usages by name (`clientAuth`, `emailProtection`, …) or dotted OID.
    #[serde(default)]
    pub extended_key_usage: Vec<String>,
    /// Accepted subject attributes; anything else is refused.
    pub subject: Vec<SubjectRule>,
    /// The scripts subject values may be written in (`["Latin"]`; Unicode script names or
    /// ISO 15924 codes), mixed as they may within one value. Empty: any script, but one per
    /// value, so that a name cannot mix look-alike letters of two scripts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_scripts: Vec<String>,
    /// The e-mail field rule.
    #[serde(default)]
    pub email: EmailRule,
    /// Key specs this procedure accepts for RA-generated keys; empty means every configured one.
    #[serde(default)]
    pub key_specs: Vec<KeySpec>,
    /// Whether the officer gives dNSName subjectAltNames (`--dns-name`).
    #[serde(default, skip_serializing_if = "is_forbidden")]
    pub dns_names: EmailRule,
    /// Whether the officer gives iPAddress subjectAltNames (`--ip`).
    #[serde(default, skip_serializing_if = "is_forbidden")]
    pub ip_addresses: EmailRule,
    /// certificatePolicies, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_policies: Vec<PolicyInfo>,
    /// cRLDistributionPoints: one distribution point with these URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crl_urls: Vec<String>,
    /// authorityInfoAccess id-ad-ocsp URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ocsp_urls: Vec<String>,
    /// authorityInfoAccess id-ad-caIssuers URLs (where the issuing CA's certificate is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_issuers_urls: Vec<String>,
    /// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): a delegated OCSP signing certificate that
    /// relying parties trust for its lifetime without checking its own status. Only with the
    /// `OCSPSigning` extended key usage.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ocsp_no_check: bool,
    /// QC statements every certificate of this procedure carries; an officer cannot override
    /// them.
    #[serde(default, skip_serializing_if = "QcStatements::is_empty")]
    pub qc_statements: QcStatements,
    /// Kinds of QC statement an officer may add at issuance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub qc_officer_may_add: Vec<QcKind>,
    /// Kinds of QC statement an officer must add at issuance (each also in `qc_officer_may_add`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub qc_officer_must_add: Vec<QcKind>,
}

impl CertificateProcedure {
    /// Checks the procedure's own content: validity, URLs, policy OIDs, QC statements.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_VALIDITY_DAYS).contains(&self.validity_days) {
            return Err(format!(
                "validity_days must be 1 to {MAX_VALIDITY_DAYS} (100 years)"
            ));
        }
        if let Some(name) = self
            .subject_scripts
            .iter()
            .find(|s| crate::subject::script_named(s).is_none())
        {
            return Err(format!(
                "subject_scripts: {name:?} is not a Unicode script name (Latin, Cyrillic, \
                 Greek, …) or ISO 15924 code (Latn, …)"
            ));
        }
        if self.marks_officers() {
            return Err(format!(
                "extended_key_usage: {OFFICER_TLS_EKU} marks Keyward officers' TLS certificates; \
                 Keyward writes it itself when it enrolls an officer, never through a procedure"
            ));
        }
        if self.ocsp_no_check
            && !self
                .extended_key_usage
                .iter()
                .any(|u| u == "OCSPSigning" || same_oid(u, ID_KP_OCSP_SIGNING))
        {
            return Err(
                "ocsp_no_check: only for OCSP signing certificates (extended_key_usage \
                 OCSPSigning)"
                    .into(),
            );
        }
        for (field, urls) in [
            ("crl_urls", &self.crl_urls),
            ("ocsp_urls", &self.ocsp_urls),
            ("ca_issuers_urls", &self.ca_issuers_urls),
        ] {
            for url in urls {
                check_uri(url).map_err(|r| format!("{field}: {r}"))?;
            }
        }
        for policy in &self.certificate_policies {
            if !is_dotted_oid(&policy.oid) {
                return Err(format!(
                    "certificate_policies: {:?} is not a dotted OID",
                    policy.oid
                ));
            }
            if let Some(cps) = &policy.cps {
                check_uri(cps).map_err(|r| format!("certificate_policies.cps: {r}"))?;
            }
            if let Some(notice) = &policy.notice {
                if notice.is_empty()
                    || notice.chars().count() > 200
                    || notice.chars().any(char::is_control)
                {
                    return Err(
                        "certificate_policies.notice: 1 to 200 characters, no control characters"
                            .into(),
                    );
                }
            }
        }
        self.qc_statements.validate().map_err(|e| e.to_string())?;
        if let Some(kind) = self
            .qc_officer_must_add
            .iter()
            .find(|k| !self.qc_officer_may_add.contains(k))
        {
            return Err(format!(
                "qc_officer_must_add: {kind} is not also in qc_officer_may_add"
            ));
        }
        if let Some(kind) = self
            .qc_officer_may_add
            .iter()
            .find(|k| self.qc_statements.has(**k))
        {
            return Err(format!(
                "qc_officer_may_add: {kind} is already set by qc_statements"
            ));
        }
        Ok(())
    }

    /// Whether the procedure lists the officer marker [`OFFICER_TLS_EKU`] (however its arcs
    /// are written: `2.25.0…` names the same OID for OpenSSL).
    pub fn marks_officers(&self) -> bool {
        self.extended_key_usage
            .iter()
            .any(|usage| same_oid(usage, OFFICER_TLS_EKU))
    }

    /// Whether an officer may add QC statements to certificates of this procedure.
    pub fn takes_officer_qc(&self) -> bool {
        !self.qc_officer_may_add.is_empty()
    }
}

/// The extended key usage that marks a Keyward officer's TLS client certificate: the API
/// accepts at the TLS layer only client certificates that carry it (besides clientAuth), so
/// holders of end-user certificates, which carry clientAuth too, are refused at the handshake.
///
/// An EKU rather than a certificate policy: it states what the key may be used for (logging in
/// to Keyward's API as an officer), which is what the TLS layer asks, and path validation does
/// not narrow it the way policy processing narrows policies along the chain. The OID is under
/// `2.25` (ITU-T X.667 / RFC 4122 section 6: an OID made from a UUID, here
/// f6ef452e-cf35-4811-8427-e97ba5a54790, belongs to whoever generated the UUID and needs no
/// registration), the one arc Keyward owns without an IANA enterprise number.
pub const OFFICER_TLS_EKU: &str = "2.25.328232449107165066593936364209183213456";

/// id-kp-OCSPSigning, dotted.
const ID_KP_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

/// Whether two dotted OIDs are the same (arcs compared without leading zeros).
fn same_oid(a: &str, b: &str) -> bool {
    let arcs = |s: &str| -> Vec<String> {
        s.trim()
            .split('.')
            .map(|arc| {
                let t = arc.trim_start_matches('0');
                if t.is_empty() {
                    "0".to_string()
                } else {
                    t.to_string()
                }
            })
            .collect()
    };
    arcs(a) == arcs(b)
}

/// An OID written with dots: at least two arcs of digits.
pub fn is_dotted_oid(text: &str) -> bool {
    text.split('.').count() >= 2
        && text.split('.').all(|arc| {
            !arc.is_empty() && arc.len() <= 10 && arc.bytes().all(|b| b.is_ascii_digit())
        })
}

fn check_uri(url: &str) -> Result<(), String> {
    let ok =
        (url.starts_with("http://") || url.starts_with("https://") || url.starts_with("ldap://"))
            && url.len() > 8
            && url.len() <= 1024
            && url.is_ascii()
            && !url
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
    if ok {
        Ok(())
    } else {
        Err(format!("{url:?} is not an http(s) or ldap URL"))
    }
}

/// `last`: only the key of the user's last certificate; `all`: every archived key of the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RecoverScope {
    /// The key of the last issued certificate.
    Last,
    /// Every archived key of the user.
    All,
}

/// The certificate delivered with a recovered key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RecoverCertificate {
    /// Issue a new certificate through this certificate procedure.
    New {
        /// The certificate procedure that certifies the recovered key.
        certificate_procedure: String,
    },
    /// Deliver the certificate issued when the key was archived.
    Reuse,
}

/// What a key procedure asks of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyAction {
    /// The server generates the key with this spec, archives it, and it is certified through the
    /// token's certificate procedure of the same key usage.
    Archive {
        /// Spec of the server-generated key (the officer's choice does not apply).
        key_spec: KeySpec,
    },
    /// The server returns archived keys.
    Recover {
        /// Which keys.
        scope: RecoverScope,
        /// Which certificate comes with them.
        certificate: RecoverCertificate,
        /// With a `new` certificate: the reason the old certificates of the recovered keys are
        /// revoked with, in the transaction that records the new ones (`none`: kept).
        #[serde(default, skip_serializing_if = "RevokeOld::is_none")]
        revoke_old: RevokeOld,
    },
}

/// A key procedure: archive or recover, for one key usage definition. (No `deny_unknown_fields`:
/// serde does not support it together with `flatten`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyProcedure {
    /// Unique name.
    pub name: String,
    /// Text shown to officers.
    #[serde(default)]
    pub description: String,
    /// The key usage definition of the keys it handles.
    #[serde(default)]
    pub key_usage: KeyUsageSet,
    /// Archive or recover.
    #[serde(flatten)]
    pub action: KeyAction,
    /// For `recover`: how many officers with `recover-key`, other than the requester, must
    /// approve a recovery before the keys are released (0: none; M-of-N recovery).
    #[serde(default)]
    pub approvals: u32,
    /// How long an approval request stays open, in hours.
    #[serde(default = "default_approval_hours")]
    pub approval_hours: u32,
}

fn default_approval_hours() -> u32 {
    24
}

/// Most approvals a key procedure can require.
pub const MAX_APPROVALS: u32 = 16;

/// Which CA certificates go into the PKCS#12 next to the end-entity certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChainRule {
    /// Issuing CA and root.
    #[default]
    ToRoot,
    /// The issuing CA only.
    IssuingOnly,
}

/// What one soft token holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenProcedure {
    /// Unique name.
    pub name: String,
    /// Text shown to officers.
    #[serde(default)]
    pub description: String,
    /// Certificate procedures, by name.
    #[serde(default)]
    pub certificate_procedures: Vec<String>,
    /// Key procedures, by name.
    #[serde(default)]
    pub key_procedures: Vec<String>,
    /// The PIN procedure, by name.
    pub pin_procedure: String,
    /// PKCS#12 profile name (`modern` unless given; `modern` and `legacy` always exist).
    #[serde(default = "default_profile")]
    pub p12_profile: String,
    /// How the bags' friendlyName is made.
    #[serde(default)]
    pub friendly_name: FriendlyName,
    /// CA certificates in the PKCS#12.
    #[serde(default)]
    pub chain: ChainRule,
    /// An attribute-certificate procedure, by name: an attribute certificate is issued with the
    /// token, bound to its first certificate, and saved apart from the PKCS#12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_certificate: Option<String>,
}

fn default_profile() -> String {
    "modern".into()
}

/// Every procedure of an installation, by kind and name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureSet {
    /// Certificate procedures.
    #[serde(default, rename = "certificate-procedure")]
    pub certificate: Vec<CertificateProcedure>,
    /// Key procedures.
    #[serde(default, rename = "key-procedure")]
    pub key: Vec<KeyProcedure>,
    /// Token procedures.
    #[serde(default, rename = "token-procedure")]
    pub token: Vec<TokenProcedure>,
    /// PIN procedures.
    #[serde(default, rename = "pin-procedure")]
    pub pin: Vec<PinProcedure>,
    /// PKCS#12 profiles (besides the built-in `modern` and `legacy`, which these may redefine).
    #[serde(default, rename = "p12-profile")]
    pub p12: Vec<P12Profile>,
    /// Attribute-certificate procedures.
    #[serde(
        default,
        rename = "attribute-certificate-procedure",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub attribute: Vec<AttributeCertificateProcedure>,
}

/// A reference that does not resolve, or a duplicate name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("procedure {procedure}: {reason}")]
pub struct ProcedureError {
    /// The procedure in error.
    pub procedure: String,
    /// What is wrong.
    pub reason: String,
}

/// One token procedure with the certificate and key procedures it names, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolvedToken {
    /// The token procedure.
    pub token: TokenProcedure,
    /// Its certificate procedures, in its order.
    pub certificates: Vec<CertificateProcedure>,
    /// Its key procedures, in its order.
    pub keys: Vec<KeyProcedure>,
    /// Its PIN procedure.
    pub pin: PinProcedure,
    /// Its PKCS#12 profile.
    pub p12: P12Profile,
    /// Certificate procedures named by recover key procedures (`certificate = new`).
    #[serde(default)]
    pub recovery_certificates: Vec<CertificateProcedure>,
    /// Its attribute-certificate procedure, if it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_certificate: Option<AttributeCertificateProcedure>,
}

impl ResolvedToken {
    /// The approvals a recovery through this token procedure needs (the largest of its recover
    /// key procedures') and for how many hours a request stays open; `None` without any.
    pub fn approvals(&self) -> Option<(u32, u32)> {
        self.keys
            .iter()
            .filter(|k| k.approvals > 0)
            .map(|k| (k.approvals, k.approval_hours))
            .max()
    }
}

#[cfg(test)]
mod tests;
