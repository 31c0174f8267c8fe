//! HTTPS client of the Keyward API, authenticated by the officer credential.

use std::sync::Arc;
use std::time::Duration;

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
use crate::failure::{self, Cause, RetryLine, REFUSED_DELAY, REFUSED_RETRIES};
use crate::officer::{ClientAuth, OfficerCredential};

/// The Content-Type of every request body.
const JSON: &str = "application/json";

/// A connection to one Keyward server as one officer.
pub struct RaClient {
    http: reqwest::Client,
    base: String,
    officer: Arc<OfficerCredential>,
    retries: u32,
    chain: crate::token::ChainCache,
    /// client.conf's `server.ca`, named when the server's certificate is not from it.
    server_ca: std::path::PathBuf,
}

/// The wait before retry number `n` (0-based): 0.5 s, 1 s, 2 s, 4 s, then 8 s each.
pub fn retry_delay(n: u32) -> Duration {
    Duration::from_millis(500u64 << n.min(4))
}

/// Why one attempt failed.
enum Failure {
    /// No answer: the connection failed or broke, or timed out. `sent` is false when the
    /// request certainly did not reach the server (no connection could be made); `refused`
    /// when nobody accepted the connection (retried briefly only).
    Transport {
        error: RaError,
        sent: bool,
        refused: bool,
    },
    /// An answer: a refusal, or one that makes no sense. Never retried.
    Answer(RaError),
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
    /// The whole subject, case-insensitive (certificate searches only).
    pub subject_exact: Option<String>,
    /// Status now: `valid`, `revoked`, `on-hold` or `expired` (the server checks the name).
    pub status: Option<String>,
    /// Ask for each certificate's DER too (certificate searches only).
    pub der: bool,
}

/// The most results one search returns (the server's default row limit): a search that
/// returns this many may have left some out.
pub const SEARCH_CAP: usize = 100;

impl CertificateSearch {
    fn query(&self) -> Vec<(&'static str, String)> {
        [
            ("id", &self.id),
            ("serial", &self.serial),
            ("subject", &self.subject),
            ("subject_exact", &self.subject_exact),
            ("status", &self.status),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .chain(self.der.then(|| ("der", "true".to_string())))
        .collect()
    }
}

impl RaClient {
    /// The CA chain of an answer, parsed once per client: every token of a batch carries the
    /// same chain, and OpenSSL's DER decoders cost a tenth of a millisecond per certificate.
    pub fn ca_chain(&self, ders: &[Vec<u8>]) -> Result<Vec<openssl::x509::X509>, RaError> {
        self.chain.parse(ders)
    }

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
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| conf_err(format!("tls: {e}")))?
            .with_root_certificates(roots);
        let tls = match officer.client_auth()? {
            ClientAuth::Key(chain, key) => {
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| RaError::Officer {
                        credential: officer.describe().to_string(),
                        reason: format!("not usable for TLS: {e}"),
                    })?
            }
            // A smart card: rustls asks the resolver, whose key signs on the token.
            ClientAuth::Resolver(resolver) => builder.with_client_cert_resolver(resolver),
        };
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            // Below the server's default header timeout (10 s), which also closes idle
            // keep-alive connections: reusing one the server is closing would fail the request.
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| conf_err(format!("http client: {e}")))?;
        Ok(RaClient {
            http,
            base: config.server_url.clone(),
            officer,
            retries: config.retries,
            chain: Default::default(),
            server_ca: config.server_ca.clone(),
        })
    }

    /// Sets how often a request is sent again after a transport failure (client.conf's
    /// `client.retries`).
    pub fn set_retries(&mut self, retries: u32) {
        self.retries = retries;
    }

    pub(crate) fn transport(&self, e: impl std::fmt::Display) -> RaError {
        RaError::Transport {
            url: self.base.clone(),
            reason: e.to_string(),
        }
    }

    fn parse<T: DeserializeOwned>(&self, status: StatusCode, bytes: &[u8]) -> Result<T, RaError> {
        if status.is_success() {
            return serde_json::from_slice(bytes)
                .map_err(|e| self.transport(format!("unexpected answer: {e}")));
        }
        let error = serde_json::from_slice::<ApiError>(bytes).unwrap_or_else(|_| ApiError {
            code: "http".into(),
            field: None,
            message: format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(bytes)
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

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, RaError> {
        // A GET changes nothing: any transport failure is retried like an idempotent POST.
        let mut attempt = 0;
        let mut line = RetryLine::new();
        loop {
            let failed = match self
                .http
                .get(format!("{}{path}", self.base))
                .query(query)
                .send()
                .await
            {
                Ok(resp) => {
                    let status = resp.status();
                    match resp.bytes().await {
                        Ok(bytes) => return self.parse(status, &bytes),
                        Err(e) => self.failure(e).await,
                    }
                }
                Err(e) => self.failure(e).await,
            };
            let (error, refused) = match failed {
                Failure::Answer(error) => return Err(error),
                Failure::Transport { error, refused, .. } => (error, refused),
            };
            if attempt >= self.retry_limit(refused) {
                return Err(error);
            }
            let wait = self.retry_wait(attempt, refused);
            attempt += 1;
            line.show(&format!(
                "{error}; asking again in {:.1} s (retry {attempt} of {})",
                wait.as_secs_f64(),
                self.retry_limit(refused)
            ));
            tokio::time::sleep(wait).await;
        }
    }

    /// How many retries a failure gets: `client.retries`, but few when nobody listens.
    fn retry_limit(&self, refused: bool) -> u32 {
        if refused {
            self.retries.min(REFUSED_RETRIES)
        } else {
            self.retries
        }
    }

    /// The wait before retry `attempt` (0-based).
    fn retry_wait(&self, attempt: u32, refused: bool) -> Duration {
        if refused {
            REFUSED_DELAY
        } else {
            retry_delay(attempt)
        }
    }

    /// What a failed request means: an untrusted server and other TLS failures are answers
    /// (never retried), a refused connection is retried briefly, other transient failures as
    /// configured.
    async fn failure(&self, e: reqwest::Error) -> Failure {
        match failure::cause(&e) {
            Cause::Untrusted(reason) => Failure::Answer(RaError::Untrusted {
                url: self.base.clone(),
                reason: failure::untrusted_message(&self.base, &self.server_ca, &reason).await,
            }),
            Cause::Refused => Failure::Transport {
                error: self.transport(failure::refused_message(&self.base)),
                sent: false,
                refused: true,
            },
            Cause::Other if is_transient(&e) => Failure::Transport {
                sent: !e.is_connect(),
                error: self.transport(describe(&e)),
                refused: false,
            },
            Cause::Tls(_) | Cause::Other => Failure::Answer(self.transport(describe(&e))),
        }
    }

    /// Settings the server gives RA clients (the `client.ra-key-generation` list).
    pub async fn config(&self) -> Result<RaConfig, RaError> {
        self.get("/v1/config", &[]).await
    }

    /// `GET path` with the query parameters as given, the answer as JSON: for tools and tests
    /// that reach an endpoint this client has no method for.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, RaError> {
        self.get(path, query).await
    }

    /// The server's OpenAPI description of its API (`GET /v1/openapi.json`).
    pub async fn openapi(&self) -> Result<serde_json::Value, RaError> {
        self.get("/v1/openapi.json", &[]).await
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

    /// The attribute certificates held by the certificate with this Certificate ID.
    pub async fn attribute_certificates(
        &self,
        holder: &str,
    ) -> Result<Vec<keyward_proto::IssuedAttributeCertificate>, RaError> {
        self.get(
            "/v1/attribute-certificates",
            &[("holder", holder.to_string())],
        )
        .await
    }

    /// Sends a signed issue request.
    pub async fn issue(&self, request: &IssueRequest) -> Result<IssueResponse, RaError> {
        let body = serde_json::to_vec(request).map_err(|e| self.transport(e))?;
        self.post_signed("/v1/tokens", body).await
    }

    /// POSTs `body` with the officer's signature over [`signed_message`], signed once.
    ///
    /// A transport failure (connection refused or reset, the connection closed before the
    /// answer, a timeout — never an HTTP answer, refusals included) is retried up to
    /// `client.retries` times with [`retry_delay`] in between, with the *same signed bytes*:
    /// for an idempotent endpoint ([`keyward_proto::is_idempotent`], token issuance) after any
    /// transport failure, since the server answers a resend with the first attempt's result
    /// and never issues twice; for any other only when the connection could not be made (the
    /// request never left), since the server refuses a resend of those as a replay.
    pub async fn post_signed<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, RaError> {
        let signature = self.officer.sign(&signed_message(path, &body))?;
        let idempotent = keyward_proto::is_idempotent(path);
        let mut attempt = 0;
        let mut line = RetryLine::new();
        loop {
            match self.post_once(path, body.clone(), &signature).await {
                Ok(answer) => return Ok(answer),
                Err(Failure::Transport {
                    error,
                    sent,
                    refused,
                }) if attempt < self.retry_limit(refused) && (idempotent || !sent) => {
                    let wait = self.retry_wait(attempt, refused);
                    attempt += 1;
                    line.show(&format!(
                        "{error}; sending the same request again in {:.1} s (retry {attempt} of {})",
                        wait.as_secs_f64(),
                        self.retry_limit(refused)
                    ));
                    tokio::time::sleep(wait).await;
                }
                Err(Failure::Transport { error, .. } | Failure::Answer(error)) => {
                    return Err(error)
                }
            }
        }
    }

    /// POSTs `body` with a given signature, once. Only useful to prove that the server refuses
    /// a signature that does not match the body, or a replay (tests); use
    /// [`RaClient::post_signed`].
    pub async fn post_with_signature<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
        signature: &[u8],
    ) -> Result<T, RaError> {
        self.post_with_content_type(path, Some(JSON), body, signature)
            .await
    }

    /// [`RaClient::post_with_signature`] with another Content-Type, or none. Only useful to
    /// prove that the server reads nothing but `application/json` (tests).
    pub async fn post_with_content_type<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        signature: &[u8],
    ) -> Result<T, RaError> {
        self.post_as(path, content_type, body, signature)
            .await
            .map_err(|f| match f {
                Failure::Transport { error, .. } | Failure::Answer(error) => error,
            })
    }

    async fn post_once<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
        signature: &[u8],
    ) -> Result<T, Failure> {
        self.post_as(path, Some(JSON), body, signature).await
    }

    async fn post_as<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        signature: &[u8],
    ) -> Result<T, Failure> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(SIGNATURE_HEADER, STANDARD.encode(signature));
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        let resp = match request.body(body).send().await {
            Ok(resp) => resp,
            Err(e) => return Err(self.failure(e).await),
        };
        if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Err(Failure::Answer(RaError::input(
                "request",
                "too large for the server",
            )));
        }
        // The status line arrived; the body may still be cut off by a dying server.
        let status = resp.status();
        let bytes = match resp.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => {
                return Err(Failure::Transport {
                    sent: true,
                    error: self.transport(describe(&e)),
                    refused: false,
                })
            }
        };
        self.parse(status, &bytes).map_err(Failure::Answer)
    }
}

/// Whether a failed request may succeed when sent again: the server could not be reached, the
/// connection broke or was closed before the answer, or it timed out. A TLS failure (wrong
/// server certificate, officer certificate refused) is not: it would fail the same way.
fn is_transient(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()
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
