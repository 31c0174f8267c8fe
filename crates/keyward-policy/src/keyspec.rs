//! Key specs in the `ra-key-generation` syntax: `RSA:2048`, `EC:brainpoolP320r1`, `DSA:1024`.

use std::fmt;
use std::str::FromStr;

/// A named elliptic curve Keyward can generate keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Curve {
    /// brainpoolP256r1 (RFC 5639)
    BrainpoolP256r1,
    /// brainpoolP320r1 (RFC 5639)
    BrainpoolP320r1,
    /// brainpoolP384r1 (RFC 5639)
    BrainpoolP384r1,
    /// brainpoolP512r1 (RFC 5639)
    BrainpoolP512r1,
    /// secp256r1 a.k.a. NIST P-256, prime256v1
    Secp256r1,
    /// secp384r1 a.k.a. NIST P-384
    Secp384r1,
    /// secp521r1 a.k.a. NIST P-521
    Secp521r1,
}

impl Curve {
    /// Every curve, in the order of the seed's default list.
    pub const ALL: [Curve; 7] = [
        Curve::BrainpoolP256r1,
        Curve::BrainpoolP320r1,
        Curve::BrainpoolP384r1,
        Curve::BrainpoolP512r1,
        Curve::Secp256r1,
        Curve::Secp384r1,
        Curve::Secp521r1,
    ];

    /// The name used in key specs (and by OpenSSL, except that it calls secp256r1 prime256v1).
    pub fn name(self) -> &'static str {
        match self {
            Curve::BrainpoolP256r1 => "brainpoolP256r1",
            Curve::BrainpoolP320r1 => "brainpoolP320r1",
            Curve::BrainpoolP384r1 => "brainpoolP384r1",
            Curve::BrainpoolP512r1 => "brainpoolP512r1",
            Curve::Secp256r1 => "secp256r1",
            Curve::Secp384r1 => "secp384r1",
            Curve::Secp521r1 => "secp521r1",
        }
    }

    /// Size of the curve's field in bits.
    pub fn bits(self) -> u32 {
        match self {
            Curve::BrainpoolP256r1 | Curve::Secp256r1 => 256,
            Curve::BrainpoolP320r1 => 320,
            Curve::BrainpoolP384r1 | Curve::Secp384r1 => 384,
            Curve::BrainpoolP512r1 => 512,
            Curve::Secp521r1 => 521,
        }
    }
}

/// One key algorithm with its size or curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeySpec {
    /// RSA with a modulus of this many bits.
    Rsa(u32),
    /// ECDSA/ECDH key on a named curve.
    Ec(Curve),
    /// DSA with a prime of this many bits.
    Dsa(u32),
}

/// RSA sizes Keyward generates.
pub const RSA_SIZES: [u32; 4] = [2048, 3072, 4096, 8192];
/// DSA sizes Keyward generates.
pub const DSA_SIZES: [u32; 1] = [1024];

impl KeySpec {
    /// Every key spec Keyward can generate: the seed's default list.
    pub fn supported() -> Vec<KeySpec> {
        let mut all: Vec<KeySpec> = RSA_SIZES.iter().map(|b| KeySpec::Rsa(*b)).collect();
        all.extend(Curve::ALL.iter().map(|c| KeySpec::Ec(*c)));
        all.extend(DSA_SIZES.iter().map(|b| KeySpec::Dsa(*b)));
        all
    }
}

impl KeySpec {
    /// Why the spec is legacy, for specs kept only because the seed's default list offers
    /// them: shown by `ra key-specs` and warned about when chosen.
    pub fn legacy(&self) -> Option<&'static str> {
        match self {
            KeySpec::Dsa(_) => Some(
                "DSA is legacy: FIPS 186-5 no longer approves DSA signatures, and a 1024-bit \
                 DSA key is below every current minimum; many relying parties refuse it",
            ),
            KeySpec::Rsa(_) | KeySpec::Ec(_) => None,
        }
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySpec::Rsa(bits) => write!(f, "RSA:{bits}"),
            KeySpec::Ec(curve) => write!(f, "EC:{}", curve.name()),
            KeySpec::Dsa(bits) => write!(f, "DSA:{bits}"),
        }
    }
}

/// Why a key spec or a key spec list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySpecError {
    /// Not of the form `ALG:PARAM`, or an algorithm/size/curve Keyward does not know.
    #[error("key spec {given:?} is not valid; allowed: {allowed}")]
    Unknown {
        /// What was given (truncated to a readable length).
        given: String,
        /// The allowed specs, comma separated.
        allowed: String,
    },
    /// A valid spec that the configured list does not offer.
    #[error("key spec {given} is not offered here; allowed: {allowed}")]
    NotOffered {
        /// The refused spec.
        given: String,
        /// The configured list.
        allowed: String,
    },
    /// The list is empty, has two defaults, or repeats a spec.
    #[error("key spec list: {0}")]
    List(String),
}

fn allowed_text(specs: &[KeySpec]) -> String {
    specs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn shorten(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(40)
        .collect();
    if text.chars().count() > 40 {
        format!("{clean}…")
    } else {
        clean
    }
}

impl FromStr for KeySpec {
    type Err = KeySpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || KeySpecError::Unknown {
            given: shorten(text),
            allowed: allowed_text(&KeySpec::supported()),
        };
        let (alg, param) = text.trim().split_once(':').ok_or_else(unknown)?;
        let spec = match alg {
            "RSA" => KeySpec::Rsa(param.parse().map_err(|_| unknown())?),
            "DSA" => KeySpec::Dsa(param.parse().map_err(|_| unknown())?),
            "EC" => KeySpec::Ec(
                *Curve::ALL
                    .iter()
                    .find(|c| c.name() == param)
                    .ok_or_else(unknown)?,
            ),
            _ => return Err(unknown()),
        };
        if KeySpec::supported().contains(&spec) {
            Ok(spec)
        } else {
            Err(unknown())
        }
    }
}

impl serde::Serialize for KeySpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for KeySpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// On the wire a key spec is its text (see the `Serialize` impl), so its schema is a string
/// that is one of the specs Keyward generates: exactly what `Deserialize` accepts.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for KeySpec {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A key spec in the `ra-key-generation` syntax (`RSA:2048`, `EC:secp256r1`, …).",
            ))
            .enum_values(Some(KeySpec::supported().iter().map(|s| s.to_string())))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for KeySpec {}

/// A configured list of key specs with one default (the `*` in `RSA:2048*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpecList {
    specs: Vec<KeySpec>,
    default: usize,
}

/// The seed's default `ra-key-generation` value.
pub const DEFAULT_RA_KEY_GENERATION: &str = "RSA:2048*, RSA:3072, RSA:4096, RSA:8192, \\\n\tEC:brainpoolP256r1, EC:brainpoolP320r1, EC:brainpoolP384r1, EC:brainpoolP512r1, \\\n\tEC:secp256r1, EC:secp384r1, EC:secp521r1, \\\n\tDSA:1024";

impl KeySpecList {
    /// Parses a value of `ra-key-generation` (continuation lines already joined, or not).
    ///
    /// With no `*`, the first spec is the default.
    pub fn parse(text: &str) -> Result<KeySpecList, KeySpecError> {
        let joined = text.replace("\\\n", " ").replace("\\\r\n", " ");
        let mut specs = Vec::new();
        let mut default = None;
        for item in joined.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (spec_text, is_default) = match item.strip_suffix('*') {
                Some(rest) => (rest.trim_end(), true),
                None => (item, false),
            };
            let spec: KeySpec = spec_text.parse()?;
            if specs.contains(&spec) {
                return Err(KeySpecError::List(format!("{spec} is listed twice")));
            }
            if is_default {
                if default.is_some() {
                    return Err(KeySpecError::List("more than one default (*)".into()));
                }
                default = Some(specs.len());
            }
            specs.push(spec);
        }
        if specs.is_empty() {
            return Err(KeySpecError::List("no key spec given".into()));
        }
        Ok(KeySpecList {
            specs,
            default: default.unwrap_or(0),
        })
    }

    /// The specs in configured order.
    pub fn specs(&self) -> &[KeySpec] {
        &self.specs
    }

    /// The default spec.
    pub fn default_spec(&self) -> KeySpec {
        self.specs[self.default]
    }

    /// Resolves the officer's choice: `None` means the default; a spec must be in the list.
    pub fn choose(&self, given: Option<&str>) -> Result<KeySpec, KeySpecError> {
        let Some(text) = given else {
            return Ok(self.default_spec());
        };
        let spec: KeySpec = text.parse().map_err(|_| KeySpecError::Unknown {
            given: shorten(text),
            allowed: self.to_string(),
        })?;
        if self.specs.contains(&spec) {
            Ok(spec)
        } else {
            Err(KeySpecError::NotOffered {
                given: spec.to_string(),
                allowed: self.to_string(),
            })
        }
    }
}

impl fmt::Display for KeySpecList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, spec) in self.specs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{spec}")?;
            if i == self.default {
                f.write_str("*")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_default_list_parses_to_twelve_with_rsa2048_default() {
        let list = KeySpecList::parse(DEFAULT_RA_KEY_GENERATION).unwrap();
        assert_eq!(list.specs().len(), 12);
        assert_eq!(list.default_spec(), KeySpec::Rsa(2048));
        assert_eq!(list.specs(), KeySpec::supported().as_slice());
        assert_eq!(
            list.to_string(),
            "RSA:2048*, RSA:3072, RSA:4096, RSA:8192, EC:brainpoolP256r1, EC:brainpoolP320r1, \
             EC:brainpoolP384r1, EC:brainpoolP512r1, EC:secp256r1, EC:secp384r1, EC:secp521r1, DSA:1024"
        );
    }

    #[test]
    fn round_trips_every_spec() {
        for spec in KeySpec::supported() {
            assert_eq!(spec.to_string().parse::<KeySpec>().unwrap(), spec);
        }
    }

    #[test]
    fn refuses_malformed_and_unknown() {
        for bad in [
            "RSA",
            "RSA:",
            "RSA:1000",
            "rsa:2048",
            "EC:P-256",
            "DSA:2048",
            "X:1",
            "",
            "EC:secp256k1",
        ] {
            let err = bad.parse::<KeySpec>().unwrap_err();
            assert!(
                err.to_string().contains("allowed: RSA:2048"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn list_rules() {
        let list = KeySpecList::parse("EC:secp256r1, RSA:3072*").unwrap();
        assert_eq!(list.default_spec(), KeySpec::Rsa(3072));
        assert_eq!(list.choose(None).unwrap(), KeySpec::Rsa(3072));
        assert_eq!(
            list.choose(Some("EC:secp256r1")).unwrap(),
            KeySpec::Ec(Curve::Secp256r1)
        );
        let err = list.choose(Some("RSA:4096")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key spec RSA:4096 is not offered here; allowed: EC:secp256r1, RSA:3072*"
        );
        assert!(list
            .choose(Some("RSA:12"))
            .unwrap_err()
            .to_string()
            .contains("EC:secp256r1, RSA:3072*"));
        assert_eq!(
            KeySpecList::parse("EC:secp256r1").unwrap().default_spec(),
            KeySpec::Ec(Curve::Secp256r1)
        );
        assert!(KeySpecList::parse("RSA:2048*, RSA:3072*").is_err());
        assert!(KeySpecList::parse("RSA:2048, RSA:2048").is_err());
        assert!(KeySpecList::parse(" , ").is_err());
    }
}
