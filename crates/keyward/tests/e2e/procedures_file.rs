//! procedures.toml after `init` (issue 15, defect 8: edits were silently ignored):
//! `keyward procedures check` points at the line and column of a fault (exit 2);
//! `keyward procedures load` makes an edited file the next version, audited with its diff, and
//! running servers — a second node too — use it at once, without a restart; a server started
//! while the file differs from the version in force warns, naming the file.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Output};

use common::pins::{officer_run, printer};
use common::tokens::PIN;
use common::{block_on, keyward, on_both_engines, run, start_server, text, Engine, Installation};
use keyward_store::CertificateQuery;
use serde_json::Value;

/// A token procedure the edited file adds (a copy of `soft-signing`).
const ADDED: &str = r#"
[[token-procedure]]
name = "soft-signing-edited"
description = "Added by an edit of procedures.toml"
certificate_procedures = ["signing"]
pin_procedure = "enter"
"#;

/// The validity of certificate procedure `signing` in the edited file (730 as installed).
const EDITED_DAYS: i64 = 365;

/// A second server on the installation's directory and database, killed when dropped.
struct Node {
    server: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn procedures_cmd(inst: &Installation, args: &[&str]) -> Output {
    let mut cmd = keyward();
    cmd.args(["procedures", "--dir"]).arg(&inst.dir).args(args);
    run(cmd, None)
}

/// The client.conf of the first officer pointed at `url`, beside it (its paths are relative).
fn conf_for(inst: &Installation, url: &str) -> PathBuf {
    let to = inst
        .dir
        .join(format!("client-{}.conf", url.rsplit(':').next().unwrap()));
    common::point_client_conf(&inst.client_conf(), &to, url);
    to
}

/// What the server at `conf` serves as token procedures (`ra procedures --json`): name →
/// validity of its first certificate procedure.
fn served(inst: &Installation, conf: &Path) -> Vec<(String, i64)> {
    let out = run(
        inst.ra_as(
            conf,
            &inst.dir.join("officer/admin.pin"),
            &["procedures", "--json"],
        ),
        None,
    );
    assert!(out.status.success(), "ra procedures: {}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["token_procedures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let name = t["token"]["name"].as_str().unwrap().to_string();
            let days = t["certificates"][0]["validity_days"].as_i64().unwrap_or(0);
            (name, days)
        })
        .collect()
}

fn days_of(served: &[(String, i64)], name: &str) -> Option<i64> {
    served.iter().find(|(n, _)| n == name).map(|(_, d)| *d)
}

/// `check` of a file with a type error and one with a reference that does not resolve: exit
/// 2, `FILE:LINE:COLUMN`, the table and the key.
fn check_points_at_the_fault(inst: &Installation, installed: &str) {
    let bad = inst.out.join("bad.toml");
    let line = installed
        .lines()
        .position(|l| l == "validity_days = 730")
        .unwrap()
        + 1;
    std::fs::write(
        &bad,
        installed.replacen("validity_days = 730", "validity_days = \"two years\"", 1),
    )
    .unwrap();
    let out = procedures_cmd(inst, &["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let at = format!("{}:{line}:17:", bad.display());
    assert!(stderr.contains(&at), "wants {at}: {stderr}");
    assert!(
        stderr.contains("[[certificate-procedure]] signing, field validity_days"),
        "{stderr}"
    );

    let line = installed
        .lines()
        .position(|l| l == "pin_procedure = \"letter\"")
        .unwrap()
        + 1;
    std::fs::write(
        &bad,
        installed.replacen(
            "pin_procedure = \"letter\"",
            "pin_procedure = \"lettre\"",
            1,
        ),
    )
    .unwrap();
    let out = procedures_cmd(inst, &["check", bad.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["line"], line as u64, "{v}");
    assert_eq!(v["column"], 1, "{v}");
    assert_eq!(v["field"], "pin_procedure", "{v}");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("PIN procedure lettre does not exist"));

    // A fault is never loaded.
    let out = procedures_cmd(inst, &["load", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

fn edited_procedures_are_loaded_audited_and_served(engine: Engine) {
    let inst = Installation::on(engine);
    let file = inst.dir.join("procedures.toml");
    let installed = std::fs::read_to_string(&file).unwrap();
    let out = procedures_cmd(&inst, &["check"]);
    assert!(out.status.success(), "{}", text(&out));
    check_points_at_the_fault(&inst, &installed);

    // Version 1 (init) is what runs: the edit is not in force before it is loaded.
    let edited = installed.replacen(
        "validity_days = 730",
        &format!("validity_days = {EDITED_DAYS}"),
        1,
    ) + ADDED;
    std::fs::write(&file, &edited).unwrap();
    let node_log = inst.out.join("node-b.log");
    let (server, url) = start_server(
        &inst.dir,
        &[],
        &["--database", &inst.database_url],
        &node_log,
    );
    let node = Node {
        server,
        url,
        log: node_log,
    };
    let conf_a = inst.client_conf();
    let conf_b = conf_for(&inst, &node.url);
    for conf in [&conf_a, &conf_b] {
        let now = served(&inst, conf);
        assert_eq!(days_of(&now, "soft-signing"), Some(730), "{now:?}");
        assert_eq!(days_of(&now, "soft-signing-edited"), None, "{now:?}");
    }
    // The node started on the edited file warns, naming it; the first (unedited) did not.
    let warned = std::fs::read_to_string(&node.log).unwrap();
    let warning = format!("{}: it differs from version 1", file.display());
    assert!(
        warned
            .lines()
            .any(|l| l.contains("WARN") && l.contains(&warning)),
        "{warned}"
    );
    assert!(!inst.log().contains("procedures.toml"), "{}", inst.log());

    // Load: version 2, and both running servers use it at their next request.
    let out = procedures_cmd(&inst, &["load", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let loaded: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(loaded["version"], 2, "{loaded}");
    assert_eq!(loaded["previous"], 1, "{loaded}");
    for conf in [&conf_a, &conf_b] {
        let now = served(&inst, conf);
        assert_eq!(days_of(&now, "soft-signing"), Some(EDITED_DAYS), "{now:?}");
        assert_eq!(
            days_of(&now, "soft-signing-edited"),
            Some(EDITED_DAYS),
            "{now:?}"
        );
    }
    // And the second node issues through the added procedure, with the edited validity.
    let p12 = inst.out.join("edited.p12");
    let out = run(
        inst.ra_as(
            &conf_b,
            &inst.dir.join("officer/admin.pin"),
            &[
                "issue",
                "--procedure",
                "soft-signing-edited",
                "--subject",
                "CN=Edited Procedure,O=Example,C=SE",
                "--key-spec",
                "EC:secp256r1",
                "--p12",
                p12.to_str().unwrap(),
                "--pin-stdin",
            ],
        ),
        Some(&format!("{PIN}\n")),
    );
    assert!(out.status.success(), "{}", text(&out));
    let issued = block_on(async {
        let store = inst.store().await;
        let certs = store
            .find_certificates(&CertificateQuery {
                subject: Some("Edited Procedure".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        store.close().await;
        certs
    });
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].token_procedure, "soft-signing-edited");
    assert_eq!(
        issued[0].not_after - issued[0].not_before,
        EDITED_DAYS * 86_400
    );

    // Loading the same file again changes nothing.
    let out = procedures_cmd(&inst, &["load", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (again["version"].as_i64(), again["loaded"].as_bool()),
        (Some(2), Some(false))
    );

    removals_still_needed_are_refused(&inst, &edited);
    audit_has_the_diff(&inst, &file);
    let mut verify = keyward();
    verify.args(["audit", "verify", "--dir"]).arg(&inst.dir);
    let out = run(verify, None);
    assert!(out.status.success(), "audit verify: {}", text(&out));
}

/// `text` without the tables `[[KIND]]` whose `name` is one of `names` (as `(KIND, NAME)`).
fn without_tables(text: &str, names: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut block = String::new();
    let flush = |block: &mut String, out: &mut String| {
        let header = block.lines().next().unwrap_or("").trim();
        let name = block
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or("");
        let dropped = names
            .iter()
            .any(|(kind, n)| header == format!("[[{kind}]]") && name == *n);
        if !dropped {
            out.push_str(block);
        }
        block.clear();
    };
    for line in text.lines() {
        if line.starts_with("[[") {
            flush(&mut block, &mut out);
        }
        block.push_str(line);
        block.push('\n');
    }
    flush(&mut block, &mut out);
    out
}

/// Loads that would remove what the CM host or the database still needs are refused (exit 2,
/// naming it), and nothing changes.
fn removals_still_needed_are_refused(inst: &Installation, edited: &str) {
    let refused = |body: String, needle: &str| {
        let file = inst.out.join("removal.toml");
        std::fs::write(&file, body).unwrap();
        let out = procedures_cmd(inst, &["check", file.to_str().unwrap()]);
        assert!(out.status.success(), "valid on its own: {}", text(&out));
        let out = procedures_cmd(inst, &["load", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{}",
            text(&out)
        );
    };
    refused(
        without_tables(
            edited,
            &[
                ("certificate-procedure", "officer"),
                ("token-procedure", "officer"),
            ],
        ),
        "certificate procedure officer is needed by the CM host",
    );
    // An unused PIN letter of PIN procedure `letter`.
    let printer = printer(inst);
    let pdf = inst.out.join("letters.pdf");
    let out = officer_run(
        "pin-letters",
        &printer,
        &[
            "create",
            "--count",
            "1",
            "--first-id",
            "100001",
            "--pin-procedure",
            "letter",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    refused(
        without_tables(
            edited,
            &[
                ("pin-procedure", "letter"),
                ("token-procedure", "soft-signing-letter"),
            ],
        ),
        "PIN procedure letter has unused PIN letters",
    );
    let out = procedures_cmd(inst, &["load", "--json"]);
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["version"], 2, "nothing was loaded: {again}");
}

/// The audit log has the load with its diff (and init's version 1).
fn audit_has_the_diff(inst: &Installation, file: &Path) {
    let mut search = keyward();
    search
        .args([
            "audit",
            "search",
            "--category",
            "administration",
            "--json",
            "--dir",
        ])
        .arg(&inst.dir);
    let out = run(search, None);
    assert!(out.status.success(), "{}", text(&out));
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let loads: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "load-procedures")
        .collect();
    assert_eq!(loads.len(), 2, "init and one load: {records:?}");
    let detail = &loads[0]["detail"];
    assert_eq!(detail["version"], 2, "{detail}");
    assert_eq!(detail["previous_version"], 1, "{detail}");
    assert_eq!(detail["source"], file.display().to_string(), "{detail}");
    assert_eq!(
        detail["added"],
        serde_json::json!(["token-procedure soft-signing-edited"]),
        "{detail}"
    );
    assert_eq!(detail["removed"], serde_json::json!([]), "{detail}");
    assert_eq!(
        detail["changed"],
        serde_json::json!([{ "procedure": "certificate-procedure signing", "fields": ["validity_days"] }]),
        "{detail}"
    );
    assert_eq!(loads[0]["officer"], "keyward-admin");
    assert_eq!(loads[1]["detail"]["version"], 1, "init's: {}", loads[1]);
}

on_both_engines!(edited_procedures_are_loaded_audited_and_served);
