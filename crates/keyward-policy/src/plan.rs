//! The token-plan rule (seed: "Software token profile").
//!
//! For a token procedure and the officer's key spec, decide which keys the RA generates, which
//! the server generates or archives, and which it recovers. One pure function; the RA runs it to
//! show the officer the "Key Management" line, the server runs it again and is the authority.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::keyspec::KeySpec;
use crate::procedure::{KeyAction, RecoverCertificate, RecoverScope, ResolvedToken};
use crate::revocation::RevocationReason;
use crate::roles::Role;
use crate::usage::KeyUsageSet;

/// One thing that happens when the token is issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum PlannedAction {
    /// The RA generates a key with the officer's key spec; the server certifies it.
    GenerateLocal {
        /// Certificate procedure that certifies the key.
        certificate_procedure: String,
        /// Its key usage definition.
        key_usage: KeyUsageSet,
        /// The spec the RA uses.
        key_spec: KeySpec,
    },
    /// The server generates a key and archives it; the listed certificate procedures certify it.
    Archive {
        /// The archive key procedure.
        key_procedure: String,
        /// Certificate procedures with the same key usage definition.
        certificate_procedures: Vec<String>,
        /// Key usage definition.
        key_usage: KeyUsageSet,
        /// The server's key spec (from the key procedure).
        key_spec: KeySpec,
    },
    /// The server generates one key (not archived) for certificate procedures that share a key
    /// usage definition, so none of them is unique.
    GenerateServer {
        /// Certificate procedures that certify the key.
        certificate_procedures: Vec<String>,
        /// Key usage definition.
        key_usage: KeyUsageSet,
    },
    /// The server returns archived keys.
    Recover {
        /// The recover key procedure.
        key_procedure: String,
        /// Key usage definition.
        key_usage: KeyUsageSet,
        /// Last key or all keys of the user.
        scope: RecoverScope,
        /// New or reused certificate.
        certificate: RecoverCertificate,
        /// With a new certificate: the reason the old certificates of the recovered keys are
        /// revoked with, in the transaction that records the new ones (the key procedure's
        /// `revoke_old`); `None`: they stay as they are.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revoke_old: Option<RevocationReason>,
    },
}

/// What issuing one token will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPlan {
    /// The actions, RA-local keys first, then server actions in procedure order.
    pub actions: Vec<PlannedAction>,
}

/// A token procedure that cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The officer's key spec is not accepted by a certificate procedure that needs a local key.
    #[error("certificate procedure {procedure} does not accept key spec {key_spec}; it accepts {allowed}")]
    KeySpecRefused {
        /// The certificate procedure.
        procedure: String,
        /// The chosen spec.
        key_spec: KeySpec,
        /// What it accepts.
        allowed: String,
    },
    /// An archive key procedure with no certificate procedure of the same key usage.
    #[error(
        "key procedure {0} archives a key that no certificate procedure of the token certifies"
    )]
    ArchiveWithoutCertificate(String),
    /// Two key procedures for one key usage definition.
    #[error("key procedures {0} and {1} have the same key usage definition")]
    DuplicateKeyUsage(String, String),
}

impl TokenPlan {
    /// True if the RA generates at least one key.
    pub fn has_local_keys(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a, PlannedAction::GenerateLocal { .. }))
    }

    /// Why a key spec the officer chose does not apply to this plan, or `None` when it does:
    /// the RA generates no key, so no spec is used (the RA refuses `--key-spec` with this
    /// reason, and the RA application shows it beside a disabled key-spec choice).
    pub fn key_spec_unused(&self) -> Option<String> {
        if self.has_local_keys() {
            return None;
        }
        let mut origins = Vec::new();
        for action in &self.actions {
            let origin = match action {
                PlannedAction::GenerateLocal { .. } => continue,
                PlannedAction::Archive {
                    key_procedure,
                    key_spec,
                    ..
                } => format!("generated in the server with {key_spec} (key procedure {key_procedure}) and archived"),
                PlannedAction::GenerateServer {
                    certificate_procedures,
                    ..
                } => format!(
                    "generated in the server (shared by {})",
                    certificate_procedures.join(", ")
                ),
                PlannedAction::Recover { key_procedure, .. } => {
                    format!("recovered from the archive (key procedure {key_procedure})")
                }
            };
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Some(format!(
            "no key of this token is generated here, so no key spec is used: its keys are {}",
            origins.join("; ")
        ))
    }

    /// True if the server generates or recovers at least one key (which then travels to the RA
    /// sealed to a one-time transport key).
    pub fn has_server_keys(&self) -> bool {
        self.actions
            .iter()
            .any(|a| !matches!(a, PlannedAction::GenerateLocal { .. }))
    }

    /// Every certificate procedure that certifies a key in this plan, in plan order (a name
    /// may repeat).
    pub fn certificate_procedures(&self) -> Vec<&str> {
        let mut names = Vec::new();
        for action in &self.actions {
            match action {
                PlannedAction::GenerateLocal {
                    certificate_procedure,
                    ..
                }
                | PlannedAction::Recover {
                    certificate:
                        RecoverCertificate::New {
                            certificate_procedure,
                        },
                    ..
                } => names.push(certificate_procedure.as_str()),
                PlannedAction::Archive {
                    certificate_procedures,
                    ..
                }
                | PlannedAction::GenerateServer {
                    certificate_procedures,
                    ..
                } => names.extend(certificate_procedures.iter().map(String::as_str)),
                PlannedAction::Recover { .. } => {}
            }
        }
        names
    }

    /// The recover actions that revoke the old certificates of their keys: key procedure and
    /// reason, in plan order.
    pub fn revocations(&self) -> Vec<(&str, RevocationReason)> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                PlannedAction::Recover {
                    key_procedure,
                    revoke_old: Some(reason),
                    ..
                } => Some((key_procedure.as_str(), *reason)),
                _ => None,
            })
            .collect()
    }

    /// The "Key Management" line once the keys to recover are known: `found` gives, per
    /// recover key procedure, the Certificate IDs of the old certificates of the keys it
    /// recovers (RA and server find them the same way). A recovery with a new certificate
    /// reads "recover 1 key, issue 1 new certificate, revoke certificate 42 (superseded)"; one
    /// with reused certificates "recover 2 keys with the reused certificates 40, 41"; a
    /// recover action missing from `found`, and every other action, as [`fmt::Display`] says.
    pub fn key_management_with(&self, found: &[(&str, Vec<String>)]) -> String {
        let general = self.to_string();
        let mut parts: Vec<String> = general
            .trim_start_matches("Key Management: ")
            .split(", ")
            .filter(|p| !p.starts_with("recover ") && !p.starts_with("revoke "))
            .map(str::to_string)
            .collect();
        for action in &self.actions {
            let PlannedAction::Recover {
                key_procedure,
                scope,
                certificate,
                revoke_old,
                ..
            } = action
            else {
                continue;
            };
            let Some((_, ids)) = found.iter().find(|(k, _)| k == key_procedure) else {
                // Not looked up: the general wording, as Display gives it.
                general_recover(*scope, certificate, *revoke_old, &mut parts);
                continue;
            };
            let n = ids.len();
            let keys = if n == 1 {
                "1 key".to_string()
            } else {
                format!("{n} keys")
            };
            let listed = ids.join(", ");
            let certificates = if n == 1 {
                "certificate"
            } else {
                "certificates"
            };
            match certificate {
                RecoverCertificate::New { .. } => {
                    let new = if n == 1 {
                        "1 new certificate".to_string()
                    } else {
                        format!("{n} new certificates")
                    };
                    parts.push(format!("recover {keys}, issue {new}"));
                    if let Some(reason) = revoke_old {
                        parts.push(format!("revoke {certificates} {listed} ({reason})"));
                    }
                }
                RecoverCertificate::Reuse => parts.push(format!(
                    "recover {keys} with the reused {certificates} {listed}"
                )),
            }
        }
        format!("Key Management: {}", parts.join(", "))
    }

    /// The roles an officer needs to carry out this plan.
    ///
    /// A new certificate needs `issue-certificate`; a recovery needs `recover-key`; a plan that
    /// only recovers with reused certificates needs `recover-key` alone.
    pub fn required_roles(&self) -> BTreeSet<Role> {
        let mut roles = BTreeSet::new();
        for action in &self.actions {
            match action {
                PlannedAction::GenerateLocal { .. }
                | PlannedAction::Archive { .. }
                | PlannedAction::GenerateServer { .. } => {
                    roles.insert(Role::IssueCertificate);
                }
                PlannedAction::Recover { certificate, .. } => {
                    roles.insert(Role::RecoverKey);
                    if matches!(certificate, RecoverCertificate::New { .. }) {
                        roles.insert(Role::IssueCertificate);
                    }
                }
            }
        }
        roles
    }
}

/// Computes the token plan for a resolved token procedure and the officer's key spec.
pub fn plan_token(token: &ResolvedToken, key_spec: KeySpec) -> Result<TokenPlan, PlanError> {
    for (i, a) in token.keys.iter().enumerate() {
        if let Some(b) = token.keys[i + 1..]
            .iter()
            .find(|b| b.key_usage == a.key_usage)
        {
            return Err(PlanError::DuplicateKeyUsage(a.name.clone(), b.name.clone()));
        }
    }
    let mut local = Vec::new();
    let mut shared: Vec<(KeyUsageSet, Vec<String>)> = Vec::new();
    for cert in &token.certificates {
        let covered = token.keys.iter().any(|k| k.key_usage == cert.key_usage);
        let others = token
            .certificates
            .iter()
            .filter(|c| c.key_usage == cert.key_usage)
            .count();
        if covered {
            continue;
        }
        if others == 1 {
            if !cert.key_specs.is_empty() && !cert.key_specs.contains(&key_spec) {
                return Err(PlanError::KeySpecRefused {
                    procedure: cert.name.clone(),
                    key_spec,
                    allowed: cert
                        .key_specs
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            local.push(PlannedAction::GenerateLocal {
                certificate_procedure: cert.name.clone(),
                key_usage: cert.key_usage.clone(),
                key_spec,
            });
        } else if let Some(group) = shared.iter_mut().find(|(u, _)| *u == cert.key_usage) {
            group.1.push(cert.name.clone());
        } else {
            shared.push((cert.key_usage.clone(), vec![cert.name.clone()]));
        }
    }
    let mut server = Vec::new();
    for key in &token.keys {
        match &key.action {
            KeyAction::Archive { key_spec } => {
                let certs: Vec<String> = token
                    .certificates
                    .iter()
                    .filter(|c| c.key_usage == key.key_usage)
                    .map(|c| c.name.clone())
                    .collect();
                if certs.is_empty() {
                    return Err(PlanError::ArchiveWithoutCertificate(key.name.clone()));
                }
                server.push(PlannedAction::Archive {
                    key_procedure: key.name.clone(),
                    certificate_procedures: certs,
                    key_usage: key.key_usage.clone(),
                    key_spec: *key_spec,
                });
            }
            KeyAction::Recover {
                scope,
                certificate,
                revoke_old,
            } => server.push(PlannedAction::Recover {
                key_procedure: key.name.clone(),
                key_usage: key.key_usage.clone(),
                scope: *scope,
                certificate: certificate.clone(),
                // A reused certificate is the one delivered: never revoked (validation refuses
                // the combination; this keeps the plan right for an unvalidated set too).
                revoke_old: match certificate {
                    RecoverCertificate::New { .. } => revoke_old.reason(),
                    RecoverCertificate::Reuse => None,
                },
            }),
        }
    }
    server.extend(
        shared
            .into_iter()
            .map(
                |(key_usage, certificate_procedures)| PlannedAction::GenerateServer {
                    certificate_procedures,
                    key_usage,
                },
            ),
    );
    local.extend(server);
    Ok(TokenPlan { actions: local })
}

impl fmt::Display for TokenPlan {
    /// The officer's "Key Management" line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let count =
            |pred: &dyn Fn(&PlannedAction) -> bool| self.actions.iter().filter(|a| pred(a)).count();
        let archived = count(&|a| matches!(a, PlannedAction::Archive { .. }));
        let server = count(&|a| matches!(a, PlannedAction::GenerateServer { .. }));
        let local = count(&|a| matches!(a, PlannedAction::GenerateLocal { .. }));
        let keys = |n: usize| {
            if n == 1 {
                "1 key".to_string()
            } else {
                format!("{n} keys")
            }
        };
        if archived > 0 {
            parts.push(format!("archive {} in the server", keys(archived)));
        }
        if server > 0 {
            parts.push(format!("generate {} in the server", keys(server)));
        }
        if local > 0 {
            parts.push(format!("generate {} locally", keys(local)));
        }
        for action in &self.actions {
            if let PlannedAction::Recover {
                scope,
                certificate,
                revoke_old,
                ..
            } = action
            {
                general_recover(*scope, certificate, *revoke_old, &mut parts);
            }
        }
        write!(f, "Key Management: {}", parts.join(", "))
    }
}

/// The general wording of one recover action: "recover last key with a new certificate,
/// revoke its old certificate (superseded)".
fn general_recover(
    scope: RecoverScope,
    certificate: &RecoverCertificate,
    revoke_old: Option<RevocationReason>,
    parts: &mut Vec<String>,
) {
    let what = match scope {
        RecoverScope::Last => "last key",
        RecoverScope::All => "all keys",
    };
    let cert = match certificate {
        RecoverCertificate::New { .. } => "with a new certificate",
        RecoverCertificate::Reuse => "with the reused certificate",
    };
    parts.push(format!("recover {what} {cert}"));
    if let Some(reason) = revoke_old {
        let old = match scope {
            RecoverScope::Last => "its old certificate",
            RecoverScope::All => "their old certificates",
        };
        parts.push(format!("revoke {old} ({reason})"));
    }
}

#[cfg(test)]
mod tests;
