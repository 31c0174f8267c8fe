//! PKCS#12 profiles: which algorithms seal a token, so that it opens in the consumers a PKI
//! team has to serve. Token procedures name one; `modern` and `legacy` always exist and can be
//! redefined (for other iteration counts) in procedures.toml.

use serde::{Deserialize, Serialize};

/// The algorithms of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum P12Scheme {
    /// PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC) for key and certificate bags, HMAC-SHA-256 MAC.
    Modern,
    /// pbeWithSHA1And3-KeyTripleDES-CBC for key and certificate bags, HMAC-SHA-1 MAC: Windows
    /// Server 2016, macOS keychain import, Java 8.
    Legacy,
}

impl P12Scheme {
    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            P12Scheme::Modern => "modern",
            P12Scheme::Legacy => "legacy",
        }
    }
}

/// A named PKCS#12 profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct P12Profile {
    /// Unique name, referred to by token procedures' `p12_profile`.
    pub name: String,
    /// Text shown to officers.
    #[serde(default)]
    pub description: String,
    /// Algorithms.
    pub scheme: P12Scheme,
    /// Key derivation iterations of key and certificate bags.
    #[serde(default = "default_iterations")]
    pub iterations: u32,
    /// Key derivation iterations of the MAC.
    #[serde(default = "default_iterations")]
    pub mac_iterations: u32,
}

fn default_iterations() -> u32 {
    2048
}

/// Most iterations accepted: at 600,000 a PBKDF2 seal already takes about a second, and every
/// consumer pays the same again to open the file.
pub const MAX_ITERATIONS: u32 = 10_000_000;

impl P12Profile {
    /// The built-in profile of a scheme, at 2048 iterations (OpenSSL's default).
    pub fn builtin(scheme: P12Scheme) -> P12Profile {
        P12Profile {
            name: scheme.name().into(),
            description: String::new(),
            scheme,
            iterations: default_iterations(),
            mac_iterations: default_iterations(),
        }
    }

    /// Checks the iteration counts; the error is the reason, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, n) in [
            ("iterations", self.iterations),
            ("mac_iterations", self.mac_iterations),
        ] {
            if !(1..=MAX_ITERATIONS).contains(&n) {
                return Err(format!("{field} must lie within 1..={MAX_ITERATIONS}"));
            }
        }
        Ok(())
    }
}

/// How the friendlyName of a token's key and certificate bags is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FriendlyName {
    /// The subject's CN (the whole subject if it has none).
    #[default]
    Cn,
    /// The whole subject, as typed.
    Subject,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_limits() {
        let modern = P12Profile::builtin(P12Scheme::Modern);
        assert_eq!((modern.name.as_str(), modern.iterations), ("modern", 2048));
        assert_eq!(modern.validate(), Ok(()));
        let mut bad = P12Profile::builtin(P12Scheme::Legacy);
        bad.mac_iterations = 0;
        assert!(bad.validate().unwrap_err().contains("mac_iterations"));
        bad.mac_iterations = 1;
        bad.iterations = MAX_ITERATIONS + 1;
        assert!(bad.validate().unwrap_err().contains("iterations"));
    }
}
