//! Requests made by `openssl ocsp` parse; the responses built for them verify with
//! `openssl ocsp` (offline: -reqin/-respin) and pass pkilint's `lint_ocsp_response`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use std::time::{Duration, SystemTime};

use common::{Kind, MapSource, Pki};
use keyward_ca::SoftwareSigner;
use keyward_ocsp::{
    parse_request, CacheSettings, Context, HashAlg, IssuerSet, Limits, Reply, Responder,
    ResponseCache, ResponseSettings, MAX_NONCE_BYTES,
};

fn responder(pki: &Pki) -> Responder {
    let signer = SoftwareSigner::new(pki.responder_key.clone());
    Responder::new(
        &pki.responder.to_der().unwrap(),
        Box::new(signer),
        ResponseSettings::default(),
    )
    .unwrap()
}

/// Runs pkilint on `file`: no finding at ERROR or above (its exit status counts findings).
pub fn pkilint_clean(pki: &Pki, file: &str) {
    let out = keyward_testkit::tool("lint_ocsp_response")
        .args(["lint", "-s", "ERROR"])
        .arg(pki.path(file))
        .output()
        .expect("run lint_ocsp_response");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.trim().is_empty(),
        "{file}: {text}"
    );
}

/// Compiles only for a `Send` future: the HTTP layer (axum) needs one.
fn send<F: std::future::Future + Send>(f: F) -> F {
    f
}

async fn answer(ctx: &Context<'_, MapSource>, pki: &Pki, req: &[u8], name: &str) -> Reply {
    let reply = send(ctx.respond(req, SystemTime::now())).await;
    std::fs::write(pki.path(name), &reply.der).unwrap();
    reply
}

/// (name, certificates, `openssl ocsp` options, CertID hash, nonce sent).
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    HashAlg,
    bool,
);

#[tokio::test]
async fn openssl_requests_parse_and_our_responses_verify_with_openssl() {
    let pki = Pki::new();
    let responder = responder(&pki);
    let not_after = responder.certificate_not_after();
    let days_29 = SystemTime::now() + Duration::from_secs(29 * 86_400);
    assert!(not_after > days_29 && not_after < days_29 + Duration::from_secs(2 * 86_400));
    let issuers = IssuerSet::new(&pki.issuers()).unwrap();
    let source = MapSource::for_pki();
    let ctx = Context {
        responder: &responder,
        issuers: &issuers,
        source: &source,
        cache: None,
        limits: Limits::default(),
    };
    let cases: [Case; 4] = [
        ("nonce", &["good"], &[], HashAlg::Sha1, true),
        (
            "no-nonce",
            &["revoked"],
            &["-no_nonce"],
            HashAlg::Sha1,
            false,
        ),
        ("sha256", &["good"], &["-sha256"], HashAlg::Sha256, true),
        (
            "multi",
            &["good", "revoked", "never"],
            &["-sha512"],
            HashAlg::Sha512,
            true,
        ),
    ];
    for (name, certs, extra, hash, nonce) in cases {
        let req_file = format!("{name}.req");
        let req = pki.openssl_request(&req_file, "ca", certs, extra);
        let parsed = parse_request(&req, &Limits::default()).unwrap();
        assert_eq!(parsed.entries.len(), certs.len(), "{name}");
        assert!(
            parsed.entries.iter().all(|e| e.hash == Some(hash)),
            "{name}"
        );
        assert_eq!(
            parsed.entries[0].serial.hex(),
            if certs[0] == "good" { "1001" } else { "1002" }
        );
        assert_eq!(parsed.nonce.is_some(), nonce, "{name}");
        if nonce {
            let n = parsed.nonce_value().unwrap();
            assert!(
                (1..=MAX_NONCE_BYTES).contains(&n.len()),
                "{name}: {}",
                n.len()
            );
        }
        // Strict DER in, the same bytes out.
        assert_eq!(parsed.to_der().unwrap(), req, "{name}");
        assert!(!parsed.signed);
        for entry in &parsed.entries {
            assert_eq!(issuers.locate(&entry.cert_id), Some(1), "{name}");
        }

        let resp_file = format!("{name}.resp");
        let reply = answer(&ctx, &pki, &req, &resp_file).await;
        assert_eq!(
            reply.cache.is_some(),
            !nonce,
            "{name}: cache facts only without a nonce"
        );
        let digest: &[&str] = match hash {
            HashAlg::Sha1 => &[],
            HashAlg::Sha256 => &["-sha256"],
            HashAlg::Sha384 => &["-sha384"],
            HashAlg::Sha512 => &["-sha512"],
        };
        let (ok, text) = pki.openssl_check(&req_file, &resp_file, "ca", certs, digest);
        assert!(ok, "{name}: {text}");
        assert!(text.contains("Response verify OK"), "{name}: {text}");
        assert!(!text.contains("WARNING"), "{name}: nonce mismatch? {text}");
        for cert in certs {
            let status = match *cert {
                "good" => "good",
                "revoked" => "revoked",
                _ => "unknown",
            };
            assert!(
                text.contains(&format!("{cert}.pem: {status}")),
                "{name}: {text}"
            );
        }
        if certs.contains(&"revoked") {
            assert!(text.contains("Reason: keyCompromise"), "{text}");
            // REVOKED_AT, as OpenSSL prints it.
            assert!(
                text.contains("Revocation Time: Sep 21 14:13:20 2026 GMT"),
                "{text}"
            );
        }
        pkilint_clean(&pki, &resp_file);
    }

    // A signed request (openssl -signer): accepted, the signature ignored.
    let signer = pki.path("requestor.pem").display().to_string();
    let key = pki.path("requestor.key").display().to_string();
    let opts = ["-signer", signer.as_str(), "-signkey", key.as_str()];
    let req = pki.openssl_request("signed.req", "ca", &["good"], &opts);
    let parsed = parse_request(&req, &Limits::default()).unwrap();
    assert!(parsed.signed && parsed.entries.len() == 1);
    assert_eq!(parsed.to_der().unwrap(), req);
    answer(&ctx, &pki, &req, "signed.resp").await;
    let (ok, text) = pki.openssl_check("signed.req", "signed.resp", "ca", &["good"], &[]);
    assert!(ok && text.contains("good.pem: good"), "{text}");

    // A certificate of a CA that is not ours: `unknown`, and the source is not asked.
    let asked = source.asked.load(std::sync::atomic::Ordering::SeqCst);
    let req = pki.openssl_request("foreign.req", "foreign-ca", &["foreign"], &[]);
    answer(&ctx, &pki, &req, "foreign.resp").await;
    assert_eq!(
        source.asked.load(std::sync::atomic::Ordering::SeqCst),
        asked
    );
    let (ok, text) = pki.openssl_check(
        "foreign.req",
        "foreign.resp",
        "foreign-ca",
        &["foreign"],
        &["-noverify"],
    );
    assert!(ok && text.contains("foreign.pem: unknown"), "{text}");
    pkilint_clean(&pki, "foreign.resp");
}

#[tokio::test]
async fn a_nonce_is_echoed_and_a_wrong_one_is_noticed_by_openssl() {
    let pki = Pki::new();
    let responder = responder(&pki);
    let issuers = IssuerSet::new(&pki.issuers()).unwrap();
    let source = MapSource::for_pki();
    let ctx = Context {
        responder: &responder,
        issuers: &issuers,
        source: &source,
        cache: None,
        limits: Limits::default(),
    };
    let first = pki.openssl_request("a.req", "ca", &["good"], &[]);
    let second = pki.openssl_request("b.req", "ca", &["good"], &[]);
    assert_ne!(first, second, "openssl draws a fresh nonce per request");
    answer(&ctx, &pki, &first, "a.resp").await;
    // The answer to request a, checked against request b: OpenSSL must see the nonce differ.
    let (ok, text) = pki.openssl_check("b.req", "a.resp", "ca", &["good"], &[]);
    assert!(
        !ok || text.contains("WARNING") || text.contains("once"),
        "{text}"
    );
    let (ok, text) = pki.openssl_check("a.req", "a.resp", "ca", &["good"], &[]);
    assert!(ok && text.contains("Response verify OK"), "{text}");
}

#[tokio::test]
async fn pre_signed_responses_are_served_until_invalidated() {
    let pki = Pki::new();
    let responder = responder(&pki);
    let issuers = IssuerSet::new(&pki.issuers()).unwrap();
    let mut source = MapSource::for_pki();
    let cache = ResponseCache::new(CacheSettings::default());
    let req = pki.openssl_request("good.req", "ca", &["good"], &["-no_nonce"]);
    let first = {
        let ctx = Context {
            responder: &responder,
            issuers: &issuers,
            source: &source,
            cache: Some(&cache),
            limits: Limits::default(),
        };
        let first = ctx.respond(&req, SystemTime::now()).await;
        let again = ctx.respond(&req, SystemTime::now()).await;
        assert!(!first.from_cache && again.from_cache);
        assert_eq!(first.der, again.der);
        // A request with a nonce is never served from, nor put into, the cache.
        let with_nonce = pki.openssl_request("n.req", "ca", &["good"], &[]);
        assert!(!ctx.respond(&with_nonce, SystemTime::now()).await.from_cache);
        assert_eq!(cache.len(), 1);
        first
    };
    assert_eq!(source.asked.load(std::sync::atomic::Ordering::SeqCst), 2);
    let facts = first.cache.unwrap();
    let validity = ResponseSettings::default().validity.as_secs();
    assert!(
        facts.max_age_secs <= validity && facts.max_age_secs + 5 >= validity,
        "{facts:?}"
    );
    assert_eq!(
        facts.expires,
        facts.last_modified + Duration::from_secs(validity)
    );

    // The certificate is revoked: the store invalidates, the next answer says so.
    let revoked = source.map[&(1, "1002".to_string())];
    source.map.insert((1, "1001".to_string()), revoked);
    let serial = parse_request(&req, &Limits::default()).unwrap().entries[0]
        .serial
        .clone();
    cache.invalidate(1, &serial);
    assert!(cache.is_empty());
    let ctx = Context {
        responder: &responder,
        issuers: &issuers,
        source: &source,
        cache: Some(&cache),
        limits: Limits::default(),
    };
    let fresh = ctx.respond(&req, SystemTime::now()).await;
    assert!(!fresh.from_cache);
    std::fs::write(pki.path("good.resp"), &fresh.der).unwrap();
    let (ok, text) = pki.openssl_check("good.req", "good.resp", "ca", &["good"], &[]);
    assert!(ok && text.contains("good.pem: revoked"), "{text}");
}

#[test]
fn a_certificate_that_is_not_a_responder_certificate_is_refused() {
    let pki = Pki::new();
    let other = common::certificate(
        "not ocsp",
        &pki.responder_key,
        9,
        Kind::NotOcsp,
        Some((&pki.ca, &pki.ca_key)),
        None,
    );
    let err = Responder::new(
        &other.to_der().unwrap(),
        Box::new(SoftwareSigner::new(pki.responder_key.clone())),
        ResponseSettings::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("id-kp-OCSPSigning"), "{err}");
    let err = Responder::new(
        &pki.responder.to_der().unwrap(),
        Box::new(SoftwareSigner::new(common::ec_key())),
        ResponseSettings::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not the signing key"), "{err}");
}
