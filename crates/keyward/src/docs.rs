//! `keyward completions SHELL` and `keyward man --out-dir DIR`: shell completions and man pages
//! generated from the same clap definitions the binary parses with, so they never drift.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs, VERSION};

/// Prints the completion script for `args.shell` to stdout.
pub(crate) fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "keyward", &mut script);
    // Written here rather than by clap_complete, which panics when stdout is closed; a reader
    // that stopped early (`| head`) is not an error.
    match std::io::stdout().lock().write_all(&script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing the completion script to stdout")
        }
        _ => Ok(()),
    }
}

/// Writes one man page per command and subcommand into `args.out_dir` and says how many.
pub(crate) fn man(args: ManArgs) -> anyhow::Result<()> {
    let dir = &args.out_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("--out-dir {}", dir.display()))?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Building fills in the display names (`keyward-ra-issue`) the page names come from.
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, dir, &mut written)?;
    println!("wrote {} man pages to {}", written.len(), dir.display());
    Ok(())
}

/// The page of `cmd` and those of its visible subcommands, depth first.
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    // The footer names the product and its version, not the subcommand ("issue 0.1.0").
    let page = clap_mangen::Man::new(cmd.clone()).source(format!("keyward {VERSION}"));
    let path = page
        .generate_to(dir)
        .with_context(|| format!("writing {}", dir.join(page.get_filename()).display()))?;
    written.push(path);
    Ok(())
}
