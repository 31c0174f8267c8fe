//! The token from the server's answer: every key matched to its certificate (RA-local keys by
//! procedure, server keys opened from their sealed form), then the PKCS#12 and certificate
//! files.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use keyward_crypto::files::{write_together, FileToWrite};
use keyward_crypto::transport::{self, TransportKeyPair};
use keyward_crypto::{P12Entry, Pin, Pkcs12Profile};
use keyward_proto::{IssueResponse, IssuedCertificate};

use crate::error::RaError;
use crate::files::{check_output, check_writable, is_pem};

/// One private key with its certificate.
pub struct TokenEntry {
    key: PKey<Private>,
    certificate: X509,
    certificate_procedure: String,
    certificate_id: String,
}

/// Every key of the token and the CA chain.
pub struct Token {
    entries: Vec<TokenEntry>,
    chain: Vec<X509>,
}

fn bad(reason: impl Into<String>) -> RaError {
    RaError::Transport {
        url: "server".into(),
        reason: reason.into(),
    }
}

fn key_for(
    issued: &IssuedCertificate,
    cert: &X509,
    request_id: &str,
    local: &[(String, PKey<Private>)],
    transport: Option<&TransportKeyPair>,
) -> Result<PKey<Private>, RaError> {
    let public = cert
        .public_key()
        .map_err(|_| bad("certificate without a public key"))?;
    let key = match &issued.sealed_key {
        Some(sealed) => {
            let transport =
                transport.ok_or_else(|| bad("a sealed key came back for a request without one"))?;
            let spki = public
                .public_key_to_der()
                .map_err(|_| bad("unreadable public key in a certificate"))?;
            let sealed = crate::pins::from_wire(sealed);
            let pkcs8 = transport.open(&sealed, &transport::context(request_id, &spki))?;
            PKey::private_key_from_pkcs8(&pkcs8)
                .map_err(|_| bad("the delivered key is not a PKCS#8 private key"))?
        }
        None => local
            .iter()
            .find(|(name, _)| *name == issued.certificate_procedure)
            .map(|(_, key)| key.clone())
            .ok_or_else(|| {
                bad(format!(
                    "no key for the certificate of {}",
                    issued.certificate_procedure
                ))
            })?,
    };
    if !public.public_eq(&key) {
        return Err(bad(format!(
            "the certificate of {} does not match its key",
            issued.certificate_procedure
        )));
    }
    Ok(key)
}

/// The last CA chain parsed, by its DER bytes.
#[derive(Default)]
pub struct ChainCache(Mutex<Option<ParsedChain>>);

/// A chain's DER bytes and its certificates.
type ParsedChain = (Vec<Vec<u8>>, Vec<X509>);

impl ChainCache {
    /// Parses `ders`, or returns the certificates parsed last time the same bytes came.
    pub fn parse(&self, ders: &[Vec<u8>]) -> Result<Vec<X509>, RaError> {
        let mut last = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((bytes, parsed)) = last.as_ref() {
            if bytes.as_slice() == ders {
                return Ok(parsed.clone());
            }
        }
        let parsed = ders
            .iter()
            .map(|der| {
                X509::from_der(der).map_err(|_| bad("unreadable CA certificate in the answer"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        *last = Some((ders.to_vec(), parsed.clone()));
        Ok(parsed)
    }
}

impl std::fmt::Debug for ChainCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainCache")
    }
}

/// Matches every certificate of the answer to its private key and checks each pair; `chain`
/// is the answer's CA chain, parsed (see [`ChainCache`]).
pub fn assemble(
    response: &IssueResponse,
    chain: Vec<X509>,
    request_id: &str,
    local: &[(String, PKey<Private>)],
    transport: Option<&TransportKeyPair>,
) -> Result<Token, RaError> {
    if response.request_id != request_id {
        return Err(bad("the answer is for another request"));
    }
    if response.certificates.is_empty() {
        return Err(bad("the answer holds no certificate"));
    }
    let mut entries = Vec::with_capacity(response.certificates.len());
    for issued in &response.certificates {
        let certificate = X509::from_der(&issued.certificate)
            .map_err(|_| bad("unreadable certificate in the answer"))?;
        let key = key_for(issued, &certificate, request_id, local, transport)?;
        entries.push(TokenEntry {
            key,
            certificate,
            certificate_procedure: issued.certificate_procedure.clone(),
            certificate_id: issued.certificate_id.clone(),
        });
    }
    Ok(Token { entries, chain })
}

/// Where the certificates go: one PEM file with all of them, or one DER file each (the first
/// at `cert_path`, the others beside it named with their Certificate ID).
fn certificate_paths(token: &Token, cert_path: &Path) -> Vec<PathBuf> {
    if is_pem(cert_path) {
        return vec![cert_path.to_path_buf()];
    }
    let stem = cert_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    token
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if i == 0 {
                cert_path.to_path_buf()
            } else {
                cert_path.with_file_name(format!("{stem}-{}.der", e.certificate_id))
            }
        })
        .collect()
}

/// Writes the PKCS#12 (mode 0600, atomically) and the certificate files; returns the latter.
/// With several keys, each friendlyName is `CN (certificate procedure #Certificate ID)`, so
/// that every entry has its own alias in Java and NSS.
pub fn write(
    token: &Token,
    friendly: &str,
    pin: &Pin,
    profile: &Pkcs12Profile,
    p12_path: &Path,
    cert_path: &Path,
    force: bool,
) -> Result<Vec<PathBuf>, RaError> {
    let cert_paths = certificate_paths(token, cert_path);
    for path in cert_paths.iter().skip(1) {
        check_output(path, "cert", force)?;
    }
    let names: Vec<String> = token
        .entries
        .iter()
        .map(|e| {
            if token.entries.len() == 1 {
                friendly.to_string()
            } else {
                format!(
                    "{friendly} ({} #{})",
                    e.certificate_procedure, e.certificate_id
                )
            }
        })
        .collect();
    let entries: Vec<P12Entry<'_>> = token
        .entries
        .iter()
        .zip(&names)
        .map(|(e, name)| P12Entry {
            key: &e.key,
            certificate: &e.certificate,
            friendly_name: name,
        })
        .collect();
    let p12 = keyward_crypto::build_p12_entries(&entries, &token.chain, pin.as_str(), profile)?;
    let encode_err = |_| bad("certificate could not be encoded");
    let certificates: Vec<Vec<u8>> = if is_pem(cert_path) {
        let mut pem = Vec::new();
        for e in &token.entries {
            pem.extend(e.certificate.to_pem().map_err(encode_err)?);
        }
        vec![pem]
    } else {
        token
            .entries
            .iter()
            .map(|e| e.certificate.to_der().map_err(encode_err))
            .collect::<Result<_, _>>()?
    };
    // The PKCS#12 and its certificate files share one directory fsync.
    let mut files = vec![FileToWrite {
        path: p12_path,
        bytes: &p12,
        secret: true,
    }];
    files.extend(
        cert_paths
            .iter()
            .zip(&certificates)
            .map(|(path, bytes)| FileToWrite {
                path,
                bytes,
                secret: false,
            }),
    );
    write_together(&files).map_err(|(path, error)| RaError::Io { path, error })?;
    Ok(cert_paths)
}

/// Saves an issued certificate again (`ra certificates --id N --out FILE`): PEM for a `.pem`
/// path, else DER, atomically. The path is checked first as `ra issue` checks its outputs (the
/// refusal names `field`): an existing file is kept unless `force`.
pub fn save_certificate(path: &Path, der: &[u8], field: &str, force: bool) -> Result<(), RaError> {
    check_output(path, field, force)?;
    check_writable(path, field)?;
    if is_pem(path) {
        let pem = X509::from_der(der)
            .and_then(|c| c.to_pem())
            .map_err(|_| bad("the server's certificate could not be read"))?;
        write_file(path, &pem)
    } else {
        write_file(path, der)
    }
}

/// Writes an attribute certificate apart from the token: PEM (RFC 7468 label `ATTRIBUTE
/// CERTIFICATE`) for a `.pem` path, else DER.
pub fn write_attribute_certificate(path: &Path, der: &[u8]) -> Result<(), RaError> {
    if is_pem(path) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN ATTRIBUTE CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END ATTRIBUTE CERTIFICATE-----\n");
        write_file(path, pem.as_bytes())
    } else {
        write_file(path, der)
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RaError> {
    keyward_crypto::files::write_public(path, bytes).map_err(|error| RaError::Io {
        path: path.to_path_buf(),
        error,
    })
}
