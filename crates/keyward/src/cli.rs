//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

mod admin;
mod crl;
mod docs;
#[cfg(test)]
mod examples;
mod ra;
mod ra_revoke;

pub(crate) use admin::*;
pub(crate) use crl::*;
pub(crate) use docs::*;
pub(crate) use ra::*;
pub(crate) use ra_revoke::*;

/// `keyward --version`: the package version and the commit it was built from (build.rs).
pub(crate) const VERSION: &str = env!("KEYWARD_VERSION");

/// Parses the command line, and says whether the command matched was given `--json` (its
/// failure is then printed as JSON). Every subcommand's `--version` names the product, as
/// `keyward --version` does (clap would print `keyward-ra 0.1.0` for `keyward ra --version`).
pub(crate) fn parse() -> (Cli, bool) {
    let matches = product_named(Cli::command()).get_matches();
    let json = crate::failure::wants_json(&matches);
    let cli =
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut Cli::command()).exit());
    (cli, json)
}

/// `cmd` with "keyward" as the display name of every subcommand, which is what clap's version
/// line shows (man pages keep clap's `keyward-ra-issue`: they are built from `Cli::command()`).
fn product_named(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    names.iter().fold(cmd, |cmd, name| {
        cmd.mut_subcommand(name, |sub| product_named(sub.display_name("keyward")))
    })
}

/// Keyward: issue PKCS#12 soft tokens with key archive and recovery.
#[derive(Debug, Parser)]
#[command(name = "keyward", version = VERSION, about, propagate_version = true)]
#[command(
    after_help = "Start here:\n  keyward quickstart                 # everything on an embedded default\n  keyward init && keyward server     # then, in another terminal:\n  keyward ra issue --procedure soft-signing-show \\\n      --subject 'CN=Alice Example,O=Example,C=SE' --p12 alice.p12"
)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create an installation: database, CAs, TLS certificate, procedures and a first officer.
    #[command(
        after_help = "Examples:\n  keyward init --dir ./keyward-data\n  keyward init --dir ./keyward-data \\\n      --database postgres://keyward@db.example.org:5432/keyward"
    )]
    Init(InitArgs),
    /// Run the CM host (HTTPS API).
    #[command(
        after_help = "Examples:\n  keyward server --dir ./keyward-data --listen 127.0.0.1:8443\n  # a second node on the same PostgreSQL database\n  keyward server --dir ./keyward-data --listen 127.0.0.1:8444"
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
    /// procedures.toml on the CM host: check it, load it as the next version (audited).
    Procedures(ProceduresArgs),
    /// The audit log on the CM host: search it, verify its hash chain and seals, seal it now.
    Audit(AuditArgs),
    /// Pre-generate PIN/PUK letters for sealed mailers (role manage-pin-letters).
    PinLetters(PinLettersArgs),
    /// The Secure Printer: deliver queued PIN mail (SMTP by the server, PIN letters as PDF).
    SecurePrinter(SecurePrinterArgs),
    /// PKCS#12 files: inspect any token, ours or foreign.
    P12(P12Args),
    /// CRLs: the latest one from the database, or one fetched over HTTP.
    Crl(CrlArgs),
    /// A standalone OCSP responder: the OCSP signing key and read access to the database, no
    /// CA key; run several beside the database, behind any HTTP load balancer. Exit codes: 0
    /// stopped by Ctrl-C/SIGTERM, 3 a configuration or key error (naming the setting).
    #[command(
        after_help = "Examples:\n  keyward ocsp --dir ./keyward-data --listen 0.0.0.0:8080\n  keyward ocsp --config /etc/keyward/cm.conf \\\n      --database postgres://ocsp@db.example.org:5432/keyward \\\n      --listen 127.0.0.1:8081\n  openssl ocsp -issuer issuing-ca.pem -cert alice.pem -url \\\n      http://127.0.0.1:8080/ocsp"
    )]
    Ocsp(OcspArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    #[command(
        after_help = "Examples:\n  keyward completions bash > \\\n      ~/.local/share/bash-completion/completions/keyward\n  keyward completions zsh > ~/.zfunc/_keyward\n  keyward completions fish > ~/.config/fish/completions/keyward.fish"
    )]
    Completions(CompletionsArgs),
    /// Write the man pages: one per command and subcommand (keyward.1, keyward-ra.1,
    /// keyward-ra-issue.1, …).
    #[command(
        after_help = "Examples:\n  keyward man --out-dir ./man\n  man -l ./man/keyward-ra-issue.1\n  sudo keyward man --out-dir /usr/local/share/man/man1"
    )]
    Man(ManArgs),
}

/// `keyward ocsp`.
#[derive(Debug, Args)]
pub(crate) struct OcspArgs {
    /// Installation directory (its cm.conf is read: database.url, ca.issuing.certificate,
    /// ocsp.*, crl.url/crl.delta-url; never the CA key, the KRA or the audit key).
    #[arg(long, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// cm.conf to read instead of DIR/cm.conf (relative paths in it are from its folder).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL, overriding database.url of cm.conf.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Listen address (plain HTTP), overriding public.listen of cm.conf.
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// Print the banner as one JSON line.
    #[arg(long)]
    pub json: bool,
}

/// `keyward p12`.
#[derive(Debug, Args)]
pub(crate) struct P12Args {
    /// PKCS#12 command.
    #[command(subcommand)]
    pub command: P12Command,
}

/// PKCS#12 commands.
#[derive(Debug, Subcommand)]
pub(crate) enum P12Command {
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
pub(crate) struct P12InspectArgs {
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
pub(crate) struct ClientArgs {
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
pub(crate) struct PinLettersArgs {
    /// Connection.
    #[command(flatten)]
    pub client: ClientArgs,
    /// PIN letter command.
    #[command(subcommand)]
    pub command: PinLettersCommand,
}

/// PIN letter commands.
#[derive(Debug, Subcommand)]
pub(crate) enum PinLettersCommand {
    /// Create letters FIRST-ID, FIRST-ID+1, … and write them as one PDF for printing.
    #[command(
        after_help = "Examples:\n  keyward pin-letters create --count 100 --first-id 100001 \\\n      --pin-procedure letter --out letters-100001.pdf\n  keyward pin-letters create --count 10000 --first-id 200001 \\\n      --pin-procedure letter --out batch.pdf --json"
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
    #[command(
        after_help = "Examples:\n  keyward pin-letters list --unused --first 100001\n  keyward pin-letters list --next-free --procedure letter --json"
    )]
    List {
        /// From this letter ID up.
        #[arg(long, value_name = "ID")]
        first: Option<String>,
        /// Only unused letters (voided ones included: see VOIDED).
        #[arg(long, conflicts_with = "used")]
        unused: bool,
        /// Only used letters.
        #[arg(long)]
        used: bool,
        /// Only voided letters.
        #[arg(long, conflicts_with_all = ["used", "unused"])]
        voided: bool,
        /// The next free letter of --procedure (the lowest unused, not voided one, from
        /// --first on): the one to take next.
        #[arg(long, requires = "procedure", conflicts_with_all = ["used", "unused", "voided", "limit"])]
        next_free: bool,
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
    /// Void a damaged or lost letter so that it never seals a token (a used letter cannot be
    /// voided). Audited, with the reason.
    #[command(
        after_help = "Example:\n  keyward pin-letters void 100003-13 --reason 'torn in the printer'"
    )]
    Void {
        /// The letter ID as printed, with its check digits (100003-13).
        #[arg(value_name = "ID-CC")]
        id: String,
        /// Why the letter is voided (kept with the letter and in the audit log).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// ID is a bare number, from a letter printed before letter IDs had check digits.
        #[arg(long)]
        unchecked_letter_id: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `keyward secure-printer`.
#[derive(Debug, Args)]
pub(crate) struct SecurePrinterArgs {
    /// Connection.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Secure Printer command.
    #[command(subcommand)]
    pub command: SecurePrinterCommand,
}

/// Secure Printer commands.
#[derive(Debug, Subcommand)]
pub(crate) enum SecurePrinterCommand {
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
    /// Show the PIN mail queue (never the PINs). A failed attempt leaves a mail queued (its
    /// ATTEMPTS and LAST ERROR show it) until pin-mailer.max-attempts, then it is failed.
    #[command(
        after_help = "Examples:\n  keyward secure-printer queue --state queued\n  keyward secure-printer queue --state failed"
    )]
    Queue {
        /// queued (waiting, or tried again on the next run after a failed attempt), failed
        /// (no more attempts until requeued) or delivered.
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

/// `keyward quickstart`.
#[derive(Debug, Args)]
pub(crate) struct QuickstartArgs {
    /// Installation directory (created if missing).
    #[arg(long, default_value = "keyward-data")]
    pub dir: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
