//! The arguments of the commands on the CM host: `init`, `server`, `officer`, `audit`, `kra`,
//! `procedures`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `keyward init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Installation directory.
    #[arg(long, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Address the server will listen on (written to cm.conf).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Database URL, written to cm.conf as database.url: postgres://USER@HOST:PORT/DB (an
    /// existing, empty database; several server nodes can share it) or sqlite://PATH (relative
    /// to DIR). Default: sqlite://keyward.db in DIR.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Public URL of the plain-HTTP listener for CRLs and OCSP (http://HOST[:PORT]): the demo
    /// certificate procedures' CRL and OCSP URLs and cm.conf's public.listen are made from it.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Generate the issuing CA key (EC P-384) on a token of this PKCS#11 module (an HSM)
    /// instead of a file; cm.conf then names it with ca.issuing.pkcs11-*.
    #[arg(long, value_name = "PATH", requires_all = ["hsm_token", "hsm_pin_file"])]
    pub hsm_module: Option<PathBuf>,
    /// Label of the HSM token for the issuing CA key.
    #[arg(long, value_name = "LABEL", requires = "hsm_module")]
    pub hsm_token: Option<String>,
    /// File holding the HSM token's user PIN (cm.conf names it; keep it mode 0600).
    #[arg(long, value_name = "FILE", requires = "hsm_module")]
    pub hsm_pin_file: Option<PathBuf>,
    /// Label of the issuing CA key on the token (default keyward-issuing-ca).
    #[arg(long, value_name = "LABEL", requires = "hsm_module")]
    pub hsm_key_label: Option<String>,
}

/// `keyward server`.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Installation directory (its cm.conf is read).
    #[arg(long, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Listen address, overriding server.listen of cm.conf.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Database URL, overriding database.url of cm.conf (postgres://USER@HOST:PORT/DB or
    /// sqlite://PATH, relative to the working directory).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Serve Prometheus metrics over plain HTTP at http://ADDRESS:PORT/metrics, overriding
    /// metrics.listen of cm.conf (off when neither is set).
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve CRLs (and OCSP) over plain HTTP on ADDRESS:PORT, overriding public.listen of
    /// cm.conf (off when neither is set).
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub public_listen: Option<SocketAddr>,
}

/// `keyward officer`.
#[derive(Debug, Args)]
pub(crate) struct OfficerArgs {
    /// Installation directory (its cm.conf names the database and CA).
    #[arg(long, global = true, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Database URL, overriding database.url of cm.conf.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Officer command.
    #[command(subcommand)]
    pub command: OfficerCommand,
}

/// Officer administration.
#[derive(Debug, Subcommand)]
pub(crate) enum OfficerCommand {
    /// Create a virtual officer (PKCS#12 and Signature PIN file under DIR/officer).
    #[command(
        after_help = "Example:\n  keyward officer create alice --roles issue-certificate,recover-key"
    )]
    Create {
        /// Officer name (letters, digits, '.', '_', '-').
        name: String,
        /// Comma-separated roles: issue-certificate, recover-key, revoke-certificate, admin,
        /// auditor, manage-pin-letters.
        #[arg(long)]
        roles: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// List officers.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an officer: refused by the server at once.
    Revoke {
        /// Officer name.
        name: String,
    },
    /// Enroll a smart-card officer: generate an EC P-256 key on the PKCS#11 token, issue the
    /// officer certificate, store it on the token (label NAME) and write DIR/client-NAME.conf.
    #[command(
        after_help = "Example:\n  keyward officer enroll-card --module /usr/lib/softhsm/libsofthsm2.so \\\n      --token-label 'Carol card' carol --roles issue-certificate\n\nThe token's user PIN (the officer's Signature PIN) comes from --pin-file, else KEYWARD_SIGNATURE_PIN, else a prompt."
    )]
    EnrollCard {
        /// Officer name; also the label of its key and certificate on the token.
        name: String,
        /// Comma-separated roles: issue-certificate, recover-key, revoke-certificate, admin,
        /// auditor, manage-pin-letters.
        #[arg(long)]
        roles: String,
        /// The PKCS#11 module (shared library) of the card reader or HSM.
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
        /// Label of the token (the card).
        #[arg(long, value_name = "LABEL")]
        token_label: String,
        /// File holding the token's user PIN.
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `keyward audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Installation directory (its cm.conf names the database and the audit key).
    #[arg(long, global = true, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Database URL, overriding database.url of cm.conf.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Audit command.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// Audit log commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Search the audit log, newest first; the criteria given are ANDed.
    #[command(
        after_help = "--object matches the record's object (an officer name, a PIN letter or mail ID, …), each\nCertificate ID of a list such as 12,13 or named in the detail, and — as hex, case, leading\nzeros and ':' ignored — a certificate serial named in the detail.\n\nExamples:\n  keyward audit search --category certificates-issued \\\n      --since 2025-06-01T00:00:00Z\n  keyward audit search --failed --officer alice --limit 20\n  # Certificate ID 42 (and serial 0x42)\n  keyward audit search --object 42\n  keyward audit search --object 4f:0a:9c --json"
    )]
    Search {
        /// certificates-issued, certificates-revoked, keys-archived, keys-recovered,
        /// administration, authentication or pin-distribution.
        #[arg(long)]
        category: Option<String>,
        /// Only refusals and failures.
        #[arg(long)]
        failed: bool,
        /// Only records of this officer.
        #[arg(long, value_name = "NAME")]
        officer: Option<String>,
        /// From this time on (RFC 3339, e.g. 2025-06-01T00:00:00Z).
        #[arg(long, value_name = "RFC3339")]
        since: Option<String>,
        /// Up to this time (RFC 3339).
        #[arg(long, value_name = "RFC3339")]
        until: Option<String>,
        /// A Certificate ID, serial number (hex), officer name or other object.
        #[arg(long, value_name = "ID-or-SERIAL")]
        object: Option<String>,
        /// At most this many (1..=1000, default 100).
        #[arg(long)]
        limit: Option<u32>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Verify the whole hash chain and every seal; report the first broken link. Exit code 9
    /// when the log is broken.
    #[command(
        after_help = "Examples:\n  keyward audit verify --dir ./keyward-data\n  keyward audit verify --public-key audit-key.pub.pem --json"
    )]
    Verify {
        /// The audit public key (PEM) to check seals with (default: the public half of
        /// cm.conf's audit.key). Keep a copy away from the CM host.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Seal the audit log now (the server seals every audit.seal-interval seconds).
    #[command(after_help = "Example:\n  keyward audit seal --dir ./keyward-data")]
    Seal {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `keyward kra`.
#[derive(Debug, Args)]
pub(crate) struct KraArgs {
    /// Installation directory (its cm.conf names the database).
    #[arg(long, global = true, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Database URL, overriding database.url of cm.conf.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// KRA command.
    #[command(subcommand)]
    pub command: KraCommand,
}

/// KRA commands.
#[derive(Debug, Subcommand)]
pub(crate) enum KraCommand {
    /// Generate an AES-256 archive key (KEK) on a PKCS#11 token: sensitive, never extractable;
    /// data keys are sealed with AES-256-GCM on the token. With --configure, cm.conf is switched
    /// to it (refused while the archive holds envelopes sealed under another archive key).
    #[command(
        after_help = "Example:\n  keyward kra init-hsm-key --module /usr/lib/softhsm/libsofthsm2.so \\\n      --token-label KRA --pin-file /etc/keyward/kra-hsm.pin \\\n      --label keyward-kek --configure"
    )]
    InitHsmKey {
        /// The PKCS#11 module (shared library) of the HSM.
        #[arg(long, value_name = "PATH")]
        module: PathBuf,
        /// Label of the token.
        #[arg(long, value_name = "LABEL")]
        token_label: String,
        /// File holding the token's user PIN (cm.conf names it: keep it mode 0600).
        #[arg(long, value_name = "FILE")]
        pin_file: PathBuf,
        /// Label of the new key on the token.
        #[arg(long, value_name = "LABEL", default_value = "keyward-kek")]
        label: String,
        /// Replace kra.archive-key in cm.conf by the new key's kra.pkcs11-* settings.
        #[arg(long)]
        configure: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `keyward procedures`.
#[derive(Debug, Args)]
pub(crate) struct ProceduresArgs {
    /// Installation directory (its procedures.toml is the default FILE; its cm.conf names the
    /// database).
    #[arg(long, global = true, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Database URL, overriding database.url of cm.conf.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Procedures command.
    #[command(subcommand)]
    pub command: ProceduresCommand,
}

/// Procedures commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ProceduresCommand {
    /// Validate a procedures file as `init` and `load` do, without the database. Exit code 2
    /// with FILE:LINE:COLUMN, the table and the field of the first fault.
    #[command(
        after_help = "Examples:\n  keyward procedures check --dir ./keyward-data\n  keyward procedures check new-procedures.toml --json"
    )]
    Check {
        /// The file (default DIR/procedures.toml).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Validate a procedures file and make it the next version in the database, audited with
    /// what it adds, removes and changes; every server node uses it from its next request.
    /// Refused (exit code 2) if it lacks certificate procedure `officer`, a token procedure
    /// of an open recovery approval request or a PIN procedure of unused PIN letters.
    #[command(
        after_help = "Examples:\n  keyward procedures load --dir ./keyward-data\n  keyward procedures load new-procedures.toml --json"
    )]
    Load {
        /// The file (default DIR/procedures.toml).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}
