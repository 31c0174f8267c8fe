//! `keyward server`: the CM host.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use keyward_server::{api, tls, ServerConfig, ServerError, Services};
use keyward_store::{Store, StoreError};

use crate::cli::ServerArgs;

/// A server bound to its address, ready to serve.
pub struct Bound {
    /// The address it listens on.
    pub addr: SocketAddr,
    listener: TcpListener,
    tls: rustls::ServerConfig,
    services: Arc<Services>,
    /// The database, for the audit log's sealer.
    store: Store,
    /// The audit key and the seal interval, if cm.conf names an audit key.
    audit: Option<(Arc<keyward_audit::AuditKey>, std::time::Duration)>,
}

/// cm.conf from `dir`, with `database` (the `--database` option) overriding `database.url`; a
/// relative SQLite path in `database` is relative to the working directory.
pub fn load_config(dir: &Path, database: Option<&str>) -> Result<ServerConfig, ServerError> {
    let mut config = ServerConfig::load(&dir.join("cm.conf"))?;
    if let Some(url) = database {
        config.database_url = keyward_server::config::resolve_database_url(url, Path::new("."));
    }
    Ok(config)
}

/// A database that cannot be opened, as a configuration error (exit code 3) naming
/// `database.url` and only the URL's scheme: a URL may hold a password.
pub fn database_error(config: &ServerConfig, overridden: bool, error: StoreError) -> ServerError {
    let scheme = config
        .database_url
        .split_once("://")
        .map_or("?", |(scheme, _)| scheme);
    let from = if overridden { ", from --database" } else { "" };
    ServerError::Config {
        path: config.path.clone(),
        reason: format!("database.url ({scheme}://…{from}): {error}"),
    }
}

/// Opens the database `config` names; errors name `database.url` (see [`database_error`]).
pub async fn open_store(config: &ServerConfig, overridden: bool) -> Result<Store, ServerError> {
    Store::open(&config.database_url)
        .await
        .map_err(|e| database_error(config, overridden, e))
}

/// Loads cm.conf from `dir`, opens the database and CA, and binds `listen` (or cm.conf's).
pub async fn bind(dir: &Path, listen: Option<SocketAddr>) -> anyhow::Result<Bound> {
    bind_with(dir, listen, None).await
}

/// As [`bind`], with `database` overriding cm.conf's `database.url`.
pub async fn bind_with(
    dir: &Path,
    listen: Option<SocketAddr>,
    database: Option<&str>,
) -> anyhow::Result<Bound> {
    let config = load_config(dir, database)?;
    let tls = tls::server_config(&config.tls_certificate, &config.tls_key, &config.ca_root)?;
    let audit = crate::audit::load_key(&config)?.map(|key| {
        let every = std::time::Duration::from_secs(config.audit_seal_interval);
        (Arc::new(key), every)
    });
    let (services, store) = Services::open(&config).await.map_err(|e| match e {
        ServerError::Store(e) => database_error(&config, database.is_some(), e),
        other => other,
    })?;
    let services = Arc::new(services);
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
        services,
        store,
        audit,
    })
}

impl Bound {
    /// Serves until `shutdown` completes; meanwhile seals the audit log every interval (if
    /// there is an audit key), and once more when stopping.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        let store = self.store.clone();
        let sealer = self.audit.as_ref().map(|(key, every)| {
            tokio::spawn(crate::audit::seal_periodically(
                store.clone(),
                key.clone(),
                *every,
            ))
        });
        let pool_log = self
            .services
            .issuance
            .key_pool()
            .map(|pool| tokio::spawn(log_key_pool(pool)));
        api::serve(self.listener, self.tls, self.services, shutdown).await;
        if let Some(task) = pool_log {
            task.abort();
        }
        if let (Some(sealer), Some((key, _))) = (sealer, &self.audit) {
            sealer.abort();
            crate::audit::seal_on_shutdown(&store, key).await;
        }
    }
}

/// Logs the key pool's fill level (cm.conf `kra.key-pool`) once a second while it changes:
/// counts only, never a key.
async fn log_key_pool(pool: Arc<keyward_crypto::KeyPool>) {
    let mut last = None;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let stats = pool.stats();
        let specs: Vec<String> = stats
            .specs
            .iter()
            .map(|s| format!("{} ready {}/{}", s.spec, s.ready, s.target))
            .collect();
        let line = format!(
            "key pool: {}; taken {}, generated on demand {}, generated in background {}, failures {}",
            specs.join(", "),
            stats.taken,
            stats.generated_on_demand,
            stats.generated_in_background,
            stats.failures
        );
        if last.as_ref() != Some(&line) {
            tracing::info!("{line}");
            last = Some(line);
        }
    }
}

/// `keyward server`.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let bound = bind_with(&args.dir, args.listen, args.database.as_deref()).await?;
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
