//! Key usage definitions: sets of X.509 keyUsage bits.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One X.509 keyUsage bit (RFC 5280 4.2.1.3), named as in the RFC.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyUsage {
    /// digitalSignature
    DigitalSignature,
    /// nonRepudiation (contentCommitment)
    NonRepudiation,
    /// keyEncipherment
    KeyEncipherment,
    /// dataEncipherment
    DataEncipherment,
    /// keyAgreement
    KeyAgreement,
    /// keyCertSign
    KeyCertSign,
    /// cRLSign
    #[serde(rename = "cRLSign")]
    CrlSign,
}

impl KeyUsage {
    /// Every bit, in RFC order.
    pub const ALL: [KeyUsage; 7] = [
        KeyUsage::DigitalSignature,
        KeyUsage::NonRepudiation,
        KeyUsage::KeyEncipherment,
        KeyUsage::DataEncipherment,
        KeyUsage::KeyAgreement,
        KeyUsage::KeyCertSign,
        KeyUsage::CrlSign,
    ];

    /// The RFC 5280 name.
    pub fn name(self) -> &'static str {
        match self {
            KeyUsage::DigitalSignature => "digitalSignature",
            KeyUsage::NonRepudiation => "nonRepudiation",
            KeyUsage::KeyEncipherment => "keyEncipherment",
            KeyUsage::DataEncipherment => "dataEncipherment",
            KeyUsage::KeyAgreement => "keyAgreement",
            KeyUsage::KeyCertSign => "keyCertSign",
            KeyUsage::CrlSign => "cRLSign",
        }
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyUsage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyUsage::ALL
            .iter()
            .copied()
            .find(|u| u.name() == s)
            .ok_or_else(|| format!("unknown key usage {s:?}"))
    }
}

/// A key usage definition. It may be empty (an officer certificate has none).
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyUsageSet(pub BTreeSet<KeyUsage>);

impl KeyUsageSet {
    /// Builds a set from bits.
    pub fn of(bits: &[KeyUsage]) -> KeyUsageSet {
        KeyUsageSet(bits.iter().copied().collect())
    }

    /// True when no bit is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bits in RFC order.
    pub fn iter(&self) -> impl Iterator<Item = KeyUsage> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for KeyUsageSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(none)");
        }
        let names: Vec<&str> = self.iter().map(KeyUsage::name).collect();
        f.write_str(&names.join("+"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_display() {
        for u in KeyUsage::ALL {
            assert_eq!(u.name().parse::<KeyUsage>().unwrap(), u);
        }
        let set = KeyUsageSet::of(&[KeyUsage::NonRepudiation, KeyUsage::DigitalSignature]);
        assert_eq!(set.to_string(), "digitalSignature+nonRepudiation");
        assert_eq!(KeyUsageSet::default().to_string(), "(none)");
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"["digitalSignature","nonRepudiation"]"#
        );
    }
}
