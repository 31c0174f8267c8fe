//! `keyward server`: the CM host (see [`keyward_admin::serve`]).

use keyward_admin::serve::bind_with_public;

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
    tracing::info!(
        "keyward server {} listening on https://{}",
        env!("CARGO_PKG_VERSION"),
        bound.addr
    );
    // One banner line: scripts and tests read the first line for the address.
    let metrics = match bound.metrics_addr {
        Some(at) => {
            tracing::info!("metrics at http://{at}/metrics");
            format!(" (metrics at http://{at}/metrics)")
        }
        None => String::new(),
    };
    let public = match bound.public_addr {
        Some(at) => {
            tracing::info!("public listener (CRLs, OCSP) at http://{at}/");
            format!(" (public at http://{at}/)")
        }
        None => String::new(),
    };
    println!(
        "keyward server listening on https://{}{metrics}{public} (Ctrl-C to stop)",
        bound.addr
    );
    bound.serve(shutdown_signal()).await;
    tracing::info!("keyward server stopped");
    Ok(())
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
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
