//! CRLs through the real binary on both engines: `keyward server --public-listen` serves the
//! full and delta CRLs that the publisher signs. Without `crl.on-revoke` a revocation reaches
//! the next delta (a second later) and not the full CRL; after a restart with it (the stopped
//! server gave up the lease) a revocation brings a full CRL at once. `openssl crl -CAfile`
//! accepts every CRL, `openssl verify -crl_check` (and `-use_deltas` with the delta) says
//! revoked for a revoked certificate and OK for another, CRL numbers grow, `crl.publish-dir`
//! holds what is served, and `keyward crl show|fetch` work.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use common::tokens::{issue, p12_arg};
use common::{crl_settings, http_get, public_addr, terminate, wait_for, Installation, KillOnDrop};
use common::{keyward, on_both_engines, point_client_conf, run, start_server, text, Engine};
use serde_json::Value;

on_both_engines!(crls_are_published_served_and_checked_by_openssl);

/// The demo procedures' CRL URLs (init's default --public-url): the IDP must equal the CDP.
const BASE: &str = "http://127.0.0.1:8080";
const DELTA_URL: &str = "http://127.0.0.1:8080/crl/issuing-delta.crl";
const ANNA: &str = "CN=Anna Svensson,GN=Anna,SN=Svensson,serialNumber=PNOSE-197001010007,C=SE";
const BO: &str = "CN=Bo Ek,GN=Bo,SN=Ek,serialNumber=PNOSE-197002020002,C=SE";
const CY: &str = "CN=Cy Berg,GN=Cy,SN=Berg,serialNumber=PNOSE-197003030003,C=SE";

/// Starts a server on the installation with `--public-listen 127.0.0.1:0`, points client.conf
/// at it: the server and its public address.
fn start_public(inst: &Installation, log: &str) -> (KillOnDrop, SocketAddr) {
    let log = inst.out.join(log);
    let (child, url) = start_server(&inst.dir, &[], &["--public-listen", "127.0.0.1:0"], &log);
    point_client_conf(&inst.client_conf(), &inst.client_conf(), &url);
    (KillOnDrop(child), public_addr(&log))
}

/// `keyward crl ARGS… --json`, successful.
fn crl_json(args: &[&str]) -> Value {
    let mut cmd = keyward();
    cmd.arg("crl").args(args).arg("--json");
    let out = run(cmd, None);
    assert!(out.status.success(), "crl {args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `keyward crl fetch URL --out FILE` of the public listener's `path`: its JSON.
fn fetch(at: SocketAddr, path: &str, out: &Path) -> Value {
    let url = format!("http://{at}{path}");
    crl_json(&["fetch", &url, "--out", out.to_str().unwrap()])
}

fn number(json: &Value) -> u64 {
    json["number"].as_str().unwrap().parse().unwrap()
}

/// `openssl crl -text` of the PEM CRL `crl`, after checking its signature with `-CAfile`.
fn openssl_crl(crl: &Path, ca: &Path) -> String {
    let out = keyward_testkit::tool("openssl")
        .args(["crl", "-noout", "-text", "-in"])
        .arg(crl)
        .arg("-CAfile")
        .arg(ca)
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success() && said.contains("verify OK"), "{said}");
    said
}

/// `openssl verify -crl_check` of `cert` with `crls`: (success, what it said).
fn verify(inst: &Installation, cert: &Path, crls: &[&Path], deltas: bool) -> (bool, String) {
    let mut cmd = keyward_testkit::tool("openssl");
    cmd.arg("verify").arg("-crl_check");
    if deltas {
        cmd.arg("-use_deltas");
    }
    cmd.arg("-CAfile").arg(inst.dir.join("ca/root.pem"));
    cmd.arg("-untrusted").arg(inst.dir.join("ca/issuing.pem"));
    for crl in crls {
        cmd.arg("-CRLfile").arg(crl);
    }
    let out = cmd.arg(cert).output().unwrap();
    (out.status.success(), text(&out))
}

fn qualified(inst: &Installation, subject: &str, name: &str) -> (String, String, PathBuf) {
    let cert = inst.out.join(format!("{name}.pem"));
    let json = issue(
        inst,
        None,
        &[
            "--procedure",
            "qualified-natural-person",
            "--subject",
            subject,
            "--p12",
            &p12_arg(inst, &format!("{name}.p12")),
            "--cert",
            cert.to_str().unwrap(),
        ],
    );
    let c = &json["certificates"][0];
    let id = c["certificate_id"].as_str().unwrap().to_string();
    let serial = c["serial"].as_str().unwrap().to_uppercase();
    (id, serial.trim_start_matches('0').to_string(), cert)
}

fn crls_are_published_served_and_checked_by_openssl(engine: Engine) {
    let mut inst = Installation::on(engine);
    inst.stop_server();
    crl_settings(&inst.dir, BASE, false, "crl.publish-dir = crl-out\n");
    let (server, at) = start_public(&inst, "first.log");
    let ca = inst.dir.join("ca/issuing.pem");
    let pem = |name: &str| inst.out.join(format!("{name}.pem"));

    // The first full CRL, published at start.
    wait_for("a first full CRL", || {
        (http_get(at, "/crl/issuing.crl").0.contains(" 200 ")).then_some(())
    });
    let first = fetch(at, "/crl/issuing.crl", &pem("first"));
    assert_eq!(first["entries"], 0, "{first}");
    let (anna_id, anna_serial, anna) = qualified(&inst, ANNA, "anna");
    let (_, _, bo) = qualified(&inst, BO, "bo");
    let (cy_id, cy_serial, _) = qualified(&inst, CY, "cy");
    let revoke = |id: &str, reason: &str| {
        let out = run(inst.ra(&["revoke", "--id", id, "--reason", reason]), None);
        assert!(out.status.success(), "{}", text(&out));
    };
    revoke(&anna_id, "keyCompromise");

    // Without crl.on-revoke the next delta (a second later) lists it, the full CRL not yet:
    // with the full CRL alone OpenSSL still says OK; with the delta (`-use_deltas`) revoked.
    let delta = wait_for("a delta CRL listing the revocation", || {
        let delta = fetch(at, "/crl/issuing-delta.crl", &pem("delta"));
        openssl_crl(&pem("delta"), &ca)
            .contains(&format!("Serial Number: {anna_serial}"))
            .then_some(delta)
    });
    assert!(number(&delta) > number(&first), "{delta}");
    let delta_text = openssl_crl(&pem("delta"), &ca);
    assert!(delta_text.contains("Key Compromise"), "{delta_text}");
    assert!(delta_text.contains("Delta CRL Indicator"), "{delta_text}");
    let base = fetch(at, "/crl/issuing.crl", &pem("base"));
    assert_eq!(
        number(&base),
        number(&first),
        "no full CRL before its interval"
    );
    assert!(
        openssl_crl(&pem("base"), &ca).contains(DELTA_URL),
        "freshestCRL"
    );
    let (ok, said) = verify(&inst, &anna, &[&pem("base")], false);
    assert!(ok, "not in the full CRL yet: {said}");
    let (ok, said) = verify(&inst, &anna, &[&pem("base"), &pem("delta")], true);
    assert!(!ok && said.contains("certificate revoked"), "{said}");
    let (ok, said) = verify(&inst, &bo, &[&pem("base"), &pem("delta")], true);
    assert!(ok, "{said}");

    // A second server (the first stopped, giving up the lease) with crl.on-revoke and a
    // one-second crl.full-min-gap: a revocation brings a new full CRL at once, listing both.
    terminate(server);
    crl_settings(
        &inst.dir,
        BASE,
        true,
        "crl.publish-dir = crl-out\ncrl.full-min-gap = 1\n",
    );
    let (_server, at) = start_public(&inst, "second.log");
    revoke(&cy_id, "superseded");
    let full = wait_for("a full CRL listing both revocations", || {
        let full = fetch(at, "/crl/issuing.crl", &pem("full"));
        let text = openssl_crl(&pem("full"), &ca);
        (text.contains(&format!("Serial Number: {anna_serial}"))
            && text.contains(&format!("Serial Number: {cy_serial}")))
        .then_some(full)
    });
    assert!(
        number(&full) > number(&delta) && full["entries"] == 2,
        "{full}"
    );
    let (ok, said) = verify(&inst, &anna, &[&pem("full")], false);
    assert!(!ok && said.contains("certificate revoked"), "{said}");
    let (ok, said) = verify(&inst, &bo, &[&pem("full")], false);
    assert!(ok, "{said}");
    let (ok, said) = verify(&inst, &bo, &[&pem("full"), &pem("delta")], true);
    assert!(ok, "an older delta is not used: {said}");

    // crl.publish-dir holds what is served (retried: a new CRL may land in between).
    wait_for("the published file to match the served CRL", || {
        let served = http_get(at, "/crl/issuing.crl").1;
        let file = std::fs::read(inst.dir.join("crl-out/issuing.crl")).unwrap();
        (served == file).then_some(())
    });
    assert!(inst.dir.join("crl-out/issuing-delta.crl").exists());

    // `keyward crl show` reads the database: the latest full and delta, written as PEM.
    let dir = inst.dir.to_str().unwrap();
    let shown = crl_json(&[
        "show",
        "--dir",
        dir,
        "--out",
        pem("shown").to_str().unwrap(),
    ]);
    assert_eq!(shown["kind"], "full");
    assert!(number(&shown) >= number(&full), "{shown}");
    assert!(openssl_crl(&pem("shown"), &ca).contains(&format!("Serial Number: {anna_serial}")));
    let shown = crl_json(&["show", "--dir", dir, "--delta"]);
    assert_eq!(shown["kind"], "delta");
    assert!(shown["base_number"].as_i64().is_some(), "{shown}");
    let mut cmd = keyward();
    cmd.args(["crl", "show", "--dir", dir]);
    let out = run(cmd, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(full) of "), "{}", text(&out));

    // Refusals: an unknown path is a plain 404; fetch of a non-http URL exits 2.
    let (status, body) = http_get(at, "/crl/other.crl");
    assert!(status.contains(" 404 "), "{status}");
    assert_eq!(body, b"not found\n");
    let mut cmd = keyward();
    cmd.args(["crl", "fetch", "https://127.0.0.1/crl/issuing.crl"]);
    let out = run(cmd, None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let mut cmd = keyward();
    cmd.args(["crl", "fetch", &format!("http://{at}/crl/none.crl")]);
    let out = run(cmd, None);
    assert!(
        !out.status.success() && text(&out).contains("404"),
        "{}",
        text(&out)
    );
}
