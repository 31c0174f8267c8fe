//! Prometheus metrics (issue 15, "Metrics"): `metrics.listen` in cm.conf or `keyward server
//! --metrics-listen` serves `GET /metrics` over plain HTTP; `promtool check metrics` accepts
//! the text, and the token, refusal and request counters move by exactly what was done.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use common::signed::{admin_client, unix_now};
use common::tokens::{issue, p12_arg};
use common::{block_on, on_both_engines, start_server, Engine, Installation, KillOnDrop};
use keyward_ra::RaError;

/// A loopback port nothing listens on now (bound and released).
fn free_port() -> SocketAddr {
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
}

/// The status line and body of `METHOD PATH` on the plain HTTP listener at `at`.
fn http(at: SocketAddr, method: &str, path: &str) -> (String, String) {
    let mut tcp = TcpStream::connect_timeout(&at, Duration::from_secs(5)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(tcp, "{method} {path} HTTP/1.1\r\nHost: {at}\r\n\r\n").unwrap();
    let mut answer = String::new();
    // One request per connection: the server closes it after the answer.
    tcp.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    (status, body.to_string())
}

/// `GET /metrics` at `at`: the text, after checking the status and the content type.
fn scrape(at: SocketAddr) -> String {
    let mut tcp = TcpStream::connect_timeout(&at, Duration::from_secs(5)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(tcp, "GET /metrics HTTP/1.1\r\nHost: {at}\r\n\r\n").unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    body.to_string()
}

/// The value of the series `series` (name and labels exactly as exposed), 0 when absent (a
/// labelled series appears with its first event).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

/// `promtool check metrics` on `text`: exit 0 and not a word of lint.
fn promtool_accepts(text: &str) {
    let mut child = keyward_testkit::tool("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {:?}: {said}\n{text}",
        out.status
    );
}

/// Whether nothing accepts connections at `at`.
fn refused(at: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&at, Duration::from_secs(2)) {
        Err(e) => e.kind() == ErrorKind::ConnectionRefused,
        Ok(_) => false,
    }
}

on_both_engines!(issued_and_refused_tokens_are_counted_and_promtool_accepts_the_text);

/// One token issued and one refused (a signed request naming no token procedure of the set),
/// one request for a path the API does not have and one connection that speaks no TLS: each
/// counter moves by exactly one, under bounded labels, and promtool finds nothing to say.
fn issued_and_refused_tokens_are_counted_and_promtool_accepts_the_text(engine: Engine) {
    let at = free_port();
    let inst = Installation::with_cm_conf_on(engine, &format!("metrics.listen = {at}\n"));
    let before = scrape(at);
    promtool_accepts(&before);

    let p12 = p12_arg(&inst, "metrics.p12");
    issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            "CN=Metrics Person,O=Example",
            "--key-spec",
            "EC:secp256r1",
            "--p12",
            &p12,
        ],
    );
    block_on(async {
        let (officer, client) = admin_client(&inst);
        let body = serde_json::to_vec(&serde_json::json!({
            "request_id": "metrics-refused-1", "timestamp": unix_now(),
            "nonce": "metrics-nonce-0001", "token_procedure": "no-such-procedure-4711",
            "subject": "CN=Nobody", "key_spec": "EC:secp256r1", "csrs": []
        }))
        .unwrap();
        let signature = officer
            .sign(&keyward_proto::signed_message("/v1/tokens", &body))
            .unwrap();
        let result: Result<serde_json::Value, RaError> = client
            .post_with_signature("/v1/tokens", body, &signature)
            .await;
        match result {
            Err(RaError::Refused { status, error }) => {
                assert_eq!((status, error.code.as_str()), (404, "not-found"));
            }
            other => panic!("an unknown token procedure was not refused: {other:?}"),
        }
        let probe: Result<serde_json::Value, RaError> =
            client.get_json("/v1/no-such-path-4711", &[]).await;
        assert!(
            matches!(probe, Err(RaError::Refused { status: 404, .. })),
            "{probe:?}"
        );
    });

    // Plain HTTP to the TLS port: a handshake that fails as `other`.
    let api: SocketAddr = inst.url.trim_start_matches("https://").parse().unwrap();
    let mut junk = TcpStream::connect(api).unwrap();
    junk.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    junk.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let _ = junk.read_to_end(&mut Vec::new());

    // The refused connection is closed just before it is counted: wait for the count.
    let other = "keyward_tls_handshake_failures_total{cause=\"other\"}";
    let mut after = scrape(at);
    for _ in 0..50 {
        if value(&after, other) > value(&before, other) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        after = scrape(at);
    }
    promtool_accepts(&after);
    for (series, moved) in [
        (
            "keyward_tokens_issued_total{procedure=\"soft-signing\"}",
            1.0,
        ),
        (
            "keyward_tokens_refused_total{procedure=\"unknown\",reason=\"not-found\"}",
            1.0,
        ),
        (
            "keyward_http_requests_total{route=\"/v1/tokens\",status=\"200\"}",
            1.0,
        ),
        (
            "keyward_http_requests_total{route=\"/v1/tokens\",status=\"404\"}",
            1.0,
        ),
        (
            "keyward_http_requests_total{route=\"unmatched\",status=\"404\"}",
            1.0,
        ),
        ("keyward_token_issuance_seconds_count", 1.0),
        (
            "keyward_db_transaction_seconds_count{operation=\"record-issuance\"}",
            1.0,
        ),
        (
            "keyward_db_transaction_seconds_count{operation=\"audit-refusal\"}",
            1.0,
        ),
        (
            "keyward_db_transaction_seconds_count{operation=\"check-nonce\"}",
            2.0,
        ),
        ("keyward_tls_handshake_failures_total{cause=\"other\"}", 1.0),
        (
            "keyward_tls_handshake_failures_total{cause=\"no-certificate\"}",
            0.0,
        ),
    ] {
        assert_eq!(
            value(&after, series) - value(&before, series),
            moved,
            "{series}\n{after}"
        );
    }
    // Neither the client's path nor its procedure name became a label.
    assert!(
        !after.contains("4711"),
        "a client's text is a label: {after}"
    );
    // The fixed label sets are listed before their first event; the gauges read at scrape.
    assert!(
        after.contains("keyward_tls_handshake_failures_total{cause=\"not-an-officer\"}"),
        "{after}"
    );
    assert!(after.contains("\nkeyward_open_connections "), "{after}");

    // GET /metrics only.
    assert!(http(at, "GET", "/").0.contains(" 404"), "GET /");
    assert!(
        http(at, "POST", "/metrics").0.contains(" 404"),
        "POST /metrics"
    );
}

/// Without the setting or the flag nothing listens for metrics; `--metrics-listen` wins over
/// cm.conf's `metrics.listen`; the key pool's gauges follow `kra.key-pool`.
#[test]
fn metrics_are_off_by_default_and_the_flag_wins_over_cm_conf() {
    let (by_flag, by_conf) = (free_port(), free_port());
    let mut inst = Installation::new();
    // The installation's server answers (it issues a token), and nothing listens for metrics
    // on the ports it is about to be given.
    let p12 = p12_arg(&inst, "default.p12");
    issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            "CN=Default Person,O=Example",
            "--key-spec",
            "EC:secp256r1",
            "--p12",
            &p12,
        ],
    );
    assert!(refused(by_flag) && refused(by_conf));
    assert!(!inst.log().contains("metrics at"), "{}", inst.log());

    inst.stop_server();
    let cm_conf = inst.dir.join("cm.conf");
    let body = std::fs::read_to_string(&cm_conf).unwrap();
    std::fs::write(
        &cm_conf,
        format!("{body}\nmetrics.listen = {by_conf}\nkra.key-pool = EC:secp256r1=3\n"),
    )
    .unwrap();
    let log = inst.out.join("flagged.log");
    let (child, _url) = start_server(
        &inst.dir,
        &[],
        &["--metrics-listen", &by_flag.to_string()],
        &log,
    );
    let _server = KillOnDrop(child);
    let text = scrape(by_flag);
    assert!(
        text.contains("# TYPE keyward_open_connections gauge"),
        "{text}"
    );
    assert!(
        refused(by_conf),
        "cm.conf's metrics.listen was used besides the flag"
    );

    // The key pool's fill level, read at each scrape, reaches its target.
    let (ready, target) = (
        "keyward_key_pool_ready_keys{spec=\"EC:secp256r1\"}",
        "keyward_key_pool_target_keys{spec=\"EC:secp256r1\"}",
    );
    let mut text = scrape(by_flag);
    for _ in 0..100 {
        if value(&text, ready) == 3.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        text = scrape(by_flag);
    }
    assert_eq!(
        (value(&text, ready), value(&text, target)),
        (3.0, 3.0),
        "{text}"
    );
    promtool_accepts(&text);
}
