//! The OCSP responder on both engines, checked with `openssl ocsp`: `keyward init` issues the
//! delegated OCSP signing certificate and the server starts with it (its start-up checks pass);
//! the responder (this test serves [`ocsp_router`] on a loopback port of its own until the
//! public listener lands) answers good, then revoked (reason, time) within a bounded wait after
//! `ra revoke` commits in the server process (its cache invalidated by the freshness poller),
//! unknown for a serial never issued; with and without a nonce; by GET with the RFC 5019
//! cache headers. Renewal issues a new certificate for the same key and the responder signs
//! with it at once. A responder certificate without OCSPSigning makes the server exit 3.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use openssl::x509::X509;

use common::tokens::{issue, p12_arg, p12_contents};
use common::{keyward, on_both_engines, public_addr, run, start_server, text, Engine};
use common::{Installation, KillOnDrop};
use keyward_server::ocsp::{keep_fresh, ocsp_router, Freshness, OcspService, Renewal, Renewer};
use keyward_server::ServerConfig;
use keyward_store::Store;

on_both_engines!(openssl_ocsp_good_revoked_unknown_get_and_renewal);

/// The responder, served in this process on the installation's database.
struct Responder {
    runtime: tokio::runtime::Runtime,
    service: Arc<OcspService>,
    store: Store,
    config: ServerConfig,
    addr: SocketAddr,
}

fn serve_responder(inst: &Installation) -> Responder {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ServerConfig::load(&inst.dir.join("cm.conf")).unwrap();
    let (service, store, addr) = runtime.block_on(async {
        let store = Store::open(&config.database_url).await.unwrap();
        let issuing =
            X509::from_pem(&std::fs::read(inst.dir.join("ca/issuing.pem")).unwrap()).unwrap();
        let service = keyward_server::ocsp::load(&config, &issuing, store.clone())
            .unwrap()
            .expect("cm.conf written by init names the OCSP signing certificate");
        let freshness = Freshness::start(service.clone()).await.unwrap();
        tokio::spawn(keep_fresh(freshness));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = ocsp_router(service.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (service, store, addr)
    });
    Responder {
        runtime,
        service,
        store,
        config,
        addr,
    }
}

/// `openssl ocsp` against the responder for `target` (`-cert FILE` or `-serial N`), trusting
/// root + issuing CA; its stdout and stderr.
fn openssl_ocsp(inst: &Installation, at: SocketAddr, target: &[&str], extra: &[&str]) -> String {
    let out = keyward_testkit::tool("openssl")
        .arg("ocsp")
        .arg("-issuer")
        .arg(inst.dir.join("ca/issuing.pem"))
        .args(target)
        .args(["-url", &format!("http://{at}/ocsp"), "-CAfile"])
        .arg(inst.out.join("chain.pem"))
        .args(["-resp_text"])
        .args(extra)
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "openssl ocsp {target:?}: {all}");
    all
}

/// The certificate of serial `serial` (hex) in `p12`, written to `out/NAME.pem`.
fn leaf(inst: &Installation, p12: &str, serial: &str, name: &str) -> PathBuf {
    let (_, certs) = p12_contents(Path::new(p12));
    let cert = certs
        .into_iter()
        .find(|c| {
            let hex = c.serial_number().to_bn().unwrap().to_hex_str().unwrap();
            hex.trim_start_matches('0').eq_ignore_ascii_case(serial)
        })
        .expect("the token's certificate");
    let path = inst.out.join(format!("{name}.pem"));
    std::fs::write(&path, cert.to_pem().unwrap()).unwrap();
    path
}

/// `GET /ocsp/{base64}` of the request DER `req` over a plain socket: (head, body).
fn http_get(addr: SocketAddr, req: &[u8]) -> (String, Vec<u8>) {
    // Standard base64, percent-encoded as OpenSSL and RFC 6960 appendix A.1 have it.
    let b64 = base64::engine::general_purpose::STANDARD.encode(req);
    let path = b64
        .replace('%', "%25")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /ocsp/{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&all[..split]).to_lowercase();
    (head, all[split + 4..].to_vec())
}

fn openssl_ocsp_good_revoked_unknown_get_and_renewal(engine: Engine) {
    let inst = Installation::on(engine);
    let mut chain = std::fs::read(inst.dir.join("ca/root.pem")).unwrap();
    chain.extend(std::fs::read(inst.dir.join("ca/issuing.pem")).unwrap());
    std::fs::write(inst.out.join("chain.pem"), chain).unwrap();

    let p12 = p12_arg(&inst, "bob.p12");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-signing",
            "--subject",
            "CN=Bob Ocsp,O=Example,C=SE",
            "--p12",
            &p12,
        ],
    );
    let id = json["certificates"][0]["certificate_id"]
        .as_str()
        .unwrap()
        .to_string();
    let serial = json["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = leaf(&inst, &p12, &serial, "bob");
    let bob_text = String::from_utf8(
        X509::from_pem(&std::fs::read(&bob).unwrap())
            .unwrap()
            .to_text()
            .unwrap(),
    )
    .unwrap();
    assert!(
        bob_text.contains("OCSP - URI:http://127.0.0.1:8080/ocsp")
            && bob_text.contains("URI:http://127.0.0.1:8080/crl/issuing.crl"),
        "{bob_text}"
    );

    let r = serve_responder(&inst);
    let cert_arg = ["-cert", bob.to_str().unwrap()];
    let bob_line = format!("{}: good", bob.display());
    // With a nonce (openssl's default): echoed, the response verifies.
    let out = openssl_ocsp(&inst, r.addr, &cert_arg, &[]);
    assert!(out.contains("Response verify OK"), "{out}");
    assert!(out.contains(&bob_line), "{out}");
    assert!(out.contains("OCSP Nonce"), "{out}");
    assert!(!out.to_lowercase().contains("no nonce"), "{out}");
    // Without: cached (pre-signed for the next asker).
    let out = openssl_ocsp(&inst, r.addr, &cert_arg, &["-no_nonce"]);
    assert!(
        out.contains("Response verify OK") && out.contains(&bob_line),
        "{out}"
    );
    assert!(r.service.cached() >= 1);
    // A serial the issuing CA never issued.
    let out = openssl_ocsp(&inst, r.addr, &["-serial", "0x5eed0001"], &[]);
    assert!(out.contains("0x5eed0001: unknown"), "{out}");

    // GET, short request (RFC 5019): cache headers, a response openssl verifies.
    let req = inst.out.join("req.der");
    let out = keyward_testkit::tool("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(inst.dir.join("ca/issuing.pem"))
        .args(cert_arg)
        .arg("-reqout")
        .arg(&req)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let (head, body) = http_get(r.addr, &std::fs::read(&req).unwrap());
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: application/ocsp-response"),
        "{head}"
    );
    assert!(
        head.contains("cache-control: max-age=") && head.contains("public, no-transform"),
        "{head}"
    );
    assert!(
        head.contains("etag: \"") && head.contains("last-modified: "),
        "{head}"
    );
    let resp = inst.out.join("resp.der");
    std::fs::write(&resp, body).unwrap();
    let out = keyward_testkit::tool("openssl")
        .args(["ocsp", "-respin"])
        .arg(&resp)
        .arg("-issuer")
        .arg(inst.dir.join("ca/issuing.pem"))
        .args(cert_arg)
        .arg("-CAfile")
        .arg(inst.out.join("chain.pem"))
        .output()
        .unwrap();
    let all = text(&out);
    assert!(
        all.contains("Response verify OK") && all.contains(&bob_line),
        "{all}"
    );
    // pkilint: no finding at ERROR or above.
    let out = keyward_testkit::tool("lint_ocsp_response")
        .args(["lint", "-s", "ERROR"])
        .arg(&resp)
        .output()
        .expect("run lint_ocsp_response");
    let findings = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && findings.trim().is_empty(),
        "pkilint: {findings}"
    );

    // Revoked in the server process; this responder sees it through the store within a bounded
    // wait, although its cache holds a `good` answer.
    let out = run(
        inst.ra(&["revoke", "--id", &id, "--reason", "keyCompromise"]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let committed = Instant::now();
    let deadline = committed + Duration::from_secs(30);
    let out = loop {
        let out = openssl_ocsp(&inst, r.addr, &cert_arg, &["-no_nonce"]);
        if out.contains(&format!("{}: revoked", bob.display())) {
            // A figure for the report, not an assertion (speed is for benches).
            eprintln!(
                "OCSP: revoked seen {} ms after `ra revoke` returned",
                committed.elapsed().as_millis()
            );
            break out;
        }
        assert!(Instant::now() < deadline, "still not revoked: {out}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(out.contains("Reason: keyCompromise"), "{out}");
    assert!(out.contains("Revocation Time: "), "{out}");
    assert!(out.contains("Response verify OK"), "{out}");

    // The same through the real server's public listener (`--public-listen`), where the CM
    // host merges the OCSP routes with the CRLs'.
    let log = inst.out.join("public.log");
    let (child, _) = start_server(&inst.dir, &[], &["--public-listen", "127.0.0.1:0"], &log);
    let _server = KillOnDrop(child);
    let public = public_addr(&log);
    for extra in [&[][..], &["-no_nonce"][..]] {
        let out = openssl_ocsp(&inst, public, &cert_arg, extra);
        assert!(
            out.contains("Response verify OK")
                && out.contains(&format!("{}: revoked", bob.display()))
                && out.contains("Reason: keyCompromise"),
            "{out}"
        );
    }
    let (head, _) = http_get(public, &std::fs::read(&req).unwrap());
    assert!(head.contains("cache-control: max-age="), "{head}");

    // Renewal: not due now; due near the end of the validity; same key, new certificate,
    // recorded, written, and in use at once.
    let ca = Arc::new(keyward_server::service::load_ca(&r.config).unwrap());
    let renewer = Renewer::new(r.service.clone(), ca, r.store.clone(), r.config.clone());
    let before = r.service.certificate();
    let file_before = std::fs::read(inst.dir.join("ocsp/signer.pem")).unwrap();
    let now = r
        .runtime
        .block_on(renewer.renew_if_due(SystemTime::now()))
        .unwrap();
    assert!(matches!(now, Renewal::Nothing), "{now:?}");
    let later = SystemTime::now() + Duration::from_secs(6 * 86_400);
    let renewal = r.runtime.block_on(renewer.renew_if_due(later)).unwrap();
    assert!(matches!(renewal, Renewal::Renewed(_)), "{renewal:?}");
    let after = r.service.certificate();
    assert_ne!(
        before.serial_number().to_bn().unwrap(),
        after.serial_number().to_bn().unwrap()
    );
    assert!(after
        .public_key()
        .unwrap()
        .public_eq(&before.public_key().unwrap()));
    let file_after = std::fs::read(inst.dir.join("ocsp/signer.pem")).unwrap();
    assert_ne!(file_before, file_after);
    assert_eq!(
        X509::from_pem(&file_after).unwrap().to_der().unwrap(),
        after.to_der().unwrap()
    );
    let out = openssl_ocsp(&inst, r.addr, &cert_arg, &[]);
    assert!(out.contains("Response verify OK"), "{out}");
    let new_serial = after
        .serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap()
        .to_string();
    assert!(
        out.to_lowercase()
            .replace(':', "")
            .contains(&new_serial.to_lowercase()),
        "the response carries the renewed certificate {new_serial}: {out}"
    );
    // Both responder certificates are recorded (issued at init, renewed), with audit records.
    let listed = run(
        inst.ra(&["certificates", "--subject", "OCSP Responder", "--json"]),
        None,
    );
    let listed_text = text(&listed);
    assert!(listed.status.success(), "{listed_text}");
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{listed_text}");
    drop(r);

    // A responder certificate that is not one (the TLS certificate), or a key that is not the
    // certificate's (the issuing CA's, encrypted like it), refuses to start, naming the setting.
    let dir = inst.dir.clone();
    let conf = std::fs::read_to_string(dir.join("cm.conf")).unwrap();
    for (from, to, setting) in [
        (
            "ocsp.certificate = ocsp/signer.pem",
            "ocsp.certificate = tls/server.pem",
            "ocsp.certificate: no extendedKeyUsage OCSPSigning",
        ),
        (
            "ocsp.key = ocsp/signer.key.pem\nocsp.key-passphrase-file = ocsp/signer.pass",
            "ocsp.key = ca/issuing.key.pem\nocsp.key-passphrase-file = ca/ca.pass",
            "ocsp.key: does not fit ocsp.certificate",
        ),
    ] {
        assert!(conf.contains(from), "{conf}");
        std::fs::write(dir.join("cm.conf"), conf.replace(from, to)).unwrap();
        let mut cmd = keyward();
        cmd.args(["server", "--listen", "127.0.0.1:0", "--dir"])
            .arg(&dir);
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        assert!(text(&out).contains(setting), "{setting}: {}", text(&out));
    }
    std::fs::write(dir.join("cm.conf"), conf).unwrap();
}
