//! The audit log through the real binary: the server seals it, `keyward audit seal`, `verify`
//! and `search` work on an installation, and tampering with the database (SQLite or
//! PostgreSQL) makes `verify` exit 9 naming the record.

use crate::common;

use std::process::Output;

use common::tokens::{archive, ALICE};
use common::{block_on, keyward, on_both_engines, run, text, Engine, Installation};
use serde_json::Value;

fn audit(inst: &Installation, args: &[&str]) -> Output {
    let mut cmd = keyward();
    cmd.arg("audit").args(args).arg("--dir").arg(&inst.dir);
    run(cmd, None)
}

fn ok_json(inst: &Installation, args: &[&str]) -> Value {
    let out = audit(inst, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn actions(records: &Value) -> Vec<(String, String)> {
    records
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or_default().to_string(),
                r["object"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

on_both_engines!(seal_verify_search_and_detect_tampering);

fn seal_verify_search_and_detect_tampering(engine: Engine) {
    let inst = Installation::on(engine);
    // The server seals at start (the records `init` wrote) and then every minute.
    let sealed_by_server = block_on(async {
        let store = inst.store().await;
        let mut seal = None;
        for _ in 0..100 {
            seal = store.last_audit_seal().await.unwrap();
            if seal.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        store.close().await;
        seal
    });
    assert!(sealed_by_server.is_some(), "log: {}", inst.log());

    let json = archive(&inst, ALICE, "alice.p12");
    let cert = &json["certificates"][0];
    let id = cert["certificate_id"].as_str().unwrap().to_string();
    let serial = cert["serial"].as_str().unwrap().to_string();

    let out = audit(&inst, &["seal"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Sealed the audit log up to record"),
        "{}",
        text(&out)
    );
    let out = audit(&inst, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Audit log intact"));
    let report = ok_json(&inst, &["verify", "--json"]);
    assert_eq!(report["intact"], true);
    assert_eq!(report["unsealed_tail"], 0);

    let issued = ok_json(
        &inst,
        &["search", "--category", "certificates-issued", "--json"],
    );
    assert!(
        actions(&issued).contains(&("issue-token".into(), id.clone())),
        "{issued:#}"
    );
    let record_id = issued
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "issue-token")
        .and_then(|r| r["id"].as_i64())
        .unwrap();
    for object in [id.as_str(), serial.as_str()] {
        let found = actions(&ok_json(&inst, &["search", "--object", object, "--json"]));
        assert!(
            found.contains(&("issue-token".into(), id.clone())),
            "{found:?}"
        );
        assert!(
            found.contains(&("archive-key".into(), id.clone())),
            "{found:?}"
        );
    }
    let out = audit(&inst, &["search", "--object", &id]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("ID") && table.contains("OUTCOME") && table.contains("issue-token"),
        "{}",
        text(&out)
    );
    for (args, needle) in [
        (vec!["search", "--category", "bogus"], "--category"),
        (vec!["search", "--limit", "0"], "--limit"),
        (vec!["search", "--since", "yesterday"], "--since"),
    ] {
        let out = audit(&inst, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(needle));
    }

    // Tamper with the issuance record in the database, behind the server's back.
    block_on(async {
        let raw = inst.raw().await;
        sqlx::query("UPDATE audit SET detail = '{\"forged\":true}' WHERE id = $1")
            .bind(record_id)
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
    });
    let out = audit(&inst, &["verify"]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let needle = format!("record {record_id}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("BROKEN at {needle}: edited")),
        "{}",
        text(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("the audit log is broken"));
    let public = inst.dir.join("audit/audit-key.pub.pem");
    let out = audit(
        &inst,
        &["verify", "--json", "--public-key", public.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["broken"]["kind"], "edited");
    assert_eq!(report["broken"]["record_id"], record_id);
}
