//! The HTTPS API: TLS with client certificates, officer lookup, request signatures, JSON.
//! No policy here: decisions are the service's.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use keyward_proto::{ApiError, IssueRequest, WhoAmI, MAX_BODY_BYTES, MAX_CLOCK_SKEW_SECS};
use keyward_store::{ArchivedKeyQuery, AuditCategory, CertificateQuery};

use crate::service::{unix_now, Refusal, RefusalKind, Service};

mod auth;
pub use auth::PeerCertificate;

/// A refusal as the API returns it.
#[derive(Debug)]
pub struct ApiFailure {
    status: StatusCode,
    body: ApiError,
}

impl ApiFailure {
    fn new(
        status: StatusCode,
        code: &str,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiFailure {
            status,
            body: ApiError {
                code: code.into(),
                field,
                message: message.into(),
            },
        }
    }
}

impl From<Refusal> for ApiFailure {
    fn from(r: Refusal) -> Self {
        let (status, code) = match r.kind {
            RefusalKind::Invalid => (StatusCode::BAD_REQUEST, "invalid"),
            RefusalKind::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            RefusalKind::NotFound => (StatusCode::NOT_FOUND, "not-found"),
            RefusalKind::Unsupported => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
            RefusalKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            RefusalKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiFailure::new(status, code, r.field, r.message)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type Shared = State<Arc<Service>>;

/// The API's routes.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/v1/config", get(config))
        .route("/v1/whoami", get(whoami))
        .route("/v1/procedures", get(procedures))
        .route("/v1/certificates", get(certificates))
        .route("/v1/archived-keys", get(archived_keys))
        .route("/v1/tokens", post(issue))
        .fallback(|| async {
            ApiFailure::new(StatusCode::NOT_FOUND, "not-found", None, "no such endpoint")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
}

async fn config(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
) -> Result<Response, ApiFailure> {
    auth::officer(&s, &peer).await?;
    Ok(Json(s.ra_config()).into_response())
}

async fn whoami(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
) -> Result<Response, ApiFailure> {
    let officer = auth::officer(&s, &peer).await?;
    Ok(Json(WhoAmI {
        name: officer.name,
        roles: officer.roles.iter().map(|r| r.name().to_string()).collect(),
    })
    .into_response())
}

#[derive(Deserialize)]
struct ProcedureQuery {
    filter: Option<String>,
}

async fn procedures(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Query(q): Query<ProcedureQuery>,
) -> Result<Response, ApiFailure> {
    auth::officer(&s, &peer).await?;
    Ok(Json(s.procedures(q.filter.as_deref()).await?).into_response())
}

#[derive(Deserialize)]
struct CertQuery {
    id: Option<String>,
    serial: Option<String>,
    subject: Option<String>,
}

async fn certificates(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Query(q): Query<CertQuery>,
) -> Result<Response, ApiFailure> {
    auth::officer(&s, &peer).await?;
    let c = search_criteria(q)?;
    let query = CertificateQuery {
        id: c.id,
        serial_hex: c.serial,
        subject: c.subject,
        limit: None,
    };
    Ok(Json(s.certificates(&query).await?).into_response())
}

/// Checked search criteria shared by certificate and archived-key searches.
struct Criteria {
    id: Option<i64>,
    serial: Option<String>,
    subject: Option<String>,
}

/// Reads the shared search criteria: a decimal Certificate ID, a hex serial, a subject text.
fn search_criteria(q: CertQuery) -> Result<Criteria, ApiFailure> {
    let id = match q.id {
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiFailure::from(Refusal::invalid(
                "id",
                "a Certificate ID is a decimal number",
            ))
        })?),
        None => None,
    };
    if let Some(serial) = &q.serial {
        if serial.is_empty() || serial.len() > 64 || !serial.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(Refusal::invalid("serial", "a serial number is given in hex").into());
        }
    }
    if q.subject.as_ref().is_some_and(|s| s.chars().count() > 1024) {
        return Err(Refusal::invalid("subject", "longer than 1024 characters").into());
    }
    Ok(Criteria {
        id,
        serial: q.serial,
        subject: q.subject,
    })
}

async fn archived_keys(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    Query(q): Query<CertQuery>,
) -> Result<Response, ApiFailure> {
    let officer = auth::officer(&s, &peer).await?;
    let c = search_criteria(q)?;
    let query = ArchivedKeyQuery {
        certificate_id: c.id,
        serial_hex: c.serial,
        subject: c.subject,
        ..Default::default()
    };
    Ok(Json(s.archived_keys(&officer, &query).await?).into_response())
}

async fn issue(
    State(s): Shared,
    peer: Extension<PeerCertificate>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let officer = auth::officer(&s, &peer).await?;
    auth::verify_signature(&s, &officer, &peer, &headers, "/v1/tokens", &body).await?;
    let request: IssueRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let refusal = Refusal::invalid("body", format!("not a valid issue request: {e}"));
            s.audit_refusal(
                AuditCategory::CertificatesIssued,
                "issue-token",
                Some(&officer.name),
                &refusal,
                serde_json::json!({}),
            )
            .await;
            return Err(refusal.into());
        }
    };
    if (request.timestamp - unix_now()).abs() > MAX_CLOCK_SKEW_SECS {
        let refusal = Refusal::invalid(
            "timestamp",
            format!("request time is more than {MAX_CLOCK_SKEW_SECS} s from the server clock"),
        );
        s.audit_refusal(
            AuditCategory::CertificatesIssued,
            "issue-token",
            Some(&officer.name),
            &refusal,
            serde_json::json!({ "request_id": request.request_id }),
        )
        .await;
        return Err(refusal.into());
    }
    Ok(Json(s.issue(&officer, request).await?).into_response())
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let app = router(service);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::info!("TLS handshake with {remote} refused: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::info!("TLS handshake with {remote} timed out");
                        return;
                    }
                };
            let peer = PeerCertificate::from_connection(tls.get_ref().1);
            let service = TowerToHyperService::new(app.layer(Extension(peer)));
            if let Err(e) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!("connection with {remote} ended: {e}");
            }
        });
    }
}
