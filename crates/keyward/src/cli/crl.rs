//! The arguments of `keyward crl`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `keyward crl`.
#[derive(Debug, Args)]
pub(crate) struct CrlArgs {
    /// CRL command.
    #[command(subcommand)]
    pub command: CrlCommand,
}

/// CRL commands.
#[derive(Debug, Subcommand)]
pub(crate) enum CrlCommand {
    /// Show the latest CRL of the issuing CA from the database (number, this and next update,
    /// entries, size); --out writes it (DER, or PEM when FILE ends in .pem).
    #[command(
        after_help = "Examples:\n  keyward crl show --dir ./keyward-data\n  keyward crl show --dir ./keyward-data --delta --json\n  keyward crl show --dir ./keyward-data --out issuing.crl\n  keyward crl show --dir ./keyward-data --out issuing.pem   # PEM by extension"
    )]
    Show {
        /// Installation directory (its cm.conf names the database and CA).
        #[arg(long, default_value = "keyward-data")]
        dir: PathBuf,
        /// Database URL, overriding database.url of cm.conf.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// The latest delta CRL instead of the full CRL.
        #[arg(long)]
        delta: bool,
        /// Write the CRL to FILE: DER, or PEM when FILE ends in .pem.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Fetch a CRL over plain HTTP (as relying parties do), check that it is one, and show it;
    /// at most 256 MiB within 60 s.
    #[command(
        after_help = "Examples:\n  keyward crl fetch http://127.0.0.1:8080/crl/issuing.crl\n  keyward crl fetch http://127.0.0.1:8080/crl/issuing-delta.crl \\\n      --out delta.crl --json"
    )]
    Fetch {
        /// The CRL's http:// URL.
        #[arg(value_name = "URL")]
        url: String,
        /// Write the CRL to FILE: DER, or PEM when FILE ends in .pem.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}
