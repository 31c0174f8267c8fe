//! A new installation (`keyward init`): complete, in one directory, written atomically (built in a
//! sibling temporary directory and renamed into place, so a failure leaves nothing behind).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use keyward_crypto::files::{write_public, write_secret};
use keyward_policy::keyspec::{Curve, DEFAULT_RA_KEY_GENERATION};
use keyward_policy::roles::Role;
use keyward_policy::{DistinguishedName, KeySpec, ProcedureSet};
use keyward_proto::KeyOrigin;
use keyward_server::service::{certificate_record, RecordContext};
use keyward_store::{AuditCategory, NewAudit, Outcome, Store};

use crate::ca::{create_ca, HsmCa};
use crate::error::{context, input_error, AdminError};
use crate::officer::{enroll_virtual, issue, VirtualOfficer};
use crate::public::issue_ocsp_signer;
pub use crate::public::{PublicUrl, DEFAULT_PUBLIC_URL};

/// The default procedures written to procedures.toml and loaded into the database.
pub const DEFAULT_PROCEDURES: &str = include_str!("procedures.toml");

/// Name of the first officer.
pub const FIRST_OFFICER: &str = "admin";
/// The actor named in audit records written by `init`.
const ACTOR: &str = "keyward-init";

/// What `init` created.
#[derive(Debug, Serialize)]
pub struct InitReport {
    /// Installation directory.
    pub dir: PathBuf,
    /// Server configuration.
    pub cm_conf: PathBuf,
    /// RA configuration.
    pub client_conf: PathBuf,
    /// Root CA certificate.
    pub root_ca: PathBuf,
    /// The first officer's virtual-officer PKCS#12.
    pub officer_p12: PathBuf,
    /// Its Signature PIN.
    pub officer_pin_file: PathBuf,
    /// Token procedures loaded.
    pub token_procedures: Vec<String>,
}

/// Creates an installation in `dir`, which must not exist or be empty.
pub async fn create(dir: &Path, listen: SocketAddr) -> Result<InitReport, AdminError> {
    create_with(dir, listen, None, None, None).await
}

/// As [`create`], with the issuing CA key generated on a PKCS#11 token when `hsm` is given
/// (removed from the token again if the installation cannot be created), and on the database
/// `database` (`--database`: a PostgreSQL database that exists and holds no Keyward data, or a
/// SQLite file; written to cm.conf) instead of `sqlite://keyward.db` in `dir`, and with the
/// public listener at `public_url` (`--public-url`, default [`DEFAULT_PUBLIC_URL`]) in the
/// demo procedures' CRL and OCSP URLs and in cm.conf.
pub async fn create_with(
    dir: &Path,
    listen: SocketAddr,
    hsm: Option<&HsmCa>,
    database: Option<&str>,
    public_url: Option<&str>,
) -> Result<InitReport, AdminError> {
    let public = PublicUrl::parse(public_url.unwrap_or(DEFAULT_PUBLIC_URL))?;
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(context(|| format!("--dir {}", dir.display())))?
            .next()
            .is_none();
        if !empty {
            return Err(input_error(format!(
                "--dir: {} exists and is not empty (already initialised?)",
                dir.display()
            )));
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(context(|| format!("creating {}", parent.display())))?;
    let staging = tempfile::Builder::new()
        .prefix(".keyward-init-")
        .tempdir_in(&parent)
        .map_err(context(|| {
            format!("creating a staging directory in {}", parent.display())
        }))?;
    // The installation holds CA and officer keys: only its owner may enter it.
    std::fs::set_permissions(
        staging.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .map_err(context(|| {
        format!("protecting {}", staging.path().display())
    }))?;
    if let Err(e) = build(staging.path(), listen, hsm, database, &public).await {
        if let Some(hsm) = hsm {
            hsm.rollback();
        }
        return Err(e);
    }
    if dir.exists() {
        std::fs::remove_dir(dir)
            .map_err(context(|| format!("replacing empty {}", dir.display())))?;
    }
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, dir) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(context(|| {
            format!("moving the installation to {}", dir.display())
        })(e));
    }
    let procedures: ProcedureSet = toml::from_str(DEFAULT_PROCEDURES)?;
    Ok(InitReport {
        dir: dir.to_path_buf(),
        cm_conf: dir.join("cm.conf"),
        client_conf: dir.join("client.conf"),
        root_ca: dir.join("ca/root.pem"),
        officer_p12: dir.join(format!("officer/{FIRST_OFFICER}.p12")),
        officer_pin_file: dir.join(format!("officer/{FIRST_OFFICER}.pin")),
        token_procedures: procedures.token.iter().map(|t| t.name.clone()).collect(),
    })
}

async fn build(
    dir: &Path,
    listen: SocketAddr,
    hsm: Option<&HsmCa>,
    database: Option<&str>,
    public: &PublicUrl,
) -> Result<(), AdminError> {
    // The database first: a PostgreSQL database that is missing, unreachable or in use is
    // refused before any key is made.
    let database_url = database.unwrap_or("sqlite://keyward.db");
    let store = open_database(dir, database_url).await?;
    for sub in ["ca", "tls", "officer", "kra", "audit"] {
        // 0700 whatever the umask (protect_tree below sets it again, explicitly).
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(dir.join(sub))?;
    }
    let builtin = || "built-in procedures.toml".to_string();
    let procedures_text = public.procedures();
    let procedures: ProcedureSet = toml::from_str(&procedures_text).map_err(context(builtin))?;
    procedures.validate().map_err(context(builtin))?;
    write_public(&dir.join("procedures.toml"), procedures_text.as_bytes())?;

    let (ca, ca_key_conf) = create_ca(dir, hsm)?;
    // The KRA's archive key, encrypted at rest under a passphrase of its own.
    let archive_key = keyward_kra::SoftwareArchiveKey::generate()?;
    let kra_pass = keyward_crypto::generate_pin(32, keyward_policy::pin::PIN_ALPHABET)?;
    write_secret(&dir.join("kra/archive.pass"), kra_pass.as_str().as_bytes())?;
    write_secret(
        &dir.join("kra/archive-key.json"),
        &archive_key.to_file(kra_pass.as_str().as_bytes())?,
    )?;
    keyward_audit::seal::create_key_files(dir)?;

    let cert_procedure = |name: &str| {
        procedures
            .certificate
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                AdminError::Other(format!(
                    "built-in procedures.toml lacks certificate procedure {name}"
                ))
            })
    };
    // The server's TLS certificate: P-256 (rustls), for the loopback and listen addresses that
    // client.conf names. No dNSName "localhost": a single-label name is not a valid domain name
    // in a certificate (pkilint reports it as an error), and clients connect by address.
    let tls_key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1))?;
    let tls_dn = DistinguishedName::parse("CN=Keyward CM host,O=Keyward")?;
    let mut ips = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !listen.ip().is_unspecified() && !ips.contains(&listen.ip()) {
        ips.push(listen.ip());
    }
    let tls_cert = issue(
        &ca,
        &tls_key,
        &tls_dn,
        cert_procedure("tls-server")?,
        &[],
        &ips,
    )?;
    let mut chain_pem = tls_cert.to_pem()?;
    chain_pem.extend(ca.certificate().to_pem()?);
    write_public(&dir.join("tls/server.pem"), &chain_pem)?;
    write_secret(
        &dir.join("tls/server.key"),
        &tls_key.private_key_to_pem_pkcs8()?,
    )?;

    let admin = NewAudit {
        category: AuditCategory::Administration,
        action: "load-procedures".into(),
        officer: Some(ACTOR.into()),
        outcome: Outcome::Success,
        object: None,
        detail: json!({ "source": "procedures.toml" }),
    };
    // Version 1 of the procedures: `keyward procedures load` makes the next ones.
    let version = keyward_store::NewProcedureVersion {
        set: &procedures,
        source: &procedures_text,
        sha256: &keyward_crypto::sha256_hex(procedures_text.as_bytes()),
        loaded_by: ACTOR,
        previous: None,
    };
    store.load_procedure_version(&version, &admin).await?;
    let tls_subject = tls_dn.to_string();
    let tls_record = certificate_record(
        ca.certificate(),
        &tls_cert,
        &RecordContext {
            subject: &tls_subject,
            certificate_procedure: "tls-server",
            token_procedure: "-",
            key_origin: KeyOrigin::Server,
            key_usage: "digitalSignature",
            officer: ACTOR,
            email: None,
        },
    )?;
    let tls_audit = NewAudit {
        category: AuditCategory::CertificatesIssued,
        action: "issue-tls-certificate".into(),
        detail: json!({ "subject": tls_subject }),
        ..admin
    };
    store.record_issuance(&[tls_record], &tls_audit).await?;
    // The OCSP responder's delegated signing certificate, its key beside the CA key (a file, or
    // on the same token).
    let ocsp_key_conf = issue_ocsp_signer(dir, &ca, &procedures, &store, ACTOR, hsm).await?;
    write_public(
        &dir.join("cm.conf"),
        format!(
            "{}{}",
            cm_conf(listen, database_url, &ca_key_conf),
            public.cm_conf(&ocsp_key_conf)
        )
        .as_bytes(),
    )?;
    write_public(&dir.join("client.conf"), client_conf(listen).as_bytes())?;
    let roles = [
        Role::IssueCertificate,
        Role::RecoverKey,
        Role::RevokeCertificate,
        Role::Admin,
    ]
    .into_iter()
    .collect();
    let first = VirtualOfficer {
        name: FIRST_OFFICER,
        roles: &roles,
        actor: ACTOR,
    };
    enroll_virtual(dir, &ca, &store, &procedures, &first).await?;
    store.close().await;
    // Every directory 0700 and every file 0600 (keyward.db included), whatever the umask.
    crate::install::protect_tree(dir)
        .map_err(context(|| format!("protecting {}", dir.display())))?;
    Ok(())
}

/// Opens `url` for a new installation in `dir` (a relative SQLite path is relative to `dir`, as
/// in cm.conf) and refuses a database that holds Keyward data already (its audit log is not
/// empty). Errors name `--database` and only the URL's scheme (a URL may hold a password).
async fn open_database(dir: &Path, url: &str) -> Result<Store, AdminError> {
    let scheme = url.split_once("://").map_or("?", |(scheme, _)| scheme);
    let store = Store::open(&keyward_server::config::resolve_database_url(url, dir))
        .await
        .map_err(|e| input_error(format!("--database (database.url, {scheme}://…): {e}")))?;
    if !store.audit_records(1).await?.is_empty() {
        store.close().await;
        return Err(input_error(format!(
            "--database (database.url, {scheme}://…): the database holds Keyward data already \
             (its audit log is not empty); give every installation a new, empty database"
        )));
    }
    Ok(store)
}

fn cm_conf(listen: SocketAddr, database_url: &str, ca_key_conf: &str) -> String {
    format!(
        "# Keyward server configuration (cm.conf). Paths are relative to this file.\n\
         server.listen = {listen}\n\
         database.url = {database_url}\n\
         tls.certificate = tls/server.pem\n\
         tls.key = tls/server.key\n\
         # Limits against slow, idle or too many clients (seconds; the defaults shown):\n\
         # server.header-timeout = 10\n\
         # server.body-timeout = 30\n\
         # server.idle-timeout = 60\n\
         # server.max-connections = 1024     (keep it below the open-file limit, ulimit -n)\n\
         # Prometheus metrics over plain HTTP at http://ADDRESS:PORT/metrics (off without it;\n\
         # keyward server --metrics-listen wins over it):\n\
         # metrics.listen = 127.0.0.1:9464\n\
         ca.root = ca/root.pem\n\
         ca.issuing.certificate = ca/issuing.pem\n\
         {ca_key_conf}\
         \n\
         # The key archive's archive key (KEK), encrypted at rest; its passphrase sits beside it in\n\
         # this release: move it, or use an HSM (keyward kra init-hsm-key), in production.\n\
         kra.archive-key = kra/archive-key.json\n\
         kra.archive-key-passphrase-file = kra/archive.pass\n\
         # Keys the KRA generates ahead, in memory only (RSA generation is slow):\n\
         # kra.key-pool = RSA:2048=8, RSA:3072=2\n\
         \n\
         # Key specs offered to RA clients for the keys they generate (default marked *).\n\
         client.ra-key-generation = {DEFAULT_RA_KEY_GENERATION}\n\
         \n\
         # The audit key seals the audit log's hash chain every audit.seal-interval seconds;\n\
         # `keyward audit verify` checks it. Keep a copy of audit/audit-key.pub.pem elsewhere.\n\
         audit.key = audit/audit-key.pem\n\
         audit.key-passphrase-file = audit/audit.pass\n\
         audit.seal-interval = 60\n\
         \n\
         # The PIN mailer's SMTP server (PIN procedure `email`; the Secure Printer triggers sending).\n\
         # pin-mailer.smtp-host = smtp.example.org\n\
         # pin-mailer.smtp-port = 587\n\
         # pin-mailer.smtp-security = starttls        (none | starttls | tls)\n\
         # pin-mailer.smtp-username = keyward\n\
         # pin-mailer.smtp-password-file = pin-mailer.pass\n\
         # pin-mailer.smtp-ca-file = smtp-ca.pem        (else the public web PKI roots)\n\
         # pin-mailer.from = Keyward PIN mailer <pin-mailer@example.org>\n\
         # pin-mailer.max-attempts = 5\n"
    )
}

fn client_conf(listen: SocketAddr) -> String {
    let host = if listen.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if listen.is_ipv6() {
        format!("[{}]", listen.ip())
    } else {
        listen.ip().to_string()
    };
    format!(
        "# Keyward RA client configuration (client.conf). Paths are relative to this file.\n\
         server.url = https://{host}:{port}\n\
         server.ca = ca/root.pem\n\
         officer.p12 = officer/{FIRST_OFFICER}.p12\n\
         \n\
         # Uncomment to offer other key specs than the server's client.ra-key-generation:\n\
         # ra-key-generation = EC:secp256r1*, EC:secp384r1, RSA:3072\n",
        port = listen.port()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every commented setting of cm.conf is a valid line once uncommented, with the value
    /// said: the connection limits' defaults, and metrics off unless `metrics.listen` is set.
    #[test]
    fn commented_settings_are_valid_when_uncommented() {
        let listen = SocketAddr::from(([127, 0, 0, 1], 8443));
        let ca = "ca.issuing.key = ca/issuing.key.pem\nca.key-passphrase-file = ca/ca.pass\n";
        let public = PublicUrl::parse(DEFAULT_PUBLIC_URL).unwrap();
        let text = format!(
            "{}{}",
            cm_conf(listen, "sqlite://keyward.db", ca),
            public.cm_conf(crate::public::SOFTWARE_OCSP_KEY)
        );
        let path = Path::new("/srv/kw/cm.conf");
        let read = |text: &str| keyward_server::ServerConfig::from_text(path, text).unwrap();
        assert_eq!(read(&text).metrics_listen, None);
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(setting)
                    if setting.starts_with("server.")
                        || setting.starts_with("metrics.")
                        || setting.starts_with("ocsp.")
                        || setting.starts_with("public.")
                        || setting.starts_with("crl.") =>
                {
                    // Drop the explanation after the value, if any.
                    setting.split("  ").next().unwrap_or(setting).to_string()
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let config = read(&uncommented);
        assert_eq!(
            config.metrics_listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        assert_eq!(
            config.limits,
            keyward_server::config::ConnectionLimits::default()
        );
        // The public listener and CRL lines, once uncommented, name --public-url's port.
        assert_eq!(
            config.public_listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert!(config.crl.is_some());
        // The OCSP defaults said in the comments are the parser's.
        let ocsp = config.ocsp.unwrap();
        assert_eq!(ocsp, read(&text).ocsp.unwrap());
        assert_eq!(ocsp.response_validity.as_secs(), 3600);
        assert_eq!((ocsp.cache_size, ocsp.max_requests), (100_000, 16));
    }

    #[test]
    fn default_procedures_are_valid_and_complete() {
        let set: ProcedureSet = toml::from_str(DEFAULT_PROCEDURES).unwrap();
        set.validate().unwrap();
        for name in [
            "soft-signing",
            "soft-signing-show",
            "officer",
            "soft-encryption-archived",
            "soft-dual",
            "recover-encryption-new",
            "recover-encryption-lost",
            "recover-encryption-reuse",
        ] {
            set.resolve(name).unwrap();
        }
        let officer = set
            .certificate
            .iter()
            .find(|c| c.name == "officer")
            .unwrap();
        assert!(
            officer.key_usage.is_empty(),
            "seed: an officer's certificate procedure has no key usage"
        );
        let signing = set.resolve("soft-signing").unwrap();
        let plan = keyward_policy::plan_token(&signing, KeySpec::Rsa(2048)).unwrap();
        assert_eq!(plan.to_string(), "Key Management: generate 1 key locally");
        let plan = |name: &str| {
            keyward_policy::plan_token(&set.resolve(name).unwrap(), KeySpec::Rsa(2048))
                .unwrap()
                .to_string()
        };
        assert_eq!(
            plan("soft-encryption-archived"),
            "Key Management: archive 1 key in the server"
        );
        assert_eq!(
            plan("soft-dual"),
            "Key Management: archive 1 key in the server, generate 1 key locally"
        );
        assert_eq!(
            plan("recover-encryption-new"),
            "Key Management: recover last key with a new certificate, revoke its old certificate (superseded)"
        );
        assert_eq!(
            plan("recover-encryption-lost"),
            "Key Management: recover last key with a new certificate, revoke its old certificate (keyCompromise)"
        );
        assert_eq!(
            plan("recover-encryption-reuse"),
            "Key Management: recover all keys with the reused certificate"
        );
    }
}
