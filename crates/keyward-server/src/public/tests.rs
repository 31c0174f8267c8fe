//! The public listener on a real socket: CRLs served from the store with their caching
//! headers (and 304 on a matching ETag), HEAD without a body, unknown paths 404, and hostile
//! clients bounded: an oversized head refused, an oversized body refused, slow headers closed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use keyward_store::{CrlKind, NewCrl, Store};
use keyward_testkit::TestDatabase;

use super::*;

keyward_testkit::on_both_engines!(async keyward_testkit::fresh_database =>
    crls_are_served_with_caching_headers
);

const CA: &str = "CN=Public Test CA";

/// Serves `router` on a loopback port within `limits`.
async fn start(router: Router, limits: PublicLimits) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, router, limits, std::future::pending()));
    at
}

/// Sends `raw` and reads the answer until the server closes (or 10 s pass).
async fn exchange(at: SocketAddr, raw: Vec<u8>) -> Vec<u8> {
    tokio::task::spawn_blocking(move || {
        let mut tcp = TcpStream::connect(at).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // The server may close before reading all of an oversized request.
        let _ = tcp.write_all(&raw);
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer);
        answer
    })
    .await
    .unwrap()
}

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n").into_bytes()
}

fn split(answer: &[u8]) -> (String, Vec<u8>) {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..end]).to_lowercase();
    (head, answer.get(end + 4..).unwrap_or_default().to_vec())
}

fn routes(store: &Store) -> Router {
    router(CrlRoutes::new(
        store.clone(),
        CA.into(),
        "/crl/issuing.crl".into(),
        Some("/crl/issuing-delta.crl".into()),
    ))
}

async fn crls_are_served_with_caching_headers(db: TestDatabase) {
    let store = Store::open(&db.url).await.unwrap();
    let at = start(routes(&store), PublicLimits::default()).await;
    let (head, _) = split(&exchange(at, get("/crl/issuing.crl", "")).await);
    assert!(
        head.starts_with("http/1.1 404"),
        "nothing published yet: {head}"
    );

    let now = crate::service::unix_now();
    let record = |number: i64, base: Option<i64>, der: &'static [u8]| NewCrl {
        ca: CA,
        number,
        base_number: base,
        this_update: now,
        next_update: now + 3600,
        changes_upto: 0,
        entries: 0,
        der,
    };
    store
        .record_crl(&record(1, None, b"full one"))
        .await
        .unwrap();
    store
        .record_crl(&record(2, Some(1), b"delta two"))
        .await
        .unwrap();
    let (head, body) = split(&exchange(at, get("/crl/issuing.crl", "")).await);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: application/pkix-crl"),
        "{head}"
    );
    assert!(head.contains("etag: \"full-1\""), "{head}");
    assert!(head.contains("cache-control: public, max-age="), "{head}");
    assert!(head.contains("last-modified: "), "{head}");
    assert_eq!(body, b"full one");
    let (_, body) = split(&exchange(at, get("/crl/issuing-delta.crl", "")).await);
    assert_eq!(body, b"delta two");

    // A newer CRL replaces the cached one; a client holding it gets 304.
    store
        .record_crl(&record(3, None, b"full three"))
        .await
        .unwrap();
    let (head, body) = split(&exchange(at, get("/crl/issuing.crl", "")).await);
    assert!(head.contains("etag: \"full-3\""), "{head}");
    assert_eq!(body, b"full three");
    let (head, body) =
        split(&exchange(at, get("/crl/issuing.crl", "If-None-Match: \"full-3\"\r\n")).await);
    assert!(head.starts_with("http/1.1 304"), "{head}");
    assert!(body.is_empty());
    let head_request = b"HEAD /crl/issuing.crl HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let (head, body) = split(&exchange(at, head_request.to_vec()).await);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(body.is_empty(), "HEAD has no body");
    assert_eq!(
        store
            .latest_crl_facts(CA, CrlKind::Full)
            .await
            .unwrap()
            .map(|f| f.number),
        Some(3)
    );
    store.close().await;
}

#[tokio::test]
async fn hostile_clients_are_bounded() {
    let limits = PublicLimits {
        header_timeout: Duration::from_millis(500),
        connection_timeout: Duration::from_secs(5),
        max_body_bytes: 1024,
        ..PublicLimits::default()
    };
    let echo = Router::new().route(
        "/ocsp",
        axum::routing::post(|body: Bytes| async move { body.len().to_string() }),
    );
    let at = start(echo, limits).await;
    // Unknown paths: a plain-text 404.
    let (head, body) = split(&exchange(at, get("/nothing/here", "")).await);
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(head.contains("content-type: text/plain"), "{head}");
    assert_eq!(body, b"not found\n");
    // A head over 8 KiB: refused (431) or closed, never served.
    let big = get("/ocsp", &format!("X-Filler: {}\r\n", "a".repeat(20_000)));
    let (head, _) = split(&exchange(at, big).await);
    assert!(
        head.is_empty() || head.starts_with("http/1.1 431") || head.starts_with("http/1.1 400"),
        "{head}"
    );
    // Bodies: within the limit served; declared over it 413 unread; streamed over it 413.
    let post = |len: usize, declared: &str| {
        let mut raw =
            format!("POST /ocsp HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{declared}\r\n")
                .into_bytes();
        raw.extend(std::iter::repeat_n(b'x', len));
        raw
    };
    let (head, body) = split(&exchange(at, post(1000, "Content-Length: 1000\r\n")).await);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, b"1000");
    let (head, _) = split(&exchange(at, post(0, "Content-Length: 1000000\r\n")).await);
    assert!(head.starts_with("http/1.1 413"), "{head}");
    let chunked = {
        let mut raw =
            b"POST /ocsp HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec();
        for _ in 0..4 {
            raw.extend_from_slice(b"200\r\n");
            raw.extend(std::iter::repeat_n(b'y', 0x200));
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"0\r\n\r\n");
        raw
    };
    let (head, _) = split(&exchange(at, chunked).await);
    assert!(head.starts_with("http/1.1 413"), "{head}");
    // Headers that never finish: the connection is closed (read_to_end returns) well before
    // the test's own 10 s read timeout, with nothing served.
    let slow = b"GET /crl/issuing.crl HTTP/1.1\r\nHost: t\r\nX-Slow: ".to_vec();
    let (head, _) = split(&exchange(at, slow).await);
    assert!(!head.contains("200"), "{head}");
}
