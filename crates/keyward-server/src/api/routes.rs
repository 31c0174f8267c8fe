//! The API's routes, in one table: the router is built from it, and a test checks that the
//! OpenAPI description has exactly its paths and methods.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use keyward_proto::{
    APPROVAL_VOTE_PATH, MAX_BODY_BYTES, PIN_LETTERS_PATH, TOKENS_PATH, UNDELIVERED_PATH,
};

use super::{approvals, body_limit, openapi, pins, reports, ApiFailure};
use crate::service::Services;

/// One route: its method, its path and its handler.
pub(super) struct Route {
    pub(super) method: Method,
    pub(super) path: &'static str,
    handler: MethodRouter<Arc<Services>>,
}

fn route(method: Method, path: &'static str, handler: MethodRouter<Arc<Services>>) -> Route {
    Route {
        method,
        path,
        handler,
    }
}

/// Every route of the API.
pub(super) fn table() -> Vec<Route> {
    use Method as M;
    vec![
        route(M::GET, "/v1/config", get(super::config)),
        route(M::GET, "/v1/whoami", get(super::whoami)),
        route(M::GET, "/v1/procedures", get(super::procedures)),
        route(M::GET, "/v1/certificates", get(super::certificates)),
        route(M::GET, "/v1/archived-keys", get(super::archived_keys)),
        route(
            M::GET,
            "/v1/attribute-certificates",
            get(super::attribute_certificates),
        ),
        route(M::POST, TOKENS_PATH, post(super::issue)),
        route(M::POST, UNDELIVERED_PATH, post(reports::undelivered)),
        route(M::GET, PIN_LETTERS_PATH, get(pins::list_letters)),
        route(M::POST, PIN_LETTERS_PATH, post(pins::create_letters)),
        route(M::GET, "/v1/approvals", get(approvals::list)),
        route(M::POST, APPROVAL_VOTE_PATH, post(approvals::vote)),
        route(M::GET, "/v1/pin-mail", get(pins::list_mail)),
        route(M::POST, "/v1/pin-mail/deliver", post(pins::deliver)),
        route(M::POST, "/v1/pin-mail/printed", post(pins::printed)),
        route(M::POST, "/v1/pin-mail/requeue", post(pins::requeue)),
        route(M::GET, openapi::OPENAPI_PATH, get(openapi::openapi_json)),
    ]
}

/// The API's routes.
pub fn router(services: Arc<Services>) -> Router {
    table()
        .into_iter()
        // Routes of one path with different methods merge into one method router.
        .fold(Router::new(), |router, r| router.route(r.path, r.handler))
        .fallback(|| async {
            ApiFailure::new(StatusCode::NOT_FOUND, "not-found", None, "no such endpoint")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Outermost: bodies are read whole, within the limit and the body timeout, before
        // any handler (413 and 408 as JSON on both protocols; 413 audited).
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            body_limit::read_whole,
        ))
        .with_state(services)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every route the router serves is described, with its method, and nothing else is.
    #[test]
    fn every_route_is_described() {
        let served: BTreeSet<(String, String)> = table()
            .iter()
            .map(|r| (r.path.to_string(), r.method.as_str().to_lowercase()))
            .collect();
        let mut described = BTreeSet::new();
        for (path, item) in &openapi::description().paths.paths {
            let methods = [
                ("get", item.get.is_some()),
                ("post", item.post.is_some()),
                ("put", item.put.is_some()),
                ("delete", item.delete.is_some()),
                ("patch", item.patch.is_some()),
                ("head", item.head.is_some()),
                ("options", item.options.is_some()),
                ("trace", item.trace.is_some()),
            ];
            for (method, present) in methods {
                if present {
                    described.insert((path.clone(), method.to_string()));
                }
            }
        }
        let undescribed: Vec<_> = served.difference(&described).collect();
        let unserved: Vec<_> = described.difference(&served).collect();
        assert!(
            undescribed.is_empty() && unserved.is_empty(),
            "routes without #[utoipa::path] (add the handler to ApiDoc's paths): {undescribed:?}; \
             described but not routed: {unserved:?}"
        );
        assert_eq!(served.len(), table().len(), "a route is in the table twice");
    }
}
