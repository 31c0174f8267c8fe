//! The content check (seed: "Enter subject data in the input fields"): what the officer typed
//! for one token — subject, e-mail, DNS names and IP addresses, QC statements, archived keys
//! picked by hand — against every certificate procedure the token plan certifies with.
//!
//! One pure function, like [`plan_token`](crate::plan_token): the RA runs it before any key is
//! generated, a browser RA to say why Submit is disabled, and the server again as the
//! authority. Each caller only turns a [`ContentError`] into its own error.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::alt_names::AltNames;
use crate::plan::{PlannedAction, TokenPlan};
use crate::procedure::{CertificateProcedure, ResolvedToken};
use crate::qc::QcStatements;
use crate::subject::DistinguishedName;

/// One archived key picked by the officer, by the certificate issued when it was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeySelection {
    /// By Certificate ID (decimal string).
    CertificateId(String),
    /// By serial number (hex).
    Serial(String),
}

/// The officer's input for one token, as typed.
#[derive(Debug, Clone, Copy)]
pub struct ContentFields<'a> {
    /// Subject DN (`CN=Alice Example,O=Example,C=SE`).
    pub subject: &'a str,
    /// The e-mail field.
    pub email: Option<&'a str>,
    /// DNS names and IP addresses for the subjectAltName.
    pub alt_names: &'a AltNames,
    /// QC statements the officer adds.
    pub qc_statements: &'a QcStatements,
    /// Archived keys picked by hand.
    pub recover: &'a [KeySelection],
}

/// Input that passed the check, ready for the certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The subject, parsed.
    pub subject: DistinguishedName,
    /// Every certificate procedure the plan certifies with, in plan order, each with its QC
    /// statements merged with the officer's.
    pub procedures: Vec<CertificateProcedure>,
    /// The DNS names, lower-case, duplicates dropped.
    pub dns_names: Vec<String>,
    /// The IP addresses, duplicates dropped.
    pub ip_addresses: Vec<IpAddr>,
}

impl Checked {
    /// The checked certificate procedure `name`, if the plan certifies with it.
    pub fn procedure(&self, name: &str) -> Option<&CertificateProcedure> {
        self.procedures.iter().find(|p| p.name == name)
    }
}

/// Why the input cannot be issued: the field at fault (an option or attribute name: `CN`,
/// `email`, `dns-name`, `qc_statements.psd2`, `recover-id`…) and a sentence for the officer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ContentError {
    /// The field.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn err(field: &str, reason: impl Into<String>) -> ContentError {
    ContentError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Checks the officer's input against the token procedure and its plan; the first problem
/// found is the error.
///
/// In order: the subject parses; each certificate procedure of the plan accepts the subject,
/// e-mail and alt names; the picked keys are well-formed and the plan recovers keys; the QC
/// statements may be added to each certificate and fit its subject; the alt names are well
/// formed even where no new certificate carries them.
pub fn check_content(
    resolved: &ResolvedToken,
    plan: &TokenPlan,
    fields: &ContentFields<'_>,
) -> Result<Checked, ContentError> {
    let subject = DistinguishedName::parse(fields.subject).map_err(|e| err(&e.field, e.reason))?;
    let mut procedures: Vec<CertificateProcedure> = Vec::new();
    for name in plan.certificate_procedures() {
        if procedures.iter().any(|p| p.name == name) {
            continue;
        }
        // A name the token procedure does not resolve is the plan's fault, not the officer's:
        // left out, so that the caller's look-up fails.
        if let Some(p) = resolved
            .certificates
            .iter()
            .chain(&resolved.recovery_certificates)
            .find(|c| c.name == name)
        {
            procedures.push(p.clone());
        }
    }
    // Names the procedure once: the subject rules' reasons already do.
    let in_procedure = |p: &CertificateProcedure, field: &str, reason: String| {
        if reason.contains(&format!("certificate procedure {}", p.name)) {
            err(field, reason)
        } else {
            err(
                field,
                format!("{reason} (certificate procedure {})", p.name),
            )
        }
    };
    for p in &procedures {
        // Checked again here, not only when procedures are loaded: a token must never carry
        // the officers' TLS marker, whatever the database holds.
        if p.marks_officers() {
            return Err(in_procedure(
                p,
                "procedure",
                format!(
                    "{} is reserved for officer certificates",
                    crate::OFFICER_TLS_EKU
                ),
            ));
        }
        subject
            .validate(p, fields.email)
            .map_err(|e| in_procedure(p, &e.field, e.reason))?;
        fields
            .alt_names
            .checked(p)
            .map_err(|e| in_procedure(p, &e.field, e.reason))?;
    }
    check_selections(fields.recover)?;
    let recovers = plan
        .actions
        .iter()
        .any(|a| matches!(a, PlannedAction::Recover { .. }));
    if !fields.recover.is_empty() && !recovers {
        return Err(err(
            "recover",
            format!("token procedure {} recovers no keys", resolved.token.name),
        ));
    }
    if procedures.is_empty() && !fields.qc_statements.is_empty() {
        return Err(err(
            "qc-statement",
            format!(
                "token procedure {} issues no certificate to add QC statements to",
                resolved.token.name
            ),
        ));
    }
    for p in &mut procedures {
        let merged = p
            .qc_statements
            .merge(
                fields.qc_statements,
                &p.qc_officer_may_add,
                &p.qc_officer_must_add,
            )
            .map_err(|e| in_procedure(p, &e.field, e.reason))?;
        merged
            .check_subject(&subject)
            .map_err(|e| in_procedure(p, &e.field, e.reason))?;
        p.qc_statements = merged;
    }
    let (dns_names, ip_addresses) = fields
        .alt_names
        .normalized()
        .map_err(|e| err(&e.field, e.reason))?;
    Ok(Checked {
        subject,
        procedures,
        dns_names,
        ip_addresses,
    })
}

/// Each picked key names a certificate by a decimal Certificate ID or a hex serial number.
fn check_selections(selections: &[KeySelection]) -> Result<(), ContentError> {
    for selection in selections {
        match selection {
            KeySelection::CertificateId(id) if id.parse::<u64>().is_err() => {
                return Err(err(
                    "recover-id",
                    format!(
                        "{:?} is not a Certificate ID (a decimal number)",
                        shorten(id)
                    ),
                ))
            }
            KeySelection::Serial(hex) => {
                if let Err(why) = crate::serial::normalize(hex) {
                    return Err(err("recover-serial", format!("{:?}: {why}", shorten(hex))));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hostile_subjects;
