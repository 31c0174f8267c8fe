//! The `keyward` binary: server, RA client and administration.

mod cli;
mod init;
mod officer;
mod output;
mod quickstart;
mod ra;
mod secrets;
mod server;

use clap::Parser;

use cli::{Cli, Command};

/// Exit code for bad input that clap did not catch.
pub const EXIT_INPUT: i32 = 2;

fn main() {
    let cli = Cli::parse();
    let verbose_default = matches!(cli.command, Command::Server(_) | Command::Quickstart(_));
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYWARD_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if verbose_default {
            "info,hyper=warn,sqlx=warn"
        } else {
            "warn"
        })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Init(args) => init::run(args).await,
            Command::Server(args) => server::run(args).await,
            Command::Quickstart(args) => quickstart::run(args).await,
            Command::Ra(args) => ra::run(args).await,
            Command::Officer(args) => officer::run(args).await,
        }
    });
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(exit_code(&err));
    }
}

/// Maps an error to a documented exit code (README, "Exit codes").
fn exit_code(err: &anyhow::Error) -> i32 {
    if let Some(ra) = err.downcast_ref::<keyward_ra::RaError>() {
        return ra.exit_code();
    }
    if err.downcast_ref::<output::InputError>().is_some() {
        return EXIT_INPUT;
    }
    if err.downcast_ref::<keyward_server::ServerError>().is_some() {
        return 3;
    }
    1
}
