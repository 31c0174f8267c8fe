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
    #[command(
        after_help = "Examples:\n  keyward init --dir ./keyward-data\n  keyward init --dir ./keyward-data --database postgres://keyward@db.example.org:5432/keyward"
    )]
    Init(InitArgs),
    /// Run the CM host (HTTPS API).
    #[command(
        after_help = "Examples:\n  keyward server --dir ./keyward-data --listen 127.0.0.1:8443\n  keyward server --dir ./keyward-data --listen 127.0.0.1:8444   # a second node on the same PostgreSQL database"
    )]
    Server(ServerArgs),
    /// Init if needed, start a server in-process and issue one token through the real HTTPS path.
    #[command(after_help = "Example:\n  keyward quickstart --dir /tmp/kw-demo")]
    Quickstart(QuickstartArgs),
    /// The officer's RA client.
    Ra(RaArgs),
    /// Officer administration on the CM host.
    Officer(OfficerArgs),
    /// The key archive on the CM host: put its archive key (KEK) on a PKCS#11 token (HSM).
    Kra(KraArgs),
    /// The audit log on the CM host: search it, verify its hash chain and seals, seal it now.
    Audit(AuditArgs),
    /// Pre-generate PIN/PUK letters for sealed mailers (role manage-pin-letters).
    PinLetters(PinLettersArgs),
    /// The Secure Printer: deliver queued PIN mail (SMTP by the server, PIN letters as PDF).
    SecurePrinter(SecurePrinterArgs),
    /// PKCS#12 files: inspect any token, ours or foreign.
    P12(P12Args),
}

/// `keyward p12`.
#[derive(Debug, Args)]
pub struct P12Args {
    /// PKCS#12 command.
    #[command(subcommand)]
    pub command: P12Command,
}

/// PKCS#12 commands.
#[derive(Debug, Subcommand)]
pub enum P12Command {
    /// Show the structure of a PKCS#12 (DER or BER, from any tool): MAC, safes and their
    /// encryption, bags and attributes; with the PIN also the MAC check, the encrypted bags,
    /// key types (never key material) and the chain. Exit codes: 0 ok, 2 not a PKCS#12 or
    /// damaged, 4 wrong PIN.
    #[command(
        after_help = "The PIN comes from --pin-file, --pin-stdin or --ask-pin (a terminal prompt), else from\nKEYWARD_P12_PIN; without one the unencrypted parts are shown (and the empty PIN is tried).\n\nExamples:\n  keyward p12 inspect alice.p12\n  keyward p12 inspect alice.p12 --pin-stdin --json < pin.txt\n  keyward p12 inspect alice.p12 --pin-file alice.pin\n  keyward p12 inspect alice.p12 --ask-pin"
    )]
    Inspect(P12InspectArgs),
}

/// `keyward p12 inspect`.
#[derive(Debug, Args)]
pub struct P12InspectArgs {
    /// The PKCS#12 file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// File whose first line is the PIN.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["pin_stdin", "ask_pin"])]
    pub pin_file: Option<PathBuf>,
    /// Read the PIN from standard input (one line).
    #[arg(long, conflicts_with = "ask_pin")]
    pub pin_stdin: bool,
    /// Prompt for the PIN (needs a terminal).
    #[arg(long)]
    pub ask_pin: bool,
    /// JSON output: `file` and the fields documented on keyward_crypto::p12_inspect::P12Report.
    #[arg(long)]
    pub json: bool,
}

/// How an officer client connects: client.conf and the Signature PIN.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// client.conf of the officer's client (the RA, the Secure Printer).
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
}

/// `keyward pin-letters`.
#[derive(Debug, Args)]
pub struct PinLettersArgs {
    /// Connection.
    #[command(flatten)]
    pub client: ClientArgs,
    /// PIN letter command.
    #[command(subcommand)]
    pub command: PinLettersCommand,
}

/// PIN letter commands.
#[derive(Debug, Subcommand)]
pub enum PinLettersCommand {
    /// Create letters FIRST-ID, FIRST-ID+1, … and write them as one PDF for printing.
    #[command(
        after_help = "Examples:\n  keyward pin-letters create --count 100 --first-id 100001 --pin-procedure letter --out letters-100001.pdf\n  keyward pin-letters create --count 10000 --first-id 200001 --pin-procedure letter --out batch.pdf --json"
    )]
    Create {
        /// How many letters.
        #[arg(long)]
        count: u32,
        /// The first letter ID (a positive decimal number).
        #[arg(long, value_name = "ID")]
        first_id: String,
        /// The PIN procedure (method letter) whose rules the PINs follow.
        #[arg(long, value_name = "NAME")]
        pin_procedure: String,
        /// The PDF to write (mode 0600: it holds every PIN and PUK of the batch).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Overwrite an existing PDF.
        #[arg(long)]
        force: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// List letters (never their PINs).
    #[command(after_help = "Example:\n  keyward pin-letters list --unused --first 100001")]
    List {
        /// From this letter ID up.
        #[arg(long, value_name = "ID")]
        first: Option<String>,
        /// Only unused letters.
        #[arg(long, conflicts_with = "used")]
        unused: bool,
        /// Only used letters.
        #[arg(long)]
        used: bool,
        /// Only letters of this PIN procedure.
        #[arg(long, value_name = "NAME")]
        procedure: Option<String>,
        /// At most this many (1..=1000, default 100).
        #[arg(long)]
        limit: Option<u32>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `keyward secure-printer`.
#[derive(Debug, Args)]
pub struct SecurePrinterArgs {
    /// Connection.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Secure Printer command.
    #[command(subcommand)]
    pub command: SecurePrinterCommand,
}

/// Secure Printer commands.
#[derive(Debug, Subcommand)]
pub enum SecurePrinterCommand {
    /// Drain the PIN mail queue: the server sends SMTP mail; PIN letters to print are written
    /// as a PDF in --out-dir. Exit code 8 when a delivery failed.
    #[command(
        after_help = "Examples:\n  keyward secure-printer run --out-dir ./print\n  keyward secure-printer run --out-dir ./print --watch 60"
    )]
    Run {
        /// Where PIN letter PDFs go (mode 0600).
        #[arg(long, value_name = "DIR", default_value = ".")]
        out_dir: PathBuf,
        /// Most mails per round.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Keep running: a round every SECONDS.
        #[arg(long, value_name = "SECONDS")]
        watch: Option<u64>,
        /// JSON output (one object per round).
        #[arg(long)]
        json: bool,
    },
    /// Show the PIN mail queue (never the PINs).
    #[command(after_help = "Example:\n  keyward secure-printer queue --state failed")]
    Queue {
        /// queued, delivered or failed.
        #[arg(long)]
        state: Option<String>,
        /// At most this many (1..=1000, default 100).
        #[arg(long)]
        limit: Option<u32>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Put failed PIN mails back in the queue for another round of attempts.
    #[command(after_help = "Example:\n  keyward secure-printer requeue 12 13")]
    Requeue {
        /// PIN mail IDs.
        #[arg(required = true)]
        ids: Vec<String>,
    },
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
    /// Database URL, written to cm.conf as database.url: postgres://USER@HOST:PORT/DB (an
    /// existing, empty database; several server nodes can share it) or sqlite://PATH (relative
    /// to DIR). Default: sqlite://keyward.db in DIR.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
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
pub struct ServerArgs {
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
    /// Connection.
    #[command(flatten)]
    pub client: ClientArgs,
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
        after_help = "Examples:\n  keyward ra issue --procedure soft-dual --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice.p12 --cert alice.pem\n  keyward ra issue --procedure recover-encryption-new --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice-new.p12\n  keyward ra issue --procedure soft-signing-show --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice.p12\n  keyward ra issue --procedure soft-signing-email --subject 'CN=Alice Example' --p12 alice.p12 --pin-email alice@example.org\n  keyward ra issue --procedure soft-signing-letter --subject 'CN=Alice Example' --p12 alice.p12 --pin-letter 100001\n  echo \"$PIN\" | keyward ra issue --procedure soft-signing --subject 'CN=Bob' --key-spec EC:brainpoolP320r1 --p12 bob.p12 --cert bob.pem --pin-stdin --json\n  keyward ra issue --procedure qualified-natural-person --subject 'CN=Anna Svensson,GN=Anna,SN=Svensson,serialNumber=PNOSE-197001010007,C=SE' --p12 anna.p12 --qc-statement limit_value=EUR:10000\n  keyward ra issue --procedure psd2-qseal --subject 'CN=Bank AB,organizationIdentifier=PSDSE-FI-123456,O=Bank AB,C=SE' --p12 seal.p12 --qc-statement 'psd2=PSP_AI+PSP_PI:SE-FI:Finansinspektionen'\n  keyward ra issue --procedure soft-signing-roles --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice.p12 --ac alice-ac.pem"
    )]
    Issue(Box<IssueArgs>),
    /// Issue one soft token per row of a CSV file, several at once, with a progress bar and a
    /// results CSV; rerun the same command to resume an interrupted batch (rows recorded as
    /// issued are skipped, the others re-sent with the same request IDs). Exit codes: 0 all
    /// issued, 10 some rows failed (see the results), 2 a bad row (nothing issued).
    #[command(
        after_help = "CSV columns (header row required): subject (required), email, key_spec, pin_email, pin_letter, file.\nPIN procedure show: the PINs go to DIR/pins.csv (mode 0600) only; email: column pin_email; letter: column pin_letter;\nenter is refused (the officer cannot type one PIN per row).\n\nExamples:\n  keyward ra batch --csv staff.csv --procedure soft-signing-show --out-dir tokens --jobs 4\n  keyward ra batch --csv staff.csv --procedure soft-signing-letter --out-dir tokens --key-spec EC:secp256r1 --json"
    )]
    Batch(BatchArgs),
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
    /// Attribute certificates held by a certificate; --out saves the newest again (DER, or PEM
    /// for .pem).
    #[command(
        after_help = "Examples:\n  keyward ra attribute-certificates --holder 42\n  keyward ra attribute-certificates --holder 42 --out alice-ac.pem"
    )]
    AttributeCertificates {
        /// Certificate ID (decimal) of the holder certificate.
        #[arg(long, value_name = "ID")]
        holder: String,
        /// Save the newest one to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Overwrite --out if it exists.
        #[arg(long)]
        force: bool,
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
    /// M-of-N recovery: list, approve or reject approval requests (role recover-key).
    #[command(
        after_help = "Examples:\n  keyward ra approvals list\n  keyward ra approvals approve 7\n  keyward ra approvals reject 7"
    )]
    Approvals {
        /// Approval command.
        #[command(subcommand)]
        command: ApprovalsCommand,
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

/// `keyward ra approvals`.
#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Open approval requests (with --all: every request), newest first.
    List {
        /// Every request, also decided, used and expired ones.
        #[arg(long)]
        all: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Approve a recovery requested by another officer.
    Approve {
        /// Approval request ID.
        id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Reject a recovery requested by another officer (one rejection ends the request).
    Reject {
        /// Approval request ID.
        id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
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
    /// An approved recovery request (token procedures whose recovery needs approvals).
    #[arg(long, value_name = "ID")]
    pub approval: Option<String>,
    /// Read the token PIN from standard input (one line) instead of prompting.
    #[arg(long)]
    pub pin_stdin: bool,
    /// PIN procedure `letter`: seal the token with the PIN of this PIN/PUK letter ID.
    #[arg(long, value_name = "ID")]
    pub pin_letter: Option<String>,
    /// PIN procedure `email`: the PIN mailer address the server sends the PIN to (prompted
    /// for when interactive).
    #[arg(long, value_name = "ADDR", visible_alias = "pin-mailer-address")]
    pub pin_email: Option<String>,
    /// A dNSName subjectAltName (repeatable), where the certificate procedure allows them
    /// (`dns_names = "optional"` or `"required"`).
    #[arg(long, value_name = "NAME")]
    pub dns_name: Vec<String>,
    /// An iPAddress subjectAltName (repeatable), where the certificate procedure allows them.
    #[arg(long, value_name = "ADDR")]
    pub ip: Vec<String>,
    /// Add a QC statement to the certificates (only kinds the certificate procedure opens to
    /// officers; its own statements cannot be overridden); repeatable: compliance, sscd,
    /// type=esign|eseal|web, pds=URL@LANG, retention_period=YEARS,
    /// limit_value=CUR:AMOUNT[:EXP], semantics=natural|legal|eidas-natural|eidas-legal,
    /// psd2=ROLE+ROLE:NCA_ID:NCA NAME.
    #[arg(long, value_name = "KIND[=VALUE]")]
    pub qc_statement: Vec<String>,
    /// QC statements to add, from a TOML file with the keys of a certificate procedure's
    /// `qc_statements` table (combined with --qc-statement).
    #[arg(long, value_name = "FILE")]
    pub qc_statements: Option<PathBuf>,
    /// Where to save the attribute certificate, for token procedures that issue one (DER, or
    /// PEM if it ends in .pem; default: the PKCS#12 name with .ac.der). Never in the PKCS#12.
    #[arg(long, value_name = "FILE")]
    pub ac: Option<PathBuf>,
    /// Overwrite existing output files.
    #[arg(long)]
    pub force: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `keyward ra batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Input CSV: a header row, then one token per row.
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// Token procedure for every row.
    #[arg(long)]
    pub procedure: String,
    /// Directory for the tokens, results.csv, pins.csv and the batch state (created, mode
    /// 0700); rerun with the same directory to resume.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Tokens in flight at once (1 to 16).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub jobs: u16,
    /// Key spec for RA-generated keys of rows without a key_spec column value.
    #[arg(long)]
    pub key_spec: Option<String>,
    /// Keep N keys of the batch's key spec (--key-spec, else the list's default) generated
    /// ahead by a background thread, in memory only, so that a row does not wait for its RSA
    /// key (rows with another key_spec generate theirs as usual).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub key_pool: Option<u16>,
    /// Results CSV (default: DIR/results.csv).
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// JSON summary on stdout (no progress bar; PINs are never printed).
    #[arg(long)]
    pub json: bool,
}

/// `keyward officer`.
#[derive(Debug, Args)]
pub struct OfficerArgs {
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
    /// Enroll a smart-card officer: generate an EC P-256 key on the PKCS#11 token, issue the
    /// officer certificate, store it on the token (label NAME) and write DIR/client-NAME.conf.
    #[command(
        after_help = "Example:\n  keyward officer enroll-card --module /usr/lib/softhsm/libsofthsm2.so --token-label 'Carol card' carol --roles issue-certificate\n\nThe token's user PIN (the officer's Signature PIN) comes from --pin-file, else KEYWARD_SIGNATURE_PIN, else a prompt."
    )]
    EnrollCard {
        /// Officer name; also the label of its key and certificate on the token.
        name: String,
        /// Comma-separated roles: issue-certificate, recover-key, admin, auditor.
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
pub struct AuditArgs {
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
pub enum AuditCommand {
    /// Search the audit log, newest first; the criteria given are ANDed.
    #[command(
        after_help = "--object matches the record's object (an officer name, a PIN letter or mail ID, …), each\nCertificate ID of a list such as 12,13 or named in the detail, and — as hex, case, leading\nzeros and ':' ignored — a certificate serial named in the detail.\n\nExamples:\n  keyward audit search --category certificates-issued --since 2025-06-01T00:00:00Z\n  keyward audit search --failed --officer alice --limit 20\n  keyward audit search --object 42             # Certificate ID 42 (and serial 0x42)\n  keyward audit search --object 4f:0a:9c --json"
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
pub struct KraArgs {
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
pub enum KraCommand {
    /// Generate an AES-256 archive key (KEK) on a PKCS#11 token: sensitive, never extractable;
    /// data keys are sealed with AES-256-GCM on the token. With --configure, cm.conf is switched
    /// to it (refused while the archive holds envelopes sealed under another archive key).
    #[command(
        after_help = "Example:\n  keyward kra init-hsm-key --module /usr/lib/softhsm/libsofthsm2.so --token-label KRA --pin-file /etc/keyward/kra-hsm.pin --label keyward-kek --configure"
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
