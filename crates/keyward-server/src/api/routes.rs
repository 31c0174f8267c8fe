//! The API's routes, in one table: the router is built from it, and a test checks that the
//! OpenAPI description has exactly its paths and methods.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use keyward_proto::{
    APPROVAL_VOTE_PATH, MAX_BODY_BYTES, PIN_LETTERS_PATH, PIN_LETTERS_VOID_PATH, REVOKE_PATH,
    TOKENS_PATH, UNDELIVERED_PATH, UNHOLD_PATH,
};

use super::{approvals, body_limit, openapi, pins, reports, revoke, ApiFailure};
use crate::service::Services;

/// The methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verb {
    /// A read, authenticated by the TLS client certificate.
    Get,
    /// A change, also signed by the officer.
    Post,
}

impl Verb {
    /// The name OpenAPI gives the method.
    #[cfg(test)]
    fn name(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
        }
    }
}

/// One route: its method, its path and its handler.
pub(super) struct Route {
    /// Read by the test that compares the table with the description only.
    #[cfg(test)]
    verb: Verb,
    path: &'static str,
    handler: MethodRouter<Arc<Services>>,
}

fn route<H: Handler<T, Arc<Services>>, T: 'static>(
    verb: Verb,
    path: &'static str,
    handler: H,
) -> Route {
    let handler = match verb {
        Verb::Get => get(handler),
        Verb::Post => post(handler),
    };
    Route {
        #[cfg(test)]
        verb,
        path,
        handler,
    }
}

/// Every route of the API.
pub(super) fn table() -> Vec<Route> {
    use Verb::{Get, Post};
    vec![
        route(Get, "/v1/config", super::config),
        route(Get, "/v1/whoami", super::whoami),
        route(Get, "/v1/procedures", super::procedures),
        route(Get, "/v1/certificates", super::search::certificates),
        route(Get, "/v1/archived-keys", super::search::archived_keys),
        route(
            Get,
            "/v1/attribute-certificates",
            super::search::attribute_certificates,
        ),
        route(Post, TOKENS_PATH, super::issue),
        route(Post, UNDELIVERED_PATH, reports::undelivered),
        route(Post, REVOKE_PATH, revoke::revoke),
        route(Post, UNHOLD_PATH, revoke::unhold),
        route(Get, PIN_LETTERS_PATH, pins::list_letters),
        route(Post, PIN_LETTERS_PATH, pins::create_letters),
        route(Post, PIN_LETTERS_VOID_PATH, pins::void_letter),
        route(Get, "/v1/approvals", approvals::list),
        route(Post, APPROVAL_VOTE_PATH, approvals::vote),
        route(Get, "/v1/pin-mail", pins::list_mail),
        route(Post, "/v1/pin-mail/deliver", pins::deliver),
        route(Post, "/v1/pin-mail/printed", pins::printed),
        route(Post, "/v1/pin-mail/requeue", pins::requeue),
        route(Get, openapi::OPENAPI_PATH, openapi::openapi_json),
    ]
}

/// The API's routes; with metrics, every answer is counted by route and status.
pub fn router(services: Arc<Services>) -> Router {
    let router = table()
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
        ));
    // Outside the body limit, so that its 413 and 408 answers are counted too.
    let router = match &services.metrics {
        Some(metrics) => router.layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            crate::metrics::requests::count,
        )),
        None => router,
    };
    router.with_state(services)
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
            .map(|r| (r.path.to_string(), r.verb.name().to_string()))
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
