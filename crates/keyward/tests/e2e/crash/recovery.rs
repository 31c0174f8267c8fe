//! Crash safety of key recovery that revokes (issue 16): `recover-encryption-new` recoveries
//! (the old certificate revoked as `superseded` in the transaction that records the new one)
//! with the server killed at every crash point of the issuance, and at random moments. After
//! each kill the RA's retry finishes the recovery; then: never a new certificate without the
//! old one's revocation, never a revocation without the recovery, one revocation record per
//! revocation, and the invariants of the crash loop.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sqlx::Row;

use super::{invariants, random_below, Server, POINTS};
use crate::common::tokens::{archive, PIN};
use crate::common::{block_on, on_both_engines, text, Engine, Installation};
use keyward_store::CRASH_ENV;

fn subject(i: usize) -> String {
    format!("CN=Recover {i},O=Example,C=SE")
}

/// Per subject: (recovered certificates, old certificates revoked with reason 4 = superseded,
/// revocation audit records), by SQL and the audit log.
fn state(inst: &Installation) -> BTreeMap<String, (usize, usize, usize)> {
    block_on(async {
        let raw = inst.raw().await;
        let mut out: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
        let rows = sqlx::query(
            "SELECT c.id, c.subject, c.key_origin, r.reason FROM certificates c \
             LEFT JOIN revocations r ON r.certificate_id = c.id WHERE c.subject LIKE 'CN=Recover %'",
        )
        .fetch_all(&raw)
        .await
        .unwrap();
        let mut subject_of = BTreeMap::new();
        for row in &rows {
            let subject: String = row.get("subject");
            subject_of.insert(row.get::<i64, _>("id").to_string(), subject.clone());
            let entry = out.entry(subject).or_default();
            if row.get::<String, _>("key_origin") == "recovered" {
                entry.0 += 1;
            }
            match row.get::<Option<i64>, _>("reason") {
                Some(4) => entry.1 += 1,
                Some(other) => panic!("unexpected reason {other}"),
                None => {}
            }
        }
        raw.close().await;
        let store = inst.store().await;
        for record in store.audit_records(1_000_000).await.unwrap() {
            if record.action == "revoke-certificate" {
                let object = record.object.unwrap_or_default();
                let subject = subject_of
                    .get(&object)
                    .unwrap_or_else(|| panic!("a revocation record of no certificate: {object}"));
                out.entry(subject.clone()).or_default().2 += 1;
            }
        }
        store.close().await;
        out
    })
}

fn recovery_crash_loop(engine: Engine) {
    let iterations = 2 * POINTS.len() + 2;
    let mut inst = Installation::on(engine);
    let old: Vec<String> = (0..iterations)
        .map(|i| {
            let json = archive(&inst, &subject(i), &format!("recover-{i}.p12"));
            json["certificates"][0]["certificate_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let port: u16 = inst.url.rsplit(':').next().unwrap().parse().unwrap();
    inst.stop_server();
    let logs = inst.out.join("recovery-logs");
    std::fs::create_dir_all(&logs).unwrap();
    for i in 0..iterations {
        let point = (i < 2 * POINTS.len()).then(|| POINTS[i % POINTS.len()]);
        let server = Server::start(&inst, port, point, &logs.join(format!("server-{i}.log")));
        let p12 = inst.out.join(format!("recovered-{i}.p12"));
        let mut ra = inst.ra(&[
            "issue",
            "--procedure",
            "recover-encryption-new",
            "--subject",
            &subject(i),
            "--p12",
            p12.to_str().unwrap(),
            "--pin-stdin",
            "--json",
        ]);
        ra.env_remove(CRASH_ENV);
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
        let restart = logs.join(format!("server-{i}-restarted.log"));
        let restarted = match point {
            Some(point) => {
                let log = server
                    .wait_for_death(Duration::from_secs(30))
                    .unwrap_or_else(|| panic!("the server did not reach crash point {point}"));
                assert!(
                    log.contains(&format!("crash point {point} reached")),
                    "{log}"
                );
                Server::start(&inst, port, None, &restart)
            }
            None => {
                std::thread::sleep(Duration::from_millis(random_below(1500)));
                server.kill();
                Server::start(&inst, port, None, &restart)
            }
        };
        let out = ra.wait_with_output().expect("wait for the RA");
        assert!(
            out.status.success(),
            "iteration {i} ({point:?}): {}",
            text(&out)
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            json["revoked"][0]["certificate_id"],
            old[i].as_str(),
            "{json}"
        );
        assert_eq!(json["revoked"][0]["reason"], "superseded", "{json}");
        restarted.kill();
        let state = state(&inst);
        assert_eq!(
            state.get(&subject(i)),
            Some(&(1, 1, 1)),
            "iteration {i} ({point:?}): one recovery, its revocation and one record"
        );
    }
    // Every subject: a new certificate and the old one's revocation, or neither (none here:
    // every RA finished), each revocation recorded once.
    for (subject, (recovered, revoked, records)) in state(&inst) {
        assert!(
            recovered == revoked && revoked == records && recovered <= 1,
            "{subject}: {recovered} recovered, {revoked} revoked, {records} records"
        );
    }
    invariants(&inst);
}

on_both_engines!(recovery_crash_loop);
