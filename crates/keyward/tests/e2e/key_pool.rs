//! The key pools through the real binary, HTTPS, SQLite and PostgreSQL. The KRA's (cm.conf
//! `kra.key-pool`): archived RSA-2048 keys come from the pool, are valid, match their
//! certificates, are never handed out twice, and the pool refills to its target. The RA's
//! (`keyward ra batch --key-pool N`): every token holds a valid key of its own.

use crate::common;

use std::time::{Duration, Instant};

use common::tokens::{archive, p12_contents};
use common::{block_on, on_both_engines, Engine, Installation};

const TARGET: usize = 4;

/// The server's last `key pool:` log line.
fn last_pool_line(inst: &Installation) -> Option<String> {
    let log = inst.log();
    log.lines()
        .rev()
        .find(|l| l.contains("key pool: RSA:2048"))
        .map(str::to_string)
}

/// A counter from a `key pool:` line (`taken 3` → 3).
fn counter(line: &str, name: &str) -> u64 {
    let rest = &line[line
        .find(name)
        .unwrap_or_else(|| panic!("{name} in {line}"))
        + name.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {line}"))
}

/// Waits until the log shows the pool full after at least `served` keys were handed out (from
/// the pool or, when it ran dry under load, generated on demand).
fn wait_full(inst: &Installation, served: u64) -> String {
    let full = format!("ready {TARGET}/{TARGET}");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(line) = last_pool_line(inst) {
            let handed_out = counter(&line, "taken") + counter(&line, "generated on demand");
            if line.contains(&full) && handed_out >= served {
                return line;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the pool did not fill: {:?}\n{}",
            last_pool_line(inst),
            inst.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

on_both_engines!(
    archived_keys_come_from_the_pool_once_each_and_the_pool_refills,
    batch_takes_ra_keys_from_its_key_pool
);

fn archived_keys_come_from_the_pool_once_each_and_the_pool_refills(engine: Engine) {
    let inst = Installation::with_cm_conf_on(engine, &format!("kra.key-pool = RSA:2048={TARGET}"));
    let line = wait_full(&inst, 0);
    assert_eq!(counter(&line, "generated on demand"), 0, "{line}");

    let tokens = TARGET + 2;
    let mut moduli = Vec::new();
    for i in 0..tokens {
        let subject = format!("CN=Pool User {i},O=Example,C=SE");
        let json = archive(&inst, &subject, &format!("pool-{i}.p12"));
        assert_eq!(json["certificates"][0]["key_origin"], "archived");
        let (keys, certs) = p12_contents(&inst.out.join(format!("pool-{i}.p12")));
        assert_eq!(keys.len(), 1);
        let rsa = keys[0].rsa().expect("an RSA key");
        assert_eq!(rsa.size() * 8, 2048);
        assert!(
            rsa.check_key().expect("RSA key check"),
            "token {i}: invalid key"
        );
        let cert = certs
            .iter()
            .find(|c| c.public_key().unwrap().public_eq(&keys[0]))
            .unwrap_or_else(|| panic!("token {i}: no certificate for its key"));
        let cn = cert
            .subject_name()
            .entries_by_nid(openssl::nid::Nid::COMMONNAME)
            .next()
            .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned());
        assert_eq!(cn.as_deref(), Some(format!("Pool User {i}").as_str()));
        moduli.push(rsa.n().to_vec());
    }
    let mut distinct = moduli.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), tokens, "a pooled key was handed out twice");

    // Every key is archived once, under its own certificate.
    let archived = block_on(async {
        inst.store()
            .await
            .find_archived_keys(&Default::default())
            .await
            .unwrap()
    });
    assert_eq!(archived.len(), tokens);

    // The pool refills to its target, and the first TARGET tokens did not wait for a key.
    let line = wait_full(&inst, tokens as u64);
    assert_eq!(
        counter(&line, "taken") + counter(&line, "generated on demand"),
        tokens as u64,
        "{line}"
    );
    assert!(counter(&line, "taken") >= TARGET as u64, "{line}");
    assert!(
        counter(&line, "generated in background") >= (TARGET + TARGET) as u64,
        "{line}"
    );
    let log = inst.log();
    assert!(!log.contains("PRIVATE KEY") && !log.contains("BEGIN RSA"));
}

/// `keyward ra batch --key-pool N`: the RA takes its RSA-2048 keys from a pool generated ahead;
/// every token opens with its PIN and holds a valid key of its own.
fn batch_takes_ra_keys_from_its_key_pool(engine: Engine) {
    let inst = Installation::on(engine);
    let csv_path = inst.out.join("staff.csv");
    let rows = 4;
    let mut body = String::from("subject\n");
    for i in 0..rows {
        body.push_str(&format!("\"CN=Batch Pool {i},O=Example,C=SE\"\n"));
    }
    std::fs::write(&csv_path, body).unwrap();
    let out_dir = inst.out.join("tokens");
    let out = common::run(
        inst.ra(&[
            "batch",
            "--csv",
            csv_path.to_str().unwrap(),
            "--procedure",
            "soft-signing-show",
            "--out-dir",
            out_dir.to_str().unwrap(),
            "--key-spec",
            "RSA:2048",
            "--key-pool",
            "3",
            "--jobs",
            "2",
            "--json",
        ]),
        None,
    );
    assert!(out.status.success(), "{}", common::text(&out));
    let mut pins = csv::Reader::from_path(out_dir.join("pins.csv")).unwrap();
    let mut moduli = Vec::new();
    for record in pins.records() {
        let record = record.unwrap();
        let (p12, pin) = (&record[2], &record[3]);
        let (keys, _) = common::tokens::p12_contents_with(std::path::Path::new(p12), pin);
        let rsa = keys[0].rsa().expect("an RSA key");
        assert_eq!(rsa.size() * 8, 2048);
        assert!(rsa.check_key().unwrap());
        moduli.push(rsa.n().to_vec());
    }
    assert_eq!(moduli.len(), rows);
    moduli.sort();
    moduli.dedup();
    assert_eq!(moduli.len(), rows, "a pooled key was used twice");
}
