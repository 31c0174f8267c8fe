//! TLS for the API: rustls, client certificates required and verified against the root CA.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use crate::error::ServerError;

/// The crypto provider Keyward uses everywhere (ring), installed once per process.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_err(path: &Path, reason: impl ToString) -> ServerError {
    ServerError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Reads every certificate of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let pem = std::fs::read(path).map_err(|e| file_err(path, e))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, ServerError> {
    let pem = std::fs::read(path).map_err(|e| file_err(path, e))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|_| file_err(path, "unreadable private key"))?
        .ok_or_else(|| file_err(path, "no PEM private key in it"))
}

/// Builds the server's TLS configuration: its certificate chain and key, and a verifier that
/// requires a client certificate chaining to `root`.
pub fn server_config(
    cert_chain: &Path,
    key: &Path,
    root: &Path,
) -> Result<rustls::ServerConfig, ServerError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    for cert in load_certs(root)? {
        roots.add(cert).map_err(|e| file_err(root, e))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(cert_chain)?, load_key(key)?)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
