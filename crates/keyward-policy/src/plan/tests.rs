//! Table tests of the token plan against the seed's cases.

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
            revoke_old: Default::default(),
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
            .filter(
                |a| matches!(a, PlannedAction::GenerateLocal { key_spec, .. } if *key_spec == SPEC),
            )
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

/// A recovery with a new certificate through a key procedure with `revoke_old`.
fn recover_revoking(scope: RecoverScope, reason: &str) -> KeyProcedure {
    let mut key = recover("rec", ENC, scope, true);
    if let KeyAction::Recover { revoke_old, .. } = &mut key.action {
        *revoke_old = crate::procedure::RevokeOld::from(reason.to_string());
    }
    key
}

#[test]
fn the_plan_names_the_revocation_of_old_certificates() {
    use RevocationReason::*;
    // (case, key procedure, general line, reason, line with the keys found)
    type Case = (
        &'static str,
        KeyProcedure,
        &'static str,
        Option<RevocationReason>,
        Vec<String>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "new certificate, superseded",
            recover_revoking(RecoverScope::Last, "superseded"),
            "Key Management: recover last key with a new certificate, revoke its old certificate (superseded)",
            Some(Superseded),
            vec!["42".into()],
            "Key Management: recover 1 key, issue 1 new certificate, revoke certificate 42 (superseded)",
        ),
        (
            "all keys, keyCompromise",
            recover_revoking(RecoverScope::All, "keyCompromise"),
            "Key Management: recover all keys with a new certificate, revoke their old certificates (keyCompromise)",
            Some(KeyCompromise),
            vec!["40".into(), "41".into()],
            "Key Management: recover 2 keys, issue 2 new certificates, revoke certificates 40, 41 (keyCompromise)",
        ),
        (
            "hold",
            recover_revoking(RecoverScope::Last, "certificateHold"),
            "Key Management: recover last key with a new certificate, revoke its old certificate (certificateHold)",
            Some(CertificateHold),
            vec!["7".into()],
            "Key Management: recover 1 key, issue 1 new certificate, revoke certificate 7 (certificateHold)",
        ),
        (
            "none",
            recover_revoking(RecoverScope::Last, "none"),
            "Key Management: recover last key with a new certificate",
            None,
            vec!["42".into()],
            "Key Management: recover 1 key, issue 1 new certificate",
        ),
        (
            "reuse never revokes, even unvalidated",
            {
                let mut key = recover("rec", ENC, RecoverScope::All, false);
                if let KeyAction::Recover { revoke_old, .. } = &mut key.action {
                    *revoke_old = crate::procedure::RevokeOld::Superseded;
                }
                key
            },
            "Key Management: recover all keys with the reused certificate",
            None,
            vec!["40".into(), "41".into()],
            "Key Management: recover 2 keys with the reused certificates 40, 41",
        ),
    ];
    for (name, key, line, reason, ids, concrete) in cases {
        let plan = plan_token(&token(vec![cert("sig", SIG)], vec![key]), SPEC).unwrap();
        let local = "generate 1 key locally, ";
        assert_eq!(
            plan.to_string(),
            line.replacen("Key Management: ", &format!("Key Management: {local}"), 1),
            "{name}"
        );
        assert_eq!(
            plan.revocations(),
            reason.map(|r| ("rec", r)).into_iter().collect::<Vec<_>>(),
            "{name}"
        );
        assert_eq!(
            plan.key_management_with(&[("rec", ids)]),
            concrete.replacen("Key Management: ", &format!("Key Management: {local}"), 1),
            "{name}"
        );
        // Keys not looked up: the general line.
        assert_eq!(plan.key_management_with(&[]), plan.to_string(), "{name}");
    }
}

/// (case, token, whether a key spec applies, words the reason must contain)
#[test]
fn a_key_spec_applies_only_when_the_ra_generates_a_key() {
    let cases: Vec<(&str, ResolvedToken, Option<&[&str]>)> = vec![
        ("RA-local key", token(vec![cert("sig", SIG)], vec![]), None),
        (
            "local signing key + archived encryption key: the spec is for the local one",
            token(
                vec![cert("sig", SIG), cert("enc", ENC)],
                vec![archive("arch", ENC)],
            ),
            None,
        ),
        (
            "archived only",
            token(vec![cert("enc", ENC)], vec![archive("arch", ENC)]),
            Some(&[
                "no key of this token is generated here",
                "RSA:2048",
                "arch",
                "archived",
            ]),
        ),
        (
            "recovered only",
            token(
                vec![cert("enc", ENC)],
                vec![recover("rec", ENC, RecoverScope::Last, true)],
            ),
            Some(&["recovered from the archive (key procedure rec)"]),
        ),
        (
            "shared usage: one server key",
            token(vec![cert("a", SIG), cert("b", SIG)], vec![]),
            Some(&["generated in the server (shared by a, b)"]),
        ),
    ];
    for (case, token, expected) in cases {
        let plan = plan_token(&token, SPEC).unwrap();
        let reason = plan.key_spec_unused();
        match expected {
            None => assert_eq!(reason, None, "{case}"),
            Some(words) => {
                let reason = reason.unwrap_or_else(|| panic!("{case}: a reason"));
                for word in words {
                    assert!(reason.contains(word), "{case}: {word:?} in {reason:?}");
                }
            }
        }
    }
}
