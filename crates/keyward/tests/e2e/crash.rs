//! Crash safety and idempotent requests, through the real binary on SQLite and PostgreSQL.
//!
//! - A retry of an issue request (the very same signed bytes) gets the recorded answer, also
//!   when several copies race, and never a second certificate; the same request ID with
//!   another body is refused naming `request_id`.
//! - The crash loop issues `soft-dual` tokens (an RA-local signing key and a server-generated,
//!   archived encryption key) many times and kills a process each time: the server with
//!   SIGKILL at a named point of the issuance (`KEYWARD_TEST_CRASH_AT`, debug builds), the
//!   server with SIGKILL after a random delay, or the RA itself with SIGKILL after a random
//!   delay or half-way through writing the PKCS#12 (crash point `mid-write`). A killed server is restarted on the same port and the RA's retry finishes the
//!   token. Then it checks, with SQL and `keyward audit verify`: no certificate without its
//!   issuance record, no archived key without its certificate (nor the reverse), no issuance
//!   record without its certificates, at most one issuance per request ID, one recorded answer
//!   per issuance, an intact audit chain; and every PKCS#12 is complete (it opens with
//!   `openssl pkcs12`) and holds the recorded certificates, or does not exist.
//!
//! - The recovery loop (`recovery`) kills the server during recoveries that revoke the old
//!   certificate: never a new certificate without the revocation, nor the reverse.
//!
//! `cargo test -p keyward --test e2e crash:: -- --nocapture` prints what each iteration hit.
//! `KEYWARD_CRASH_ITERATIONS=N` changes the number of iterations.

use crate::common;
mod recovery;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::signed::{admin_client, unix_now};
use common::tokens::PIN;
use common::{block_on, keyward, on_both_engines, text, Engine, Installation};
use keyward_crypto::transport::TransportKeyPair;
use keyward_proto::{signed_message, IssueRequest, TOKENS_PATH};
use keyward_ra::{OfficerCredential, RaError};
use keyward_store::{Outcome, CRASH_ENV};
use serde_json::Value;
use sqlx::Row;
use support::{check_p12, invariants};

/// Crash points of an issuance (see `keyward_store::crash_point`), in order.
const POINTS: [&str; 4] = [
    "after-sign",
    "mid-transaction",
    "before-commit",
    "after-commit",
];

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf).unwrap();
    hex::encode(buf)
}

fn random_below(n: u64) -> u64 {
    let mut buf = [0u8; 8];
    openssl::rand::rand_bytes(&mut buf).unwrap();
    u64::from_le_bytes(buf) % n
}

/// A signed `soft-encryption-archived` issue request: (body, signature).
fn archived_request(officer: &OfficerCredential, request_id: &str, cn: &str) -> (Vec<u8>, Vec<u8>) {
    let transport = TransportKeyPair::generate().unwrap();
    let request = IssueRequest {
        request_id: request_id.into(),
        timestamp: unix_now(),
        nonce: random_hex(16),
        token_procedure: "soft-encryption-archived".into(),
        subject: format!("CN={cn},O=Example,C=SE"),
        email: None,
        key_spec: "EC:secp256r1".into(),
        csrs: vec![],
        transport_key: Some(transport.public_der().unwrap()),
        recover: vec![],
        pin_letter: None,
        pin_mailer_address: None,
        approval: None,
        qc_statements: Default::default(),
        alt_names: Default::default(),
    };
    let body = serde_json::to_vec(&request).unwrap();
    let signature = officer.sign(&signed_message(TOKENS_PATH, &body)).unwrap();
    (body, signature)
}

fn certificates_of(inst: &Installation, cn: &str) -> Vec<(i64, String)> {
    block_on(async {
        let raw = inst.raw().await;
        let rows = sqlx::query(
            "SELECT id, serial_hex FROM certificates WHERE subject LIKE $1 ORDER BY id",
        )
        .bind(format!("CN={cn},%"))
        .fetch_all(&raw)
        .await
        .unwrap();
        raw.close().await;
        rows.iter()
            .map(|r| (r.get::<i64, _>("id"), r.get::<String, _>("serial_hex")))
            .collect()
    })
}

on_both_engines!(a_retry_gets_the_recorded_answer_and_never_a_second_token);

fn a_retry_gets_the_recorded_answer_and_never_a_second_token(engine: Engine) {
    let inst = Installation::on(engine);
    let (officer, client) = admin_client(&inst);
    let client = Arc::new(client);
    let request_id = random_hex(16);
    let (body, signature) = archived_request(&officer, &request_id, "Retry Example");
    block_on(async {
        let first: Value = client
            .post_with_signature(TOKENS_PATH, body.clone(), &signature)
            .await
            .unwrap();
        assert_eq!(first["request_id"], request_id.as_str());
        // The very same bytes again (a retry after a lost answer): the same answer.
        let again: Value = client
            .post_with_signature(TOKENS_PATH, body.clone(), &signature)
            .await
            .unwrap();
        assert_eq!(first, again, "the recorded answer, sealed key included");

        // Copies racing each other: one issues, all get its answer.
        let (body, signature) = archived_request(&officer, &random_hex(16), "Race Example");
        let mut racing = Vec::new();
        for _ in 0..4 {
            let (client, body, signature) = (client.clone(), body.clone(), signature.clone());
            racing.push(tokio::spawn(async move {
                client
                    .post_with_signature::<Value>(TOKENS_PATH, body, &signature)
                    .await
            }));
        }
        let mut answers = Vec::new();
        for task in racing {
            answers.push(task.await.unwrap().expect("every copy is answered"));
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");

        // The same request ID with another body: refused, naming the field and the
        // certificates the ID issued.
        let (other, other_signature) = archived_request(&officer, &request_id, "Other Example");
        match client
            .post_with_signature::<Value>(TOKENS_PATH, other, &other_signature)
            .await
        {
            Err(RaError::Refused { status, error }) => {
                assert_eq!((status, error.field.as_deref()), (409, Some("request_id")));
                let id = first["certificates"][0]["certificate_id"].as_str().unwrap();
                assert!(
                    error.message.contains(&format!("Certificate ID {id}")),
                    "{}",
                    error.message
                );
            }
            other => panic!("expected a refusal naming request_id: {other:?}"),
        }
    });
    assert_eq!(certificates_of(&inst, "Retry Example").len(), 1);
    assert_eq!(certificates_of(&inst, "Race Example").len(), 1);
    assert!(certificates_of(&inst, "Other Example").is_empty());
    let records = block_on(async {
        let store = inst.store().await;
        let records = store.audit_records(1000).await.unwrap();
        store.close().await;
        records
    });
    let count = |action: &str, outcome: Outcome| {
        records
            .iter()
            .filter(|r| r.action == action && r.outcome == outcome)
            .count()
    };
    assert_eq!(count("issue-token", Outcome::Success), 2, "two tokens");
    assert_eq!(
        count("answer-retry", Outcome::Success),
        4,
        "1 retry + 3 racing copies"
    );
    assert!(records.iter().any(|r| r.action == "issue-token"
        && r.outcome == Outcome::Failure
        && r.detail["field"] == "request_id"));
    let check = invariants(&inst);
    assert_eq!(check.issuances, 2);
}

/// What happens to the processes in one iteration.
#[derive(Debug, Clone)]
enum Kill {
    /// The server kills itself at this crash point.
    ServerAt(&'static str),
    /// The server is killed this many milliseconds after the RA starts.
    ServerAfter(u64),
    /// The RA is killed this many milliseconds after it starts.
    RaAfter(u64),
    /// The RA kills itself at this crash point (`mid-write`: half of the PKCS#12 written to its
    /// temporary file).
    RaAt(&'static str),
}

/// A server of the crash loop, on a fixed port, and its log.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(inst: &Installation, port: u16, crash_at: Option<&str>, log: &Path) -> Server {
        for _ in 0..50 {
            let log_file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap();
            let mut cmd = keyward();
            cmd.args(["server", "--listen", &format!("127.0.0.1:{port}"), "--dir"])
                .arg(&inst.dir)
                .env_remove(CRASH_ENV)
                .stdout(Stdio::piped())
                .stderr(log_file);
            if let Some(point) = crash_at {
                cmd.env(CRASH_ENV, point);
            }
            let mut child = cmd.spawn().expect("spawn server");
            let mut line = String::new();
            let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
            if line.contains("https://") {
                return Server {
                    child,
                    log: log.to_path_buf(),
                };
            }
            // The port may still be held for a moment by the killed server.
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the server did not restart: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }

    /// Waits for the server to die by itself (at its crash point), at most `limit`; its log.
    fn wait_for_death(mut self, limit: Duration) -> Option<String> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.child.try_wait().unwrap().is_some() {
                return Some(self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        None
    }
}

/// What one iteration saw.
struct Iteration {
    kill: Kill,
    /// Where the kill landed.
    hit: String,
    ra_ok: bool,
    certificates: usize,
    p12: &'static str,
    millis: u128,
}

fn crash_loop(engine: Engine) {
    let started = Instant::now();
    let iterations: usize = std::env::var("KEYWARD_CRASH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(match engine {
            Engine::Sqlite => 24,
            Engine::Postgres => 16,
        });
    let mut inst = Installation::on(engine);
    let port: u16 = inst.url.rsplit(':').next().unwrap().parse().unwrap();
    inst.stop_server();
    let logs = inst.out.join("logs");
    std::fs::create_dir_all(&logs).unwrap();

    let mut seen: Vec<Iteration> = Vec::new();
    let mut server: Option<Server> = None;
    // How long an undisturbed RA run took last (about 0.4 to 1.3 s here: the server's RSA-2048
    // generation for the archived key varies).
    let mut undisturbed_ms: u64 = 800;
    for i in 0..iterations {
        let t0 = Instant::now();
        // Every crash point twice, then random kills: mostly of the server (delays up to 1 s
        // land before, during and after the issuance), some of the RA (in the second half of
        // its run, where it receives the answer and writes the files).
        let kill = match i {
            i if i < 2 * POINTS.len() => Kill::ServerAt(POINTS[i % POINTS.len()]),
            i if i % 8 == 3 => Kill::RaAt("mid-write"),
            i if i % 8 == 7 => {
                Kill::RaAfter(undisturbed_ms / 2 + random_below(undisturbed_ms / 2 + 100))
            }
            _ => Kill::ServerAfter(random_below(1000)),
        };
        let crash_at = match kill {
            Kill::ServerAt(point) => Some(point),
            _ => None,
        };
        if crash_at.is_some() {
            if let Some(s) = server.take() {
                s.kill();
            }
        }
        let running = match server.take() {
            Some(s) => s,
            None => Server::start(&inst, port, crash_at, &logs.join(format!("server-{i}.log"))),
        };
        // Only what the server logs from now on is about this iteration.
        let log_start = running.log().len();
        let cn = format!("Crash {i}");
        let p12 = inst.out.join(format!("crash-{i}.p12"));
        let pem = inst.out.join(format!("crash-{i}.pem"));
        let mut ra = inst.ra(&[
            "issue",
            "--procedure",
            "soft-dual",
            "--subject",
            &format!("CN={cn},O=Example,C=SE"),
            "--key-spec",
            "EC:secp256r1",
            "--p12",
            p12.to_str().unwrap(),
            "--cert",
            pem.to_str().unwrap(),
            "--pin-stdin",
            "--json",
        ]);
        // The retries are debug lines on a pipe: this test reads them.
        ra.env_remove(CRASH_ENV)
            .env("KEYWARD_LOG", "warn,keyward_ra::failure=debug");
        if let Kill::RaAt(point) = kill {
            ra.env(CRASH_ENV, point);
        }
        let mut ra = ra
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn RA");
        ra.stdin
            .take()
            .unwrap()
            .write_all(format!("{PIN}\n").as_bytes())
            .unwrap();
        let mut ra_killed = false;
        let restart_log = logs.join(format!("server-{i}-restarted.log"));
        // The log of the server that was killed, if one was.
        let mut killed_log = None;
        match kill {
            Kill::ServerAt(point) => {
                let log = running
                    .wait_for_death(Duration::from_secs(30))
                    .unwrap_or_else(|| panic!("the server did not reach crash point {point}"));
                assert!(
                    log.contains(&format!("crash point {point} reached")),
                    "{log}"
                );
                killed_log = Some(log[log_start..].to_string());
                server = Some(Server::start(&inst, port, None, &restart_log));
            }
            Kill::ServerAfter(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                killed_log = Some(running.kill()[log_start..].to_string());
                server = Some(Server::start(&inst, port, None, &restart_log));
            }
            Kill::RaAfter(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                ra_killed = ra.try_wait().unwrap().is_none();
                let _ = ra.kill();
                server = Some(running);
            }
            Kill::RaAt(_) => {
                ra_killed = true;
                server = Some(running);
            }
        }
        let out = ra.wait_with_output().expect("wait for the RA");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let ra_ok = out.status.success();
        if !ra_killed {
            assert!(ra_ok, "iteration {i} ({kill:?}): {}", text(&out));
        }
        let certs = certificates_of(&inst, &cn);
        // Never a second token: two certificates (signing + archived encryption), or none
        // if the RA died before the server committed.
        assert!(
            certs.len() == 2 || (ra_killed && certs.is_empty()),
            "iteration {i} ({kill:?}): {certs:?}"
        );
        let p12_state = check_p12(&p12, &certs, ra_ok.then_some(&out.stdout[..]));
        if ra_ok {
            assert_eq!(p12_state, "complete", "iteration {i}");
        }
        let restarted = std::fs::read_to_string(&restart_log).unwrap_or_default();
        let hit = match (&kill, killed_log) {
            (Kill::RaAfter(_), _) if !ra_killed => "RA done before the kill".to_string(),
            (Kill::RaAfter(_), _) if certs.is_empty() => "RA killed before issuance".to_string(),
            (Kill::RaAfter(_), _) => format!("RA killed after issuance, P12 {p12_state}"),
            (Kill::RaAt(point), _) => {
                assert!(
                    stderr.contains(&format!("crash point {point} reached")),
                    "{stderr}"
                );
                assert_eq!((certs.len(), p12_state), (2, "none"), "iteration {i}");
                let prefix = format!(".crash-{i}.p12.");
                let partial: Vec<_> = std::fs::read_dir(&inst.out)
                    .unwrap()
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                    .collect();
                assert_eq!(partial.len(), 1, "the half-written temporary file");
                format!(
                    "RA killed mid-write: no P12, {} of its bytes in {}",
                    partial[0].metadata().unwrap().len(),
                    partial[0].file_name().to_string_lossy()
                )
            }
            (_, Some(log)) => {
                let posted = stderr.contains("sending the same request again");
                let committed = log.contains("issued token")
                    || log.contains("crash point after-commit reached");
                let answered = restarted.contains("answered a retry");
                match (posted, committed, answered) {
                    (false, _, _) if !stderr.contains("again in") => {
                        "server killed after the answer".to_string()
                    }
                    (false, _, _) => "server killed before the issue request".to_string(),
                    (true, true, true) => {
                        "answer lost after commit; retry answered from the record".to_string()
                    }
                    // Killed between the commit and its log line: the log does not show the
                    // issuance, the restarted server's answer from the record does.
                    (true, false, true) => {
                        "answer lost after commit (before its log line); retry answered from the record"
                            .to_string()
                    }
                    // The first attempt found no server: it was down before the request.
                    (true, false, false)
                        if stderr
                            .lines()
                            .find(|l| l.contains("sending the same request again"))
                            .is_some_and(|l| l.contains("onnection refused")) =>
                    {
                        "server killed just before the issue request; retry issued".to_string()
                    }
                    (true, false, false) => {
                        "issuance killed before commit; retry issued".to_string()
                    }
                    other => format!("unexpected {other:?}"),
                }
            }
            (_, None) => unreachable!(),
        };
        if let Kill::ServerAt(point) = kill {
            let expected = if point == "after-commit" {
                "answer lost after commit; retry answered from the record"
            } else {
                "issuance killed before commit; retry issued"
            };
            assert_eq!(hit, expected, "iteration {i}");
        }
        assert!(!hit.starts_with("unexpected"), "iteration {i}: {hit}");
        if hit == "server killed after the answer" || hit == "RA done before the kill" {
            undisturbed_ms = t0.elapsed().as_millis() as u64;
        }
        seen.push(Iteration {
            kill,
            hit,
            ra_ok,
            certificates: certs.len(),
            p12: p12_state,
            millis: t0.elapsed().as_millis(),
        });
    }
    if let Some(s) = server.take() {
        s.kill();
    }

    let check = invariants(&inst);
    let killed_ras = seen.iter().filter(|o| !o.ra_ok).count();
    assert_eq!(
        check.issuances,
        seen.iter().filter(|o| o.certificates == 2).count()
    );
    // Temporary files of an RA killed while writing may stay (never under the final name).
    let leftovers: Vec<String> = std::fs::read_dir(&inst.out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();

    eprintln!(
        "crash loop on {engine:?}: {iterations} iterations in {:.1} s; {} tokens issued, {} RA(s) killed; temporary files left: {leftovers:?}",
        started.elapsed().as_secs_f64(),
        check.issuances,
        killed_ras,
    );
    for (i, o) in seen.iter().enumerate() {
        eprintln!(
            "{i:>3}  {:<30} {:<60} certs {}  p12 {:<9} {:>5} ms",
            format!("{:?}", o.kill),
            o.hit,
            o.certificates,
            o.p12,
            o.millis
        );
    }
}

on_both_engines!(crash_loop);
