//! OCSP responses per second and revocation latency with many certificates (issue 16, "Speed").
//!
//! ```sh
//! cargo bench -p keyward --bench ocsp                                       # 100k certificates
//! cargo bench -p keyward --bench ocsp -- --certs 1000000 --revoked 100000   # the full size
//! ```
//!
//! Options (after `--`): `--certs N` certificates (default 100,000), `--revoked N` of them revoked
//! for the OCSP runs (default a tenth), `--seconds N` per timed run (default 10),
//! `--connections N` of the load generator (default 8), `--multi N` OpenSSL responder processes
//! (default 2), `--working-set N` serials of the cached runs (default 10,000),
//! `--revocations N` timed revocations at each size (default 200), `--pg` (revocation latency on
//! PostgreSQL too: `KEYWARD_BENCH_PG_URL`, else `KEYWARD_TEST_PG_URL`, else
//! `postgres://postgres@127.0.0.1:5432/postgres`), `--markdown FILE`.
//!
//! One installation (`keyward init`, SQLite) gets the certificates from the size loader of the
//! `tokens` bench (`benches/common/certs.rs`), then a share of them revoked. The contenders,
//! each a process of its own on the same 2 cores as this process's load generator: OpenSSL's
//! reference responder over an `index.txt` written from the same database, and Keyward's
//! standalone responder (`keyward ocsp`, the release binary) without its cache of pre-signed
//! responses (reading the store for every answer, then with its status index) and with it, each
//! with connections kept alive and with a new one per request.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench fails by panicking

#[path = "../tokens/install.rs"]
#[allow(dead_code)] // shared with the tokens bench, which uses the rest
mod install;
#[path = "../tokens/stats.rs"]
#[allow(dead_code)] // shared with the tokens bench, which uses the rest
mod stats;

#[path = "../common/certs.rs"]
mod certs;
mod data;
mod load;
mod responders;
mod revoke;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::x509::X509;
use sqlx::any::AnyPoolOptions;

use keyward_ocsp::IssuerSet;
use keyward_store::Store;

use load::{Connections, Expect, Picks, Query};
use stats::{ms, quantile};

struct Args {
    certs: usize,
    revoked: Option<usize>,
    seconds: u64,
    connections: usize,
    multi: usize,
    working_set: usize,
    revocations: usize,
    pg: bool,
    markdown: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        certs: 100_000,
        revoked: None,
        seconds: 10,
        connections: 8,
        multi: 2,
        working_set: 10_000,
        revocations: 200,
        pg: false,
        markdown: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a number"))
        };
        match arg.as_str() {
            "--certs" => a.certs = num("--certs").max(10),
            "--revoked" => a.revoked = Some(num("--revoked")),
            "--seconds" => a.seconds = num("--seconds").max(1) as u64,
            "--connections" => a.connections = num("--connections").max(1),
            "--multi" => a.multi = num("--multi").max(1),
            "--working-set" => a.working_set = num("--working-set").max(1),
            "--revocations" => a.revocations = num("--revocations").max(1),
            "--pg" => a.pg = true,
            "--markdown" => a.markdown = it.next().map(Into::into),
            _ => {} // `cargo bench` passes --bench
        }
    }
    a
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// One contender's timed run, with the CPU it and the load generator used.
struct Row {
    name: String,
    connections: Connections,
    run: load::Run,
    responder_cpu: f64,
    client_cpu: f64,
    busy: f64,
}

impl Row {
    fn per_request(&self, seconds: f64) -> f64 {
        seconds * 1000.0 / self.run.answered.max(1) as f64
    }

    fn print(&self) {
        println!(
            "  {:<44} {:<27} n {:>7}  {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  \
             errors {}  connects/request {:.2}  CPU responder {:.3} + client {:.3} ms/request; \
             machine {:.0} % busy",
            self.name,
            self.connections.label(),
            self.run.answered,
            self.run.rate(),
            ms(quantile(&self.run.latencies, 0.5)),
            ms(quantile(&self.run.latencies, 0.99)),
            self.run.errors,
            self.run.connects as f64 / self.run.answered.max(1) as f64,
            self.per_request(self.responder_cpu),
            self.per_request(self.client_cpu),
            self.busy * 100.0
        );
    }
}

/// A warm-up second, then a timed run against `process`, with the CPU of the responder
/// (and its children) and of this process.
async fn measure(
    a: &Args,
    name: &str,
    process: &responders::Process,
    mode: Connections,
    queries: &Arc<Vec<Query>>,
) -> Row {
    load::run(
        process.addr,
        mode,
        a.connections,
        Duration::from_secs(1),
        queries.clone(),
    )
    .await;
    let pids = responders::with_children(process.pid());
    let cpu = |pids: &[u32]| -> f64 {
        pids.iter()
            .map(|p| stats::process_cpu(&p.to_string()))
            .sum()
    };
    let (before, client_before, machine_before) = (
        cpu(&pids),
        stats::self_and_children_cpu(),
        stats::machine_cpu(),
    );
    let run = load::run(
        process.addr,
        mode,
        a.connections,
        Duration::from_secs(a.seconds),
        queries.clone(),
    )
    .await;
    let machine = stats::machine_cpu();
    let row = Row {
        name: name.to_string(),
        connections: mode,
        responder_cpu: cpu(&pids) - before,
        client_cpu: stats::self_and_children_cpu() - client_before,
        busy: (machine.0 - machine_before.0) / (machine.1 - machine_before.1).max(1e-9),
        run,
    };
    row.print();
    row
}

/// Revocation latency at one size.
struct RevRow {
    engine: &'static str,
    revoked_before: usize,
    times: Vec<Duration>,
}

impl RevRow {
    fn print(&self) {
        println!(
            "  {:<10} revoked before {:>8}: n {}  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            self.engine,
            self.revoked_before,
            self.times.len(),
            ms(quantile(&self.times, 0.5)),
            ms(quantile(&self.times, 0.99)),
            ms(self.times.last().copied().unwrap_or_default())
        );
    }
}

/// The database prepared for the revocation runs: certificates (the main set, then
/// `3 × revocations` spare rows that only the timed revocations touch).
struct Prepared {
    store: Store,
    pool: sqlx::AnyPool,
    loaded: data::Loaded,
    engine: &'static str,
}

impl Prepared {
    async fn open(engine: &'static str, url: &str, rows: usize, issuer: &str, der: &[u8]) -> Self {
        let store = Store::open(url).await.expect("store");
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .expect("raw connection");
        let t = Instant::now();
        let loaded = data::load(&pool, rows, issuer, der).await;
        println!(
            "  {engine}: loaded {rows} certificates in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        Prepared {
            store,
            pool,
            loaded,
            engine,
        }
    }

    /// Timed revocations of spare rows `from..from + n` (after the `certs` main rows).
    async fn stage(&self, certs: usize, from: usize, n: usize, revoked_before: usize) -> RevRow {
        let serials = &self.loaded.serials[certs + from..certs + from + n];
        let ids = revoke::ids_of(&self.pool, serials).await;
        let times = revoke::revoke_each(&self.store, &ids, &format!("{revoked_before}")).await;
        let row = RevRow {
            engine: self.engine,
            revoked_before,
            times,
        };
        row.print();
        row
    }

    /// Revokes main rows `indices` in bulk (not timed), printing how long it took.
    async fn bulk(&self, indices: &[usize]) {
        let t = Instant::now();
        data::revoke_bulk(&self.pool, &self.loaded, indices).await;
        println!(
            "  {}: {} revocation rows written in bulk in {:.0} s",
            self.engine,
            indices.len(),
            t.elapsed().as_secs_f64()
        );
    }
}

/// `cm.conf` with `extra` appended, beside it (its relative paths stay right).
fn conf_with(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let body = std::fs::read_to_string(dir.join("cm.conf")).expect("cm.conf");
    let path = dir.join(name);
    std::fs::write(&path, format!("{body}\n{extra}\n")).expect("write conf");
    path
}

/// The queries of the OCSP runs: `n` picks from the main set (revoked ones where `revoked`
/// says so) and, one in ten, a serial never issued.
fn queries(
    issuers: &IssuerSet,
    serials: &[String],
    revoked: &dyn Fn(usize) -> bool,
    n: usize,
    seed: u64,
) -> Vec<Query> {
    let mut picks = Picks::new(seed);
    (0..n)
        .map(|_| {
            if picks.below(10) == 0 {
                let mut s = [0u8; 16];
                openssl::rand::rand_bytes(&mut s).unwrap();
                s[0] = (s[0] & 0x3f) | 0x40;
                Query {
                    body: load::request(issuers, &hex::encode(s)),
                    expect: Expect::Unknown,
                }
            } else {
                let k = picks.below(serials.len());
                Query {
                    body: load::request(issuers, &serials[k]),
                    expect: if revoked(k) {
                        Expect::Revoked
                    } else {
                        Expect::Good
                    },
                }
            }
        })
        .collect()
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bin = install::binary();
    let revoked = a.revoked.unwrap_or(a.certs / 10).min(a.certs);
    let step = (a.certs / revoked.max(1)).max(1);
    let is_revoked = move |k: usize| k.is_multiple_of(step) && k / step < revoked;
    let started = Instant::now();
    let load_before = load_average();
    println!(
        "Keyward OCSP and revocation benchmark — {} cores, {}; load average {load_before}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        openssl::version::version()
    );
    println!(
        "{} certificates, {revoked} revoked for the OCSP runs; {} connections, {} s a run, \
         OpenSSL -multi {}, cached working set {}, {} revocations at each size\n",
        a.certs, a.connections, a.seconds, a.multi, a.working_set, a.revocations
    );
    let root = tempfile::tempdir().expect("tempdir");
    let inst = install::Install::init(&root.path().join("sqlite"), &bin, None);
    let dir = inst.dir.clone();
    let issuing = X509::from_pem(&std::fs::read(dir.join("ca/issuing.pem")).unwrap()).unwrap();
    let issuer = keyward_server::service::name_to_string(issuing.subject_name());
    let issuers = IssuerSet::new(&[issuing.to_der().unwrap()]).unwrap();
    let signer = X509::from_pem(&std::fs::read(dir.join("ocsp/signer.pem")).unwrap()).unwrap();
    let der = signer.to_der().unwrap();
    let url = format!("sqlite://{}", dir.join("keyward.db").display());
    let spare = 3 * a.revocations;

    let mut rev_rows = Vec::new();
    let sqlite = rt.block_on(Prepared::open(
        "SQLite",
        &url,
        a.certs + spare,
        &issuer,
        &der,
    ));
    // The main set's rows revoked for the OCSP runs, and the rest (revoked for the last size).
    let (first, rest): (Vec<usize>, Vec<usize>) = (0..a.certs).partition(|&k| is_revoked(k));
    rev_rows.push(rt.block_on(sqlite.stage(a.certs, 0, a.revocations, 0)));
    rt.block_on(sqlite.bulk(&first));
    rev_rows.push(rt.block_on(sqlite.stage(
        a.certs,
        a.revocations,
        a.revocations,
        first.len() + a.revocations,
    )));

    // OCSP, with `revoked` of the main set (and 2 × revocations spare rows) revoked.
    let t = Instant::now();
    let lines = rt.block_on(data::write_index(&sqlite.pool, &issuer, &dir));
    println!(
        "  index.txt: {lines} lines written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let main = &sqlite.loaded.serials[..a.certs];
    let spread = Arc::new(queries(&issuers, main, &is_revoked, 100_000, 1));
    let working = Arc::new(queries(&issuers, main, &is_revoked, a.working_set, 2));
    let mut rows = Vec::new();
    {
        let t = Instant::now();
        let files = responders::OpensslFiles {
            index_dir: &dir,
            ca: &dir.join("ca/issuing.pem"),
            signer: &dir.join("ocsp/signer.pem"),
            key: &dir.join("ocsp/signer.key.pem"),
            pass: &dir.join("ocsp/signer.pass"),
        };
        let openssl = responders::openssl(&files, a.multi, Duration::from_secs(600));
        let size = rt.block_on(load::verify(openssl.addr, &spread, 300));
        println!(
            "  OpenSSL responder up and 300 answers checked in {:.1} s (answers {}–{} bytes)",
            t.elapsed().as_secs_f64(),
            size.0,
            size.1
        );
        rows.push(rt.block_on(measure(
            &a,
            &format!("OpenSSL `openssl ocsp -multi {}`", a.multi),
            &openssl,
            Connections::KeepAlive,
            &spread,
        )));
    }
    // Uncached: first every answer read from the store (the status index off: what the
    // responder did before it had one), then from the status index.
    for (file, extra, name) in [
        (
            "cm-store.conf",
            "ocsp.cache-size = 0\nocsp.status-index = 0",
            "Keyward `keyward ocsp`, uncached, store reads (status-index 0)",
        ),
        (
            "cm-uncached.conf",
            "ocsp.cache-size = 0",
            "Keyward `keyward ocsp`, uncached, status index",
        ),
    ] {
        let conf = conf_with(&dir, file, extra);
        let t = Instant::now();
        let keyward = responders::keyward(&bin, &conf, &dir.join(format!("{file}.log")));
        if !extra.contains("status-index = 0") {
            let line = keyward.wait_for_log("OCSP status index:", Duration::from_secs(300));
            println!(
                "  {} (responder up {:.1} s after start; {} MB resident)",
                line.trim(),
                t.elapsed().as_secs_f64(),
                keyward.resident_mb()
            );
        }
        let size = rt.block_on(load::verify(keyward.addr, &spread, 300));
        println!(
            "  Keyward responder up, 300 answers checked (answers {}–{} bytes)",
            size.0, size.1
        );
        for mode in [Connections::KeepAlive, Connections::PerRequest] {
            rows.push(rt.block_on(measure(&a, name, &keyward, mode, &spread)));
        }
        println!(
            "  {name}: {} MB resident after its runs",
            keyward.resident_mb()
        );
    }
    {
        let conf = conf_with(&dir, "cm-cached.conf", "ocsp.cache-size = 100000");
        let keyward = responders::keyward(&bin, &conf, &dir.join("ocsp-cached.log"));
        // The warm-up: every query of the working set once, each answer checked.
        let t = Instant::now();
        rt.block_on(load::verify(keyward.addr, &working, working.len()));
        println!(
            "  cache warmed with {} answers in {:.1} s",
            working.len(),
            t.elapsed().as_secs_f64()
        );
        for mode in [Connections::KeepAlive, Connections::PerRequest] {
            rows.push(rt.block_on(measure(
                &a,
                &format!(
                    "Keyward `keyward ocsp`, pre-signed (cache, working set {})",
                    a.working_set
                ),
                &keyward,
                mode,
                &working,
            )));
        }
    }

    rt.block_on(sqlite.bulk(&rest));
    rev_rows.push(rt.block_on(sqlite.stage(
        a.certs,
        2 * a.revocations,
        a.revocations,
        a.certs + 2 * a.revocations,
    )));
    drop(sqlite);

    if a.pg {
        let admin = std::env::var("KEYWARD_BENCH_PG_URL")
            .or_else(|_| std::env::var("KEYWARD_TEST_PG_URL"))
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        match rt.block_on(install::PgDatabase::create(&admin, "ocsp")) {
            Ok(db) => {
                let pg = rt.block_on(Prepared::open(
                    "PostgreSQL",
                    &db.url,
                    a.certs + spare,
                    &issuer,
                    &der,
                ));
                rev_rows.push(rt.block_on(pg.stage(a.certs, 0, a.revocations, 0)));
                rt.block_on(pg.bulk(&first));
                rev_rows.push(rt.block_on(pg.stage(
                    a.certs,
                    a.revocations,
                    a.revocations,
                    first.len() + a.revocations,
                )));
                rt.block_on(pg.bulk(&rest));
                rev_rows.push(rt.block_on(pg.stage(
                    a.certs,
                    2 * a.revocations,
                    a.revocations,
                    a.certs + 2 * a.revocations,
                )));
                drop(pg);
                drop(db);
            }
            Err(e) => println!("  PostgreSQL: skipped ({e})"),
        }
    }

    let md = report(
        &a,
        revoked,
        &rows,
        &rev_rows,
        &load_before,
        started.elapsed(),
    );
    println!("\n{md}");
    if let Some(path) = &a.markdown {
        std::fs::write(path, &md).expect("write --markdown file");
        println!("(written to {})", path.display());
    }
    drop(inst);
}

/// The Markdown tables.
fn report(
    a: &Args,
    revoked: usize,
    rows: &[Row],
    rev_rows: &[RevRow],
    load_before: &str,
    took: Duration,
) -> String {
    let mut md = String::new();
    writeln!(
        md,
        "OCSP with {} certificates ({revoked} revoked), {} connections, {} s a run; load \
         average {load_before} before, {} after; {:.0} s in all.\n",
        a.certs,
        a.connections,
        a.seconds,
        load_average(),
        took.as_secs_f64()
    )
    .unwrap();
    writeln!(
        md,
        "| contender | connections | requests | req/s | p50 ms | p99 ms | connects / request | \
         CPU ms/request: responder + load generator | machine busy | × OpenSSL |"
    )
    .unwrap();
    writeln!(md, "|---|---|---:|---:|---:|---:|---:|---|---:|---:|").unwrap();
    let base = rows.first().map_or(1.0, |r| r.run.rate());
    for r in rows {
        writeln!(
            md,
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.3} + {:.3} | {:.0} % | {:.2} |",
            r.name,
            r.connections.label(),
            r.run.answered,
            r.run.rate(),
            ms(quantile(&r.run.latencies, 0.5)),
            ms(quantile(&r.run.latencies, 0.99)),
            r.run.connects as f64 / r.run.answered.max(1) as f64,
            r.per_request(r.responder_cpu),
            r.per_request(r.client_cpu),
            r.busy * 100.0,
            r.run.rate() / base
        )
        .unwrap();
    }
    let errors: usize = rows.iter().map(|r| r.run.errors).sum();
    writeln!(md, "\nFailed requests in the timed runs: {errors}.\n").unwrap();
    writeln!(md, "| target (issue 16) | measured | met |").unwrap();
    writeln!(md, "|---|---|---|").unwrap();
    let find = |name: &str, mode: Connections| {
        rows.iter()
            .find(|r| r.name.contains(name) && r.connections == mode)
    };
    for (what, name, factor) in [
        (
            "uncached ≥ 2× the reference (status index)",
            "uncached, status index",
            2.0,
        ),
        (
            "uncached ≥ 2× the reference, store reads (no index, as before)",
            "store reads",
            2.0,
        ),
        ("pre-signed ≥ 5× the reference", "pre-signed", 5.0),
    ] {
        for mode in [Connections::KeepAlive, Connections::PerRequest] {
            if let Some(r) = find(name, mode) {
                let ratio = r.run.rate() / base;
                writeln!(
                    md,
                    "| {what}, {} | {ratio:.2}× | {} |",
                    mode.label(),
                    if ratio >= factor { "yes" } else { "**no**" }
                )
                .unwrap();
            }
        }
    }
    for r in rows.iter().skip(1) {
        let p99 = ms(quantile(&r.run.latencies, 0.99));
        writeln!(
            md,
            "| p99 ≤ 10 ms: {}, {} | {p99:.2} ms | {} |",
            r.name,
            r.connections.label(),
            if p99 <= 10.0 { "yes" } else { "**no**" }
        )
        .unwrap();
    }
    writeln!(
        md,
        "\n| engine | revoked before | revocations | p50 ms | p99 ms | max ms | p50 / p50 at 0 |"
    )
    .unwrap();
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for r in rev_rows {
        let zero = rev_rows
            .iter()
            .find(|z| z.engine == r.engine && z.revoked_before == 0)
            .map_or(1.0, |z| ms(quantile(&z.times, 0.5)));
        writeln!(
            md,
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            r.engine,
            r.revoked_before,
            r.times.len(),
            ms(quantile(&r.times, 0.5)),
            ms(quantile(&r.times, 0.99)),
            ms(r.times.last().copied().unwrap_or_default()),
            ms(quantile(&r.times, 0.5)) / zero
        )
        .unwrap();
    }
    md
}
