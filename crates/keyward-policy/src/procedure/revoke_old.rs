//! `revoke_old`: what a recover key procedure does to the old certificates of the keys it
//! recovers (issue 16, "Revocation at key recovery"; Microsoft's key-recovery guidance revokes
//! the lost token's certificate before recovering, Dogtag's token states do it as part of
//! recovery).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::revocation::RevocationReason;

/// What happens to the old certificate of a recovered key when a new one is issued.
///
/// Read from a string so that an unknown value survives deserialization as
/// [`RevokeOld::Unknown`] and the procedure set's validation refuses it naming the procedure
/// and the field (a serde error inside a flattened, tagged table would name neither).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum RevokeOld {
    /// `none`: the old certificate stays as it is.
    #[default]
    None,
    /// `superseded`: the new certificate replaces it (a lost, not compromised, token).
    Superseded,
    /// `keyCompromise`: the lost token may be in someone else's hands.
    KeyCompromise,
    /// `certificateHold`: suspended until the old token is found (or revoked for good later).
    CertificateHold,
    /// Any other value: refused when the procedures load.
    Unknown(String),
}

impl RevokeOld {
    /// The values a procedure may give, as written.
    pub const NAMES: [&'static str; 4] = ["none", "superseded", "keyCompromise", "certificateHold"];

    /// The revocation reason the old certificates get; `None` for `none` (and for an unknown
    /// value, which validation refuses before any use).
    pub fn reason(&self) -> Option<RevocationReason> {
        match self {
            RevokeOld::None | RevokeOld::Unknown(_) => None,
            RevokeOld::Superseded => Some(RevocationReason::Superseded),
            RevokeOld::KeyCompromise => Some(RevocationReason::KeyCompromise),
            RevokeOld::CertificateHold => Some(RevocationReason::CertificateHold),
        }
    }

    /// Whether it is `none` (left out when procedures are written back).
    pub fn is_none(&self) -> bool {
        *self == RevokeOld::None
    }

    /// Checks the value and its combination with the certificate the key procedure delivers:
    /// with `reuse`, the old certificate is the one delivered, so it cannot be revoked.
    pub fn check(&self, reuse: bool) -> Result<(), String> {
        match self {
            RevokeOld::Unknown(value) => Err(format!(
                "revoke_old: {value:?} is not one of {}",
                Self::NAMES.join(", ")
            )),
            RevokeOld::None => Ok(()),
            other if reuse => Err(format!(
                "revoke_old = \"{other}\" with certificate = \"reuse\": the reused certificate is \
                 the one delivered with the recovered key and cannot be revoked (use \"none\", or \
                 a new certificate)"
            )),
            _ => Ok(()),
        }
    }
}

impl From<String> for RevokeOld {
    fn from(value: String) -> Self {
        match value.as_str() {
            "none" => RevokeOld::None,
            "superseded" => RevokeOld::Superseded,
            "keyCompromise" => RevokeOld::KeyCompromise,
            "certificateHold" => RevokeOld::CertificateHold,
            _ => RevokeOld::Unknown(value),
        }
    }
}

impl From<RevokeOld> for String {
    fn from(value: RevokeOld) -> Self {
        value.to_string()
    }
}

impl fmt::Display for RevokeOld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevokeOld::None => f.write_str("none"),
            RevokeOld::Unknown(value) => f.write_str(value),
            known => f.write_str(known.reason().map(RevocationReason::name).unwrap_or("none")),
        }
    }
}

/// On the wire `revoke_old` is its name, so its schema is a string with the values a procedure
/// may give (an unknown one is read, then refused when the procedures load).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for RevokeOld {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "What a recovery with a new certificate does to the old certificates of the \
                 recovered keys: `none` (kept) or the reason they are revoked with.",
            ))
            .enum_values(Some(RevokeOld::NAMES))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for RevokeOld {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_map_to_reasons_and_back() {
        let table = [
            ("none", None),
            ("superseded", Some(RevocationReason::Superseded)),
            ("keyCompromise", Some(RevocationReason::KeyCompromise)),
            ("certificateHold", Some(RevocationReason::CertificateHold)),
        ];
        for (name, reason) in table {
            let value = RevokeOld::from(name.to_string());
            assert_eq!(value.reason(), reason, "{name}");
            assert_eq!(value.to_string(), name);
            assert_eq!(value.check(false), Ok(()), "{name}");
        }
        for unknown in [
            "",
            "Superseded",
            "keycompromise",
            "unspecified",
            "removeFromCRL",
        ] {
            let value = RevokeOld::from(unknown.to_string());
            assert_eq!(value, RevokeOld::Unknown(unknown.to_string()));
            assert_eq!(value.reason(), None);
            let err = value.check(false).unwrap_err();
            assert!(
                err.starts_with("revoke_old:") && err.contains("superseded"),
                "{err}"
            );
        }
    }

    #[test]
    fn reuse_takes_none_only() {
        assert_eq!(RevokeOld::None.check(true), Ok(()));
        for value in [
            RevokeOld::Superseded,
            RevokeOld::KeyCompromise,
            RevokeOld::CertificateHold,
        ] {
            let err = value.check(true).unwrap_err();
            assert!(err.contains("revoke_old") && err.contains("reuse"), "{err}");
        }
    }
}
