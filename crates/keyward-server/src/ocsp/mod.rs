//! The OCSP responder of the CM host (and of `keyward ocsp`): the delegated OCSP signing key
//! and its certificate ([`keyward_ocsp::Responder`]), the issuing CA's certificate (public), read
//! access to the store, and the pre-signed response cache. No CA key: it can run apart.
//!
//! [`ocsp_router`] serves it from its [`StatusIndex`] and the store; [`keep_fresh`] fills the
//! index and applies a revocation committed by any node to it and to the cache within a second; [`Renewer`] (CA host only) renews the signing certificate,
//! once among the nodes of a database; [`adopt`] puts a renewal another node recorded in use.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use openssl::x509::X509;

use keyward_ocsp::{
    CacheSettings, Context, IssuerSet, Limits, Reply, Responder, ResponseCache, ResponseSettings,
};
use keyward_store::Store;

use crate::config::{OcspConfig, ServerConfig};
use crate::error::ServerError;

pub mod adopt;
mod fresh;
pub mod index;
mod issue;
mod load;
pub mod renew;
mod router;
mod source;

pub use fresh::{keep_fresh, Freshness, POLL_INTERVAL};
pub use index::StatusIndex;
pub use load::{check_responder_certificate, load, load_signer};
pub use renew::{Renewal, Renewer};
pub use router::{ocsp_router, MAX_POST_BYTES};
pub use source::{answer, serial_from_hex, StoreSource};

/// How long a pre-signed response is served from the cache at most (and never beyond its
/// nextUpdate): an answer older than that is signed again.
const CACHE_MAX_AGE: Duration = Duration::from_secs(600);

/// The OCSP responder component.
pub struct OcspService {
    /// The responder and its certificate, swapped together when the certificate is renewed.
    current: RwLock<(Arc<Responder>, X509)>,
    /// The issuing CA's certificate, which every signing certificate put in use must be issued
    /// by.
    issuing: X509,
    issuers: IssuerSet,
    source: StoreSource,
    cache: Option<ResponseCache>,
    limits: Limits,
    settings: ResponseSettings,
}

impl OcspService {
    /// A responder for the issuing CA `issuing` signing with `responder` (whose certificate is
    /// `certificate`), answering from `store`, sized by `config`.
    pub fn new(
        responder: Responder,
        certificate: X509,
        issuing: &X509,
        store: Store,
        config: &OcspConfig,
    ) -> Result<OcspService, keyward_ocsp::OcspError> {
        let der = issuing
            .to_der()
            .map_err(|e| keyward_ocsp::OcspError::responder("issuing CA certificate", e))?;
        let issuers = IssuerSet::new(&[der])?;
        let issuer = crate::service::name_to_string(issuing.subject_name());
        let cache = (config.cache_size > 0).then(|| {
            ResponseCache::new(CacheSettings {
                capacity: config.cache_size,
                max_age: CACHE_MAX_AGE.min(config.response_validity),
            })
        });
        Ok(OcspService {
            settings: responder.settings(),
            current: RwLock::new((Arc::new(responder), certificate)),
            issuing: issuing.clone(),
            issuers,
            source: StoreSource::new(
                store,
                issuer,
                Arc::new(StatusIndex::new(config.status_index)),
            ),
            cache,
            limits: Limits {
                max_requests: config.max_requests,
                ..Limits::default()
            },
        })
    }

    /// The answer to the request DER `body` at `now`.
    pub async fn respond(&self, body: &[u8], now: SystemTime) -> Reply {
        let responder = self.responder();
        let context = Context {
            responder: &responder,
            issuers: &self.issuers,
            source: &self.source,
            cache: self.cache.as_ref(),
            limits: self.limits,
        };
        context.respond(body, now).await
    }

    /// The responder in use.
    pub fn responder(&self) -> Arc<Responder> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// The signing certificate in use.
    pub fn certificate(&self) -> X509 {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// The issuing CA's certificate.
    pub fn issuing(&self) -> &X509 {
        &self.issuing
    }

    /// Puts `responder` with its (renewed) certificate in use; requests under way finish with
    /// the old one, whose certificate is still valid.
    pub fn swap_responder(&self, responder: Responder, certificate: X509) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) =
            (Arc::new(responder), certificate);
    }

    /// The response settings (validity).
    pub fn response_settings(&self) -> ResponseSettings {
        self.settings
    }

    /// Drops the cached responses for serial `serial_hex` (store form) of the issuing CA.
    pub fn invalidate(&self, serial_hex: &str) {
        if let (Some(cache), Some(serial)) = (&self.cache, serial_from_hex(serial_hex)) {
            cache.invalidate(0, &serial);
        }
    }

    /// How many pre-signed responses are cached.
    pub fn cached(&self) -> usize {
        self.cache.as_ref().map_or(0, ResponseCache::len)
    }

    /// The status source (the store and the issuer name).
    pub fn source(&self) -> &StoreSource {
        &self.source
    }

    /// The request limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

/// A start-up refusal naming `setting` (exit code 3).
fn refuse(config: &ServerConfig, setting: &str, reason: impl std::fmt::Display) -> ServerError {
    ServerError::Config {
        path: config.path.clone(),
        reason: format!("{setting}: {reason}"),
    }
}

#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod renew_tests;
#[cfg(test)]
mod test_ca;
#[cfg(test)]
mod tests;
