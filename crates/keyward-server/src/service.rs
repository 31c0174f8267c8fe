//! The server's services: the RA policy applied on the server, which is the authority.
//!
//! They recompute the token plan, check roles, subject and proof of possession, have the CA
//! sign, and store certificates and their audit record in one transaction. Every refusal of a
//! state-changing request is audited here too.
//!
//! The work is split by the secrets it needs (see [`Services`]): only [`Issuance`] holds the
//! issuing CA; the [`PinDesk`] holds the KRA and the PIN mailer's SMTP credentials but no CA;
//! [`Approvals`], [`Queries`] and the API's [`Gate`] hold the database alone.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::{X509NameRef, X509};
use serde_json::json;

use keyward_ca::CertificateAuthority;
use keyward_kra::Kra;
use keyward_policy::KeySpec;
use keyward_proto::{IssueResponse, KeyOrigin};
use keyward_store::{AuditCategory, NewAudit, NewCertificate, Officer, Outcome, Store};

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::metrics::Metrics;

mod answers;
mod approvals;
mod attribute;
mod gate;
mod issue;
mod keys;
mod pin_letters;
mod pin_mail;
mod pin_mailer;
mod produce;
mod queries;
mod record;
mod recovery;
mod refusal;
mod reports;
mod revoke;
mod token_pin;
pub use answers::Answer;
pub(crate) use keys::read_pin;
pub use keys::{load_ca, load_kra};
pub use pin_letters::Letters;
pub use pin_mail::{pin_mail_text, PIN_MAIL_SUBJECT};
pub use pin_mailer::{load_pin_mailer, PinMailer};
pub use refusal::{Refusal, RefusalKind};

/// The answer to an idempotent issue request ([`Issuance::issue_request`]): issued now, or a
/// retry of a completed request answered with its recorded answer, whose keys and PINs are
/// sealed to that request's one-time transport key.
pub type Issued = Answer<Box<IssueResponse>>;

/// The server's components, each holding only what its requests need. Cheap to share behind
/// an `Arc`; the API holds them, never the database itself.
pub struct Services {
    /// Issuing tokens (and recovering keys): the database, the issuing CA and the KRA.
    pub issuance: Issuance,
    /// PIN letters, PIN mail and the token PINs the server chooses: the database, the KRA and
    /// the PIN mailer; no CA.
    pub pins: PinDesk,
    /// Approval requests of M-of-N recoveries and officers' votes: the database.
    pub approvals: Approvals,
    /// Revoking certificates and releasing holds: the database, and the CA certificates
    /// (public) so that officers cannot revoke those.
    pub revocations: Revocations,
    /// Read-only look-ups (procedures, certificates, archived keys): the database.
    pub queries: Queries,
    /// The API's own records (officers, nonces, refused requests): the database.
    pub gate: Gate,
    /// The metrics, when cm.conf or `--metrics-listen` asks for them (see
    /// [`Services::with_metrics`]).
    pub metrics: Option<Arc<Metrics>>,
}

/// Issues tokens: recomputes the plan, has the CA sign and the KRA generate, archive and
/// recover keys, and records everything in one transaction.
pub struct Issuance {
    store: Store,
    ca: Arc<CertificateAuthority>,
    kra: Arc<Kra>,
    server_key_spec: KeySpec,
    /// The PIN desk's part in issuance, without its mailer.
    token_pins: TokenPins,
    /// The approvals a recovery needs.
    approvals: Approvals,
    /// Tokens issued and refused, issuance and database time.
    metrics: Option<Arc<Metrics>>,
}

/// The PIN desk: PIN/PUK letters and the PIN mail queue, each PIN kept in a KRA envelope.
pub struct PinDesk {
    store: Store,
    kra: Arc<Kra>,
    /// The SMTP side, replaced when cm.conf's `pin-mailer.*` is reloaded.
    pin_mailer: pin_mailer::MailerSlot,
}

/// The token PIN when the server chooses it (from a PIN letter, or fresh for the PIN mailer):
/// what issuance borrows from the PIN desk, the database and the KRA only.
struct TokenPins {
    store: Store,
    kra: Arc<Kra>,
}

/// Approval requests of M-of-N recoveries: created and used by issuance, voted on by officers.
#[derive(Clone)]
pub struct Approvals {
    store: Store,
}

/// Revokes certificates, puts them on hold and releases holds: no key, only the database and
/// the serials and names of the CA's own certificates.
pub struct Revocations {
    store: Store,
    /// (serial as lowercase hex without leading zeros, subject) of the issuing CA's
    /// certificate and its chain.
    ca_certificates: Vec<(String, String)>,
}

/// Read-only look-ups for officers: procedures, certificates, attribute certificates and
/// archived keys (never a key), and what the RA needs to know from cm.conf.
pub struct Queries {
    store: Store,
    ra_key_generation: String,
}

/// What the API itself looks up and records: the officer behind a client certificate, the
/// nonces of signed requests, refused requests, and clearing old recorded answers.
pub struct Gate {
    store: Store,
    /// When this process last cleared old recorded answers (Unix seconds): at most once a
    /// minute, not on every request. Only an optimisation: any node may prune.
    answers_pruned_at: AtomicI64,
    /// Database time of nonces and refusals' audit records.
    metrics: Option<Arc<Metrics>>,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Services {
    /// Builds the components from their parts.
    pub fn new(
        store: Store,
        ca: CertificateAuthority,
        kra: Kra,
        ra_key_generation: String,
    ) -> Services {
        // Keys the server generates for no certificate procedure of its own (shared key usage)
        // get the installation's default spec.
        let server_key_spec = keyward_policy::KeySpecList::parse(&ra_key_generation)
            .map(|l| l.default_spec())
            .unwrap_or(KeySpec::Rsa(2048));
        let kra = Arc::new(kra);
        let ca_certificates = std::iter::once(ca.certificate())
            .chain(ca.chain())
            .filter_map(|c| revoke::ca_entry(c))
            .collect();
        let approvals = Approvals {
            store: store.clone(),
        };
        Services {
            issuance: Issuance {
                store: store.clone(),
                ca: Arc::new(ca),
                kra: kra.clone(),
                server_key_spec,
                token_pins: TokenPins {
                    store: store.clone(),
                    kra: kra.clone(),
                },
                approvals: approvals.clone(),
                metrics: None,
            },
            pins: PinDesk {
                store: store.clone(),
                kra,
                pin_mailer: pin_mailer::MailerSlot::default(),
            },
            approvals,
            revocations: Revocations {
                store: store.clone(),
                ca_certificates,
            },
            queries: Queries {
                store: store.clone(),
                ra_key_generation,
            },
            gate: Gate {
                store,
                answers_pruned_at: AtomicI64::new(0),
                metrics: None,
            },
            metrics: None,
        }
    }

    /// Adds the SMTP side of the PIN mailer (from cm.conf's `pin-mailer.*`) to the PIN desk.
    pub fn with_pin_mailer(self, mailer: PinMailer) -> Services {
        self.pins.replace_pin_mailer(Some(mailer));
        self
    }

    /// Shares `metrics` with the components where the events they count happen.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Services {
        self.issuance.metrics = Some(metrics.clone());
        self.gate.metrics = Some(metrics.clone());
        self.metrics = Some(metrics);
        self
    }

    /// Opens the database and loads the issuing CA, the archive key and the PIN mailer named
    /// by cm.conf. Also returns the database, for the caller's own tasks (the audit log's
    /// sealer); the components never hand it out.
    pub async fn open(config: &ServerConfig) -> Result<(Services, Store), ServerError> {
        let ca = load_ca(config)?;
        let kra = load_kra(config)?;
        let store = Store::open(&config.database_url).await?;
        let services = Services::assemble(config, store.clone(), ca, kra)?;
        Ok((services, store))
    }

    /// As [`Services::open`], from a CA, KRA and database loaded (and checked) by the caller:
    /// adds the PIN mailer cm.conf names.
    pub fn assemble(
        config: &ServerConfig,
        store: Store,
        ca: CertificateAuthority,
        kra: Kra,
    ) -> Result<Services, ServerError> {
        let pin_mailer = load_pin_mailer(config)?;
        let services = Services::new(store, ca, kra, config.ra_key_generation.clone());
        Ok(match pin_mailer {
            Some(mailer) => services.with_pin_mailer(mailer),
            None => services,
        })
    }
}

/// Refuses an officer without `role`, naming the action, and audits the refusal under
/// `category`.
pub(crate) async fn require_role(
    store: &Store,
    officer: &Officer,
    role: keyward_policy::Role,
    category: AuditCategory,
    action: &str,
) -> Result<(), Refusal> {
    if officer.roles.contains(&role) {
        return Ok(());
    }
    let refusal = Refusal::forbidden(format!(
        "officer {} lacks the role {} needed to {}",
        officer.name,
        role.name(),
        action.replace('-', " ")
    ));
    audit_refusal(
        store,
        category,
        action,
        Some(&officer.name),
        &refusal,
        json!({}),
    )
    .await;
    Err(refusal)
}

/// Writes a failure audit record; if even that fails, the refusal still stands and the failure
/// is logged.
pub(crate) async fn audit_refusal(
    store: &Store,
    category: AuditCategory,
    action: &str,
    officer: Option<&str>,
    refusal: &Refusal,
    mut detail: serde_json::Value,
) {
    detail["reason"] = json!(refusal.message);
    if let Some(field) = &refusal.field {
        detail["field"] = json!(field);
    }
    let record = NewAudit {
        category,
        action: action.to_string(),
        officer: officer.map(str::to_string),
        outcome: Outcome::Failure,
        object: None,
        detail,
    };
    if let Err(e) = store.append_audit(&record).await {
        tracing::error!("could not write audit record for a refusal: {e}");
    }
}

/// Reads a file named by cm.conf; an error names the file.
pub(crate) fn read(path: &std::path::Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|e| ServerError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// What the store records about a certificate besides the certificate itself.
pub struct RecordContext<'a> {
    /// Subject as the officer typed it.
    pub subject: &'a str,
    /// Certificate procedure.
    pub certificate_procedure: &'a str,
    /// Token procedure (`-` for none).
    pub token_procedure: &'a str,
    /// Where the key came from.
    pub key_origin: KeyOrigin,
    /// Key usage definition, as text.
    pub key_usage: &'a str,
    /// Issuing officer.
    pub officer: &'a str,
    /// E-mail field.
    pub email: Option<&'a str>,
}

/// The store row for a certificate the CA `ca_cert` signed.
pub fn certificate_record(
    ca_cert: &X509,
    cert: &X509,
    ctx: &RecordContext<'_>,
) -> Result<NewCertificate, Refusal> {
    Ok(NewCertificate {
        serial_hex: serial_hex(cert)?,
        subject: ctx.subject.to_string(),
        issuer: name_to_string(ca_cert.subject_name()),
        not_before: asn1_unix(cert.not_before())?,
        not_after: asn1_unix(cert.not_after())?,
        der: cert.to_der().map_err(Refusal::internal)?,
        certificate_procedure: ctx.certificate_procedure.to_string(),
        token_procedure: ctx.token_procedure.to_string(),
        key_origin: ctx.key_origin.name().to_string(),
        key_usage: ctx.key_usage.to_string(),
        officer: ctx.officer.to_string(),
        email: ctx.email.map(str::to_string),
        archived_key: None,
        attribute_certificate: None,
        recovered_from: None,
    })
}

/// A sealed secret in its wire form.
pub(crate) fn wire(sealed: keyward_crypto::transport::SealedKey) -> keyward_proto::SealedKey {
    keyward_proto::SealedKey {
        ephemeral_key: sealed.ephemeral_key,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
    }
}

/// Seals a secret that is not a key (a PIN, a batch of PIN letters) to a client's transport
/// key, bound to the request and to `what` (see `keyward_crypto::transport::secret_context`).
pub(crate) fn seal_for(
    recipient: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
    secret: &[u8],
    request_id: &str,
    what: &str,
) -> Result<keyward_proto::SealedKey, Refusal> {
    let context = keyward_crypto::transport::secret_context(request_id, what);
    keyward_crypto::transport::seal(recipient, secret, &context)
        .map(wire)
        .map_err(Refusal::internal)
}

/// Longest request ID accepted (clients send 32 hex digits).
const MAX_REQUEST_ID: usize = 64;

/// A request ID: 1 to 64 printable ASCII characters.
pub(crate) fn check_request_id(id: &str) -> Result<(), Refusal> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Refusal::invalid(
            "request_id",
            format!("must be 1 to {MAX_REQUEST_ID} printable ASCII characters"),
        ));
    }
    Ok(())
}

pub(crate) fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

/// A certificate's serial as lowercase hex without leading zeros.
pub(crate) fn serial_hex(cert: &X509) -> Result<String, Refusal> {
    let bn = cert.serial_number().to_bn().map_err(Refusal::internal)?;
    Ok(bn.to_hex_str().map_err(Refusal::internal)?.to_lowercase())
}

/// Formats a name the way officers type it: most specific attribute first.
pub fn name_to_string(name: &X509NameRef) -> String {
    let mut parts: Vec<String> = name
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={}", value.replace(',', "\\,"))
        })
        .collect();
    parts.reverse();
    parts.join(",")
}

pub(crate) fn asn1_unix(t: &Asn1TimeRef) -> Result<i64, Refusal> {
    let epoch = Asn1Time::from_unix(0).map_err(Refusal::internal)?;
    let diff = epoch.diff(t).map_err(Refusal::internal)?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

pub(crate) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
