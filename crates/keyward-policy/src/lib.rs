//! Keyward's registration policy, as pure data and functions.
//!
//! Nothing here does I/O or holds a secret: the RA client uses it to show the officer what will
//! happen, the server uses the very same functions to decide. Components that hold keys (ca, kra)
//! or data (store) depend on this crate, never the other way round.

#![forbid(unsafe_code)]

pub mod alt_names;
pub mod attribute;
pub mod config;
pub mod content;
pub mod keyspec;
pub mod letter_id;
pub mod p12;
pub mod pin;
pub mod plan;
pub mod postal;
pub mod procedure;
pub mod qc;
mod qc_summary;
pub mod revocation;
pub mod roles;
pub mod serial;
pub mod subject;
pub mod usage;

pub use alt_names::AltNames;
pub use attribute::AttributeCertificateProcedure;
pub use content::{check_content, Checked, ContentError, ContentFields, KeySelection};
pub use keyspec::{KeySpec, KeySpecError, KeySpecList};
pub use letter_id::{LetterId, LetterIdError};
pub use p12::{FriendlyName, P12Profile, P12Scheme};
pub use pin::{MailDelivery, PinMethod, PinProcedure};
pub use plan::{plan_token, PlanError, PlannedAction, TokenPlan};
pub use procedure::{
    CertificateProcedure, KeyAction, KeyProcedure, PolicyInfo, ProcedureSet, RecoverCertificate,
    RecoverScope, RevokeOld, SubjectRule, TokenProcedure, OFFICER_TLS_EKU,
};
pub use qc::{QcError, QcKind, QcStatements};
pub use revocation::RevocationReason;
pub use roles::Role;
pub use subject::{DistinguishedName, SubjectError};
pub use usage::{KeyUsage, KeyUsageSet};
