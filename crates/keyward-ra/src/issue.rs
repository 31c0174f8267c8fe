//! Issuing one soft token, from the officer's order to the files on disk.

use std::path::{Path, PathBuf};

use openssl::pkey::{PKey, Private};
use serde::Serialize;

use keyward_crypto::transport::TransportKeyPair;
use keyward_crypto::Pin;
use keyward_policy::procedure::{RecoverCertificate, ResolvedToken};
use keyward_policy::{
    plan_token, DistinguishedName, KeySpec, KeySpecList, PinProcedure, PlannedAction, TokenPlan,
};
use keyward_proto::{CsrEntry, IssueRequest, KeyOrigin, KeySelection};

use crate::client::RaClient;
use crate::config::ClientConfig;
use crate::error::RaError;

/// What the officer asked for.
#[derive(Debug, Clone)]
pub struct TokenOrder {
    /// Token procedure name.
    pub procedure: String,
    /// Subject DN as typed.
    pub subject: String,
    /// E-mail field.
    pub email: Option<String>,
    /// Key spec, or `None` for the list's default.
    pub key_spec: Option<String>,
    /// Where the PKCS#12 goes.
    pub p12_path: PathBuf,
    /// Where the certificate goes (`.pem` for PEM, anything else DER); default: the PKCS#12
    /// path with `.der`.
    pub cert_path: Option<PathBuf>,
    /// Overwrite existing files.
    pub force: bool,
    /// Archived keys picked by hand (by the certificate issued when each was created).
    pub recover: Vec<KeySelection>,
}

/// A token ready to be issued: procedure fetched, key spec chosen, plan computed, input checked.
#[derive(Debug)]
pub struct Prepared {
    order: TokenOrder,
    resolved: ResolvedToken,
    plan: TokenPlan,
    key_spec: KeySpec,
    cert_path: PathBuf,
}

/// One certificate of the issued token, as reported to the officer.
#[derive(Debug, Clone, Serialize)]
pub struct TokenCertificate {
    /// Certificate ID (decimal string).
    pub certificate_id: String,
    /// Serial, hex.
    pub serial: String,
    /// Subject.
    pub subject: String,
    /// Certificate procedure.
    pub certificate_procedure: String,
    /// Where its key came from.
    pub key_origin: KeyOrigin,
    /// True for the old certificate of a recovered key, delivered again.
    pub reused: bool,
}

/// What was issued and written.
#[derive(Debug)]
pub struct IssuedToken {
    /// The token procedure.
    pub token_procedure: String,
    /// Certificates in the token.
    pub certificates: Vec<TokenCertificate>,
    /// The PKCS#12 file.
    pub p12_path: PathBuf,
    /// The certificate files: one PEM file with every certificate, or one DER file each (the
    /// first at the path asked for).
    pub cert_paths: Vec<PathBuf>,
    /// The "Key Management" line.
    pub key_management: String,
    /// The key spec used for RA-local keys.
    pub key_spec: KeySpec,
}

/// The key specs the RA offers: client.conf's list, else the server's.
pub async fn key_spec_list(
    client: &RaClient,
    config: &ClientConfig,
) -> Result<KeySpecList, RaError> {
    if let Some(list) = &config.ra_key_generation {
        return Ok(list.clone());
    }
    let server = client.config().await?;
    KeySpecList::parse(&server.ra_key_generation).map_err(|e| RaError::Transport {
        url: config.server_url.clone(),
        reason: format!("server's client.ra-key-generation: {e}"),
    })
}

impl Prepared {
    /// Fetches the procedure, resolves the key spec and plan, and checks the order locally so
    /// that bad input is refused before any key is generated or request sent.
    pub async fn new(
        client: &RaClient,
        config: &ClientConfig,
        order: TokenOrder,
    ) -> Result<Prepared, RaError> {
        let list = key_spec_list(client, config).await?;
        let key_spec = list
            .choose(order.key_spec.as_deref())
            .map_err(|e| RaError::input("key-spec", e.to_string()))?;
        let procedures = client.procedures(None).await?;
        let resolved = procedures
            .token_procedures
            .into_iter()
            .find(|t| t.token.name == order.procedure)
            .ok_or_else(|| {
                RaError::input(
                    "procedure",
                    format!(
                        "no token procedure named {:?} (see `keyward ra procedures`)",
                        order.procedure
                    ),
                )
            })?;
        let plan = plan_token(&resolved, key_spec)
            .map_err(|e| RaError::input("key-spec", e.to_string()))?;
        let subject = DistinguishedName::parse(&order.subject)
            .map_err(|e| RaError::input(&e.field, e.reason))?;
        for name in certificate_procedures(&plan) {
            if let Some(cp) = resolved
                .certificates
                .iter()
                .chain(&resolved.recovery_certificates)
                .find(|c| c.name == name)
            {
                subject.validate(cp, order.email.as_deref()).map_err(|e| {
                    RaError::input(
                        &e.field,
                        format!("{} (certificate procedure {})", e.reason, cp.name),
                    )
                })?;
            }
        }
        let recovers = plan
            .actions
            .iter()
            .any(|a| matches!(a, PlannedAction::Recover { .. }));
        for selection in &order.recover {
            match selection {
                KeySelection::CertificateId(id) if id.parse::<u64>().is_err() => {
                    return Err(RaError::input(
                        "recover-id",
                        format!(
                            "{:?} is not a Certificate ID (a decimal number)",
                            shorten(id)
                        ),
                    ))
                }
                KeySelection::Serial(hex)
                    if hex.is_empty()
                        || hex.len() > 64
                        || !hex.chars().all(|c| c.is_ascii_hexdigit() || c == ':') =>
                {
                    return Err(RaError::input(
                        "recover-serial",
                        format!("{:?} is not a serial number in hex", shorten(hex)),
                    ))
                }
                _ => {}
            }
        }
        if !order.recover.is_empty() && !recovers {
            return Err(RaError::input(
                "recover",
                format!("token procedure {} recovers no keys", resolved.token.name),
            ));
        }
        let cert_path = order
            .cert_path
            .clone()
            .unwrap_or_else(|| order.p12_path.with_extension("der"));
        check_output(&order.p12_path, "p12", order.force)?;
        check_output(&cert_path, "cert", order.force)?;
        if cert_path == order.p12_path {
            return Err(RaError::input("cert", "must differ from the PKCS#12 path"));
        }
        Ok(Prepared {
            order,
            resolved,
            plan,
            key_spec,
            cert_path,
        })
    }

    /// The token plan (its `Display` is the "Key Management" line).
    pub fn plan(&self) -> &TokenPlan {
        &self.plan
    }

    /// The token procedure's PIN rules.
    pub fn pin_procedure(&self) -> &PinProcedure {
        &self.resolved.token.pin
    }

    /// The key spec for RA-local keys.
    pub fn key_spec(&self) -> KeySpec {
        self.key_spec
    }

    /// Generates the local keys, sends the signed request, and writes the token sealed with `pin`.
    pub async fn execute(self, client: &RaClient, pin: &Pin) -> Result<IssuedToken, RaError> {
        let subject = DistinguishedName::parse(&self.order.subject)
            .map_err(|e| RaError::input(&e.field, e.reason))?;
        let local: Vec<String> = self
            .plan
            .actions
            .iter()
            .filter_map(|a| match a {
                PlannedAction::GenerateLocal {
                    certificate_procedure,
                    ..
                } => Some(certificate_procedure.clone()),
                _ => None,
            })
            .collect();
        let spec = self.key_spec;
        let keygen_subject = subject.clone();
        let keys: Vec<(String, PKey<Private>, Vec<u8>)> = tokio::task::spawn_blocking(move || {
            local
                .into_iter()
                .map(|name| {
                    let key = keyward_crypto::generate_key(spec)?;
                    let csr = keyward_crypto::build_csr(&key, &keygen_subject)?;
                    Ok((name, key, csr))
                })
                .collect::<Result<Vec<_>, RaError>>()
        })
        .await
        .map_err(|_| RaError::input("key-spec", "key generation was interrupted"))??;

        let transport = if self.plan.has_server_keys() {
            Some(TransportKeyPair::generate()?)
        } else {
            None
        };
        let request = IssueRequest {
            request_id: random_hex(16)?,
            timestamp: unix_now(),
            nonce: random_hex(16)?,
            token_procedure: self.resolved.token.name.clone(),
            subject: self.order.subject.clone(),
            email: self.order.email.clone(),
            key_spec: spec.to_string(),
            csrs: keys
                .iter()
                .map(|(name, _, csr)| CsrEntry {
                    certificate_procedure: name.clone(),
                    csr: csr.clone(),
                })
                .collect(),
            transport_key: transport.as_ref().map(|t| t.public_der()).transpose()?,
            recover: self.order.recover.clone(),
        };
        let response = client.issue(&request).await?;
        let local: Vec<(String, PKey<Private>)> =
            keys.into_iter().map(|(name, key, _)| (name, key)).collect();
        let token =
            crate::token::assemble(&response, &request.request_id, &local, transport.as_ref())?;
        let friendly = subject
            .get("CN")
            .map(str::to_string)
            .unwrap_or_else(|| subject.to_string());
        let cert_paths = crate::token::write(
            &token,
            &friendly,
            pin,
            &self.order.p12_path,
            &self.cert_path,
            self.order.force,
        )?;
        Ok(IssuedToken {
            token_procedure: self.resolved.token.name.clone(),
            certificates: response
                .certificates
                .iter()
                .map(|c| TokenCertificate {
                    certificate_id: c.certificate_id.clone(),
                    serial: c.serial.clone(),
                    subject: c.subject.clone(),
                    certificate_procedure: c.certificate_procedure.clone(),
                    key_origin: c.key_origin,
                    reused: c.reused,
                })
                .collect(),
            p12_path: self.order.p12_path,
            cert_paths,
            key_management: self.plan.to_string(),
            key_spec: spec,
        })
    }
}

/// Every certificate procedure that will certify something in this plan.
fn certificate_procedures(plan: &TokenPlan) -> Vec<String> {
    let mut names = Vec::new();
    for action in &plan.actions {
        match action {
            PlannedAction::GenerateLocal {
                certificate_procedure,
                ..
            } => names.push(certificate_procedure.clone()),
            PlannedAction::Archive {
                certificate_procedures,
                ..
            }
            | PlannedAction::GenerateServer {
                certificate_procedures,
                ..
            } => names.extend(certificate_procedures.iter().cloned()),
            PlannedAction::Recover {
                certificate:
                    RecoverCertificate::New {
                        certificate_procedure,
                    },
                ..
            } => names.push(certificate_procedure.clone()),
            PlannedAction::Recover { .. } => {}
        }
    }
    names
}

fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

pub(crate) fn is_pem(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pem"))
}

pub(crate) fn check_output(path: &Path, field: &str, force: bool) -> Result<(), RaError> {
    if path.as_os_str().is_empty() {
        return Err(RaError::input(field, "no file name"));
    }
    if path.is_dir() {
        return Err(RaError::input(
            field,
            format!("{} is a directory", path.display()),
        ));
    }
    if path.exists() && !force {
        return Err(RaError::input(
            field,
            format!("{} exists (use --force to overwrite)", path.display()),
        ));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(RaError::input(
            field,
            format!("directory {} does not exist", parent.display()),
        ));
    }
    Ok(())
}

fn random_hex(bytes: usize) -> Result<String, RaError> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf)
        .map_err(|_| RaError::input("random", "the random generator failed"))?;
    Ok(hex::encode(buf))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
