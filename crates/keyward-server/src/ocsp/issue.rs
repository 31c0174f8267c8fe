//! Issuing and recording a delegated OCSP signing certificate (by `keyward init` and by a
//! renewal): through the one issuance path, [`CertificateAuthority::issue`] with the
//! `ocsp-signing` certificate procedure, recorded and audited in one transaction like every
//! certificate.

use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use serde_json::json;

use keyward_ca::{CertificateAuthority, IssueRequest};
use keyward_policy::{CertificateProcedure, DistinguishedName};
use keyward_proto::KeyOrigin;
use keyward_store::{AuditCategory, NewAudit, Outcome, Store};

use super::renew::PROCEDURE;
use crate::service::{certificate_record, name_to_string, unix_now, RecordContext};

/// Issues an OCSP signing certificate for `public` named `subject` from `ca` with
/// `procedure` (`ocsp-signing`: OCSPSigning, id-pkix-ocsp-nocheck, short validity).
pub fn issue(
    ca: &CertificateAuthority,
    public: &PKey<Public>,
    subject: &DistinguishedName,
    procedure: &CertificateProcedure,
) -> Result<X509, String> {
    let serial = keyward_crypto::random_serial().map_err(|e| e.to_string())?;
    ca.issue(&IssueRequest {
        public_key: public,
        subject,
        email: None,
        procedure,
        serial,
        not_before: unix_now(),
        dns_names: &[],
        ip_addresses: &[],
        qc_statements: &procedure.qc_statements,
    })
    .map_err(|e| e.to_string())
}

/// Records `cert` (issued by `ca_cert`) with the audit record `action` by `actor`, in one
/// transaction.
pub async fn record(
    store: &Store,
    ca_cert: &X509,
    cert: &X509,
    actor: &str,
    action: &str,
) -> Result<(), String> {
    let subject = name_to_string(cert.subject_name());
    let row = certificate_record(
        ca_cert,
        cert,
        &RecordContext {
            subject: &subject,
            certificate_procedure: PROCEDURE,
            token_procedure: "-",
            key_origin: KeyOrigin::Server,
            key_usage: "digitalSignature",
            officer: actor,
            email: None,
        },
    )
    .map_err(|e| e.to_string())?;
    let serial = row.serial_hex.clone();
    let audit = NewAudit {
        category: AuditCategory::CertificatesIssued,
        action: action.into(),
        officer: Some(actor.into()),
        outcome: Outcome::Success,
        object: None,
        detail: json!({ "subject": subject, "serial": serial, "procedure": PROCEDURE }),
    };
    store
        .record_issuance(&[row], &audit)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
