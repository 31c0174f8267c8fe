//! `keyward ocsp`: the standalone OCSP responder. It reads from cm.conf only what a responder
//! needs (`database.url`, `ca.issuing.certificate`, `ocsp.*`, `crl.url`/`crl.delta-url`) and
//! never loads the CA key, the KRA or the audit key, so that several responders can run beside
//! the database, apart from the CA host. It writes nothing to the database: freshness comes
//! from polling the revocation-change counter, the CRLs served are the ones the CA nodes stored,
//! and a renewal of the OCSP signing certificate a CA node recorded is adopted at start and
//! within a minute ([`adopt::keep_adopting`], in memory only).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use openssl::x509::X509;
use tokio::net::TcpListener;

use keyward_server::ocsp::{adopt, Freshness, OcspService};
use keyward_server::{public, ServerError};

use crate::error::{context, AdminError};
use crate::install::open_store;

/// A standalone responder bound to its address, ready to serve.
pub struct BoundResponder {
    /// The address its plain-HTTP listener is bound to.
    pub addr: SocketAddr,
    listener: TcpListener,
    service: Arc<OcspService>,
    freshness: Freshness,
    crl: Option<public::CrlRoutes>,
    /// cm.conf, for adopting renewals (the OCSP key's settings).
    config: keyward_server::ServerConfig,
}

/// Loads the responder's part of `config_file` (cm.conf), opens the database (`database`
/// overriding `database.url`) and binds `listen` (else cm.conf's `public.listen`).
pub async fn bind_responder(
    config_file: &Path,
    database: Option<&str>,
    listen: Option<SocketAddr>,
) -> Result<BoundResponder, AdminError> {
    let mut config = keyward_server::ServerConfig::load(config_file)?;
    if let Some(url) = database {
        config.database_url = keyward_server::config::resolve_database_url(url, Path::new("."));
    }
    let refuse = |setting: &str, reason: String| ServerError::Config {
        path: config.path.clone(),
        reason: format!("{setting}: {reason}"),
    };
    let issuing_pem = std::fs::read(&config.ca_issuing_certificate).map_err(|e| {
        refuse(
            "ca.issuing.certificate",
            format!("{}: {e}", config.ca_issuing_certificate.display()),
        )
    })?;
    let issuing = X509::from_pem(&issuing_pem)
        .map_err(|_| refuse("ca.issuing.certificate", "not a PEM certificate".into()))?;
    if config.ocsp.is_none() {
        return Err(refuse(
            "ocsp.certificate",
            "not set: a standalone responder needs the OCSP signing certificate and key".into(),
        )
        .into());
    }
    let addr = listen.or(config.public_listen).ok_or_else(|| {
        refuse(
            "public.listen",
            "not set and no --listen given: where should the responder listen?".into(),
        )
    })?;
    let store = open_store(&config, database.is_some()).await?;
    let service = keyward_server::ocsp::load(&config, &issuing, store.clone())?
        .ok_or_else(|| refuse("ocsp.certificate", "not set".into()))?;
    // A renewal a CA node recorded is put in use before the expiry check: a responder whose
    // file still holds the certificate before it starts when the database holds its renewal.
    let now = std::time::SystemTime::now();
    if let Some(cert) = adopt::adopt(&service, &config, now).await? {
        tracing::info!(
            "OCSP signing certificate {} adopted from the database (newer than ocsp.certificate)",
            adopt::serial_hex(&cert)
        );
    }
    if service.responder().certificate_not_after() <= now {
        return Err(refuse(
            "ocsp.certificate",
            "expired, and the database holds no renewal of it".into(),
        )
        .into());
    }
    let freshness = Freshness::start(service.clone())
        .await
        .map_err(ServerError::from)?;
    let crl = config.crl.as_ref().map(|crl| {
        public::CrlRoutes::new(
            store.clone(),
            keyward_server::service::name_to_string(issuing.subject_name()),
            crl.url.path.clone(),
            crl.delta_url.as_ref().map(|d| d.path.clone()),
        )
    });
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| ServerError::Listen {
            addr: addr.to_string(),
            error,
        })?;
    let addr = listener
        .local_addr()
        .map_err(context(|| "reading the bound address".to_string()))?;
    Ok(BoundResponder {
        addr,
        listener,
        service,
        freshness,
        crl,
        config,
    })
}

impl BoundResponder {
    /// The responder being served.
    pub fn service(&self) -> Arc<OcspService> {
        self.service.clone()
    }

    /// Serves OCSP (and the stored CRLs, when cm.conf sets `crl.url`) until `shutdown`.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut router = match self.crl {
            Some(routes) => public::router(routes),
            None => axum::Router::new(),
        };
        router = router.merge(keyward_server::ocsp::ocsp_router(self.service.clone()));
        let fresh = tokio::spawn(keyward_server::ocsp::keep_fresh(self.freshness));
        let adopting = tokio::spawn(adopt::keep_adopting(self.service.clone(), self.config));
        public::serve(
            self.listener,
            router,
            public::PublicLimits::default(),
            shutdown,
        )
        .await;
        fresh.abort();
        adopting.abort();
    }
}
