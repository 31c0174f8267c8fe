//! The blocking half of issuing a token: generates and opens keys through the KRA and has the
//! CA sign. Nothing is stored here; the sealed keys it returns leave only after the store has
//! committed.

use openssl::pkey::{PKey, PKeyRef, Public};
use openssl::x509::X509;

use keyward_ca::{CertificateAuthority, IssueRequest as CaRequest};
use keyward_kra::{Envelope, Kra, KraError};
use keyward_policy::{CertificateProcedure, DistinguishedName, KeySpec, RevocationReason};
use keyward_proto::{KeyOrigin, SealedKey};
use keyward_store::{ArchivedKey, NewArchivedKey};

use super::{unix_now, wire, Refusal};

/// One thing to produce.
pub(super) enum Step {
    /// Certify the RA's key from its CSR.
    Local {
        procedure: CertificateProcedure,
        key_usage: String,
        csr: Vec<u8>,
    },
    /// The KRA generates a key (and archives it when `archive` names the key procedure); every
    /// listed procedure certifies it.
    Server {
        procedures: Vec<CertificateProcedure>,
        key_usage: String,
        spec: KeySpec,
        archive: Option<String>,
    },
    /// The KRA opens archived keys; each gets a new certificate or its old one.
    Recover {
        key_procedure: String,
        keys: Vec<ArchivedKey>,
        new_certificate: Option<CertificateProcedure>,
        /// With a new certificate: the reason the old ones are revoked with (`revoke_old`).
        revoke_old: Option<RevocationReason>,
    },
}

/// What a recovered key's audit record names.
#[derive(Clone)]
pub(super) struct RecoveredFrom {
    pub(super) certificate_id: i64,
    pub(super) serial: String,
    pub(super) key_procedure: String,
    pub(super) certificate: &'static str,
    /// The reason the old certificate is revoked with, in the recording transaction.
    pub(super) revoke_old: Option<RevocationReason>,
}

/// One certificate of the token, in plan order.
pub(super) enum Output {
    New {
        cert: X509,
        procedure: String,
        key_usage: String,
        origin: KeyOrigin,
        sealed: Option<SealedKey>,
        archive: Option<Box<NewArchivedKey>>,
        recovered_from: Option<RecoveredFrom>,
    },
    Reused {
        /// Boxed: an archived key with its certificate row (and its revocation) is the
        /// largest output by far.
        key: Box<ArchivedKey>,
        sealed: SealedKey,
        key_procedure: String,
    },
}

/// What the blocking part needs besides the steps.
pub(super) struct Inputs {
    pub(super) subject: DistinguishedName,
    pub(super) email: Option<String>,
    /// dNSName subjectAltNames (checked against every procedure that certifies).
    pub(super) dns_names: Vec<String>,
    /// iPAddress subjectAltNames.
    pub(super) ip_addresses: Vec<std::net::IpAddr>,
    pub(super) key_spec: KeySpec,
    pub(super) transport: Option<PKey<Public>>,
    pub(super) request_id: String,
}

fn kra_refusal(e: KraError) -> Refusal {
    match e {
        KraError::NoArchiveKey => Refusal::unsupported(e.to_string()),
        KraError::Transport(_) => Refusal::invalid("transport_key", e.to_string()),
        other => Refusal::internal(other),
    }
}

/// The blocking half: generates, decrypts and signs. Nothing is stored yet.
pub(super) fn produce(
    ca: &CertificateAuthority,
    kra: &Kra,
    steps: Vec<Step>,
    inp: &Inputs,
) -> Result<Vec<Output>, Refusal> {
    let now = unix_now();
    let sign = |public_key: &PKeyRef<Public>, procedure: &CertificateProcedure| {
        let serial = keyward_crypto::random_serial().map_err(Refusal::internal)?;
        ca.issue(&CaRequest {
            public_key,
            subject: &inp.subject,
            email: inp.email.as_deref(),
            procedure,
            serial,
            not_before: now,
            dns_names: &inp.dns_names,
            ip_addresses: &inp.ip_addresses,
            qc_statements: &procedure.qc_statements,
        })
        .map_err(Refusal::internal)
    };
    let transport = || {
        inp.transport
            .as_ref()
            .ok_or_else(|| Refusal::internal("server-side key without a transport key"))
    };
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Local {
                procedure,
                key_usage,
                csr,
            } => {
                let bad = |e: &dyn std::fmt::Display| {
                    Refusal::invalid("csrs", format!("CSR for {}: {e}", procedure.name))
                };
                let public_key = keyward_crypto::verify_csr(&csr).map_err(|e| bad(&e))?;
                let actual = keyward_crypto::key_spec_of(&public_key).map_err(|e| bad(&e))?;
                if actual != inp.key_spec {
                    return Err(Refusal::invalid(
                        "key_spec",
                        format!(
                            "the CSR for {} holds a {actual} key, the request says {}",
                            procedure.name, inp.key_spec
                        ),
                    ));
                }
                out.push(Output::New {
                    cert: sign(&public_key, &procedure)?,
                    procedure: procedure.name,
                    key_usage,
                    origin: KeyOrigin::Local,
                    sealed: None,
                    archive: None,
                    recovered_from: None,
                });
            }
            Step::Server {
                procedures,
                key_usage,
                spec,
                archive,
            } => {
                let key = kra
                    .generate(spec, archive.is_some(), transport()?, &inp.request_id)
                    .map_err(kra_refusal)?;
                for (i, procedure) in procedures.iter().enumerate() {
                    // The archived-key row belongs to the first certificate of the key.
                    let row = match (&archive, &key.envelope, i) {
                        (Some(key_procedure), Some(env), 0) => Some(Box::new(NewArchivedKey {
                            key_procedure: key_procedure.clone(),
                            key_spec: spec.to_string(),
                            key_usage: key_usage.clone(),
                            kek_id: env.kek_id.clone(),
                            sealed: env.sealed.clone(),
                        })),
                        _ => None,
                    };
                    out.push(Output::New {
                        cert: sign(&key.public_key, procedure)?,
                        procedure: procedure.name.clone(),
                        key_usage: key_usage.clone(),
                        origin: if archive.is_some() {
                            KeyOrigin::Archived
                        } else {
                            KeyOrigin::Server
                        },
                        sealed: Some(wire(key.delivery.clone())),
                        archive: row,
                        recovered_from: None,
                    });
                }
            }
            Step::Recover {
                key_procedure,
                keys,
                new_certificate,
                revoke_old,
            } => {
                for key in keys {
                    let damaged = |e: &dyn std::fmt::Display| {
                        tracing::error!(
                            certificate_id = key.certificate.id,
                            "archived key cannot be recovered: {e}"
                        );
                        Refusal::conflict(
                            "recover",
                            format!(
                                "the archived key of Certificate ID {} (serial {}) cannot be recovered: {e}",
                                key.certificate.id, key.certificate.serial_hex
                            ),
                        )
                    };
                    let cert = X509::from_der(&key.certificate.der).map_err(|e| damaged(&e))?;
                    let public_key = cert.public_key().map_err(|e| damaged(&e))?;
                    let envelope = Envelope {
                        kek_id: key.kek_id.clone(),
                        sealed: key.sealed.clone(),
                    };
                    let sealed =
                        match kra.recover(&envelope, &public_key, transport()?, &inp.request_id) {
                            Ok(s) => wire(s),
                            Err(e @ (KraError::Damaged(_) | KraError::UnknownArchiveKey(_))) => {
                                return Err(damaged(&e))
                            }
                            Err(e) => return Err(kra_refusal(e)),
                        };
                    out.push(match &new_certificate {
                        Some(procedure) => Output::New {
                            cert: sign(&public_key, procedure)?,
                            procedure: procedure.name.clone(),
                            key_usage: key.key_usage.clone(),
                            origin: KeyOrigin::Recovered,
                            sealed: Some(sealed),
                            archive: None,
                            recovered_from: Some(RecoveredFrom {
                                certificate_id: key.certificate.id,
                                serial: key.certificate.serial_hex.clone(),
                                key_procedure: key_procedure.clone(),
                                certificate: "new",
                                revoke_old,
                            }),
                        },
                        None => Output::Reused {
                            key: Box::new(key),
                            sealed,
                            key_procedure: key_procedure.clone(),
                        },
                    });
                }
            }
        }
    }
    Ok(out)
}
