//! M-of-N recovery through the real binary: a 2-of-3 recovery is released only after two
//! officers other than the requester approve, once; a rejection ends a request.

use crate::common;

use std::path::{Path, PathBuf};

use common::tokens::{archive, create_officer, p12_arg, p12_contents, ALICE, PIN};
use common::{on_both_engines, run, text, Engine, Installation};
use serde_json::Value;

const PROCEDURE: &str = "recover-encryption-approved";

fn recover(inst: &Installation, approval: Option<&str>, p12: &str) -> std::process::Output {
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
    run(inst.ra(&args), Some(&format!("{PIN}\n")))
}

fn vote(
    inst: &Installation,
    officer: &(PathBuf, PathBuf),
    verb: &str,
    id: &str,
) -> std::process::Output {
    run(
        inst.ra_as(&officer.0, &officer.1, &["approvals", verb, id, "--json"]),
        None,
    )
}

/// The approval request ID named in a refusal ("approval request 7 is open …").
fn request_id(stderr: &str) -> String {
    let rest = stderr
        .split("approval request ")
        .nth(1)
        .unwrap_or_else(|| panic!("no approval request in: {stderr}"));
    rest.chars().take_while(char::is_ascii_digit).collect()
}

on_both_engines!(two_of_three_release_the_key_once);

fn two_of_three_release_the_key_once(engine: Engine) {
    let inst = Installation::on(engine);
    let archived = archive(&inst, ALICE, "archived.p12");
    let archived_id = archived["certificates"][0]["certificate_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (original, _) = p12_contents(&inst.out.join("archived.p12"));
    let roles = "issue-certificate,recover-key";
    let bob = create_officer(&inst, "bob", roles);
    let carol = create_officer(&inst, "carol", roles);
    let dave = create_officer(&inst, "dave", "issue-certificate");

    // First attempt: no key, a request.
    let p12 = p12_arg(&inst, "recovered.p12");
    let out = recover(&inst, None, &p12);
    assert_eq!(out.status.code(), Some(13), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("needs 2 approval(s)"), "{stderr}");
    assert!(
        stderr.contains("approval needed: ") && !stderr.contains("refused by the server"),
        "not reported as a refusal: {stderr}"
    );
    assert!(!Path::new(&p12).exists());
    let id = request_id(&stderr);

    let admin = (inst.client_conf(), inst.dir.join("officer/admin.pin"));
    let out = vote(&inst, &admin, "approve", &id);
    assert_eq!(
        out.status.code(),
        Some(6),
        "the requester cannot approve: {}",
        text(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("requester"));
    let out = vote(&inst, &dave, "approve", &id);
    assert_eq!(
        out.status.code(),
        Some(5),
        "recover-key needed: {}",
        text(&out)
    );

    let out = vote(&inst, &bob, "approve", &id);
    assert!(out.status.success(), "{}", text(&out));
    let after: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(after["state"], "pending");
    let out = recover(&inst, Some(&id), &p12);
    assert_eq!(out.status.code(), Some(13), "still waiting: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 of 2"),
        "{}",
        text(&out)
    );
    let out = vote(&inst, &bob, "approve", &id);
    assert_eq!(
        out.status.code(),
        Some(6),
        "one vote per officer: {}",
        text(&out)
    );

    let out = vote(&inst, &carol, "approve", &id);
    assert!(out.status.success(), "{}", text(&out));
    let after: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(after["state"], "approved");
    assert_eq!(after["approved_by"], serde_json::json!(["bob", "carol"]));

    let out = recover(&inst, Some(&id), &p12);
    assert!(out.status.success(), "{}", text(&out));
    let (keys, _) = p12_contents(Path::new(&p12));
    assert!(
        keys[0].public_eq(&original[0]),
        "the archived key came back"
    );

    // Used once: a second recovery with it is refused.
    let again = p12_arg(&inst, "again.p12");
    let out = recover(&inst, Some(&id), &again);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("used"),
        "{}",
        text(&out)
    );
    assert!(!Path::new(&again).exists());

    // Listed with its keys and state.
    let out = run(
        inst.ra_as(&bob.0, &bob.1, &["approvals", "list", "--all", "--json"]),
        None,
    );
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all[0]["state"], "used");
    assert_eq!(all[0]["key_certificate_ids"], archived_id.as_str());
}

on_both_engines!(one_rejection_ends_a_request);

fn one_rejection_ends_a_request(engine: Engine) {
    let inst = Installation::on(engine);
    archive(&inst, ALICE, "archived.p12");
    let bob = create_officer(&inst, "bob", "recover-key");
    let p12 = p12_arg(&inst, "recovered.p12");
    let out = recover(&inst, None, &p12);
    let id = request_id(&String::from_utf8_lossy(&out.stderr));
    let out = vote(&inst, &bob, "reject", &id);
    assert!(out.status.success(), "{}", text(&out));
    let out = recover(&inst, Some(&id), &p12);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rejected"),
        "{}",
        text(&out)
    );
    // An approval for another token procedure is refused.
    let out = run(
        inst.ra(&[
            "issue",
            "--procedure",
            "recover-encryption-new",
            "--subject",
            ALICE,
            "--p12",
            &p12,
            "--pin-stdin",
            "--approval",
            &id,
        ]),
        Some(&format!("{PIN}\n")),
    );
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs no approval"),
        "{}",
        text(&out)
    );
}
