//! Hostile connections (issue 15, defects 2 and 9): slow headers, idle connections, bodies that
//! never arrive or are too large, more connections than the cap, and end users' certificates at
//! the TLS layer. cm.conf sets small limits so that the tests stay fast.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode};
use openssl::x509::X509;

use common::tokens::{issue, p12_arg, p12_contents_with, PIN};
use common::{block_on, on_both_engines, Engine, Installation};
use keyward_store::{AuditCategory, Outcome};

/// Small limits: a request's headers in 2 s, its body in 2 s, 3 s idle, 4 connections.
const LIMITS: &str = "server.header-timeout = 2\n\
                      server.body-timeout = 2\n\
                      server.idle-timeout = 3\n\
                      server.max-connections = 4\n";

/// A TLS client identity: a certificate chain (leaf first) and its key.
struct Identity {
    chain: Vec<X509>,
    key: PKey<Private>,
}

impl Identity {
    /// The identity in a PKCS#12 sealed with `pin`, the leaf found by its key.
    fn from_p12(p12: &Path, pin: &str) -> Identity {
        let (mut keys, mut certs) = p12_contents_with(p12, pin);
        let key = keys.remove(0);
        let leaf = certs
            .iter()
            .position(|c| c.public_key().unwrap().public_eq(&key))
            .expect("a certificate for the key");
        let leaf = certs.remove(leaf);
        certs.insert(0, leaf);
        Identity { chain: certs, key }
    }

    /// The first officer's (`admin`) identity.
    fn admin(inst: &Installation) -> Identity {
        let pin = std::fs::read_to_string(inst.dir.join("officer/admin.pin")).unwrap();
        Identity::from_p12(&inst.dir.join("officer/admin.p12"), pin.trim())
    }

    /// Writes the chain and the key as PEM files (for curl).
    fn pem_files(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        let chain: Vec<u8> = self
            .chain
            .iter()
            .flat_map(|c| c.to_pem().unwrap())
            .collect();
        std::fs::write(&cert, chain).unwrap();
        std::fs::write(&key, self.key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        (cert, key)
    }
}

/// The installation's `host:port`.
fn address(inst: &Installation) -> String {
    inst.url.trim_start_matches("https://").to_string()
}

/// A TLS connection to the server as `who`, offering `alpn` (`h2` or `http/1.1`). With TLS
/// 1.3 a refused client certificate shows on the first read, not in `connect`.
fn connect(
    inst: &Installation,
    who: &Identity,
    alpn: &str,
) -> Result<SslStream<TcpStream>, String> {
    connect_to(inst, &address(inst), who, alpn)
}

/// [`connect`] to another server of the installation, at `addr`.
fn connect_to(
    inst: &Installation,
    addr: &str,
    who: &Identity,
    alpn: &str,
) -> Result<SslStream<TcpStream>, String> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(inst.dir.join("ca/root.pem")).unwrap();
    b.set_verify(SslVerifyMode::PEER);
    b.set_certificate(&who.chain[0]).unwrap();
    for ca in &who.chain[1..] {
        b.add_extra_chain_cert(ca.clone()).unwrap();
    }
    b.set_private_key(&who.key).unwrap();
    let mut protos = vec![alpn.len() as u8];
    protos.extend_from_slice(alpn.as_bytes());
    b.set_alpn_protos(&protos).unwrap();
    let connector = b.build();
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let mut config = connector.configure().unwrap();
    config.set_verify_hostname(false);
    config.connect("127.0.0.1", tcp).map_err(|e| e.to_string())
}

/// How a connection ended when the test stopped waiting.
#[derive(Debug, PartialEq)]
enum End {
    /// The server closed it (EOF or reset), after this long, having sent these bytes.
    Closed(Duration, Vec<u8>),
    /// Still open after the wait.
    Open,
}

/// Reads until the server closes the connection or `wait` passes; `tick` is called every
/// 250 ms with the stream (to write a byte, say) while it is open.
fn until_closed(
    tls: &mut SslStream<TcpStream>,
    wait: Duration,
    mut tick: impl FnMut(&mut SslStream<TcpStream>),
) -> End {
    let start = Instant::now();
    let mut got = Vec::new();
    tls.get_ref()
        .set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    while start.elapsed() < wait {
        let mut buf = [0u8; 4096];
        match tls.read(&mut buf) {
            Ok(0) => return End::Closed(start.elapsed(), got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                tick(tls)
            }
            Err(_) => return End::Closed(start.elapsed(), got),
        }
    }
    End::Open
}

fn closed_between(end: &End, min: f64, max: f64, what: &str) -> Vec<u8> {
    match end {
        End::Closed(after, got) => {
            let secs = after.as_secs_f64();
            assert!(
                (min..=max).contains(&secs),
                "{what}: closed after {secs:.2} s, expected {min} to {max} s"
            );
            got.clone()
        }
        End::Open => panic!("{what}: still open"),
    }
}

/// Slow headers, an idle connection on either protocol and a body that never comes are all
/// closed after their timeout; one connection over the cap is closed at once.
#[test]
fn slow_idle_and_surplus_connections_are_closed() {
    let inst = Installation::with_cm_conf(LIMITS);
    let admin = Identity::admin(&inst);

    // Slowloris: a header line, one byte every 250 ms, is cut at the 2 s header timeout.
    let mut tls = connect(&inst, &admin, "http/1.1").unwrap();
    let mut trickle = b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nX-Slow: "
        .iter()
        .cycle();
    let end = until_closed(&mut tls, Duration::from_secs(10), |t| {
        let _ = t.write_all(&[*trickle.next().unwrap()]);
    });
    closed_between(&end, 1.5, 6.0, "slowloris");

    // An idle HTTP/1.1 connection waits for its first request's headers: the header timeout.
    let mut tls = connect(&inst, &admin, "http/1.1").unwrap();
    let end = until_closed(&mut tls, Duration::from_secs(10), |_| {});
    closed_between(&end, 1.5, 6.0, "idle HTTP/1.1");

    // An idle HTTP/2 connection (not even the preface sent): the 3 s idle timeout.
    let mut tls = connect(&inst, &admin, "h2").unwrap();
    assert_eq!(tls.ssl().selected_alpn_protocol(), Some(&b"h2"[..]));
    let end = until_closed(&mut tls, Duration::from_secs(12), |_| {});
    closed_between(&end, 2.5, 5.0, "idle HTTP/2");

    // A body declared and never sent: 408 as JSON after the 2 s body timeout, then closed.
    let mut tls = connect(&inst, &admin, "http/1.1").unwrap();
    tls.write_all(
        b"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\n\r\n{\"a\":",
    )
    .unwrap();
    let end = until_closed(&mut tls, Duration::from_secs(10), |_| {});
    let answer =
        String::from_utf8_lossy(&closed_between(&end, 1.5, 6.0, "unsent body")).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#""code":"timeout","field":"body""#),
        "{answer}"
    );

    // A declared 10 MB body: 413 as JSON at once, and closed.
    let mut tls = connect(&inst, &admin, "http/1.1").unwrap();
    tls.write_all(
        b"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 10000000\r\n\r\n",
    )
    .unwrap();
    let end = until_closed(&mut tls, Duration::from_secs(10), |_| {});
    let answer = String::from_utf8_lossy(&closed_between(&end, 0.0, 1.5, "10 MB")).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(r#""code":"too-large","field":"body""#),
        "{answer}"
    );

    // The cap: with 4 connections open, a fifth is closed before its handshake completes;
    // once one of the 4 is gone, a new one is served.
    let mut held: Vec<_> = (0..4)
        .map(|_| connect(&inst, &admin, "http/1.1").unwrap())
        .collect();
    let surplus = connect(&inst, &admin, "http/1.1");
    assert!(surplus.is_err(), "a fifth connection was served");
    held.pop();
    let start = Instant::now();
    let served = loop {
        let attempt = connect(&inst, &admin, "http/1.1").and_then(|mut t| {
            t.write_all(b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n")
                .map_err(|e| e.to_string())?;
            let mut buf = [0u8; 12];
            t.read_exact(&mut buf).map_err(|e| e.to_string())?;
            Ok(buf)
        });
        match attempt {
            Ok(buf) => break buf,
            Err(e) if start.elapsed() > Duration::from_secs(1) => panic!("not served again: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert_eq!(&served, b"HTTP/1.1 200");
    drop(held);

    let log = inst.log();
    for needle in [
        "request headers not received within 2 s (server.header-timeout)",
        "closed: 4 connections open (server.max-connections)",
    ] {
        assert!(log.contains(needle), "the log lacks {needle:?}: {log}");
    }
}

/// `curl` with `who`'s PEM files: (HTTP version, status, body) of a POST of `body_bytes`
/// zeros to the token endpoint.
fn curl_post(
    inst: &Installation,
    cert: &Path,
    key: &Path,
    http: &str,
    body_bytes: usize,
) -> (String, String, String) {
    let body = inst.out.join("large.json");
    std::fs::write(&body, vec![b'0'; body_bytes]).unwrap();
    let out = keyward_testkit::tool("curl")
        .args(["-s", http, "--cacert"])
        .arg(inst.dir.join("ca/root.pem"))
        .arg("--cert")
        .arg(cert)
        .arg("--key")
        .arg(key)
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", body.display()))
        .args(["-w", "\n%{http_version} %{http_code}"])
        .arg(format!("{}/v1/tokens", inst.url))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (answer, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    let (version, code) = status.split_once(' ').unwrap_or((status, ""));
    (version.to_string(), code.to_string(), answer.to_string())
}

on_both_engines!(token_holders_are_refused_at_the_handshake_and_413_is_json_and_audited);

/// An end user's certificate (clientAuth, chaining to the root) is refused at the TLS layer
/// while the officer's passes; an oversized body gets 413 JSON on HTTP/1.1 and HTTP/2, each
/// audited.
fn token_holders_are_refused_at_the_handshake_and_413_is_json_and_audited(engine: Engine) {
    let inst = Installation::with_cm_conf_on(engine, LIMITS);
    let p12 = p12_arg(&inst, "holder.p12");
    issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            "CN=Token Holder,O=Example",
            "--key-spec",
            "EC:secp256r1",
            "--p12",
            &p12,
        ],
    );
    let holder = Identity::from_p12(Path::new(&p12), PIN);
    let holder_eku = String::from_utf8_lossy(&holder.chain[0].to_text().unwrap()).into_owned();
    assert!(
        holder_eku.contains("TLS Web Client Authentication"),
        "{holder_eku}"
    );

    let request = b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut answer = String::new();
    let refused = connect(&inst, &holder, "http/1.1").and_then(|mut t| {
        let wait = Some(Duration::from_secs(5));
        t.get_ref().set_read_timeout(wait).unwrap();
        t.write_all(request).map_err(|e| e.to_string())?;
        t.read_to_string(&mut answer).map_err(|e| e.to_string())
    });
    assert!(
        refused.is_err() && answer.is_empty(),
        "a token holder got through: {refused:?} {answer}"
    );
    let admin = Identity::admin(&inst);
    let mut tls = connect(&inst, &admin, "http/1.1").unwrap();
    tls.write_all(request).unwrap();
    let mut head = [0u8; 12];
    tls.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    drop(tls);
    let log = inst.log();
    assert!(
        log.contains("WARN") && log.contains("not an officer certificate"),
        "{log}"
    );

    let (cert, key) = admin.pem_files(&inst.out, "admin");
    for (http, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        for size in [300_000, 10_000_000] {
            let (v, code, body) = curl_post(&inst, &cert, &key, http, size);
            assert_eq!(
                (v.as_str(), code.as_str()),
                (version, "413"),
                "{http} {size}: {body}"
            );
            let json: serde_json::Value = serde_json::from_str(&body).expect("413 is JSON");
            assert_eq!(json["code"], "too-large");
            assert_eq!(json["field"], "body");
        }
    }
    let records = block_on(async { inst.store().await.audit_records(1000).await.unwrap() });
    let too_large: Vec<_> = records.iter().filter(|r| r.action == "read-body").collect();
    assert_eq!(
        too_large.len(),
        4,
        "one audit record per 413: {too_large:?}"
    );
    for r in too_large {
        assert_eq!(r.category, AuditCategory::Authentication);
        assert_eq!(r.outcome, Outcome::Failure);
        assert_eq!(r.officer.as_deref(), Some("admin"));
        assert_eq!(r.detail["path"], "/v1/tokens");
    }
}

/// With its file descriptors used up, the server pauses between failed accepts and logs them
/// once per interval with a count (it logged every one, 20 a second, before), and it serves
/// again once connections are gone.
#[test]
fn failed_accepts_back_off_and_are_logged_once_per_interval() {
    // The default cap (1024): connections over a small one would be closed, never run out.
    let mut inst = Installation::new();
    inst.stop_server();
    let log_path = inst.out.join("emfile.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = Command::new("bash")
        .arg("-c")
        .arg(r#"ulimit -n 64 && exec "$0" server --listen 127.0.0.1:0 --dir "$1""#)
        .arg(env!("CARGO_BIN_EXE_keyward"))
        .arg(&inst.dir)
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut banner = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut banner,
    )
    .unwrap();
    let addr = banner
        .split_whitespace()
        .find_map(|w| w.strip_prefix("https://"))
        .unwrap_or_else(|| panic!("server did not start: {banner}"))
        .to_string();
    // 100 plain TCP connections: the kernel completes them, the server runs out of descriptors
    // accepting them and keeps failing to accept the rest for as long as they are open.
    let flood: Vec<TcpStream> = (0..100)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    drop(flood);
    let admin = Identity::admin(&inst);
    let start = Instant::now();
    let served = loop {
        let attempt = connect_to(&inst, &addr, &admin, "http/1.1").and_then(|mut t| {
            t.write_all(b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n")
                .map_err(|e| e.to_string())?;
            let mut buf = [0u8; 12];
            t.read_exact(&mut buf).map_err(|e| e.to_string())?;
            Ok(buf)
        });
        match attempt {
            Ok(buf) => break buf,
            Err(e) if start.elapsed() > Duration::from_secs(10) => {
                let _ = server.kill();
                panic!("not served after the flood: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(&served, b"HTTP/1.1 200");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines = log.lines().filter(|l| l.contains("accept failed")).count();
    assert!(
        (1..=2).contains(&lines),
        "{lines} lines about failed accepts in about 3 s: {log}"
    );
}
