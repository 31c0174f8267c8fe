//! The plain-HTTP GET of `keyward crl fetch` (relying parties fetch CRLs without TLS), on
//! reqwest: at most a bounded number of octets, within a deadline.

use std::time::Duration;

/// The most a fetched CRL may take (a CRL of a few million entries).
pub(crate) const MAX_BYTES: usize = 256 * 1024 * 1024;

/// The longest the whole fetch may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);

/// `url` checked: `http://HOST[:PORT]/PATH`, no user, no TLS.
pub(crate) fn check_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("URL {url:?}: {e}"))?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "URL {url:?} is not http:// (CRLs are fetched without TLS)"
        ));
    }
    // The URL parser reads `http:///x` as host `x`: refuse an empty authority as written.
    let authority_written = url
        .get(7..)
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !authority_written
        || parsed.host_str().is_none_or(str::is_empty)
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || url.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "URL {url:?} has no host, or a user or spaces in it"
        ));
    }
    Ok(parsed)
}

/// GETs `url`: the body of a 200 answer, at most `max` octets, within [`TIMEOUT`].
pub(crate) async fn get(url: &str, max: usize) -> Result<Vec<u8>, String> {
    let parsed = check_url(url)?;
    // reqwest builds a TLS configuration even for http:// (a redirect could lead to https);
    // the workspace's reqwest has no built-in provider, so hand it rustls on ring with no
    // trusted roots: a CRL is never fetched over TLS here.
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("{url}: {e}"))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::limited(3))
        .timeout(TIMEOUT)
        .user_agent("keyward-crl-fetch")
        .build()
        .map_err(|e| format!("{url}: {e}"))?;
    let mut response = client
        .get(parsed)
        .header(reqwest::header::ACCEPT, "application/pkix-crl")
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!("{url}: answered {}", response.status()));
    }
    let too_large = || format!("{url}: the answer is larger than {max} octets");
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("{url}: reading the answer: {e}"))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let ok = check_url("http://127.0.0.1:8080/crl/issuing.crl").unwrap();
        assert_eq!(ok.path(), "/crl/issuing.crl");
        assert_eq!(ok.port_or_known_default(), Some(8080));
        assert_eq!(
            check_url("http://pki.example.com")
                .unwrap()
                .port_or_known_default(),
            Some(80)
        );
        for bad in [
            "https://h/c.crl",
            "http:///c.crl",
            "http://u@h/c",
            "http://h/a b",
            "ftp://h/c.crl",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
