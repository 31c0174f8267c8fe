//! The one load generator for every responder: `connections` tasks on this process's runtime,
//! each sending RFC 5019 POST requests (one CertID, SHA-1, no nonce) over its own TCP
//! connection with a minimal HTTP/1.1 client, for a fixed time. With [`Connections::KeepAlive`]
//! a connection is reused as long as the server keeps it open; with [`Connections::PerRequest`]
//! every request opens a new one (`Connection: close`). A request's latency runs from before
//! its connect (when it needs one) to the last byte of the response.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use der::{Decode as _, Encode as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use keyward_ocsp::asn1::{
    BasicOcspResponse, CertStatus, OcspRequest, OcspResponse, Request, TbsRequest,
};
use keyward_ocsp::{HashAlg, IssuerSet, ResponseStatus};

/// What a query's answer must say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    Good,
    Revoked,
    Unknown,
}

/// One request body and the status its answer must carry.
pub(crate) struct Query {
    pub body: Vec<u8>,
    pub expect: Expect,
}

/// An OCSP request for serial `serial_hex` (the store's form) of the issuer at index 0.
pub(crate) fn request(issuers: &IssuerSet, serial_hex: &str) -> Vec<u8> {
    let serial = keyward_server::ocsp::serial_from_hex(serial_hex).expect("serial");
    let req_cert = issuers
        .cert_id(0, HashAlg::Sha1, serial.as_bytes())
        .expect("CertID");
    OcspRequest {
        tbs_request: TbsRequest {
            version: 0,
            requestor_name: None,
            request_list: vec![Request {
                req_cert,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .expect("request DER")
}

/// A small deterministic generator (SplitMix64): the same picks for every contender.
pub(crate) struct Picks(u64);

impl Picks {
    pub(crate) fn new(seed: u64) -> Picks {
        Picks(seed)
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// How the client uses connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Connections {
    /// Reused while the server keeps it open.
    KeepAlive,
    /// A new connection for every request.
    PerRequest,
}

impl Connections {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Connections::KeepAlive => "keep-alive",
            Connections::PerRequest => "new connection per request",
        }
    }
}

/// One timed run.
pub(crate) struct Run {
    /// Answered requests (HTTP 200, OCSP `successful`).
    pub answered: usize,
    /// Failed requests (connection errors, other statuses).
    pub errors: usize,
    /// TCP connections opened.
    pub connects: usize,
    /// Wall time.
    pub wall: Duration,
    /// Latencies of the answered requests, sorted.
    pub latencies: Vec<Duration>,
}

impl Run {
    pub(crate) fn rate(&self) -> f64 {
        self.answered as f64 / self.wall.as_secs_f64()
    }
}

/// What one exchange got.
struct Exchange {
    /// HTTP 200 with an OCSP response whose status is `successful`.
    ok: bool,
    /// Whether the server keeps the connection open.
    keep: bool,
    /// The response body.
    body: Vec<u8>,
}

/// Sends `body` on `stream` and reads the whole response (`close`: asks the server to close).
async fn exchange(
    stream: &mut TcpStream,
    host: &str,
    body: &[u8],
    close: bool,
    buf: &mut Vec<u8>,
) -> std::io::Result<Exchange> {
    let mut req = format!(
        "POST /ocsp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/ocsp-request\r\n\
         Content-Length: {}\r\n{}\r\n",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes();
    req.extend_from_slice(body);
    stream.write_all(&req).await?;
    buf.clear();
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 || read_more(stream, buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    let http11 = status.starts_with("http/1.1");
    let code_ok = status.split_whitespace().nth(1) == Some("200");
    let mut length = None;
    let mut connection = String::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            match name.trim() {
                "content-length" => length = value.trim().parse::<usize>().ok(),
                "connection" => connection = value.trim().to_string(),
                _ => {}
            }
        }
    }
    let keep = length.is_some()
        && if http11 {
            connection != "close"
        } else {
            connection == "keep-alive"
        };
    match length {
        Some(n) => {
            while buf.len() < head_end + n {
                if read_more(stream, buf).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
        None => while read_more(stream, buf).await? > 0 {},
    }
    let body = buf[head_end..length.map_or(buf.len(), |n| head_end + n)].to_vec();
    Ok(Exchange {
        ok: code_ok && successful(&body),
        keep,
        body,
    })
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether an OCSPResponse's responseStatus is `successful`, from its first bytes (SEQUENCE,
/// its length, ENUMERATED 0): cheap enough for every response of a timed run.
fn successful(der: &[u8]) -> bool {
    let Some((&0x30, rest)) = der.split_first() else {
        return false;
    };
    let Some((&len0, rest)) = rest.split_first() else {
        return false;
    };
    let skip = if len0 & 0x80 != 0 {
        usize::from(len0 & 0x7f)
    } else {
        0
    };
    rest.get(skip..skip + 3) == Some(&[0x0a, 0x01, 0x00][..])
}

/// The status in a whole response, decoded.
fn status_of(der: &[u8]) -> Result<Expect, String> {
    let response = OcspResponse::from_der(der).map_err(|e| e.to_string())?;
    if response.response_status != ResponseStatus::Successful {
        return Err(format!("status {:?}", response.response_status));
    }
    let bytes = response.response_bytes.ok_or("no responseBytes")?;
    let basic =
        BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(|e| e.to_string())?;
    let single = basic
        .tbs_response_data
        .responses
        .first()
        .ok_or("no SingleResponse")?;
    Ok(match single.cert_status {
        CertStatus::Good(_) => Expect::Good,
        CertStatus::Revoked(_) => Expect::Revoked,
        CertStatus::Unknown(_) => Expect::Unknown,
    })
}

/// Sends the first `n` of `queries` one at a time and checks every answer's status (decoded in
/// full) against what the data says; panics naming the first mismatch. Returns the answers'
/// sizes (smallest, largest).
pub(crate) async fn verify(addr: SocketAddr, queries: &[Query], n: usize) -> (usize, usize) {
    let host = addr.to_string();
    let mut buf = Vec::new();
    let mut conn: Option<TcpStream> = None;
    let (mut small, mut large) = (usize::MAX, 0);
    for (i, q) in queries.iter().take(n).enumerate() {
        let stream = match &mut conn {
            Some(s) => s,
            None => conn.insert(TcpStream::connect(addr).await.expect("connect")),
        };
        let answer = exchange(stream, &host, &q.body, false, &mut buf)
            .await
            .expect("exchange");
        let got = status_of(&answer.body).unwrap_or_else(|e| panic!("answer {i}: {e}"));
        assert_eq!(got, q.expect, "answer {i} at {addr}");
        small = small.min(answer.body.len());
        large = large.max(answer.body.len());
        if !answer.keep {
            conn = None;
        }
    }
    (small, large)
}

/// Sends `queries` (in order, round robin) to `addr` from `connections` tasks for `duration`
/// and returns what was answered.
pub(crate) async fn run(
    addr: SocketAddr,
    mode: Connections,
    connections: usize,
    duration: Duration,
    queries: Arc<Vec<Query>>,
) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let totals = Arc::new(Mutex::new((0usize, 0usize)));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, latencies, totals, queries) = (
            next.clone(),
            latencies.clone(),
            totals.clone(),
            queries.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let host = addr.to_string();
            let close = mode == Connections::PerRequest;
            let mut buf = Vec::with_capacity(4096);
            let mut conn: Option<TcpStream> = None;
            let (mut mine, mut errors, mut connects) = (Vec::new(), 0usize, 0usize);
            while Instant::now() < deadline {
                let q = &queries[next.fetch_add(1, Ordering::Relaxed) % queries.len()];
                let t = Instant::now();
                if conn.is_none() {
                    match TcpStream::connect(addr).await {
                        Ok(s) => {
                            let _ = s.set_nodelay(true);
                            conn = Some(s);
                            connects += 1;
                        }
                        Err(_) => {
                            errors += 1;
                            continue;
                        }
                    }
                }
                let Some(stream) = conn.as_mut() else {
                    continue;
                };
                match exchange(stream, &host, &q.body, close, &mut buf).await {
                    Ok(answer) => {
                        if answer.ok {
                            mine.push(t.elapsed());
                        } else {
                            errors += 1;
                        }
                        if close || !answer.keep {
                            conn = None;
                        }
                    }
                    Err(_) => {
                        errors += 1;
                        conn = None;
                    }
                }
            }
            latencies.lock().expect("latencies").extend(mine);
            let mut t = totals.lock().expect("totals");
            t.0 += errors;
            t.1 += connects;
        }));
    }
    for t in tasks {
        t.await.expect("load task");
    }
    let wall = start.elapsed();
    let mut latencies = std::mem::take(&mut *latencies.lock().expect("latencies"));
    latencies.sort();
    let (errors, connects) = *totals.lock().expect("totals");
    Run {
        answered: latencies.len(),
        errors,
        connects,
        wall,
        latencies,
    }
}
