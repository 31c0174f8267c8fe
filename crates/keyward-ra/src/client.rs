//! HTTPS client of the Keyward API, authenticated by the officer credential.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use keyward_proto::{
    signed_message, ApiError, ArchivedKeyInfo, CertificateInfo, IssueRequest, IssueResponse,
    ProcedureList, RaConfig, WhoAmI, SIGNATURE_HEADER,
};

use crate::config::ClientConfig;
use crate::error::RaError;
use crate::officer::OfficerCredential;

/// A connection to one Keyward server as one officer.
pub struct RaClient {
    http: reqwest::Client,
    base: String,
    officer: Arc<OfficerCredential>,
}

/// Certificate search criteria.
#[derive(Debug, Default, Clone)]
pub struct CertificateSearch {
    /// Certificate ID.
    pub id: Option<String>,
    /// Serial, hex.
    pub serial: Option<String>,
    /// Subject substring.
    pub subject: Option<String>,
}

impl CertificateSearch {
    fn query(&self) -> Vec<(&'static str, String)> {
        [
            ("id", &self.id),
            ("serial", &self.serial),
            ("subject", &self.subject),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }
}

impl RaClient {
    /// Builds the TLS client: trusts only `server.ca`, authenticates with the officer key.
    pub fn new(
        config: &ClientConfig,
        officer: Arc<OfficerCredential>,
    ) -> Result<RaClient, RaError> {
        let conf_err = |reason: String| RaError::Config {
            path: config.path.clone(),
            reason,
        };
        let pem = std::fs::read(&config.server_ca)
            .map_err(|e| conf_err(format!("server.ca {}: {e}", config.server_ca.display())))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| conf_err(format!("server.ca: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| conf_err(format!("server.ca: {e}")))?;
        }
        if roots.is_empty() {
            return Err(conf_err("server.ca holds no certificate".into()));
        }
        let (chain, key) = officer.tls_identity()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| conf_err(format!("tls: {e}")))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| RaError::Officer {
                path: config.officer_p12.clone(),
                reason: format!("not usable for TLS: {e}"),
            })?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| conf_err(format!("http client: {e}")))?;
        Ok(RaClient {
            http,
            base: config.server_url.clone(),
            officer,
        })
    }

    fn transport(&self, e: impl std::fmt::Display) -> RaError {
        RaError::Transport {
            url: self.base.clone(),
            reason: e.to_string(),
        }
    }

    async fn read<T: DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T, RaError> {
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| self.transport(format!("unexpected answer: {e}")));
        }
        let error = serde_json::from_slice::<ApiError>(&bytes).unwrap_or_else(|_| ApiError {
            code: "http".into(),
            field: None,
            message: format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        });
        Err(RaError::Refused {
            status: status.as_u16(),
            error,
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, RaError> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await
            .map_err(|e| self.transport(describe(&e)))?;
        self.read(resp).await
    }

    /// Settings the server gives RA clients (the `client.ra-key-generation` list).
    pub async fn config(&self) -> Result<RaConfig, RaError> {
        self.get("/v1/config", &[]).await
    }

    /// Who the server thinks we are.
    pub async fn whoami(&self) -> Result<WhoAmI, RaError> {
        self.get("/v1/whoami", &[]).await
    }

    /// Token procedures, optionally filtered.
    pub async fn procedures(&self, filter: Option<&str>) -> Result<ProcedureList, RaError> {
        let query: Vec<(&str, String)> = filter
            .map(|f| ("filter", f.to_string()))
            .into_iter()
            .collect();
        self.get("/v1/procedures", &query).await
    }

    /// Searches issued certificates.
    pub async fn certificates(
        &self,
        search: &CertificateSearch,
    ) -> Result<Vec<CertificateInfo>, RaError> {
        self.get("/v1/certificates", &search.query()).await
    }

    /// Searches archived keys by the certificate issued when each was created (needs the
    /// `recover-key` role).
    pub async fn archived_keys(
        &self,
        search: &CertificateSearch,
    ) -> Result<Vec<ArchivedKeyInfo>, RaError> {
        self.get("/v1/archived-keys", &search.query()).await
    }

    /// Sends a signed issue request.
    pub async fn issue(&self, request: &IssueRequest) -> Result<IssueResponse, RaError> {
        let body = serde_json::to_vec(request).map_err(|e| self.transport(e))?;
        self.post_signed("/v1/tokens", body).await
    }

    /// POSTs `body` with the officer's signature over [`signed_message`].
    pub async fn post_signed<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, RaError> {
        let signature = self.officer.sign(&signed_message(path, &body))?;
        self.post_with_signature(path, body, &signature).await
    }

    /// POSTs `body` with a given signature. Only useful to prove that the server refuses a
    /// signature that does not match the body (tests); use [`RaClient::post_signed`].
    pub async fn post_with_signature<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
        signature: &[u8],
    ) -> Result<T, RaError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header(SIGNATURE_HEADER, STANDARD.encode(signature))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport(describe(&e)))?;
        if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Err(RaError::input("request", "too large for the server"));
        }
        self.read(resp).await
    }
}

/// reqwest hides the useful part (TLS alert, refused connection) in its source chain.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
