//! The RA client's arguments: `keyward ra …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{ClientArgs, RevokeArgs, UnholdArgs};

/// `keyward ra`.
#[derive(Debug, Args)]
pub(crate) struct RaArgs {
    /// Connection.
    #[command(flatten)]
    pub client: ClientArgs,
    /// RA command.
    #[command(subcommand)]
    pub command: RaCommand,
}

/// RA commands.
#[derive(Debug, Subcommand)]
pub(crate) enum RaCommand {
    /// List token procedures.
    #[command(
        after_help = "Examples:\n  keyward ra procedures --filter signing\n  keyward ra procedures --wide | less -S"
    )]
    Procedures {
        /// Only procedures whose name or description contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// One line per procedure, however wide (the table is fitted to 100 columns otherwise).
        #[arg(long)]
        wide: bool,
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
        after_help = "Examples:\n  keyward ra issue --procedure soft-dual \\\n      --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice.p12 \\\n      --cert alice.pem\n  keyward ra issue --procedure recover-encryption-new \\\n      --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice-new.p12\n  keyward ra issue --procedure soft-signing-show \\\n      --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice.p12\n  keyward ra issue --procedure soft-signing-email \\\n      --subject 'CN=Alice Example' --p12 alice.p12 \\\n      --pin-email alice@example.org\n  keyward ra issue --procedure soft-signing-post \\\n      --subject 'CN=Alice Example' --p12 alice.p12 \\\n      --pin-postal-address 'Alice Example\\nStorgatan 1\\n111 22 Stockholm'\n  keyward ra issue --procedure soft-signing-letter \\\n      --subject 'CN=Alice Example' --p12 alice.p12 --pin-letter 100001-19\n  echo \"$PIN\" | keyward ra issue --procedure soft-signing --subject 'CN=Bob' \\\n      --key-spec EC:brainpoolP320r1 --p12 bob.p12 --cert bob.pem --pin-stdin \\\n      --json\n  keyward ra issue --procedure qualified-natural-person --subject \\\n      'CN=Ann Berg,GN=Ann,SN=Berg,serialNumber=PNOSE-197001010007,C=SE' \\\n      --p12 ann.p12 --qc-statement limit_value=EUR:10000\n  keyward ra issue --procedure psd2-qseal --subject \\\n      'CN=Bank AB,organizationIdentifier=PSDSE-FI-123456,O=Bank AB,C=SE' \\\n      --p12 seal.p12 \\\n      --qc-statement 'psd2=PSP_AI+PSP_PI:SE-FI:Finansinspektionen'\n  keyward ra issue --procedure soft-signing-roles \\\n      --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice.p12 \\\n      --ac alice-ac.pem"
    )]
    Issue(Box<IssueArgs>),
    /// Issue one soft token per row of a CSV file, several at once, with a progress bar and a
    /// results CSV; rerun the same command to resume an interrupted batch (rows recorded as
    /// issued are skipped, the others re-sent with the same request IDs). Exit codes: 0 all
    /// issued, 10 some rows failed (see the results), 2 a bad row (nothing issued).
    #[command(
        after_help = "CSV columns (header row required): subject (required), email, key_spec, pin_email, pin_postal_address, pin_letter, file.\nPIN procedure show: the PINs go to DIR/pins.csv (mode 0600) only; email: column pin_email (delivery smtp) or pin_postal_address\n(delivery print; lines separated by \\n or line breaks in a quoted cell); letter: column pin_letter (the ID as printed, 100002-16);\nenter is refused (the officer cannot type one PIN per row).\n\nExamples:\n  keyward ra batch --csv staff.csv --procedure soft-signing-show \\\n      --out-dir tokens --jobs 4\n  keyward ra batch --csv staff.csv --procedure soft-signing-letter \\\n      --out-dir tokens --key-spec EC:secp256r1 --json"
    )]
    Batch(BatchArgs),
    /// Search issued certificates; with --id, save one again (--out) or show it in detail
    /// (--details).
    #[command(
        after_help = "Examples:\n  keyward ra certificates --subject alice\n  keyward ra certificates --serial 4f0a9c --json\n  keyward ra certificates --subject alice --status revoked\n  keyward ra certificates --status on-hold\n  keyward ra certificates --id 42 --details\n  keyward ra certificates --id 42 --out alice.pem"
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
        /// Only certificates with this status now.
        #[arg(long, value_parser = keyward_proto::STATUSES)]
        status: Option<String>,
        /// Save the certificate --id names to this file again: PEM if it ends in .pem, else
        /// DER (as `ra issue --cert`).
        #[arg(long, value_name = "FILE", requires = "id")]
        out: Option<PathBuf>,
        /// Overwrite --out if it exists.
        #[arg(long, requires = "out")]
        force: bool,
        /// Show everything about the certificate --id names: extensions, subjectAltNames,
        /// fingerprints, procedures, officer, status, the archived key it came with.
        #[arg(long, requires = "id")]
        details: bool,
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
        after_help = "Examples:\n  keyward ra archived-keys --subject 'alice example'\n  keyward ra archived-keys --serial 4f0a9c --json\n  keyward ra archived-keys --subject 'alice example' --status revoked\n  keyward ra issue --procedure recover-encryption-reuse \\\n      --subject 'CN=Alice Example' --recover-serial 4f0a9c \\\n      --p12 alice-recovered.p12"
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
        /// Only keys whose certificate has this status now.
        #[arg(long, value_parser = keyward_proto::STATUSES)]
        status: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a certificate, or put it on hold with --reason certificateHold (role
    /// revoke-certificate). Refusals: exit 5 without the role, 6 when the server refuses (unknown
    /// or already revoked certificate, a CA certificate), 2 for bad options.
    #[command(
        after_help = "Examples:\n  keyward ra revoke --id 42 --reason keyCompromise \\\n      --invalidity-date 2026-11-30\n  keyward ra revoke --serial 4f0a9c --reason superseded\n  # on hold; release with `ra unhold`\n  keyward ra revoke --id 42 --reason certificateHold\n  keyward ra revoke --id 42 --reason cessationOfOperation --json"
    )]
    Revoke(RevokeArgs),
    /// Release a certificate on hold (certificateHold): valid again, and removeFromCRL in the
    /// next delta CRL (role revoke-certificate).
    #[command(
        after_help = "Examples:\n  keyward ra unhold --id 42\n  keyward ra unhold --serial 4f0a9c --json"
    )]
    Unhold(UnholdArgs),
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
pub(crate) enum ApprovalsCommand {
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
pub(crate) struct IssueArgs {
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
    /// PIN procedure `letter`: seal the token with the PIN of this PIN/PUK letter, its ID
    /// typed as printed, with the check digits (100002-16); a typo is refused before anything
    /// is sent (prompted for when interactive).
    #[arg(long, value_name = "ID-CC")]
    pub pin_letter: Option<String>,
    /// The --pin-letter ID is a bare number, from a letter printed before letter IDs had check
    /// digits (the server accepts it only for such a letter).
    #[arg(long)]
    pub unchecked_letter_id: bool,
    /// PIN procedure `email` sent by e-mail: the PIN mailer address the server sends the PIN
    /// to (prompted for when interactive).
    #[arg(long, value_name = "ADDR", visible_alias = "pin-mailer-address")]
    pub pin_email: Option<String>,
    /// PIN procedure `email` printed for posting (delivery print, e.g. soft-signing-post): the
    /// postal address, lines separated by \n ('Alice Example\nStorgatan 1\n111 22
    /// Stockholm'); at most 6 lines of 60 characters (prompted for when interactive).
    #[arg(long, value_name = "LINES", conflicts_with = "pin_postal_address_file")]
    pub pin_postal_address: Option<String>,
    /// As --pin-postal-address, from a file (one line per address line; - for standard input).
    #[arg(long, value_name = "FILE")]
    pub pin_postal_address_file: Option<PathBuf>,
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
pub(crate) struct BatchArgs {
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
    /// Column pin_letter holds bare numbers, from letters printed before letter IDs had check
    /// digits (the server accepts them only for such letters).
    #[arg(long)]
    pub unchecked_letter_id: bool,
    /// JSON summary on stdout (no progress bar; PINs are never printed).
    #[arg(long)]
    pub json: bool,
}
