//! What the metrics cost one token, measured apart from the token bench's noise (issue 15:
//! target ≤ 2 %). Per issued token the server records one request, one issued token with its
//! latency and three database timings (what `metrics::requests` and `service::issue`/`gate`
//! call), from 4 threads at once as the server's workers do; a scrape encodes every family.
//! The baseline, in the same run: one P-384 ECDSA signature, the CA's part of every token
//! (the server spends several milliseconds of CPU per token; the signature is a fraction of it,
//! so the ratio printed is an upper bound of the overhead).
//!
//!   cargo bench -p keyward-server --bench metrics_cost [-- --tokens N]

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench fails by panicking

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward_server::metrics::{DbOperation, Metrics};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::sign::Signer;

const THREADS: usize = 4;
const PROCEDURES: [&str; 4] = [
    "soft-signing",
    "soft-dual",
    "soft-signing-show",
    "tls-server",
];

/// The recording one issued token causes.
fn one_token(m: &Metrics, i: usize) {
    let took = Duration::from_micros(7_000 + (i % 5_000) as u64);
    m.db_time(DbOperation::CheckNonce, took / 20);
    m.db_time(DbOperation::ReadProcedures, took / 30);
    m.db_time(DbOperation::RecordIssuance, took / 4);
    m.token_issued(PROCEDURES[i % PROCEDURES.len()], took);
    m.request(Some("/v1/tokens"), 200);
}

/// Nanoseconds of metrics work per token, `tokens` tokens over [`THREADS`] threads.
fn recording_ns(m: &Arc<Metrics>, tokens: usize) -> f64 {
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = Arc::clone(m);
            std::thread::spawn(move || {
                for i in (t..tokens).step_by(THREADS) {
                    one_token(&m, i);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // CPU time spent, as the threads ran in parallel on at most THREADS cores.
    let cores = THREADS.min(std::thread::available_parallelism().map_or(1, |n| n.get()));
    started.elapsed().as_nanos() as f64 * cores as f64 / tokens as f64
}

fn signature_ns(rounds: usize) -> f64 {
    let group = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let tbs = vec![0x42_u8; 900]; // about a TBSCertificate
    let started = Instant::now();
    for _ in 0..rounds {
        let mut s = Signer::new(MessageDigest::sha384(), &key).unwrap();
        s.update(&tbs).unwrap();
        std::hint::black_box(s.sign_to_vec().unwrap());
    }
    started.elapsed().as_nanos() as f64 / rounds as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tokens = args
        .iter()
        .position(|a| a == "--tokens")
        .and_then(|i| args.get(i + 1))
        .map_or(2_000_000, |n| n.parse().expect("--tokens N"));
    let m = Arc::new(Metrics::new());
    m.set_open_connections(12);
    one_token(&m, 0); // the label sets exist, as after the first token
    let mut rows = Vec::new();
    for round in 1..=3 {
        let sig = signature_ns(2_000);
        let rec = recording_ns(&m, tokens);
        let scrape = {
            let started = Instant::now();
            for _ in 0..200 {
                std::hint::black_box(m.encode());
            }
            started.elapsed().as_nanos() as f64 / 200.0
        };
        rows.push((round, rec, scrape, sig));
    }
    println!("metrics cost per token against one P-384 signature, same run ({THREADS} threads):");
    println!(
        "{:>5} {:>16} {:>14} {:>16} {:>14} {:>22}",
        "round",
        "record ns/token",
        "scrape µs",
        "P-384 sign µs",
        "record/sign",
        "scrape/sign (1 per s)"
    );
    for (round, rec, scrape, sig) in rows {
        println!(
            "{round:>5} {rec:>16.0} {:>14.1} {:>16.1} {:>13.3}% {:>21.4}%",
            scrape / 1e3,
            sig / 1e3,
            100.0 * rec / sig,
            // one scrape a second shared by ~55 tokens a second (the token bench's rate)
            100.0 * scrape / 55.0 / sig
        );
    }
}
