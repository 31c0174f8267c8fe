//! The arguments of `keyward ra revoke` and `keyward ra unhold`.

use clap::Args;

/// `keyward ra revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// Certificate ID (decimal).
    #[arg(long, conflicts_with = "serial", required_unless_present = "serial")]
    pub id: Option<String>,
    /// Serial number (hex).
    #[arg(long)]
    pub serial: Option<String>,
    /// RFC 5280 reason: unspecified, keyCompromise, affiliationChanged, superseded,
    /// cessationOfOperation, certificateHold (revocable later with `ra unhold`),
    /// privilegeWithdrawn.
    #[arg(long)]
    pub reason: String,
    /// When the key is known or suspected to have been compromised: RFC 3339
    /// (2026-12-01T08:00:00Z) or a day (2026-12-01, UTC); not in the future.
    #[arg(long, value_name = "WHEN")]
    pub invalidity_date: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `keyward ra unhold`.
#[derive(Debug, Args)]
pub(crate) struct UnholdArgs {
    /// Certificate ID (decimal).
    #[arg(long, conflicts_with = "serial", required_unless_present = "serial")]
    pub id: Option<String>,
    /// Serial number (hex).
    #[arg(long)]
    pub serial: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}
