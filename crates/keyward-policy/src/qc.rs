//! Qualified-certificate statements (RFC 3739, ETSI EN 319 412-5, EN 319 412-1, TS 119 495) as
//! data: what a certificate procedure fixes, what an officer may add at issuance, and the rule
//! that merges the two.
//!
//! The procedure's statements cannot be overridden: an officer statement of a kind the procedure
//! already defines is refused, as is one of a kind the procedure does not list in
//! `qc_officer_may_add`. The certificate carries both sets.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::subject::DistinguishedName;
use check::{check_nca_id, check_text, check_url};

/// Longest URL, NCA name or NCA ID accepted (TS 119 495 bounds names and IDs at 256).
pub const MAX_QC_TEXT: usize = 256;
/// Most PDS locations or PSD2 roles in one statement.
pub const MAX_QC_ITEMS: usize = 8;

/// QcType (EN 319 412-5 4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum QcType {
    /// id-etsi-qct-esign: electronic signatures of a natural person.
    Esign,
    /// id-etsi-qct-eseal: electronic seals of a legal person.
    Eseal,
    /// id-etsi-qct-web: website authentication.
    Web,
}

impl QcType {
    fn parse(text: &str) -> Option<QcType> {
        match text.to_ascii_lowercase().as_str() {
            "esign" => Some(QcType::Esign),
            "eseal" => Some(QcType::Eseal),
            "web" => Some(QcType::Web),
            _ => None,
        }
    }
}

/// One QcPDS location (EN 319 412-5 4.3.4): where the PKI disclosure statement is, in which
/// language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PdsLocation {
    /// An https URL (IA5String).
    pub url: String,
    /// ISO 639-1 language code, two lower-case letters.
    pub language: String,
}

/// QcLimitValue (RFC 3739 3.2.6.1): the transaction value limit, `amount × 10^exponent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitValue {
    /// ISO 4217 alphabetic code (three capital letters) or numeric code (digits).
    pub currency: String,
    /// The amount.
    pub amount: u64,
    /// The power of ten.
    #[serde(default)]
    pub exponent: i32,
}

/// The semantics identifier of the subject's name (EN 319 412-1 5.1), carried in the
/// id-qcs-pkixQCSyntax-v2 statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Semantics {
    /// id-etsi-qcs-semanticsId-Natural: serialNumber is a natural person's identifier.
    Natural,
    /// id-etsi-qcs-semanticsId-Legal: organizationIdentifier is a legal person's identifier.
    Legal,
    /// id-etsi-qcs-semanticsId-eIDASNatural.
    EidasNatural,
    /// id-etsi-qcs-semanticsId-eIDASLegal.
    EidasLegal,
}

impl Semantics {
    fn parse(text: &str) -> Option<Semantics> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "natural" => Some(Semantics::Natural),
            "legal" => Some(Semantics::Legal),
            "eidas-natural" => Some(Semantics::EidasNatural),
            "eidas-legal" => Some(Semantics::EidasLegal),
            _ => None,
        }
    }
}

/// A PSD2 role of the payment service provider (TS 119 495 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Psd2Role {
    /// Account servicing.
    #[serde(rename = "PSP_AS")]
    AccountServicing,
    /// Payment initiation.
    #[serde(rename = "PSP_PI")]
    PaymentInitiation,
    /// Account information.
    #[serde(rename = "PSP_AI")]
    AccountInformation,
    /// Issuing of card-based payment instruments.
    #[serde(rename = "PSP_IC")]
    CardIssuing,
}

impl Psd2Role {
    /// The role's name as TS 119 495 writes it (`PSP_AS`, …), also its roleOfPspName.
    pub fn name(self) -> &'static str {
        match self {
            Psd2Role::AccountServicing => "PSP_AS",
            Psd2Role::PaymentInitiation => "PSP_PI",
            Psd2Role::AccountInformation => "PSP_AI",
            Psd2Role::CardIssuing => "PSP_IC",
        }
    }

    /// The role's last OID arc under id-psd2-role (0.4.0.19495.1).
    pub fn arc(self) -> u32 {
        match self {
            Psd2Role::AccountServicing => 1,
            Psd2Role::PaymentInitiation => 2,
            Psd2Role::AccountInformation => 3,
            Psd2Role::CardIssuing => 4,
        }
    }

    fn parse(text: &str) -> Option<Psd2Role> {
        [
            Psd2Role::AccountServicing,
            Psd2Role::PaymentInitiation,
            Psd2Role::AccountInformation,
            Psd2Role::CardIssuing,
        ]
        .into_iter()
        .find(|r| r.name().eq_ignore_ascii_case(text))
    }
}

/// The PSD2 statement (TS 119 495 5.1): the PSP's roles and its competent authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Psd2 {
    /// Roles of the PSP, at least one.
    pub roles: Vec<Psd2Role>,
    /// The national competent authority's name.
    pub nca_name: String,
    /// The NCA's identifier: country code, `-`, 2 to 8 letters or digits (`SE-FI`).
    pub nca_id: String,
}

/// A kind of QC statement: what a procedure lists as officer-addable or required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum QcKind {
    /// QcCompliance.
    Compliance,
    /// QcSSCD.
    Sscd,
    /// QcType.
    Type,
    /// QcPDS.
    Pds,
    /// QcRetentionPeriod.
    RetentionPeriod,
    /// QcLimitValue.
    LimitValue,
    /// The semantics identifier.
    Semantics,
    /// The PSD2 statement.
    Psd2,
}

impl QcKind {
    /// Every kind, in the order statements are encoded.
    pub const ALL: [QcKind; 8] = [
        QcKind::Compliance,
        QcKind::Sscd,
        QcKind::Type,
        QcKind::Pds,
        QcKind::RetentionPeriod,
        QcKind::LimitValue,
        QcKind::Semantics,
        QcKind::Psd2,
    ];

    /// The name used in procedures, flags and errors (`limit_value`).
    pub fn name(self) -> &'static str {
        match self {
            QcKind::Compliance => "compliance",
            QcKind::Sscd => "sscd",
            QcKind::Type => "type",
            QcKind::Pds => "pds",
            QcKind::RetentionPeriod => "retention_period",
            QcKind::LimitValue => "limit_value",
            QcKind::Semantics => "semantics",
            QcKind::Psd2 => "psd2",
        }
    }
}

impl fmt::Display for QcKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of QC statements; an absent or empty field is a statement not made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QcStatements {
    /// QcCompliance: issued as a qualified certificate under EU law.
    #[serde(default, skip_serializing_if = "is_false")]
    pub compliance: bool,
    /// QcSSCD: the private key is in a qualified signature creation device.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sscd: bool,
    /// QcType.
    #[serde(default, rename = "type", skip_serializing_if = "Vec::is_empty")]
    pub qc_type: Vec<QcType>,
    /// QcPDS locations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pds: Vec<PdsLocation>,
    /// QcRetentionPeriod, in years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_period: Option<u32>,
    /// QcLimitValue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_value: Option<LimitValue>,
    /// Semantics identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantics: Option<Semantics>,
    /// PSD2 statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psd2: Option<Psd2>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A QC statement that is malformed or not allowed; `field` names it (`qc_statements.pds`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct QcError {
    /// The statement or its part.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn qc_err(kind: &str, reason: impl Into<String>) -> QcError {
    QcError {
        field: format!("qc_statements.{kind}"),
        reason: reason.into(),
    }
}

impl QcStatements {
    /// The kinds of statement this set makes.
    pub fn kinds(&self) -> Vec<QcKind> {
        QcKind::ALL.into_iter().filter(|k| self.has(*k)).collect()
    }

    /// Whether it makes a statement of `kind`.
    pub fn has(&self, kind: QcKind) -> bool {
        match kind {
            QcKind::Compliance => self.compliance,
            QcKind::Sscd => self.sscd,
            QcKind::Type => !self.qc_type.is_empty(),
            QcKind::Pds => !self.pds.is_empty(),
            QcKind::RetentionPeriod => self.retention_period.is_some(),
            QcKind::LimitValue => self.limit_value.is_some(),
            QcKind::Semantics => self.semantics.is_some(),
            QcKind::Psd2 => self.psd2.is_some(),
        }
    }

    /// No statement at all.
    pub fn is_empty(&self) -> bool {
        self.kinds().is_empty()
    }

    /// Checks each statement's content on its own.
    pub fn validate(&self) -> Result<(), QcError> {
        if self.qc_type.len() > 1 {
            // EN 319 412-5 (v2.3.1+) and pkilint's ETSI profile: one type per certificate.
            return Err(qc_err("type", "one of esign, eseal or web, not several"));
        }
        if self.pds.len() > MAX_QC_ITEMS {
            return Err(qc_err("pds", format!("at most {MAX_QC_ITEMS} locations")));
        }
        for pds in &self.pds {
            check_url(&pds.url).map_err(|r| qc_err("pds.url", r))?;
            let lang = &pds.language;
            if lang.len() != 2 || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(qc_err(
                    "pds.language",
                    format!("{lang:?} is not an ISO 639-1 code (two lower-case letters)"),
                ));
            }
        }
        if !self.pds.is_empty() && !self.pds.iter().any(|p| p.language == "en") {
            return Err(qc_err(
                "pds",
                "EN 319 412-5 asks for at least one PDS in English (language \"en\")",
            ));
        }
        if let Some(years) = self.retention_period {
            if !(1..=100).contains(&years) {
                return Err(qc_err("retention_period", "years from 1 to 100"));
            }
        }
        if let Some(limit) = &self.limit_value {
            let c = &limit.currency;
            let alpha = c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase());
            // ISO 4217 numeric codes run from 1 to 999 (the CA encodes nothing else).
            let numeric = (1..=3).contains(&c.len())
                && c.bytes().all(|b| b.is_ascii_digit())
                && c.parse::<u16>().is_ok_and(|n| n >= 1);
            if !alpha && !numeric {
                return Err(qc_err(
                    "limit_value.currency",
                    format!("{c:?} is not an ISO 4217 code (EUR, SEK, or 978)"),
                ));
            }
            if !(-30..=30).contains(&limit.exponent) {
                return Err(qc_err("limit_value.exponent", "from -30 to 30"));
            }
        }
        if self.sscd && !self.compliance {
            return Err(qc_err("sscd", "QcSSCD is only made with QcCompliance"));
        }
        if let Some(psd2) = &self.psd2 {
            if psd2.roles.is_empty() || psd2.roles.len() > 4 {
                return Err(qc_err(
                    "psd2.roles",
                    "one to four of PSP_AS, PSP_PI, PSP_AI, PSP_IC",
                ));
            }
            let mut roles = psd2.roles.clone();
            roles.sort();
            roles.dedup();
            if roles.len() != psd2.roles.len() {
                return Err(qc_err("psd2.roles", "a role is listed twice"));
            }
            check_text(&psd2.nca_name).map_err(|r| qc_err("psd2.nca_name", r))?;
            check_nca_id(&psd2.nca_id).map_err(|r| qc_err("psd2.nca_id", r))?;
        }
        Ok(())
    }

    /// Checks the statements against the subject they will be certified with: a legal-person
    /// semantics identifier needs organizationIdentifier, a natural-person one serialNumber, and
    /// the PSD2 statement's NCA ID must be the one in organizationIdentifier (TS 119 495 5.2.1:
    /// `PSD` + NCA ID + `-` + the PSP's identifier).
    pub fn check_subject(&self, subject: &DistinguishedName) -> Result<(), QcError> {
        match self.semantics {
            Some(Semantics::Legal | Semantics::EidasLegal)
                if subject.get("organizationIdentifier").is_none() =>
            {
                return Err(qc_err(
                    "semantics",
                    "a legal-person semantics identifier needs organizationIdentifier in the subject",
                ));
            }
            Some(Semantics::Natural | Semantics::EidasNatural)
                if subject.get("serialNumber").is_none() =>
            {
                return Err(qc_err(
                    "semantics",
                    "a natural-person semantics identifier needs serialNumber in the subject",
                ));
            }
            _ => {}
        }
        if let Some(psd2) = &self.psd2 {
            let prefix = format!("PSD{}-", psd2.nca_id);
            let org_id = subject.get("organizationIdentifier").unwrap_or_default();
            if !org_id.starts_with(&prefix) || org_id.len() == prefix.len() {
                return Err(qc_err(
                    "psd2.nca_id",
                    format!(
                        "the subject's organizationIdentifier must be {prefix}<PSP identifier> \
                         (TS 119 495), not {org_id:?}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The certificate's statements: the procedure's (`self`) and the officer's, which may only
    /// add kinds the procedure leaves open and lists in `may_add`, and must include `must_add`.
    pub fn merge(
        &self,
        officer: &QcStatements,
        may_add: &[QcKind],
        must_add: &[QcKind],
    ) -> Result<QcStatements, QcError> {
        for kind in officer.kinds() {
            if self.has(kind) {
                return Err(qc_err(
                    kind.name(),
                    "set by the certificate procedure; an officer cannot override it",
                ));
            }
            if !may_add.contains(&kind) {
                return Err(qc_err(
                    kind.name(),
                    "the certificate procedure does not let an officer add this statement",
                ));
            }
        }
        if let Some(kind) = must_add.iter().find(|k| !officer.has(**k)) {
            return Err(qc_err(
                kind.name(),
                "the certificate procedure requires the officer to give this statement",
            ));
        }
        officer.validate()?;
        let mut merged = self.clone();
        merged.compliance |= officer.compliance;
        merged.sscd |= officer.sscd;
        merged.qc_type.extend(officer.qc_type.iter().copied());
        merged.pds.extend(officer.pds.iter().cloned());
        merged.retention_period = merged.retention_period.or(officer.retention_period);
        merged.limit_value = merged.limit_value.or_else(|| officer.limit_value.clone());
        merged.semantics = merged.semantics.or(officer.semantics);
        merged.psd2 = merged.psd2.or_else(|| officer.psd2.clone());
        merged.validate()?;
        Ok(merged)
    }
}

mod check;
mod flag;

#[cfg(test)]
mod tests;
