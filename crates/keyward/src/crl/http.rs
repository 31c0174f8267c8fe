//! A small plain-HTTP/1.1 GET for `keyward crl fetch`: relying parties fetch CRLs without TLS,
//! and this one reads at most a bounded number of octets within a deadline (Content-Length,
//! chunked or close-delimited bodies).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most a fetched CRL may take (a CRL of a few million entries).
pub(crate) const MAX_BYTES: usize = 256 * 1024 * 1024;
/// The longest the whole fetch may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);
/// The largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// `http://HOST[:PORT]/PATH` split into what is connected to and what is asked for.
pub(crate) fn split_url(url: &str) -> Result<(String, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("URL {url:?} is not http:// (CRLs are fetched without TLS)"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let bad = |c: char| c.is_control() || c.is_whitespace();
    if authority.is_empty() || authority.contains('@') || url.chars().any(bad) {
        return Err(format!(
            "URL {url:?} has no host, or a user or spaces in it"
        ));
    }
    let connect = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((connect, authority.to_string(), path.to_string()))
}

/// GETs `url`: the body of a 200 answer, at most `max` octets, within [`TIMEOUT`].
pub(crate) async fn get(url: &str, max: usize) -> Result<Vec<u8>, String> {
    tokio::time::timeout(TIMEOUT, fetch_once(url, max))
        .await
        .map_err(|_| format!("{url}: no complete answer within {} s", TIMEOUT.as_secs()))?
}

async fn fetch_once(url: &str, max: usize) -> Result<Vec<u8>, String> {
    let (connect, host, path) = split_url(url)?;
    let mut tcp = TcpStream::connect(&connect)
        .await
        .map_err(|e| format!("{url}: connecting to {connect}: {e}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/pkix-crl\r\n\
         User-Agent: keyward-crl-fetch\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("{url}: sending the request: {e}"))?;
    let mut raw = Vec::new();
    let limit = max.saturating_add(MAX_HEAD);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = tcp
            .read(&mut chunk)
            .await
            .map_err(|e| format!("{url}: reading the answer: {e}"))?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
        if raw.len() > limit {
            return Err(format!("{url}: the answer is larger than {max} octets"));
        }
    }
    let head_end = find(&raw, b"\r\n\r\n")
        .filter(|i| *i <= MAX_HEAD)
        .ok_or_else(|| format!("{url}: not an HTTP answer (no complete head)"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let body = &raw[head_end + 4..];
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("{url}: answered {status:?}"));
    }
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(body).ok_or_else(|| format!("{url}: broken chunked body"))?
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("{url}: Content-Length {len:?} is not a number"))?;
        body.get(..len)
            .ok_or_else(|| format!("{url}: the body ended before its {len} octets"))?
            .to_vec()
    } else {
        body.to_vec()
    };
    if body.len() > max {
        return Err(format!("{url}: the answer is larger than {max} octets"));
    }
    Ok(body)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The body of a chunked transfer encoding; `None` when it is broken.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_and_checked() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/crl/issuing.crl").unwrap(),
            (
                "127.0.0.1:8080".into(),
                "127.0.0.1:8080".into(),
                "/crl/issuing.crl".into()
            )
        );
        assert_eq!(
            split_url("http://pki.example.com").unwrap().0,
            "pki.example.com:80"
        );
        for bad in [
            "https://h/c.crl",
            "http:///c.crl",
            "http://u@h/c",
            "http://h/a b",
        ] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert_eq!(dechunk(b"5\r\nabc"), None);
        assert_eq!(dechunk(b"zz\r\n"), None);
    }
}
