//! Command-line definitions.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Keyward: issue PKCS#12 soft tokens with key archive and recovery.
#[derive(Debug, Parser)]
#[command(name = "keyward", version, about, propagate_version = true)]
#[command(
    after_help = "Start here:\n  keyward quickstart                 # everything on an embedded default\n  keyward init && keyward server     # then, in another terminal:\n  keyward ra issue --procedure soft-signing-show --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice.p12"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an installation: database, CAs, TLS certificate, procedures and a first officer.
    #[command(after_help = "Example:\n  keyward init --dir ./keyward-data")]
    Init(InitArgs),
    /// Run the CM host (HTTPS API).
    #[command(
        after_help = "Example:\n  keyward server --dir ./keyward-data --listen 127.0.0.1:8443"
    )]
    Server(ServerArgs),
    /// Init if needed, start a server in-process and issue one token through the real HTTPS path.
    #[command(after_help = "Example:\n  keyward quickstart --dir /tmp/kw-demo")]
    Quickstart(QuickstartArgs),
    /// The officer's RA client.
    Ra(RaArgs),
    /// Officer administration on the CM host.
    Officer(OfficerArgs),
}

/// `keyward init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Installation directory.
    #[arg(long, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Address the server will listen on (written to cm.conf).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `keyward server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Installation directory (its cm.conf is read).
    #[arg(long, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Listen address, overriding server.listen of cm.conf.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// `keyward quickstart`.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Installation directory (created if missing).
    #[arg(long, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `keyward ra`.
#[derive(Debug, Args)]
pub struct RaArgs {
    /// client.conf of the RA.
    #[arg(
        long,
        global = true,
        env = "KEYWARD_CONFIG",
        default_value = "keyward-data/client.conf"
    )]
    pub config: PathBuf,
    /// File holding the officer's Signature PIN (else KEYWARD_SIGNATURE_PIN, else a prompt).
    #[arg(long, global = true)]
    pub signature_pin_file: Option<PathBuf>,
    /// RA command.
    #[command(subcommand)]
    pub command: RaCommand,
}

/// RA commands.
#[derive(Debug, Subcommand)]
pub enum RaCommand {
    /// List token procedures.
    #[command(after_help = "Example:\n  keyward ra procedures --filter signing")]
    Procedures {
        /// Only procedures whose name or description contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// List the key specs offered for RA-generated keys (default marked *).
    #[command(after_help = "Example:\n  keyward ra key-specs")]
    KeySpecs {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show what issuing a token procedure will do (the "Key Management" field).
    #[command(
        after_help = "Example:\n  keyward ra plan --procedure soft-signing --key-spec EC:secp256r1"
    )]
    Plan {
        /// Token procedure.
        #[arg(long)]
        procedure: String,
        /// Key spec for RA-generated keys (default: the list's default).
        #[arg(long)]
        key_spec: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Issue a soft token (PKCS#12) and its certificate file; archive or recover keys as the
    /// token procedure says.
    #[command(
        after_help = "Examples:\n  keyward ra issue --procedure soft-dual --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice.p12 --cert alice.pem\n  keyward ra issue --procedure recover-encryption-new --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice-new.p12\n  keyward ra issue --procedure soft-signing-show --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice.p12\n  echo \"$PIN\" | keyward ra issue --procedure soft-signing --subject 'CN=Bob' --key-spec EC:brainpoolP320r1 --p12 bob.p12 --cert bob.pem --pin-stdin --json"
    )]
    Issue(IssueArgs),
    /// Search issued certificates.
    #[command(
        after_help = "Examples:\n  keyward ra certificates --subject alice\n  keyward ra certificates --serial 4f0a9c --json"
    )]
    Certificates {
        /// Certificate ID (decimal).
        #[arg(long, conflicts_with_all = ["serial", "subject"])]
        id: Option<String>,
        /// Serial number (hex).
        #[arg(long, conflicts_with = "subject")]
        serial: Option<String>,
        /// Text contained in the subject (case-insensitive).
        #[arg(long)]
        subject: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Search archived keys (Select Archived Key); the criteria refer to the certificate issued
    /// when each key was created. Needs the recover-key role.
    #[command(
        after_help = "Examples:\n  keyward ra archived-keys --subject 'alice example'\n  keyward ra archived-keys --serial 4f0a9c --json\n  keyward ra issue --procedure recover-encryption-reuse --subject 'CN=Alice Example' --recover-serial 4f0a9c --p12 alice-recovered.p12"
    )]
    ArchivedKeys {
        /// Certificate ID (decimal).
        #[arg(long)]
        id: Option<String>,
        /// Serial number (hex).
        #[arg(long)]
        serial: Option<String>,
        /// Text contained in the subject (case-insensitive).
        #[arg(long)]
        subject: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show the officer the server sees, and its roles.
    Whoami {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Mix extra entropy into key generation (seed: "Initialize Key Generation").
    #[command(
        after_help = "Examples:\n  keyward ra init-keygen                       # type random text, then Enter\n  keyward ra init-keygen --from-file /dev/hwrng"
    )]
    InitKeygen {
        /// Read the extra entropy from this file (at most 4 KiB is used) instead of the keyboard.
        #[arg(long)]
        from_file: Option<PathBuf>,
    },
}

/// `keyward ra issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Token procedure.
    #[arg(long)]
    pub procedure: String,
    /// Subject DN, most specific first: 'CN=Alice Example,O=Example,C=SE'.
    #[arg(long)]
    pub subject: String,
    /// E-mail address (subjectAltName rfc822Name).
    #[arg(long)]
    pub email: Option<String>,
    /// Key spec for RA-generated keys, e.g. RSA:3072 or EC:brainpoolP320r1 (see `ra key-specs`).
    #[arg(long)]
    pub key_spec: Option<String>,
    /// PKCS#12 file to write (mode 0600).
    #[arg(long)]
    pub p12: PathBuf,
    /// Certificate file: DER, or PEM if it ends in .pem (default: the PKCS#12 name with .der).
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Recover the archived key of the certificate with this serial (hex); repeatable. Without
    /// --recover-serial/--recover-id the server searches by the subject entered.
    #[arg(long, value_name = "HEX")]
    pub recover_serial: Vec<String>,
    /// Recover the archived key of the certificate with this Certificate ID; repeatable.
    #[arg(long, value_name = "ID")]
    pub recover_id: Vec<String>,
    /// Read the token PIN from standard input (one line) instead of prompting.
    #[arg(long)]
    pub pin_stdin: bool,
    /// Overwrite existing output files.
    #[arg(long)]
    pub force: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `keyward officer`.
#[derive(Debug, Args)]
pub struct OfficerArgs {
    /// Installation directory (its cm.conf names the database and CA).
    #[arg(long, global = true, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Officer command.
    #[command(subcommand)]
    pub command: OfficerCommand,
}

/// Officer administration.
#[derive(Debug, Subcommand)]
pub enum OfficerCommand {
    /// Create a virtual officer (PKCS#12 and Signature PIN file under DIR/officer).
    #[command(
        after_help = "Example:\n  keyward officer create alice --roles issue-certificate,recover-key"
    )]
    Create {
        /// Officer name (letters, digits, '.', '_', '-').
        name: String,
        /// Comma-separated roles: issue-certificate, recover-key, admin, auditor.
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
}
