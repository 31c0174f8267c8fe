//! Issuing one soft token, from the officer's order to the files on disk.

use std::path::{Path, PathBuf};

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde::Serialize;

use keyward_crypto::{Pin, Pkcs12Profile};
use keyward_policy::procedure::ResolvedToken;
use keyward_policy::{
    plan_token, DistinguishedName, KeySpec, KeySpecList, PinProcedure, PlannedAction, TokenPlan,
};
use keyward_proto::{CsrEntry, IssueRequest, KeyOrigin};

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
    /// The certificate file.
    pub cert_path: PathBuf,
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
        let mut local = 0;
        for action in &plan.actions {
            match action {
                PlannedAction::GenerateLocal {
                    certificate_procedure,
                    ..
                } => {
                    local += 1;
                    if let Some(cp) = resolved
                        .certificates
                        .iter()
                        .find(|c| &c.name == certificate_procedure)
                    {
                        subject.validate(cp, order.email.as_deref()).map_err(|e| {
                            RaError::input(
                                &e.field,
                                format!("{} (certificate procedure {})", e.reason, cp.name),
                            )
                        })?;
                    }
                }
                _ => {
                    return Err(RaError::input(
                        "procedure",
                        format!(
                            "{} needs server-side keys, which this version does not provide yet",
                            resolved.token.name
                        ),
                    ))
                }
            }
        }
        if local != 1 {
            return Err(RaError::input(
                "procedure",
                format!(
                    "{} needs {local} RA-local keys; this version writes one key per PKCS#12",
                    resolved.token.name
                ),
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
        };
        let response = client.issue(&request).await?;
        let bad = |reason: &str| RaError::Transport {
            url: "server".into(),
            reason: reason.to_string(),
        };
        let chain = response
            .chain
            .iter()
            .map(|der| {
                X509::from_der(der).map_err(|_| bad("unreadable CA certificate in the answer"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (name, key, _) = keys.first().ok_or_else(|| bad("no key"))?;
        let issued = response
            .certificates
            .iter()
            .find(|c| &c.certificate_procedure == name)
            .ok_or_else(|| bad("the answer lacks the certificate for our key"))?;
        let cert = X509::from_der(&issued.certificate)
            .map_err(|_| bad("unreadable certificate in the answer"))?;
        let cert_key = cert
            .public_key()
            .map_err(|_| bad("certificate without a public key"))?;
        if !cert_key.public_eq(key) {
            return Err(bad("the server certified a different key than ours"));
        }
        let friendly = subject
            .get("CN")
            .map(str::to_string)
            .unwrap_or_else(|| subject.to_string());
        let p12 = keyward_crypto::build_p12(
            key,
            &cert,
            &chain,
            &friendly,
            pin.as_str(),
            &Pkcs12Profile::default(),
        )?;
        keyward_crypto::files::write_secret(&self.order.p12_path, &p12).map_err(|source| {
            RaError::Io {
                path: self.order.p12_path.clone(),
                source,
            }
        })?;
        let cert_bytes = if is_pem(&self.cert_path) {
            cert.to_pem()
        } else {
            cert.to_der()
        }
        .map_err(|_| bad("certificate could not be encoded"))?;
        keyward_crypto::files::write_public(&self.cert_path, &cert_bytes).map_err(|source| {
            RaError::Io {
                path: self.cert_path.clone(),
                source,
            }
        })?;
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
                })
                .collect(),
            p12_path: self.order.p12_path,
            cert_path: self.cert_path,
            key_management: self.plan.to_string(),
            key_spec: spec,
        })
    }
}

fn is_pem(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pem"))
}

fn check_output(path: &Path, field: &str, force: bool) -> Result<(), RaError> {
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
