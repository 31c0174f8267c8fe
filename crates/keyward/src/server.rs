//! `keyward server`: the CM host.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use keyward_server::{api, tls, ServerConfig, ServerError, Service};

use crate::cli::ServerArgs;

/// A server bound to its address, ready to serve.
pub struct Bound {
    /// The address it listens on.
    pub addr: SocketAddr,
    listener: TcpListener,
    tls: rustls::ServerConfig,
    service: Arc<Service>,
}

/// Loads cm.conf from `dir`, opens the database and CA, and binds `listen` (or cm.conf's).
pub async fn bind(dir: &Path, listen: Option<SocketAddr>) -> anyhow::Result<Bound> {
    let config = ServerConfig::load(&dir.join("cm.conf"))?;
    let tls = tls::server_config(&config.tls_certificate, &config.tls_key, &config.ca_root)?;
    let service = Arc::new(Service::open(&config).await?);
    let addr = listen.unwrap_or(config.listen);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    let addr = listener.local_addr().context("reading the bound address")?;
    Ok(Bound {
        addr,
        listener,
        tls,
        service,
    })
}

impl Bound {
    /// Serves until `shutdown` completes.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        api::serve(self.listener, self.tls, self.service, shutdown).await;
    }
}

/// `keyward server`.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let bound = bind(&args.dir, args.listen).await?;
    tracing::info!(
        "keyward server {} listening on https://{}",
        env!("CARGO_PKG_VERSION"),
        bound.addr
    );
    println!(
        "keyward server listening on https://{} (Ctrl-C to stop)",
        bound.addr
    );
    bound.serve(shutdown_signal()).await;
    tracing::info!("keyward server stopped");
    Ok(())
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
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
