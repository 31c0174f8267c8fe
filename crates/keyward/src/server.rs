//! `keyward server`: the CM host (see [`keyward_admin::serve`]).

use std::io::IsTerminal;
use std::sync::Arc;

use keyward_admin::reload::Reloader;
use keyward_admin::serve::bind_with_public;
use tokio::signal::unix::{signal, SignalKind};

use crate::cli::ServerArgs;
use crate::output::admin_error;

/// `keyward server`.
pub(crate) async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let bound = bind_with_public(
        &args.dir,
        args.listen,
        args.database.as_deref(),
        args.metrics_listen,
        args.public_listen,
    )
    .await
    .map_err(admin_error)?;
    // One banner line on stdout: scripts and tests read its first line for the address. The
    // log says the same for log files and journals, but not when both go to one terminal.
    let log_addresses = !(std::io::stdout().is_terminal() && std::io::stderr().is_terminal());
    let mut banner = format!("keyward server listening on https://{}", bound.addr);
    let mut log = format!(
        "keyward server {} listening on https://{}",
        env!("CARGO_PKG_VERSION"),
        bound.addr
    );
    if let Some(at) = bound.metrics_addr {
        banner.push_str(&format!(" (metrics at http://{at}/metrics)"));
        log.push_str(&format!("; metrics at http://{at}/metrics"));
    }
    if let Some(at) = bound.public_addr {
        banner.push_str(&format!(" (public at http://{at}/)"));
        log.push_str(&format!("; public listener (CRLs, OCSP) at http://{at}/"));
    }
    if log_addresses {
        tracing::info!("{log}");
    }
    // Before the banner: whoever reads it may send SIGHUP at once, and without a handler the
    // signal would end the server.
    let reloads = reload_on_hangup(bound.reloader());
    println!("{banner} (Ctrl-C to stop)");
    bound.serve(shutdown_signal()).await;
    if let Some(task) = reloads {
        task.abort();
    }
    tracing::info!("keyward server stopped");
    Ok(())
}

/// Re-reads cm.conf on every SIGHUP (see [`Reloader`]); `None`, with a warning, when the
/// signal cannot be caught (the server then runs without reloads).
fn reload_on_hangup(reloader: Arc<Reloader>) -> Option<tokio::task::JoinHandle<()>> {
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::warn!("cannot catch SIGHUP ({e}): cm.conf changes need a restart");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let reloader = reloader.clone();
            // Reading files: off the async workers.
            if tokio::task::spawn_blocking(move || reloader.reload_and_log())
                .await
                .is_err()
            {
                tracing::error!("reloading cm.conf was interrupted; the running settings stay");
            }
        }
    }))
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = interrupt => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = interrupt.await;
        }
    }
}
