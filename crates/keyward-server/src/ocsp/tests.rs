//! The router and the store-backed source on both engines, through `tower::ServiceExt::oneshot`:
//! requests made by `openssl ocsp -reqout`, responses read by the openssl crate.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use openssl::hash::MessageDigest;
use openssl::ocsp::{OcspCertId, OcspCertStatus, OcspResponse, OcspResponseStatus};
use openssl::pkey::PKey;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;
use serde_json::json;
use tower::ServiceExt;

use keyward_ca::{CertificateAuthority, SoftwareSigner};
use keyward_policy::keyspec::Curve;
use keyward_policy::usage::{KeyUsage, KeyUsageSet};
use keyward_policy::{CertificateProcedure, DistinguishedName, KeySpec, RevocationReason};
use keyward_store::{Answered, AuditCategory, NewAudit, NewRevocation, Outcome, RequestKey};
use keyward_testkit::TestDatabase;

use super::*;
use crate::config::OcspConfig;

keyward_testkit::on_both_engines!(async keyward_testkit::fresh_database =>
    the_router_answers_from_the_store_and_refuses_what_is_not_ocsp);

fn procedure(name: &str, eku: &str, no_check: bool) -> CertificateProcedure {
    CertificateProcedure {
        name: name.into(),
        validity_days: 7,
        key_usage: KeyUsageSet::of(&[KeyUsage::DigitalSignature]),
        extended_key_usage: vec![eku.into()],
        ocsp_no_check: no_check,
        ..Default::default()
    }
}

fn audit(action: &str) -> NewAudit {
    NewAudit {
        category: AuditCategory::CertificatesRevoked,
        action: action.into(),
        officer: Some("test".into()),
        outcome: Outcome::Success,
        object: None,
        detail: json!({}),
    }
}

async fn call(router: &axum::Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, body)
}

fn post(body: Vec<u8>, content_type: &str) -> Request<Body> {
    Request::post("/ocsp")
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

async fn the_router_answers_from_the_store_and_refuses_what_is_not_ocsp(db: TestDatabase) {
    let h = super::test_ca::hierarchy("Root", "Issuing");
    let ca = super::test_ca::ca_of(&h);
    let store = Store::open(&db.url).await.unwrap();
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let dn = |cn: &str| DistinguishedName::parse(cn).unwrap();
    let signer_cert = renew::issue(
        &ca,
        &public,
        &dn("CN=OCSP"),
        &procedure("ocsp-signing", "OCSPSigning", true),
    )
    .unwrap();
    let user = renew::issue(
        &ca,
        &public,
        &dn("CN=User"),
        &procedure("u", "clientAuth", false),
    )
    .unwrap();
    renew::record(&store, &h.issuing_cert, &user, "test", "issue")
        .await
        .unwrap();
    let config = OcspConfig {
        certificate: "unused".into(),
        key: crate::config::CaKeySetting::File {
            key: "unused".into(),
            passphrase_file: "unused".into(),
        },
        response_validity: Duration::from_secs(3600),
        cache_size: 10,
        max_requests: 2,
        status_index: 10,
    };
    let responder = Responder::new(
        &signer_cert.to_der().unwrap(),
        Box::new(SoftwareSigner::new(key)),
        ResponseSettings::default(),
    )
    .unwrap();
    let service = Arc::new(
        OcspService::new(
            responder,
            signer_cert,
            &h.issuing_cert,
            store.clone(),
            &config,
        )
        .unwrap(),
    );
    let mut freshness = Freshness::start(service.clone()).await.unwrap();
    let router = ocsp_router(service.clone());

    // What is not an OCSP request over HTTP: 415, 413, 404, 405.
    let (status, _) = call(&router, post(vec![0x30, 0x00], "text/plain")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = call(&router, post(vec![0; MAX_POST_BYTES + 1], REQUEST)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    assert_eq!(
        call(&router, get("/elsewhere")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&router, get("/ocsp")).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    // Bad DER and bad base64: an OCSP malformedRequest, never a 5xx.
    for (status, body) in [
        call(&router, post(vec![0x30, 0x80, 0xff], REQUEST)).await,
        call(&router, get("/ocsp/%%%not-base64")).await,
    ] {
        assert_eq!(status, StatusCode::OK);
        let resp = OcspResponse::from_der(&body).unwrap();
        assert_eq!(resp.status(), OcspResponseStatus::MALFORMED_REQUEST);
    }

    // A real request (openssl ocsp -reqout): good, cached, then revoked once the change is
    // polled.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let write = |name: &str, cert: &X509| {
        let path = dir.join(name);
        std::fs::write(&path, cert.to_pem().unwrap()).unwrap();
        path
    };
    let issuer_pem = write("issuing.pem", &h.issuing_cert);
    let user_pem = write("user.pem", &user);
    let req_path = dir.join("req.der");
    let out = keyward_testkit::tool("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(&issuer_pem)
        .arg("-cert")
        .arg(&user_pem)
        .arg("-reqout")
        .arg(&req_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let req = std::fs::read(&req_path).unwrap();
    let id = OcspCertId::from_cert(MessageDigest::sha1(), &user, &h.issuing_cert).unwrap();
    let status_of = |body: &[u8]| {
        let resp = OcspResponse::from_der(body).unwrap();
        assert_eq!(resp.status(), OcspResponseStatus::SUCCESSFUL);
        let basic = resp.basic().unwrap();
        let mut trust = X509StoreBuilder::new().unwrap();
        trust.add_cert(h.root_cert.clone()).unwrap();
        trust.add_cert(h.issuing_cert.clone()).unwrap();
        let trust = trust.build();
        basic
            .verify(
                &Stack::new().unwrap(),
                &trust,
                openssl::ocsp::OcspFlag::empty(),
            )
            .unwrap();
        let found = basic.find_status(&id).unwrap();
        (found.status, found.reason)
    };
    let (status, body) = call(&router, post(req.clone(), REQUEST)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_of(&body).0, OcspCertStatus::GOOD);
    assert_eq!(service.cached(), 1);
    let stored = store
        .certificate_status(service.source().issuer(), &serial_hex(&user))
        .await
        .unwrap()
        .unwrap();
    let revocation_audit = audit("revoke");
    let rev = NewRevocation {
        certificate_id: stored.certificate_id,
        reason: RevocationReason::KeyCompromise,
        invalidity_date: None,
        audit: &revocation_audit,
    };
    store
        .revoke(&rev, None::<(&RequestKey, fn(&_) -> Answered)>)
        .await
        .unwrap();
    // Until polled, the cache answers (what the poller is for); one poll applies the change.
    assert_eq!(
        status_of(&call(&router, post(req.clone(), REQUEST)).await.1).0,
        OcspCertStatus::GOOD
    );
    assert_eq!(freshness.poll().await.unwrap(), 1);
    assert_eq!(service.cached(), 0);
    assert_eq!(freshness.poll().await.unwrap(), 0);
    let (status, body) = call(&router, get(&format!("/ocsp/{}", b64(&req)))).await;
    assert_eq!(status, StatusCode::OK);
    let (cert_status, reason) = status_of(&body);
    assert_eq!(cert_status, OcspCertStatus::REVOKED);
    assert_eq!(reason, openssl::ocsp::OcspRevokedStatus::KEY_COMPROMISE);
}

const REQUEST: &str = "application/ocsp-request";

fn b64(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(der)
}

fn serial_hex(cert: &X509) -> String {
    cert.serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap()
        .to_lowercase()
}

/// The start-up check of `ocsp.certificate`: OCSPSigning, and issued by the issuing CA (not
/// merely named after it).
#[test]
fn a_responder_certificate_must_be_for_ocsp_signing_and_issued_by_the_issuing_ca() {
    let text = "server.listen = 127.0.0.1:8443\ndatabase.url = sqlite://k.db\n\
                tls.certificate = t.pem\ntls.key = t.key\nca.root = r.pem\n\
                ca.issuing.certificate = i.pem\nca.issuing.key = i.key\n\
                ca.key-passphrase-file = c.pass\n";
    let config = ServerConfig::from_text(std::path::Path::new("/srv/kw/cm.conf"), text).unwrap();
    let names = (
        DistinguishedName::parse("CN=Root,O=T").unwrap(),
        DistinguishedName::parse("CN=Issuing,O=T").unwrap(),
    );
    let ours = keyward_ca::create_hierarchy(&names.0, &names.1).unwrap();
    // Another hierarchy with the same names: its certificates name our issuer, but it did not
    // sign them.
    let other = keyward_ca::create_hierarchy(&names.0, &names.1).unwrap();
    let ca_of = |h: &keyward_ca::Hierarchy| {
        let key = PKey::private_key_from_der(&h.issuing_key.private_key_to_der().unwrap()).unwrap();
        CertificateAuthority::new(
            h.issuing_cert.clone(),
            vec![h.issuing_cert.clone()],
            Box::new(SoftwareSigner::new(key)),
        )
    };
    let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let dn = DistinguishedName::parse("CN=OCSP").unwrap();
    let ocsp = procedure("ocsp-signing", "OCSPSigning", true);
    let good = renew::issue(&ca_of(&ours), &public, &dn, &ocsp).unwrap();
    check_responder_certificate(&config, &good, &ours.issuing_cert).unwrap();
    let foreign = renew::issue(&ca_of(&other), &public, &dn, &ocsp).unwrap();
    let err = check_responder_certificate(&config, &foreign, &ours.issuing_cert)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ocsp.certificate: not issued by the issuing CA"),
        "{err}"
    );
    let tls = procedure("tls", "serverAuth", false);
    let not_ocsp = renew::issue(&ca_of(&ours), &public, &dn, &tls).unwrap();
    let err = check_responder_certificate(&config, &not_ocsp, &ours.issuing_cert)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ocsp.certificate: no extendedKeyUsage OCSPSigning"),
        "{err}"
    );
}
