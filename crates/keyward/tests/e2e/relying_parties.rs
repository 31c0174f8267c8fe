//! Relying parties we did not write, against the live public listener on both engines: GnuTLS
//! `ocsptool --ask` (good, revoked, on hold; with and without a nonce; the response verified
//! with `--load-signer`), strongswan `pki --verify --online` (following the certificates' own
//! AIA/CDP URLs, which point at the listener) and `certtool --verify-crl` / `--crl-info` on the
//! served full and delta CRLs. Each tool is first shown to refuse a bad input (a response
//! checked against the root as its signer, a CRL checked against the root, the revoked
//! certificate trusted by pki offline), so that no check passes vacuously.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use openssl::x509::X509;

use common::tokens::{issue, p12_arg};
use common::{
    crl_settings, on_both_engines, point_client_conf, public_addr, run, start_server, text,
};
use common::{http_get, wait_for, Engine, Installation, KillOnDrop};

on_both_engines!(ocsptool_and_certtool_agree_with_the_public_listener);

/// Issues a qualified certificate for `cn`: (certificate id, PEM file).
fn person(inst: &Installation, given: &str, sur: &str, number: u32) -> (String, PathBuf) {
    let cert = inst.out.join(format!("{number}.pem"));
    let subject =
        format!("CN={given} {sur},GN={given},SN={sur},serialNumber=PNOSE-19700101{number:04},C=SE");
    let json = issue(
        inst,
        None,
        &[
            "--procedure",
            "qualified-natural-person",
            "--subject",
            &subject,
            "--p12",
            &p12_arg(inst, &format!("{number}.p12")),
            "--cert",
            cert.to_str().unwrap(),
        ],
    );
    let id = json["certificates"][0]["certificate_id"].as_str().unwrap();
    (id.to_string(), cert)
}

/// `ocsptool --ask` for `cert` at the listener, the response verified against `signer`:
/// (success, what it said).
fn ocsptool(
    inst: &Installation,
    at: SocketAddr,
    cert: &Path,
    signer: &Path,
    nonce: bool,
) -> (bool, String) {
    let mut cmd = keyward_testkit::tool("ocsptool");
    cmd.arg(format!("--ask=http://{at}/ocsp"))
        .arg("--load-issuer")
        .arg(inst.dir.join("ca/issuing.pem"))
        .arg("--load-cert")
        .arg(cert)
        .arg("--load-signer")
        .arg(signer);
    if !nonce {
        cmd.arg("--no-nonce");
    }
    let out = cmd.output().expect("run ocsptool");
    (out.status.success(), text(&out))
}

/// The serial of the PEM certificate `cert` in lower-case hex, as certtool prints it.
fn serial_hex(cert: &Path) -> String {
    let cert = X509::from_pem(&std::fs::read(cert).unwrap()).unwrap();
    let hex = cert.serial_number().to_bn().unwrap().to_hex_str().unwrap();
    hex.to_lowercase()
}

/// strongswan `pki --verify` of `cert` up to the root, `--online` or not: (success, output).
fn pki(inst: &Installation, cert: &Path, online: bool) -> (bool, String) {
    let mut cmd = keyward_testkit::tool("pki");
    cmd.args(["--verify", "--in"])
        .arg(cert)
        .arg("--cacert")
        .arg(inst.dir.join("ca/issuing.pem"))
        .arg("--cacert")
        .arg(inst.dir.join("ca/root.pem"));
    if online {
        cmd.arg("--online");
    }
    let out = cmd.output().expect("pki (strongswan-pki)");
    (out.status.success(), text(&out))
}

/// `certtool ARGS… --inder --infile CRL`: (success, what it said).
fn certtool(args: &[&str], crl: &Path) -> (bool, String) {
    let out = keyward_testkit::tool("certtool")
        .args(args)
        .args(["--inder", "--infile"])
        .arg(crl)
        .output()
        .expect("run certtool");
    (out.status.success(), text(&out))
}

fn ocsptool_and_certtool_agree_with_the_public_listener(engine: Engine) {
    // A free port reserved for the public listener, so that the certificates' AIA and CDP URLs
    // (from init's --public-url) point at it for strongswan's --online.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let public_url = format!("http://127.0.0.1:{port}");
    let mut inst = Installation::with_setup_on(engine, &["--public-url", &public_url], &[], |_| {});
    inst.stop_server();
    crl_settings(&inst.dir, &public_url, true, "crl.full-min-gap = 1\n");
    let log = inst.out.join("public.log");
    let listen = format!("127.0.0.1:{port}");
    let (child, url) = start_server(&inst.dir, &[], &["--public-listen", &listen], &log);
    let _server = KillOnDrop(child);
    point_client_conf(&inst.client_conf(), &inst.client_conf(), &url);
    let at = public_addr(&log);
    let issuing = inst.dir.join("ca/issuing.pem");
    let root = inst.dir.join("ca/root.pem");
    let signer = inst.dir.join("ocsp/signer.pem");

    let (_, valid) = person(&inst, "Vera", "Giltig", 1);
    let (revoked_id, revoked) = person(&inst, "Rolf", "Sparrad", 2);
    let (held_id, held) = person(&inst, "Hilda", "Vilande", 3);
    for (id, reason) in [
        (&revoked_id, "keyCompromise"),
        (&held_id, "certificateHold"),
    ] {
        let out = run(inst.ra(&["revoke", "--id", id, "--reason", reason]), None);
        assert!(out.status.success(), "{}", text(&out));
    }

    // Self-test: a response checked against a signer that did not sign it is refused.
    let (ok, said) = ocsptool(&inst, at, &valid, &root, true);
    assert!(
        !ok && said.contains("Verifying OCSP Response: Failure"),
        "ocsptool accepted a response against the wrong signer: {said}"
    );
    eprintln!(
        "self-test ocsptool --load-signer root.pem: exit != 0: {}",
        said.lines().last().unwrap_or("")
    );

    for nonce in [true, false] {
        let (ok, said) = ocsptool(&inst, at, &valid, &signer, nonce);
        assert!(ok && said.contains("Certificate Status: good"), "{said}");
        assert!(said.contains("Verifying OCSP Response: Success"), "{said}");
        let (_, said) = ocsptool(&inst, at, &revoked, &signer, nonce);
        assert!(said.contains("Certificate Status: revoked"), "{said}");
        assert!(said.contains("Verifying OCSP Response: Success"), "{said}");
        let (_, said) = ocsptool(&inst, at, &held, &signer, nonce);
        assert!(said.contains("Certificate Status: revoked"), "{said}");
        eprintln!("ocsptool nonce={nonce}: good / revoked / revoked (hold), verified");
    }

    // strongswan pki --online follows the certificates' own OCSP/CRL URLs: the revoked one is
    // trusted offline (the self-test that --online is what refuses it) and refused online.
    let (ok, said) = pki(&inst, &revoked, false);
    assert!(ok, "pki offline: {said}");
    let (ok, said) = pki(&inst, &revoked, true);
    assert!(
        !ok && said.contains("revoked"),
        "pki online, revoked: {said}"
    );
    let (ok, said) = pki(&inst, &valid, true);
    assert!(ok && said.contains("good"), "pki online, valid: {said}");
    eprintln!("pki --verify --online: valid OK (good), revoked refused, revoked offline OK");

    // certtool's --inder applies to the CA certificate too.
    let der = |pem: &Path, name: &str| {
        let cert = X509::from_pem(&std::fs::read(pem).unwrap()).unwrap();
        let path = inst.out.join(name);
        std::fs::write(&path, cert.to_der().unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (issuing_der, root_der) = (der(&issuing, "issuing.der"), der(&root, "root.der"));
    // CRLs: the full one (published on revocation) and the delta list both revocations.
    let full = inst.out.join("full.der");
    let delta = inst.out.join("delta.der");
    for (path, file, delta) in [
        ("/crl/issuing.crl", &full, false),
        ("/crl/issuing-delta.crl", &delta, true),
    ] {
        let info = wait_for("a CRL listing the revocations", || {
            let (status, body) = http_get(at, path);
            if !status.contains(" 200 ") {
                return None;
            }
            std::fs::write(file, body).unwrap();
            let (ok, said) = certtool(&["--crl-info"], file);
            // The full CRL, published on revocation, lists both; the delta after it marks itself
            // as one (certtool does not name 2.5.29.27) and lists what changed since.
            let full_ok = said.contains("Revoked certificates (2)");
            let delta_ok = said.contains("Unknown extension 2.5.29.27 (critical)");
            (ok && if delta { delta_ok } else { full_ok }).then_some(said)
        });
        for (cert, listed) in [(&revoked, !delta), (&held, !delta), (&valid, false)] {
            let line = format!("Serial Number (hex): {}", serial_hex(cert));
            assert_eq!(info.contains(&line), listed, "{line}: {info}");
        }
        assert!(info.contains("CRL Number"), "{info}");
        // Self-test: against the root (not its signer) certtool refuses it.
        let (ok, said) = certtool(&["--verify-crl", "--load-ca-certificate", &root_der], file);
        assert!(
            !ok && said.contains("Not verified") && said.contains("issuer is unknown"),
            "certtool verified a CRL against the wrong CA (or did not read it): {said}"
        );
        eprintln!("self-test certtool --verify-crl root.der: exit != 0, issuer unknown");
        let (ok, said) = certtool(
            &["--verify-crl", "--load-ca-certificate", &issuing_der],
            file,
        );
        assert!(ok && said.contains("Verified"), "{said}");
        eprintln!("certtool {path}: verified by issuing, refused by root");
    }
}
