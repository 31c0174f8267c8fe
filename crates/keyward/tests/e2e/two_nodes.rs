//! Two `keyward server` nodes on one PostgreSQL database (same installation directory and
//! cm.conf, different ports; the second also gets the database by `--database`), used at the
//! same time through both nodes' client.confs: Certificate IDs, serials, the audit chain and
//! its seals, PIN letters, request nonces and M-of-N approvals stay unique and consistent —
//! the nodes share nothing but the database.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::sync::{Arc, Barrier};

use common::pins::{officer_run, pdf_pin, printer};
use common::signed::officer_client;
use common::tokens::{archive, create_officer, p12_arg, p12_contents_with, ALICE, PIN};
use common::{block_on, keyward, point_client_conf, run, start_server, text, Engine, Installation};
use keyward_ra::RaError;
use keyward_store::{AuditCategory, CertificateQuery, Outcome};
use serde_json::Value;

/// Tokens issued through each node.
const TOKENS_PER_NODE: usize = 20;
/// Concurrent RA processes per node.
const JOBS_PER_NODE: usize = 4;

/// A second server process on the installation's directory and database.
struct Node {
    server: Child,
    url: String,
    log: PathBuf,
}

impl Node {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The client.conf `conf` (of any officer) pointed at node `url`, written beside it as
/// `NAME-node-b.conf`.
fn conf_for_node(conf: &Path, url: &str) -> PathBuf {
    let name = conf.file_stem().unwrap().to_str().unwrap();
    let to = conf.with_file_name(format!("{name}-node-b.conf"));
    point_client_conf(conf, &to, url);
    to
}

/// `keyward ra --config CONF issue --procedure soft-signing … --pin-stdin --json`.
fn issue_signing(inst: &Installation, conf: &Path, subject: &str, p12: &str) -> Output {
    run(
        inst.ra_as(
            conf,
            &inst.dir.join("officer/admin.pin"),
            &[
                "issue",
                "--procedure",
                "soft-signing",
                "--subject",
                subject,
                "--key-spec",
                "EC:secp256r1",
                "--p12",
                p12,
                "--pin-stdin",
                "--json",
            ],
        ),
        Some(&format!("{PIN}\n")),
    )
}

#[test]
fn two_nodes_share_one_postgresql_database() {
    if common::skip_pg() {
        return;
    }
    // Seal every second, so that both nodes' sealers run while both nodes append.
    let inst = Installation::with_setup_on(Engine::Postgres, &[], &[], |dir| {
        let cm_conf = dir.join("cm.conf");
        let body = std::fs::read_to_string(&cm_conf).unwrap();
        let body = body.replace("audit.seal-interval = 60", "audit.seal-interval = 1");
        std::fs::write(&cm_conf, body).unwrap();
    });
    let log = inst.out.join("node-b.log");
    let (server, url) = start_server(&inst.dir, &[], &["--database", &inst.database_url], &log);
    let node_b = Node { server, url, log };
    assert_ne!(inst.url, node_b.url);
    let conf_a = inst.client_conf();
    let conf_b = conf_for_node(&conf_a, &node_b.url);

    concurrent_tokens_are_unique_and_audited(&inst, &conf_a, &conf_b);
    a_pin_letter_seals_one_token_only(&inst, &node_b.url);
    a_request_replayed_to_the_other_node_is_refused(&inst, &conf_a, &conf_b);
    approvals_made_on_one_node_are_used_on_the_other(&inst, &node_b.url);

    // The audit chain both nodes appended to, and the seals both nodes' sealers wrote.
    let seals = block_on(async {
        use sqlx::Row;
        let raw = inst.raw().await;
        let rows = sqlx::query("SELECT id, upto_id FROM audit_seals ORDER BY id")
            .fetch_all(&raw)
            .await
            .unwrap();
        raw.close().await;
        rows.iter()
            .map(|r| (r.get::<i64, _>("id"), r.get::<i64, _>("upto_id")))
            .collect::<Vec<_>>()
    });
    assert!(seals.len() >= 2, "both nodes seal: {seals:?}");
    assert!(
        seals.windows(2).all(|w| w[0].1 < w[1].1),
        "every seal reaches further than the one before it (no two seals of one head): {seals:?}"
    );
    let mut seal = keyward();
    seal.args(["audit", "seal", "--dir"]).arg(&inst.dir);
    let out = run(seal, None);
    assert!(out.status.success(), "{}", text(&out));
    let mut verify = keyward();
    verify
        .args(["audit", "verify", "--json", "--dir"])
        .arg(&inst.dir)
        .args(["--database", &inst.database_url]);
    let out = run(verify, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["intact"], true, "{report:#}");
    assert_eq!(report["unsealed_tail"], 0, "{report:#}");
    assert!(report["seals"].as_u64().unwrap() >= 2, "{report:#}");

    for (node, log) in [("A", inst.log()), ("B", node_b.log())] {
        let issued = log.matches("issued token: Certificate ID").count();
        assert!(
            issued >= TOKENS_PER_NODE,
            "node {node} issued {issued} tokens, not its share"
        );
        for line in log.lines() {
            assert!(
                !line.contains("ERROR") && !line.contains("could not seal"),
                "node {node}: {line}"
            );
        }
        assert!(!log.contains(PIN), "node {node} logged a PIN");
    }
}

/// `TOKENS_PER_NODE` tokens through each node, `JOBS_PER_NODE` RA processes per node at a
/// time: every Certificate ID and serial is unique, and every certificate has its audit record.
fn concurrent_tokens_are_unique_and_audited(inst: &Installation, conf_a: &Path, conf_b: &Path) {
    let jobs: Vec<(usize, &Path)> = (0..2 * TOKENS_PER_NODE)
        .map(|i| (i, if i % 2 == 0 { conf_a } else { conf_b }))
        .collect();
    let issued: Vec<Value> = std::thread::scope(|scope| {
        let chunks: Vec<Vec<(usize, &Path)>> = (0..2 * JOBS_PER_NODE)
            .map(|w| {
                jobs.iter()
                    .skip(w)
                    .step_by(2 * JOBS_PER_NODE)
                    .copied()
                    .collect()
            })
            .collect();
        let workers: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(i, conf)| {
                            let subject = format!("CN=Node Person {i:02},O=Example");
                            let p12 = p12_arg(inst, &format!("node-{i}.p12"));
                            let out = issue_signing(inst, conf, &subject, &p12);
                            assert!(out.status.success(), "token {i}: {}", text(&out));
                            serde_json::from_slice::<Value>(&out.stdout).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    assert_eq!(issued.len(), 2 * TOKENS_PER_NODE);
    let mut ids = BTreeSet::new();
    let mut serials = BTreeSet::new();
    for json in &issued {
        let c = &json["certificates"][0];
        let id: i64 = c["certificate_id"].as_str().unwrap().parse().unwrap();
        assert!(ids.insert(id), "Certificate ID {id} twice");
        let serial = c["serial"].as_str().unwrap().to_string();
        assert!(serials.insert(serial.clone()), "serial {serial} twice");
    }

    let (stored, records) = block_on(async {
        let store = inst.store().await;
        let stored = store
            .find_certificates(&CertificateQuery {
                subject: Some("node person".into()),
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .unwrap();
        let records = store.audit_records(10_000).await.unwrap();
        store.close().await;
        (stored, records)
    });
    let stored_ids: BTreeSet<i64> = stored.iter().map(|c| c.id).collect();
    assert_eq!(
        stored_ids, ids,
        "the database holds exactly the certificates issued"
    );
    let stored_serials: BTreeSet<String> = stored.iter().map(|c| c.serial_hex.clone()).collect();
    assert_eq!(stored_serials, serials);
    for id in &ids {
        let audited = records
            .iter()
            .filter(|r| {
                r.category == AuditCategory::CertificatesIssued
                    && r.outcome == Outcome::Success
                    && r.object.as_deref() == Some(id.to_string().as_str())
            })
            .count();
        assert_eq!(audited, 1, "Certificate ID {id}: one issuance record");
    }
    // The chain as the appends left it: each record links to the one before it.
    for w in records.windows(2) {
        assert_eq!(
            w[1].prev_hash.as_deref(),
            w[0].hash.as_deref(),
            "record {} links to record {}",
            w[1].id,
            w[0].id
        );
    }
}

/// Letters used through both nodes at the same moment: one token each, the other refused.
fn a_pin_letter_seals_one_token_only(inst: &Installation, url_b: &str) {
    const LETTERS: u32 = 3;
    let printer = printer(inst);
    let pdf = inst.out.join("letters.pdf");
    let out = officer_run(
        "pin-letters",
        &printer,
        &[
            "create",
            "--count",
            &LETTERS.to_string(),
            "--first-id",
            "500001",
            "--pin-procedure",
            "letter",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let confs = [
        inst.client_conf(),
        conf_for_node(&inst.client_conf(), url_b),
    ];
    for letter in (500_001..).take(LETTERS as usize) {
        let letter = keyward_policy::letter_id::printed(letter);
        let barrier = Arc::new(Barrier::new(2));
        let outcomes: Vec<(String, Output)> = std::thread::scope(|scope| {
            let racers: Vec<_> = confs
                .iter()
                .enumerate()
                .map(|(node, conf)| {
                    let (barrier, letter) = (barrier.clone(), letter.clone());
                    scope.spawn(move || {
                        let p12 = p12_arg(inst, &format!("letter-{letter}-{node}.p12"));
                        let mut cmd = inst.ra_as(
                            conf,
                            &inst.dir.join("officer/admin.pin"),
                            &[
                                "issue",
                                "--procedure",
                                "soft-signing-letter",
                                "--subject",
                                &format!("CN=Letter Holder {letter} {node}"),
                                "--key-spec",
                                "EC:secp256r1",
                                "--p12",
                                &p12,
                                "--pin-letter",
                                &letter,
                                "--json",
                            ],
                        );
                        cmd.stdin(std::process::Stdio::null());
                        barrier.wait();
                        (p12, cmd.output().expect("run keyward"))
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let (won, lost): (Vec<_>, Vec<_>) =
            outcomes.iter().partition(|(_, out)| out.status.success());
        assert_eq!(
            (won.len(), lost.len()),
            (1, 1),
            "letter {letter}: {}",
            outcomes
                .iter()
                .map(|(_, o)| text(o))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let (p12, out) = lost[0];
        assert_eq!(out.status.code(), Some(6), "{}", text(out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("used"),
            "{}",
            text(out)
        );
        assert!(!Path::new(p12).exists(), "no token from a used letter");
        let pin = pdf_pin(&pdf, &format!("Letter ID {letter}"));
        let (keys, _) = p12_contents_with(Path::new(&won[0].0), &pin);
        assert_eq!(keys.len(), 1, "the letter's PIN opens the winner's token");
    }
    let (issued, uses) = block_on(async {
        let store = inst.store().await;
        let issued = store
            .find_certificates(&CertificateQuery {
                subject: Some("letter holder".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .len();
        let uses = store
            .audit_records(10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.action == "use-pin-letter" && r.outcome == Outcome::Success)
            .count();
        store.close().await;
        (issued, uses)
    });
    assert_eq!(issued, LETTERS as usize, "one certificate per letter");
    assert_eq!(uses, LETTERS as usize, "one use per letter");
}

/// Signed requests sent to both nodes. Issuance (`/v1/tokens`) is idempotent: the very same
/// signed bytes, sent to both nodes at once, issue one token and both nodes answer with it; the
/// same nonce with other bytes is refused by the other node as a replay. A request that is not
/// idempotent (`/v1/pin-mail/requeue`), sent again to the other node, is refused as a replay.
fn a_request_replayed_to_the_other_node_is_refused(
    inst: &Installation,
    conf_a: &Path,
    conf_b: &Path,
) {
    let client = |conf: &Path| officer_client(conf, &conf.with_file_name("officer/admin.pin"));
    let (officer, client_a) = client(conf_a);
    let (_, client_b) = client(conf_b);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // The RA's one-time transport key: the archived key comes back sealed to it.
    let transport = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let transport = openssl::pkey::PKey::from_ec_key(transport).unwrap();
    let transport = openssl::base64::encode_block(&transport.public_key_to_der().unwrap());
    let token = |subject: &str| {
        serde_json::to_vec(&serde_json::json!({
            "request_id": "two-nodes-1", "timestamp": now,
            "nonce": "0123456789abcdef0123456789abcdef",
            "token_procedure": "soft-encryption-archived", "subject": subject,
            "key_spec": "EC:secp256r1", "csrs": [], "transport_key": transport
        }))
        .unwrap()
    };
    let sign = |path: &str, body: &[u8]| {
        officer
            .sign(&keyward_proto::signed_message(path, body))
            .unwrap()
    };
    let refusal = |result: Result<Value, RaError>| match result {
        Err(RaError::Refused { status, error }) => (status, error.field, error.message),
        other => panic!("expected a refusal: {other:?}"),
    };
    block_on(async {
        let body = token("CN=Replay Holder,O=Example");
        let signature = sign("/v1/tokens", &body);
        let (a, b) = tokio::join!(
            client_a.post_with_signature::<Value>("/v1/tokens", body.clone(), &signature),
            client_b.post_with_signature::<Value>("/v1/tokens", body.clone(), &signature),
        );
        let (a, b) = (a.expect("node A"), b.expect("node B"));
        let id = |v: &Value| v["certificates"][0]["certificate_id"].clone();
        assert!(id(&a).is_string(), "{a:#}");
        assert_eq!(id(&a), id(&b), "both nodes answer with the one token");
        assert_eq!(
            a["certificates"][0]["serial"],
            b["certificates"][0]["serial"]
        );

        let other = token("CN=Replay Other,O=Example");
        let (status, field, message) = refusal(
            client_b
                .post_with_signature("/v1/tokens", other.clone(), &sign("/v1/tokens", &other))
                .await,
        );
        assert_eq!(
            (status, field.as_deref()),
            (409, Some("nonce")),
            "{message}"
        );
        assert!(message.contains("replayed"), "{message}");

        let requeue = serde_json::to_vec(&serde_json::json!({
            "request_id": "two-nodes-2", "timestamp": now,
            "nonce": "fedcba9876543210fedcba9876543210", "ids": ["1"]
        }))
        .unwrap();
        let signature = sign("/v1/pin-mail/requeue", &requeue);
        let (status, _, _) = refusal(
            client_a
                .post_with_signature("/v1/pin-mail/requeue", requeue.clone(), &signature)
                .await,
        );
        assert_eq!(status, 403, "admin lacks manage-pin-letters");
        let (status, field, message) = refusal(
            client_b
                .post_with_signature("/v1/pin-mail/requeue", requeue, &signature)
                .await,
        );
        assert_eq!(
            (status, field.as_deref()),
            (409, Some("nonce")),
            "{message}"
        );
        assert!(message.contains("replayed"), "{message}");
    });
    let issued = block_on(async {
        let store = inst.store().await;
        let found = store
            .find_certificates(&CertificateQuery {
                subject: Some("replay".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        store.close().await;
        found.len()
    });
    assert_eq!(issued, 1, "one token for one request, whichever node");
}

/// A 2-of-N recovery requested through node A, approved through node B (one vote each way),
/// released through node B, and refused as used through node A.
fn approvals_made_on_one_node_are_used_on_the_other(inst: &Installation, url_b: &str) {
    const PROCEDURE: &str = "recover-encryption-approved";
    archive(inst, ALICE, "approved-archived.p12");
    let (original, _) = p12_contents_with(&inst.out.join("approved-archived.p12"), PIN);
    let roles = "recover-key";
    let bob = create_officer(inst, "bob", roles);
    let carol = create_officer(inst, "carol", roles);
    let admin_pin = inst.dir.join("officer/admin.pin");
    let (admin_a, admin_b) = (
        inst.client_conf(),
        conf_for_node(&inst.client_conf(), url_b),
    );
    let recover = |conf: &Path, approval: Option<&str>, p12: &str| {
        let mut args = vec![
            "issue",
            "--procedure",
            PROCEDURE,
            "--subject",
            ALICE,
            "--p12",
            p12,
            "--pin-stdin",
            "--json",
        ];
        if let Some(id) = approval {
            args.extend(["--approval", id]);
        }
        run(
            inst.ra_as(conf, &admin_pin, &args),
            Some(&format!("{PIN}\n")),
        )
    };
    let vote = |conf: &Path, pin: &Path, id: &str| {
        let out = run(
            inst.ra_as(conf, pin, &["approvals", "approve", id, "--json"]),
            None,
        );
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };

    let p12 = p12_arg(inst, "approved.p12");
    let out = recover(&admin_a, None, &p12);
    assert_eq!(
        out.status.code(),
        Some(keyward_ra::EXIT_AWAITING_APPROVAL),
        "an approval request opened: {}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let id: String = stderr
        .split("approval request ")
        .nth(1)
        .unwrap_or_else(|| panic!("no approval request in: {stderr}"))
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    // Bob votes through node B, Carol through node A.
    let after = vote(&conf_for_node(&bob.0, url_b), &bob.1, &id);
    assert_eq!(after["state"], "pending");
    let after = vote(&carol.0, &carol.1, &id);
    assert_eq!(after["state"], "approved");

    let out = recover(&admin_b, Some(&id), &p12);
    assert!(
        out.status.success(),
        "released through node B: {}",
        text(&out)
    );
    let (keys, _) = p12_contents_with(Path::new(&p12), PIN);
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].public_eq(&original[0]),
        "the archived key came back"
    );

    let again = p12_arg(inst, "approved-again.p12");
    let out = recover(&admin_a, Some(&id), &again);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("used"),
        "used once, whichever node: {}",
        text(&out)
    );
    assert!(!Path::new(&again).exists());
}
