//! A whole procedure set: its validation (unique names, references that resolve) and lookups.

use std::collections::BTreeMap;

use super::{
    KeyAction, KeyProcedure, ProcedureError, ProcedureSet, RecoverCertificate, ResolvedToken,
    MAX_APPROVALS,
};
use crate::p12::{P12Profile, P12Scheme};
use crate::pin::PinProcedure;

impl ProcedureSet {
    /// Checks names are unique and every reference resolves.
    pub fn validate(&self) -> Result<(), ProcedureError> {
        let mut seen = BTreeMap::new();
        let names = self
            .certificate
            .iter()
            .map(|p| ("certificate", &p.name))
            .chain(self.key.iter().map(|p| ("key", &p.name)))
            .chain(self.token.iter().map(|p| ("token", &p.name)))
            .chain(self.pin.iter().map(|p| ("PIN", &p.name)))
            .chain(self.p12.iter().map(|p| ("PKCS#12 profile", &p.name)))
            .chain(
                self.attribute
                    .iter()
                    .map(|p| ("attribute-certificate", &p.name)),
            );
        for (kind, name) in names {
            if !valid_name(name) {
                return Err(ProcedureError {
                    procedure: name.clone(),
                    reason: "names use letters, digits, '-' and '_' (at most 64)".into(),
                });
            }
            if seen.insert((kind, name.clone()), ()).is_some() {
                return Err(ProcedureError {
                    procedure: name.clone(),
                    reason: format!("two {kind} procedures have this name"),
                });
            }
        }
        for cert in &self.certificate {
            cert.validate().map_err(|reason| ProcedureError {
                procedure: cert.name.clone(),
                reason,
            })?;
        }
        for ac in &self.attribute {
            ac.validate().map_err(|reason| ProcedureError {
                procedure: ac.name.clone(),
                reason,
            })?;
        }
        for pin in &self.pin {
            pin.validate().map_err(|reason| ProcedureError {
                procedure: pin.name.clone(),
                reason,
            })?;
        }
        for key in &self.key {
            check_revoke_old(key)?;
            let recover = matches!(key.action, KeyAction::Recover { .. });
            if key.approvals > 0 && !recover {
                return Err(ProcedureError {
                    procedure: key.name.clone(),
                    reason: "approvals only apply to recover key procedures".into(),
                });
            }
            if key.approvals > MAX_APPROVALS || !(1..=720).contains(&key.approval_hours) {
                return Err(ProcedureError {
                    procedure: key.name.clone(),
                    reason: format!(
                        "approvals must be at most {MAX_APPROVALS}, approval_hours 1 to 720"
                    ),
                });
            }
        }
        for profile in &self.p12 {
            profile.validate().map_err(|reason| ProcedureError {
                procedure: profile.name.clone(),
                reason,
            })?;
        }
        for token in &self.token {
            let resolved = self.resolve(&token.name)?;
            // A certificate with id-pkix-ocsp-nocheck signs OCSP answers that relying parties
            // trust without checking it: Keyward issues it itself, to its own responder only.
            if let Some(ocsp) = resolved
                .certificates
                .iter()
                .chain(&resolved.recovery_certificates)
                .find(|c| c.ocsp_no_check)
            {
                return Err(ProcedureError {
                    procedure: token.name.clone(),
                    reason: format!(
                        "certificate_procedures: {} has ocsp_no_check, an OCSP responder's \
                         certificate that Keyward issues itself, never in a token",
                        ocsp.name
                    ),
                });
            }
        }
        Ok(())
    }

    /// Looks up a token procedure and everything it names.
    pub fn resolve(&self, token_name: &str) -> Result<ResolvedToken, ProcedureError> {
        let token = self
            .token
            .iter()
            .find(|t| t.name == token_name)
            .ok_or_else(|| ProcedureError {
                procedure: token_name.into(),
                reason: "no such token procedure".into(),
            })?;
        let cert = |name: &str| {
            self.certificate
                .iter()
                .find(|c| c.name == name)
                .cloned()
                .ok_or_else(|| ProcedureError {
                    procedure: token.name.clone(),
                    reason: format!("certificate procedure {name} does not exist"),
                })
        };
        let certificates = token
            .certificate_procedures
            .iter()
            .map(|n| cert(n))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = token
            .key_procedures
            .iter()
            .map(|n| {
                self.key
                    .iter()
                    .find(|k| &k.name == n)
                    .cloned()
                    .ok_or_else(|| ProcedureError {
                        procedure: token.name.clone(),
                        reason: format!("key procedure {n} does not exist"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pin = self
            .pin_procedure(&token.pin_procedure)
            .cloned()
            .ok_or_else(|| ProcedureError {
                procedure: token.name.clone(),
                reason: format!("PIN procedure {} does not exist", token.pin_procedure),
            })?;
        let p12 = self
            .p12_profile(&token.p12_profile)
            .ok_or_else(|| ProcedureError {
                procedure: token.name.clone(),
                reason: format!(
                    "PKCS#12 profile {} does not exist (built in: modern, legacy)",
                    token.p12_profile
                ),
            })?;
        let mut recovery_certificates = Vec::new();
        for key in &keys {
            // Again here: the server resolves procedures it reads from the database.
            check_revoke_old(key)?;
            if let KeyAction::Recover {
                certificate:
                    RecoverCertificate::New {
                        certificate_procedure,
                    },
                ..
            } = &key.action
            {
                recovery_certificates.push(cert(certificate_procedure)?);
            }
        }
        let attribute_certificate = match &token.attribute_certificate {
            None => None,
            Some(name) => {
                let ac = self
                    .attribute
                    .iter()
                    .find(|a| &a.name == name)
                    .cloned()
                    .ok_or_else(|| ProcedureError {
                        procedure: token.name.clone(),
                        reason: format!("attribute-certificate procedure {name} does not exist"),
                    })?;
                if certificates.is_empty() {
                    return Err(ProcedureError {
                        procedure: token.name.clone(),
                        reason: "an attribute certificate needs a certificate procedure to bind to"
                            .into(),
                    });
                }
                Some(ac)
            }
        };
        if certificates.is_empty() && keys.is_empty() {
            return Err(ProcedureError {
                procedure: token.name.clone(),
                reason: "names no certificate or key procedure".into(),
            });
        }
        Ok(ResolvedToken {
            token: token.clone(),
            certificates,
            keys,
            pin,
            p12,
            recovery_certificates,
            attribute_certificate,
        })
    }

    /// Looks up a PKCS#12 profile by name: a defined one, else the built-in `modern` or
    /// `legacy`.
    pub fn p12_profile(&self, name: &str) -> Option<P12Profile> {
        if let Some(p) = self.p12.iter().find(|p| p.name == name) {
            return Some(p.clone());
        }
        [P12Scheme::Modern, P12Scheme::Legacy]
            .into_iter()
            .find(|s| s.name() == name)
            .map(P12Profile::builtin)
    }

    /// Looks up a PIN procedure by name.
    pub fn pin_procedure(&self, name: &str) -> Option<&PinProcedure> {
        self.pin.iter().find(|p| p.name == name)
    }
}

/// Refuses an unknown `revoke_old` and one other than `none` with a reused certificate.
fn check_revoke_old(key: &KeyProcedure) -> Result<(), ProcedureError> {
    if let KeyAction::Recover {
        certificate,
        revoke_old,
        ..
    } = &key.action
    {
        revoke_old
            .check(*certificate == RecoverCertificate::Reuse)
            .map_err(|reason| ProcedureError {
                procedure: key.name.clone(),
                reason,
            })?;
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set with one recover key procedure written as `lines` and a token procedure naming it.
    fn with_recover(lines: &str) -> Result<ProcedureSet, String> {
        let text = format!(
            r#"
[[certificate-procedure]]
name = "enc"
validity_days = 365
key_usage = ["keyEncipherment"]
subject = [{{ attribute = "CN", required = true }}]

[[key-procedure]]
name = "rec"
key_usage = ["keyEncipherment"]
action = "recover"
scope = "last"
{lines}

[[pin-procedure]]
name = "show"
method = "show"

[[token-procedure]]
name = "t"
key_procedures = ["rec"]
pin_procedure = "show"
"#
        );
        toml::from_str(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn revoke_old_values_and_combinations() {
        let new = r#"certificate = { kind = "new", certificate_procedure = "enc" }"#;
        let reuse = r#"certificate = { kind = "reuse" }"#;
        // (certificate, revoke_old line, Ok(reason) or Err(words the refusal has))
        type Want = Result<Option<&'static str>, &'static str>;
        let table: [(&str, &str, Want); 10] = [
            (new, "", Ok(None)),
            (new, r#"revoke_old = "none""#, Ok(None)),
            (new, r#"revoke_old = "superseded""#, Ok(Some("superseded"))),
            (
                new,
                r#"revoke_old = "keyCompromise""#,
                Ok(Some("keyCompromise")),
            ),
            (
                new,
                r#"revoke_old = "certificateHold""#,
                Ok(Some("certificateHold")),
            ),
            (
                new,
                r#"revoke_old = "unspecified""#,
                Err("\"unspecified\" is not one of"),
            ),
            (
                new,
                r#"revoke_old = "Superseded""#,
                Err("\"Superseded\" is not one of"),
            ),
            (reuse, "", Ok(None)),
            (reuse, r#"revoke_old = "none""#, Ok(None)),
            (
                reuse,
                r#"revoke_old = "superseded""#,
                Err("with certificate = \"reuse\""),
            ),
        ];
        for (certificate, line, want) in table {
            let set = with_recover(&format!("{certificate}\n{line}"))
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            match want {
                Ok(reason) => {
                    set.validate().unwrap_or_else(|e| panic!("{line}: {e}"));
                    let resolved = set.resolve("t").unwrap();
                    let KeyAction::Recover { revoke_old, .. } = &resolved.keys[0].action else {
                        panic!("not a recovery");
                    };
                    assert_eq!(revoke_old.reason().map(|r| r.name()), reason, "{line}");
                }
                Err(words) => {
                    let err = set.validate().unwrap_err();
                    assert_eq!(err.procedure, "rec", "{line}");
                    let text = err.to_string();
                    assert!(
                        text.contains("procedure rec") && text.contains("revoke_old"),
                        "{text}"
                    );
                    assert!(text.contains(words), "{line}: {text}");
                    // The server resolves what it reads from the database: refused there too.
                    assert!(set.resolve("t").is_err(), "{line}");
                }
            }
        }
    }

    #[test]
    fn revoke_old_is_written_back_only_when_set() {
        let set = with_recover(
            r#"certificate = { kind = "new", certificate_procedure = "enc" }
revoke_old = "keyCompromise""#,
        )
        .unwrap();
        let text = toml::to_string(&set).unwrap();
        assert!(text.contains("revoke_old = \"keyCompromise\""), "{text}");
        let back: ProcedureSet = toml::from_str(&text).unwrap();
        assert_eq!(back, set);
        let plain =
            with_recover(r#"certificate = { kind = "new", certificate_procedure = "enc" }"#)
                .unwrap();
        assert!(!toml::to_string(&plain).unwrap().contains("revoke_old"));
    }
}
