//! Tokens per second, end to end and beside its baselines, and search latency at size.
//!
//! ```sh
//! cargo bench -p keyward --bench tokens                       # tokens: ~5 minutes on 2 cores
//! cargo bench -p keyward --bench tokens -- --size 1000000     # + 1M-row search (SQLite and PostgreSQL)
//! KEYWARD_BENCH_SIZE=1000000 cargo bench -p keyward --bench tokens
//! ```
//!
//! Options (after `--`): `--ec N` EC tokens per contender (default 400), `--rsa N` RSA tokens per
//! contender (default 40), `--jobs N` concurrent jobs for every contender (default 4),
//! `--latency N` tokens of the one-job latency runs (default 20), `--size ROWS` (default 0:
//! skipped; also `KEYWARD_BENCH_SIZE`), `--size-only`, `--ec-only` (crypto-only and E2E EC
//! only: a quick check of the EC ratio), `--no-pg`, `--markdown FILE` (write the
//! tables there too), `--metrics` (also EC tokens/s on SQLite with the server's Prometheus
//! metrics off and on, in alternating rounds of the same process, and their ratio).
//!
//! PostgreSQL: `KEYWARD_BENCH_PG_URL`, else `KEYWARD_TEST_PG_URL`, else
//! `postgres://postgres@127.0.0.1:5432/postgres`; the bench creates `keyward_bench_*` databases
//! and drops them. When it is unreachable, the PostgreSQL rows are skipped with the reason.
//!
//! The server is the real `keyward` binary (`CARGO_BIN_EXE_keyward`, built by `cargo bench` with
//! the bench profile; `KEYWARD_BIN=path` to measure another build), over real HTTPS with client
//! certificates; the RA is the `keyward_ra` library that `keyward ra issue` and `keyward ra
//! batch` run, in this process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod baseline;
#[path = "../common/certs.rs"]
mod certs;
mod e2e;
mod install;
mod metrics;
mod report;
mod size;
mod stats;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward_crypto::KeyPool;
use keyward_policy::keyspec::Curve;
use keyward_policy::KeySpec;

use e2e::Job;
use install::{Install, PgDatabase};
use stats::{ms, Measure};

/// The fixed token PIN (`soft-signing` takes an entered PIN).
pub const PIN: &str = "Correct-Horse-7";
const P256: KeySpec = KeySpec::Ec(Curve::Secp256r1);
const RSA2048: KeySpec = KeySpec::Rsa(2048);

struct Args {
    ec: usize,
    rsa: usize,
    jobs: usize,
    latency: usize,
    size: usize,
    size_only: bool,
    ec_only: bool,
    pg: bool,
    markdown: Option<std::path::PathBuf>,
    metrics: bool,
}

fn args() -> Args {
    let mut a = Args {
        ec: 400,
        rsa: 40,
        jobs: 4,
        latency: 20,
        size: std::env::var("KEYWARD_BENCH_SIZE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        size_only: false,
        ec_only: false,
        pg: true,
        markdown: None,
        metrics: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a number"))
        };
        match arg.as_str() {
            "--ec" => a.ec = num("--ec"),
            "--rsa" => a.rsa = num("--rsa"),
            "--jobs" => a.jobs = num("--jobs").max(1),
            "--latency" => a.latency = num("--latency").max(1),
            "--size" => a.size = num("--size"),
            "--size-only" => a.size_only = true,
            "--ec-only" => a.ec_only = true,
            "--no-pg" => a.pg = false,
            "--metrics" => a.metrics = true,
            "--markdown" => a.markdown = it.next().map(Into::into),
            _ => {} // `cargo bench` passes --bench
        }
    }
    a
}

fn pg_admin_url() -> String {
    std::env::var("KEYWARD_BENCH_PG_URL")
        .or_else(|_| std::env::var("KEYWARD_TEST_PG_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cores} cores ({cpu}), {}, keyward {}",
        openssl::version::version(),
        env!("CARGO_PKG_VERSION")
    )
}

/// A row of the report.
struct Row {
    setup: String,
    m: Measure,
}

fn print_row(r: &Row) {
    println!(
        "  {:<22} {:<58} jobs {} n {:>4}  {:>8.1} tokens/s  p50 {:>8.1} ms  p99 {:>8.1} ms  {}",
        r.setup,
        r.m.name,
        r.m.jobs,
        r.m.tokens,
        r.m.rate(),
        ms(r.m.quantile(0.5)),
        ms(r.m.quantile(0.99)),
        r.m.cpu_text()
    );
}

async fn warm_pool(target: usize) -> Arc<KeyPool> {
    let pool = Arc::new(KeyPool::new(vec![(RSA2048, target)]));
    let p = pool.clone();
    let full = tokio::task::spawn_blocking(move || p.wait_full(Duration::from_secs(600)))
        .await
        .unwrap();
    assert!(full, "the RA key pool did not fill: {:?}", pool.stats());
    pool
}

/// Every end-to-end contender on one setup (engine and node count).
async fn e2e_suite(
    a: &Args,
    label: &str,
    inst: &mut Install,
    nodes: usize,
    latency: bool,
    rows: &mut Vec<Row>,
) {
    let out = inst.dir.join("out");
    inst.set_key_pool(None);
    inst.start(nodes);
    let pids = inst.pids();
    let clients = inst.clients();
    let ec = Job {
        procedure: "soft-signing",
        key_spec: Some("EC:secp256r1"),
        pool: None,
    };
    let rsa = Job {
        key_spec: Some("RSA:2048"),
        ..ec.clone()
    };
    let archived = Job {
        procedure: "soft-encryption-archived",
        key_spec: None,
        pool: None,
    };
    let mut push = |m: Measure| {
        let row = Row {
            setup: label.to_string(),
            m,
        };
        print_row(&row);
        rows.push(row);
    };
    // Warm-up: connections, caches, the database's first pages.
    e2e::run(
        "warm-up",
        &clients,
        &pids,
        &out,
        a.jobs,
        4 * a.jobs,
        ec.clone(),
    )
    .await;
    push(
        e2e::run(
            "E2E soft-signing EC:secp256r1",
            &clients,
            &pids,
            &out,
            a.jobs,
            a.ec,
            ec.clone(),
        )
        .await,
    );
    if a.ec_only {
        drop(clients);
        inst.stop();
        return;
    }
    push(
        e2e::run(
            "E2E soft-signing RSA:2048, no pool",
            &clients,
            &pids,
            &out,
            a.jobs,
            a.rsa,
            rsa.clone(),
        )
        .await,
    );
    let pool = warm_pool(a.rsa).await;
    let pooled = Job {
        pool: Some(pool.clone()),
        ..rsa.clone()
    };
    push(
        e2e::run(
            &format!("E2E soft-signing RSA:2048, RA key pool (warm, {})", a.rsa),
            &clients,
            &pids,
            &out,
            a.jobs,
            a.rsa,
            pooled,
        )
        .await,
    );
    drop(pool);
    push(
        e2e::run(
            "E2E soft-encryption-archived RSA:2048 (server), no pool",
            &clients,
            &pids,
            &out,
            a.jobs,
            a.rsa,
            archived.clone(),
        )
        .await,
    );
    if latency {
        let pin_file = inst.dir.join("officer/admin.pin");
        let conf = inst.client_conf(0);
        let m = tokio::task::block_in_place(|| {
            e2e::cli(
                &install::binary(),
                &conf,
                &pin_file,
                &pids,
                &out,
                a.jobs,
                a.ec / 4,
            )
        });
        push(m);
        push(
            e2e::run(
                "latency: E2E soft-signing EC:secp256r1",
                &clients,
                &pids,
                &out,
                1,
                a.latency,
                ec.clone(),
            )
            .await,
        );
        push(
            e2e::run(
                "latency: E2E soft-signing RSA:2048, no pool",
                &clients,
                &pids,
                &out,
                1,
                a.latency,
                rsa.clone(),
            )
            .await,
        );
        let pool = warm_pool(a.latency).await;
        let pooled = Job {
            pool: Some(pool.clone()),
            ..rsa.clone()
        };
        push(
            e2e::run(
                "latency: E2E soft-signing RSA:2048, RA key pool (warm)",
                &clients,
                &pids,
                &out,
                1,
                a.latency,
                pooled,
            )
            .await,
        );
        drop(pool);
    }
    drop(clients);

    // The server-side pool: restart with kra.key-pool, wait until every node's pool is full.
    let target = a.rsa.max(a.latency);
    inst.set_key_pool(Some(&format!("RSA:2048={target}")));
    inst.start(nodes);
    let pids = inst.pids();
    let clients = inst.clients();
    let t = Instant::now();
    assert!(
        inst.wait_pools_full(Duration::from_secs(900), 0),
        "server key pools did not fill: {:?}",
        inst.pool_lines()
    );
    println!(
        "  ({label}: kra.key-pool = RSA:2048={target} filled in {:.0} s on {nodes} node(s))",
        t.elapsed().as_secs_f64()
    );
    e2e::run(
        "warm-up",
        &clients,
        &pids,
        &out,
        a.jobs,
        4 * a.jobs,
        ec.clone(),
    )
    .await;
    push(
        e2e::run(
            &format!(
                "E2E soft-encryption-archived RSA:2048 (server), kra.key-pool (warm, {target})"
            ),
            &clients,
            &pids,
            &out,
            a.jobs,
            a.rsa,
            archived.clone(),
        )
        .await,
    );
    // The servers log their pools once a second, when they change.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    println!("  pools right after the run: {:?}", inst.pool_lines());
    let t = Instant::now();
    assert!(inst.wait_pools_full(Duration::from_secs(900), a.rsa as u64));
    println!(
        "  pools refilled in {:.0} s: {:?}",
        t.elapsed().as_secs_f64(),
        inst.pool_lines()
    );
    if latency {
        push(
            e2e::run(
                "latency: E2E soft-encryption-archived RSA:2048, kra.key-pool (warm)",
                &clients,
                &pids,
                &out,
                1,
                a.latency,
                archived.clone(),
            )
            .await,
        );
    }
    drop(clients);
    inst.stop();
    inst.set_key_pool(None);
}

fn find<'r>(rows: &'r [Row], setup: &str, name: &str) -> Option<&'r Measure> {
    rows.iter()
        .find(|r| r.setup == setup && r.m.name == name)
        .map(|r| &r.m)
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bin = install::binary();
    println!("Keyward token benchmark — {}", machine());
    println!("binary: {}", bin.display());
    println!(
        "jobs {} for every contender; EC tokens {}, RSA tokens {}, latency tokens {}\n",
        a.jobs, a.ec, a.rsa, a.latency
    );
    let root = tempfile::tempdir().expect("tempdir");
    let mut md = String::new();
    let mut rows: Vec<Row> = Vec::new();

    let mut sqlite = Install::init(&root.path().join("sqlite"), &bin, None);
    let crypto = baseline::Crypto::load(&sqlite.dir);

    if !a.size_only {
        // Baselines: one RSA-2048 key generation; the crypto alone; the OpenSSL pipeline.
        let mut gens: Vec<Duration> = (0..a.latency.max(20))
            .map(|_| {
                let t = Instant::now();
                keyward_crypto::generate_key(RSA2048).unwrap();
                t.elapsed()
            })
            .collect();
        gens.sort();
        let keygen_median = stats::quantile(&gens, 0.5);
        let keygen_mean = gens.iter().sum::<Duration>() / gens.len() as u32;
        println!(
            "RSA-2048 key generation, one at a time (n {}): median {:.0} ms, mean {:.0} ms, p90 {:.0} ms, max {:.0} ms",
            gens.len(),
            ms(keygen_median),
            ms(keygen_mean),
            ms(stats::quantile(&gens, 0.9)),
            ms(gens[gens.len() - 1])
        );
        let mut push = |setup: &str, m: Measure| {
            let row = Row {
                setup: setup.into(),
                m,
            };
            print_row(&row);
            rows.push(row);
        };
        let (wall, lat, cpu) = stats::threads(a.jobs, a.ec, |i| {
            crypto.token(P256, i);
        });
        push(
            "in-process",
            Measure::new("crypto only EC:secp256r1", a.jobs, wall, lat).with_cpu(cpu),
        );
        if !a.ec_only {
            let (wall, lat, cpu) = stats::threads(a.jobs, a.rsa, |i| {
                crypto.token(RSA2048, i);
            });
            push(
                "in-process",
                Measure::new("crypto only RSA:2048", a.jobs, wall, lat).with_cpu(cpu),
            );
            openssl_contenders(&a, &sqlite, root.path(), &mut push);
        }
        println!();

        rt.block_on(e2e_suite(
            &a,
            "SQLite, 1 node",
            &mut sqlite,
            1,
            true,
            &mut rows,
        ));
        let mut metrics_md = String::new();
        if a.metrics {
            rt.block_on(metrics::compare(&mut sqlite, a.ec, a.jobs, &mut metrics_md));
        }
        if a.pg {
            for (label, nodes, tag) in [
                ("PostgreSQL, 1 node", 1, "one"),
                ("PostgreSQL, 2 nodes", 2, "two"),
            ] {
                match rt.block_on(PgDatabase::create(&pg_admin_url(), tag)) {
                    Ok(db) => {
                        let mut inst = Install::init(&root.path().join(tag), &bin, Some(db));
                        rt.block_on(e2e_suite(&a, label, &mut inst, nodes, false, &mut rows));
                    }
                    Err(e) => {
                        println!(
                            "  {label}: skipped, PostgreSQL at {} is not usable: {e}",
                            pg_admin_url()
                        );
                    }
                }
            }
        } else {
            println!("  PostgreSQL: skipped (--no-pg)");
        }
        report::report(&rows, keygen_median, keygen_mean, &mut md);
        md.push_str(&metrics_md);
    }

    if a.size > 0 {
        let der = crypto.certificate_der();
        let sealed = sealed_envelope();
        let mut results = Vec::new();
        println!("\nSearch with {} certificates and archived keys:", a.size);
        let db = root.path().join("size.db");
        results.extend(rt.block_on(size::run(
            "SQLite",
            &format!("sqlite://{}", db.display()),
            a.size,
            &der,
            &sealed,
        )));
        let _ = std::fs::remove_file(&db);
        if a.pg {
            match rt.block_on(PgDatabase::create(&pg_admin_url(), "size")) {
                Ok(pg) => results.extend(rt.block_on(size::run(
                    "PostgreSQL",
                    &pg.url,
                    a.size,
                    &der,
                    &sealed,
                ))),
                Err(e) => println!("  PostgreSQL: skipped ({e})"),
            }
        }
        writeln!(
            md,
            "\n### Search with {} certificates and {} archived keys\n",
            a.size, a.size
        )
        .unwrap();
        writeln!(
            md,
            "| engine | query | runs | rows returned (max) | p50 ms | p99 ms | p99 < 10 ms |"
        )
        .unwrap();
        writeln!(md, "|---|---|---:|---:|---:|---:|---|").unwrap();
        for r in &results {
            writeln!(
                md,
                "| {} | {} | {} | {} | {:.2} | {:.2} | {} |",
                r.engine,
                r.query,
                r.runs,
                r.rows,
                ms(r.p50),
                ms(r.p99),
                if r.query.contains("no index") {
                    "(before 0008, for comparison)"
                } else if ms(r.p99) < 10.0 {
                    "met"
                } else {
                    "**missed**"
                }
            )
            .unwrap();
        }
    }
    println!("\n{md}");
    if let Some(path) = &a.markdown {
        std::fs::write(path, &md).expect("write --markdown file");
        println!("(written to {})", path.display());
    }
    drop(sqlite);
}

/// A real KRA envelope of an RSA-2048 key (its size, for the archived-key rows).
fn sealed_envelope() -> Vec<u8> {
    let kra = keyward_kra::Kra::new(Some(Box::new(
        keyward_kra::SoftwareArchiveKey::generate().expect("archive key"),
    )));
    let ra = keyward_crypto::transport::TransportKeyPair::generate().expect("transport key");
    let recipient = keyward_kra::Kra::transport_key(&ra.public_der().unwrap()).unwrap();
    kra.generate(RSA2048, true, &recipient, "size")
        .expect("archived key")
        .envelope
        .expect("envelope")
        .sealed
}

/// The classic OpenSSL command-line pipeline with the installation's issuing CA.
fn openssl_contenders(
    a: &Args,
    inst: &Install,
    root: &std::path::Path,
    push: &mut impl FnMut(&str, Measure),
) {
    let pipeline = baseline::OpensslPipeline::new(&inst.dir, &root.join("openssl"));
    let (wall, lat, cpu) = stats::threads(a.jobs, a.ec / 2, |i| pipeline.token(P256, i));
    push(
        "openssl CLI",
        Measure::new("openssl req + x509 + pkcs12, EC P-256", a.jobs, wall, lat).with_cpu(cpu),
    );
    let (wall, lat, cpu) = stats::threads(a.jobs, a.rsa, |i| pipeline.token(RSA2048, i));
    push(
        "openssl CLI",
        Measure::new("openssl req + x509 + pkcs12, RSA-2048", a.jobs, wall, lat).with_cpu(cpu),
    );
}
