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
            KeyAction::Recover { scope, certificate } => server.push(PlannedAction::Recover {
                key_procedure: key.name.clone(),
                key_usage: key.key_usage.clone(),
                scope: *scope,
                certificate: certificate.clone(),
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
                scope, certificate, ..
            } = action
            {
                let what = match scope {
                    RecoverScope::Last => "last key",
                    RecoverScope::All => "all keys",
                };
                let cert = match certificate {
                    RecoverCertificate::New { .. } => "with a new certificate",
                    RecoverCertificate::Reuse => "with the reused certificate",
                };
                parts.push(format!("recover {what} {cert}"));
            }
        }
        write!(f, "Key Management: {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspec::Curve;
    use crate::pin::{PinMethod, PinProcedure};
    use crate::procedure::{CertificateProcedure, EmailRule, KeyProcedure, TokenProcedure};
    use crate::usage::KeyUsage::{self, *};

    fn cert(name: &str, usage: &[KeyUsage]) -> CertificateProcedure {
        CertificateProcedure {
            name: name.into(),
            description: String::new(),
            validity_days: 365,
            key_usage: KeyUsageSet::of(usage),
            extended_key_usage: vec![],
            subject: vec![],
            email: EmailRule::Optional,
            key_specs: vec![],
            ..Default::default()
        }
    }

    fn archive(name: &str, usage: &[KeyUsage]) -> KeyProcedure {
        KeyProcedure {
            approvals: 0,
            approval_hours: 24,
            name: name.into(),
            description: String::new(),
            key_usage: KeyUsageSet::of(usage),
            action: KeyAction::Archive {
                key_spec: KeySpec::Rsa(2048),
            },
        }
    }

    fn recover(name: &str, usage: &[KeyUsage], scope: RecoverScope, new: bool) -> KeyProcedure {
        KeyProcedure {
            approvals: 0,
            approval_hours: 24,
            name: name.into(),
            description: String::new(),
            key_usage: KeyUsageSet::of(usage),
            action: KeyAction::Recover {
                scope,
                certificate: if new {
                    RecoverCertificate::New {
                        certificate_procedure: "enc".into(),
                    }
                } else {
                    RecoverCertificate::Reuse
                },
            },
        }
    }

    fn token(certs: Vec<CertificateProcedure>, keys: Vec<KeyProcedure>) -> ResolvedToken {
        ResolvedToken {
            token: TokenProcedure {
                name: "t".into(),
                description: String::new(),
                certificate_procedures: certs.iter().map(|c| c.name.clone()).collect(),
                key_procedures: keys.iter().map(|k| k.name.clone()).collect(),
                pin_procedure: "show".into(),
                p12_profile: "modern".into(),
                friendly_name: Default::default(),
                chain: Default::default(),
                attribute_certificate: None,
            },
            certificates: certs,
            keys,
            pin: PinProcedure {
                name: "show".into(),
                description: String::new(),
                method: PinMethod::Show,
                min_length: 8,
                max_length: 64,
                generated_length: 12,
                puk_length: 12,
                delivery: Default::default(),
            },
            p12: crate::p12::P12Profile::builtin(crate::p12::P12Scheme::Modern),
            recovery_certificates: vec![],
            attribute_certificate: None,
        }
    }

    const SPEC: KeySpec = KeySpec::Ec(Curve::BrainpoolP320r1);
    const SIG: &[KeyUsage] = &[DigitalSignature, NonRepudiation];
    const ENC: &[KeyUsage] = &[KeyEncipherment];

    /// (case, token, expected Key Management line, expected local keys, expected roles)
    #[test]
    fn seed_cases() {
        use Role::*;
        let cases: Vec<(&str, ResolvedToken, &str, usize, Vec<Role>)> = vec![
            (
                "unique usage: RA-local key",
                token(vec![cert("sig", SIG)], vec![]),
                "Key Management: generate 1 key locally",
                1,
                vec![IssueCertificate],
            ),
            (
                "officer certificate: empty usage is still unique",
                token(vec![cert("officer", &[])], vec![]),
                "Key Management: generate 1 key locally",
                1,
                vec![IssueCertificate],
            ),
            (
                "usage covered by an archive key procedure: server",
                token(vec![cert("enc", ENC)], vec![archive("arch", ENC)]),
                "Key Management: archive 1 key in the server",
                0,
                vec![IssueCertificate],
            ),
            (
                "signing local + encryption archived",
                token(vec![cert("sig", SIG), cert("enc", ENC)], vec![archive("arch", ENC)]),
                "Key Management: archive 1 key in the server, generate 1 key locally",
                1,
                vec![IssueCertificate],
            ),
            (
                "nothing unique: two certificate procedures share a usage",
                token(vec![cert("a", SIG), cert("b", SIG)], vec![]),
                "Key Management: generate 1 key in the server",
                0,
                vec![IssueCertificate],
            ),
            (
                "recover last with new certificate",
                token(vec![], vec![recover("rec", ENC, RecoverScope::Last, true)]),
                "Key Management: recover last key with a new certificate",
                0,
                vec![IssueCertificate, RecoverKey],
            ),
            (
                "recover all with reuse needs recover-key alone",
                token(vec![], vec![recover("rec", ENC, RecoverScope::All, false)]),
                "Key Management: recover all keys with the reused certificate",
                0,
                vec![RecoverKey],
            ),
            (
                "archive + local + recover",
                token(
                    vec![cert("sig", SIG), cert("enc", ENC)],
                    vec![archive("arch", ENC), recover("rec", &[DataEncipherment], RecoverScope::Last, true)],
                ),
                "Key Management: archive 1 key in the server, generate 1 key locally, recover last key with a new certificate",
                1,
                vec![IssueCertificate, RecoverKey],
            ),
            (
                "certificate usage covered by a recover procedure: not local",
                token(vec![cert("enc", ENC)], vec![recover("rec", ENC, RecoverScope::Last, false)]),
                "Key Management: recover last key with the reused certificate",
                0,
                vec![RecoverKey],
            ),
        ];
        for (name, token, line, local, roles) in cases {
            let plan = plan_token(&token, SPEC).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(plan.to_string(), line, "{name}");
            let n = plan
                .actions
                .iter()
                .filter(|a| matches!(a, PlannedAction::GenerateLocal { key_spec, .. } if *key_spec == SPEC))
                .count();
            assert_eq!(n, local, "{name}");
            assert_eq!(plan.has_local_keys(), local > 0, "{name}");
            assert_eq!(plan.has_server_keys(), plan.actions.len() > local, "{name}");
            assert_eq!(plan.required_roles(), roles.into_iter().collect(), "{name}");
        }
    }

    #[test]
    fn archive_key_spec_is_the_procedures_not_the_officers() {
        let plan = plan_token(
            &token(vec![cert("enc", ENC)], vec![archive("arch", ENC)]),
            SPEC,
        )
        .unwrap();
        assert!(matches!(
            &plan.actions[0],
            PlannedAction::Archive { key_spec: KeySpec::Rsa(2048), certificate_procedures, .. } if certificate_procedures == &["enc"]
        ));
    }

    #[test]
    fn refusals() {
        let mut restricted = cert("sig", SIG);
        restricted.key_specs = vec![KeySpec::Rsa(3072)];
        assert!(matches!(
            plan_token(&token(vec![restricted], vec![]), SPEC),
            Err(PlanError::KeySpecRefused { .. })
        ));
        assert_eq!(
            plan_token(
                &token(vec![cert("sig", SIG)], vec![archive("arch", ENC)]),
                SPEC
            ),
            Err(PlanError::ArchiveWithoutCertificate("arch".into()))
        );
        assert!(matches!(
            plan_token(
                &token(
                    vec![cert("enc", ENC)],
                    vec![archive("a", ENC), archive("b", ENC)]
                ),
                SPEC
            ),
            Err(PlanError::DuplicateKeyUsage(..))
        ));
    }
}
