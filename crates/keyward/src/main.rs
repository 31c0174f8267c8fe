//! The `keyward` binary: server, RA client and administration.

#![forbid(unsafe_code)]

mod audit;
mod batch;
mod cli;
mod crl;
mod docs;
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

use cli::Command;

/// Exit code for bad input that clap did not catch.
pub const EXIT_INPUT: i32 = 2;

fn main() {
    let cli = cli::parse();
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
        eprintln!("error: {err:#}");
        std::process::exit(exit_code(&err));
    }
}

/// Maps an error to a documented exit code (README, "Exit codes").
fn exit_code(err: &anyhow::Error) -> i32 {
    if let Some(ra) = err.downcast_ref::<keyward_ra::RaError>() {
        return ra.exit_code();
    }
    if let Some(token) = err.downcast_ref::<keyward_pkcs11::Pkcs11Error>() {
        return token.exit_code();
    }
    if err.downcast_ref::<p12::WrongPin>().is_some() {
        return p12::EXIT_WRONG_PIN;
    }
    if err
        .downcast_ref::<secure_printer::DeliveryFailed>()
        .is_some()
    {
        return secure_printer::EXIT_DELIVERY_FAILED;
    }
    if let Some(batch) = err.downcast_ref::<batch::BatchIncomplete>() {
        return batch.code;
    }
    if err.downcast_ref::<output::InputError>().is_some() {
        return EXIT_INPUT;
    }
    if err.downcast_ref::<audit::AuditBroken>().is_some() {
        return audit::EXIT_BROKEN;
    }
    if err.downcast_ref::<keyward_server::ServerError>().is_some() {
        return 3;
    }
    1
}
