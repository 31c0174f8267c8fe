//! Revocation vocabulary shared by the RA, the server, the store, CRLs and OCSP: RFC 5280's
//! CRLReason codes and names, and which of them an officer may give.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An RFC 5280 §5.3.1 CRLReason. The discriminant is the ASN.1 ENUMERATED value (7 is unused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[repr(u8)]
pub enum RevocationReason {
    /// `unspecified` (0).
    #[serde(rename = "unspecified")]
    Unspecified = 0,
    /// `keyCompromise` (1).
    #[serde(rename = "keyCompromise")]
    KeyCompromise = 1,
    /// `cACompromise` (2).
    #[serde(rename = "cACompromise")]
    CaCompromise = 2,
    /// `affiliationChanged` (3).
    #[serde(rename = "affiliationChanged")]
    AffiliationChanged = 3,
    /// `superseded` (4).
    #[serde(rename = "superseded")]
    Superseded = 4,
    /// `cessationOfOperation` (5).
    #[serde(rename = "cessationOfOperation")]
    CessationOfOperation = 5,
    /// `certificateHold` (6): revocable again with `unhold`.
    #[serde(rename = "certificateHold")]
    CertificateHold = 6,
    /// `removeFromCRL` (8): only in a delta CRL, for a released hold; never given by an officer.
    #[serde(rename = "removeFromCRL")]
    RemoveFromCrl = 8,
    /// `privilegeWithdrawn` (9).
    #[serde(rename = "privilegeWithdrawn")]
    PrivilegeWithdrawn = 9,
    /// `aACompromise` (10).
    #[serde(rename = "aACompromise")]
    AaCompromise = 10,
}

impl RevocationReason {
    /// Every reason, in code order.
    pub const ALL: [RevocationReason; 10] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
        RevocationReason::RemoveFromCrl,
        RevocationReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise,
    ];

    /// The reasons an officer may give for an end-entity certificate (the list: CA and
    /// AA compromise concern CAs, `removeFromCRL` is what an unhold produces).
    pub const FOR_OFFICERS: [RevocationReason; 7] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
        RevocationReason::PrivilegeWithdrawn,
    ];

    /// The ASN.1 ENUMERATED value.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reason with ASN.1 value `code`; `None` for 7 and anything above 10.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.code() == code)
    }

    /// RFC 5280's name, as officers type it and as the store and JSON carry it.
    pub fn name(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "cACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::CertificateHold => "certificateHold",
            RevocationReason::RemoveFromCrl => "removeFromCRL",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
            RevocationReason::AaCompromise => "aACompromise",
        }
    }

    /// Whether an officer may revoke an end-entity certificate with this reason.
    pub fn officer_may_give(self) -> bool {
        Self::FOR_OFFICERS.contains(&self)
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RevocationReason {
    type Err = String;

    /// Parses RFC 5280's name; case-insensitive, so `keycompromise` and `KeyCompromise` work too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let known: Vec<&str> = Self::FOR_OFFICERS.iter().map(|r| r.name()).collect();
                format!(
                    "unknown revocation reason {s:?}; known reasons: {}",
                    known.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_follow_rfc_5280() {
        let table: [(u8, &str); 10] = [
            (0, "unspecified"),
            (1, "keyCompromise"),
            (2, "cACompromise"),
            (3, "affiliationChanged"),
            (4, "superseded"),
            (5, "cessationOfOperation"),
            (6, "certificateHold"),
            (8, "removeFromCRL"),
            (9, "privilegeWithdrawn"),
            (10, "aACompromise"),
        ];
        for (code, name) in table {
            let reason = RevocationReason::from_code(code).unwrap();
            assert_eq!(reason.name(), name);
            assert_eq!(name.parse::<RevocationReason>().unwrap(), reason);
            assert_eq!(reason.code(), code);
        }
        assert_eq!(RevocationReason::from_code(7), None);
        assert_eq!(RevocationReason::from_code(11), None);
    }

    #[test]
    fn officers_give_end_entity_reasons_only() {
        assert!(RevocationReason::KeyCompromise.officer_may_give());
        assert!(RevocationReason::CertificateHold.officer_may_give());
        assert!(!RevocationReason::RemoveFromCrl.officer_may_give());
        assert!(!RevocationReason::CaCompromise.officer_may_give());
        assert!(!RevocationReason::AaCompromise.officer_may_give());
    }

    #[test]
    fn names_parse_case_insensitively_and_unknown_ones_are_named() {
        assert_eq!(
            "KEYCOMPROMISE".parse::<RevocationReason>().unwrap(),
            RevocationReason::KeyCompromise
        );
        let err = "stolen".parse::<RevocationReason>().unwrap_err();
        assert!(
            err.contains("\"stolen\"") && err.contains("superseded"),
            "{err}"
        );
    }

    #[test]
    fn json_carries_the_name() {
        let json = serde_json::to_string(&RevocationReason::Superseded).unwrap();
        assert_eq!(json, "\"superseded\"");
        let back: RevocationReason = serde_json::from_str("\"certificateHold\"").unwrap();
        assert_eq!(back, RevocationReason::CertificateHold);
        assert!(serde_json::from_str::<RevocationReason>("\"KEYCOMPROMISE\"").is_err());
    }
}
