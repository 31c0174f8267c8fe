//! The public listener (cm.conf `public.listen`, `keyward server --public-listen`): what
//! relying parties fetch without TLS. This module serves the CRLs ([`router`]); the OCSP
//! responder's routes (`/ocsp`, `/ocsp/{*rest}`) are merged into the same Router by the
//! caller, and [`serve`] runs whatever Router it is given within [`PublicLimits`].

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::routing::get;
use axum::Router;

use keyward_store::{CrlFacts, CrlKind, Store};

mod listener;
#[cfg(test)]
mod tests;

pub use listener::{serve, PublicLimits};

use crate::crl::CrlPublisher;

/// The CRLs' Content-Type (RFC 2585 §4.2).
pub const CRL_CONTENT_TYPE: &str = "application/pkix-crl";

/// What the CRL routes read: the store's latest CRLs of one CA, at the paths of `crl.url`
/// and `crl.delta-url`, with the last one read of each kind kept in memory (by number) so
/// that a GET costs one small query, not a reread of the CRL.
pub struct CrlRoutes {
    store: Store,
    issuer: String,
    full_path: String,
    delta_path: Option<String>,
    cache: Mutex<[Option<Arc<Cached>>; 2]>,
}

/// A CRL as served.
struct Cached {
    facts: CrlFacts,
    der: Bytes,
}

impl CrlRoutes {
    /// The routes of the CRLs `publisher` publishes (read from its store).
    pub fn of(publisher: &CrlPublisher) -> CrlRoutes {
        let config = publisher.config();
        CrlRoutes::new(
            publisher.store().clone(),
            publisher.issuer().to_string(),
            config.url.path.clone(),
            config.delta_url.as_ref().map(|d| d.path.clone()),
        )
    }

    /// The routes serving the latest CRLs of `issuer` from `store`: the full CRL at
    /// `full_path`, the delta at `delta_path`.
    pub fn new(
        store: Store,
        issuer: String,
        full_path: String,
        delta_path: Option<String>,
    ) -> CrlRoutes {
        CrlRoutes {
            store,
            issuer,
            full_path,
            delta_path,
            cache: Mutex::new([None, None]),
        }
    }

    fn slot(kind: CrlKind) -> usize {
        match kind {
            CrlKind::Full => 0,
            CrlKind::Delta => 1,
        }
    }

    /// The latest CRL of `kind`: from the cache while its number is the latest.
    async fn latest(
        &self,
        kind: CrlKind,
    ) -> Result<Option<Arc<Cached>>, keyward_store::StoreError> {
        let Some(facts) = self.store.latest_crl_facts(&self.issuer, kind).await? else {
            return Ok(None);
        };
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c[Self::slot(kind)].clone());
        if let Some(hit) = cached.filter(|c| c.facts.number >= facts.number) {
            return Ok(Some(hit));
        }
        let Some(crl) = self.store.latest_crl(&self.issuer, kind).await? else {
            return Ok(None);
        };
        let fresh = Arc::new(Cached {
            facts: crl.facts,
            der: Bytes::from(crl.der),
        });
        if let Ok(mut cache) = self.cache.lock() {
            let slot = &mut cache[Self::slot(kind)];
            if slot
                .as_ref()
                .is_none_or(|c| c.facts.number < fresh.facts.number)
            {
                *slot = Some(fresh.clone());
            }
        }
        Ok(Some(fresh))
    }

    /// The answer to a GET (or HEAD: axum drops the body) of the CRL of `kind`.
    async fn answer(&self, kind: CrlKind, request: &HeaderMap) -> Response<Body> {
        let crl = match self.latest(kind).await {
            Ok(Some(crl)) => crl,
            // Not a server fault: nothing signed yet (the publisher runs within a second).
            Ok(None) => return plain(StatusCode::NOT_FOUND, "no CRL published yet\n"),
            Err(e) => {
                tracing::warn!("public listener: reading the {} CRL: {e}", kind.as_str());
                return plain(StatusCode::SERVICE_UNAVAILABLE, "CRL unavailable\n");
            }
        };
        let now = crate::service::unix_now();
        let etag = format!("\"{}-{}\"", kind.as_str(), crl.facts.number);
        let max_age = crl.facts.next_update.saturating_sub(now).max(0);
        let not_modified = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
        let mut response = if not_modified {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            Response::new(Body::from(crl.der.clone()))
        };
        let headers = response.headers_mut();
        let mut set = |name: header::HeaderName, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        set(header::CONTENT_TYPE, CRL_CONTENT_TYPE.into());
        set(header::ETAG, etag);
        set(header::CACHE_CONTROL, format!("public, max-age={max_age}"));
        if let Some(at) = http_date(crl.facts.this_update) {
            set(header::LAST_MODIFIED, at);
        }
        if let Some(at) = http_date(crl.facts.next_update) {
            set(header::EXPIRES, at);
        }
        response
    }
}

/// The Router of the CRLs: `GET` and `HEAD` of `crl.url`'s path (the full CRL) and of
/// `crl.delta-url`'s (the delta), from the store. Nothing else: [`serve`] answers 404 to
/// other paths; the OCSP paths are left free.
pub fn router(crls: CrlRoutes) -> Router {
    let crls = Arc::new(crls);
    let mut router = Router::new();
    let full = crls.clone();
    router = router.route(
        &crls.full_path,
        get(move |h: HeaderMap| async move { full.answer(CrlKind::Full, &h).await }),
    );
    if let Some(path) = &crls.delta_path {
        let delta = crls.clone();
        router = router.route(
            path,
            get(move |h: HeaderMap| async move { delta.answer(CrlKind::Delta, &h).await }),
        );
    }
    router
}

/// The answer to a path no route serves.
pub(crate) async fn not_found() -> Response<Body> {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

/// A plain-text answer.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `at` (Unix seconds) as an HTTP-date (RFC 9110 §5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(at: i64) -> Option<String> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()?
        .format(&format)
        .ok()
}
