//! The delegated OCSP signing key on a SoftHSM2 PKCS#11 token (this binary alone loads the
//! module and sets SOFTHSM2_CONF): responses signed on the token verify with `openssl ocsp`
//! and pass pkilint.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use std::time::SystemTime;

use common::{Kind, MapSource, Pki};
use keyward_ca::Pkcs11Signer;
use keyward_ocsp::{Context, IssuerSet, Limits, Responder, ResponseSettings, ResponseStatus};

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[tokio::test]
async fn responses_signed_by_a_softhsm2_key_verify_with_openssl() {
    let pki = Pki::new();
    let tokens = pki.path("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = pki.path("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let out = keyward_testkit::tool("softhsm2-util")
        .args(["--init-token", "--free", "--label", "OCSP"])
        .args(["--so-pin", "so-12345678", "--pin", "ocsp-pin-1"])
        .output()
        .expect("run softhsm2-util");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for curve in [keyward_pkcs11::EcCurve::P256, keyward_pkcs11::EcCurve::P384] {
        let label = format!("responder-{curve:?}");
        let (signer, public) = Pkcs11Signer::generate(
            std::path::Path::new(SOFTHSM),
            "OCSP",
            &label,
            "ocsp-pin-1",
            curve,
        )
        .unwrap();
        let cert = common::certificate(
            &label,
            &public,
            0x3001,
            Kind::OcspSigner,
            Some((&pki.ca, &pki.ca_key)),
            None,
        );
        let responder = Responder::new(
            &cert.to_der().unwrap(),
            Box::new(signer),
            ResponseSettings::default(),
        )
        .unwrap();
        let issuers = IssuerSet::new(&pki.issuers()).unwrap();
        let source = MapSource::for_pki();
        let ctx = Context {
            responder: &responder,
            issuers: &issuers,
            source: &source,
            cache: None,
            limits: Limits::default(),
        };
        let certs = ["good", "revoked", "never"];
        let req = pki.openssl_request("hsm.req", "ca", &certs, &[]);
        let reply = ctx.respond(&req, SystemTime::now()).await;
        assert_eq!(reply.status, ResponseStatus::Successful);
        std::fs::write(pki.path("hsm.resp"), &reply.der).unwrap();
        let (ok, text) = pki.openssl_check("hsm.req", "hsm.resp", "ca", &certs, &[]);
        assert!(
            ok && text.contains("Response verify OK"),
            "{curve:?}: {text}"
        );
        assert!(
            text.contains("good.pem: good")
                && text.contains("revoked.pem: revoked")
                && text.contains("never.pem: unknown"),
            "{text}"
        );
        assert!(text.contains("Reason: keyCompromise"), "{text}");
        let lint = keyward_testkit::tool("lint_ocsp_response")
            .args(["lint", "-s", "ERROR"])
            .arg(pki.path("hsm.resp"))
            .output()
            .unwrap();
        assert!(
            lint.status.success() && lint.stdout.trim_ascii().is_empty(),
            "{curve:?}: {:?} {}{}",
            lint.status,
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        );
    }
}
