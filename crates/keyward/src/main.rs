//! The `keyward` binary: server, RA client and administration.

#![forbid(unsafe_code)]

mod audit;
mod batch;
mod cli;
mod crl;
mod docs;
mod failure;
mod init;
mod kra;
mod logging;
mod ocsp;
mod officer;
mod output;
mod p12;
mod pin_letters;
mod procedures;
mod quickstart;
mod ra;
mod revoke;
mod secrets;
mod secure_printer;
mod server;
mod table;

use cli::Command;

/// Exit code for bad input that clap did not catch.
pub const EXIT_INPUT: i32 = 2;

fn main() {
    let (cli, json) = cli::parse();
    // Quickstart is a demo for a person at a terminal: its own output, no server log lines.
    logging::init(matches!(cli.command, Command::Server(_) | Command::Ocsp(_)));
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
            Command::Kra(args) => kra::run(args).await,
            Command::Procedures(args) => procedures::run(args).await,
            Command::Audit(args) => audit::run(args).await,
            Command::PinLetters(args) => pin_letters::run(args).await,
            Command::SecurePrinter(args) => secure_printer::run(args).await,
            Command::P12(args) => p12::run(args),
            Command::Crl(args) => crl::run(args).await,
            Command::Ocsp(args) => ocsp::run(args).await,
            Command::Completions(args) => docs::completions(args),
            Command::Man(args) => docs::man(args),
        }
    });
    // Dropping the runtime drops every task's state, which stops and joins background threads
    // (the key pool's generators) before `exit` runs OpenSSL's exit-time cleanup under them.
    drop(runtime);
    if let Err(err) = result {
        std::process::exit(failure::report(&err, json));
    }
}
