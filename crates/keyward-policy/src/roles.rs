//! Officer roles.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A role an officer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Issue certificates (seed: "Issue certificate").
    IssueCertificate,
    /// Recover archived keys (seed: "Recover key").
    RecoverKey,
    /// Manage officers and procedures.
    Admin,
    /// Read the audit log.
    Auditor,
    /// Create PIN/PUK letters and run the Secure Printer (PIN mail delivery).
    ManagePinLetters,
    /// Revoke certificates, put them on hold and release holds.
    RevokeCertificate,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::IssueCertificate,
        Role::RecoverKey,
        Role::Admin,
        Role::Auditor,
        Role::ManagePinLetters,
        Role::RevokeCertificate,
    ];

    /// The name used on the command line, in the database and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Role::IssueCertificate => "issue-certificate",
            Role::RecoverKey => "recover-key",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::ManagePinLetters => "manage-pin-letters",
            Role::RevokeCertificate => "revoke-certificate",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                format!("unknown role {s:?}; known roles: {}", known.join(", "))
            })
    }
}

/// Parses a comma-separated role list such as `issue-certificate,recover-key`.
pub fn parse_roles(text: &str) -> Result<BTreeSet<Role>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

/// Formats a role set as a comma-separated list.
pub fn format_roles(roles: &BTreeSet<Role>) -> String {
    roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        let roles = parse_roles("recover-key, issue-certificate,,admin").unwrap();
        assert_eq!(format_roles(&roles), "issue-certificate,recover-key,admin");
        let err = parse_roles("root").unwrap_err();
        assert!(
            err.contains("known roles") && err.contains("revoke-certificate"),
            "{err}"
        );
        let revoker = parse_roles("revoke-certificate").unwrap();
        assert!(revoker.contains(&Role::RevokeCertificate));
        assert_eq!(format_roles(&revoker), "revoke-certificate");
    }
}
