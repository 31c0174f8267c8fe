//! The CM host's start-up: cm.conf, the CA, the KRA, the audit key and the database, each
//! checked against the others before anything is served ([`crate::checks`]), the TLS
//! configuration and the listening sockets (the API's, and the metrics' when asked for); then
//! serving, with the audit log sealed every interval and once more when stopping.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

use keyward_audit::seal::{seal_on_shutdown, seal_periodically, SealOutcome};
use keyward_server::crl::{schedule, CrlPublisher};
use keyward_server::metrics::{listener as metrics_listener, Metrics};
use keyward_server::ocsp::{Freshness, OcspService, Renewer};
use keyward_server::{api, public, service, tls, ServerError, Services};
use keyward_store::Store;

use crate::checks;
use crate::error::{context, AdminError};
use crate::install::{load_audit_key, load_config, open_store};
use crate::reload::Reloader;

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
    /// cm.conf's connection limits, and the listener's counters.
    connections: api::Connections,
    /// Where the metrics are served (`--metrics-listen` or cm.conf `metrics.listen`), if
    /// anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// The metrics and their listening socket, when asked for.
    metrics: Option<(Arc<Metrics>, TcpListener)>,
    /// Where the public listener (CRLs, OCSP) serves plain HTTP (`--public-listen` or cm.conf
    /// `public.listen`), if anywhere.
    pub public_addr: Option<SocketAddr>,
    /// The public listener's socket, when asked for.
    public: Option<TcpListener>,
    /// The CRL publisher, when cm.conf sets `crl.url`.
    crl: Option<Arc<CrlPublisher>>,
    /// The OCSP responder, when cm.conf names an OCSP signing certificate (`ocsp.*`): its
    /// routes ([`keyward_server::ocsp::ocsp_router`]) belong on the public listener.
    pub ocsp: Option<Arc<OcspService>>,
    /// The OCSP cache's freshness poller and the certificate's renewer, run by
    /// [`Bound::serve`].
    ocsp_tasks: Option<(Freshness, Renewer)>,
    /// Re-reads cm.conf on request (SIGHUP).
    reloader: Arc<Reloader>,
}

/// Loads cm.conf from `dir`, opens the database and CA, and binds `listen` (or cm.conf's).
pub async fn bind(dir: &Path, listen: Option<SocketAddr>) -> Result<Bound, AdminError> {
    bind_with(dir, listen, None, None).await
}

/// As [`bind`], with `database` overriding cm.conf's `database.url`, and metrics served on
/// `metrics_listen` (else on cm.conf's `metrics.listen`, else nowhere).
pub async fn bind_with(
    dir: &Path,
    listen: Option<SocketAddr>,
    database: Option<&str>,
    metrics_listen: Option<SocketAddr>,
) -> Result<Bound, AdminError> {
    bind_with_public(dir, listen, database, metrics_listen, None).await
}

/// As [`bind_with`], with the public listener (CRLs, OCSP) on `public_listen` (else on
/// cm.conf's `public.listen`, else nowhere).
pub async fn bind_with_public(
    dir: &Path,
    listen: Option<SocketAddr>,
    database: Option<&str>,
    metrics_listen: Option<SocketAddr>,
    public_listen: Option<SocketAddr>,
) -> Result<Bound, AdminError> {
    let config = load_config(dir, database)?;
    checks::check_file_modes(&config)?;
    let audit_key = load_audit_key(&config)?;
    let ca = service::load_ca(&config)?;
    checks::check_keys(&checks::LoadedKeys {
        config: &config,
        ca: &ca,
    })?;
    let tls = tls::server_config(&config.tls_certificate, &config.tls_key, &config.ca_root)?;
    let kra = service::load_kra(&config)?;
    let store = open_store(&config, database.is_some()).await?;
    checks::check_database(
        &config,
        database.is_some(),
        &store,
        &kra,
        audit_key.as_ref(),
    )
    .await?;
    let issuing = ca.certificate().clone();
    let services = Services::assemble(&config, store.clone(), ca, kra)?;
    let ocsp = keyward_server::ocsp::load(&config, &issuing, store.clone())?;
    let ocsp_tasks = match &ocsp {
        Some(service) => {
            let freshness = Freshness::start(service.clone())
                .await
                .map_err(ServerError::from)?;
            let renewer = Renewer::new(
                service.clone(),
                services.issuance.ca(),
                store.clone(),
                config.clone(),
            );
            // A renewal another node recorded while this one was down is adopted, and a
            // certificate that fell due is renewed, before the first answer; if that fails (or
            // another node is renewing), a certificate still valid serves meanwhile (the
            // renewer checks again), an expired one refuses to start.
            let now = std::time::SystemTime::now();
            let checked = renewer.renew_if_due(now).await;
            let expired = service.responder().certificate_not_after() <= now;
            match checked {
                Err(e) if expired => return Err(e.into()),
                Err(e) => tracing::error!("OCSP signing certificate renewal failed: {e}"),
                Ok(_) if expired => {
                    return Err(ServerError::Config {
                        path: config.path.clone(),
                        reason: format!(
                            "ocsp.certificate: expired, and another node holds the {} \
                             lease: start again once it has renewed",
                            keyward_server::ocsp::renew::LEASE
                        ),
                    }
                    .into())
                }
                Ok(renewal) => renewer.log(&renewal),
            }
            Some((freshness, renewer))
        }
        None => None,
    };
    let metrics_addr = metrics_listen.or(config.metrics_listen);
    let metrics = metrics_addr.map(|_| Arc::new(Metrics::new()));
    let services = match &metrics {
        Some(m) => services.with_metrics(m.clone()),
        None => services,
    };
    let audit = audit_key.map(|key| {
        let every = std::time::Duration::from_secs(config.audit_seal_interval);
        (Arc::new(key), every)
    });
    warn_if_procedures_differ(dir, &store).await;
    let services = Arc::new(services);
    let reloader = Arc::new(Reloader::new(&config, services.clone()));
    let addr = listen.unwrap_or(config.listen);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| ServerError::Listen {
            addr: addr.to_string(),
            error,
        })?;
    let addr = listener
        .local_addr()
        .map_err(context(|| "reading the bound address".to_string()))?;
    let (metrics, metrics_addr) = match (metrics, metrics_addr) {
        (Some(m), Some(at)) => {
            let socket = TcpListener::bind(at)
                .await
                .map_err(|error| ServerError::Listen {
                    addr: at.to_string(),
                    error,
                })?;
            let bound_at = socket
                .local_addr()
                .map_err(context(|| "reading the metrics address".to_string()))?;
            (Some((m, socket)), Some(bound_at))
        }
        _ => (None, None),
    };
    let (public, public_addr) = match public_listen.or(config.public_listen) {
        Some(at) => {
            let socket = TcpListener::bind(at)
                .await
                .map_err(|error| ServerError::Listen {
                    addr: at.to_string(),
                    error,
                })?;
            let bound_at = socket.local_addr().map_err(context(|| {
                "reading the public listener's address".to_string()
            }))?;
            (Some(socket), Some(bound_at))
        }
        None => (None, None),
    };
    let crl = config.crl.clone().map(|crl| {
        let publisher = CrlPublisher::new(services.issuance.ca(), store.clone(), crl);
        Arc::new(publisher.with_metrics(metrics.as_ref().map(|(m, _)| m.clone())))
    });
    let connections =
        api::Connections::new(config.limits).with_metrics(metrics.as_ref().map(|(m, _)| m.clone()));
    Ok(Bound {
        connections,
        metrics_addr,
        metrics,
        public_addr,
        public,
        crl,
        addr,
        listener,
        tls,
        services,
        store,
        audit,
        ocsp,
        ocsp_tasks,
        reloader,
    })
}

/// Logs at WARN when DIR/procedures.toml is not the version in force: edits take effect only
/// through `keyward procedures load`.
async fn warn_if_procedures_differ(dir: &Path, store: &Store) {
    let path = dir.join("procedures.toml");
    match crate::procedures::differs_from_loaded(store, &path).await {
        Ok(None) => {}
        Ok(Some(why)) => tracing::warn!("{}: {why}", path.display()),
        Err(e) => tracing::warn!(
            "{}: cannot compare with the procedures in force: {e}",
            path.display()
        ),
    }
}

impl Bound {
    /// What re-reads cm.conf into this server (`keyward server` calls it on SIGHUP).
    pub fn reloader(&self) -> Arc<Reloader> {
        self.reloader.clone()
    }

    /// The listener's connection counters (refusals by cause, open connections).
    pub fn connection_stats(&self) -> Arc<api::ConnectionStats> {
        self.connections.stats.clone()
    }

    /// Serves until `shutdown` completes; meanwhile seals the audit log every interval (if
    /// there is an audit key), and once more when stopping.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        let store = self.store.clone();
        let metrics = self.metrics.as_ref().map(|(m, _)| m.clone());
        let count_seal = move |outcome: SealOutcome| {
            if let Some(m) = &metrics {
                m.audit_seal(match outcome {
                    SealOutcome::Sealed => Some(true),
                    SealOutcome::Failed => Some(false),
                    SealOutcome::NothingNew => None,
                });
            }
        };
        let sealer = self.audit.as_ref().map(|(key, every)| {
            let count = count_seal.clone();
            tokio::spawn(seal_periodically(store.clone(), key.clone(), *every, count))
        });
        let exporter = self.metrics.map(|(m, socket)| {
            let scraper = metrics_listener::Scraper::new(
                m,
                self.connections.stats.clone(),
                self.services.clone(),
            );
            tokio::spawn(metrics_listener::serve(
                socket,
                Arc::new(scraper),
                std::future::pending(),
            ))
        });
        // Every node runs the schedule; the one holding the lease publishes.
        let holder = schedule::random_holder();
        let publisher = self
            .crl
            .clone()
            .map(|p| tokio::spawn(schedule::run(p, holder.clone())));
        let public = self.public.map(|socket| {
            let mut router = match &self.crl {
                Some(p) => public::router(public::CrlRoutes::of(p)),
                None => axum::Router::new(),
            };
            if let Some(ocsp) = &self.ocsp {
                router = router.merge(keyward_server::ocsp::ocsp_router(ocsp.clone()));
            }
            tokio::spawn(public::serve(
                socket,
                router,
                public::PublicLimits::default(),
                std::future::pending(),
            ))
        });
        let ocsp_tasks = self.ocsp_tasks.map(|(freshness, renewer)| {
            (
                tokio::spawn(keyward_server::ocsp::keep_fresh(freshness)),
                tokio::spawn(renewer.run()),
            )
        });
        let pool_log = self
            .services
            .issuance
            .key_pool()
            .map(|pool| tokio::spawn(log_key_pool(pool)));
        api::serve(
            self.listener,
            self.tls,
            self.services,
            self.connections,
            shutdown,
        )
        .await;
        for task in [pool_log, publisher, public].into_iter().flatten() {
            task.abort();
        }
        if let Some((fresh, renew)) = ocsp_tasks {
            fresh.abort();
            renew.abort();
        }
        if let Some(p) = &self.crl {
            schedule::release(p, &holder).await;
        }
        if let (Some(sealer), Some((key, _))) = (sealer, &self.audit) {
            sealer.abort();
            count_seal(seal_on_shutdown(&store, key).await);
        }
        // Last: the final seal is counted before the metrics go.
        if let Some(task) = exporter {
            task.abort();
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
