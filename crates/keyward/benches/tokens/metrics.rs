//! `--metrics`: the cost of the Prometheus metrics. The same installation is served in
//! alternating rounds without metrics and with `--metrics-listen` (and a scraper reading
//! `/metrics` every second, much more often than Prometheus' usual 15 s), in the order off,
//! on, on, off, … so that a drift of the machine weighs on both alike; the tokens/s of each
//! mode are the tokens of its rounds over their summed wall time. The server's CPU time per
//! token is reported too: on a machine others share, it varies much less than tokens/s.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::e2e::{self, Job};
use crate::install::Install;
use crate::stats::{ms, Measure};

/// Rounds per mode (an even number keeps the off/on/on/off pattern balanced).
const ROUNDS: usize = 4;

/// One mode's rounds, merged.
struct Mode {
    tokens: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    /// CPU seconds of the server process.
    server_cpu: f64,
}

impl Mode {
    fn new() -> Mode {
        Mode {
            tokens: 0,
            wall: Duration::ZERO,
            latencies: Vec::new(),
            server_cpu: 0.0,
        }
    }

    /// Server CPU milliseconds per token.
    fn server_ms(&self) -> f64 {
        self.server_cpu * 1000.0 / self.tokens.max(1) as f64
    }

    fn add(&mut self, m: Measure) {
        self.tokens += m.tokens;
        self.wall += m.wall;
        self.server_cpu += m.cpu.map_or(0.0, |c| c.servers);
        self.latencies.extend(m.latencies);
    }

    fn measure(self, name: &str, jobs: usize) -> Measure {
        Measure::new(name, jobs, self.wall, self.latencies)
    }
}

/// `GET /metrics` at `addr`: the body.
async fn scrape(addr: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("metrics listener");
    tcp.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// The value of `keyward_tokens_issued_total{procedure="soft-signing"}` in `text`.
fn issued(text: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix("keyward_tokens_issued_total{procedure=\"soft-signing\"} "))
        .map_or(0.0, |v| v.parse().unwrap())
}

/// Runs the comparison on `inst` (stopped before and after) with `tokens` EC tokens per mode
/// on `jobs` jobs; prints it and appends a table to `md`.
pub(crate) async fn compare(inst: &mut Install, tokens: usize, jobs: usize, md: &mut String) {
    let out = inst.dir.join("out");
    let job = Job {
        procedure: "soft-signing",
        key_spec: Some("EC:secp256r1"),
        pool: None,
    };
    let per_round = (tokens / ROUNDS).max(jobs);
    let (mut off, mut on) = (Mode::new(), Mode::new());
    let mut scrapes = 0;
    println!("\nMetrics overhead: {ROUNDS} rounds of {per_round} EC tokens per mode, alternating");
    for round in 0..2 * ROUNDS {
        // off, on, on, off, off, on, on, off
        let metrics = matches!(round % 4, 1 | 2);
        inst.metrics = metrics;
        inst.start(1);
        let pids = inst.pids();
        let clients = inst.clients();
        e2e::run(
            "warm-up",
            &clients,
            &pids,
            &out,
            jobs,
            2 * jobs,
            job.clone(),
        )
        .await;
        let addr = inst.nodes[0].metrics.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let scraper = addr.clone().map(|addr| {
            let (stop, count) = (stop.clone(), count.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    scrape(&addr).await;
                    count.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        });
        let name = if metrics { "metrics on" } else { "metrics off" };
        let m = e2e::run(name, &clients, &pids, &out, jobs, per_round, job.clone()).await;
        stop.store(true, Ordering::Relaxed);
        if let Some(task) = scraper {
            task.await.unwrap();
            scrapes += count.load(Ordering::Relaxed);
        }
        if let Some(addr) = &addr {
            // The metrics were really on: every token of the round (and the warm-up) counted.
            let counted = issued(&scrape(addr).await);
            assert_eq!(counted as usize, per_round + 2 * jobs, "tokens counted");
        }
        println!(
            "  round {}: {name:<12} {:>7.1} tokens/s  p50 {:>6.1} ms",
            round + 1,
            m.rate(),
            ms(m.quantile(0.5))
        );
        if metrics {
            on.add(m);
        } else {
            off.add(m);
        }
        drop(clients);
        inst.stop();
    }
    inst.metrics = false;
    let (off_ms, on_ms) = (off.server_ms(), on.server_ms());
    let cpu_ratio = on_ms / off_ms;
    let off = off.measure("E2E soft-signing EC:secp256r1, metrics off", jobs);
    let on = on.measure("E2E soft-signing EC:secp256r1, metrics on", jobs);
    let ratio = on.rate() / off.rate();
    println!(
        "  metrics off {:.1} tokens/s, on {:.1} tokens/s ({scrapes} scrapes): on/off {ratio:.3}, overhead {:.1} % (target <= 2 %)",
        off.rate(),
        on.rate(),
        (1.0 - ratio) * 100.0
    );
    println!(
        "  server CPU per token: off {off_ms:.2} ms, on {on_ms:.2} ms: on/off {cpu_ratio:.3} ({:+.1} %)",
        (cpu_ratio - 1.0) * 100.0
    );
    writeln!(
        md,
        "\n### Metrics overhead (SQLite, 1 node, alternating rounds)\n"
    )
    .unwrap();
    writeln!(
        md,
        "| contender | jobs | tokens | tokens/s | p50 ms | p99 ms | server CPU ms/token |"
    )
    .unwrap();
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for (m, cpu) in [(&off, off_ms), (&on, on_ms)] {
        writeln!(
            md,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {cpu:.2} |",
            m.name,
            m.jobs,
            m.tokens,
            m.rate(),
            ms(m.quantile(0.5)),
            ms(m.quantile(0.99))
        )
        .unwrap();
    }
    writeln!(
        md,
        "\nmetrics on / off: {ratio:.3} tokens/s (overhead {:.1} %, target ≤ 2 %), {cpu_ratio:.3} server CPU per token ({:+.1} %); {scrapes} scrapes, one a second",
        (1.0 - ratio) * 100.0,
        (cpu_ratio - 1.0) * 100.0
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(Path::new(&out));
}
