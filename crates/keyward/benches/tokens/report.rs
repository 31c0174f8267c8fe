//! The tables and ratios of a tokens run, as Markdown (BENCHMARKS.md is written from them).

use std::fmt::Write as _;
use std::time::Duration;

use super::stats::{ms, Measure};
use super::{find, Row};

/// Appends the results table and the ratio table of `rows` to `md`.
pub(super) fn report(
    rows: &[Row],
    keygen_median: Duration,
    keygen_mean: Duration,
    md: &mut String,
) {
    let rate = |setup: &str, name: &str| find(rows, setup, name).map(Measure::rate);
    writeln!(
        md,
        "| setup | contender | jobs | tokens | tokens/s | p50 ms | p99 ms | CPU ms/token |"
    )
    .unwrap();
    writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|").unwrap();
    for r in rows {
        writeln!(
            md,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {} |",
            r.setup,
            r.m.name,
            r.m.jobs,
            r.m.tokens,
            r.m.rate(),
            ms(r.m.quantile(0.5)),
            ms(r.m.quantile(0.99)),
            r.m.cpu_per_token()
                .map_or_else(String::new, |c| format!("{c:.1}"))
        )
        .unwrap();
    }
    writeln!(md, "\n| ratio | value | target |").unwrap();
    writeln!(md, "|---|---:|---|").unwrap();
    let crypto_ec = rate("in-process", "crypto only EC:secp256r1");
    let crypto_rsa = rate("in-process", "crypto only RSA:2048");
    let openssl_ec = rate("openssl CLI", "openssl req + x509 + pkcs12, EC P-256");
    let openssl_rsa = rate("openssl CLI", "openssl req + x509 + pkcs12, RSA-2048");
    for setup in [
        "SQLite, 1 node",
        "PostgreSQL, 1 node",
        "PostgreSQL, 2 nodes",
    ] {
        let Some(ec) = rate(setup, "E2E soft-signing EC:secp256r1") else {
            continue;
        };
        if let Some(c) = crypto_ec {
            let v = ec / c;
            writeln!(
                md,
                "| {setup}: E2E EC / crypto-only EC | {:.0} % ({ec:.1} / {c:.1} tokens/s) | ≥ 70 %: {} |",
                v * 100.0,
                if v >= 0.7 { "met" } else { "**missed**" }
            )
            .unwrap();
        }
        let cpu_e2e =
            find(rows, setup, "E2E soft-signing EC:secp256r1").and_then(Measure::cpu_per_token);
        let cpu_crypto =
            find(rows, "in-process", "crypto only EC:secp256r1").and_then(Measure::cpu_per_token);
        if let (Some(e), Some(c)) = (cpu_e2e, cpu_crypto) {
            writeln!(
                md,
                "| {setup}: crypto-only EC CPU / E2E EC CPU per token (the throughput ratio on an idle, CPU-bound machine) | {:.0} % ({c:.1} / {e:.1} ms) | ≥ 70 %: {} |",
                c / e * 100.0,
                if c / e >= 0.7 { "met" } else { "**missed**" }
            )
            .unwrap();
        }
        if let Some(o) = openssl_ec {
            writeln!(
                md,
                "| {setup}: E2E EC / openssl pipeline EC | {:.1}× ({ec:.1} / {o:.1} tokens/s) | |",
                ec / o
            )
            .unwrap();
        }
        let rsa = rate(setup, "E2E soft-signing RSA:2048, no pool");
        if let (Some(r), Some(c)) = (rsa, crypto_rsa) {
            writeln!(
                md,
                "| {setup}: E2E RSA / crypto-only RSA | {:.0} % ({r:.1} / {c:.1} tokens/s) | |",
                r / c * 100.0
            )
            .unwrap();
        }
        if let (Some(r), Some(o)) = (rsa, openssl_rsa) {
            writeln!(
                md,
                "| {setup}: E2E RSA / openssl pipeline RSA | {:.1}× ({r:.1} / {o:.1} tokens/s) | |",
                r / o
            )
            .unwrap();
        }
        let pooled = rows
            .iter()
            .find(|r| {
                r.setup == setup
                    && r.m
                        .name
                        .starts_with("E2E soft-signing RSA:2048, RA key pool")
            })
            .map(|r| r.m.rate());
        if let (Some(p), Some(r)) = (pooled, rsa) {
            writeln!(md, "| {setup}: RSA with warm RA pool / without | {:.1}× ({p:.1} / {r:.1} tokens/s) | |", p / r).unwrap();
        }
        let arch = rate(
            setup,
            "E2E soft-encryption-archived RSA:2048 (server), no pool",
        );
        let arch_pool = rows
            .iter()
            .find(|r| r.setup == setup && r.m.name.contains("kra.key-pool (warm,"))
            .map(|r| r.m.rate());
        if let (Some(p), Some(r)) = (arch_pool, arch) {
            writeln!(md, "| {setup}: archived RSA with warm kra.key-pool / without | {:.1}× ({p:.1} / {r:.1} tokens/s) | |", p / r).unwrap();
        }
    }
    for (name, what) in [
        (
            "latency: E2E soft-signing RSA:2048, RA key pool (warm)",
            "RA-side RSA-2048 token",
        ),
        (
            "latency: E2E soft-encryption-archived RSA:2048, kra.key-pool (warm)",
            "server-side archived RSA-2048 token",
        ),
    ] {
        if let Some(m) = find(rows, "SQLite, 1 node", name) {
            let p50 = m.quantile(0.5);
            let v = p50.as_secs_f64() / keygen_median.as_secs_f64();
            writeln!(
                md,
                "| {what}, warm pool, p50 latency / one RSA-2048 keygen (median) | {:.2} ({:.1} / {:.0} ms; keygen mean {:.0} ms) | < 0.20: {} |",
                v,
                ms(p50),
                ms(keygen_median),
                ms(keygen_mean),
                if v < 0.2 { "met" } else { "**missed**" }
            )
            .unwrap();
        }
    }
}
