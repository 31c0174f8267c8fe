//! What a failed connection to the server means to the officer: the server's certificate is
//! not from `server.ca` (another installation answering, or the wrong CA file: never retried,
//! and the certificate presented is named), nobody listens (a short retry, then "is `keyward
//! server` running?"), or a transient failure worth the configured retries. Retries are one
//! line on a terminal, rewritten in place, and nothing on a pipe.

use std::io::{IsTerminal, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openssl::hash::MessageDigest;
use openssl::x509::{X509NameRef, X509};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Retries after a refused connection, whatever `client.retries` says, [`REFUSED_DELAY`]
/// apart: 4 s in all, so that an officer whose server is down hears so within 5 seconds, and a
/// server restarting meanwhile is still reached.
pub(crate) const REFUSED_RETRIES: u32 = 8;
/// The wait before each retry of a refused connection.
pub(crate) const REFUSED_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// What a transport failure was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The server's certificate failed verification against `server.ca` (rustls' reason).
    Untrusted(String),
    /// Another TLS failure (e.g. the server refused the officer's certificate): not retried.
    Tls(String),
    /// Nobody accepted the connection.
    Refused,
    /// Anything else: a reset, a timeout, a connection closed before the answer.
    Other,
}

/// Classifies `e` by its source chain; each link is looked at as itself and, for an
/// `io::Error`, as what it wraps (which its `source()` skips).
pub(crate) fn cause(e: &reqwest::Error) -> Cause {
    let mut link: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = link {
        for inner in unwrapped(s) {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return match tls {
                    rustls::Error::InvalidCertificate(_) => Cause::Untrusted(tls.to_string()),
                    _ => Cause::Tls(tls.to_string()),
                };
            }
            if let Some(io) = inner.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return Cause::Refused;
                }
            }
        }
        link = s.source();
    }
    Cause::Other
}

/// `s`, and what it wraps without saying so in `source()`.
fn unwrapped<'a>(
    s: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut all = vec![s];
    // An io::Error may wrap another (tokio-rustls wraps rustls' own): a few levels at most.
    while let Some(inner) = all
        .last()
        .and_then(|e| e.downcast_ref::<std::io::Error>())
        .and_then(|io| io.get_ref())
    {
        if all.len() > 4 {
            break;
        }
        all.push(inner);
    }
    all
}

/// The message of an untrusted server: what it presented (when a second handshake can read
/// it) against what `server.ca` holds, and what to check.
pub(crate) async fn untrusted_message(base: &str, server_ca: &Path, reason: &str) -> String {
    let presented = match presented_certificate(base).await {
        Some(cert) => format!(
            "it presented a certificate for {} issued by {} (SHA-256 {})",
            name(cert.subject_name()),
            name(cert.issuer_name()),
            fingerprint(&cert)
        ),
        None => "its certificate could not be read".into(),
    };
    let expected = std::fs::read(server_ca)
        .ok()
        .and_then(|pem| X509::from_pem(&pem).ok())
        .map(|ca| {
            format!(
                "{} ({}, SHA-256 {})",
                server_ca.display(),
                name(ca.subject_name()),
                fingerprint(&ca)
            )
        })
        .unwrap_or_else(|| server_ca.display().to_string());
    format!(
        "the server's TLS certificate is not from the CA in server.ca: {presented}, which does \
         not chain to {expected} ({reason}). Another installation's server may be answering at \
         this address: check server.url and server.ca in client.conf"
    )
}

/// The message of a refused connection.
pub(crate) fn refused_message(base: &str) -> String {
    let at = reqwest::Url::parse(base)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| base.to_string());
    format!("connection refused: is `keyward server` running on {at}? (server.url in client.conf)")
}

fn name(n: &X509NameRef) -> String {
    let parts: Vec<String> = n
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect();
    parts.join(",")
}

fn fingerprint(cert: &X509) -> String {
    cert.digest(MessageDigest::sha256())
        .map(|d| {
            d.iter()
                .take(8)
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":")
                + ":…"
        })
        .unwrap_or_default()
}

/// Reads the certificate the server at `base` presents, with a verifier that records it and
/// fails the handshake: nothing is sent, and nothing is trusted.
async fn presented_certificate(base: &str) -> Option<X509> {
    let url = reqwest::Url::parse(base).ok()?;
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port_or_known_default()?;
    tokio::task::spawn_blocking(move || read_presented(&host, port))
        .await
        .ok()
        .flatten()
}

fn read_presented(host: &str, port: u16) -> Option<X509> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(Recorder {
        seen: Mutex::new(None),
        schemes: provider
            .signature_verification_algorithms
            .supported_schemes(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string()).ok()?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    tcp.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    // Fails by design once the certificate is recorded.
    let _ = conn.complete_io(&mut tcp);
    let der = recorder.seen.lock().ok()?.take()?;
    X509::from_der(&der).ok()
}

#[derive(Debug)]
struct Recorder {
    seen: Mutex<Option<Vec<u8>>>,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(end_entity.to_vec());
        }
        Err(rustls::Error::General(
            "certificate recorded, not trusted".into(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("not trusted".into()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("not trusted".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// The retry line: on a terminal, one line rewritten for each retry and cleared when done;
/// on a pipe nothing (the log has it at debug level).
pub(crate) struct RetryLine {
    terminal: bool,
    shown: bool,
}

impl RetryLine {
    pub(crate) fn new() -> RetryLine {
        RetryLine {
            terminal: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    /// Shows `text` in place of the previous retry's.
    pub(crate) fn show(&mut self, text: &str) {
        tracing::debug!("{text}");
        if self.terminal {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
            self.shown = true;
        }
    }
}

impl Drop for RetryLine {
    fn drop(&mut self) {
        if self.shown {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_names_host_and_port() {
        assert_eq!(
            refused_message("https://127.0.0.1:18444"),
            "connection refused: is `keyward server` running on 127.0.0.1:18444? (server.url in client.conf)"
        );
        assert!(refused_message("https://cm.example.org").contains("cm.example.org:443"));
    }
}
