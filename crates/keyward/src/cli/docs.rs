//! The arguments of `keyward completions` and `keyward man`.

use std::path::PathBuf;

use clap::Args;

/// `keyward completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `keyward man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Where the pages go (created if missing; pages of the same name are replaced).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}
