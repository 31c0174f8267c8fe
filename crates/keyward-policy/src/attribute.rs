//! Attribute-certificate procedures (RFC 5755): what an attribute certificate issued with a token
//! says about its holder.

use serde::{Deserialize, Serialize};

/// Most roles or groups in one attribute certificate.
pub const MAX_AC_ATTRIBUTES: usize = 16;

/// An attribute-certificate procedure, as `[[attribute-certificate-procedure]]` in
/// `procedures.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttributeCertificateProcedure {
    /// Unique name.
    pub name: String,
    /// Text shown to officers.
    #[serde(default)]
    pub description: String,
    /// Validity in days (never beyond the holder certificate's end).
    pub validity_days: u32,
    /// Role attributes (id-at-role, RoleSyntax): each a URI, the roleName (RFC 5755 4.4.5).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Group attributes (id-aca-group, IetfAttrSyntax): UTF-8 strings.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl AttributeCertificateProcedure {
    /// Checks the procedure: validity, at least one attribute, role URIs, group strings.
    pub fn validate(&self) -> Result<(), String> {
        if self.validity_days == 0 {
            return Err("validity_days must be at least 1".into());
        }
        if self.roles.is_empty() && self.groups.is_empty() {
            return Err("an attribute certificate needs at least one role or group".into());
        }
        if self.roles.len() > MAX_AC_ATTRIBUTES || self.groups.len() > MAX_AC_ATTRIBUTES {
            return Err(format!(
                "at most {MAX_AC_ATTRIBUTES} roles and {MAX_AC_ATTRIBUTES} groups"
            ));
        }
        for role in &self.roles {
            let scheme_ok = role.split_once(':').is_some_and(|(scheme, rest)| {
                !scheme.is_empty()
                    && scheme
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                    && !rest.is_empty()
            });
            if !scheme_ok
                || role.len() > 256
                || !role.is_ascii()
                || role
                    .bytes()
                    .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
            {
                return Err(format!(
                    "roles: {role:?} is not a URI (RFC 5755 role names are URIs, e.g. urn:example:role:signer)"
                ));
            }
        }
        for group in &self.groups {
            if group.trim().is_empty()
                || group.chars().count() > 128
                || group.chars().any(char::is_control)
            {
                return Err(format!(
                    "groups: {group:?} must be 1 to 128 characters without control characters"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ac(roles: &[&str], groups: &[&str]) -> AttributeCertificateProcedure {
        AttributeCertificateProcedure {
            name: "roles".into(),
            validity_days: 365,
            roles: roles.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert!(ac(&["urn:example:role:signer"], &["staff"])
            .validate()
            .is_ok());
        assert!(ac(&[], &["staff"]).validate().is_ok());
        let cases: &[(&[&str], &[&str], &str)] = &[
            (&[], &[], "at least one"),
            (&["signer"], &[], "roles"),
            (&["urn:x y"], &[], "roles"),
            (&[], &[""], "groups"),
            (&[], &["a\nb"], "groups"),
        ];
        for (roles, groups, needle) in cases {
            let err = ac(roles, groups).validate().unwrap_err();
            assert!(err.contains(needle), "{roles:?} {groups:?}: {err}");
        }
        let mut zero = ac(&["urn:a:b"], &[]);
        zero.validity_days = 0;
        assert!(zero.validate().unwrap_err().contains("validity_days"));
    }
}
