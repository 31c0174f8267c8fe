//! Counting the API's requests by route and status: a middleware on the router, labelled
//! with the route's path template (axum's [`MatchedPath`]), never the URI the client sent.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::Metrics;

/// Counts the answer to `request` under its matched route (`unmatched` for the fallback).
pub(crate) async fn count(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    // Read before the request moves on; the template is shared (an `Arc<str>`), not the URI.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    metrics.request(
        route.as_ref().map(MatchedPath::as_str),
        response.status().as_u16(),
    );
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    async fn call(app: &Router, uri: &str) -> u16 {
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        app.clone()
            .oneshot(request)
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A route with a parameter counts under its template; an unknown path (its text
    /// chosen by the client) only as `unmatched`.
    #[tokio::test]
    async fn routes_are_templates_and_unknown_paths_unmatched() {
        let metrics = Arc::new(Metrics::new());
        let app = Router::new()
            .route("/v1/things/{id}", get(|| async { "thing" }))
            .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "none") })
            .layer(axum::middleware::from_fn_with_state(metrics.clone(), count));
        assert_eq!(call(&app, "/v1/things/1").await, 200);
        assert_eq!(call(&app, "/v1/things/2").await, 200);
        assert_eq!(call(&app, "/secret-probe-1234").await, 404);
        let text = metrics.encode();
        assert!(
            text.contains(
                "keyward_http_requests_total{route=\"/v1/things/{id}\",status=\"200\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("keyward_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"),
            "{text}"
        );
        assert!(
            !text.contains("secret-probe") && !text.contains("/v1/things/1"),
            "{text}"
        );
    }
}
